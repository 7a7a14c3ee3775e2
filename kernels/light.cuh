// Light sampling for next-event estimation and the densities MIS needs
// (src/sampling/light.rs).
#pragma once

#include "distribution.cuh"
#include "motion.cuh"
#include "texture.cuh"
#include "warp.cuh"

struct LightSample {
    float3 wi;        // unit direction towards the light
    float dist;       // TS_INF for directional and environment lights
    float3 radiance;  // arriving along -wi
    float pdf;        // includes the pick probability
    bool delta;       // point, spot, directional: no MIS
};

TS_HD float2 direction_to_equirect(float3 d) {
    return make_float2(0.5f + atan2f(d.x, -d.z) * (0.5f * TS_FRAC_1_PI), acosf(ts_clamp(d.y, -1.0f, 1.0f)) * TS_FRAC_1_PI);
}

TS_HD float3 equirect_to_direction(float2 uv) {
    float phi = (uv.x - 0.5f) * 2.0f * TS_PI;
    float theta = uv.y * TS_PI;
    float sin_t = sinf(theta), cos_t = cosf(theta);
    return make_float3(sin_t * sinf(phi), cos_t, -sin_t * cosf(phi));
}

TS_HD float3 env_radiance(const SceneView& s, float3 d) {
    const SceneHeader& h = s.header;
    float3 color = h.env_color;
    if ((h.env_flags & ENV_MAP) == 0u) return color;
    float2 uv = direction_to_equirect(d);
    unsigned x = sat_f2u(uv.x * (float)h.env_width);
    x = x < h.env_width - 1u ? x : h.env_width - 1u;
    unsigned y = sat_f2u(uv.y * (float)h.env_height);
    y = y < h.env_height - 1u ? y : h.env_height - 1u;
    return color * xyz(ldg(s.env_texels + (y * h.env_width + x)));
}

TS_HD float env_pdf(const SceneView& s, float3 d) {
    const SceneHeader& h = s.header;
    if ((h.env_flags & ENV_MAP) == 0u) return uniform_sphere_pdf();
    float2 uv = direction_to_equirect(d);
    float sin_theta = sinf(uv.y * TS_PI);
    if (sin_theta <= 0.0f) return 0.0f;
    return env_distribution_pdf(s.env_marginal_cdf, s.env_conditional_cdf, h.env_width, h.env_height, uv) /
           (2.0f * TS_PI * TS_PI * sin_theta);
}

TS_HD float3 triangle_emission(const SceneView& s, unsigned tri, float b1, float b2, bool front) {
    unsigned material = ldg(&s.triangles[tri].material);
    const Material& m = s.materials[material];
    if (!front && (m.flags & MAT_DOUBLE_SIDED) == 0u) return splat3(0.0f);
    TriangleUvs uvs = triangle_uvs(s, tri, b1, b2);
    return m.emission * xyz(sample_slot(s, m.emissive_tex, uvs.uv0, uvs.uv1));
}

TS_HD float triangle_light_pdf(const SceneView& s, unsigned tri, float dist, float cos_light, const Instant& at) {
    const Triangle t = triangle_at(s, tri, at);
    if (t.light == NONE || cos_light == 0.0f) return 0.0f;
    float area = 0.5f * length(cross(t.e1, t.e2));
    return ldg(&s.lights[t.light].pick_pdf) * dist * dist / (area * fabsf(cos_light));
}

// The KHR_lights_punctual range window: smooth fall-off to zero at `range`.
TS_HD float range_window(float dist, float range) {
    if (range <= 0.0f) return 1.0f;
    float r = dist / range;
    float r4 = r * r * r * r;
    float w = ts_clamp(1.0f - r4, 0.0f, 1.0f);
    return w * w;
}

// Samples one light for shading point p: u.x picks the light, u.y/u.z the point
// on it. False where the Rust version returns None.
TS_HD bool sample_light(const SceneView& s, float3 p, float4 u, const Instant& at, LightSample& ls) {
    if (s.lights_len == 0u) return false;
    unsigned index = sample_cdf(s.light_cdf, s.lights_len, u.x);
    const Light light = ldg(s.lights + index);
    float pick = light.pick_pdf;
    float2 uv = make_float2(u.y, u.z);
    switch (light.kind) {
        case LIGHT_POINT:
        case LIGHT_SPOT: {
            float3 to_light = light.position - p;
            float dist2 = length_squared(to_light);
            if (dist2 == 0.0f) return false;
            float dist = sqrtf(dist2);
            float3 wi = to_light / dist;
            float falloff = range_window(dist, light.range) / dist2;
            if (light.kind == LIGHT_SPOT) {
                float cd = dot(-wi, light.direction);
                float t = ts_clamp((cd - light.cos_outer) / fmaxf(light.cos_inner - light.cos_outer, 1e-4f), 0.0f, 1.0f);
                falloff *= t * t;
            }
            ls.wi = wi;
            ls.dist = dist;
            ls.radiance = light.intensity * falloff;
            ls.pdf = pick;
            ls.delta = true;
            return true;
        }
        case LIGHT_DIRECTIONAL:
            ls.wi = -light.direction;
            ls.dist = TS_INF;
            ls.radiance = light.intensity;
            ls.pdf = pick;
            ls.delta = true;
            return true;
        case LIGHT_TRIANGLE: {
            const Triangle t = triangle_at(s, light.index, at);
            float2 b = square_to_uniform_triangle(uv);
            float3 q = t.v0 + t.e1 * b.x + t.e2 * b.y;
            float3 to_light = q - p;
            float dist2 = length_squared(to_light);
            if (dist2 == 0.0f) return false;
            float dist = sqrtf(dist2);
            float3 wi = to_light / dist;
            float3 n = cross(t.e1, t.e2);
            float cos_light = -dot(wi, normalize_or(n, splat3(0.0f)));
            ls.wi = wi;
            ls.dist = dist;
            ls.radiance = triangle_emission(s, light.index, b.x, b.y, cos_light > 0.0f);
            ls.pdf = triangle_light_pdf(s, light.index, dist, cos_light, at);
            ls.delta = false;
            return ls.pdf > 0.0f;
        }
        case LIGHT_ENVIRONMENT: {
            const SceneHeader& h = s.header;
            float3 wi;
            float pdf;
            if (h.env_flags & ENV_MAP) {
                float pdf_uv;
                float2 euv = sample_env_distribution(s.env_marginal_cdf, s.env_conditional_cdf, h.env_width,
                                                     h.env_height, uv, pdf_uv);
                float sin_theta = sinf(euv.y * TS_PI);
                if (sin_theta <= 0.0f) return false;
                wi = equirect_to_direction(euv);
                pdf = pdf_uv / (2.0f * TS_PI * TS_PI * sin_theta);
            } else {
                wi = square_to_uniform_sphere(uv);
                pdf = uniform_sphere_pdf();
            }
            ls.wi = wi;
            ls.dist = TS_INF;
            ls.radiance = env_radiance(s, wi);
            ls.pdf = pdf * pick;
            ls.delta = false;
            return true;
        }
        default:
            return false;
    }
}
