//! Denoising with Intel Open Image Denoise (feature `oidn`), on the assembled
//! frame with albedo and normal AOVs.

use crate::render::film::FrameImage;

/// Why denoising could not run.
#[derive(Debug, thiserror::Error)]
pub enum DenoiseError {
    #[error("{0}")]
    Unavailable(String),
}

/// Which OIDN device to prefer; `Cuda` falls back to the CPU device when no CUDA device exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DenoiseDevice {
    #[default]
    Cpu,
    Cuda,
}

/// Returns the denoised beauty (RGB, alpha kept) of `image`, using its albedo and normal AOVs.
pub fn denoise(_image: &FrameImage, _device: DenoiseDevice) -> Result<Vec<[f32; 4]>, DenoiseError> {
    Err(DenoiseError::Unavailable("denoising is not built yet".into()))
}
