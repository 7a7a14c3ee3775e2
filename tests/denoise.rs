//! Denoising: quality on a synthetic image with known ground truth (with
//! `--features oidn`), the Unavailable error without it, and the errors of
//! `denoise_exr` on broken files (both builds).

mod common;

use std::path::Path;

use tessera::denoise::{denoise_exr, DenoiseDevice, DenoiseError};
use tessera::output::{write_image, OutputOptions};
use tessera::render::film::FrameImage;

/// A deterministic uniform value in [0, 1) for (pixel, sample).
fn uniform(i: usize, s: u32) -> f32 {
    let mut z = (i as u64) << 32 ^ u64::from(s) ^ 0x9e37_79b9_7f4a_7c15;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
}

/// A lit sphere in front of a checkerboard: the exact radiance, and a noisy
/// `spp`-sample estimate of it with path-tracing-like (exponential, heavy) noise,
/// together with the exact albedo and normal AOVs.
fn synthetic(width: u32, height: u32, spp: u32) -> (FrameImage, Vec<[f32; 3]>) {
    let light = glam::Vec3::new(0.4, 0.5, 0.75).normalize();
    let mut truth = Vec::new();
    let mut image = FrameImage { width, height, ..Default::default() };
    for y in 0..height {
        for x in 0..width {
            let u = (x as f32 + 0.5) / width as f32;
            let v = (y as f32 + 0.5) / height as f32;
            let (dx, dy) = ((u - 0.5) / 0.3, (v - 0.5) / 0.3);
            let r2 = dx * dx + dy * dy;
            let (normal, albedo) = if r2 < 1.0 {
                let stripe = ((dy * 6.0).floor() as i32).rem_euclid(2) == 0;
                (glam::Vec3::new(dx, -dy, (1.0 - r2).sqrt()), if stripe { [0.8, 0.3, 0.2] } else { [0.9, 0.8, 0.3] })
            } else {
                let check = ((u * 10.0).floor() as i32 + (v * 10.0).floor() as i32) % 2 == 0;
                (glam::Vec3::Z, if check { [0.85, 0.85, 0.85] } else { [0.1, 0.15, 0.4] })
            };
            let shading = 2.0 * normal.dot(light).max(0.0) + 0.15;
            truth.push(albedo.map(|a| a * shading));
            image.albedo.push(albedo);
            image.normal.push(normal.to_array());
        }
    }
    image.color = truth
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mean_weight = (0..spp).map(|s| -(1.0 - uniform(i, s)).ln()).sum::<f32>() / spp as f32;
            [t[0] * mean_weight, t[1] * mean_weight, t[2] * mean_weight, 1.0]
        })
        .collect();
    (image, truth)
}

fn write_exr(path: &Path, image: &FrameImage) {
    write_image(path, image, None, &OutputOptions::default()).unwrap();
}

fn input_file_error(err: DenoiseError) -> (String, String, String) {
    match err {
        DenoiseError::InputFile { path, layer, problem } => (path, layer, problem),
        other => panic!("expected an input-file error, got {other:?}: {other}"),
    }
}

#[test]
fn denoise_exr_names_the_file_and_the_missing_layer() {
    let dir = tempfile::tempdir().unwrap();
    let (mut image, _) = synthetic(16, 12, 4);
    image.albedo.clear();
    let input = dir.path().join("no-albedo.exr");
    write_exr(&input, &image);
    let err =
        denoise_exr(&input, &dir.path().join("out.exr"), &OutputOptions::default(), DenoiseDevice::Cpu).unwrap_err();
    let msg = err.to_string();
    let (path, layer, problem) = input_file_error(err);
    assert_eq!((path.as_str(), layer.as_str()), (input.to_str().unwrap(), "albedo"));
    assert!(problem.contains("albedo.R") && msg.contains("no-albedo.exr"), "{msg}");
    assert!(!dir.path().join("out.exr").exists());
}

#[test]
fn denoise_exr_names_the_file_and_layer_holding_nan() {
    let dir = tempfile::tempdir().unwrap();
    let (mut image, _) = synthetic(16, 12, 4);
    image.normal[3 * 16 + 5][1] = f32::NAN;
    let input = dir.path().join("nan.exr");
    write_exr(&input, &image);
    let err =
        denoise_exr(&input, &dir.path().join("out.png"), &OutputOptions::default(), DenoiseDevice::Cpu).unwrap_err();
    let (path, layer, problem) = input_file_error(err);
    assert_eq!((path.as_str(), layer.as_str()), (input.to_str().unwrap(), "normal"));
    assert!(problem.contains("NaN") && problem.contains("pixel 5,3"), "{problem}");
}

