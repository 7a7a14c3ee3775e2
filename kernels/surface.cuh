// What the integrator knows about a hit: interpolated attributes and the
// material evaluated there (src/render/surface.rs), and the scene-level
// intersect/occluded queries with alpha-masked triangles.
#pragma once

#include "bsdf.cuh"
#include "motion.cuh"
#include "texture.cuh"

struct SurfaceHit {
    float3 position;
    float3 geo_normal;  // unit, as wound (not flipped towards the ray)
    float3 normal;      // interpolated vertex normal, unit (not flipped)
    float4 tangent;     // xyz tangent, w bitangent sign
    float2 uv0;
    float2 uv1;
    unsigned material;
    bool front_face;    // the ray arrived on the side the geometric normal points to
};

TS_HD SurfaceHit surface_hit(const SceneView& s, const Hit& hit, float3 ray_dir, const Instant& at) {
    const Triangle tri = triangle_at(s, hit.tri, at);
    float3 geo_normal = normalize_or(cross(tri.e1, tri.e2), make_float3(0.0f, 0.0f, 1.0f));
    TriangleVertices idx = ldg(s.triangle_vertices + hit.tri);
    const Vertex a = vertex_at(s, idx.v[0], at);
    const Vertex b = vertex_at(s, idx.v[1], at);
    const Vertex c = vertex_at(s, idx.v[2], at);
    float w = 1.0f - hit.u - hit.v;
    SurfaceHit sh;
    sh.normal = normalize_or(a.normal * w + b.normal * hit.u + c.normal * hit.v, geo_normal);
    sh.tangent = a.tangent * w + b.tangent * hit.u + c.tangent * hit.v;
    sh.position = tri.v0 + tri.e1 * hit.u + tri.e2 * hit.v;
    sh.geo_normal = geo_normal;
    sh.uv0 = a.uv0 * w + b.uv0 * hit.u + c.uv0 * hit.v;
    sh.uv1 = a.uv1 * w + b.uv1 * hit.u + c.uv1 * hit.v;
    sh.material = tri.material;
    sh.front_face = dot(ray_dir, geo_normal) < 0.0f;
    return sh;
}

struct ShadingPoint {
    Bsdf bsdf;
    Frame frame;        // normal-mapped, oriented as described at shade()
    float3 geo_normal;  // on the same side as frame.n
    float3 emission;    // towards the ray's origin (an unlit material's base colour)
    float3 albedo;      // base colour, for the albedo AOV
};

TS_HD bool is_refractive(const Material& m) { return m.transmission > 0.0f && (m.flags & MAT_THIN_WALLED) == 0u; }

// The absorbing medium after scattering at m from local wo to local wi (surface.rs: medium_after).
TS_HD float3 medium_after(const Material& m, float wo_z, float wi_z, float3 current) {
    if (!is_refractive(m) || wo_z * wi_z >= 0.0f) return current;
    return wo_z > 0.0f ? m.attenuation : splat3(0.0f);
}

// Beer–Lambert transmittance over `distance` (possibly infinite); one in clear channels.
TS_HD float3 transmittance(float3 sigma, float distance) {
    return make_float3(sigma.x > 0.0f ? expf(-sigma.x * distance) : 1.0f,
                       sigma.y > 0.0f ? expf(-sigma.y * distance) : 1.0f,
                       sigma.z > 0.0f ? expf(-sigma.z * distance) : 1.0f);
}

TS_HD float material_alpha(const SceneView& s, const Material& m, float2 uv0, float2 uv1) {
    return m.base_color.w * sample_slot(s, m.base_color_tex, uv0, uv1).w;
}

// Alpha-mask test for traversal: whether a hit on triangle `tri` at (u, v) counts.
TS_HD bool alpha_mask_accepts(const SceneView& s, unsigned tri, float u, float v) {
    unsigned material = ldg(&s.triangles[tri].material);
    const Material& m = s.materials[material];
    TriangleUvs uvs = triangle_uvs(s, tri, u, v);
    return material_alpha(s, m, uvs.uv0, uvs.uv1) >= m.alpha_cutoff;
}

struct AlphaMask {
    const SceneView* scene;
    TS_HD bool operator()(unsigned tri, float u, float v) const { return alpha_mask_accepts(*scene, tri, u, v); }
};

