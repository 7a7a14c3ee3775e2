//! The wgpu backend against the CPU reference: the WGSL RNG gives the same bits,
//! renders agree per pixel (z-test against the CPU's per-pixel variance), AOVs
//! agree closely, and the white furnace holds. Runs on any adapter, including
//! Mesa's lavapipe on CI; without an adapter each test says it is skipped and why.
#![cfg(feature = "wgpu")]

mod common;
#[path = "data/gltf_builder.rs"]
mod gltf_builder;

use std::path::Path;
use std::sync::{Mutex, MutexGuard, OnceLock};

use common::agreement::assert_agrees;
use common::*;
use tessera::backend::wgpu::adapter::{instance, BufferNeeds, GpuDevice, Software};
use tessera::backend::wgpu::{shader, WgpuBackend};
use tessera::backend::{Backend, BackendError, BackendKind, BackendOptions};
use tessera::render::film::FrameImage;
use tessera::render::frame::render_frame;
use tessera::render::settings::{prepare_frame, MotionBlur, RenderSettings, ShutterPosition};
use tessera::render::task::{RenderTask, SampleRange, Tile};
use tessera::sampling::rng::{rand4, sample4};
use tessera::scene::{Environment, EnvironmentSpec, Scene};

/// One backend for the whole test binary: compiling the kernels takes seconds on lavapipe.
fn backend(test: &str) -> Option<MutexGuard<'static, WgpuBackend>> {
    static BACKEND: OnceLock<Result<Mutex<WgpuBackend>, String>> = OnceLock::new();
    let created = BACKEND.get_or_init(|| match WgpuBackend::new(&BackendOptions::default()) {
        Ok(b) => Ok(Mutex::new(b)),
        Err(BackendError::Unavailable { reason, .. }) => Err(reason),
        Err(e) => panic!("an adapter exists but the wgpu backend failed: {e}"),
    });
    match created {
        Ok(b) => Some(b.lock().unwrap_or_else(|p| p.into_inner())),
        // CI installs lavapipe and sets TESSERA_REQUIRE_WGPU so that these tests cannot skip there.
        Err(reason) if std::env::var_os("TESSERA_REQUIRE_WGPU").is_some() => {
            panic!("{test}: TESSERA_REQUIRE_WGPU is set but there is no usable wgpu adapter: {reason}")
        }
        Err(reason) => {
            eprintln!("{test}: skipped, no usable wgpu adapter: {reason}");
            None
        }
    }
}

/// Renders frame 0 of `path` on the shared wgpu backend.
fn render_wgpu(backend: &mut WgpuBackend, path: &Path, settings: &RenderSettings, tile: u32) -> FrameImage {
    let scene = Scene::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let env = settings.environment.as_ref().map(|s| Environment::load(s).unwrap());
    let flat = prepare_frame(&scene, env.as_ref(), settings, 0).unwrap();
    backend.upload(&flat).unwrap();
    let (film, stats) = render_frame(backend, settings, 0, tile, &|_| true).unwrap();
    let samples = settings.width as u64 * settings.height as u64 * settings.spp as u64;
    assert!(stats.rays >= samples, "{}: {} rays for {samples} samples", path.display(), stats.rays);
    film.image()
}

