// KHR_materials_iridescence: the Fresnel reflectance of a thin dielectric film
// over a base, its interference integrated over the visible spectrum in closed
// form (src/sampling/thin_film.rs: read its header).
#pragma once

#include "common.cuh"
#include "microfacet.cuh"

static constexpr float FILM_FADE_THICKNESS = 30.0f;

// The spectral sensitivity's Fourier transform at optical path difference opd
// (nm) with phase shift `shift` per channel, in linear Rec. 709.
TS_HD float film_gauss(float amplitude, float mean, float variance, float shift, float phase) {
    return amplitude * sqrtf(2.0f * TS_PI * variance) * cosf(mean * phase + shift) * expf(-phase * phase * variance);
}

TS_HD float3 film_sensitivity(float opd, float3 shift) {
    float phase = 2.0f * TS_PI * opd * 1e-9f;
    float x = film_gauss(5.4856e-13f, 1.6810e6f, 4.3278e9f, shift.x, phase) +
              film_gauss(9.7470e-14f, 2.2399e6f, 4.5282e9f, shift.x, phase);
    float y = film_gauss(4.4201e-13f, 1.7953e6f, 9.3046e9f, shift.y, phase);
    float z = film_gauss(5.2481e-13f, 2.2084e6f, 6.6121e9f, shift.z, phase);
    float3 xyz = make_float3(x, y, z) / 1.0685e-7f;
    // XYZ to linear Rec. 709, column by column.
    float3 rgb = make_float3(3.2404542f, -0.969266f, 0.0556434f) * xyz.x;
    rgb = rgb + make_float3(-1.5371385f, 1.8760108f, -0.2040259f) * xyz.y;
    rgb = rgb + make_float3(-0.4985314f, 0.0415560f, 1.0572252f) * xyz.z;
    return rgb;
}

// The film-to-base interface of one channel: its Schlick reflectance at cos2
// and its phase shift.
TS_HD float2 film_base_interface(float f0, float film, float cos2) {
    float root = sqrtf(ts_clamp(f0, 0.0f, 0.9999f));
    float ior = (1.0f + root) / (1.0f - root);
    float r = (ior - film) / (ior + film);
    r = r * r;
    return make_float2(r + (1.0f - r) * schlick_weight(cos2), ior < film ? TS_PI : 0.0f);
}

TS_HD float3 film_clamp3(float3 v, float lo, float hi) {
    return make_float3(fminf(fmaxf(v.x, lo), hi), fminf(fmaxf(v.y, lo), hi), fminf(fmaxf(v.z, lo), hi));
}

TS_HD float3 iridescent_fresnel(float cos_theta, float film_ior, float thickness, float3 base_f0) {
    float fade = ts_clamp(thickness / FILM_FADE_THICKNESS, 0.0f, 1.0f);
    float film = 1.0f + (film_ior - 1.0f) * fade * fade * (3.0f - 2.0f * fade);
    float cos1 = ts_clamp(cos_theta, 0.0f, 1.0f);
    float sin2_film = (1.0f - cos1 * cos1) / (film * film);
    if (sin2_film >= 1.0f) return splat3(1.0f);
    float cos2 = sqrtf(1.0f - sin2_film);
    float f0 = dielectric_f0(film);
    float r12 = f0 + (1.0f - f0) * schlick_weight(cos1);
    float t121 = 1.0f - r12;
    float phi21 = film < 1.0f ? 0.0f : TS_PI;
    float2 bx = film_base_interface(base_f0.x, film, cos2);
    float2 by = film_base_interface(base_f0.y, film, cos2);
    float2 bz = film_base_interface(base_f0.z, film, cos2);
    float3 r23 = make_float3(bx.x, by.x, bz.x);
    float3 phi = splat3(phi21) + make_float3(bx.y, by.y, bz.y);
    float opd = 2.0f * film * thickness * cos2;
    float3 r123 = film_clamp3(r12 * r23, 1e-5f, 0.9999f);
    float3 root = make_float3(sqrtf(r123.x), sqrtf(r123.y), sqrtf(r123.z));
    float3 rs = t121 * t121 * r23 / (splat3(1.0f) - r123);
    float3 intensity = splat3(r12) + rs;
    float3 c = rs - splat3(t121);
    for (int m = 1; m <= 2; ++m) {
        c = c * root;
        intensity = intensity + c * 2.0f * film_sensitivity((float)m * opd, (float)m * phi);
    }
    return film_clamp3(intensity, 0.0f, 1.0f);
}
