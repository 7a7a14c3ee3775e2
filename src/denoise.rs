//! Denoising with Intel Open Image Denoise (feature `oidn`), on the assembled
//! frame with albedo and normal AOVs.
//!
//! The beauty goes through OIDN's HDR "RT" filter at high quality. The albedo and
//! normal AOVs are noisy too (depth of field, motion blur, glossy first hits), so
//! each is first denoised by its own RT filter and the beauty filter is then told
//! they are clean (`clean_aux`), as OIDN recommends for final-frame quality.
//!
//! Build with `--features oidn` after `scripts/provision-oidn.sh`; without the
//! feature every entry point returns [`DenoiseError::Unavailable`].

use std::path::Path;

use crate::output::{self, OutputError, OutputOptions};
use crate::render::film::FrameImage;

/// How to get a build that denoises; part of the `Unavailable` message.
pub const HOW_TO_ENABLE: &str = "this build of Tessera has no denoiser: run `bash scripts/provision-oidn.sh`, \
     then rebuild with `cargo build --release --features oidn`";

/// Why denoising could not run.
#[derive(Debug, thiserror::Error)]
pub enum DenoiseError {
    #[error("{0}")]
    Unavailable(String),
    /// A layer of an in-memory image is unusable.
    #[error("cannot denoise: layer `{layer}` {problem}")]
    Input { layer: &'static str, problem: String },
    /// A layer of an image file is unusable.
    #[error("{path}: cannot denoise: layer `{layer}` {problem}")]
    InputFile { path: String, layer: String, problem: String },
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("Open Image Denoise failed on the {device} device: {message}")]
    Oidn { device: &'static str, message: String },
}

/// Which OIDN device to prefer; `Cuda` falls back to the CPU device when no CUDA device exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DenoiseDevice {
    #[default]
    Cpu,
    Cuda,
}

/// Returns the denoised beauty (RGB, alpha kept) of `image`, using its albedo and normal AOVs.
pub fn denoise(image: &FrameImage, device: DenoiseDevice) -> Result<Vec<[f32; 4]>, DenoiseError> {
    check_input(image, true)?;
    oidn_filter::run(image, device, true)
}

/// Denoises the beauty alone, without the albedo and normal AOVs (for comparison:
/// the AOVs keep edges and texture detail that the beauty alone cannot).
pub fn denoise_without_aux(image: &FrameImage, device: DenoiseDevice) -> Result<Vec<[f32; 4]>, DenoiseError> {
    check_input(image, false)?;
    oidn_filter::run(image, device, false)
}

/// `tessera denoise IN.exr -o OUT`: reads an EXR with beauty, albedo and normal
/// layers, denoises it and writes `output` (.exr or .png by extension); an EXR
/// output keeps the noisy beauty as `noisy.*`.
pub fn denoise_exr(
    input: &Path,
    output: &Path,
    opts: &OutputOptions,
    device: DenoiseDevice,
) -> Result<(), DenoiseError> {
    let image = output::read_exr(input)?;
    check_input(&image, true).map_err(|e| match e {
        DenoiseError::Input { layer, problem } => {
            DenoiseError::InputFile { path: input.display().to_string(), layer: layer.to_string(), problem }
        }
        other => other,
    })?;
    let denoised = denoise(&image, device)?;
    let noisy = image.color.clone();
    let result = FrameImage { color: denoised, ..image };
    output::write_image(output, &result, Some(&noisy), opts)?;
    Ok(())
}

/// Checks that the beauty (and, with `aux`, albedo and normal) has one finite
/// value per pixel.
fn check_input(image: &FrameImage, aux: bool) -> Result<(), DenoiseError> {
    if image.pixel_count() == 0 {
        let problem = format!("is empty ({}x{} pixels)", image.width, image.height);
        return Err(DenoiseError::Input { layer: "beauty", problem });
    }
    check_layer("beauty", &image.color, image)?;
    if aux {
        check_layer("albedo", &image.albedo, image)?;
        check_layer("normal", &image.normal, image)?;
    }
    Ok(())
}

fn check_layer<const N: usize>(
    layer: &'static str,
    pixels: &[[f32; N]],
    image: &FrameImage,
) -> Result<(), DenoiseError> {
    let n = image.pixel_count();
    let problem = if pixels.is_empty() {
        let channels = match layer {
            "albedo" => "albedo.R, albedo.G, albedo.B",
            "normal" => "normal.X, normal.Y, normal.Z",
            _ => "R, G, B",
        };
        format!("is missing (channels {channels}); Tessera writes it into every EXR it renders")
    } else if pixels.len() != n {
        format!("has {} pixels but the image is {}x{} = {n}", pixels.len(), image.width, image.height)
    } else if let Some(i) = pixels.iter().position(|p| p.iter().any(|v| !v.is_finite())) {
        let (x, y) = (i % image.width as usize, i / image.width as usize);
        format!("has a non-finite value {:?} at pixel {x},{y}", pixels[i])
    } else {
        return Ok(());
    };
    Err(DenoiseError::Input { layer, problem })
}

