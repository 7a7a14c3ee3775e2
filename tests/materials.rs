//! glTF material extensions on the CPU reference, against closed forms.

mod common;
#[path = "data/gltf_builder.rs"]
mod gltf_builder;

use gltf_builder::{unlit_panel_over_floor, UNLIT_COLOR};
use serde_json::json;
use tessera::backend::BackendKind;
use tessera::render::film::FrameImage;
use tessera::render::settings::RenderSettings;
use tessera::scene::{CameraSelect, EnvironmentSpec, Scene};

fn settings(camera: usize, env: f32) -> RenderSettings {
    RenderSettings {
        width: 16,
        height: 16,
        spp: 8,
        camera: Some(CameraSelect::Index(camera)),
        environment: Some(EnvironmentSpec::Color([env; 3])),
        ..Default::default()
    }
}

fn mean_of(image: &FrameImage, rows: std::ops::Range<usize>) -> f32 {
    let w = image.width as usize;
    let pixels: Vec<f32> =
        rows.flat_map(|y| (0..w).map(move |x| (y, x))).map(|(y, x)| image.color[y * w + x][1]).collect();
    pixels.iter().sum::<f32>() / pixels.len() as f32
}

#[test]
fn unlit_shows_exactly_its_base_colour_whatever_the_light() {
    // KHR_materials_unlit: the camera sees the base colour, not lit and not reflecting
    // the environment, which is black, grey or bright here.
    let dir = tempfile::tempdir().unwrap();
    let path = unlit_panel_over_floor(dir.path(), true);
    for env in [0.0, 1.0, 20.0] {
        let image = common::render(&path, &settings(1, env), BackendKind::Cpu, 16, None);
        for (i, c) in image.color.iter().enumerate() {
            for k in 0..3 {
                assert!((c[k] - UNLIT_COLOR[k]).abs() <= 1e-6, "env {env}: pixel {i} is {c:?}, not {UNLIT_COLOR:?}");
            }
            assert_eq!(c[3], 1.0, "pixel {i} is not covered");
        }
        let albedo_off = |a: &[f32; 3]| (0..3).any(|k| (a[k] - UNLIT_COLOR[k]).abs() > 1e-6);
        assert!(!image.albedo.iter().any(albedo_off), "the albedo AOV is the base colour");
    }
}

#[test]
fn unlit_surfaces_light_what_is_around_them() {
    // With a black environment the floor in front of the panel is lit by the panel
    // alone; a black panel leaves it black. The panel is seen in the upper rows,
    // the floor in the lowest.
    let dir = tempfile::tempdir().unwrap();
    let lit = common::render(&unlit_panel_over_floor(dir.path(), true), &settings(0, 0.0), BackendKind::Cpu, 16, None);
    let dark =
        common::render(&unlit_panel_over_floor(dir.path(), false), &settings(0, 0.0), BackendKind::Cpu, 16, None);
    let floor = 13..16;
    let (lit_floor, dark_floor) = (mean_of(&lit, floor.clone()), mean_of(&dark, floor));
    assert!(lit_floor > 1e-3, "the floor before an unlit panel has mean green {lit_floor}");
    assert_eq!(dark_floor, 0.0, "nothing lights the floor before a black panel");
}

#[test]
fn an_absorbing_slab_transmits_what_beer_lambert_says() {
    // KHR_materials_volume: light crossing thickness d of a medium whose colour is
    // c at attenuationDistance D keeps c^(d/D) = exp(−σ d), σ = −ln(c) / D. The
    // slab is index-matched glass (ior 1, rendered as 1.01: F0 ≈ 2.5e-5), so the
    // interfaces take away less than 1e-4.
    let dir = tempfile::tempdir().unwrap();
    let colour = [0.8, 0.5, 0.2];
    for (thickness, distance) in [(2.0f32, 1.0f32), (0.5, 1.0), (1.0, 4.0)] {
        let path = gltf_builder::absorbing_slab(dir.path(), thickness, Some((colour, distance)));
        let image = common::render(&path, &settings(0, 1.0), BackendKind::Cpu, 16, None);
        for k in 0..3 {
            let expected = colour[k].powf(thickness / distance);
            let mean = image.color.iter().map(|c| c[k]).sum::<f32>() / image.color.len() as f32;
            assert!(
                (mean - expected).abs() <= 0.01 * expected + 1e-4,
                "thickness {thickness}, distance {distance}, channel {k}: {mean}, Beer–Lambert {expected}"
            );
        }
    }
    // A clear volume passes the environment through.
    let clear = common::render(
        &gltf_builder::absorbing_slab(dir.path(), 2.0, None),
        &settings(0, 1.0),
        BackendKind::Cpu,
        16,
        None,
    );
    let mean = clear.color.iter().map(|c| c[0] + c[1] + c[2]).sum::<f32>() / (3.0 * clear.color.len() as f32);
    assert!((mean - 1.0).abs() < 1e-3, "a clear slab transmits {mean}");
}

