//! Texture lookups on the flat scene (bilinear filtering, wrap modes, sRGB decoding,
//! KHR_texture_transform), spelled as in `shaders/texture.wgsl` and `kernels/texture.cuh`.
//! This is the reference the GPU ports copy: plain arithmetic, no caching.

use std::sync::LazyLock;

use glam::{Vec2, Vec4};

use super::flat::{
    FlatScene, Texture, TextureSlot, NONE, TEX_NEAREST, TEX_SRGB, WRAP_CLAMP, WRAP_MIRROR, WRAP_S_SHIFT, WRAP_T_SHIFT,
};

/// sRGB-encoded byte → linear value (IEC 61966-2-1). The GPU backends upload
/// this table, so all three backends decode texels alike.
pub static SRGB_TO_LINEAR: LazyLock<[f32; 256]> = LazyLock::new(|| {
    std::array::from_fn(|i| {
        let c = i as f32 / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    })
});

/// Texture coordinates (UV sets 0 and 1) of triangle `tri` at barycentrics (u, v).
pub fn triangle_uvs(scene: &FlatScene, tri: u32, u: f32, v: f32) -> (Vec2, Vec2) {
    let idx = scene.triangle_vertices[tri as usize].v;
    let [a, b, c] = idx.map(|i| &scene.vertices[i as usize]);
    let w = 1.0 - u - v;
    let lerp = |x: [f32; 2], y: [f32; 2], z: [f32; 2]| Vec2::from(x) * w + Vec2::from(y) * u + Vec2::from(z) * v;
    (lerp(a.uv0, b.uv0, c.uv0), lerp(a.uv1, b.uv1, c.uv1))
}

/// Filtered linear RGBA of `slot` at the given UV sets; (1,1,1,1) when the slot is empty.
pub fn sample_slot(scene: &FlatScene, slot: &TextureSlot, uv0: Vec2, uv1: Vec2) -> Vec4 {
    if slot.texture == NONE {
        return Vec4::ONE;
    }
    let uv = if slot.texcoord == 1 { uv1 } else { uv0 };
    let (ru, rv) = (slot.row_u, slot.row_v);
    let u = ru[0] * uv.x + ru[1] * uv.y + ru[2];
    let v = rv[0] * uv.x + rv[1] * uv.y + rv[2];
    sample_texture(scene, &scene.textures[slot.texture as usize], u, v)
}

/// Filtered linear RGBA of a texture at (u, v); (0, 0) is the top-left corner of the image.
pub fn sample_texture(scene: &FlatScene, tex: &Texture, u: f32, v: f32) -> Vec4 {
    let (w, h) = (tex.width as i32, tex.height as i32);
    let wrap_s = (tex.flags >> WRAP_S_SHIFT) & 3;
    let wrap_t = (tex.flags >> WRAP_T_SHIFT) & 3;
    let x = u * w as f32;
    let y = v * h as f32;
    if tex.flags & TEX_NEAREST != 0 {
        let (ix, iy) = (wrap(x.floor() as i32, w, wrap_s), wrap(y.floor() as i32, h, wrap_t));
        return texel(scene, tex, ix, iy);
    }
    // Texel centres sit at half-integer coordinates.
    let (x, y) = (x - 0.5, y - 0.5);
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as i32, y0 as i32);
    let (xa, xb) = (wrap(x0, w, wrap_s), wrap(x0.saturating_add(1), w, wrap_s));
    let (ya, yb) = (wrap(y0, h, wrap_t), wrap(y0.saturating_add(1), h, wrap_t));
    let top = texel(scene, tex, xa, ya) * (1.0 - fx) + texel(scene, tex, xb, ya) * fx;
    let bottom = texel(scene, tex, xa, yb) * (1.0 - fx) + texel(scene, tex, xb, yb) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// A texel coordinate wrapped into [0, n): repeat, clamp to edge, or mirrored repeat.
fn wrap(i: i32, n: i32, mode: u32) -> i32 {
    match mode {
        WRAP_CLAMP => i.clamp(0, n - 1),
        WRAP_MIRROR => {
            let m = i.rem_euclid(2 * n);
            if m < n {
                m
            } else {
                2 * n - 1 - m
            }
        }
        _ => i.rem_euclid(n),
    }
}

/// One texel as linear RGBA (sRGB decoded per channel before any filtering).
fn texel(scene: &FlatScene, tex: &Texture, x: i32, y: i32) -> Vec4 {
    decode_texel(scene.texels[(tex.offset + y as u32 * tex.width + x as u32) as usize], tex.flags)
}

/// Linear RGBA of a packed RGBA8 texel of a texture with `flags` (sRGB colour or linear data).
pub(crate) fn decode_texel(t: u32, flags: u32) -> Vec4 {
    let [r, g, b, a] = t.to_le_bytes();
    let alpha = a as f32 / 255.0;
    if flags & TEX_SRGB != 0 {
        let lut = &*SRGB_TO_LINEAR;
        Vec4::new(lut[r as usize], lut[g as usize], lut[b as usize], alpha)
    } else {
        Vec4::new(r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0, alpha)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_modes() {
        let repeat: Vec<i32> = (-3..5).map(|i| wrap(i, 3, 0)).collect();
        assert_eq!(repeat, [0, 1, 2, 0, 1, 2, 0, 1]);
        let clamp: Vec<i32> = (-2..5).map(|i| wrap(i, 3, WRAP_CLAMP)).collect();
        assert_eq!(clamp, [0, 0, 0, 1, 2, 2, 2]);
        let mirror: Vec<i32> = (-4..7).map(|i| wrap(i, 3, WRAP_MIRROR)).collect();
        assert_eq!(mirror, [2, 2, 1, 0, 0, 1, 2, 2, 1, 0, 0]);
    }

    #[test]
    fn srgb_table_endpoints() {
        assert_eq!(SRGB_TO_LINEAR[0], 0.0);
        assert_eq!(SRGB_TO_LINEAR[255], 1.0);
        assert!((SRGB_TO_LINEAR[128] - 0.21586).abs() < 1e-4);
    }
}
