//! Node animation: frames posed by glTF animations, checked against keyframes read
//! here from the files' own buffers and against the same pose authored as a rest pose.

mod common;

use std::path::{Path, PathBuf};

use glam::Vec3;
use serde_json::{json, Value};

use common::shared_scene;
use tessera::backend::{self, BackendKind, BackendOptions};
use tessera::render::film::FrameImage;
use tessera::render::frame::render_frame;
use tessera::render::settings::{prepare_frame, RenderSettings};
use tessera::scene::flat::FlatScene;
use tessera::scene::Scene;

/// Copies the folder of a shared scene into `dir` and returns the glTF JSON.
fn copy_scene(name: &str, dir: &Path) -> (PathBuf, Value) {
    let path = shared_scene(name);
    for entry in std::fs::read_dir(path.parent().unwrap()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let doc = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    (dir.join(path.file_name().unwrap()), doc)
}

/// The float values of accessor `index` (tightly packed FLOAT data in buffer 0).
fn floats(doc: &Value, bin: &[u8], index: usize) -> Vec<f32> {
    let acc = &doc["accessors"][index];
    assert_eq!(acc["componentType"], 5126, "accessor {index} is not FLOAT");
    let view = &doc["bufferViews"][acc["bufferView"].as_u64().unwrap() as usize];
    let start = (view["byteOffset"].as_u64().unwrap_or(0) + acc["byteOffset"].as_u64().unwrap_or(0)) as usize;
    let width = match acc["type"].as_str().unwrap() {
        "SCALAR" => 1,
        "VEC3" => 3,
        "VEC4" => 4,
        other => panic!("type {other}"),
    };
    let n = acc["count"].as_u64().unwrap() as usize * width;
    bin[start..start + 4 * n].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
}

/// The (times, values) of the sampler behind `channel` of animation 0.
fn keys(doc: &Value, bin: &[u8], channel: usize) -> (Vec<f32>, Vec<f32>) {
    let anim = &doc["animations"][0];
    let sampler = &anim["samplers"][anim["channels"][channel]["sampler"].as_u64().unwrap() as usize];
    assert_eq!(sampler["interpolation"], "LINEAR");
    let input = sampler["input"].as_u64().unwrap() as usize;
    let output = sampler["output"].as_u64().unwrap() as usize;
    (floats(doc, bin, input), floats(doc, bin, output))
}

fn settings(width: u32, height: u32) -> RenderSettings {
    RenderSettings { width, height, spp: 4, max_depth: 4, ..Default::default() }
}

fn flat(path: &Path, settings: &RenderSettings, frame: u32) -> FlatScene {
    let scene = Scene::load(path).unwrap();
    prepare_frame(&scene, None, settings, frame).unwrap()
}

fn render(path: &Path, settings: &RenderSettings, frame: u32) -> FrameImage {
    let flat = flat(path, settings, frame);
    let (mut backend, _) = backend::create(BackendKind::Cpu, &BackendOptions { device: None, threads: None }).unwrap();
    backend.upload(&flat).unwrap();
    render_frame(backend.as_mut(), settings, frame, 64, &|_| true).unwrap().0.image()
}

/// Adds a camera on a node at `position`, looking down -Z, to the default scene.
fn add_camera(doc: &mut Value, position: [f32; 3]) {
    doc["cameras"] = json!([{"type": "perspective", "perspective": {"yfov": 0.9, "znear": 0.05}}]);
    let nodes = doc["nodes"].as_array_mut().unwrap();
    nodes.push(json!({"camera": 0, "translation": position}));
    let camera = nodes.len() - 1;
    doc["scenes"][0]["nodes"].as_array_mut().unwrap().push(json!(camera));
}

#[test]
fn a_key_frame_renders_like_its_pose_written_as_the_rest_pose() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut doc) = copy_scene("AnimatedCube", dir.path());
    let bin = std::fs::read(dir.path().join(doc["buffers"][0]["uri"].as_str().unwrap())).unwrap();
    let channel = &doc["animations"][0]["channels"][0];
    assert_eq!(channel["target"]["path"], "rotation");
    let node = channel["target"]["node"].as_u64().unwrap() as usize;
    let (times, rotations) = keys(&doc, &bin, 0);
    // Key 1 at 1 s is frame 25 at 24 frames per second (frame 1 is time 0).
    assert_eq!(times[1], 1.0);
    add_camera(&mut doc, [0.0, 0.0, 4.0]);
    std::fs::write(&path, doc.to_string()).unwrap();

    let mut rest = doc.clone();
    rest["nodes"][node]["rotation"] = json!(rotations[4..8]);
    rest.as_object_mut().unwrap().remove("animations");
    let rest_path = dir.path().join("rest.gltf");
    std::fs::write(&rest_path, rest.to_string()).unwrap();

    let settings = settings(40, 40);
    let animated = render(&path, &settings, 25);
    let authored = render(&rest_path, &settings, 25);
    assert!(animated.color == authored.color, "frame 25 differs from its key pose authored as the rest pose");
    let first = render(&path, &settings, 1);
    assert!(first.color != animated.color, "frames 1 and 25 are the same image: the cube did not turn");
}

