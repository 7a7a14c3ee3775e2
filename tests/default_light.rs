//! The environment a scene gets without `--env`: white unless its own lights
//! carry a meaningful share of its light, so that small emissive parts never
//! leave a black frame; and the hint a nearly black render prints.

mod common;
#[path = "data/gltf_builder.rs"]
mod gltf_builder;

use std::path::{Path, PathBuf};

use gltf_builder::Doc;
use serde_json::json;
use tessera::backend::BackendKind;
use tessera::render::settings::RenderSettings;
use tessera::scene::{LitBy, Scene, MEANINGFUL_SHARE};

/// A white diffuse floor of side 2 and an emissive square of side `decal` lying
/// just above its centre (emission 1 × `strength`, its emissive map `texture` when
/// given), seen from above by a perspective camera.
fn floor_with_decal(dir: &Path, decal: f32, strength: f32, texture: Option<&str>) -> PathBuf {
    let mut doc = Doc::new();
    let floor = doc.floats(&[-1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, -1.0, -1.0, 0.0, -1.0], "VEC3");
    let h = decal / 2.0;
    let square = doc.floats(&[-h, 0.001, h, h, 0.001, h, h, 0.001, -h, -h, 0.001, -h], "VEC3");
    let uv = doc.floats(&[0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0], "VEC2");
    let idx = doc.indices(&[0, 1, 2, 0, 2, 3]);
    let mut emissive = json!({
        "emissiveFactor": [1.0, 1.0, 1.0],
        "extensions": { "KHR_materials_emissive_strength": { "emissiveStrength": strength } },
        "pbrMetallicRoughness": { "baseColorFactor": [0.0, 0.0, 0.0, 1.0] },
    });
    if let Some(uri) = texture {
        doc.json["images"] = json!([{ "uri": uri }]);
        doc.json["textures"] = json!([{ "source": 0 }]);
        emissive["emissiveTexture"] = json!({ "index": 0 });
    }
    doc.json["extensionsUsed"] = json!(["KHR_materials_emissive_strength"]);
    doc.json["materials"] = json!([{ "pbrMetallicRoughness": { "baseColorFactor": [0.8, 0.8, 0.8, 1.0], "metallicFactor": 0.0 } }, emissive]);
    doc.json["meshes"] = json!([
        { "primitives": [{ "attributes": { "POSITION": floor }, "indices": idx, "material": 0 }] },
        { "primitives": [{ "attributes": { "POSITION": square, "TEXCOORD_0": uv }, "indices": idx, "material": 1 }] },
    ]);
    doc.json["cameras"] = json!([{ "type": "perspective", "perspective": { "yfov": 0.9, "znear": 0.01 } }]);
    // The camera 2 units above the floor, looking straight down (-Z turned to -Y).
    let down = [-std::f32::consts::FRAC_1_SQRT_2, 0.0, 0.0, std::f32::consts::FRAC_1_SQRT_2];
    doc.json["nodes"] =
        json!([{ "mesh": 0 }, { "mesh": 1 }, { "camera": 0, "translation": [0.0, 2.0, 0.0], "rotation": down }]);
    doc.json["scenes"] = json!([{ "nodes": [0, 1, 2] }]);
    doc.write_embedded(dir, "decal.gltf")
}

fn share(scene: &Scene) -> f32 {
    match scene.default_light.lit_by {
        LitBy::Emitters(share) => share,
        ref other => panic!("{}: lit by {other:?}, not by emitters", scene.path.display()),
    }
}

#[test]
fn small_emissive_decals_without_env_do_not_render_nearly_black() {
    let dir = tempfile::tempdir().unwrap();
    let path = floor_with_decal(dir.path(), 0.1, 1.0, None);
    let scene = Scene::load(&path).unwrap();
    // π·0.01 of emitted power against 4π²·R², R = √2: a share of 1/(8π)·0.01.
    let expected = 0.01 / (8.0 * std::f32::consts::PI);
    assert!((share(&scene) - expected).abs() < 1e-3 * expected, "{} vs {expected}", share(&scene));
    assert!(scene.default_light.white, "{}", scene.default_light);
    let settings = RenderSettings { width: 32, height: 32, spp: 8, ..Default::default() };
    let image = common::render(&path, &settings, BackendKind::Cpu, 16, None);
    // A 0.8 white floor under a white sky (alpha of the decal aside) is about 0.8 bright.
    let mean = image.mean_luminance();
    assert!(mean > 0.5, "the decal scene renders with mean luminance {mean}");
}