#[cfg(feature = "oidn")]
mod oidn_filter {
    use std::ffi::CStr;

    use oidn::sys;

    use super::{DenoiseDevice, DenoiseError};
    use crate::render::film::FrameImage;

    /// Runs the filters on a checked image.
    pub(super) fn run(image: &FrameImage, device: DenoiseDevice, aux: bool) -> Result<Vec<[f32; 4]>, DenoiseError> {
        let (device, name) = open_device(device)?;
        let err = |e: oidn::Error| DenoiseError::Oidn { device: name, message: e.to_string() };
        let (w, h) = (image.width as usize, image.height as usize);

        let color: Vec<f32> = image.color.iter().flat_map(|p| [p[0], p[1], p[2]]).collect();
        let color = device.create_buffer(&color).map_err(err)?;
        let output = device.create_buffer(&vec![0.0; 3 * w * h]).map_err(err)?;
        let mut filter = oidn::RayTracing::try_new(&device).map_err(err)?;
        filter.hdr(true).filter_quality(oidn::Quality::High).image_dimensions(w, h);
        if aux {
            let albedo = device.create_buffer(image.albedo.as_flattened()).map_err(err)?;
            let normal = device.create_buffer(image.normal.as_flattened()).map_err(err)?;
            prefilter(&device, c"albedo", &albedo, w, h).map_err(err)?;
            prefilter(&device, c"normal", &normal, w, h).map_err(err)?;
            filter.albedo_normal_buffer(&albedo, &normal).map_err(err)?.clean_aux(true);
        }
        filter.filter_buffer(&color, &output).map_err(err)?;
        let rgb = output.read().map_err(err)?;
        Ok(rgb.chunks_exact(3).zip(&image.color).map(|(c, p)| [c[0], c[1], c[2], p[3]]).collect())
    }

    /// The requested device, or the CPU when CUDA is asked for but unavailable.
    fn open_device(device: DenoiseDevice) -> Result<(oidn::Device, &'static str), DenoiseError> {
        if device == DenoiseDevice::Cuda {
            match oidn::Device::cuda() {
                Ok(d) => return Ok((d, "CUDA")),
                Err(e) => tracing::warn!("no Open Image Denoise CUDA device ({e}); denoising on the CPU"),
            }
        }
        oidn::Device::cpu().map(|d| (d, "CPU")).map_err(|e| DenoiseError::Oidn {
            device: "CPU",
            message: format!(
                "{e} (are libOpenImageDenoise_device_cpu.so.2.5.1 and libtbb.so.12 beside libOpenImageDenoise?)"
            ),
        })
    }

    /// Denoises an auxiliary image in place: an RT filter with only that image
    /// (`albedo` or `normal`) bound, at high quality. The oidn crate's filter
    /// always binds a colour image, so this goes through the C API.
    fn prefilter(
        device: &oidn::Device,
        image: &CStr,
        buffer: &oidn::Buffer,
        w: usize,
        h: usize,
    ) -> Result<(), oidn::Error> {
        /// Releases the filter on every path.
        struct Filter(sys::OIDNFilter);
        impl Drop for Filter {
            fn drop(&mut self) {
                // SAFETY: the handle came from oidnNewFilter and is released once.
                unsafe { sys::oidnReleaseFilter(self.0) }
            }
        }

        device.get_error()?; // clear any stale error so the checks below are ours
                             // SAFETY: the device and buffer are live for the whole call; the filter is
                             // executed synchronously and released before returning.
        unsafe {
            let raw = sys::oidnNewFilter(device.raw(), c"RT".as_ptr());
            if raw.is_null() {
                return device.get_error();
            }
            let filter = Filter(raw);
            for name in [image, c"output"] {
                sys::oidnSetFilterImage(
                    filter.0,
                    name.as_ptr(),
                    buffer.raw(),
                    sys::OIDNFormat_OIDN_FORMAT_FLOAT3,
                    w,
                    h,
                    0,
                    0,
                    0,
                );
            }
            sys::oidnSetFilterInt(filter.0, c"quality".as_ptr(), sys::OIDNQuality_OIDN_QUALITY_HIGH);
            sys::oidnCommitFilter(filter.0);
            device.get_error()?;
            sys::oidnExecuteFilter(filter.0);
        }
        device.get_error()
    }
}

#[cfg(not(feature = "oidn"))]
mod oidn_filter {
    use super::{DenoiseDevice, DenoiseError, HOW_TO_ENABLE};
    use crate::render::film::FrameImage;

    pub(super) fn run(_image: &FrameImage, _device: DenoiseDevice, _aux: bool) -> Result<Vec<[f32; 4]>, DenoiseError> {
        Err(DenoiseError::Unavailable(HOW_TO_ENABLE.to_string()))
    }
}
