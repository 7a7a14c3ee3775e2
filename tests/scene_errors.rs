//! Broken scenes and options: each gives an error whose message names the file and
//! the glTF field at fault, and nothing panics.

#[path = "data/gltf_builder.rs"]
mod gltf_builder;

use std::path::{Path, PathBuf};

use gltf_builder::{Doc, QUAD, QUAD_INDICES};
use serde_json::json;
use tessera::scene::{
    prepare, CameraSelect, Confinement, Environment, EnvironmentSpec, LoadOptions, PrepareOptions, Scene, SceneError,
};

fn options() -> PrepareOptions {
    PrepareOptions { width: 32, height: 24, camera: None, time: 0.0, animation: Default::default(), shutter: None }
}

fn quad() -> Doc {
    let mut doc = Doc::new();
    doc.triangles(&QUAD, &QUAD_INDICES);
    doc
}

fn load_error(path: &Path) -> String {
    Scene::load(path).map(|_| ()).expect_err("the scene should not load").to_string()
}

/// Writes `doc` with an embedded buffer and returns the load error.
fn embedded_error(doc: &Doc) -> (PathBuf, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = doc.write_embedded(dir.path(), "broken.gltf");
    let message = load_error(&path);
    (path, message, dir)
}

#[test]
fn missing_scene_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nowhere.gltf");
    assert_eq!(load_error(&path), format!("cannot read {}: No such file or directory", path.display()));
}

#[test]
fn truncated_glb_and_corrupt_json() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = quad().glb();
    let path = dir.path().join("cut.glb");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    assert_eq!(
        load_error(&path),
        format!(
            "{}: not a valid glTF file: truncated GLB: the header declares {} bytes, the file has {}",
            path.display(),
            bytes.len(),
            bytes.len() / 2
        )
    );
    std::fs::write(&path, &bytes[..7]).unwrap();
    assert!(load_error(&path).ends_with("truncated GLB: 7 bytes, shorter than the 12-byte header"));

    let path = dir.path().join("corrupt.gltf");
    std::fs::write(&path, br#"{"asset": {"version": "2.0"}, "meshes": [ "#).unwrap();
    let message = load_error(&path);
    assert!(
        message.starts_with(&format!("{}: not a valid glTF file: invalid glTF JSON: ", path.display())),
        "{message}"
    );
}

#[test]
fn missing_bin_names_the_uri_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = quad().write_external(dir.path(), "scene.gltf", "unused.bin", "mesh%20data.bin");
    assert_eq!(
        load_error(&path),
        format!("{}: buffers[0].uri: \"mesh%20data.bin\": cannot read: No such file or directory", path.display())
    );
    // Found once percent-decoded.
    std::fs::rename(dir.path().join("unused.bin"), dir.path().join("mesh data.bin")).unwrap();
    assert!(Scene::load(&path).is_ok());
}

#[test]
fn buffer_shorter_than_byte_length() {
    let mut doc = quad();
    let declared = doc.bin.len() + 100;
    doc.json["buffers"][0]["byteLength"] = json!(declared);
    let (path, message, _dir) = embedded_error(&doc);
    assert_eq!(
        message,
        format!(
            "{}: buffers[0].uri: holds {} bytes, less than its byteLength {declared}",
            path.display(),
            doc.bin.len()
        )
    );
}

#[test]
fn accessor_out_of_range_of_its_view() {
    let mut doc = quad();
    doc.json["accessors"][0]["count"] = json!(5);
    let (path, message, _dir) = embedded_error(&doc);
    assert_eq!(
        message,
        format!(
            "{}: meshes[0].primitives[0].attributes.POSITION: accessors[0]: 5 elements of 12 bytes (stride 12) from byte 0 \
             run past the end of bufferViews[0] (48 bytes)",
            path.display()
        )
    );
}

#[test]
fn index_out_of_range_of_the_vertices() {
    let mut doc = Doc::new();
    doc.triangles(&QUAD, &[0, 1, 2, 0, 2, 9]);
    let (path, message, _dir) = embedded_error(&doc);
    assert_eq!(
        message,
        format!(
            "{}: meshes[0].primitives[0].indices: accessors[1] element 5 is out of range of the 4 vertices",
            path.display()
        )
    );
}

#[test]
fn animation_target_out_of_range_is_an_error() {
    let mut doc = quad();
    doc.json["animations"] = json!([{
        "samplers": [{ "input": 0, "output": 0 }],
        "channels": [{ "sampler": 0, "target": { "node": 9, "path": "translation" } }],
    }]);
    let (path, message, _dir) = embedded_error(&doc);
    assert_eq!(
        message,
        format!("{}: animations[0].channels[0].target.node: node index 9 is out of range (1 nodes)", path.display())
    );
}