/// Mean of the triangle centroids with material `material`.
fn centroid(flat: &FlatScene, material: u32) -> Vec3 {
    let tris: Vec<_> = flat.triangles.iter().filter(|t| t.material == material).collect();
    assert!(!tris.is_empty(), "no triangles with material {material}");
    let sum: Vec3 = tris.iter().map(|t| Vec3::from(t.v0) + (Vec3::from(t.e1) + Vec3::from(t.e2)) / 3.0).sum();
    sum / tris.len() as f32
}

/// Linear interpolation of VEC3 keys at `t`, holding the ends.
fn lerp_keys(times: &[f32], values: &[f32], t: f32) -> Vec3 {
    let at = |k: usize| Vec3::from_slice(&values[3 * k..]);
    let next = times.iter().position(|&k| k > t).unwrap_or(times.len());
    match next {
        0 => at(0),
        n if n == times.len() => at(n - 1),
        n => at(n - 1).lerp(at(n), (t - times[n - 1]) / (times[n] - times[n - 1])),
    }
}

#[test]
fn the_boxes_move_as_their_animation_says() {
    let dir = tempfile::tempdir().unwrap();
    let (path, doc) = copy_scene("BoxAnimated", dir.path());
    let bin = std::fs::read(dir.path().join(doc["buffers"][0]["uri"].as_str().unwrap())).unwrap();
    // Channel 1 moves node 0 (the inner box's ancestor); the inner box turns only from 1.25 s.
    assert_eq!(doc["animations"][0]["channels"][1]["target"], json!({"node": 0, "path": "translation"}));
    let (times, translations) = keys(&doc, &bin, 1);
    let (inner, outer) = (0, 1);
    let settings = settings(64, 48);
    let start = flat(&path, &settings, 1);
    for frame in [7, 13, 25] {
        let t = (frame - 1) as f32 / 24.0;
        let moved = flat(&path, &settings, frame);
        let want = lerp_keys(&times, &translations, t) - lerp_keys(&times, &translations, 0.0);
        let got = centroid(&moved, inner) - centroid(&start, inner);
        assert!((got - want).length() < 1e-4, "frame {frame}: the inner box moved {got}, its animation says {want}");
        assert_eq!(centroid(&moved, outer), centroid(&start, outer), "frame {frame}: the outer box moved");
    }

    // In the image: the inner box's pixels (told by their albedo) rise as it moves up.
    let base = |m: usize| {
        Vec3::from_slice(
            &serde_json::from_value::<Vec<f32>>(doc["materials"][m]["pbrMetallicRoughness"]["baseColorFactor"].clone())
                .unwrap(),
        )
    };
    let (inner_colour, outer_colour) = (base(0), base(1));
    let row = |image: &FrameImage| {
        let rows: Vec<f32> = (0..image.height * image.width)
            .filter(|&i| {
                let a = Vec3::from(image.albedo[i as usize]);
                image.color[i as usize][3] == 1.0 && a.distance(inner_colour) < a.distance(outer_colour)
            })
            .map(|i| (i / image.width) as f32)
            .collect();
        assert!(rows.len() > 10, "inner box hardly visible ({} pixels)", rows.len());
        rows.iter().sum::<f32>() / rows.len() as f32
    };
    let (before, after) = (row(&render(&path, &settings, 1)), row(&render(&path, &settings, 25)));
    assert!(
        after < before - 2.0,
        "the inner box's pixels did not rise: mean row {before} at frame 1, {after} at frame 25"
    );
}
