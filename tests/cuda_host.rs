//! The CUDA kernels' per-path logic, compiled for the host with the system C++
//! compiler (`kernels/host/shim.h` stands in for what NVRTC provides) and checked
//! against the Rust reference: the RNG bit for bit; warps, BSDF, light sampling
//! and BVH traversal to a few ulps; whole tiles through the wavefront stages and
//! the megakernel against the CPU backend. No GPU needed.
#![cfg(feature = "cuda")]

mod common;
#[path = "data/gltf_builder.rs"]
mod gltf_builder;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use glam::{Vec2, Vec3};
use tessera::accel::{intersect, occluded, Ray};
use tessera::backend::cpu::CpuBackend;
use tessera::backend::cuda::{params, source};
use tessera::backend::Backend;
use tessera::render::film::{Film, FrameImage};
use tessera::render::motion;
use tessera::render::settings::{prepare_frame, MotionBlur, RenderSettings, ShutterPosition};
use tessera::render::surface::alpha_mask_accepts;
use tessera::render::task::{PixelSums, RenderTask, SampleRange, Tile, TileResult};
use tessera::sampling::bsdf::Bsdf;
use tessera::sampling::light::{env_pdf, env_radiance, sample_light};
use tessera::sampling::rng::{frame_seed, pcg_hash, rand4, sample4};
use tessera::sampling::warp::*;
use tessera::scene::flat::*;
use tessera::scene::{Environment, EnvironmentSpec, Scene};

/// The driver's spelling of a frame that holds still (moving flag, segment, fraction).
const STILL: &str = "0 0 0";

const REJECTED: &str = "the kernel headers do not compile on the host";

/// The compiled host driver, or why there is none.
fn driver() -> Result<&'static Path, &'static str> {
    static DRIVER: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DRIVER.get_or_init(build_driver).as_ref().map(|p| p.as_path()).map_err(|e| e.as_str())
}

