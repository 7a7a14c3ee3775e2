// Texture lookups on the flat scene (src/scene/texture.rs): bilinear or
// nearest filtering, wrap modes, sRGB decoding through the same table as the
// CPU, KHR_texture_transform.
#pragma once

#include "layout.cuh"

// A texel coordinate wrapped into [0, n): repeat, clamp to edge, or mirrored repeat.
TS_HD int wrap(int i, int n, unsigned mode) {
    if (mode == WRAP_CLAMP) return i < 0 ? 0 : (i > n - 1 ? n - 1 : i);
    if (mode == WRAP_MIRROR) {
        int m = rem_euclid(i, 2 * n);
        return m < n ? m : 2 * n - 1 - m;
    }
    return rem_euclid(i, n);
}

TS_HD float4 texel(const SceneView& s, const Texture& tex, int x, int y) {
    unsigned t = ldg(s.texels + (tex.offset + (unsigned)y * tex.width + (unsigned)x));
    unsigned r = t & 0xffu, g = (t >> 8u) & 0xffu, b = (t >> 16u) & 0xffu, a = t >> 24u;
    float alpha = (float)a / 255.0f;
    if (tex.flags & TEX_SRGB) {
        return make_float4(ldg(s.srgb_to_linear + r), ldg(s.srgb_to_linear + g), ldg(s.srgb_to_linear + b), alpha);
    }
    return make_float4((float)r / 255.0f, (float)g / 255.0f, (float)b / 255.0f, alpha);
}

TS_HD float4 sample_texture(const SceneView& s, const Texture& tex, float u, float v) {
    int w = (int)tex.width, h = (int)tex.height;
    unsigned wrap_s = (tex.flags >> WRAP_S_SHIFT) & 3u;
    unsigned wrap_t = (tex.flags >> WRAP_T_SHIFT) & 3u;
    float x = u * (float)w;
    float y = v * (float)h;
    if (tex.flags & TEX_NEAREST) {
        int ix = wrap(sat_f2i(floorf(x)), w, wrap_s);
        int iy = wrap(sat_f2i(floorf(y)), h, wrap_t);
        return texel(s, tex, ix, iy);
    }
    // Texel centres sit at half-integer coordinates.
    x = x - 0.5f;
    y = y - 0.5f;
    float x0f = floorf(x), y0f = floorf(y);
    float fx = x - x0f, fy = y - y0f;
    int x0 = sat_f2i(x0f), y0 = sat_f2i(y0f);
    int xa = wrap(x0, w, wrap_s), xb = wrap(saturating_add(x0, 1), w, wrap_s);
    int ya = wrap(y0, h, wrap_t), yb = wrap(saturating_add(y0, 1), h, wrap_t);
    float4 top = texel(s, tex, xa, ya) * (1.0f - fx) + texel(s, tex, xb, ya) * fx;
    float4 bottom = texel(s, tex, xa, yb) * (1.0f - fx) + texel(s, tex, xb, yb) * fx;
    return top * (1.0f - fy) + bottom * fy;
}

// Texture coordinates (UV sets 0 and 1) of a triangle at barycentrics (u, v).
struct TriangleUvs {
    float2 uv0, uv1;
};

TS_HD TriangleUvs triangle_uvs(const SceneView& s, unsigned tri, float u, float v) {
    TriangleVertices idx = ldg(s.triangle_vertices + tri);
    const Vertex& a = s.vertices[idx.v[0]];
    const Vertex& b = s.vertices[idx.v[1]];
    const Vertex& c = s.vertices[idx.v[2]];
    float w = 1.0f - u - v;
    return TriangleUvs{a.uv0 * w + b.uv0 * u + c.uv0 * v, a.uv1 * w + b.uv1 * u + c.uv1 * v};
}

// Filtered linear RGBA of a material's texture slot; (1,1,1,1) when the slot is empty.
TS_HD float4 sample_slot(const SceneView& s, const TextureSlot& slot, float2 uv0, float2 uv1) {
    if (slot.texture == NONE) return make_float4(1.0f, 1.0f, 1.0f, 1.0f);
    float2 uv = slot.texcoord == 1u ? uv1 : uv0;
    float4 ru = slot.row_u, rv = slot.row_v;
    float u = ru.x * uv.x + ru.y * uv.y + ru.z;
    float v = rv.x * uv.x + rv.y * uv.y + rv.z;
    Texture tex = ldg(s.textures + slot.texture);
    return sample_texture(s, tex, u, v);
}
