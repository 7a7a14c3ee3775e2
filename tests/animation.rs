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
        "MAT4" => 16,
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

/// The u16 values of accessor `index` (tightly packed UNSIGNED_SHORT data in buffer 0).
fn shorts(doc: &Value, bin: &[u8], index: usize) -> Vec<u16> {
    let acc = &doc["accessors"][index];
    assert_eq!(acc["componentType"], 5123, "accessor {index} is not UNSIGNED_SHORT");
    let view = &doc["bufferViews"][acc["bufferView"].as_u64().unwrap() as usize];
    let start = (view["byteOffset"].as_u64().unwrap_or(0) + acc["byteOffset"].as_u64().unwrap_or(0)) as usize;
    let n = acc["count"].as_u64().unwrap() as usize * 4;
    bin[start..start + 2 * n].chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect()
}

/// The Fox's skinned vertex bounds at key `k` of animation `anim`, computed here from
/// the file: node transforms with the key's values, joint matrices, weighted vertices.
fn fox_bounds_at_key(doc: &Value, bin: &[u8], anim: usize, k: usize) -> (Vec3, Vec3) {
    use glam::{Mat4, Quat};
    let nodes = doc["nodes"].as_array().unwrap();
    let vec = |v: &Value, d: &[f32]| -> Vec<f32> { serde_json::from_value(v.clone()).unwrap_or(d.to_vec()) };
    let mut trs: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> = nodes
        .iter()
        .map(|n| {
            (vec(&n["translation"], &[0.0; 3]), vec(&n["rotation"], &[0.0, 0.0, 0.0, 1.0]), vec(&n["scale"], &[1.0; 3]))
        })
        .collect();
    let a = &doc["animations"][anim];
    for channel in a["channels"].as_array().unwrap() {
        let sampler = &a["samplers"][channel["sampler"].as_u64().unwrap() as usize];
        let values = floats(doc, bin, sampler["output"].as_u64().unwrap() as usize);
        let node = channel["target"]["node"].as_u64().unwrap() as usize;
        match channel["target"]["path"].as_str().unwrap() {
            "translation" => trs[node].0 = values[3 * k..3 * k + 3].to_vec(),
            "rotation" => trs[node].1 = values[4 * k..4 * k + 4].to_vec(),
            "scale" => trs[node].2 = values[3 * k..3 * k + 3].to_vec(),
            other => panic!("channel path {other}"),
        }
    }
    let mut world = vec![Mat4::IDENTITY; nodes.len()];
    let mut stack: Vec<(usize, Mat4)> = doc["scenes"][0]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n.as_u64().unwrap() as usize, Mat4::IDENTITY))
        .collect();
    while let Some((n, parent)) = stack.pop() {
        let (t, r, s) = &trs[n];
        world[n] = parent
            * Mat4::from_scale_rotation_translation(
                Vec3::from_slice(s),
                Quat::from_slice(r).normalize(),
                Vec3::from_slice(t),
            );
        for c in nodes[n]["children"].as_array().into_iter().flatten() {
            stack.push((c.as_u64().unwrap() as usize, world[n]));
        }
    }
    let skin = &doc["skins"][0];
    let ibm = floats(doc, bin, skin["inverseBindMatrices"].as_u64().unwrap() as usize);
    let joints: Vec<Mat4> = skin["joints"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, j)| world[j.as_u64().unwrap() as usize] * Mat4::from_cols_slice(&ibm[16 * i..16 * i + 16]))
        .collect();
    let attributes = &doc["meshes"][0]["primitives"][0]["attributes"];
    let accessor = |name: &str| attributes[name].as_u64().unwrap() as usize;
    let positions = floats(doc, bin, accessor("POSITION"));
    let (vertex_joints, weights) = (shorts(doc, bin, accessor("JOINTS_0")), floats(doc, bin, accessor("WEIGHTS_0")));
    let mut bounds = (Vec3::INFINITY, Vec3::NEG_INFINITY);
    for v in 0..positions.len() / 3 {
        let m: Mat4 =
            (0..4).fold(Mat4::ZERO, |m, i| m + joints[vertex_joints[4 * v + i] as usize] * weights[4 * v + i]);
        let p = m.transform_point3(Vec3::from_slice(&positions[3 * v..]));
        bounds = (bounds.0.min(p), bounds.1.max(p));
    }
    bounds
}

#[test]
fn the_fox_is_skinned_as_its_joints_say() {
    use tessera::scene::{prepare, AnimationSelect, PrepareOptions};
    let path = shared_scene("Fox");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let bin = std::fs::read(path.with_file_name(doc["buffers"][0]["uri"].as_str().unwrap())).unwrap();
    let scene = Scene::load(&path).unwrap();
    let walk = doc["animations"].as_array().unwrap().iter().position(|a| a["name"] == "Walk").unwrap();
    let samplers = doc["animations"][walk]["samplers"].as_array().unwrap();
    let input = samplers[0]["input"].as_u64().unwrap();
    assert!(samplers.iter().all(|s| s["input"].as_u64() == Some(input)), "Walk's channels share their key times");
    let times = floats(&doc, &bin, input as usize);
    let mut seen = Vec::new();
    for k in [0, 5, 11] {
        let opts = PrepareOptions {
            width: 32,
            height: 32,
            camera: None,
            time: times[k],
            animation: AnimationSelect::Name("Walk".into()),
            shutter: None,
        };
        let header = prepare(&scene, None, &opts).unwrap().header;
        let (lo, hi) = fox_bounds_at_key(&doc, &bin, walk, k);
        let tolerance = 1e-4 * (hi - lo).length();
        let (got_lo, got_hi) = (Vec3::from(header.bounds_min), Vec3::from(header.bounds_max));
        assert!(
            (got_lo - lo).abs().max_element() < tolerance && (got_hi - hi).abs().max_element() < tolerance,
            "key {k} (t = {}): bounds {got_lo}..{got_hi}, computed from the joints {lo}..{hi}",
            times[k]
        );
        seen.push((lo, hi));
    }
    assert!(seen[0] != seen[1] && seen[1] != seen[2], "the Fox holds still: {seen:?}");
}

#[test]
fn channels_tessera_cannot_play_are_one_warning_each_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut doc) = copy_scene("BoxAnimated", dir.path());
    // A path glTF does not define, and a KHR_animation_pointer channel (no target node).
    doc["animations"][0]["channels"][0]["target"]["path"] = json!("rotatiof");
    doc["animations"][0]["channels"].as_array_mut().unwrap().push(json!({
        "sampler": 0,
        "target": {"path": "pointer", "extensions": {"KHR_animation_pointer": {"pointer": "/nodes/2/rotation"}}}
    }));
    doc["extensionsUsed"] = json!(["KHR_animation_pointer"]);
    std::fs::write(&path, doc.to_string()).unwrap();
    let scene = Scene::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let about = |what: &str| scene.warnings.iter().filter(|w| w.contains(what)).count();
    assert_eq!(about("animations[0].channels[0]"), 1, "{:?}", scene.warnings);
    assert_eq!(about("KHR_animation_pointer"), 1, "{:?}", scene.warnings);
    assert_eq!(scene.animations[0].channels.len(), 1, "the translation channel still plays");
}
