//! The CUDA backend on a GPU: images agree with the CPU reference (per-pixel
//! z-test), tiling does not change a bit, and cancellation stops a render.
//! Skipped, with the reason printed, on machines without a usable CUDA device.
#![cfg(feature = "cuda")]

mod common;

use common::agreement::assert_agrees;
use common::*;
use tessera::backend::{self, BackendError, BackendKind, BackendOptions};
use tessera::render::settings::{prepare_frame, RenderSettings};
use tessera::render::task::{RenderTask, SampleRange, Tile};
use tessera::scene::{EnvironmentSpec, Scene};

/// Whether a CUDA device can run the kernels here; says why not otherwise.
/// `scripts/gpu-check.sh` sets TESSERA_REQUIRE_CUDA so that the tests cannot skip there.
fn cuda_or_skip(test: &str) -> bool {
    let probe = tessera::backend::cuda::probe();
    if probe.unavailable.is_empty() {
        eprintln!("{test}: running on {}", probe.devices.join(", "));
        true
    } else if std::env::var_os("TESSERA_REQUIRE_CUDA").is_some() {
        panic!("{test}: TESSERA_REQUIRE_CUDA is set but CUDA is unavailable: {}", probe.unavailable)
    } else {
        eprintln!("{test}: skipped, CUDA is unavailable on this machine: {}", probe.unavailable);
        false
    }
}

#[test]
fn images_agree_with_the_cpu_backend() {
    if !cuda_or_skip("images_agree_with_the_cpu_backend") {
        return;
    }
    let sky = Some(EnvironmentSpec::Color([0.4, 0.5, 0.6]));
    let scenes = [
        ("cornell-box", cornell_box(), None),
        ("MetalRoughSpheresNoTextures", shared_scene("MetalRoughSpheresNoTextures"), sky.clone()),
        ("TransmissionTest", shared_scene("TransmissionTest"), sky.clone()),
        ("LightsPunctualLamp", shared_scene("LightsPunctualLamp"), None),
        ("FlightHelmet", shared_scene("FlightHelmet"), sky),
    ];
    for (name, path, environment) in scenes {
        let settings =
            RenderSettings { width: 64, height: 48, spp: 256, max_depth: 8, environment, ..Default::default() };
        let reference = render(&path, &settings, BackendKind::Cpu, 64, None);
        // Another seed: independent noise, the same expected image.
        let gpu = render(&path, &RenderSettings { seed: 1, ..settings }, BackendKind::Cuda, 64, None);
        assert_agrees(&format!("{name}: CUDA vs CPU"), &reference, &gpu, 0.01);
        assert_eq!(reference.samples, gpu.samples, "{name}: sample counts");
    }
}

#[test]
fn tiling_does_not_change_a_bit_and_cancel_stops() {
    if !cuda_or_skip("tiling_does_not_change_a_bit_and_cancel_stops") {
        return;
    }
    let settings = RenderSettings { width: 48, height: 40, spp: 8, max_depth: 6, ..Default::default() };
    let whole = render(&cornell_box(), &settings, BackendKind::Cuda, 256, None);
    let tiled = render(&cornell_box(), &settings, BackendKind::Cuda, 12, None);
    assert!(whole.color.iter().any(|c| c[0] > 0.0), "the Cornell box should not be black");
    assert_eq!(whole, tiled, "1 tile vs 16 tiles");

    let scene = Scene::load(&cornell_box()).unwrap();
    let flat = prepare_frame(&scene, None, &settings, 0).unwrap();
    let (mut cuda, _) = backend::create(BackendKind::Cuda, &BackendOptions::default()).unwrap();
    cuda.upload(&flat).unwrap();
    let task = RenderTask {
        frame: 0,
        tile: Tile { x: 0, y: 0, width: 48, height: 40 },
        samples: SampleRange { start: 0, end: 8 },
        seed: 0,
        max_depth: 6,
    };
    let result = cuda.render(&task, &|_| true).unwrap();
    assert!(result.rays >= 48 * 40 * 8, "at least one ray per sample: {}", result.rays);
    assert!(result.pixels.iter().all(|p| p.count == 8));
    assert!(matches!(cuda.render(&task, &|_| false), Err(BackendError::Cancelled)));
    let outside = RenderTask { tile: Tile { x: 40, y: 0, width: 16, height: 8 }, ..task };
    assert!(matches!(cuda.render(&outside, &|_| true), Err(BackendError::TileOutOfBounds { .. })));
}
