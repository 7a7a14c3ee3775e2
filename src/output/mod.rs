//! Image output: EXR (linear, multi-layer with AOVs) and PNG (exposure, view
//! transform, sRGB encoding).
//!
//! # EXR channels
//!
//! One part, f32, scanlines with ZIP compression. The channel names are an
//! interface (compositors, `tessera denoise` and the farm rely on them):
//!
//! | layer    | channels                              | contents                                          |
//! |----------|---------------------------------------|---------------------------------------------------|
//! | beauty   | `R`, `G`, `B`, `A`                    | linear radiance; alpha = fraction of camera rays that hit |
//! | albedo   | `albedo.R`, `albedo.G`, `albedo.B`    | mean albedo                                       |
//! | normal   | `normal.X`, `normal.Y`, `normal.Z`    | world-space shading normal of the first hit (unit, 0 for no hit) |
//! | depth    | `depth.Z`                             | mean first-hit distance over the rays that hit (0 for none) |
//! | samples  | `samples.Y`                           | samples per pixel                                 |
//! | variance | `variance.R`, `variance.G`, `variance.B` | per-sample radiance variance                   |
//! | noisy    | `noisy.R`, `noisy.G`, `noisy.B`       | beauty before denoising (denoised images only)    |
//!
//! # PNG
//!
//! 8-bit RGBA: the beauty times 2^exposure, through the view transform
//! ([`ViewTransform`]) and the sRGB transfer function. The beauty's alpha is
//! associated (premultiplied), as EXR expects; PNG's is straight, so colour is
//! divided by alpha first. A background that should show in the PNG therefore
//! needs alpha 1, which is the renderer's choice (an opaque or transparent film).
//!
//! Files are written to a temporary file beside the target and renamed into
//! place, so a crash never leaves a half-written image under the final name.

pub mod exr;
pub mod movie;
pub mod png;
pub mod tonemap;

use std::fs::{self, File};
use std::path::{Path, PathBuf};

pub use self::exr::{read_exr, read_noisy};
pub use self::tonemap::ViewTransform;

/// Parses `--exposure`: a finite number of stops within ±64 (2^64 is past any image).
pub fn parse_exposure(s: &str) -> Result<f32, String> {
    let stops: f32 = s.trim().parse().map_err(|_| format!("{s:?} is not a number"))?;
    match stops.is_finite() && (-64.0..=64.0).contains(&stops) {
        true => Ok(stops),
        false => Err(format!("{stops} is not a finite number of stops in [-64, 64]")),
    }
}

/// The output path of `frame` in a sequence: the last run of `#` in the file name
/// replaced by the frame number, zero-padded to the run's length (as Blender does:
/// `shot_####.exr` → `shot_0007.exr`). `None` when the name has no `#`.
pub fn frame_path(pattern: &Path, frame: u32) -> Option<PathBuf> {
    let name = pattern.file_name()?.to_str()?;
    let end = name.rfind('#')? + 1;
    let start = name[..end].trim_end_matches('#').len();
    let numbered = format!("{}{frame:0width$}{}", &name[..start], &name[end..], width = end - start);
    Some(pattern.with_file_name(numbered))
}
use crate::render::film::FrameImage;

/// File extensions [`write_image`] understands.
pub const SUPPORTED_EXTENSIONS: [&str; 2] = ["exr", "png"];

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
    #[error("{path}: unsupported image format {extension}; supported formats are .exr and .png")]
    UnsupportedFormat { path: String, extension: String },
    #[error("{path}: cannot write image: {problem}")]
    InvalidImage { path: String, problem: String },
    #[error("{path}: not a readable OpenEXR file (truncated or corrupt?): {message}")]
    Exr { path: String, message: String },
    #[error("{path}: layer `{layer}` {problem}")]
    Layer { path: String, layer: String, problem: String },
}

/// The image formats Tessera writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    Exr,
    Png,
}