#[test]
fn emitters_that_light_the_scene_keep_it_black() {
    let dir = tempfile::tempdir().unwrap();
    // The same decal 1000 times stronger carries 1000 times the share: black.
    let path = floor_with_decal(dir.path(), 0.1, 1000.0, None);
    let scene = Scene::load(&path).unwrap();
    assert!(share(&scene) >= MEANINGFUL_SHARE && !scene.default_light.white, "{}", scene.default_light);
    let settings = RenderSettings { width: 16, height: 16, spp: 4, ..Default::default() };
    let image = common::render(&path, &settings, BackendKind::Cpu, 16, None);
    // No sky: the floor's corners, far from the decal, stay much darker than under white.
    let corner = image.color[0];
    assert!(corner[1] < 0.3, "the corner is {corner:?} with a black environment");
}

#[test]
fn an_emissive_texture_weights_the_share_by_its_mean() {
    let dir = tempfile::tempdir().unwrap();
    // A strong emitter whose map is black but for one texel in 64: it counts 1/64
    // of its factor (linear, the map being sRGB: 255 decodes to 1).
    let mut map = image::RgbaImage::from_pixel(8, 8, image::Rgba([0, 0, 0, 255]));
    map.put_pixel(3, 3, image::Rgba([255, 255, 255, 255]));
    map.save(dir.path().join("lamps.png")).unwrap();
    let plain = Scene::load(&floor_with_decal(dir.path(), 0.1, 1000.0, None)).unwrap();
    let mapped = Scene::load(&floor_with_decal(dir.path(), 0.1, 1000.0, Some("lamps.png"))).unwrap();
    let ratio = share(&mapped) / share(&plain);
    assert!((ratio - 1.0 / 64.0).abs() < 1e-4, "{ratio}");
    assert!(mapped.default_light.white, "{}", mapped.default_light);
}

#[test]
fn shared_scenes_get_the_environment_their_lights_call_for() {
    // The Cornell box's lamp and the emissive cubes light their scenes; the emissive
    // labels of ClearCoatTest do not; punctual lights always do.
    let cornell = Scene::load(&common::cornell_box()).unwrap();
    assert!(!cornell.default_light.white && share(&cornell) > MEANINGFUL_SHARE, "{}", cornell.default_light);
    let cubes = Scene::load(&common::shared_scene("EmissiveStrengthTest")).unwrap();
    assert!(!cubes.default_light.white, "{}", cubes.default_light);
    let labels = Scene::load(&common::shared_scene("ClearCoatTest")).unwrap();
    assert!(labels.default_light.white && share(&labels) > 0.0, "{}", labels.default_light);
    let lamp = Scene::load(&common::shared_scene("LightsPunctualLamp")).unwrap();
    assert!(matches!(lamp.default_light.lit_by, LitBy::Punctual(n) if n > 0) && !lamp.default_light.white);
    let helmet = Scene::load(&common::shared_scene("FlightHelmet")).unwrap();
    assert_eq!(helmet.default_light.lit_by, LitBy::Nothing);
    assert!(helmet.default_light.white);
}

#[test]
fn the_cli_says_which_environment_and_hints_at_a_black_frame() {
    let dir = tempfile::tempdir().unwrap();
    let render = |exposure: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["render", "--width", "8", "--height", "8", "--spp", "2", "--backend", "cpu", "--exposure", exposure])
            .arg(common::cornell_box())
            .arg("-o")
            .arg(dir.path().join("cornell.png"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let log = render("0");
    assert!(log.contains("with a black environment: its emissive surfaces give"), "{log}");
    assert!(!log.contains("nearly black"), "{log}");
    let log = render("-12");
    assert!(log.contains("The image is nearly black"), "{log}");
}