#[test]
fn wgsl_rng_matches_rand4_and_sample4_bit_for_bit() {
    // Needs only a device, not the backend.
    let Some(_guard) = backend("wgsl_rng_matches_rand4_and_sample4_bit_for_bit") else { return };
    let gpu = GpuDevice::open(&instance(), None, Software::Allow, BufferNeeds::default()).unwrap();
    const N: u32 = 4096;
    // Inputs spread over the whole u32 range, the same formula on both sides.
    let inputs = |i: u32| {
        let seed = i.wrapping_mul(40_503).wrapping_add(17);
        let px = i.wrapping_mul(2_654_435_761);
        let py = i ^ 0xdead_beef;
        let sample = i >> 3;
        let group = (i % 37) | ((i & 1) << 31);
        (seed, px, py, sample, group)
    };
    let entry = format!(
        "{}\n@group(2) @binding(0) var<storage, read_write> rng_out: array<vec4<u32>>;
        @compute @workgroup_size(64)
        fn rng_check(@builtin(global_invocation_id) id: vec3<u32>) {{
            let i = id.x;
            if i >= {N}u {{ return; }}
            let seed = i * 40503u + 17u;
            let px = i * 2654435761u;
            let py = i ^ 0xdeadbeefu;
            let sample = i >> 3u;
            let group = (i % 37u) | ((i & 1u) << 31u);
            rng_out[2u * i] = bitcast<vec4<u32>>(rand4(seed, px, py, sample, group));
            rng_out[2u * i + 1u] = bitcast<vec4<u32>>(sample4(seed, px, py, sample, group));
        }}",
        shader::source()
    );
    let device = &gpu.device;
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: None,
        entries: &[wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only: false },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        }],
    });
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("rng check"),
        source: wgpu::ShaderSource::Wgsl(entry.into()),
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: None,
        bind_group_layouts: &[None, None, Some(&layout)],
        immediate_size: 0,
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: None,
        layout: Some(&pipeline_layout),
        module: &module,
        entry_point: Some("rng_check"),
        compilation_options: Default::default(),
        cache: None,
    });
    let size = N as u64 * 32;
    let out = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let readback = device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &layout,
        entries: &[wgpu::BindGroupEntry { binding: 0, resource: out.as_entire_binding() }],
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(2, &bind_group, &[]);
        pass.dispatch_workgroups(N / 64, 1, 1);
    }
    encoder.copy_buffer_to_buffer(&out, 0, &readback, 0, size);
    gpu.queue.submit([encoder.finish()]);
    readback.slice(..).map_async(wgpu::MapMode::Read, |r| r.expect("map readback"));
    gpu.wait().unwrap();
    let view = readback.slice(..).get_mapped_range().unwrap();
    let gpu_bits: &[[u32; 4]] = bytemuck::cast_slice(&view);
    for i in 0..N {
        let (seed, px, py, sample, group) = inputs(i);
        let cpu = rand4(seed, px, py, sample, group).map(f32::to_bits);
        assert_eq!(gpu_bits[2 * i as usize], cpu, "rand4({seed}, {px}, {py}, {sample}, {group})");
        let cpu = sample4(seed, px, py, sample, group).map(f32::to_bits);
        assert_eq!(gpu_bits[2 * i as usize + 1], cpu, "sample4({seed}, {px}, {py}, {sample}, {group})");
    }
    // The numbers are not all alike (a shader writing zeros would fail above, but say so plainly).
    assert!(gpu_bits.iter().any(|v| v[0] != gpu_bits[0][0]));
}

/// Per-pixel AOV differences between two renders of the same samples: the
/// fraction of pixels where albedo, normal, depth (relative) or alpha differ by
/// more than 1e-3, and the largest difference.
fn aov_differences(a: &FrameImage, b: &FrameImage) -> (f64, f32) {
    let mut differing = 0;
    let mut worst = 0.0f32;
    for i in 0..a.pixel_count() {
        let mut d = 0.0f32;
        for c in 0..3 {
            d = d.max((a.albedo[i][c] - b.albedo[i][c]).abs()).max((a.normal[i][c] - b.normal[i][c]).abs());
        }
        d = d.max((a.color[i][3] - b.color[i][3]).abs());
        d = d.max((a.depth[i] - b.depth[i]).abs() / a.depth[i].abs().max(1.0));
        if d > 1e-3 {
            differing += 1;
        }
        worst = worst.max(d);
    }
    (differing as f64 / a.pixel_count() as f64, worst)
}

