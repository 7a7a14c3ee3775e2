//! The environment light: a constant colour or an equirectangular `.hdr`/`.exr` map
//! (linear RGB), with the importance-sampling distribution over its texels.

use std::f32::consts::PI;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use glam::Vec3;

use super::error::SceneError;
use super::lights::luminance;
use super::limits::{bytes_of, Budget};
use super::EnvironmentSpec;
use crate::sampling::distribution::build_env_distribution;

/// A loaded environment light: radiance `color` times the map texel, if any.
#[derive(Clone, Debug)]
pub struct Environment {
    pub color: Vec3,
    pub map: Option<EnvironmentMap>,
    /// Mean luminance of the radiance over the sphere of directions.
    pub mean_luminance: f32,
}

/// An equirectangular map in the layout of [`super::flat::SceneHeader`], with its
/// sampling distribution (see `sampling::distribution::build_env_distribution`).
#[derive(Clone, Debug)]
pub struct EnvironmentMap {
    pub path: PathBuf,
    pub width: u32,
    pub height: u32,
    /// Linear RGB, A unused; row 0 at the top.
    pub texels: Vec<[f32; 4]>,
    pub marginal_cdf: Vec<f32>,
    pub conditional_cdf: Vec<f32>,
}

impl FromStr for EnvironmentSpec {
    type Err = SceneError;

    /// `"0.5"` (grey), `"R,G,B"`, or the path of an `.hdr` / `.exr` map.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = |message: String| SceneError::EnvironmentSpec { spec: s.to_string(), message };
        let numbers: Option<Vec<f32>> = s.split(',').map(|p| p.trim().parse().ok()).collect();
        let spec = match numbers.as_deref() {
            Some(&[v]) => EnvironmentSpec::Color([v; 3]),
            Some(&[r, g, b]) => EnvironmentSpec::Color([r, g, b]),
            Some(values) => {
                return Err(error(format!("expected one value (grey) or three (R,G,B), got {}", values.len())))
            }
            None if s.trim().is_empty() => {
                return Err(error("expected a colour or the path of an .hdr/.exr map".into()))
            }
            None => EnvironmentSpec::Map(PathBuf::from(s)),
        };
        check_color(&spec).map_err(error)?;
        Ok(spec)
    }
}

fn check_color(spec: &EnvironmentSpec) -> Result<(), String> {
    match spec {
        EnvironmentSpec::Color(c) if c.iter().any(|v| !v.is_finite() || *v < 0.0) => {
            Err(format!("colour components must be finite and non-negative, got {c:?}"))
        }
        _ => Ok(()),
    }
}

impl Environment {
    /// Loads the environment `spec` describes within the memory available now;
    /// map errors name the file.
    pub fn load(spec: &EnvironmentSpec) -> Result<Environment, SceneError> {
        Self::load_within(spec, super::limits::default_memory_limit())
    }

    /// Loads the environment `spec` describes; a map whose header declares more
    /// texels than `memory_limit` bytes hold is refused before it is decoded.
    pub fn load_within(spec: &EnvironmentSpec, memory_limit: u64) -> Result<Environment, SceneError> {
        check_color(spec).map_err(|message| SceneError::EnvironmentSpec { spec: format!("{spec:?}"), message })?;
        match spec {
            EnvironmentSpec::Color(c) => {
                let color = Vec3::from(*c);
                Ok(Environment { color, map: None, mean_luminance: luminance(color) })
            }
            EnvironmentSpec::Map(path) => {
                let error = |message: String| SceneError::EnvironmentMap { path: path.clone(), message };
                let (width, height, texels) = read_map(path, &Budget::new(memory_limit)).map_err(error)?;
                if let Some(i) = texels.iter().position(|t| t.iter().any(|v| !v.is_finite())) {
                    return Err(error(format!("texel ({}, {}) is not finite", i % width, i / width)));
                }
                // Slightly negative values (from filtering) carry no light.
                let texels: Vec<[f32; 4]> = texels.into_iter().map(|t| t.map(|v| v.max(0.0))).collect();
                let lum: Vec<f32> = texels.iter().map(|t| luminance(Vec3::new(t[0], t[1], t[2]))).collect();
                let (marginal_cdf, conditional_cdf) = build_env_distribution(&lum, width, height);
                let mean_luminance = sin_weighted_mean(&lum, width, height);
                let map = EnvironmentMap {
                    path: path.clone(),
                    width: width as u32,
                    height: height as u32,
                    texels,
                    marginal_cdf,
                    conditional_cdf,
                };
                Ok(Environment { color: Vec3::ONE, map: Some(map), mean_luminance })
            }
        }
    }

    /// Whether the environment emits no light at all.
    pub fn is_black(&self) -> bool {
        self.mean_luminance.is_nan() || self.mean_luminance <= 0.0
    }
}

/// Mean over the sphere of an equirectangular map: rows weighted by sin θ.
fn sin_weighted_mean(values: &[f32], width: usize, height: usize) -> f32 {
    let (mut sum, mut weight) = (0.0f64, 0.0f64);
    for (row, texels) in values.chunks_exact(width).enumerate() {
        let sin_theta = (PI * (row as f32 + 0.5) / height as f32).sin() as f64;
        sum += sin_theta * texels.iter().map(|&v| v as f64).sum::<f64>();
        weight += sin_theta * width as f64;
    }
    (sum / weight) as f32
}