#[test]
fn denoise_exr_names_a_truncated_file() {
    let dir = tempfile::tempdir().unwrap();
    let (image, _) = synthetic(64, 64, 4);
    let input = dir.path().join("whole.exr");
    write_exr(&input, &image);
    let bytes = std::fs::read(&input).unwrap();
    let truncated = dir.path().join("truncated.exr");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = denoise_exr(&truncated, &dir.path().join("out.exr"), &OutputOptions::default(), DenoiseDevice::Cpu)
        .unwrap_err();
    assert!(matches!(err, DenoiseError::Output(_)), "{err:?}");
    assert!(err.to_string().starts_with(truncated.to_str().unwrap()), "{err}");
}

#[test]
fn denoise_exr_names_a_layer_with_missing_channels() {
    use exr::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("two-normal-channels.exr");
    let plane = |v: f32| FlatSamples::F32(vec![v; 6]);
    let names = ["R", "G", "B", "albedo.R", "albedo.G", "albedo.B", "normal.X", "normal.Y"];
    let channels = AnyChannels::sort(names.iter().map(|&n| AnyChannel::new(n, plane(0.5))).collect());
    Image::from_channels((3, 2), channels).write().to_file(&input).unwrap();
    let err =
        denoise_exr(&input, &dir.path().join("out.exr"), &OutputOptions::default(), DenoiseDevice::Cpu).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("two-normal-channels.exr") && msg.contains("`normal`") && msg.contains("normal.Z"), "{msg}");
}

