//! PNG output: exposure, view transform, sRGB encoding, 8-bit RGBA.

use std::io::Write;

use image::ImageEncoder;
use rayon::prelude::*;

use super::tonemap::display_encode;
use super::OutputOptions;

/// Tone-maps linear RGBA pixels with associated (premultiplied) alpha, as the
/// film and EXR hold them, to 8-bit sRGB RGBA with straight alpha, as PNG
/// holds it: colour is divided by alpha before tone mapping.
pub fn encode_rgba8(color: &[[f32; 4]], opts: &OutputOptions) -> Vec<u8> {
    let mut bytes = vec![0u8; color.len() * 4];
    bytes.par_chunks_mut(4).zip(color.par_iter()).for_each(|(out, &[r, g, b, a])| {
        let rgb = unpremultiply([r, g, b], a);
        let rgb = display_encode(rgb, opts.exposure, opts.view);
        out[..3].copy_from_slice(&rgb.map(to_u8));
        out[3] = to_u8(a);
    });
    bytes
}

/// Straight colour from associated colour; fully transparent pixels keep theirs.
pub fn unpremultiply(rgb: [f32; 3], alpha: f32) -> [f32; 3] {
    if alpha > 0.0 && alpha < 1.0 {
        rgb.map(|c| c / alpha)
    } else {
        rgb
    }
}

/// Quantises a [0, 1] value to 8 bits, rounding to nearest (NaN becomes 0).
fn to_u8(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// Encodes `color` (`width × height` pixels) as a PNG into `out`.
pub(super) fn write(
    out: &mut impl Write,
    width: u32,
    height: u32,
    color: &[[f32; 4]],
    opts: &OutputOptions,
) -> Result<(), String> {
    let bytes = encode_rgba8(color, opts);
    image::codecs::png::PngEncoder::new(out)
        .write_image(&bytes, width, height, image::ExtendedColorType::Rgba8)
        .map_err(|e| e.to_string())
}
