// Sample warps, the shading frame and the MIS power heuristic (src/sampling/warp.rs).
#pragma once

#include "common.cuh"

// Orthonormal, right-handed shading frame (t × b = n); local z is the normal.
struct Frame {
    float3 t;
    float3 b;
    float3 n;
};

TS_HD Frame frame_from_normal(float3 n) {
    float sign = copysignf(1.0f, n.z);
    float a = -1.0f / (sign + n.z);
    float b = n.x * n.y * a;
    Frame f;
    f.t = make_float3(1.0f + sign * n.x * n.x * a, sign * b, -sign * n.x);
    f.b = make_float3(b, sign + n.y * n.y * a, -n.y);
    f.n = n;
    return f;
}

TS_HD Frame frame_from_normal_tangent(float3 n, float3 t) {
    t = t - n * dot(n, t);
    float len2 = length_squared(t);
    if (!(len2 > 1e-12f && len2 < TS_INF)) return frame_from_normal(n);
    t = t / sqrtf(len2);
    Frame f;
    f.t = t;
    f.b = cross(n, t);
    f.n = n;
    return f;
}

TS_HD float3 to_local(const Frame& f, float3 v) { return make_float3(dot(v, f.t), dot(v, f.b), dot(v, f.n)); }
TS_HD float3 to_world(const Frame& f, float3 v) { return f.t * v.x + f.b * v.y + f.n * v.z; }

TS_HD float2 square_to_concentric_disk(float2 u) {
    float2 p = 2.0f * u - make_float2(1.0f, 1.0f);
    if (p.x == 0.0f && p.y == 0.0f) return make_float2(0.0f, 0.0f);
    float r, phi;
    if (fabsf(p.x) > fabsf(p.y)) {
        r = p.x;
        phi = TS_FRAC_PI_4 * (p.y / p.x);
    } else {
        r = p.y;
        phi = TS_FRAC_PI_2 - TS_FRAC_PI_4 * (p.x / p.y);
    }
    return r * make_float2(cosf(phi), sinf(phi));
}

TS_HD float3 square_to_cosine_hemisphere(float2 u) {
    float2 d = square_to_concentric_disk(u);
    float z = sqrtf(fmaxf(1.0f - length_squared(d), 0.0f));
    return make_float3(d.x, d.y, z);
}

TS_HD float cosine_hemisphere_pdf(float cos_theta) { return fmaxf(cos_theta, 0.0f) * TS_FRAC_1_PI; }

TS_HD float3 square_to_uniform_sphere(float2 u) {
    float z = 1.0f - 2.0f * u.x;
    float r = sqrtf(fmaxf(1.0f - z * z, 0.0f));
    float phi = 2.0f * TS_PI * u.y;
    return make_float3(r * cosf(phi), r * sinf(phi), z);
}

TS_HD float uniform_sphere_pdf() { return 0.25f * TS_FRAC_1_PI; }

TS_HD float2 square_to_uniform_triangle(float2 u) {
    float s = sqrtf(u.x);
    return make_float2(s * (1.0f - u.y), s * u.y);
}

TS_HD float power_heuristic(float pdf_a, float pdf_b) {
    float a = fmaxf(pdf_a, 0.0f);
    float b = fmaxf(pdf_b, 0.0f);
    if (a == 0.0f) return 0.0f;
    if (a == TS_INF) return b == TS_INF ? 0.5f : 1.0f;
    if (b > a) {
        float r = a / b;
        return r * r / (1.0f + r * r);
    }
    float r = b / a;
    return 1.0f / (1.0f + r * r);
}