fn build_driver() -> Result<PathBuf, String> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cuda_host");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("layout_checks.h"), source::layout_checks()).map_err(|e| e.to_string())?;
    std::fs::write(dir.join(source::ALBEDO_TABLES), source::albedo_tables()).map_err(|e| e.to_string())?;
    let kernels = common::repo().join("kernels");
    let exe = dir.join("driver");
    let compiler = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    // No FMA contraction and no fast math: the Rust reference rounds every operation.
    let output = Command::new(&compiler)
        .args(["-std=c++17", "-O2", "-ffp-contract=off", "-fno-fast-math", "-Wall", "-Wextra", "-Werror"])
        .arg("-I")
        .arg(&kernels)
        .arg("-I")
        .arg(&dir)
        .arg(kernels.join("host/driver.cpp"))
        .arg("-o")
        .arg(&exe)
        .output()
        .map_err(|e| format!("the C++ compiler `{compiler}` could not be run: {e}"))?;
    if !output.status.success() {
        return Err(format!("{REJECTED}:\n{}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(exe)
}

/// The driver, or `None` after saying why the test is skipped. In CI
/// (`CI` set) a missing compiler is a failure: scripts/test.sh installs one.
fn driver_or_skip(test: &str) -> Option<&'static Path> {
    match driver() {
        Ok(path) => Some(path),
        // A compiler that runs but rejects the kernels is a failure, never a skip.
        Err(e) if e.starts_with(REJECTED) || std::env::var_os("CI").is_some() => panic!("{test}: {e}"),
        Err(e) => {
            eprintln!("{test}: skipped, no C++ compiler to build the kernels for the host ({e})");
            None
        }
    }
}

/// Runs commands through the driver; each answer is a line of hex words.
fn run(driver: &Path, commands: &[String]) -> Vec<Vec<u32>> {
    let mut child =
        Command::new(driver).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let text = commands.join("\n") + "\n";
    let writer = std::thread::spawn(move || input.write_all(text.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "driver failed: {}", String::from_utf8_lossy(&output.stderr));
    let answers: Vec<Vec<u32>> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().map(|w| u32::from_str_radix(w, 16).unwrap()).collect())
        .collect();
    assert_eq!(answers.len(), commands.len(), "one answer per command");
    answers
}

fn h(v: f32) -> String {
    format!("{:08x}", v.to_bits())
}
fn h3(v: Vec3) -> String {
    format!("{} {} {}", h(v.x), h(v.y), h(v.z))
}
fn f(w: u32) -> f32 {
    f32::from_bits(w)
}
fn v3(w: &[u32]) -> Vec3 {
    Vec3::new(f(w[0]), f(w[1]), f(w[2]))
}

/// Distance in units in the last place (0 for equal values, including both NaN).
fn ulps(a: f32, b: f32) -> u32 {
    if a == b || (a.is_nan() && b.is_nan()) {
        return 0;
    }
    let key = |x: f32| {
        let i = x.to_bits() as i32;
        if i < 0 {
            i32::MIN.wrapping_sub(i)
        } else {
            i
        }
    };
    (key(a) as i64 - key(b) as i64).unsigned_abs().min(u32::MAX as u64) as u32
}

/// Asserts two floats agree to `max_ulps`, or absolutely to 1e-6 near zero
/// (where ulps shrink without bound).
fn assert_close(what: &str, cpu: f32, kernel: f32, max_ulps: u32) {
    let ok = ulps(cpu, kernel) <= max_ulps || (cpu - kernel).abs() <= 1e-6 * cpu.abs().max(1e-3);
    assert!(ok, "{what}: CPU {cpu:e} vs kernel {kernel:e} ({} ulps)", ulps(cpu, kernel));
}

fn assert_close3(what: &str, cpu: Vec3, kernel: Vec3, max_ulps: u32) {
    for (c, k) in cpu.to_array().into_iter().zip(kernel.to_array()) {
        assert_close(what, c, k, max_ulps);
    }
}

/// Deterministic uniform numbers for test inputs.
fn uniform(seed: u32, i: u32) -> [f32; 4] {
    rand4(seed, i & 0xffff, i >> 16, 7, 3)
}

fn unit(seed: u32, i: u32) -> Vec3 {
    let [a, b, ..] = uniform(seed, i);
    square_to_uniform_sphere(Vec2::new(a, b))
}

#[test]
fn rng_is_bit_identical() {
    let Some(driver) = driver_or_skip("rng_is_bit_identical") else { return };
    let mut inputs: Vec<[u32; 5]> = (0..3000)
        .map(|i| {
            let [a, b, c, d] = uniform(1, i).map(f32::to_bits);
            [a, b >> 16, c >> 18, d, i.wrapping_mul(2_654_435_761)]
        })
        .collect();
    inputs.extend([[0; 5], [u32::MAX; 5], [1, 16383, 16383, 1 << 20, 0x8000_0103]]);
    let mut commands = Vec::new();
    for [seed, px, py, sample, group] in &inputs {
        commands.push(format!("rand4 {seed:x} {px:x} {py:x} {sample:x} {group:x}"));
        commands.push(format!("hash {seed:x}"));
        commands.push(format!("frame_seed {seed:x} {group:x}"));
        commands.push(format!("sample4 {seed:x} {px:x} {py:x} {sample:x} {group:x}"));
    }
    let answers = run(driver, &commands);
    for (k, [seed, px, py, sample, group]) in inputs.iter().copied().enumerate() {
        let expected: Vec<u32> = rand4(seed, px, py, sample, group).iter().map(|v| v.to_bits()).collect();
        assert_eq!(answers[4 * k], expected, "rand4({seed}, {px}, {py}, {sample}, {group})");
        assert_eq!(answers[4 * k + 1], [pcg_hash(seed)], "pcg_hash({seed})");
        assert_eq!(answers[4 * k + 2], [frame_seed(seed, group)], "frame_seed({seed}, {group})");
        let expected: Vec<u32> = sample4(seed, px, py, sample, group).iter().map(|v| v.to_bits()).collect();
        assert_eq!(answers[4 * k + 3], expected, "sample4({seed}, {px}, {py}, {sample}, {group})");
    }
}

#[test]
fn warps_frames_and_mis_weights_agree() {
    let Some(driver) = driver_or_skip("warps_frames_and_mis_weights_agree") else { return };
    let n = 2000;
    let mut commands = Vec::new();
    let mut inputs = Vec::new();
    for i in 0..n {
        let [a, b, c, d] = uniform(2, i);
        let u = Vec2::new(a, b);
        let normal = unit(3, i);
        // Half the tangents are random, some degenerate (parallel, zero).
        let tangent = match i % 5 {
            0 => normal * 2.0,
            1 => Vec3::ZERO,
            _ => unit(4, i),
        };
        let (pa, pb) = (c * 10f32.powi((i % 7) as i32 - 3), d);
        commands.push(format!("disk {} {}", h(u.x), h(u.y)));
        commands.push(format!("cosine {} {}", h(u.x), h(u.y)));
        commands.push(format!("sphere {} {}", h(u.x), h(u.y)));
        commands.push(format!("triangle {} {}", h(u.x), h(u.y)));
        commands.push(format!("power {} {}", h(pa), h(pb)));
        commands.push(format!("frame0 {}", h3(normal)));
        commands.push(format!("frame {} {}", h3(normal), h3(tangent)));
        inputs.push((u, normal, tangent, pa, pb));
    }
    let answers = run(driver, &commands);
    for (k, &(u, normal, tangent, pa, pb)) in inputs.iter().enumerate() {
        let a = &answers[7 * k..7 * k + 7];
        let disk = square_to_concentric_disk(u);
        assert_close3("concentric disk", disk.extend(0.0), Vec3::new(f(a[0][0]), f(a[0][1]), 0.0), 2);
        assert_close3("cosine hemisphere", square_to_cosine_hemisphere(u), v3(&a[1]), 2);
        assert_close3("uniform sphere", square_to_uniform_sphere(u), v3(&a[2]), 2);
        let tri = square_to_uniform_triangle(u);
        assert_close3("uniform triangle", tri.extend(0.0), Vec3::new(f(a[3][0]), f(a[3][1]), 0.0), 0);
        assert_close("power heuristic", power_heuristic(pa, pb), f(a[4][0]), 0);
        for (frame, answer, what) in [
            (Frame::from_normal(normal), &a[5], "frame from normal"),
            (Frame::from_normal_tangent(normal, tangent), &a[6], "frame from normal and tangent"),
        ] {
            assert_close3(what, frame.t, v3(&answer[0..3]), 2);
            assert_close3(what, frame.b, v3(&answer[3..6]), 2);
            assert_close3(what, frame.n, v3(&answer[6..9]), 0);
        }
    }
}

/// The parameters of `Bsdf::with_specular(..).with_specular_color(..).with_iridescence(..)
/// .with_anisotropy(..).with_coat(..).with_sheen(..)`, as the
/// driver reads them.
#[derive(Clone, Copy)]
struct Params {
    base: Vec3,
    metallic: f32,
    roughness: f32,
    ior: f32,
    transmission: f32,
    thin: bool,
    specular: f32,
    specular_color: Vec3,
    film: (f32, f32, f32),
    anisotropy: f32,
    coat: (f32, f32, Vec3),
    sheen: (Vec3, f32),
}

fn params(base: Vec3, metallic: f32, roughness: f32, ior: f32, transmission: f32, thin: bool, specular: f32) -> Params {
    let (coat, sheen) = ((0.0, 0.0, Vec3::Z), (Vec3::ZERO, 0.0));
    Params {
        base,
        metallic,
        roughness,
        ior,
        transmission,
        thin,
        specular,
        specular_color: Vec3::ONE,
        film: (0.0, 1.0, 0.0),
        anisotropy: 0.0,
        coat,
        sheen,
    }
}

impl Params {
    fn coated(self, weight: f32, roughness: f32, normal: Vec3) -> Params {
        Params { coat: (weight, roughness, normal), ..self }
    }

    fn tinted(self, color: Vec3) -> Params {
        Params { specular_color: color, ..self }
    }

    fn filmed(self, factor: f32, ior: f32, thickness: f32) -> Params {
        Params { film: (factor, ior, thickness), ..self }
    }

    fn anisotropic(self, strength: f32) -> Params {
        Params { anisotropy: strength, ..self }
    }

    fn sheened(self, color: Vec3, roughness: f32) -> Params {
        Params { sheen: (color, roughness), ..self }
    }

    fn bsdf(&self) -> Bsdf {
        let (weight, roughness, normal) = self.coat;
        Bsdf::with_specular(
            self.base,
            self.metallic,
            self.roughness,
            self.ior,
            self.transmission,
            self.thin,
            self.specular,
        )
        .with_specular_color(self.specular_color)
        .with_iridescence(self.film.0, self.film.1, self.film.2)
        .with_anisotropy(self.anisotropy)
        .with_coat(weight, roughness, normal)
        .with_sheen(self.sheen.0, self.sheen.1)
    }

    fn words(&self) -> String {
        let (weight, roughness, normal) = self.coat;
        let scalars = [self.metallic, self.roughness, self.ior, self.transmission];
        let scalars: Vec<String> = scalars.iter().map(|&x| h(x)).collect();
        format!(
            "{} {} {} {} {} {} {} {} {} {} {} {} {} {}",
            h3(self.base),
            scalars.join(" "),
            self.thin as u32,
            h(self.specular),
            h3(self.specular_color),
            h(self.film.0),
            h(self.film.1),
            h(self.film.2),
            h(self.anisotropy),
            h(weight),
            h(roughness),
            h3(normal),
            h3(self.sheen.0),
            h(self.sheen.1)
        )
    }
}

/// Materials spanning every lobe: metal, plastic, rough and smooth glass, thin walls,
/// mixtures, a weakened specular layer, anisotropy, clear coats (one with its own normal), sheens.
fn materials() -> Vec<Params> {
    let tilted = Vec3::new(0.3, -0.2, 1.0).normalize();
    let mut all = vec![
        params(Vec3::splat(0.8), 0.0, 0.5, 1.0, 0.0, false, 1.0),
        params(Vec3::new(0.9, 0.6, 0.3), 1.0, 0.0, 1.5, 0.0, false, 1.0),
        params(Vec3::new(0.9, 0.6, 0.3), 1.0, 0.7, 1.5, 0.0, false, 1.0),
        params(Vec3::new(0.6, 0.3, 0.2), 0.0, 0.4, 1.5, 0.0, false, 1.0),
        params(Vec3::new(0.6, 0.3, 0.2), 0.0, 0.4, 1.5, 0.0, false, 0.3),
        params(Vec3::new(0.6, 0.3, 0.2), 0.0, 0.4, 1.5, 0.0, false, 1.0).coated(1.0, 0.05, Vec3::Z),
        params(Vec3::new(0.9, 0.6, 0.3), 1.0, 0.5, 1.5, 0.0, false, 1.0).coated(0.6, 0.4, tilted),
        params(Vec3::ONE, 0.0, 0.0, 1.5, 1.0, false, 1.0),
        params(Vec3::ONE, 0.0, 0.5, 1.5, 1.0, false, 1.0),
        params(Vec3::ONE, 0.0, 0.5, 1.5, 1.0, false, 0.5),
        params(Vec3::ONE, 0.0, 0.3, 1.5, 1.0, false, 1.0).coated(1.0, 0.2, Vec3::Z),
        params(Vec3::new(0.9, 0.8, 0.7), 0.0, 0.3, 1.5, 1.0, true, 1.0),
        params(Vec3::new(0.7, 0.5, 0.9), 0.4, 0.4, 1.4, 0.5, false, 0.0),
        params(Vec3::new(0.2, 0.1, 0.4), 0.0, 0.6, 1.5, 0.0, false, 1.0).sheened(Vec3::new(1.0, 0.8, 0.6), 0.3),
        params(Vec3::new(0.9, 0.6, 0.3), 1.0, 0.4, 1.5, 0.0, false, 1.0).sheened(Vec3::ONE, 0.0),
        params(Vec3::ONE, 0.0, 0.3, 1.5, 1.0, false, 1.0).sheened(Vec3::splat(0.5), 0.8).coated(0.7, 0.3, Vec3::Z),
        params(Vec3::new(0.9, 0.6, 0.3), 1.0, 0.3, 1.5, 0.0, false, 1.0).anisotropic(0.8),
        params(Vec3::new(0.6, 0.3, 0.2), 0.0, 0.1, 1.5, 0.0, false, 1.0).anisotropic(0.5).coated(0.8, 0.1, Vec3::Z),
        params(Vec3::ONE, 0.0, 0.2, 1.5, 1.0, false, 1.0).anisotropic(1.0),
        params(Vec3::new(0.6, 0.3, 0.2), 0.0, 0.3, 1.5, 0.0, false, 1.0).tinted(Vec3::new(1.0, 0.4, 8.0)),
        params(Vec3::ONE, 0.0, 0.4, 1.5, 1.0, false, 0.7).tinted(Vec3::new(0.2, 1.0, 0.5)),
        params(Vec3::new(0.9, 0.8, 0.7), 0.0, 0.3, 1.5, 1.0, true, 1.0).tinted(Vec3::new(0.0, 0.5, 1.0)),
        params(Vec3::new(0.5, 0.5, 0.5), 0.0, 0.3, 1.5, 0.0, false, 1.0).tinted(Vec3::ZERO),
        params(Vec3::new(0.9, 0.6, 0.3), 1.0, 0.3, 1.5, 0.0, false, 1.0).filmed(1.0, 1.3, 400.0),
        params(Vec3::new(0.6, 0.3, 0.2), 0.0, 0.2, 1.5, 0.0, false, 1.0)
            .filmed(0.7, 1.8, 250.0)
            .tinted(Vec3::ONE * 2.0),
        params(Vec3::ONE, 0.0, 0.3, 1.5, 1.0, false, 1.0).filmed(1.0, 1.3, 20.0),
        // Out-of-range parameters are clamped the same way.
        params(Vec3::new(-1.0, 2.0, 0.5), 3.0, -1.0, 0.5, 2.0, false, 1.5)
            .tinted(Vec3::new(-1.0, 30.0, 0.5))
            .filmed(3.0, 0.5, -10.0)
            .anisotropic(2.0)
            .coated(2.0, -1.0, Vec3::Z)
            .sheened(Vec3::new(-1.0, 2.0, 0.5), 3.0),
    ];
    for i in 0..12 {
        let [a, b, c, d] = uniform(20, i);
        let [e, g, t, s] = uniform(21, i);
        let specular = if i % 3 == 0 { s } else { 1.0 };
        let material = params(Vec3::new(a, b, c), d * d * d, e, 1.0 + 1.5 * g, t, i % 2 == 0, specular);
        all.push(if i % 4 == 1 { material.coated(s, e * g, Vec3::Z) } else { material });
    }
    all
}

#[test]
fn bsdf_eval_pdf_and_sampling_agree() {
    let Some(driver) = driver_or_skip("bsdf_eval_pdf_and_sampling_agree") else { return };
    let mut commands = Vec::new();
    let mut cases = Vec::new();
    for (m, material) in materials().iter().enumerate() {
        let params = material.words();
        let bsdf = material.bsdf();
        for i in 0..300 {
            let key = m as u32 * 1000 + i;
            let (wo, wi) = (unit(5, key), unit(6, key));
            let [u_lobe, u1, u2, _] = uniform(7, key);
            commands.push(format!("eval {params} {} {}", h3(wo), h3(wi)));
            commands.push(format!("sample {params} {} {} {} {}", h3(wo), h(u_lobe), h(u1), h(u2)));
            cases.push((bsdf, wo, wi, u_lobe, Vec2::new(u1, u2)));
        }
    }
    let answers = run(driver, &commands);
    let mut sampled = 0;
    for (k, &(bsdf, wo, wi, u_lobe, u)) in cases.iter().enumerate() {
        let (eval, pdf) = bsdf.eval_pdf(wo, wi);
        let e = &answers[2 * k];
        let what = format!("{bsdf:?} at wo {wo}, wi {wi}");
        assert_close3(&format!("eval of {what}"), eval, v3(e), 16);
        assert_close(&format!("pdf of {what}"), pdf, f(e[3]), 16);
        let s = &answers[2 * k + 1];
        let cpu = bsdf.sample(wo, u_lobe, u);
        assert_eq!(cpu.is_some(), s[0] == 1, "sample of {bsdf:?} at wo {wo}, u {u_lobe} {u}: {cpu:?} vs {s:?}");
        if let Some(cpu) = cpu {
            sampled += 1;
            let what = format!("sample of {bsdf:?} at wo {wo}, u {u_lobe} {u}");
            assert_close3(&what, cpu.wi, v3(&s[1..4]), 16);
            assert_close3(&what, cpu.weight, v3(&s[4..7]), 64);
            assert_close(&what, cpu.pdf, f(s[7]), 64);
            assert_eq!(cpu.transmitted, s[8] == 1, "{what}");
        }
    }
    assert!(sampled > cases.len() / 2, "most samples should succeed ({sampled} of {})", cases.len());
}

/// Writes a 32×16 equirectangular HDR map with a bright spot, for environment sampling.
fn environment_map(dir: &Path) -> PathBuf {
    let (w, h) = (32u32, 16u32);
    let mut img = image::Rgb32FImage::new(w, h);
    for (x, y, p) in img.enumerate_pixels_mut() {
        let spot = if (x as i32 - 9).abs() <= 1 && (y as i32 - 5).abs() <= 1 { 40.0 } else { 0.0 };
        *p = image::Rgb([0.2 + 0.02 * x as f32 + spot, 0.3 + 0.01 * y as f32, 0.5 + spot * 0.5]);
    }
    let path = dir.join("sky.hdr");
    img.save(&path).unwrap();
    path
}

fn prepare(scene: &Path, env: Option<&EnvironmentSpec>, width: u32, height: u32) -> FlatScene {
    let scene = Scene::load(scene).unwrap_or_else(|e| panic!("{}: {e}", scene.display()));
    let env = env.map(|s| Environment::load(s).unwrap());
    let settings = RenderSettings { width, height, ..Default::default() };
    prepare_frame(&scene, env.as_ref(), &settings, 0).unwrap()
}

/// The Cornell box lit by its area light, an environment map, and a point, a
/// spot (with range) and a directional light added by hand: every light kind.
fn every_light_kind(dir: &Path) -> FlatScene {
    let sky = EnvironmentSpec::Map(environment_map(dir));
    let mut scene = prepare(&common::cornell_box(), Some(&sky), 24, 24);
    let c = 0.5 * (Vec3::from(scene.header.bounds_min) + Vec3::from(scene.header.bounds_max));
    let light = |kind, position: Vec3, direction: Vec3, intensity: [f32; 3]| Light {
        position: position.to_array(),
        kind,
        direction: direction.normalize().to_array(),
        intensity,
        cos_outer: 0.8,
        cos_inner: 0.95,
        range: if kind == LIGHT_SPOT { 3.0 } else { 0.0 },
        ..Default::default()
    };
    scene.lights.push(light(LIGHT_POINT, c + Vec3::new(0.1, 0.2, 0.1), Vec3::Y, [2.0, 1.0, 0.5]));
    scene.lights.push(light(LIGHT_SPOT, c + Vec3::new(-0.2, 0.3, 0.0), Vec3::new(0.2, -1.0, 0.1), [5.0, 5.0, 4.0]));
    scene.lights.push(light(LIGHT_DIRECTIONAL, Vec3::ZERO, Vec3::new(0.3, -1.0, -0.2), [1.0, 0.9, 0.8]));
    let n = scene.lights.len();
    let mut acc = 0.0;
    scene.light_cdf.clear();
    for (i, l) in scene.lights.iter_mut().enumerate() {
        l.pick_pdf = 1.0 / n as f32;
        acc += l.pick_pdf;
        scene.light_cdf.push(if i + 1 == n { 1.0 } else { acc });
    }
    scene.header.num_lights = n as u32;
    let kinds: Vec<u32> = scene.lights.iter().map(|l| l.kind).collect();
    for kind in [LIGHT_POINT, LIGHT_SPOT, LIGHT_DIRECTIONAL, LIGHT_TRIANGLE, LIGHT_ENVIRONMENT] {
        assert!(kinds.contains(&kind), "light kind {kind} missing from {kinds:?}");
    }
    scene
}

/// Writes the flat scene's arrays where the driver's `scene` command reads them,
/// after the check the CUDA backend makes before an upload.
fn export(scene: &FlatScene, dir: &Path) -> String {
    use bytemuck::{bytes_of, cast_slice};
    tessera::backend::cuda::validate_scene(scene).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).unwrap();
    let srgb = *tessera::scene::texture::SRGB_TO_LINEAR;
    let arrays: [(&str, &[u8]); 19] = [
        ("header", bytes_of(&scene.header)),
        ("nodes", cast_slice(&scene.nodes)),
        ("triangles", cast_slice(&scene.triangles)),
        ("triangle_vertices", cast_slice(&scene.triangle_vertices)),
        ("vertices", cast_slice(&scene.vertices)),
        ("materials", cast_slice(&scene.materials)),
        ("textures", cast_slice(&scene.textures)),
        ("texels", cast_slice(&scene.texels)),
        ("lights", cast_slice(&scene.lights)),
        ("light_cdf", cast_slice(&scene.light_cdf)),
        ("env_texels", cast_slice(&scene.env_texels)),
        ("env_marginal_cdf", cast_slice(&scene.env_marginal_cdf)),
        ("env_conditional_cdf", cast_slice(&scene.env_conditional_cdf)),
        ("srgb_to_linear", cast_slice(&srgb)),
        ("motion", bytes_of(&scene.motion)),
        ("motion_cameras", cast_slice(&scene.motion_cameras)),
        ("motion_nodes", cast_slice(&scene.motion_nodes)),
        ("motion_triangles", cast_slice(&scene.motion_triangles)),
        ("motion_vertices", cast_slice(&scene.motion_vertices)),
    ];
    for (name, bytes) in arrays {
        std::fs::write(dir.join(format!("{name}.bin")), bytes).unwrap();
    }
    format!("scene {}", dir.display())
}