#[cfg(not(feature = "oidn"))]
#[test]
fn without_the_feature_denoising_says_how_to_enable_it() {
    use tessera::denoise::{denoise, denoise_without_aux};
    let (image, _) = synthetic(8, 8, 4);
    for result in [denoise(&image, DenoiseDevice::Cpu), denoise_without_aux(&image, DenoiseDevice::Cuda)] {
        match result {
            Err(DenoiseError::Unavailable(msg)) => {
                assert!(msg.contains("scripts/provision-oidn.sh") && msg.contains("--features oidn"), "{msg}")
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("frame.exr");
    write_exr(&input, &image);
    let output = dir.path().join("denoised.exr");
    let err = denoise_exr(&input, &output, &OutputOptions::default(), DenoiseDevice::Cpu).unwrap_err();
    assert!(matches!(err, DenoiseError::Unavailable(_)), "{err:?}");
    assert!(!output.exists());
}

#[cfg(feature = "oidn")]
mod with_oidn {
    use super::*;
    use tessera::denoise::{denoise, denoise_without_aux};
    use tessera::output::{read_exr, read_noisy};

    fn rmse(image: &[[f32; 4]], truth: &[[f32; 3]]) -> f64 {
        let sum: f64 =
            image.iter().zip(truth).flat_map(|(p, t)| (0..3).map(move |c| f64::from(p[c] - t[c]).powi(2))).sum();
        (sum / (3 * truth.len()) as f64).sqrt()
    }

    #[test]
    fn denoising_cuts_the_error_and_aovs_help() {
        let (image, truth) = synthetic(192, 160, 4);
        let noisy = rmse(&image.color, &truth);
        let with_aux = rmse(&denoise(&image, DenoiseDevice::Cpu).unwrap(), &truth);
        let without_aux = rmse(&denoise_without_aux(&image, DenoiseDevice::Cpu).unwrap(), &truth);
        eprintln!("RMSE noisy {noisy:.4}, denoised with AOVs {with_aux:.4}, without {without_aux:.4}");
        assert!(with_aux * 4.0 <= noisy, "denoising cut RMSE only from {noisy} to {with_aux}");
        assert!(with_aux < without_aux, "AOVs did not help: {with_aux} vs {without_aux}");
    }

    /// RMSE of `image` against a high-spp `reference` over the pixels of `mask`,
    /// with the reference's own noise (its variance of the mean) taken out, so the
    /// figure estimates the error against the true image.
    fn rmse_against(image: &[[f32; 4]], reference: &FrameImage, mask: &[bool]) -> f64 {
        let (mut sum, mut n) = (0.0, 0);
        for (i, (p, r)) in image.iter().zip(&reference.color).enumerate().filter(|(i, _)| mask[*i]) {
            for c in 0..3 {
                let reference_noise = f64::from(reference.variance[i][c]) / f64::from(reference.samples[i]);
                sum += f64::from(p[c] - r[c]).powi(2) - reference_noise;
                n += 1;
            }
        }
        (sum / n as f64).max(0.0).sqrt()
    }

    /// Pixels that neither show the emitter nor touch it: at the light's edge the
    /// error is anti-aliasing of a 100× contrast step, which no denoiser removes.
    fn away_from_emitters(reference: &FrameImage) -> Vec<bool> {
        let (w, h) = (reference.width as i64, reference.height as i64);
        let bright = |x: i64, y: i64| {
            (0..w).contains(&x)
                && (0..h).contains(&y)
                && reference.color[(y * w + x) as usize][..3].iter().any(|&v| v > 1.0)
        };
        (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| ![(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)].iter().any(|(dx, dy)| bright(x + dx, y + dy)))
            .collect()
    }

    #[test]
    fn denoised_cornell_box_at_16_spp_is_4x_closer_to_the_reference() {
        use tessera::backend::BackendKind;
        use tessera::render::settings::RenderSettings;
        let settings = RenderSettings { width: 128, height: 128, spp: 16, max_depth: 8, seed: 3, ..Default::default() };
        let noisy = common::render(&common::cornell_box(), &settings, BackendKind::Cpu, 128, None);
        let reference_settings = RenderSettings { spp: 512, seed: 11, ..settings };
        let reference = common::render(&common::cornell_box(), &reference_settings, BackendKind::Cpu, 128, None);
        let mask = away_from_emitters(&reference);
        assert!(mask.iter().filter(|&&m| !m).count() > 50, "the light should be in view");

        let noisy_error = rmse_against(&noisy.color, &reference, &mask);
        let with_aux = rmse_against(&denoise(&noisy, DenoiseDevice::Cpu).unwrap(), &reference, &mask);
        let without_aux = rmse_against(&denoise_without_aux(&noisy, DenoiseDevice::Cpu).unwrap(), &reference, &mask);
        eprintln!(
            "Cornell box 16 spp RMSE: noisy {noisy_error:.5}, denoised {with_aux:.5}, without AOVs {without_aux:.5}"
        );
        assert!(with_aux * 4.0 <= noisy_error, "denoising cut RMSE only from {noisy_error} to {with_aux}");
        assert!(with_aux < without_aux, "AOVs did not help: {with_aux} vs {without_aux}");
    }

    #[test]
    fn cuda_request_falls_back_to_a_working_device() {
        let (image, truth) = synthetic(64, 48, 4);
        let denoised = denoise(&image, DenoiseDevice::Cuda).unwrap();
        assert!(rmse(&denoised, &truth) * 2.0 < rmse(&image.color, &truth));
        assert!(denoised.iter().all(|p| p[3] == 1.0), "alpha is kept");
    }

    #[test]
    fn denoise_exr_writes_the_denoised_beauty_and_keeps_the_noisy_one() {
        let dir = tempfile::tempdir().unwrap();
        let (image, truth) = synthetic(96, 64, 4);
        let input = dir.path().join("noisy.exr");
        write_exr(&input, &image);
        let output = dir.path().join("clean.exr");
        denoise_exr(&input, &output, &OutputOptions::default(), DenoiseDevice::Cpu).unwrap();

        let result = read_exr(&output).unwrap();
        assert!(rmse(&result.color, &truth) * 3.0 < rmse(&image.color, &truth));
        assert_eq!((result.albedo, result.normal), (image.albedo, image.normal));
        let noisy = read_noisy(&output).unwrap().expect("noisy layer");
        assert!(noisy.iter().zip(&image.color).all(|(n, c)| n[..] == c[..3]));

        let png = dir.path().join("clean.png");
        denoise_exr(&input, &png, &OutputOptions::default(), DenoiseDevice::Cpu).unwrap();
        assert_eq!(image::open(&png).unwrap().width(), 96);
    }
}