#[test]
fn volume_and_specular_parameters_reach_the_material() {
    let dir = tempfile::tempdir().unwrap();
    // σ = −ln(attenuationColor) / attenuationDistance per channel.
    let scene = Scene::load(&gltf_builder::absorbing_slab(dir.path(), 1.0, Some(([0.5, 1.0, 0.25], 2.0)))).unwrap();
    let sigma = scene.materials[0].attenuation;
    let expected = [0.5f32.ln() / -2.0, 0.0, 0.25f32.ln() / -2.0];
    assert!((0..3).all(|k| (sigma[k] - expected[k]).abs() < 1e-6), "{sigma:?} vs {expected:?}");
    assert!(scene.warnings.iter().all(|w| !w.contains("volume")), "{:?}", scene.warnings);

    // KHR_materials_specular: factor and colour reach the material, bad ones are named.
    let mut doc = gltf_builder::Doc::new();
    doc.triangles(&gltf_builder::QUAD, &gltf_builder::QUAD_INDICES);
    doc.json["extensionsUsed"] = json!(["KHR_materials_specular"]);
    let specular = |extension| json!({ "extensions": { "KHR_materials_specular": extension } });
    doc.json["materials"] = json!([
        specular(json!({ "specularFactor": 0.3 })),
        specular(json!({ "specularColorFactor": [1.0, 0.5, 2.5] })),
    ]);
    let scene = Scene::load(&doc.write_embedded(dir.path(), "specular.gltf")).unwrap();
    let (plain, tinted) = (&scene.materials[0], &scene.materials[1]);
    assert_eq!((plain.specular, plain.specular_color), (0.3, [1.0; 3]));
    assert_eq!((tinted.specular, tinted.specular_color), (1.0, [1.0, 0.5, 2.5]));
    assert!(scene.warnings.is_empty(), "{:?}", scene.warnings);
    assert_bad_values_named(
        "KHR_materials_specular",
        &[
            (json!({ "specularColorFactor": [1.0, -0.5, 1.0] }), "specularColorFactor"),
            (json!({ "specularFactor": 1.5 }), "specularFactor"),
        ],
    );
}

#[test]
fn a_smooth_tinted_layer_over_black_reflects_its_coloured_f0() {
    // KHR_materials_specular's colour over a black base, smooth, under a
    // uniform white sky, seen at normal incidence: every pixel is the layer's
    // normal reflectance min(F0(1.5) colour, 1) per channel, here (0.04, 0.2, 0.8).
    let dir = tempfile::tempdir().unwrap();
    let colour = [1.0f32, 5.0, 20.0];
    let material = json!({
        "pbrMetallicRoughness": { "baseColorFactor": [0.0, 0.0, 0.0, 1.0], "metallicFactor": 0.0, "roughnessFactor": 0.0 },
        "extensions": { "KHR_materials_specular": { "specularColorFactor": colour } },
    });
    let path = quad_under_camera(dir.path(), material, &["KHR_materials_specular"]);
    let image = common::render(&path, &settings(0, 1.0), BackendKind::Cpu, 16, None);
    for k in 0..3 {
        let expected = (0.04 * colour[k]).min(1.0);
        let mean = image.color.iter().map(|c| c[k]).sum::<f32>() / image.color.len() as f32;
        assert!((mean - expected).abs() < 0.01 * expected, "channel {k}: {mean} against F0 {expected}");
    }
}

