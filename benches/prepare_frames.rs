//! `prepare` per animation frame: what re-posing costs once the static part of a
//! scene is built, and what motion keys add to it and to traversal.
//! `cargo bench --bench prepare_frames` (add `-- --quick`).
//!
//! - `fox/walk-frame`: the Fox, skinned, every frame (nothing is static).
//! - `spheres/still`: MetalRoughSpheresNoTextures (1.04 M triangles) as a still, the
//!   whole BVH built: what the first frame of an animation costs too.
//! - `spheres/one-moving-node-frame`: the same scene with one sphere animated, a later
//!   frame: only that sphere is gathered and built, then joined to the kept BVH.
//! - `… with K motion keys`: the same frames with the shutter open (half a frame):
//!   the moving part posed at K keys and its BVH refitted per segment.
//! - `trace/…`: closest hits of random rays through the scene, for a still frame
//!   and at random instants of a blurred one (the static BVH, then the segment's).

use std::hint::black_box;
use std::path::{Path, PathBuf};

use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glam::Vec3;
use serde_json::{json, Value};
use tessera::accel::Ray;
use tessera::render::motion;
use tessera::sampling::rng::rand4;
use tessera::scene::flat::FlatScene;
use tessera::scene::{prepare, AnimationSelect, PrepareOptions, Scene, Shutter};

fn shared(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/scenes").join(file)
}

fn options(time: f32, animation: AnimationSelect) -> PrepareOptions {
    PrepareOptions { width: 256, height: 256, camera: None, time, animation, shutter: None }
}

/// `options` with the shutter open for half a frame at 24 fps around `time`.
fn blurred(time: f32, animation: AnimationSelect, keys: u32) -> PrepareOptions {
    let half = 0.25 / 24.0;
    PrepareOptions {
        shutter: Some(Shutter { open: time - half, close: time + half, keys }),
        ..options(time, animation)
    }
}

/// Rays from random points in the scene's bounds in random directions.
const RAYS: u32 = 1 << 15;
fn random_rays(scene: &FlatScene) -> Vec<Ray> {
    let (lo, hi) = (Vec3::from(scene.header.bounds_min), Vec3::from(scene.header.bounds_max));
    (0..RAYS)
        .map(|i| {
            let [x, y, z, _] = rand4(3, i, 0, 0, 0);
            let [a, b, _, _] = rand4(3, i, 0, 0, 1);
            let c = 1.0 - 2.0 * a;
            let r = (1.0 - c * c).max(0.0).sqrt();
            let phi = std::f32::consts::TAU * b;
            Ray { origin: lo + (hi - lo) * Vec3::new(x, y, z), dir: Vec3::new(r * phi.cos(), r * phi.sin(), c) }
        })
        .collect()
}

/// Closest hits of `rays`, each at its own random instant when the frame moves.
fn hits(scene: &FlatScene, rays: &[Ray]) -> usize {
    let opaque = |_: u32, _: f32, _: f32| true;
    let at = |i: u32| scene.moves().then(|| motion::instant(scene.motion.keys, rand4(5, i, 0, 0, 0)[0]));
    (0..).zip(rays).filter(|(i, r)| motion::intersect(scene, r, f32::INFINITY, at(*i), opaque).is_some()).count()
}

