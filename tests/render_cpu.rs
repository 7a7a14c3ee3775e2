//! Whole-renderer tests on the CPU reference backend.

mod common;

use common::*;
use tessera::backend::BackendKind;
use tessera::render::film::FrameImage;
use tessera::render::settings::RenderSettings;
use tessera::scene::EnvironmentSpec;

fn furnace_settings(spp: u32) -> RenderSettings {
    RenderSettings {
        width: 24,
        height: 24,
        spp,
        max_depth: 64,
        seed: 1,
        camera: None,
        environment: Some(EnvironmentSpec::Color([1.0, 1.0, 1.0])),
    }
}

/// Mean radiance over the pixels fully covered by the sphere.
fn covered_mean(image: &FrameImage) -> (f64, usize) {
    let covered: Vec<f64> =
        image.color.iter().filter(|c| c[3] == 1.0).map(|c| (c[0] as f64 + c[1] as f64 + c[2] as f64) / 3.0).collect();
    (covered.iter().sum::<f64>() / covered.len() as f64, covered.len())
}

#[test]
fn white_furnace_lambertian_sphere_matches_environment() {
    let dir = tempfile::tempdir().unwrap();
    // ior 1 removes the specular layer: a pure white Lambertian surface.
    let white = TestMaterial { base_color: [1.0; 3], metallic: 0.0, roughness: 1.0, ior: 1.0 };
    let path = sphere_gltf(dir.path(), &white);
    let image = render(&path, &furnace_settings(512), BackendKind::Cpu, 64, None);
    let (mean, covered) = covered_mean(&image);
    assert!(covered > 100, "the sphere should cover the image centre ({covered} pixels)");
    assert!((mean - 1.0).abs() < 0.005, "white furnace: mean radiance {mean}, expected 1 ± 0.5%");
}

#[test]
fn ggx_spheres_never_gain_energy() {
    let dir = tempfile::tempdir().unwrap();
    for (metallic, ior) in [(1.0, 1.5), (0.0, 1.5)] {
        for roughness in [0.05, 0.3, 0.6, 1.0] {
            let material = TestMaterial { base_color: [1.0; 3], metallic, roughness, ior };
            let path = sphere_gltf(dir.path(), &material);
            let image = render(&path, &furnace_settings(128), BackendKind::Cpu, 64, None);
            let (mean, _) = covered_mean(&image);
            assert!(mean <= 1.005, "metallic {metallic} roughness {roughness}: mean {mean} > 1 gains energy");
            // Single-scattering GGX at roughness 1 keeps only ~1 - ln 2 ≈ 0.31 at normal incidence.
            assert!(mean > 0.3, "metallic {metallic} roughness {roughness}: mean {mean} loses implausibly much");
        }
    }
}

#[test]
fn tiling_and_thread_count_do_not_change_a_single_bit() {
    let settings = RenderSettings { width: 48, height: 40, spp: 4, max_depth: 6, ..Default::default() };
    let whole = render(&cornell_box(), &settings, BackendKind::Cpu, 256, Some(2));
    let tiled = render(&cornell_box(), &settings, BackendKind::Cpu, 12, Some(2));
    let single_thread = render(&cornell_box(), &settings, BackendKind::Cpu, 7, Some(1));
    assert!(whole.color.iter().any(|c| c[0] > 0.0), "the Cornell box should not be black");
    assert_eq!(whole, tiled, "1 tile vs 16 tiles");
    assert_eq!(whole, single_thread, "2 threads vs 1 thread");
    let other_seed = render(&cornell_box(), &RenderSettings { seed: 9, ..settings }, BackendKind::Cpu, 256, Some(2));
    assert_ne!(whole.color, other_seed.color, "a different seed must give different noise");
}

#[test]
fn every_shared_scene_renders_finite_pixels() {
    let names = shared_scene_names();
    assert!(names.len() >= 17, "expected the shared scenes, found {names:?}");
    let settings = RenderSettings { width: 16, height: 12, spp: 2, max_depth: 4, ..Default::default() };
    for name in names {
        let image = render(&shared_scene(&name), &settings, BackendKind::Cpu, 64, None);
        assert_eq!(image.color.len(), 16 * 12, "{name}");
        assert!(image.color.iter().flatten().all(|v| v.is_finite()), "{name}: non-finite pixel");
        assert!(image.samples.iter().all(|&n| n == 2.0), "{name}: every pixel gets its samples");
    }
}
