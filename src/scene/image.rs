//! Texture images: PNG/JPEG/HDR from files, `data:` URIs or buffer views, decoded
//! to RGBA8 texels (any bit depth or channel count) in parallel.
//!
//! Each image's size is read from its header and charged to the budget before
//! it is decoded (the decoder is also given the remaining budget as its
//! allocation limit), and glTF images that name the same file, data URI or
//! buffer view are decoded once.

use std::collections::HashMap;
use std::io::Cursor;

use image::{ImageDecoder, ImageReader, Limits};
use rayon::prelude::*;

use super::buffers::{short_uri, BufferData};
use super::error::SceneError;
use super::limits::bytes_of;
use super::uri::Source;

/// A decoded image: `width * height` RGBA8 texels (R in the low byte), rows top to bottom.
#[derive(Clone)]
pub struct Image {
    /// The URI or name the file gives, for messages and `tessera info`.
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub texels: Vec<u32>,
}

impl std::fmt::Debug for Image {
    /// Size only: texels would flood any log.
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "Image({:?}, {}x{})", self.name, self.width, self.height)
    }
}

/// Where a glTF image's bytes come from, for finding images with the same bytes.
#[derive(Clone, PartialEq, Eq, Hash)]
enum ImageKey {
    Uri(Source),
    View(usize),
}

/// An image to decode: its field (`images[i].uri`), how messages name it, its bytes.
struct Encoded {
    field: String,
    name: String,
    bytes: Vec<u8>,
    /// Bytes charged for decoding it; the decoder may allocate no more.
    decode_bytes: u64,
}

/// Decodes the given glTF images. Returns the distinct decoded images and, for
/// each image of `images` in order, the index of its decoded image.
pub(crate) fn decode_images(data: &BufferData, images: &[gltf::Image]) -> Result<(Vec<Image>, Vec<usize>), SceneError> {
    let mut distinct: HashMap<ImageKey, usize> = HashMap::new();
    let mut encoded: Vec<Encoded> = Vec::new();
    let mut mapping = Vec::with_capacity(images.len());
    for image in images {
        let i = image.index();
        // Read the JSON directly: the gltf crate's `source()` panics on images
        // without a MIME type or a URI.
        let json = &data.doc.as_json().images[i];
        let (field, name, key) = match (&json.uri, json.buffer_view) {
            (_, Some(view)) => {
                let name = image.name().map_or_else(|| format!("bufferViews[{}]", view.value()), str::to_string);
                (format!("images[{i}].bufferView"), name, ImageKey::View(view.value()))
            }
            (Some(uri), None) => {
                let field = format!("images[{i}].uri");
                let name = short_uri(uri);
                let source = data
                    .uris
                    .resolve(uri)
                    .map_err(|m| SceneError::field(data.file, &field, format!("\"{name}\": {m}")))?;
                (field, name, ImageKey::Uri(source))
            }
            (None, None) => {
                return Err(SceneError::field(data.file, format!("images[{i}]"), "has neither a uri nor a bufferView"))
            }
        };
        if let Some(&at) = distinct.get(&key) {
            mapping.push(at);
            continue;
        }
        let fail = |m: String| SceneError::field(data.file, &field, format!("\"{name}\": {m}"));
        let bytes = match &key {
            ImageKey::View(v) => {
                let view = data.doc.views().nth(*v).ok_or_else(|| fail("bufferView index is out of range".into()))?;
                let bytes = data.view_bytes(&view, &field)?;
                data.charge(&field, bytes.len() as u64, || format!("\"{name}\": the encoded image holds"))?;
                bytes.to_vec()
            }
            ImageKey::Uri(source) => data.uris.read(source, data.budget).map_err(fail)?,
        };
        let mut image = Encoded { field, name, bytes, decode_bytes: 0 };
        image.decode_bytes = charge_decoded(data, &image)?;
        distinct.insert(key, encoded.len());
        mapping.push(encoded.len());
        encoded.push(image);
    }
    let file = data.file;
    let decoded = encoded
        .into_par_iter()
        .map(|image| {
            let fail = |e: image::ImageError| {
                SceneError::field(file, &image.field, format!("\"{}\": cannot decode image: {e}", image.name))
            };
            let mut reader = ImageReader::new(Cursor::new(&image.bytes))
                .with_guessed_format()
                .map_err(|e| fail(image::ImageError::IoError(e)))?;
            reader.limits(alloc_limit(image.decode_bytes));
            let rgba = reader.decode().map_err(fail)?.into_rgba8();
            let texels = rgba.pixels().map(|p| u32::from_le_bytes(p.0)).collect();
            Ok(Image { name: image.name, width: rgba.width(), height: rgba.height(), texels })
        })
        .collect::<Result<Vec<_>, SceneError>>()?;
    Ok((decoded, mapping))
}

fn alloc_limit(bytes: u64) -> Limits {
    let mut limits = Limits::default();
    limits.max_alloc = Some(bytes);
    limits
}

/// Reads the image's header and charges what decoding it takes (the decoded
/// pixels, their RGBA8 conversion and the texels kept), returning that figure.
/// Empty images are refused.
fn charge_decoded(data: &BufferData, image: &Encoded) -> Result<u64, SceneError> {
    let fail = |m: String| SceneError::field(data.file, &image.field, format!("\"{}\": {m}", image.name));
    let mut reader = ImageReader::new(Cursor::new(&image.bytes))
        .with_guessed_format()
        .map_err(|e| fail(format!("cannot decode image: {e}")))?;
    reader.limits(alloc_limit(64 << 20)); // Headers only: nothing large is read here.
    let decoder = reader.into_decoder().map_err(|e| fail(format!("cannot decode image: {e}")))?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(fail(format!("the image is {width}×{height}: it has no texels")));
    }
    let pixels = u64::from(width) * u64::from(height);
    let bytes = decoder.total_bytes().saturating_add(bytes_of(pixels, 8));
    let channels = format!("{:?}", decoder.color_type()).to_uppercase();
    data.budget.charge(bytes, || format!("{width}×{height} {channels} decodes to")).map_err(fail)?;
    Ok(bytes)
}