/// The spheres scene with node 2 (one sphere) turning about Y over a second, written
/// beside the original so that its buffers resolve.
fn spheres_with_one_moving_node(dir: &Path) -> PathBuf {
    let source = shared("MetalRoughSpheresNoTextures/glTF/MetalRoughSpheresNoTextures.gltf");
    for entry in std::fs::read_dir(source.parent().unwrap()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&source).unwrap()).unwrap();
    let times = [0.0f32, 1.0];
    let half = std::f32::consts::FRAC_1_SQRT_2;
    let rotations = [0.0f32, 0.0, 0.0, 1.0, 0.0, half, 0.0, half];
    let bytes: Vec<u8> = times.iter().chain(&rotations).flat_map(|v| v.to_le_bytes()).collect();
    let uri =
        format!("data:application/octet-stream;base64,{}", base64::engine::general_purpose::STANDARD.encode(&bytes));
    let buffer = doc["buffers"].as_array().unwrap().len();
    doc["buffers"].as_array_mut().unwrap().push(json!({"byteLength": bytes.len(), "uri": uri}));
    let views = doc["bufferViews"].as_array().unwrap().len();
    doc["bufferViews"].as_array_mut().unwrap().extend([
        json!({"buffer": buffer, "byteOffset": 0, "byteLength": 8}),
        json!({"buffer": buffer, "byteOffset": 8, "byteLength": 32}),
    ]);
    let accessors = doc["accessors"].as_array().unwrap().len();
    doc["accessors"].as_array_mut().unwrap().extend([
        json!({"bufferView": views, "componentType": 5126, "count": 2, "type": "SCALAR", "min": [0.0], "max": [1.0]}),
        json!({"bufferView": views + 1, "componentType": 5126, "count": 2, "type": "VEC4"}),
    ]);
    doc["animations"] = json!([{
        "name": "turn",
        "samplers": [{"input": accessors, "output": accessors + 1, "interpolation": "LINEAR"}],
        "channels": [{"sampler": 0, "target": {"node": 2, "path": "rotation"}}]
    }]);
    let path = dir.join("one-moving.gltf");
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("prepare");
    group.sample_size(10);

    let fox = Scene::load(&shared("Fox/glTF/Fox.gltf")).unwrap();
    let walk = AnimationSelect::Name("Walk".into());
    let mut frame = 0u32;
    group.bench_function("fox/walk-frame", |b| {
        b.iter(|| {
            frame += 1;
            black_box(prepare(&fox, None, &options(frame as f32 / 24.0 % 0.7, walk.clone())).unwrap())
        })
    });

    let dir = tempfile::tempdir().unwrap();
    let spheres = Scene::load(&spheres_with_one_moving_node(dir.path())).unwrap();
    group.bench_function("spheres/still", |b| {
        // The original file, without the animation: every call builds the whole BVH.
        let still = Scene::load(&shared("MetalRoughSpheresNoTextures/glTF/MetalRoughSpheresNoTextures.gltf")).unwrap();
        b.iter(|| black_box(prepare(&still, None, &options(0.0, AnimationSelect::First)).unwrap()))
    });
    prepare(&spheres, None, &options(0.0, AnimationSelect::First)).unwrap(); // builds the static part
    group.bench_function("spheres/one-moving-node-frame", |b| {
        b.iter(|| {
            frame += 1;
            black_box(prepare(&spheres, None, &options(frame as f32 / 24.0 % 1.0, AnimationSelect::First)).unwrap())
        })
    });
    for keys in [3, 9] {
        group.bench_function(format!("spheres/one-moving-node-frame with {keys} motion keys"), |b| {
            b.iter(|| {
                frame += 1;
                black_box(
                    prepare(&spheres, None, &blurred(frame as f32 / 24.0 % 1.0, AnimationSelect::First, keys)).unwrap(),
                )
            })
        });
        group.bench_function(format!("fox/walk-frame with {keys} motion keys"), |b| {
            b.iter(|| {
                frame += 1;
                black_box(prepare(&fox, None, &blurred(frame as f32 / 24.0 % 0.7, walk.clone(), keys)).unwrap())
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("trace");
    group.sample_size(10);
    group.throughput(Throughput::Elements(RAYS as u64));
    let frames = [
        ("spheres", prepare(&spheres, None, &options(0.5, AnimationSelect::First)).unwrap()),
        ("spheres blurred", prepare(&spheres, None, &blurred(0.5, AnimationSelect::First, 3)).unwrap()),
        ("fox", prepare(&fox, None, &options(0.3, walk.clone())).unwrap()),
        ("fox blurred", prepare(&fox, None, &blurred(0.3, walk.clone(), 3)).unwrap()),
    ];
    for (name, scene) in &frames {
        let rays = random_rays(scene);
        eprintln!("trace bench: {name}: {} of {RAYS} rays hit", hits(scene, &rays));
        group.bench_function(*name, |b| b.iter(|| hits(black_box(scene), black_box(&rays))));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
