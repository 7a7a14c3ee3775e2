//! OpenEXR output and input: one part, linear f32, lossless ZIP compression, with
//! the AOVs as dotted layers (the channel names are listed in [`super`]).

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use ::exr::prelude::traits::*;
use ::exr::prelude::{
    read, AnyChannel, AnyChannels, Encoding, FlatSamples, Image, Layer, LayerAttributes, SmallVec, Text,
};

use super::{path_string, OutputError};
use crate::render::film::FrameImage;

/// Channel names of the beauty, in `FrameImage::color` order.
pub const BEAUTY: [&str; 4] = ["R", "G", "B", "A"];
/// Channel names of the albedo AOV.
pub const ALBEDO: [&str; 3] = ["albedo.R", "albedo.G", "albedo.B"];
/// Channel names of the shading-normal AOV.
pub const NORMAL: [&str; 3] = ["normal.X", "normal.Y", "normal.Z"];
/// Channel name of the first-hit distance AOV.
pub const DEPTH: [&str; 1] = ["depth.Z"];
/// Channel name of the per-pixel sample count.
pub const SAMPLES: [&str; 1] = ["samples.Y"];
/// Channel names of the per-pixel radiance variance.
pub const VARIANCE: [&str; 3] = ["variance.R", "variance.G", "variance.B"];
/// Channel names of the beauty before denoising (written only for denoised images).
pub const NOISY: [&str; 3] = ["noisy.R", "noisy.G", "noisy.B"];

/// The channels of `data` (one `[f32; N]` per pixel) as N planes named `names`.
fn planes<const N: usize>(data: &[[f32; N]], names: [&str; N]) -> Vec<AnyChannel<FlatSamples>> {
    let plane = |c: usize| FlatSamples::F32(data.iter().map(|p| p[c]).collect());
    names.into_iter().enumerate().map(|(c, name)| AnyChannel::new(name, plane(c))).collect()
}

/// Encodes `image` (and the noisy beauty, when given) into `out`. The caller has
/// checked that every non-empty field has one entry per pixel.
pub(super) fn write(out: File, image: &FrameImage, noisy: Option<&[[f32; 4]]>) -> Result<(), String> {
    let scalar = |v: &[f32]| v.iter().map(|&x| [x]).collect::<Vec<_>>();
    let noisy_rgb: Option<Vec<[f32; 3]>> = noisy.map(|n| n.iter().map(|&[r, g, b, _]| [r, g, b]).collect());
    let (depth, samples) = (scalar(&image.depth), scalar(&image.samples));

    let mut channels: SmallVec<[AnyChannel<FlatSamples>; 4]> = planes(&image.color, BEAUTY).into();
    if !image.albedo.is_empty() {
        channels.extend(planes(&image.albedo, ALBEDO));
    }
    if !image.normal.is_empty() {
        channels.extend(planes(&image.normal, NORMAL));
    }
    if !depth.is_empty() {
        channels.extend(planes(&depth, DEPTH));
    }
    if !samples.is_empty() {
        channels.extend(planes(&samples, SAMPLES));
    }
    if !image.variance.is_empty() {
        channels.extend(planes(&image.variance, VARIANCE));
    }
    if let Some(noisy) = &noisy_rgb {
        channels.extend(planes(noisy, NOISY));
    }

    let attributes = LayerAttributes { software_name: Some(Text::from("Tessera")), ..LayerAttributes::default() };
    let size = (image.width as usize, image.height as usize);
    let layer = Layer::new(size, attributes, Encoding::SMALL_LOSSLESS, AnyChannels::sort(channels));
    Image::from_layer(layer).write().to_unbuffered(out).map_err(|e| e.to_string())
}

/// Reads an EXR written by [`super::write_image`] (or any single-part EXR with
/// at least R, G, B channels). A missing `A` reads as 1; AOV fields whose layer
/// is absent are left empty. The noisy beauty is not part of a `FrameImage`.
pub fn read_exr(path: &Path) -> Result<FrameImage, OutputError> {
    let file = ExrChannels::read(path)?;
    let rgb = file.layer("beauty", ["R", "G", "B"])?.ok_or_else(|| file.missing("beauty", &["R", "G", "B"]))?;
    let alpha = file.layer("beauty", ["A"])?;
    let color = match alpha {
        Some(a) => rgb.iter().zip(a).map(|(&[r, g, b], [a])| [r, g, b, a]).collect(),
        None => rgb.iter().map(|&[r, g, b]| [r, g, b, 1.0]).collect(),
    };
    let flat = |v: Vec<[f32; 1]>| v.into_iter().map(|[x]| x).collect();
    Ok(FrameImage {
        width: file.width,
        height: file.height,
        color,
        albedo: file.layer("albedo", ALBEDO)?.unwrap_or_default(),
        normal: file.layer("normal", NORMAL)?.unwrap_or_default(),
        depth: file.layer("depth", DEPTH)?.map(flat).unwrap_or_default(),
        samples: file.layer("samples", SAMPLES)?.map(flat).unwrap_or_default(),
        variance: file.layer("variance", VARIANCE)?.unwrap_or_default(),
    })
}

