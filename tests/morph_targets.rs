//! Morph targets: a quad with one target, posed by mesh weights, node weights and
//! an animated weight channel, against the same shapes authored without targets.

#[path = "data/gltf_builder.rs"]
mod gltf_builder;

use std::path::{Path, PathBuf};

use gltf_builder::{Doc, QUAD, QUAD_INDICES};
use serde_json::json;
use tessera::backend::{self, BackendKind, BackendOptions};
use tessera::render::film::FrameImage;
use tessera::render::frame::render_frame;
use tessera::render::settings::{prepare_frame, RenderSettings};
use tessera::scene::flat::FlatScene;
use tessera::scene::Scene;

const NORMALS: [[f32; 3]; 4] = [[0.0, 0.0, 1.0]; 4];
/// The target lifts one corner out of the plane, pulls another up, and tilts a
/// normal; every value is exact in f32 at weights 0, ½ and 1.
const DELTA_POSITIONS: [[f32; 3]; 4] = [[0.0; 3], [0.0; 3], [0.0, 0.0, 0.5], [0.0, 0.5, 0.0]];
const DELTA_NORMALS: [[f32; 3]; 4] = [[0.0; 3], [0.0; 3], [0.5, 0.0, 0.0], [0.0; 3]];

fn flat3(values: &[[f32; 3]]) -> Vec<f32> {
    values.iter().flatten().copied().collect()
}

/// `base + w · delta`, per vertex.
fn displaced(base: &[[f32; 3]; 4], delta: &[[f32; 3]; 4], w: f32) -> [[f32; 3]; 4] {
    std::array::from_fn(|v| std::array::from_fn(|a| base[v][a] + w * delta[v][a]))
}

/// A camera looking at the quad from +Z, so that every variant shares its view.
fn add_camera(doc: &mut Doc) {
    doc.json["cameras"] = json!([{"type": "perspective", "perspective": {"yfov": 0.9, "znear": 0.05}}]);
    let nodes = doc.json["nodes"].as_array_mut().unwrap();
    nodes.push(json!({"camera": 0, "translation": [0.5, 0.5, 2.5]}));
    let camera = nodes.len() - 1;
    doc.json["scenes"][0]["nodes"].as_array_mut().unwrap().push(json!(camera));
}

/// The quad with one morph target; `mesh.weights` is `weights` when given.
fn morphing_quad(weights: Option<f32>) -> Doc {
    let mut doc = Doc::new();
    let pos = doc.floats(&flat3(&QUAD), "VEC3");
    let normal = doc.floats(&flat3(&NORMALS), "VEC3");
    let dpos = doc.floats(&flat3(&DELTA_POSITIONS), "VEC3");
    let dnormal = doc.floats(&flat3(&DELTA_NORMALS), "VEC3");
    let idx = doc.indices(&QUAD_INDICES);
    let mesh = doc.mesh(json!({
        "attributes": { "POSITION": pos, "NORMAL": normal },
        "targets": [{ "POSITION": dpos, "NORMAL": dnormal }],
        "indices": idx,
    }));
    if let Some(w) = weights {
        doc.json["meshes"][mesh]["weights"] = json!([w]);
    }
    add_camera(&mut doc);
    doc
}

/// The quad authored in the shape the target gives at weight `w`, without targets.
fn authored_quad(w: f32) -> Doc {
    let mut doc = Doc::new();
    let pos = doc.floats(&flat3(&displaced(&QUAD, &DELTA_POSITIONS, w)), "VEC3");
    let normal = doc.floats(&flat3(&displaced(&NORMALS, &DELTA_NORMALS, w)), "VEC3");
    let idx = doc.indices(&QUAD_INDICES);
    doc.mesh(json!({ "attributes": { "POSITION": pos, "NORMAL": normal }, "indices": idx }));
    add_camera(&mut doc);
    doc
}

fn settings() -> RenderSettings {
    RenderSettings { width: 24, height: 24, spp: 4, max_depth: 3, ..Default::default() }
}

fn flat(path: &Path, frame: u32) -> FlatScene {
    let scene = Scene::load(path).unwrap_or_else(|e| panic!("{e}"));
    prepare_frame(&scene, None, &settings(), frame).unwrap_or_else(|e| panic!("{e}"))
}