/// Least fraction of pixels that must match the CPU render of the same samples.
/// On lavapipe all do; a GPU's own rounding (fused multiply-adds, approximate
/// transcendentals) can send a rare path another way, which this leaves room for,
/// while a misspelled formula (say Schlick's exponent 4 instead of 5) drops
/// scenes with metals to 80–96%.
const MIN_SAME_SAMPLE_MATCH: f64 = 0.98;

/// Fraction of pixels whose radiance is within 1% (relative, or 1e-3 absolute
/// for dark pixels) of `b`'s.
fn close_pixels(a: &FrameImage, b: &FrameImage) -> f64 {
    let close = (0..a.pixel_count())
        .filter(|&i| (0..3).all(|c| (a.color[i][c] - b.color[i][c]).abs() <= 1e-2 * b.color[i][c].abs().max(0.1)))
        .count();
    close as f64 / a.pixel_count() as f64
}

/// Renders `path` on the CPU (a high-spp reference with one seed, and the wgpu
/// settings with another) and on wgpu: radiance must pass the per-pixel z-test
/// against the independent reference, and AOVs must match the CPU render of the
/// same samples. The same samples follow the same paths except where rounding
/// makes them part, so most pixels must also match that render closely — a
/// check far more sensitive to a misspelled formula than the z-test at low spp.
fn check_agreement(name: &str, path: &Path, settings: &RenderSettings, reference_spp: u32) {
    let Some(mut backend) = backend(&format!("{name} agreement")) else { return };
    let reference = RenderSettings { spp: reference_spp, seed: settings.seed + 1000, ..settings.clone() };
    let cpu_reference = render(path, &reference, BackendKind::Cpu, 64, None);
    let cpu_same = render(path, settings, BackendKind::Cpu, 64, None);
    let gpu = render_wgpu(&mut backend, path, settings, 32);
    assert!(gpu.color.iter().any(|c| c[0] + c[1] + c[2] > 0.0), "{name}: the wgpu image is black");
    assert_agrees(name, &cpu_reference, &gpu, 0.01);
    let (differing, worst) = aov_differences(&cpu_same, &gpu);
    eprintln!("{name}: AOVs differ by more than 1e-3 in {:.2}% of pixels (worst {worst:.4})", differing * 100.0);
    assert!(differing <= 0.01, "{name}: AOVs differ in {:.2}% of pixels (worst {worst})", differing * 100.0);
    let close = close_pixels(&gpu, &cpu_same);
    eprintln!("{name}: {:.2}% of pixels within 1% of the CPU render of the same samples", close * 100.0);
    assert!(
        close >= MIN_SAME_SAMPLE_MATCH,
        "{name}: only {:.2}% of pixels match the CPU render of the same samples",
        close * 100.0
    );
}

fn small(spp: u32) -> RenderSettings {
    RenderSettings { width: 64, height: 64, spp, max_depth: 8, seed: 3, ..Default::default() }
}

#[test]
fn cornell_box_agrees_with_cpu() {
    check_agreement("cornell box", &cornell_box(), &small(64), 512);
}

#[test]
fn textured_flight_helmet_agrees_with_cpu() {
    // Base colour, metallic-roughness and normal maps, alpha-blended lenses.
    check_agreement("FlightHelmet", &shared_scene("FlightHelmet"), &small(32), 512);
}

#[test]
fn transmission_agrees_with_cpu() {
    // Thin-walled and textured transmission, alpha masks.
    check_agreement("TransmissionTest", &shared_scene("TransmissionTest"), &small(32), 256);
}

#[test]
fn attenuation_agrees_with_cpu() {
    // Refracting KHR_materials_volume with Beer–Lambert absorption.
    check_agreement("AttenuationTest", &shared_scene("AttenuationTest"), &small(32), 256);
}

#[test]
fn clearcoat_agrees_with_cpu() {
    // KHR_materials_clearcoat: factors, textures, coat roughness and coat normal maps.
    check_agreement("ClearCoatTest", &shared_scene("ClearCoatTest"), &small(32), 256);
}