#[test]
fn light_sampling_agrees_for_every_light_kind() {
    let Some(driver) = driver_or_skip("light_sampling_agrees_for_every_light_kind") else { return };
    let dir = tempfile::tempdir().unwrap();
    let scene = every_light_kind(dir.path());
    let (lo, hi) = (Vec3::from(scene.header.bounds_min), Vec3::from(scene.header.bounds_max));
    let mut commands = vec![export(&scene, &dir.path().join("scene"))];
    let mut cases = Vec::new();
    for i in 0..4000 {
        let [a, b, c, _] = uniform(8, i);
        let p = lo + (hi - lo) * Vec3::new(a, b, c);
        let u = uniform(9, i);
        commands.push(format!("light {} {} {} {} {} {STILL}", h3(p), h(u[0]), h(u[1]), h(u[2]), h(u[3])));
        let d = unit(10, i);
        commands.push(format!("env {}", h3(d)));
        cases.push((p, u, d));
    }
    let answers = run(driver, &commands);
    let mut per_kind = [0u32; 5];
    for (k, &(p, u, d)) in cases.iter().enumerate() {
        let a = &answers[1 + 2 * k];
        let cpu = sample_light(&scene, p, u, None);
        assert_eq!(cpu.is_some(), a[0] == 1, "sample_light at {p} with {u:?}: {cpu:?} vs {a:?}");
        if let Some(ls) = cpu {
            let what = format!("sample_light at {p} with {u:?}");
            assert_close3(&what, ls.wi, v3(&a[1..4]), 16);
            assert_close(&what, ls.dist, f(a[4]), 16);
            assert_close3(&what, ls.radiance, v3(&a[5..8]), 64);
            assert_close(&what, ls.pdf, f(a[8]), 64);
            assert_eq!(ls.delta, a[9] == 1, "{what}");
            let kind = scene.lights[tessera::sampling::distribution::sample_cdf(&scene.light_cdf, u[0])].kind;
            per_kind[kind as usize] += 1;
        }
        let e = &answers[2 + 2 * k];
        assert_close3(&format!("env_radiance({d})"), env_radiance(&scene, d), v3(e), 0);
        assert_close(&format!("env_pdf({d})"), env_pdf(&scene, d), f(e[3]), 16);
    }
    assert!(per_kind.iter().all(|&n| n > 100), "every light kind sampled: {per_kind:?}");
}