fn render(path: &Path, frame: u32) -> FrameImage {
    let flat = flat(path, frame);
    let (mut backend, _) = backend::create(BackendKind::Cpu, &BackendOptions { device: None, threads: None }).unwrap();
    backend.upload(&flat).unwrap();
    render_frame(backend.as_mut(), &settings(), frame, 64, &|_| true).unwrap().0.image()
}

/// Asserts that two prepared frames hold the same geometry and render the same image.
fn assert_same(morphed: &Path, authored: &Path, frame: u32, what: &str) {
    let (a, b) = (flat(morphed, frame), flat(authored, frame));
    assert_eq!(a.triangles, b.triangles, "{what}: triangles differ from the authored shape");
    assert_eq!(a.vertices, b.vertices, "{what}: normals or tangents differ from the authored shape");
    assert!(render(morphed, frame).color == render(authored, frame).color, "{what}: the images differ");
}

fn write(doc: &Doc, dir: &Path, name: &str) -> PathBuf {
    doc.write_embedded(dir, name)
}

#[test]
fn weight_zero_is_the_base_mesh_and_weight_one_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let base = write(&authored_quad(0.0), dir.path(), "base.gltf");
    let target = write(&authored_quad(1.0), dir.path(), "target.gltf");
    assert_same(&write(&morphing_quad(None), dir.path(), "none.gltf"), &base, 1, "no weights (glTF: zero)");
    assert_same(&write(&morphing_quad(Some(0.0)), dir.path(), "w0.gltf"), &base, 1, "weight 0");
    assert_same(&write(&morphing_quad(Some(1.0)), dir.path(), "w1.gltf"), &target, 1, "weight 1");
    // The two shapes differ, so the comparisons above could fail.
    assert_ne!(flat(&base, 1).triangles, flat(&target, 1).triangles);

    // A node's weights override its mesh's.
    let mut node = morphing_quad(Some(0.0));
    node.json["nodes"][0]["weights"] = json!([1.0]);
    assert_same(&write(&node, dir.path(), "node.gltf"), &target, 1, "node weight 1 over mesh weight 0");
}

#[test]
fn animated_weights_pose_each_frame() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = morphing_quad(None);
    // Weight 0 at 0 s, 1 at 1 s (LINEAR): frame 13 at 24 fps is ½ s, frame 25 is 1 s.
    let times = doc.floats(&[0.0, 1.0], "SCALAR");
    let values = doc.floats(&[0.0, 1.0], "SCALAR");
    doc.json["animations"] = json!([{
        "name": "Lift",
        "samplers": [{ "input": times, "output": values, "interpolation": "LINEAR" }],
        "channels": [{ "sampler": 0, "target": { "node": 0, "path": "weights" } }],
    }]);
    let animated = write(&doc, dir.path(), "animated.gltf");
    let scene = Scene::load(&animated).unwrap();
    assert!(scene.warnings.is_empty(), "the weight channel plays: {:?}", scene.warnings);
    for (frame, w) in [(1, 0.0), (13, 0.5), (25, 1.0), (40, 1.0)] {
        let authored = write(&authored_quad(w), dir.path(), &format!("w{frame}.gltf"));
        assert_same(&animated, &authored, frame, &format!("frame {frame} (weight {w})"));
    }
}

#[test]
fn weights_that_do_not_match_the_targets_are_refused_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = morphing_quad(None);
    doc.json["meshes"][0]["weights"] = json!([0.5, 0.5]);
    let message = Scene::load(&write(&doc, dir.path(), "mesh.gltf")).unwrap_err().to_string();
    assert!(message.contains("meshes[0].weights") && message.contains("2 weights for 1 morph targets"), "{message}");

    let mut doc = morphing_quad(None);
    doc.json["nodes"][0]["weights"] = json!([]);
    let message = Scene::load(&write(&doc, dir.path(), "node.gltf")).unwrap_err().to_string();
    assert!(message.contains("nodes[0].weights"), "{message}");
}

#[test]
fn a_target_with_the_wrong_vertex_count_is_refused_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = morphing_quad(None);
    let short = doc.floats(&flat3(&DELTA_POSITIONS[..3]), "VEC3");
    doc.json["meshes"][0]["primitives"][0]["targets"][0]["POSITION"] = json!(short);
    let message = Scene::load(&write(&doc, dir.path(), "short.gltf")).unwrap_err().to_string();
    assert!(message.contains("meshes[0].primitives[0].targets[0].POSITION"), "{message}");
}