#[test]
fn reference_out_of_range_is_a_validation_error() {
    let mut doc = quad();
    doc.json["meshes"][0]["primitives"][0]["material"] = json!(3);
    let (path, message, _dir) = embedded_error(&doc);
    assert_eq!(message, format!("{}: meshes[0].primitives[0].material: index out of bounds", path.display()));
    let mut doc = quad();
    doc.json["meshes"][0]["primitives"][0]["attributes"]["POSITION"] = json!(7);
    let (path, message, _dir) = embedded_error(&doc);
    assert_eq!(
        message,
        format!(
            "{}: meshes[0].primitives[0].attributes.POSITION: accessor index 7 is out of range (2 accessors)",
            path.display()
        )
    );
}

#[test]
fn non_finite_attributes_name_the_accessor() {
    for bad in [f32::NAN, f32::INFINITY] {
        let mut positions = QUAD;
        positions[2][1] = bad;
        let mut doc = Doc::new();
        doc.triangles(&positions, &QUAD_INDICES);
        let (path, message, _dir) = embedded_error(&doc);
        assert_eq!(
            message,
            format!(
                "{}: meshes[0].primitives[0].attributes.POSITION: accessors[0] element 2 has a non-finite value",
                path.display()
            )
        );
    }
    let mut doc = Doc::new();
    let pos = doc.floats(&QUAD.concat(), "VEC3");
    let uv = doc.floats(&[0.0, 0.0, 1.0, 0.0, f32::NAN, 1.0, 0.0, 1.0], "VEC2");
    doc.mesh(json!({ "attributes": { "POSITION": pos, "TEXCOORD_0": uv } }));
    let (path, message, _dir) = embedded_error(&doc);
    assert_eq!(
        message,
        format!(
            "{}: meshes[0].primitives[0].attributes.TEXCOORD_0: accessors[1] element 2 has a non-finite value",
            path.display()
        )
    );
}

#[test]
fn all_degenerate_triangles() {
    let mut doc = Doc::new();
    // Two triangles: one with a repeated vertex, one with collinear vertices.
    doc.triangles(&[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]], &[0, 1, 1, 0, 1, 2]);
    let (path, message, _dir) = embedded_error(&doc);
    assert_eq!(
        message,
        format!("{}: no triangles to render: all 2 triangles are degenerate (zero area)", path.display())
    );
}

#[test]
fn points_and_lines_are_skipped_or_rejected() {
    let mut doc = Doc::new();
    let pos = doc.floats(&QUAD.concat(), "VEC3");
    doc.mesh(json!({ "attributes": { "POSITION": pos }, "mode": 1 }));
    doc.mesh(json!({ "attributes": { "POSITION": pos }, "mode": 0 }));
    let (path, message, dir) = embedded_error(&doc);
    assert_eq!(
        message,
        format!(
            "{}: no triangles to render: meshes[0].primitives[0] (LINES), meshes[1].primitives[0] (POINTS) are not triangles",
            path.display()
        )
    );
    // Next to triangles they are skipped with one warning.
    doc.mesh(json!({ "attributes": { "POSITION": pos } }));
    let scene = Scene::load(&doc.write_embedded(dir.path(), "mixed.gltf")).unwrap();
    assert_eq!(scene.instanced_triangles(), 1);
    assert_eq!(
        scene.warnings,
        vec!["skipped 2 non-triangle primitive(s) (points and lines are not rendered): meshes[0].primitives[0] (LINES), \
              meshes[1].primitives[0] (POINTS)"]
    );
}

#[test]
fn missing_and_undecodable_textures() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = Doc::new();
    let pos = doc.floats(&QUAD.concat(), "VEC3");
    doc.mesh(json!({ "attributes": { "POSITION": pos }, "material": 0 }));
    doc.json["textures"] = json!([{ "source": 0 }]);
    doc.json["materials"] = json!([{ "pbrMetallicRoughness": { "baseColorTexture": { "index": 0 } } }]);
    doc.json["images"] = json!([{ "uri": "textures/missing%20one.png" }]);
    let path = doc.write_embedded(dir.path(), "textured.gltf");
    assert_eq!(
        load_error(&path),
        format!(
            "{}: images[0].uri: \"textures/missing%20one.png\": cannot read: No such file or directory",
            path.display()
        )
    );
    std::fs::write(dir.path().join("bad.png"), b"not a png at all").unwrap();
    doc.json["images"] = json!([{ "uri": "bad.png" }]);
    let path = doc.write_embedded(dir.path(), "textured.gltf");
    let message = load_error(&path);
    assert!(
        message.starts_with(&format!("{}: images[0].uri: \"bad.png\": cannot decode image: ", path.display())),
        "{message}"
    );
}