/// Ray `i` of a random set around `scene`'s bounds: origins in the box grown by
/// a tenth on every side, directions from seed `seed + 1` (with `axis`, every
/// tenth ray along +X and every other tenth along −Y), a third of them short.
fn random_ray(scene: &FlatScene, seed: u32, i: u32, axis: bool) -> (Ray, f32) {
    let (lo, hi) = (Vec3::from(scene.header.bounds_min), Vec3::from(scene.header.bounds_max));
    let [a, b, c, t] = uniform(seed, i);
    let origin = lo + (hi - lo) * Vec3::new(a, b, c) * 1.2 - (hi - lo) * 0.1;
    let dir = match (axis, i % 10) {
        (true, 0) => Vec3::X,
        (true, 1) => Vec3::NEG_Y,
        _ => unit(seed + 1, i),
    };
    let t_max = if i % 3 == 0 { t * (hi - lo).length() } else { f32::INFINITY };
    (Ray { origin, dir }, t_max)
}

#[test]
fn traversal_finds_the_same_hits() {
    let Some(driver) = driver_or_skip("traversal_finds_the_same_hits") else { return };
    let dir = tempfile::tempdir().unwrap();
    // Alpha-masked and blended leaves, transmission, many triangles.
    for name in ["TransmissionTest", "LightsPunctualLamp", "FlightHelmet"] {
        let scene = prepare(&common::shared_scene(name), None, 16, 16);
        let mut commands = vec![export(&scene, &dir.path().join(name))];
        let mut rays = Vec::new();
        for i in 0..3000 {
            let (Ray { origin, dir }, t_max) = random_ray(&scene, 11, i, true);
            commands.push(format!("intersect {} {} {} {STILL}", h3(origin), h3(dir), h(t_max)));
            commands.push(format!("occluded {} {} {} {STILL}", h3(origin), h3(dir), h(t_max)));
            rays.push((Ray { origin, dir }, t_max));
        }
        let answers = run(driver, &commands);
        let accept = |tri, u, v| alpha_mask_accepts(&scene, tri, u, v);
        let mut hits = 0;
        for (k, (ray, t_max)) in rays.iter().enumerate() {
            let a = &answers[1 + 2 * k];
            let what = format!("{name}: ray {k} from {} along {} up to {t_max}", ray.origin, ray.dir);
            let cpu = intersect(&scene.nodes, &scene.triangles, ray, *t_max, accept);
            assert_eq!(cpu.is_some(), a[0] == 1, "{what}: {cpu:?} vs {a:?}");
            if let Some(hit) = cpu {
                hits += 1;
                assert_eq!(hit.tri, a[4], "{what}: triangle");
                assert_close3(&what, Vec3::new(hit.t, hit.u, hit.v), Vec3::new(f(a[1]), f(a[2]), f(a[3])), 0);
            }
            let blocked = occluded(&scene.nodes, &scene.triangles, ray, *t_max, accept);
            assert_eq!(blocked, answers[2 + 2 * k][0] == 1, "{what}: occluded");
        }
        assert!(hits > 300, "{name}: only {hits} of {} rays hit", rays.len());
    }
}