impl ImageFormat {
    /// The format for `path`'s extension (case-insensitive).
    pub fn from_path(path: &Path) -> Result<Self, OutputError> {
        let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("exr") => Ok(ImageFormat::Exr),
            Some("png") => Ok(ImageFormat::Png),
            other => Err(OutputError::UnsupportedFormat {
                path: path_string(path),
                extension: other.map_or_else(|| "(no extension)".to_string(), |e| format!(".{e}")),
            }),
        }
    }
}

/// Writes `image` to `path`, choosing the format by extension (.exr or .png).
/// `noisy` is the undenoised beauty, stored as an extra EXR layer when given.
/// Missing parent folders are created.
pub fn write_image(
    path: &Path,
    image: &FrameImage,
    noisy: Option<&[[f32; 4]]>,
    opts: &OutputOptions,
) -> Result<(), OutputError> {
    let format = ImageFormat::from_path(path)?;
    check_image(image, noisy).map_err(|problem| OutputError::InvalidImage { path: path_string(path), problem })?;
    write_atomically(path, |file| match format {
        ImageFormat::Exr => exr::write(file, image, noisy),
        ImageFormat::Png => {
            let mut out = std::io::BufWriter::new(file);
            png::write(&mut out, image.width, image.height, &image.color, opts)?;
            std::io::Write::flush(&mut out).map_err(|e| e.to_string())
        }
    })
}

/// Checks that the image is not empty and every field has one entry per pixel
/// (AOV fields may be empty).
fn check_image(image: &FrameImage, noisy: Option<&[[f32; 4]]>) -> Result<(), String> {
    let n = image.pixel_count();
    if n == 0 {
        return Err(format!("the image is {}x{}; both sides must be at least 1", image.width, image.height));
    }
    let fields = [
        ("color", image.color.len(), false),
        ("albedo", image.albedo.len(), true),
        ("normal", image.normal.len(), true),
        ("depth", image.depth.len(), true),
        ("samples", image.samples.len(), true),
        ("variance", image.variance.len(), true),
        ("noisy beauty", noisy.map_or(n, <[_]>::len), false),
    ];
    for (name, len, may_be_empty) in fields {
        if len != n && !(may_be_empty && len == 0) {
            return Err(format!("{name} has {len} pixels but the image is {}x{} = {n}", image.width, image.height));
        }
    }
    Ok(())
}

/// Writes through `write` into a temporary file beside `path`, then renames it
/// into place; on failure the temporary file is removed and `path` is untouched.
fn write_atomically(path: &Path, write: impl FnOnce(File) -> Result<(), String>) -> Result<(), OutputError> {
    let io_error = |message: String| OutputError::Io { path: path_string(path), message };
    let file_name = path.file_name().ok_or_else(|| io_error("not a file name".into()))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| io_error(format!("cannot create folder {}: {e}", parent.display())))?;
    }
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp: PathBuf = path.with_file_name(tmp_name);

    let result = (|| {
        let file = File::create(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        let sync = file.try_clone().map_err(|e| e.to_string())?;
        write(file)?;
        sync.sync_all().map_err(|e| format!("cannot flush {}: {e}", tmp.display()))?;
        fs::rename(&tmp, path).map_err(|e| format!("cannot rename {} into place: {e}", tmp.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_error)
}

pub(crate) fn path_string(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_numbers_fill_the_last_run_of_hashes() {
        let path = |p: &str, f| frame_path(Path::new(p), f).map(|p| p.to_string_lossy().into_owned());
        assert_eq!(path("out/shot_####.exr", 7).as_deref(), Some("out/shot_0007.exr"));
        assert_eq!(path("v#/a_##_b_###.png", 12345).as_deref(), Some("v#/a_##_b_12345.png"));
        assert_eq!(path("f#.exr", 3).as_deref(), Some("f3.exr"));
        assert_eq!(path("still.exr", 3), None);
    }
}