#[test]
fn cameras_and_images_without_their_data() {
    let mut doc = quad();
    doc.json["cameras"] =
        json!([{ "type": "perspective", "orthographic": { "xmag": 1.0, "ymag": 1.0, "znear": 0.1, "zfar": 10.0 } }]);
    let (path, message, _dir) = embedded_error(&doc);
    assert_eq!(
        message,
        format!("{}: cameras[0].perspective: missing for a camera of type perspective", path.display())
    );

    let mut doc = quad();
    doc.json["meshes"][0]["primitives"][0]["material"] = json!(0);
    doc.json["materials"] = json!([{ "emissiveTexture": { "index": 0 } }]);
    doc.json["textures"] = json!([{ "source": 0 }]);
    doc.json["images"] = json!([{ "name": "nothing" }]);
    let (path, message, _dir) = embedded_error(&doc);
    assert_eq!(message, format!("{}: images[0]: has neither a uri nor a bufferView", path.display()));
}

#[test]
fn node_cycles_are_reported() {
    let mut doc = quad();
    doc.json["nodes"][0]["children"] = json!([0]);
    let (path, message, _dir) = embedded_error(&doc);
    assert_eq!(message, format!("{}: nodes[0]: the node hierarchy contains a cycle", path.display()));
}

#[test]
fn unsupported_required_extensions_only_warn() {
    let mut doc = quad();
    doc.json["extensionsUsed"] = json!(["KHR_materials_dispersion", "KHR_texture_transform"]);
    doc.json["extensionsRequired"] = json!(["KHR_materials_dispersion", "KHR_draco_mesh_compression"]);
    let dir = tempfile::tempdir().unwrap();
    let scene = Scene::load(&doc.write_embedded(dir.path(), "ext.gltf")).unwrap();
    assert_eq!(scene.extensions_unsupported, vec!["KHR_materials_dispersion", "KHR_draco_mesh_compression"]);
    assert_eq!(
        scene.warnings,
        vec![
            "extension KHR_materials_dispersion is not supported and is ignored (the file lists it as required)",
            "extension KHR_draco_mesh_compression is not supported and is ignored (the file lists it as required)",
        ]
    );
}

fn cameras_scene() -> Scene {
    Scene::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/scenes/Cameras/glTF/Cameras.gltf")).unwrap()
}

#[test]
fn unknown_camera_lists_the_available_ones() {
    let scene = cameras_scene();
    let available = "0 perspective, yfov 40.1°, 1 orthographic, ymag 1";
    for (select, requested) in
        [(CameraSelect::Name("closeup".into()), "named \"closeup\""), (CameraSelect::Index(2), "with index 2")]
    {
        let opts = PrepareOptions { camera: Some(select), ..options() };
        let message = prepare(&scene, None, &opts).map(|_| ()).unwrap_err().to_string();
        assert_eq!(message, format!("{}: no camera {requested}; available cameras: {available}", scene.path.display()));
    }
}

#[test]
fn impossible_resolutions() {
    let scene = cameras_scene();
    for (width, height) in [(0, 24), (32, 0), (100_000, 24)] {
        let message = prepare(&scene, None, &PrepareOptions { width, height, ..options() }).map(|_| ()).unwrap_err();
        assert_eq!(
            message.to_string(),
            format!("image size {width}x{height} is invalid: width and height must be between 1 and 16384")
        );
    }
}

#[test]
fn unreadable_environment_maps_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("sky.hdr");
    let load = |path: &Path| Environment::load(&EnvironmentSpec::Map(path.to_path_buf())).map(|_| ()).unwrap_err();
    let message = load(&missing).to_string();
    assert_eq!(
        message,
        format!("environment map {}: cannot read: No such file or directory (os error 2)", missing.display())
    );
    let corrupt = dir.path().join("sky.exr");
    std::fs::write(&corrupt, b"definitely not OpenEXR").unwrap();
    let message = load(&corrupt).to_string();
    assert!(
        message.starts_with(&format!("environment map {}: cannot decode OpenEXR: ", corrupt.display())),
        "{message}"
    );
    let wrong = dir.path().join("sky.png");
    assert_eq!(
        load(&wrong).to_string(),
        format!(
            "environment map {}: unsupported format: expected an equirectangular .hdr or .exr file",
            wrong.display()
        )
    );
    assert!(matches!(load(&wrong), SceneError::EnvironmentMap { .. }));
}

