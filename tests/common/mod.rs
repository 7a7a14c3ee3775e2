//! Test support: small glTF scenes written on the fly, and rendering helpers.
#![allow(dead_code)]

pub mod agreement;

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::json;

use tessera::backend::{self, BackendKind, BackendOptions};
use tessera::render::film::FrameImage;
use tessera::render::frame::render_frame;
use tessera::render::settings::{prepare_frame, RenderSettings};
use tessera::scene::{Environment, Scene};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The folder of third-party scenes beside the repository.
pub fn shared_scenes_dir() -> PathBuf {
    repo().join("../shared/scenes")
}

/// Names of the shared scene folders, sorted.
pub fn shared_scene_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(shared_scenes_dir())
        .expect("../shared/scenes beside the repository")
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The glTF file of a shared scene folder (`glTF/*.gltf`, or a top-level `.gltf`/`.glb`).
pub fn shared_scene(name: &str) -> PathBuf {
    let dir = shared_scenes_dir().join(name);
    let is_scene = |p: &PathBuf| p.extension().is_some_and(|e| e == "gltf" || e == "glb");
    for folder in [dir.join("glTF"), dir.clone()] {
        if let Ok(entries) = std::fs::read_dir(&folder) {
            let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(is_scene).collect();
            files.sort();
            if let Some(file) = files.into_iter().next() {
                return file;
            }
        }
    }
    panic!("no glTF file in {}", dir.display());
}

pub fn cornell_box() -> PathBuf {
    repo().join("scenes/cornell-box.gltf")
}

/// A glTF material for [`sphere_gltf`].
pub struct TestMaterial {
    pub base_color: [f32; 3],
    pub metallic: f32,
    pub roughness: f32,
    pub ior: f32,
}

/// Writes a UV sphere of radius 1 at the origin with `material`, seen by a
/// perspective camera at z = 4, into `dir/sphere.gltf`.
pub fn sphere_gltf(dir: &Path, material: &TestMaterial) -> PathBuf {
    let (rings, segments) = (64u32, 128u32);
    let mut positions = Vec::new();
    for r in 0..=rings {
        let theta = std::f32::consts::PI * r as f32 / rings as f32;
        for s in 0..=segments {
            let phi = 2.0 * std::f32::consts::PI * s as f32 / segments as f32;
            positions.push([theta.sin() * phi.cos(), theta.cos(), theta.sin() * phi.sin()]);
        }
    }
    let mut indices = Vec::new();
    for r in 0..rings {
        for s in 0..segments {
            let a = r * (segments + 1) + s;
            let b = a + segments + 1;
            indices.extend_from_slice(&[a, a + 1, b, a + 1, b + 1, b]);
        }
    }
    let mut bin: Vec<u8> = bytemuck::cast_slice(&positions).to_vec();
    let normals_offset = bin.len();
    bin.extend_from_slice(bytemuck::cast_slice(&positions)); // unit sphere: normal = position
    let indices_offset = bin.len();
    bin.extend_from_slice(bytemuck::cast_slice(&indices));
    let uri =
        format!("data:application/octet-stream;base64,{}", base64::engine::general_purpose::STANDARD.encode(&bin));
    let n = positions.len();
    let [r, g, b] = material.base_color;
    let doc = json!({
        "asset": {"version": "2.0"},
        "extensionsUsed": ["KHR_materials_ior"],
        "scene": 0,
        "scenes": [{"nodes": [0, 1]}],
        "nodes": [
            {"mesh": 0},
            {"camera": 0, "translation": [0.0, 0.0, 4.0]}
        ],
        "cameras": [{"type": "perspective", "perspective": {"yfov": 0.7, "znear": 0.01}}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "NORMAL": 1}, "indices": 2, "material": 0}]}],
        "materials": [{
            "pbrMetallicRoughness": {
                "baseColorFactor": [r, g, b, 1.0],
                "metallicFactor": material.metallic,
                "roughnessFactor": material.roughness
            },
            "extensions": {"KHR_materials_ior": {"ior": material.ior}}
        }],
        "buffers": [{"byteLength": bin.len(), "uri": uri}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": n * 12},
            {"buffer": 0, "byteOffset": normals_offset, "byteLength": n * 12},
            {"buffer": 0, "byteOffset": indices_offset, "byteLength": indices.len() * 4}
        ],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": n, "type": "VEC3",
             "min": [-1.0, -1.0, -1.0], "max": [1.0, 1.0, 1.0]},
            {"bufferView": 1, "componentType": 5126, "count": n, "type": "VEC3"},
            {"bufferView": 2, "componentType": 5125, "count": indices.len(), "type": "SCALAR"}
        ]
    });
    let path = dir.join("sphere.gltf");
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    path
}

/// Renders frame 0 of `scene` on `kind` and returns the image.
pub fn render(
    path: &Path,
    settings: &RenderSettings,
    kind: BackendKind,
    tile: u32,
    threads: Option<usize>,
) -> FrameImage {
    let scene = Scene::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let env = settings.environment.as_ref().map(|s| Environment::load(s).unwrap());
    let flat = prepare_frame(&scene, env.as_ref(), settings, 0).unwrap();
    let (mut backend, _) = backend::create(kind, &BackendOptions { device: None, threads }).unwrap();
    backend.upload(&flat).unwrap();
    let (film, _) = render_frame(backend.as_mut(), settings, 0, tile, &|_| true).unwrap();
    film.image()
}
