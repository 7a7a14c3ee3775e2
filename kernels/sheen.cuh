// KHR_materials_sheen's Charlie lobe and its tabulated directional albedo
// (src/sampling/sheen.rs: read its header). The table, TS_SHEEN_ALBEDO, is
// generated from the Rust one.
#pragma once

#include "albedo_tables.h"
#include "common.cuh"

static constexpr float MIN_SHEEN_ROUGHNESS = 0.07f;
static constexpr unsigned SHEEN_ROUGHNESS_STEPS = 32u;
static constexpr unsigned SHEEN_COS_STEPS = 32u;

// NaN maps to the lower bound.
TS_HD float sheen_clamp_roughness(float roughness) {
    return roughness > MIN_SHEEN_ROUGHNESS ? fminf(roughness, 1.0f) : MIN_SHEEN_ROUGHNESS;
}

TS_HD float sheen_alpha(float roughness) {
    float r = sheen_clamp_roughness(roughness);
    return r * r;
}

TS_HD float sheen_row(float roughness) {
    return (sheen_clamp_roughness(roughness) - MIN_SHEEN_ROUGHNESS) / (1.0f - MIN_SHEEN_ROUGHNESS) *
           (float)(SHEEN_ROUGHNESS_STEPS - 1u);
}

TS_HD float charlie_d(float cos_h, float alpha) {
    float sin2 = fmaxf(1.0f - cos_h * cos_h, 0.0f);
    return (2.0f + 1.0f / alpha) * powf(sin2, 0.5f / alpha) / (2.0f * TS_PI);
}

// Between a fit coefficient at α = 1 and at α = 0, as the Rust reference spells it.
TS_HD float charlie_mix(float at1, float at0, float t) { return at1 + (at0 - at1) * t; }

// Estevez and Kulla's fit of ln Λ, interpolated by (1 − α)².
TS_HD float charlie_l(float mu, float alpha) {
    float t = (1.0f - alpha) * (1.0f - alpha);
    float a = charlie_mix(21.5473f, 25.3245f, t), b = charlie_mix(3.82987f, 3.32435f, t);
    float c = charlie_mix(0.19823f, 0.16801f, t);
    float d = charlie_mix(-1.97760f, -1.27393f, t), e = charlie_mix(-4.32054f, -4.85967f, t);
    return a / (1.0f + b * powf(mu, c)) + d * mu + e;
}

TS_HD float charlie_lambda(float mu, float alpha) {
    if (mu < 0.5f) return expf(charlie_l(mu, alpha));
    return expf(2.0f * charlie_l(0.5f, alpha) - charlie_l(1.0f - mu, alpha));
}

// D · V · μi with white colour; wo.z > 0, wi.z > 0.
TS_HD float sheen_lobe(float3 wo, float3 wi, float alpha) {
    float3 h = normalize(wo + wi);
    float masking = 1.0f + charlie_lambda(wo.z, alpha) + charlie_lambda(wi.z, alpha);
    return charlie_d(h.z, alpha) / (4.0f * wo.z * masking);
}

TS_HD float sheen_entry(unsigned r, unsigned c) { return ldg(&TS_SHEEN_ALBEDO[r * SHEEN_COS_STEPS + c]); }

TS_HD float sheen_albedo(float row, float cos_o) {
    float column = ts_clamp(cos_o, 0.0f, 1.0f) * (float)(SHEEN_COS_STEPS - 1u);
    unsigned c0 = sat_f2u(column);
    if (c0 > SHEEN_COS_STEPS - 2u) c0 = SHEEN_COS_STEPS - 2u;
    float tc = column - (float)c0;
    unsigned r0 = sat_f2u(row);
    if (r0 > SHEEN_ROUGHNESS_STEPS - 2u) r0 = SHEEN_ROUGHNESS_STEPS - 2u;
    float tr = row - (float)r0;
    float lower = sheen_entry(r0, c0) + (sheen_entry(r0, c0 + 1u) - sheen_entry(r0, c0)) * tc;
    float upper = sheen_entry(r0 + 1u, c0) + (sheen_entry(r0 + 1u, c0 + 1u) - sheen_entry(r0 + 1u, c0)) * tc;
    return lower + (upper - lower) * tr;
}