#[test]
fn clearcoat_parameters_reach_the_material_and_bad_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = gltf_builder::Doc::new();
    doc.triangles(&gltf_builder::QUAD, &gltf_builder::QUAD_INDICES);
    doc.json["extensionsUsed"] = json!(["KHR_materials_clearcoat"]);
    let coat = json!({ "clearcoatFactor": 0.8, "clearcoatRoughnessFactor": 0.3 });
    doc.json["materials"] = json!([{ "extensions": { "KHR_materials_clearcoat": coat } }]);
    let scene = Scene::load(&doc.write_embedded(dir.path(), "coat.gltf")).unwrap();
    let m = &scene.materials[0];
    assert_eq!((m.clearcoat, m.clearcoat_roughness, m.clearcoat_tex.texture), (0.8, 0.3, u32::MAX));
    assert!(scene.warnings.iter().all(|w| !w.contains("clearcoat")), "{:?}", scene.warnings);

    assert_bad_values_named(
        "KHR_materials_clearcoat",
        &[
            (json!({ "clearcoatFactor": 1.5 }), "clearcoatFactor"),
            (json!({ "clearcoatNormalTexture": { "index": 4 } }), "clearcoatNormalTexture.index"),
            (json!({ "clearcoatTexture": 2 }), "KHR_materials_clearcoat"),
        ],
    );
}

/// A unit quad in z = 0 facing +Z with `material`, seen by an orthographic
/// camera looking straight down −Z at its middle (every pixel on the quad).
fn quad_under_camera(dir: &std::path::Path, material: serde_json::Value, extensions: &[&str]) -> std::path::PathBuf {
    let mut doc = gltf_builder::Doc::new();
    doc.triangles(&gltf_builder::QUAD, &gltf_builder::QUAD_INDICES);
    doc.json["extensionsUsed"] = json!(extensions);
    doc.json["materials"] = json!([material]);
    doc.json["meshes"][0]["primitives"][0]["material"] = json!(0);
    doc.json["cameras"] =
        json!([{ "type": "orthographic", "orthographic": { "xmag": 0.2, "ymag": 0.2, "znear": 0.01, "zfar": 10.0 } }]);
    doc.json["nodes"] = json!([{ "mesh": 0 }, { "camera": 0, "translation": [0.5, 0.5, 1.0] }]);
    doc.json["scenes"] = json!([{ "nodes": [0, 1] }]);
    doc.write_embedded(dir, "quad.gltf")
}

#[test]
fn a_sheen_over_black_shows_its_colour_times_its_albedo() {
    // KHR_materials_sheen over a black base without a specular layer, under a
    // uniform white sky, seen at normal incidence: every pixel is sheenColor ×
    // E_s(1), the Charlie lobe's albedo integrated by quadrature. Through the
    // integrator (light sampling and MIS), not the BSDF alone.
    let dir = tempfile::tempdir().unwrap();
    let colour = [0.9f32, 0.5, 0.2];
    for roughness in [0.3f32, 0.8] {
        let material = json!({
            "pbrMetallicRoughness": { "baseColorFactor": [0.0, 0.0, 0.0, 1.0], "metallicFactor": 0.0 },
            "extensions": {
                "KHR_materials_specular": { "specularFactor": 0.0 },
                "KHR_materials_sheen": { "sheenColorFactor": colour, "sheenRoughnessFactor": roughness },
            },
        });
        let path = quad_under_camera(dir.path(), material, &["KHR_materials_specular", "KHR_materials_sheen"]);
        let settings = RenderSettings { spp: 256, ..settings(0, 1.0) };
        let image = common::render(&path, &settings, BackendKind::Cpu, 16, None);
        let albedo = tessera::sampling::sheen::lobe_albedo(1.0, roughness);
        for (k, &c) in colour.iter().enumerate() {
            let mean = image.color.iter().map(|p| p[k]).sum::<f32>() / image.color.len() as f32;
            let expected = c * albedo;
            assert!(
                (mean - expected).abs() < 0.02 * expected,
                "roughness {roughness}, channel {k}: {mean} vs {expected}"
            );
        }
    }
}

#[test]
fn sheen_parameters_reach_the_material_and_bad_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let scene = Scene::load(&gltf_builder::sheen_panel_over_floor(dir.path())).unwrap();
    let (floor, panel) = (&scene.materials[0], &scene.materials[1]);
    assert_eq!((floor.sheen_color, floor.sheen_roughness), gltf_builder::SHEEN_FLOOR);
    assert_eq!((panel.sheen_color, panel.sheen_roughness), gltf_builder::SHEEN_PANEL);
    assert!(scene.warnings.iter().all(|w| !w.contains("sheen")), "{:?}", scene.warnings);

    assert_bad_values_named(
        "KHR_materials_sheen",
        &[
            (json!({ "sheenColorFactor": [1.0, 1.2, 0.0] }), "sheenColorFactor"),
            (json!({ "sheenRoughnessFactor": -0.1 }), "sheenRoughnessFactor"),
            (json!({ "sheenColorTexture": { "index": 3 } }), "sheenColorTexture.index"),
            (json!({ "sheenRoughnessFactor": "rough" }), "KHR_materials_sheen"),
        ],
    );
}