/// Bytes a map takes per texel while loading and once prepared: the decoded
/// pixel and its conversion, the texel, its luminance and CDF entry, and the
/// flat scene's copies of both.
const BYTES_PER_MAP_TEXEL: usize = 12 + 16 + 16 + 4 + 4 + 16 + 4;

/// The size a map's header declares, read without decoding it, from a regular file only.
fn map_size(path: &Path, extension: Option<&str>) -> Result<(usize, usize), String> {
    if !matches!(extension, Some("hdr" | "exr")) {
        return Err("unsupported format: expected an equirectangular .hdr or .exr file".into());
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err("not a regular file (a device, FIFO, socket or folder)".into()),
        Err(e) => return Err(format!("cannot read: {e}")),
    }
    match extension {
        Some("hdr") => {
            let reader = image::ImageReader::open(path).map_err(|e| format!("cannot read: {e}"))?;
            let reader = reader.with_guessed_format().map_err(|e| format!("cannot read: {e}"))?;
            let (w, h) = reader.into_dimensions().map_err(|e| format!("cannot decode Radiance HDR: {e}"))?;
            Ok((w as usize, h as usize))
        }
        Some("exr") => match crate::output::exr::header_size(path) {
            Ok((w, h, _)) => Ok((w, h)),
            Err(crate::output::exr::HeaderError::Io(e)) => Err(format!("cannot read: {e}")),
            Err(crate::output::exr::HeaderError::Format(e)) => Err(format!("cannot decode OpenEXR: {e}")),
        },
        _ => Err("unsupported format: expected an equirectangular .hdr or .exr file".into()),
    }
}

/// Reads an `.hdr` or `.exr` file as linear RGB texels, after charging its
/// declared size to `budget`.
fn read_map(path: &Path, budget: &Budget) -> Result<(usize, usize, Vec<[f32; 4]>), String> {
    let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let (width, height) = map_size(path, extension.as_deref())?;
    if width == 0 || height == 0 {
        return Err(format!("the map is {width}×{height}: it has no texels"));
    }
    let texels = (width as u64).saturating_mul(height as u64);
    budget.charge(bytes_of(texels, BYTES_PER_MAP_TEXEL), || format!("{width}×{height} texels take"))?;
    let (width, height, texels) = match extension.as_deref() {
        Some("hdr") => {
            let mut reader = image::ImageReader::open(path)
                .map_err(|e| format!("cannot read: {e}"))?
                .with_guessed_format()
                .map_err(|e| format!("cannot read: {e}"))?;
            // Charged above; the decoder's own default cap (512 MiB) would refuse large maps.
            reader.no_limits();
            let image = reader.decode().map_err(|e| format!("cannot decode Radiance HDR: {e}"))?.to_rgb32f();
            let texels = image.pixels().map(|p| [p.0[0], p.0[1], p.0[2], 1.0]).collect();
            (image.width() as usize, image.height() as usize, texels)
        }
        Some("exr") => {
            let image = exr::prelude::read_first_rgba_layer_from_file(
                path,
                |size, _| (size.width(), vec![[0.0f32; 4]; size.width() * size.height()]),
                |(width, texels): &mut (usize, Vec<[f32; 4]>), pos, (r, g, b, _a): (f32, f32, f32, f32)| {
                    texels[pos.y() * *width + pos.x()] = [r, g, b, 1.0];
                },
            )
            .map_err(|e| match e {
                exr::error::Error::Io(io) => format!("cannot read: {io}"),
                other => format!("cannot decode OpenEXR: {other}"),
            })?;
            let (width, texels) = image.layer_data.channel_data.pixels;
            (width, texels.len() / width.max(1), texels)
        }
        _ => return Err("unsupported format: expected an equirectangular .hdr or .exr file".into()),
    };
    if texels.len() != width * height {
        return Err(format!("{} texels decoded for a {width}×{height} map", texels.len()));
    }
    Ok((width, height, texels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_colours_and_paths() {
        assert_eq!("0.5".parse::<EnvironmentSpec>().unwrap(), EnvironmentSpec::Color([0.5; 3]));
        assert_eq!("1, 0.5,0".parse::<EnvironmentSpec>().unwrap(), EnvironmentSpec::Color([1.0, 0.5, 0.0]));
        assert_eq!("sky.hdr".parse::<EnvironmentSpec>().unwrap(), EnvironmentSpec::Map("sky.hdr".into()));
        let err = "1,2".parse::<EnvironmentSpec>().unwrap_err().to_string();
        assert_eq!(err, "invalid environment \"1,2\": expected one value (grey) or three (R,G,B), got 2");
        assert!("-1".parse::<EnvironmentSpec>().unwrap_err().to_string().contains("non-negative"));
        assert!("nan".parse::<EnvironmentSpec>().is_err());
    }

    #[test]
    fn sin_weighted_mean_of_a_constant_is_the_constant() {
        let values = vec![2.0; 8 * 4];
        assert!((sin_weighted_mean(&values, 8, 4) - 2.0).abs() < 1e-6);
        // Bright poles count for less than a bright equator.
        let poles: Vec<f32> = (0..32).map(|i| if i / 8 == 0 || i / 8 == 3 { 1.0 } else { 0.0 }).collect();
        assert!(sin_weighted_mean(&poles, 8, 4) < 0.5);
    }
}