/// Reads the noisy beauty (`noisy.R/G/B`) that a denoised EXR keeps, if present.
pub fn read_noisy(path: &Path) -> Result<Option<Vec<[f32; 3]>>, OutputError> {
    ExrChannels::read(path)?.layer("noisy", NOISY)
}

/// Why an EXR header could not be read.
#[derive(Debug)]
pub enum HeaderError {
    /// The file could not be opened or is not a regular file.
    Io(String),
    /// It is not an OpenEXR file.
    Format(String),
}

/// The size the header of an EXR file declares for its first part: width,
/// height and channel count. Reads the header only, and only from a regular
/// file (never a device or a FIFO).
pub fn header_size(path: &Path) -> Result<(usize, usize, usize), HeaderError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(HeaderError::Io("not a regular file (a device, FIFO, socket or folder)".into())),
        Err(e) => return Err(HeaderError::Io(e.to_string())),
    }
    let meta = ::exr::meta::MetaData::read_from_file(path, false).map_err(|e| match e {
        ::exr::error::Error::Io(io) => HeaderError::Io(io.to_string()),
        other => HeaderError::Format(other.to_string()),
    })?;
    let header = meta.headers.first().ok_or_else(|| HeaderError::Format("the file has no parts".into()))?;
    Ok((header.layer_size.x(), header.layer_size.y(), header.channels.list.len()))
}

/// Every channel of a single-part EXR, by name, as f32 planes.
struct ExrChannels {
    path: String,
    width: u32,
    height: u32,
    channels: HashMap<String, Vec<f32>>,
}

impl ExrChannels {
    fn read(path: &Path) -> Result<Self, OutputError> {
        let path_str = path_string(path);
        let bad = |message: String| OutputError::Exr { path: path_str.clone(), message };
        let (width, height, channels) = header_size(path).map_err(|e| match e {
            HeaderError::Io(message) => OutputError::Io { path: path_str.clone(), message },
            HeaderError::Format(message) => bad(message),
        })?;
        // Each channel is read as f32 samples and copied once into its layer.
        let bytes = (width as u64).saturating_mul(height as u64).saturating_mul(channels as u64).saturating_mul(8);
        let limit = crate::scene::default_memory_limit();
        if bytes > limit {
            return Err(bad(format!(
                "{width}×{height} with {channels} channels reads to {}, over the memory budget of {}",
                crate::scene::format_bytes(bytes),
                crate::scene::format_bytes(limit)
            )));
        }
        let image = read()
            .no_deep_data()
            .largest_resolution_level()
            .all_channels()
            .all_layers()
            .all_attributes()
            .pedantic()
            .from_file(path)
            .map_err(|e| bad(e.to_string()))?;
        let parts = image.layer_data.len();
        let layer = match image.layer_data.into_iter().next() {
            Some(layer) if parts == 1 => layer,
            _ => return Err(bad(format!("it has {parts} parts; Tessera reads single-part EXR files"))),
        };
        let (width, height) = (layer.size.width(), layer.size.height());
        let pixels = width * height;
        let mut channels = HashMap::new();
        for channel in layer.channel_data.list {
            let name = channel.name.to_string();
            let values: Vec<f32> = channel.sample_data.values_as_f32().collect();
            if values.len() != pixels {
                return Err(OutputError::Layer {
                    path: path_str,
                    layer: name,
                    problem: format!(
                        "has {} samples for a {width}x{height} image (subsampled channels are not supported)",
                        values.len()
                    ),
                });
            }
            channels.insert(name, values);
        }
        let to_u32 = |v: usize| u32::try_from(v).map_err(|_| bad(format!("image size {width}x{height} is too large")));
        Ok(Self { width: to_u32(width)?, height: to_u32(height)?, channels, path: path_str })
    }

    /// The layer made of channels `names`: `None` when none of them exist, an
    /// error when only some do.
    fn layer<const N: usize>(&self, layer: &str, names: [&str; N]) -> Result<Option<Vec<[f32; N]>>, OutputError> {
        let found: Vec<Option<&Vec<f32>>> = names.iter().map(|n| self.channels.get(*n)).collect();
        if found.iter().all(Option::is_none) {
            return Ok(None);
        }
        if found.iter().any(Option::is_none) {
            return Err(self.missing(layer, &names));
        }
        let planes: Vec<&Vec<f32>> = found.into_iter().flatten().collect();
        let pixels = self.width as usize * self.height as usize;
        Ok(Some((0..pixels).map(|i| std::array::from_fn(|c| planes[c][i])).collect()))
    }

    fn missing(&self, layer: &str, names: &[&str]) -> OutputError {
        let mut present: Vec<&str> = self.channels.keys().map(String::as_str).collect();
        present.sort_unstable();
        let lacking: Vec<&str> = names.iter().copied().filter(|n| !self.channels.contains_key(*n)).collect();
        OutputError::Layer {
            path: self.path.clone(),
            layer: layer.to_string(),
            problem: format!(
                "is missing channel(s) {} (it needs {}; the file has {})",
                lacking.join(", "),
                names.join(", "),
                if present.is_empty() { "no channels".to_string() } else { present.join(", ") }
            ),
        }
    }
}