// Closest hit at `at`: among the static triangles, then among the moving ones
// nearer than that (motion.cuh).
TS_HD bool intersect(const SceneView& s, const Ray& ray, float t_max, const Instant& at, Hit& hit) {
    AlphaMask accept{&s};
    StoredTriangles stored{s.triangles};
    bool found = traverse<false>(s.nodes, s.header.num_nodes, stored, 0u, ray, t_max, accept, hit);
    if (!at.moving) return found;
    MovingTriangles moving{&s, at};
    Hit moved;
    if (traverse<false>(segment_nodes(s, at), s.motion.moving_nodes, moving, s.motion.static_triangles, ray,
                        found ? hit.t : t_max, accept, moved)) {
        hit = moved;
        return true;
    }
    return found;
}

TS_HD bool occluded(const SceneView& s, const Ray& ray, float t_max, const Instant& at) {
    AlphaMask accept{&s};
    StoredTriangles stored{s.triangles};
    Hit hit;
    if (traverse<true>(s.nodes, s.header.num_nodes, stored, 0u, ray, t_max, accept, hit)) return true;
    if (!at.moving) return false;
    MovingTriangles moving{&s, at};
    return traverse<true>(segment_nodes(s, at), s.motion.moving_nodes, moving, s.motion.static_triangles, ray, t_max,
                          accept, hit);
}

// The vertex normal perturbed by the tangent-space normal map in `slot` (surface.rs: normal_mapped).
TS_HD float3 normal_mapped(const SceneView& s, const SurfaceHit& hit, const TextureSlot& slot, float scale) {
    float3 t = xyz(hit.tangent);
    if (slot.texture == NONE || !(length_squared(t) > 0.0f)) return hit.normal;
    float3 n_ts = xyz(sample_slot(s, slot, hit.uv0, hit.uv1)) * 2.0f - splat3(1.0f);
    n_ts = make_float3(n_ts.x * scale, n_ts.y * scale, n_ts.z);
    Frame frame = frame_from_normal_tangent(hit.normal, t);
    float sign = hit.tangent.w < 0.0f ? -1.0f : 1.0f;
    return normalize_or(frame.t * n_ts.x + frame.b * (n_ts.y * sign) + frame.n * n_ts.z, hit.normal);
}

// KHR_materials_anisotropy at a hit: the world direction in xyz, the strength in w
// (surface.rs: anisotropy_direction). `normal` is before the two-sided flip.
TS_HD float4 anisotropy_direction(const SceneView& s, const SurfaceHit& hit, const Material& m, float3 normal) {
    float2 direction = make_float2(1.0f, 0.0f);
    float strength = 1.0f;
    if (m.anisotropy_tex.texture != NONE) {
        float4 texel = sample_slot(s, m.anisotropy_tex, hit.uv0, hit.uv1);
        direction = make_float2(texel.x * 2.0f - 1.0f, texel.y * 2.0f - 1.0f);
        strength = texel.z;
    }
    float2 r = m.anisotropy_rotation;
    direction = make_float2(r.x * direction.x - r.y * direction.y, r.y * direction.x + r.x * direction.y);
    Frame frame = frame_from_normal_tangent(normal, xyz(hit.tangent));
    float sign = hit.tangent.w < 0.0f ? -1.0f : 1.0f;
    float3 world = frame.t * direction.x + frame.b * (direction.y * sign);
    return make_float4(world.x, world.y, world.z, m.anisotropy_strength * strength);
}

