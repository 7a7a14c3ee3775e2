// Directional albedo of the GGX lobe for the BSDF's energy compensation
// (src/sampling/ggx_albedo.rs: read its header for the table's layout). The
// table itself, TS_GGX_ALBEDO, is generated from the Rust one.
#pragma once

#include "albedo_tables.h"
#include "microfacet.cuh"

static constexpr unsigned ROUGHNESS_STEPS = 32u;
static constexpr unsigned COS_STEPS = 32u;
static constexpr unsigned AVERAGES = ROUGHNESS_STEPS * COS_STEPS * 2u;

TS_HD float roughness_row(float roughness) { return roughness * (float)(ROUGHNESS_STEPS - 1u); }

TS_HD float albedo_column(float alpha, float cos_o) {
    float mu = ts_clamp(cos_o, 0.0f, 1.0f);
    return mu * (1.0f + alpha) / (mu + alpha) * (float)(COS_STEPS - 1u);
}

TS_HD float2 albedo_entry(unsigned r, unsigned c) {
    unsigned i = (r * COS_STEPS + c) * 2u;
    return make_float2(ldg(&TS_GGX_ALBEDO[i]), ldg(&TS_GGX_ALBEDO[i + 1u]));
}

TS_HD float2 lerp2(float2 a, float2 b, float t) { return a + (b - a) * t; }

// (E1, W) at row coordinate `row` (GGX α `alpha`) and view cosine cos_o.
TS_HD float2 albedo_lookup(float row, float alpha, float cos_o) {
    float column = fminf(albedo_column(alpha, cos_o), (float)(COS_STEPS - 1u));
    unsigned c0 = sat_f2u(column);
    if (c0 > COS_STEPS - 2u) c0 = COS_STEPS - 2u;
    float tc = column - (float)c0;
    unsigned r0 = sat_f2u(row);
    if (r0 > ROUGHNESS_STEPS - 2u) r0 = ROUGHNESS_STEPS - 2u;
    float tr = row - (float)r0;
    float2 lower = lerp2(albedo_entry(r0, c0), albedo_entry(r0, c0 + 1u), tc);
    float2 upper = lerp2(albedo_entry(r0 + 1u, c0), albedo_entry(r0 + 1u, c0 + 1u), tc);
    float2 e1_d = lerp2(lower, upper, tr);
    return make_float2(e1_d.x, e1_d.y + schlick_weight(cos_o) * e1_d.x);
}

TS_HD float dielectric_average(float row, float f0) {
    unsigned r0 = sat_f2u(row);
    if (r0 > ROUGHNESS_STEPS - 2u) r0 = ROUGHNESS_STEPS - 2u;
    float tr = row - (float)r0;
    float k[3];
    for (unsigned j = 0u; j < 3u; ++j) {
        float a = ldg(&TS_GGX_ALBEDO[AVERAGES + r0 * 3u + j]);
        float b = ldg(&TS_GGX_ALBEDO[AVERAGES + (r0 + 1u) * 3u + j]);
        k[j] = a + (b - a) * tr;
    }
    return k[0] + f0 * (k[1] + f0 * k[2]);
}

// (1 − E1) / E1: Turquin's compensation scales a lobe of normal reflectance F0 by 1 + F0 · this.
TS_HD float multiscatter_lost(float2 albedo) { return (1.0f - albedo.x) / albedo.x; }

TS_HD float dielectric_albedo(float2 albedo, float f0) {
    return (f0 * (albedo.x - albedo.y) + albedo.y) * (1.0f + f0 * multiscatter_lost(albedo));
}