#[test]
fn sheen_agrees_with_cpu() {
    // KHR_materials_sheen over a grey floor and a dark panel under the sky.
    let dir = tempfile::tempdir().unwrap();
    check_agreement("sheen", &gltf_builder::sheen_panel_over_floor(dir.path()), &small(32), 512);
}

#[test]
fn anisotropy_agrees_with_cpu() {
    // KHR_materials_anisotropy: a textured brushed-gold floor and a brushed plastic
    // panel, whose layer KHR_materials_specular tints with a factor and a texture.
    let dir = tempfile::tempdir().unwrap();
    check_agreement("anisotropy", &gltf_builder::brushed_panel_over_floor(dir.path()), &small(32), 512);
}

#[test]
fn iridescence_agrees_with_cpu() {
    // KHR_materials_iridescence: a metal floor under a textured film and a plastic panel under a plain one.
    let dir = tempfile::tempdir().unwrap();
    check_agreement("iridescence", &gltf_builder::filmed_panel_over_floor(dir.path()), &small(32), 512);
}

#[test]
fn punctual_lights_agree_with_cpu() {
    // Point lights, emissive materials, transmission, alpha blending.
    check_agreement("LightsPunctualLamp", &shared_scene("LightsPunctualLamp"), &small(32), 512);
}

#[test]
fn unlit_agrees_with_cpu() {
    // KHR_materials_unlit seen by the camera and lighting the floor before it.
    let dir = tempfile::tempdir().unwrap();
    check_agreement("unlit", &gltf_builder::unlit_panel_over_floor(dir.path(), true), &small(32), 512);
}

#[test]
fn environment_map_agrees_with_cpu() {
    // Importance-sampled equirectangular map: a dim sky with one bright patch,
    // on a glossy sphere (exercises the env CDFs and MIS against the BSDF).
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (32u32, 16u32);
    let sky = image::Rgb32FImage::from_fn(w, h, |x, y| {
        let bright = (10..13).contains(&x) && (3..5).contains(&y);
        image::Rgb(if bright { [40.0, 30.0, 20.0] } else { [0.2, 0.3, 0.5 + 0.02 * y as f32] })
    });
    let env_path = dir.path().join("sky.hdr");
    image::DynamicImage::ImageRgb32F(sky).save(&env_path).unwrap();
    let glossy = TestMaterial { base_color: [0.8, 0.5, 0.3], metallic: 0.5, roughness: 0.3, ior: 1.5 };
    let path = sphere_gltf(dir.path(), &glossy);
    let settings = RenderSettings { environment: Some(EnvironmentSpec::Map(env_path)), ..small(32) };
    check_agreement("environment map", &path, &settings, 512);
}

#[test]
fn every_shared_scene_matches_the_cpu() {
    // Every feature the shared scenes use (texture transforms and wrap modes,
    // mirrored tangents, instancing, cameras, emissive strength, ...) renders on
    // wgpu as on the CPU: the same samples give the same AOVs and, but for
    // rounding, the same radiance.
    let Some(mut gpu) = backend("every_shared_scene_matches_the_cpu") else { return };
    let settings = RenderSettings { width: 24, height: 16, spp: 4, max_depth: 6, ..Default::default() };
    let (mut cpu, _) = tessera::backend::create(BackendKind::Cpu, &BackendOptions::default()).unwrap();
    for name in shared_scene_names() {
        let path = shared_scene(&name);
        let scene = Scene::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let flat = prepare_frame(&scene, None, &settings, 0).unwrap();
        let mut images = Vec::new();
        for backend in [cpu.as_mut(), &mut *gpu as &mut dyn Backend] {
            backend.upload(&flat).unwrap_or_else(|e| panic!("{name}: {e}"));
            images.push(render_frame(backend, &settings, 0, 16, &|_| true).unwrap().0.image());
        }
        let (cpu_image, gpu_image) = (&images[0], &images[1]);
        assert!(gpu_image.color.iter().flatten().all(|v| v.is_finite()), "{name}: non-finite pixel");
        let (differing, worst) = aov_differences(cpu_image, gpu_image);
        let close = close_pixels(gpu_image, cpu_image);
        eprintln!(
            "{name}: AOVs differ in {:.1}% of pixels (worst {worst:.4}), {:.1}% of pixels match",
            differing * 100.0,
            close * 100.0
        );
        assert!(differing <= 0.02, "{name}: AOVs differ in {:.1}% of pixels (worst {worst})", differing * 100.0);
        assert!(close >= MIN_SAME_SAMPLE_MATCH, "{name}: only {:.1}% of pixels match the CPU render", close * 100.0);
    }
}