/// Renders `task` through the kernels' stages on the host (`mode` 0: wavefront,
/// 1: megakernel) in waves of at most `capacity` paths.
fn render_on_host(
    driver: &Path,
    scene_command: &str,
    task: &RenderTask,
    mode: u32,
    capacity: u32,
    out: &Path,
) -> TileResult {
    let t = task.tile;
    let waves = params::plan_waves(t.pixel_count() as u32, task.samples.start..task.samples.end, capacity);
    let mut command = format!(
        "render {mode:x} {:x} {:x} {:x} {:x} {:x} {:x} {capacity:x} {} {:x}",
        frame_seed(task.seed, task.frame),
        task.max_depth,
        t.x,
        t.y,
        t.width,
        t.height,
        out.display(),
        waves.len()
    );
    for w in &waves {
        command += &format!(" {:x} {:x} {:x} {:x}", w.pixel_begin, w.pixel_count, w.sample_begin, w.sample_count);
    }
    let answer = &run(driver, &[scene_command.to_string(), command])[1];
    let bytes = std::fs::read(out).unwrap();
    TileResult {
        frame: task.frame,
        tile: t,
        samples: task.samples,
        pixels: bytemuck::pod_collect_to_vec::<u8, PixelSums>(&bytes),
        rays: ((answer[0] as u64) << 32) | answer[1] as u64,
    }
}

