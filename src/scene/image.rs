//! Texture images: PNG/JPEG from files, `data:` URIs or buffer views, decoded to
//! RGBA8 texels (any bit depth or channel count) in parallel.

use rayon::prelude::*;

use super::buffers::{read_uri, short_uri, BufferData};
use super::error::SceneError;

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

/// Decodes the given glTF images, in that order.
pub(crate) fn decode_images(data: &BufferData, images: &[gltf::Image]) -> Result<Vec<Image>, SceneError> {
    // Gather the encoded bytes first (cheap, needs the document), then decode in parallel.
    let encoded = images
        .iter()
        .map(|image| {
            let i = image.index();
            // Read the JSON directly: the gltf crate's `source()` panics on images
            // without a MIME type or a URI.
            let json = &data.doc.as_json().images[i];
            let (name, bytes) = match (&json.uri, json.buffer_view) {
                (_, Some(view)) => {
                    let name = image.name().map_or_else(|| format!("bufferViews[{}]", view.value()), str::to_string);
                    let field = format!("images[{i}] \"{name}\"");
                    let view = data
                        .doc
                        .views()
                        .nth(view.value())
                        .ok_or_else(|| SceneError::field(data.file, &field, "bufferView index is out of range"))?;
                    (name, data.view_bytes(&view, &field)?.to_vec())
                }
                (Some(uri), None) => {
                    let name = short_uri(uri);
                    let field = format!("images[{i}] \"{name}\"");
                    let bytes = read_uri(data.file, uri).map_err(|m| SceneError::field(data.file, field, m))?;
                    (name, bytes)
                }
                (None, None) => {
                    return Err(SceneError::field(
                        data.file,
                        format!("images[{i}]"),
                        "has neither a uri nor a bufferView",
                    ))
                }
            };
            Ok((i, name, bytes))
        })
        .collect::<Result<Vec<_>, SceneError>>()?;
    let file = data.file;
    encoded
        .into_par_iter()
        .map(|(i, name, bytes)| {
            let decoded = image::load_from_memory(&bytes).map_err(|e| {
                SceneError::field(file, format!("images[{i}] \"{name}\""), format!("cannot decode image: {e}"))
            })?;
            let rgba = decoded.to_rgba8();
            let texels = rgba.pixels().map(|p| u32::from_le_bytes(p.0)).collect();
            Ok(Image { name, width: rgba.width(), height: rgba.height(), texels })
        })
        .collect()
}