/// Every truncation and every single-byte corruption of a small GLB is either
/// loaded or rejected with an error; none panics.
#[test]
fn damaged_glb_files_never_panic() {
    let mut doc = Doc::new();
    let uv = doc.floats(&[0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0], "VEC2");
    let pos = doc.floats(&QUAD.concat(), "VEC3");
    let idx = doc.indices(&QUAD_INDICES);
    doc.mesh(json!({ "attributes": { "POSITION": pos, "TEXCOORD_0": uv }, "indices": idx }));
    let bytes = doc.glb();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.glb");
    let (mut loaded, mut rejected) = (0, 0);
    let mut attempt = |data: &[u8]| {
        std::fs::write(&path, data).unwrap();
        match Scene::load(&path) {
            Ok(scene) => {
                loaded += 1;
                // Whatever loads also prepares (or is rejected cleanly).
                let _ = prepare(&scene, None, &options());
            }
            Err(e) => {
                rejected += 1;
                assert!(e.to_string().contains("damaged.glb"), "{e}");
            }
        }
    };
    for cut in 0..bytes.len() {
        attempt(&bytes[..cut]);
    }
    for at in 0..bytes.len() {
        for value in [0x00, 0x39, 0xff] {
            let mut damaged = bytes.clone();
            damaged[at] = value;
            attempt(&damaged);
        }
    }
    assert!(loaded > 0 && rejected > bytes.len(), "{loaded} loaded, {rejected} rejected");
}

/// A farm worker confines a scene to its job's folder: messages name the scene
/// relative to that folder, so no host path reaches the submitter.
#[test]
fn a_job_folder_confines_and_names_files_relative_to_it() {
    let job = tempfile::tempdir().unwrap();
    std::fs::create_dir(job.path().join("shot")).unwrap();
    let doc = quad();
    std::fs::write(job.path().join("mesh.bin"), &doc.bin).unwrap();
    let path = doc.write_external(&job.path().join("shot"), "scene.gltf", "unused.bin", "../mesh.bin");
    let opts = |root: &Path| LoadOptions { root: Confinement::Folder(root.to_path_buf()), ..LoadOptions::default() };
    // Inside the job's folder, `..` from a subfolder is allowed.
    let scene = Scene::load_with(&path, &opts(job.path())).unwrap();
    assert_eq!(scene.path, Path::new("shot/scene.gltf"));
    // Confined to the subfolder it is not, and the message carries no host path.
    let message = Scene::load_with(&path, &opts(&job.path().join("shot"))).map(|_| ()).unwrap_err().to_string();
    assert_eq!(
        message,
        "scene.gltf: buffers[0].uri: \"../mesh.bin\": the path leads outside the job's folder (through \"..\" or a \
         symbolic link); --allow-outside-paths allows it locally"
    );
    let outside = tempfile::tempdir().unwrap();
    let message = Scene::load_with(&path, &opts(outside.path())).map(|_| ()).unwrap_err().to_string();
    assert_eq!(message, "cannot read scene.gltf: the scene file lies outside the job's folder");
}

/// KHR_materials_ior allows exactly 0 below 1 (an infinite index of refraction).
#[test]
fn ior_zero_is_the_specifications_infinite_ior() {
    let mut doc = quad();
    doc.json["meshes"][0]["primitives"][0]["material"] = json!(0);
    doc.json["materials"] = json!([{ "extensions": { "KHR_materials_ior": { "ior": 0.0 } } }]);
    let dir = tempfile::tempdir().unwrap();
    let scene = Scene::load(&doc.write_embedded(dir.path(), "ior.gltf")).unwrap();
    assert_eq!(scene.materials[0].ior, tessera::sampling::bsdf::MAX_IOR);
    assert!(scene.warnings.iter().any(|w| w.contains("KHR_materials_ior.ior is 0")), "{:?}", scene.warnings);
    doc.json["materials"][0]["extensions"]["KHR_materials_ior"]["ior"] = json!(0.99);
    let (path, message, _dir) = embedded_error(&doc);
    assert_eq!(
        message,
        format!(
            "{}: materials[0].extensions.KHR_materials_ior.ior: 0.99 is not a valid index of refraction (≥ 1, or 0)",
            path.display()
        )
    );
}