// Evaluates the material at a hit. Opaque and thin materials are two-sided (the
// frame faces the incoming ray); refractive ones keep the outward frame.
TS_HD ShadingPoint shade(const SceneView& s, const SurfaceHit& hit) {
    const Material& m = s.materials[hit.material];
    float4 base = m.base_color * sample_slot(s, m.base_color_tex, hit.uv0, hit.uv1);
    float4 mr = sample_slot(s, m.metallic_roughness_tex, hit.uv0, hit.uv1);
    float roughness = m.roughness * mr.y;
    float metallic = m.metallic * mr.z;
    float transmission = m.transmission * sample_slot(s, m.transmission_tex, hit.uv0, hit.uv1).x;
    float specular = m.specular * sample_slot(s, m.specular_tex, hit.uv0, hit.uv1).w;
    bool emissive_side = hit.front_face || (m.flags & MAT_DOUBLE_SIDED) != 0u;
    bool unlit = (m.flags & MAT_UNLIT) != 0u;
    float3 emission = !emissive_side ? splat3(0.0f)
                      : unlit        ? xyz(base)
                                     : m.emission * xyz(sample_slot(s, m.emissive_tex, hit.uv0, hit.uv1));

    // The two-sided flip (the coat's normal turns with the surface's).
    float flip = (!hit.front_face && !is_refractive(m)) ? -1.0f : 1.0f;
    float3 mapped = normal_mapped(s, hit, m.normal_tex, m.normal_scale);
    // The frame's tangent follows the anisotropy direction where there is one.
    float4 anisotropy = m.anisotropy_strength > 0.0f ? anisotropy_direction(s, hit, m, mapped)
                                                     : make_float4(hit.tangent.x, hit.tangent.y, hit.tangent.z, 0.0f);
    float3 normal = mapped * flip;
    float3 geo_normal = hit.geo_normal * flip;
    float3 tangent = xyz(anisotropy) * flip;
    bool thin = (m.flags & MAT_THIN_WALLED) != 0u;
    ShadingPoint sp;
    sp.frame = frame_from_normal_tangent(normal, tangent);
    sp.bsdf = bsdf_new(xyz(base), metallic, roughness, m.ior, transmission, thin, specular);
    if (m.specular_color.x != 1.0f || m.specular_color.y != 1.0f || m.specular_color.z != 1.0f ||
        m.specular_color_tex.texture != NONE) {
        float3 color = m.specular_color * xyz(sample_slot(s, m.specular_color_tex, hit.uv0, hit.uv1));
        sp.bsdf = bsdf_with_specular_color(sp.bsdf, color);
    }
    if (m.iridescence > 0.0f) {
        // Without a thickness texture the film is iridescence_thickness_max thick.
        float lo = m.iridescence_thickness_min, hi = m.iridescence_thickness_max;
        float thickness = lo + (hi - lo) * sample_slot(s, m.iridescence_thickness_tex, hit.uv0, hit.uv1).y;
        float factor = m.iridescence * sample_slot(s, m.iridescence_tex, hit.uv0, hit.uv1).x;
        sp.bsdf = bsdf_with_iridescence(sp.bsdf, factor, m.iridescence_ior, thickness);
    }
    if (anisotropy.w > 0.0f) sp.bsdf = bsdf_with_anisotropy(sp.bsdf, anisotropy.w);
    if (m.clearcoat > 0.0f) {
        float3 coat_normal = normal_mapped(s, hit, m.clearcoat_normal_tex, m.clearcoat_normal_scale) * flip;
        float weight = m.clearcoat * sample_slot(s, m.clearcoat_tex, hit.uv0, hit.uv1).x;
        float coat_roughness = m.clearcoat_roughness * sample_slot(s, m.clearcoat_roughness_tex, hit.uv0, hit.uv1).y;
        float3 local = normalize_or(to_local(sp.frame, coat_normal), make_float3(0.0f, 0.0f, 1.0f));
        sp.bsdf = bsdf_with_coat(sp.bsdf, weight, coat_roughness, local);
    }
    if (m.sheen_color.x != 0.0f || m.sheen_color.y != 0.0f || m.sheen_color.z != 0.0f) {
        float3 color = m.sheen_color * xyz(sample_slot(s, m.sheen_color_tex, hit.uv0, hit.uv1));
        float roughness = m.sheen_roughness * sample_slot(s, m.sheen_roughness_tex, hit.uv0, hit.uv1).w;
        sp.bsdf = bsdf_with_sheen(sp.bsdf, color, roughness);
    }
    sp.geo_normal = geo_normal;
    sp.emission = emission;
    sp.albedo = xyz(base);
    return sp;
}

// Moves a ray origin off a surface along n (the side the ray leaves to), scaled to
// the magnitude of p (Wächter & Binder, Ray Tracing Gems, 2019).
TS_HD float offset_coordinate(float p, float n) {
    const float ORIGIN = 1.0f / 32.0f;
    const float FLOAT_SCALE = 1.0f / 65536.0f;
    const float INT_SCALE = 256.0f;
    int of_i = sat_f2i(INT_SCALE * n);
    unsigned bits = __float_as_uint(p);
    float p_i = __uint_as_float(p < 0.0f ? bits - (unsigned)of_i : bits + (unsigned)of_i);
    return fabsf(p) < ORIGIN ? p + FLOAT_SCALE * n : p_i;
}

TS_HD float3 offset_ray_origin(float3 p, float3 n) {
    return make_float3(offset_coordinate(p.x, n.x), offset_coordinate(p.y, n.y), offset_coordinate(p.z, n.z));
}