#[test]
fn motion_blurred_animation_matches_the_cpu() {
    // Rigid (BoxAnimated) and skinned (Fox) motion over a shutter of one frame at
    // three keys, at frames where both move: the same samples give the same AOVs
    // and, but for rounding, the same radiance; radiance passes the per-pixel
    // z-test against a CPU render of other samples.
    let Some(mut gpu) = backend("motion_blurred_animation_matches_the_cpu") else { return };
    let blur = MotionBlur { shutter: 1.0, position: ShutterPosition::Center, steps: 2 };
    let settings =
        RenderSettings { width: 48, height: 32, spp: 8, max_depth: 4, motion_blur: Some(blur), ..Default::default() };
    let (mut cpu, _) = tessera::backend::create(BackendKind::Cpu, &BackendOptions::default()).unwrap();
    for (name, frame) in [("BoxAnimated", 30), ("Fox", 20)] {
        let scene = Scene::load(&shared_scene(name)).unwrap();
        let render = |backend: &mut dyn Backend, settings: &RenderSettings| {
            let flat = prepare_frame(&scene, None, settings, frame).unwrap();
            assert!(flat.moves(), "{name} frame {frame} does not move");
            backend.upload(&flat).unwrap_or_else(|e| panic!("{name}: {e}"));
            render_frame(backend, settings, frame, 16, &|_| true).unwrap().0.image()
        };
        let gpu_image = render(&mut *gpu, &settings);
        let cpu_image = render(cpu.as_mut(), &settings);
        let reference = render(cpu.as_mut(), &RenderSettings { spp: 256, seed: 1000, ..settings.clone() });
        let (differing, worst) = aov_differences(&cpu_image, &gpu_image);
        let close = close_pixels(&gpu_image, &cpu_image);
        eprintln!(
            "{name}: AOVs differ in {:.1}% (worst {worst:.4}), {:.1}% of pixels match",
            differing * 100.0,
            close * 100.0
        );
        assert!(differing <= 0.02, "{name}: AOVs differ in {:.1}% of pixels (worst {worst})", differing * 100.0);
        assert!(close >= MIN_SAME_SAMPLE_MATCH, "{name}: only {:.1}% of pixels match the CPU render", close * 100.0);
        assert_agrees(&format!("{name} motion blur"), &reference, &gpu_image, 0.01);
        let still = render_frame_still(&scene, &settings, frame, cpu.as_mut());
        assert!(still.color != cpu_image.color, "{name}: the blurred frame is the still frame");
    }
}

/// `frame` rendered without motion blur.
fn render_frame_still(scene: &Scene, settings: &RenderSettings, frame: u32, backend: &mut dyn Backend) -> FrameImage {
    let settings = RenderSettings { motion_blur: None, ..settings.clone() };
    backend.upload(&prepare_frame(scene, None, &settings, frame).unwrap()).unwrap();
    render_frame(backend, &settings, frame, 16, &|_| true).unwrap().0.image()
}