fn image(width: u32, height: u32, result: &TileResult) -> FrameImage {
    let mut film = Film::new(width, height);
    film.add(result).unwrap();
    film.image()
}

#[test]
fn tiles_rendered_through_the_kernel_logic_match_the_cpu_backend() {
    let Some(driver) = driver_or_skip("tiles_rendered_through_the_kernel_logic_match_the_cpu_backend") else { return };
    let dir = tempfile::tempdir().unwrap();
    let sky = EnvironmentSpec::Map(environment_map(dir.path()));
    let scenes = [
        ("cornell-box", common::cornell_box(), Some(sky.clone())),
        ("LightsPunctualLamp", common::shared_scene("LightsPunctualLamp"), None),
        ("TransmissionTest", common::shared_scene("TransmissionTest"), Some(sky.clone())),
        ("NormalTangentMirrorTest", common::shared_scene("NormalTangentMirrorTest"), Some(sky.clone())),
        ("TextureTransformTest", common::shared_scene("TextureTransformTest"), Some(sky.clone())),
        ("AttenuationTest", common::shared_scene("AttenuationTest"), Some(sky.clone())),
        ("ClearCoatTest", common::shared_scene("ClearCoatTest"), Some(sky.clone())),
        ("absorbing-slab", gltf_builder::absorbing_slab(dir.path(), 1.5, Some(([0.8, 0.5, 0.2], 1.0))), None),
        ("unlit", gltf_builder::unlit_panel_over_floor(dir.path(), true), None),
        ("sheen", gltf_builder::sheen_panel_over_floor(dir.path()), Some(sky.clone())),
        ("anisotropy", gltf_builder::brushed_panel_over_floor(dir.path()), Some(sky.clone())),
        ("iridescence", gltf_builder::filmed_panel_over_floor(dir.path()), Some(sky.clone())),
    ];
    for (name, path, env) in scenes {
        let scene = prepare(&path, env.as_ref(), TILE.0, TILE.1);
        assert_tile_matches_the_cpu_backend(driver, name, &scene, dir.path());
    }
}