#[test]
fn anisotropy_parameters_reach_the_material_and_bad_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let scene = Scene::load(&gltf_builder::brushed_panel_over_floor(dir.path())).unwrap();
    assert!(scene.warnings.is_empty(), "{:?}", scene.warnings);
    for (i, (strength, rotation)) in
        [gltf_builder::ANISOTROPY_FLOOR, gltf_builder::ANISOTROPY_PANEL].into_iter().enumerate()
    {
        let m = &scene.materials[i];
        assert_eq!(m.anisotropy_strength, strength);
        assert_eq!(m.anisotropy_rotation, [rotation.cos(), rotation.sin()]);
        // The direction is in tangent space: the loader made tangents for it.
        assert!(!scene.meshes[i].primitives[0].geometry.tangents.is_empty(), "mesh {i} has no tangents");
    }
    let floor_texture = scene.materials[0].anisotropy_tex.texture;
    assert_ne!(floor_texture, tessera::scene::flat::NONE);
    assert_eq!(scene.materials[1].anisotropy_tex.texture, tessera::scene::flat::NONE);
    // Direction and strength are data, not colour: the texels arrive undecoded.
    let flags = scene.textures[floor_texture as usize].flags;
    assert_eq!(flags & tessera::scene::flat::TEX_SRGB, 0, "the anisotropy texture is read as sRGB");

    assert_bad_values_named(
        "KHR_materials_anisotropy",
        &[
            (json!({ "anisotropyStrength": 1.5 }), "anisotropyStrength"),
            (json!({ "anisotropyStrength": -0.5 }), "anisotropyStrength"),
            (json!({ "anisotropyTexture": { "index": 2 } }), "anisotropyTexture.index"),
            (json!({ "anisotropyRotation": "left" }), "KHR_materials_anisotropy"),
        ],
    );
}

#[test]
fn iridescence_parameters_reach_the_material_and_bad_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let scene = Scene::load(&gltf_builder::filmed_panel_over_floor(dir.path())).unwrap();
    assert!(scene.warnings.is_empty(), "{:?}", scene.warnings);
    let (floor, panel) = (&scene.materials[0], &scene.materials[1]);
    let film = |m: &tessera::scene::flat::Material| {
        [m.iridescence, m.iridescence_ior, m.iridescence_thickness_min, m.iridescence_thickness_max]
    };
    assert_eq!(film(floor), gltf_builder::FILM_FLOOR);
    // The extension's defaults: index 1.3, 100–400 nm.
    assert_eq!(film(panel), [0.8, 1.8, 100.0, 400.0]);
    for slot in [&floor.iridescence_tex, &floor.iridescence_thickness_tex] {
        assert_ne!(slot.texture, tessera::scene::flat::NONE);
        assert_eq!(scene.textures[slot.texture as usize].flags & tessera::scene::flat::TEX_SRGB, 0);
    }

    assert_bad_values_named(
        "KHR_materials_iridescence",
        &[
            (json!({ "iridescenceFactor": 1.2 }), "iridescenceFactor"),
            (json!({ "iridescenceIor": 0.5 }), "iridescenceIor"),
            (json!({ "iridescenceThicknessMaximum": -1.0 }), "iridescenceThicknessMaximum"),
            (json!({ "iridescenceThicknessTexture": { "index": 1 } }), "iridescenceThicknessTexture.index"),
            (json!({ "iridescenceFactor": [1.0] }), "KHR_materials_iridescence"),
        ],
    );
}

/// Loads a one-quad scene whose only material carries `extension` with each
/// of `cases`' values in turn; every load fails with an error that names the
/// extension's place in the file and the field.
fn assert_bad_values_named(extension: &str, cases: &[(serde_json::Value, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = gltf_builder::Doc::new();
    doc.triangles(&gltf_builder::QUAD, &gltf_builder::QUAD_INDICES);
    doc.json["extensionsUsed"] = json!([extension]);
    for (value, field) in cases {
        doc.json["materials"] = json!([{ "extensions": { (extension): value } }]);
        let error = Scene::load(&doc.write_embedded(dir.path(), "bad.gltf")).map(|_| ()).unwrap_err().to_string();
        let place = format!("materials[0].extensions.{extension}");
        assert!(error.contains(&place) && error.contains(field), "{extension} {value}: {error}");
    }
}
