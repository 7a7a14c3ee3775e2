//! BVH build (triangles/s) and single-threaded traversal (rays/s) on real glTF scenes
//! and on a synthetic field of a million triangles.
//!
//! `cargo bench --bench bvh` (add `-- --quick` for a short run). Coherent rays are
//! primary rays from the scene's camera; incoherent rays start at random points on
//! the surfaces and go in random directions; shadow rays are the incoherent rays as
//! occlusion queries over a tenth of the scene's diagonal.

use std::f32::consts::{PI, TAU};
use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glam::Vec3;
use tessera::accel::{build, intersect, occluded, Ray};
use tessera::sampling::rng::rand4;
use tessera::scene::flat::{Camera, Triangle, CAMERA_ORTHOGRAPHIC};
use tessera::scene::{prepare, PrepareOptions, Scene, SceneError};

const SCENES: [(&str, &str); 2] = [
    ("metal-rough-spheres", "MetalRoughSpheresNoTextures/glTF/MetalRoughSpheresNoTextures.gltf"),
    ("flight-helmet", "FlightHelmet/glTF/FlightHelmet.gltf"),
];
/// Image size for primary rays.
const WIDTH: u32 = 256;
const HEIGHT: u32 = 256;
/// Incoherent rays per iteration.
const RANDOM_RAYS: u32 = 1 << 16;

struct Mesh {
    name: String,
    triangles: Vec<[Vec3; 3]>,
    camera: Camera,
}

/// The glTF scenes that load (a note on stderr for those that do not), then the
/// synthetic field.
fn meshes() -> Vec<Mesh> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/scenes");
    let mut meshes: Vec<Mesh> = SCENES
        .iter()
        .filter_map(|(name, file)| match load(&root.join(file)) {
            Ok((triangles, camera)) => Some(Mesh { name: name.to_string(), triangles, camera }),
            Err(e) => {
                eprintln!("bvh bench: skipping {name}: {e}");
                None
            }
        })
        .collect();
    meshes.push(sphere_field());
    meshes
}

/// The scene's triangles (rebuilt from the flat v0, e1, e2) and camera.
fn load(path: &Path) -> Result<(Vec<[Vec3; 3]>, Camera), SceneError> {
    let scene = Scene::load(path)?;
    let opts = PrepareOptions {
        width: WIDTH,
        height: HEIGHT,
        camera: None,
        time: 0.0,
        animation: Default::default(),
        shutter: None,
    };
    let flat = prepare(&scene, None, &opts)?;
    let triangles = flat
        .triangles
        .iter()
        .map(|t| {
            let v0 = Vec3::from(t.v0);
            [v0, v0 + Vec3::from(t.e1), v0 + Vec3::from(t.e2)]
        })
        .collect();
    Ok((triangles, flat.header.camera))
}

/// 10 × 10 × 10 UV spheres of 1000 triangles each, seen from above one corner.
fn sphere_field() -> Mesh {
    const STACKS: u32 = 21;
    const SLICES: u32 = 25;
    let mut triangles = Vec::with_capacity(1_000_000);
    for cell in 0..1000 {
        let center = Vec3::new((cell % 10) as f32, (cell / 10 % 10) as f32, (cell / 100) as f32);
        let point = |i: u32, j: u32| {
            let (theta, phi) = (PI * i as f32 / STACKS as f32, TAU * j as f32 / SLICES as f32);
            center + 0.4 * Vec3::new(theta.sin() * phi.cos(), theta.cos(), theta.sin() * phi.sin())
        };
        for i in 0..STACKS {
            for j in 0..SLICES {
                let (a, b, c, d) = (point(i, j), point(i + 1, j), point(i + 1, j + 1), point(i, j + 1));
                if i > 0 {
                    triangles.push([a, b, d]);
                }
                if i + 1 < STACKS {
                    triangles.push([b, c, d]);
                }
            }
        }
    }
    let camera = look_at(Vec3::new(-6.0, 14.0, -8.0), Vec3::splat(4.5), 45f32.to_radians());
    Mesh { name: "sphere-field-1m".into(), triangles, camera }
}