#[test]
fn white_furnace_holds_on_wgpu() {
    let Some(mut backend) = backend("white_furnace_holds_on_wgpu") else { return };
    let dir = tempfile::tempdir().unwrap();
    let white = TestMaterial { base_color: [1.0; 3], metallic: 0.0, roughness: 1.0, ior: 1.0 };
    let path = sphere_gltf(dir.path(), &white);
    let settings = RenderSettings {
        width: 24,
        height: 24,
        spp: 256,
        max_depth: 64,
        seed: 1,
        environment: Some(EnvironmentSpec::Color([1.0, 1.0, 1.0])),
        ..Default::default()
    };
    let image = render_wgpu(&mut backend, &path, &settings, 64);
    let covered: Vec<f64> =
        image.color.iter().filter(|c| c[3] == 1.0).map(|c| (c[0] as f64 + c[1] as f64 + c[2] as f64) / 3.0).collect();
    let mean = covered.iter().sum::<f64>() / covered.len() as f64;
    assert!(covered.len() > 100, "the sphere should cover the image centre ({} pixels)", covered.len());
    assert!((mean - 1.0).abs() < 0.005, "white furnace on wgpu: mean radiance {mean}, expected 1 ± 0.5%");
}

#[test]
fn tiling_and_batching_do_not_change_a_bit() {
    // Sums are added per pixel in sample order within each lane, so one tile and
    // many tiles, one task and several sample ranges give identical bits.
    let Some(mut backend) = backend("tiling_and_batching_do_not_change_a_bit") else { return };
    let settings = RenderSettings { width: 24, height: 20, spp: 6, max_depth: 4, ..Default::default() };
    let whole = render_wgpu(&mut backend, &cornell_box(), &settings, 64);
    let tiled = render_wgpu(&mut backend, &cornell_box(), &settings, 7);
    assert_eq!(whole, tiled, "1 tile vs 12 tiles");
    let task = |samples: SampleRange| RenderTask {
        frame: 0,
        tile: Tile { x: 0, y: 0, width: 24, height: 20 },
        samples,
        seed: 0,
        max_depth: 4,
    };
    let all = backend.render(&task(SampleRange { start: 0, end: 6 }), &|_| true).unwrap();
    let again = backend.render(&task(SampleRange { start: 0, end: 6 }), &|_| true).unwrap();
    assert_eq!(all, again, "the same task twice");
    assert!(all.pixels.iter().all(|p| p.count == 6));
}

#[test]
fn progress_is_reported_and_cancellation_honoured() {
    let Some(mut backend) = backend("progress_is_reported_and_cancellation_honoured") else { return };
    let settings = RenderSettings { width: 16, height: 16, spp: 4, max_depth: 2, ..Default::default() };
    let scene = Scene::load(&cornell_box()).unwrap();
    backend.upload(&prepare_frame(&scene, None, &settings, 0).unwrap()).unwrap();
    let task = RenderTask {
        frame: 0,
        tile: Tile { x: 0, y: 0, width: 16, height: 16 },
        samples: SampleRange { start: 0, end: 4 },
        seed: 0,
        max_depth: 2,
    };
    let done = std::sync::atomic::AtomicU64::new(0);
    backend
        .render(&task, &|n| {
            done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            true
        })
        .unwrap();
    assert_eq!(done.into_inner(), 16 * 16 * 4, "progress must add up to the task's pixel-samples");
    let cancelled = backend.render(&task, &|_| false);
    assert!(matches!(cancelled, Err(BackendError::Cancelled)), "{cancelled:?}");
    // The backend still works after a cancelled task.
    assert!(backend.render(&task, &|_| true).is_ok());
    let outside = RenderTask { tile: Tile { x: 10, y: 0, width: 16, height: 16 }, ..task };
    assert!(matches!(backend.render(&outside, &|_| true), Err(BackendError::TileOutOfBounds { .. })));
}

#[test]
fn bad_device_index_is_a_clear_error() {
    let Some(_guard) = backend("bad_device_index_is_a_clear_error") else { return };
    let err = WgpuBackend::new(&BackendOptions { device: Some(99), threads: None }).err().expect("device 99");
    let message = err.to_string();
    assert!(message.contains("--device 99 does not exist"), "{message}");
}
