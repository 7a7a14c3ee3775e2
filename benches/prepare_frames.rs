//! `prepare` per animation frame: what re-posing costs once the static part of a
//! scene is built. `cargo bench --bench prepare_frames` (add `-- --quick`).
//!
//! - `fox/walk-frame`: the Fox, skinned, every frame (nothing is static).
//! - `spheres/still`: MetalRoughSpheresNoTextures (1.04 M triangles) as a still, the
//!   whole BVH built: what the first frame of an animation costs too.
//! - `spheres/one-moving-node-frame`: the same scene with one sphere animated, a later
//!   frame: only that sphere is gathered and built, then joined to the kept BVH.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};
use tessera::scene::{prepare, AnimationSelect, PrepareOptions, Scene};

fn shared(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/scenes").join(file)
}

fn options(time: f32, animation: AnimationSelect) -> PrepareOptions {
    PrepareOptions { width: 256, height: 256, camera: None, time, animation, shutter: None }
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
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