/// The image size of the tile tests: one tile of 320 pixels.
const TILE: (u32, u32) = (20, 16);

/// One tile of `scene` through the wavefront stages (in waves of the whole tile
/// and of part of it) and the megakernel on the host: the same sums as the CPU
/// backend, bit for bit.
fn assert_tile_matches_the_cpu_backend(driver: &Path, name: &str, scene: &FlatScene, dir: &Path) {
    let (width, height) = TILE;
    let scene_command = export(scene, &dir.join(name));
    let task = RenderTask {
        frame: 3,
        tile: Tile { x: 0, y: 0, width, height },
        samples: SampleRange { start: 5, end: 21 },
        seed: 11,
        max_depth: 6,
    };
    let mut cpu = CpuBackend::new(Some(1)).unwrap();
    cpu.upload(scene).unwrap();
    let reference = cpu.render(&task, &|_| true).unwrap();

    let out = dir.join(format!("{name}.sums"));
    // 320 pixels: waves of 3 samples of the whole tile, and waves of part of the tile.
    let wavefront = render_on_host(driver, &scene_command, &task, 0, 1000, &out);
    let split = render_on_host(driver, &scene_command, &task, 0, 150, &out);
    let megakernel = render_on_host(driver, &scene_command, &task, 1, 1000, &out);
    assert_eq!(wavefront, split, "{name}: the wave size changed the result");
    assert_eq!(wavefront, megakernel, "{name}: wavefront and megakernel differ");

    // Same paths as the CPU: compiled without FMA contraction on the host, the
    // kernel logic rounds every operation as the Rust reference does and calls
    // the same libm, so the sums are identical bit for bit. (On the GPU, FMA
    // and CUDA's libdevice make them agree statistically instead.)
    assert_eq!(wavefront.rays, reference.rays, "{name}: rays traced");
    let differing: Vec<usize> =
        (0..reference.pixels.len()).filter(|&i| wavefront.pixels[i] != reference.pixels[i]).collect();
    assert!(
        differing.is_empty(),
        "{name}: {} of {} pixel sums differ from the CPU backend, first at pixel {}: {:?} vs {:?}",
        differing.len(),
        reference.pixels.len(),
        differing[0],
        wavefront.pixels[differing[0]],
        reference.pixels[differing[0]]
    );
    common::agreement::assert_agrees(name, &image(width, height, &reference), &image(width, height, &wavefront), 0.01);
}