fn look_at(origin: Vec3, target: Vec3, fov_y: f32) -> Camera {
    let forward = (target - origin).normalize();
    let half = (0.5 * fov_y).tan();
    let right = forward.cross(Vec3::Y).normalize() * half * WIDTH as f32 / HEIGHT as f32;
    let up = right.cross(forward).normalize() * half;
    Camera {
        origin: origin.to_array(),
        right: right.to_array(),
        up: up.to_array(),
        forward: forward.to_array(),
        width: WIDTH,
        height: HEIGHT,
        ..Camera::default()
    }
}

/// One ray through the centre of every pixel, as `flat::Camera` documents.
fn primary_rays(camera: &Camera) -> Vec<Ray> {
    let (origin, right, up, forward) =
        (Vec3::from(camera.origin), Vec3::from(camera.right), Vec3::from(camera.up), Vec3::from(camera.forward));
    let (w, h) = (camera.width.max(1), camera.height.max(1));
    (0..w * h)
        .map(|i| {
            let x = 2.0 * ((i % w) as f32 + 0.5) / w as f32 - 1.0;
            let y = 1.0 - 2.0 * ((i / w) as f32 + 0.5) / h as f32;
            if camera.kind == CAMERA_ORTHOGRAPHIC {
                Ray { origin: origin + x * right + y * up, dir: forward }
            } else {
                Ray { origin, dir: forward + x * right + y * up }
            }
        })
        .collect()
}

/// Rays from random points on random triangles in uniformly random directions,
/// nudged off the surface by a millionth of the scene's diagonal.
fn random_rays(triangles: &[[Vec3; 3]], diagonal: f32) -> Vec<Ray> {
    (0..RANDOM_RAYS)
        .map(|i| {
            let [pick, s, t, _] = rand4(7, i, 0, 0, 0);
            let [a, b, _, _] = rand4(7, i, 0, 0, 1);
            let [v0, v1, v2] = triangles[((pick * triangles.len() as f32) as usize).min(triangles.len() - 1)];
            let (s, t) = if s + t > 1.0 { (1.0 - s, 1.0 - t) } else { (s, t) };
            let z = 1.0 - 2.0 * a;
            let r = (1.0 - z * z).max(0.0).sqrt();
            let dir = Vec3::new(r * (TAU * b).cos(), r * (TAU * b).sin(), z);
            Ray { origin: v0 + s * (v1 - v0) + t * (v2 - v0) + dir * (diagonal * 1e-6), dir }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    for mesh in meshes() {
        let n = mesh.triangles.len();
        let mut group = c.benchmark_group(format!("bvh/{}", mesh.name));
        group.sample_size(10);

        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("build {n} triangles"), |b| b.iter(|| build(black_box(&mesh.triangles))));

        let bvh = build(&mesh.triangles);
        let tris: Vec<Triangle> = bvh
            .reorder(&mesh.triangles)
            .into_iter()
            .map(|[a, b, c]| Triangle {
                v0: a.to_array(),
                e1: (b - a).to_array(),
                e2: (c - a).to_array(),
                ..Triangle::default()
            })
            .collect();
        let root = &bvh.nodes[0];
        let diagonal = (Vec3::from(root.bmax) - Vec3::from(root.bmin)).length();
        eprintln!("bvh bench: {}: {n} triangles, {}", mesh.name, tessera::accel::stats(&bvh.nodes));

        let opaque = |_: u32, _: f32, _: f32| true;
        let closest_hits = |rays: &[Ray]| {
            rays.iter().filter(|r| intersect(&bvh.nodes, &tris, r, f32::INFINITY, opaque).is_some()).count()
        };
        let coherent = primary_rays(&mesh.camera);
        let incoherent = random_rays(&mesh.triangles, diagonal);
        for (kind, rays) in [("coherent", &coherent), ("incoherent", &incoherent)] {
            eprintln!("bvh bench: {}: {} of {} {kind} rays hit", mesh.name, closest_hits(rays), rays.len());
            group.throughput(Throughput::Elements(rays.len() as u64));
            group.bench_function(format!("intersect {kind}"), |b| b.iter(|| closest_hits(black_box(rays))));
        }
        let shadow_length = 0.1 * diagonal;
        group.throughput(Throughput::Elements(incoherent.len() as u64));
        group.bench_function("occluded incoherent", |b| {
            b.iter(|| {
                black_box(&incoherent).iter().filter(|r| occluded(&bvh.nodes, &tris, r, shadow_length, opaque)).count()
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
