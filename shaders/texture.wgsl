// Texture lookups on the flat scene, as src/scene/texture.rs: every texture is
// RGBA8 texels in the one `texels` buffer, filtered here (bilinear or nearest,
// repeat / clamp / mirrored-repeat wrapping, sRGB decoded per texel by table).

// Texture coordinates (UV sets 0 and 1) of a triangle at barycentrics (u, v).
struct TriangleUvs {
    uv0: vec2<f32>,
    uv1: vec2<f32>,
}

fn triangle_uvs(tri: u32, u: f32, v: f32) -> TriangleUvs {
    let idx = triangle_vertices[tri].v;
    let a = vertices[idx.x];
    let b = vertices[idx.y];
    let c = vertices[idx.z];
    let w = 1.0 - u - v;
    return TriangleUvs(a.uv0 * w + b.uv0 * u + c.uv0 * v, a.uv1 * w + b.uv1 * u + c.uv1 * v);
}

// Filtered linear RGBA of a slot at the given UV sets; 1 when the slot is empty.
fn sample_slot(slot: TextureSlot, uv0: vec2<f32>, uv1: vec2<f32>) -> vec4<f32> {
    if slot.texture == NONE {
        return vec4<f32>(1.0);
    }
    let uv = select(uv0, uv1, slot.texcoord == 1u);
    let u = slot.row_u.x * uv.x + slot.row_u.y * uv.y + slot.row_u.z;
    let v = slot.row_v.x * uv.x + slot.row_v.y * uv.y + slot.row_v.z;
    return sample_texture(textures[slot.texture], u, v);
}

// A texel coordinate as Rust's saturating `as i32` gives it, kept within ±2³⁰
// so that the +1 of the bilinear footprint cannot overflow (NaN gives 0).
fn texel_coordinate(x: f32) -> i32 {
    if !(abs(x) < 1073741824.0) {
        if x > 0.0 {
            return 1073741824;
        } else if x < 0.0 {
            return -1073741824;
        }
        return 0;
    }
    return i32(x);
}

fn sample_texture(tex: Texture, u: f32, v: f32) -> vec4<f32> {
    let w = i32(tex.width);
    let h = i32(tex.height);
    let wrap_s = (tex.flags >> WRAP_S_SHIFT) & 3u;
    let wrap_t = (tex.flags >> WRAP_T_SHIFT) & 3u;
    let x = u * f32(w);
    let y = v * f32(h);
    if (tex.flags & TEX_NEAREST) != 0u {
        let ix = wrap(texel_coordinate(floor(x)), w, wrap_s);
        let iy = wrap(texel_coordinate(floor(y)), h, wrap_t);
        return texel(tex, ix, iy);
    }
    // Texel centres sit at half-integer coordinates.
    let xc = x - 0.5;
    let yc = y - 0.5;
    let x0f = floor(xc);
    let y0f = floor(yc);
    let fx = xc - x0f;
    let fy = yc - y0f;
    let x0 = texel_coordinate(x0f);
    let y0 = texel_coordinate(y0f);
    let xa = wrap(x0, w, wrap_s);
    let xb = wrap(x0 + 1, w, wrap_s);
    let ya = wrap(y0, h, wrap_t);
    let yb = wrap(y0 + 1, h, wrap_t);
    let top = texel(tex, xa, ya) * (1.0 - fx) + texel(tex, xb, ya) * fx;
    let bottom = texel(tex, xa, yb) * (1.0 - fx) + texel(tex, xb, yb) * fx;
    return top * (1.0 - fy) + bottom * fy;
}

// i mod n in [0, n), as i32::rem_euclid for n > 0.
fn rem_euclid(i: i32, n: i32) -> i32 {
    let r = i % n;
    return select(r, r + n, r < 0);
}

// A texel coordinate wrapped into [0, n): repeat, clamp to edge, or mirrored repeat.
fn wrap(i: i32, n: i32, mode: u32) -> i32 {
    if mode == WRAP_CLAMP {
        return clamp(i, 0, n - 1);
    }
    // One remainder for both periodic modes (integer division is slow on some devices).
    let mirror = mode == WRAP_MIRROR;
    let m = rem_euclid(i, select(n, 2 * n, mirror));
    return select(m, 2 * n - 1 - m, m >= n);
}

// sRGB-encoded byte → linear value: the CPU's table, so both decode alike to the bit.
fn srgb_byte_to_linear(byte: u32) -> f32 {
    return table_at(SRGB_TABLE + byte);
}

// One texel as linear RGBA (sRGB decoded before any filtering).
fn texel(tex: Texture, x: i32, y: i32) -> vec4<f32> {
    let t = texels[tex.offset + u32(y) * tex.width + u32(x)];
    let bytes = vec4<u32>(t & 0xffu, (t >> 8u) & 0xffu, (t >> 16u) & 0xffu, t >> 24u);
    let alpha = f32(bytes.w) / 255.0;
    if (tex.flags & TEX_SRGB) != 0u {
        return vec4<f32>(srgb_byte_to_linear(bytes.x), srgb_byte_to_linear(bytes.y), srgb_byte_to_linear(bytes.z), alpha);
    }
    return vec4<f32>(vec3<f32>(bytes.xyz) / 255.0, alpha);
}