/// Frame `frame` of a shared animated scene with the shutter open for a whole
/// frame at three motion keys.
fn blurred(name: &str, frame: u32, width: u32, height: u32) -> FlatScene {
    let scene = Scene::load(&common::shared_scene(name)).unwrap();
    let blur = MotionBlur { shutter: 1.0, position: ShutterPosition::Center, steps: 2 };
    let settings = RenderSettings { width, height, motion_blur: Some(blur), ..Default::default() };
    let flat = prepare_frame(&scene, None, &settings, frame).unwrap();
    assert!(flat.moves() && flat.motion.moving_triangles > 0, "{name} frame {frame} does not move");
    flat
}

/// `scene` with its camera swung sideways and forwards over the shutter.
fn with_moving_camera(mut scene: FlatScene) -> FlatScene {
    let c = scene.header.camera;
    let size = (Vec3::from(scene.header.bounds_max) - Vec3::from(scene.header.bounds_min)).length();
    scene.motion_cameras = (0..scene.motion.keys)
        .map(|k| {
            let step = k as f32 * 0.05 * size;
            let forward = (Vec3::from(c.forward) + Vec3::from(c.right) * 0.1 * k as f32).to_array();
            Camera { origin: (Vec3::from(c.origin) + Vec3::from(c.right) * step).to_array(), forward, ..c }
        })
        .collect();
    scene.motion.camera_keys = scene.motion.keys;
    scene
}

#[test]
fn motion_blurred_tiles_match_the_cpu_backend() {
    // Rigid (BoxAnimated), skinned (Fox) and camera motion: every sample draws
    // its instant, poses the camera, the triangles and their vertices there and
    // traverses the segment's BVH, as the CPU reference does.
    let Some(driver) = driver_or_skip("motion_blurred_tiles_match_the_cpu_backend") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (width, height) = TILE;
    let scenes = [
        ("BoxAnimated", blurred("BoxAnimated", 30, width, height)),
        ("Fox", blurred("Fox", 20, width, height)),
        ("BoxAnimated-camera", with_moving_camera(blurred("BoxAnimated", 30, width, height))),
    ];
    for (name, scene) in scenes {
        assert_tile_matches_the_cpu_backend(driver, name, &scene, dir.path());
    }
}

#[test]
fn traversal_at_an_instant_finds_the_same_hits() {
    let Some(driver) = driver_or_skip("traversal_at_an_instant_finds_the_same_hits") else { return };
    let dir = tempfile::tempdir().unwrap();
    for name in ["BoxAnimated", "Fox"] {
        let scene = blurred(name, 20, 16, 16);
        let mut commands = vec![export(&scene, &dir.path().join(name))];
        let mut rays = Vec::new();
        for i in 0..3000 {
            let (Ray { origin, dir }, t_max) = random_ray(&scene, 13, i, false);
            let at = motion::instant(scene.motion.keys, uniform(15, i)[0]);
            let instant = format!("1 {:x} {}", at.segment, h(at.fraction));
            commands.push(format!("intersect {} {} {} {instant}", h3(origin), h3(dir), h(t_max)));
            commands.push(format!("occluded {} {} {} {instant}", h3(origin), h3(dir), h(t_max)));
            rays.push((Ray { origin, dir }, t_max, at));
        }
        let answers = run(driver, &commands);
        let accept = |tri, u, v| alpha_mask_accepts(&scene, tri, u, v);
        let mut moving_hits = 0;
        for (k, (ray, t_max, at)) in rays.iter().enumerate() {
            let a = &answers[1 + 2 * k];
            let what = format!("{name}: ray {k} from {} along {} up to {t_max} at {at:?}", ray.origin, ray.dir);
            let cpu = motion::intersect(&scene, ray, *t_max, Some(*at), accept);
            assert_eq!(cpu.is_some(), a[0] == 1, "{what}: {cpu:?} vs {a:?}");
            if let Some(hit) = cpu {
                moving_hits += (hit.tri >= scene.motion.static_triangles) as u32;
                assert_eq!(hit.tri, a[4], "{what}: triangle");
                assert_close3(&what, Vec3::new(hit.t, hit.u, hit.v), Vec3::new(f(a[1]), f(a[2]), f(a[3])), 0);
            }
            let blocked = motion::occluded(&scene, ray, *t_max, Some(*at), accept);
            assert_eq!(blocked, answers[2 + 2 * k][0] == 1, "{what}: occluded");
        }
        assert!(moving_hits > 200, "{name}: only {moving_hits} of {} rays hit moving triangles", rays.len());
    }
}

#[test]
fn motion_keys_that_do_not_fit_are_refused_before_upload() {
    // The kernels index motion keys from the header, so a flat scene whose keys
    // disagree with it is refused, naming what does not fit.
    use tessera::backend::cuda::validate_scene;
    let scene = blurred("BoxAnimated", 30, 8, 8);
    assert_eq!(validate_scene(&scene), Ok(()));
    let mut s = scene.clone();
    s.motion_triangles.pop();
    assert!(validate_scene(&s).unwrap_err().contains("motion triangles"));
    let mut s = scene.clone();
    s.motion_vertices.truncate(1);
    assert!(validate_scene(&s).unwrap_err().contains("motion vertices"));
    let mut s = with_moving_camera(scene.clone());
    s.motion_cameras.pop();
    assert!(validate_scene(&s).unwrap_err().contains("motion cameras"));
    let mut s = scene.clone();
    s.motion_nodes[0].index = 1_000_000;
    let err = validate_scene(&s).unwrap_err();
    assert!(err.contains("motion segment 0's BVH's node 0 points outside"), "{err}");
}
