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
        environment: Some(EnvironmentSpec::Color([1.0, 1.0, 1.0])),
        ..Default::default()
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
fn ggx_spheres_in_a_white_furnace_neither_gain_nor_lose_energy() {
    // With multiple scattering compensated and the diffuse base under the
    // layer, white spheres reflect (nearly) all the light at every angle the
    // sphere shows: the bounds of the BSDF's furnace table, less 0.5% for noise.
    let dir = tempfile::tempdir().unwrap();
    for (metallic, ior, lowest) in [(1.0, 1.5, 0.97), (0.0, 1.5, 0.96)] {
        for roughness in [0.05, 0.3, 0.6, 1.0] {
            let material = TestMaterial { base_color: [1.0; 3], metallic, roughness, ior };
            let path = sphere_gltf(dir.path(), &material);
            let image = render(&path, &furnace_settings(128), BackendKind::Cpu, 64, None);
            let (mean, _) = covered_mean(&image);
            let what = format!("metallic {metallic} roughness {roughness}: mean {mean}");
            assert!(mean <= 1.005, "{what} > 1 gains energy");
            assert!(mean >= lowest - 0.005, "{what} loses more than the model allows ({lowest})");
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

/// The cross-backend z-test itself: two independent CPU renders (different seeds)
/// agree, while a render with a dimmer environment is rejected.
#[test]
fn agreement_test_accepts_independent_renders_and_rejects_a_changed_scene() {
    use common::agreement::{compare, two_sided_threshold};
    assert!((two_sided_threshold(0.05) - 1.959_96).abs() < 1e-3);
    assert!((two_sided_threshold(1e-6) - 4.891_64).abs() < 1e-3);

    let dir = tempfile::tempdir().unwrap();
    let grey = TestMaterial { base_color: [0.5; 3], metallic: 0.0, roughness: 0.5, ior: 1.5 };
    let path = sphere_gltf(dir.path(), &grey);
    let settings = RenderSettings { width: 32, height: 32, spp: 32, max_depth: 8, ..furnace_settings(32) };
    let a = render(&path, &settings, BackendKind::Cpu, 64, None);
    let b = render(&path, &RenderSettings { seed: 77, ..settings.clone() }, BackendKind::Cpu, 64, None);
    let same = compare(&a, &b, 0.01);
    assert!(same.rejected_fraction() <= 0.005, "independent renders rejected: {same:?}");
    let dim = RenderSettings { environment: Some(EnvironmentSpec::Color([0.9; 3])), seed: 77, ..settings };
    let c = render(&path, &dim, BackendKind::Cpu, 64, None);
    let changed = compare(&a, &c, 0.01);
    assert!(changed.rejected_fraction() > 0.5, "a 10% dimmer environment went unnoticed: {changed:?}");
}

/// The sampler's low-discrepancy sequence beats independent sampling: a grey
/// Lambertian sphere under a uniform sky (convex, so every point sees the
/// whole sky: each covered pixel is exactly its albedo, 0.5) renders with a
/// per-pixel error far below what independent samples of the same variance
/// would give (the film's per-sample variance over the sample count).
#[test]
fn stratified_samples_beat_independent_ones_at_equal_count() {
    let dir = tempfile::tempdir().unwrap();
    let grey = TestMaterial { base_color: [0.5; 3], metallic: 0.0, roughness: 1.0, ior: 1.0 };
    let path = sphere_gltf(dir.path(), &grey);
    let settings = RenderSettings { width: 32, height: 32, max_depth: 4, ..furnace_settings(64) };
    let image = render(&path, &settings, BackendKind::Cpu, 64, None);
    let (mut error, mut independent) = (0.0f64, 0.0f64);
    for i in (0..image.pixel_count()).filter(|&i| image.color[i][3] == 1.0) {
        for c in 0..3 {
            error += (image.color[i][c] as f64 - 0.5).powi(2);
            independent += image.variance[i][c] as f64 / image.samples[i] as f64;
        }
    }
    let ratio = (error / independent).sqrt();
    assert!(independent > 0.0, "no noise to reduce");
    // Measured 0.35; independent samples give about 1.
    assert!(ratio < 0.5, "error {ratio} × that of independent samples");
}
