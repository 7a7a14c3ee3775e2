//! glTF material extensions on the CPU reference, against closed forms.

mod common;
#[path = "data/gltf_builder.rs"]
mod gltf_builder;

use gltf_builder::{unlit_panel_over_floor, UNLIT_COLOR};
use tessera::backend::BackendKind;
use tessera::render::film::FrameImage;
use tessera::render::settings::RenderSettings;
use tessera::scene::{CameraSelect, EnvironmentSpec};

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
