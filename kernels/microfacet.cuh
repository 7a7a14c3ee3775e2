// GGX with height-correlated Smith masking, visible-normal sampling and Fresnel
// factors (src/sampling/microfacet.rs). Local shading frame, z = normal; α.x
// along the frame's x axis, α.y along y.
#pragma once

#include "common.cuh"

static constexpr float MIN_ALPHA = 1e-3f;

TS_HD float roughness_to_alpha(float roughness) { return fmaxf(roughness * roughness, MIN_ALPHA); }

TS_HD float ggx_d(float3 m, float2 alpha) {
    if (m.z <= 0.0f) return 0.0f;
    float t = m.x * m.x / (alpha.x * alpha.x) + m.y * m.y / (alpha.y * alpha.y) + m.z * m.z;
    return TS_FRAC_1_PI / (alpha.x * alpha.y * t * t);
}

TS_HD float smith_lambda(float3 v, float2 alpha) {
    float cos2 = v.z * v.z;
    if (cos2 == 0.0f) return TS_INF;
    float a2_tan2 = (alpha.x * alpha.x * v.x * v.x + alpha.y * alpha.y * v.y * v.y) / cos2;
    return 0.5f * (sqrtf(1.0f + a2_tan2) - 1.0f);
}

TS_HD float smith_g1(float3 v, float2 alpha) { return 1.0f / (1.0f + smith_lambda(v, alpha)); }

TS_HD float smith_g2(float3 wo, float3 wi, float2 alpha) {
    return 1.0f / (1.0f + smith_lambda(wo, alpha) + smith_lambda(wi, alpha));
}

TS_HD float3 sample_ggx_vndf(float3 wo, float2 alpha, float2 u) {
    float3 v = normalize(make_float3(alpha.x * wo.x, alpha.y * wo.y, wo.z));
    float phi = 2.0f * TS_PI * u.x;
    float z = (1.0f - u.y) * (1.0f + v.z) - v.z;
    float sin_theta = sqrtf(fmaxf(1.0f - z * z, 0.0f));
    float3 h = make_float3(sin_theta * cosf(phi), sin_theta * sinf(phi), z) + v;
    return normalize(make_float3(alpha.x * h.x, alpha.y * h.y, fmaxf(h.z, 0.0f)));
}

TS_HD float ggx_vndf_pdf(float3 wo, float3 m, float2 alpha) {
    float wo_m = dot(wo, m);
    if (wo.z <= 0.0f || wo_m <= 0.0f) return 0.0f;
    return smith_g1(wo, alpha) * wo_m * ggx_d(m, alpha) / wo.z;
}

TS_HD float3 reflect(float3 wo, float3 m) { return 2.0f * dot(wo, m) * m - wo; }

// Refraction through microfacet m (wo·m > 0); false on total internal reflection.
TS_HD bool refract(float3 wo, float3 m, float eta, float3& wi) {
    float cos_i = dot(wo, m);
    float sin2_t = fmaxf(1.0f - cos_i * cos_i, 0.0f) / (eta * eta);
    if (sin2_t >= 1.0f) return false;
    float cos_t = sqrtf(1.0f - sin2_t);
    wi = (cos_i / eta - cos_t) * m - wo / eta;
    return true;
}

TS_HD float schlick_weight(float cos_theta) {
    float c = 1.0f - ts_clamp(cos_theta, 0.0f, 1.0f);
    float c2 = c * c;
    return c2 * c2 * c;
}

TS_HD float3 fresnel_schlick(float3 f0, float cos_theta) { return f0 + (splat3(1.0f) - f0) * schlick_weight(cos_theta); }

TS_HD float dielectric_f0(float eta) {
    float r = (eta - 1.0f) / (eta + 1.0f);
    return r * r;
}

// F0 + (1 − F0) w, exactly 1 for w = 1 (total internal reflection).
TS_HD float schlick_mix(float f0, float w) { return w + f0 * (1.0f - w); }

// The weight w of fresnel_schlick_dielectric: Schlick's at the angle in the
// less dense medium, 1 beyond the critical angle.
TS_HD float dielectric_schlick_weight(float cos_theta_i, float eta) {
    float cos_i = ts_clamp(cos_theta_i, 0.0f, 1.0f);
    float cos_t = cos_i;
    if (eta < 1.0f) {
        float sin2_t = (1.0f - cos_i * cos_i) / (eta * eta);
        if (sin2_t >= 1.0f) return 1.0f;
        cos_t = sqrtf(1.0f - sin2_t);
    }
    return schlick_weight(cos_t);
}

// Schlick with total internal reflection: seen from the denser side (eta < 1)
// the angle is the refracted one.
TS_HD float fresnel_schlick_dielectric(float cos_theta_i, float eta) {
    return schlick_mix(dielectric_f0(eta), dielectric_schlick_weight(cos_theta_i, eta));
}
