// The glTF metallic-roughness BSDF with transmission, ior and volume
// (src/sampling/bsdf.rs: read its header for the model). eval returns
// f(wo, wi) |cos θi|; wo points to the camera, wi to the light, both local.
#pragma once

#include "microfacet.cuh"
#include "warp.cuh"

static constexpr float MIN_REFRACTING_IOR = 1.01f;
static constexpr float MAX_IOR = 10.0f;
static constexpr float MAX_LOBE_FRESNEL = 0.9f;

struct Bsdf {
    float3 base_color;
    float metallic;
    float alpha;
    float ior;
    float transmission;
    bool thin;
};

struct BsdfSample {
    float3 wi;
    float3 weight;
    float pdf;
    bool transmitted;
};

TS_HD float3 mirror_z(float3 v) { return make_float3(v.x, v.y, -v.z); }

// NaN maps to 0, as in the Rust `unit` helper.
TS_HD float bsdf_unit(float x) { return x > 0.0f ? fminf(x, 1.0f) : 0.0f; }

TS_HD Bsdf bsdf_new(float3 base_color, float metallic, float roughness, float ior, float transmission, bool thin) {
    Bsdf b;
    b.transmission = bsdf_unit(transmission);
    float min_ior = (b.transmission > 0.0f && !thin) ? MIN_REFRACTING_IOR : 1.0f;
    b.base_color = make_float3(bsdf_unit(base_color.x), bsdf_unit(base_color.y), bsdf_unit(base_color.z));
    b.metallic = bsdf_unit(metallic);
    b.alpha = roughness_to_alpha(bsdf_unit(roughness));
    b.ior = fminf(fmaxf(ior, min_ior), MAX_IOR);
    b.thin = thin;
    return b;
}

// wo mirrored to the upper hemisphere; `mirrored` and the relative index eta.
TS_HD float3 bsdf_upper_hemisphere(const Bsdf& b, float3 wo, bool& mirrored, float& eta) {
    if (wo.z >= 0.0f) {
        mirrored = false;
        eta = b.ior;
        return wo;
    }
    bool inside = b.transmission > 0.0f && !b.thin;
    mirrored = true;
    eta = inside ? 1.0f / b.ior : b.ior;
    return mirror_z(wo);
}

TS_HD void bsdf_lobe_probabilities(const Bsdf& b, float cos_o, float eta, float p[3]) {
    float f = fminf(fresnel_dielectric(cos_o, eta), MAX_LOBE_FRESNEL);
    float dielectric = 1.0f - b.metallic;
    float refracted = dielectric * (1.0f - f);
    p[0] = b.metallic + dielectric * f;
    p[1] = refracted * (1.0f - b.transmission);
    p[2] = refracted * b.transmission;
}

TS_HD float3 bsdf_eval_pdf_reflection(const Bsdf& b, float3 wo, float3 wi, float eta, float p_specular,
                                      float p_diffuse, float& pdf) {
    float3 h = normalize(wo + wi);
    float wo_h = dot(wo, h);
    float dielectric = 1.0f - b.metallic;
    float3 fresnel = b.metallic * fresnel_schlick(b.base_color, wo_h) + splat3(dielectric * fresnel_dielectric(wo_h, eta));
    float3 specular = fresnel * (ggx_d(h, b.alpha) * smith_g2(wo, wi, b.alpha) / (4.0f * wo.z));
    float interface_ = (1.0f - fresnel_dielectric(wo.z, eta)) * (1.0f - fresnel_dielectric(wi.z, eta));
    float3 diffuse = b.base_color * (dielectric * (1.0f - b.transmission) * interface_ * TS_FRAC_1_PI * wi.z);
    pdf = p_specular * ggx_vndf_pdf(wo, h, b.alpha) / (4.0f * wo_h) + p_diffuse * cosine_hemisphere_pdf(wi.z);
    return specular + diffuse;
}

TS_HD float3 bsdf_eval_pdf_thin_transmission(const Bsdf& b, float3 wo, float3 wi, float eta, float p_transmission,
                                             float& pdf) {
    wi = mirror_z(wi);
    float3 h = normalize(wo + wi);
    float wo_h = dot(wo, h);
    float weight = (1.0f - b.metallic) * b.transmission * (1.0f - fresnel_dielectric(wo_h, eta));
    float lobe = ggx_d(h, b.alpha) * smith_g2(wo, wi, b.alpha) / (4.0f * wo.z);
    pdf = p_transmission * ggx_vndf_pdf(wo, h, b.alpha) / (4.0f * wo_h);
    return b.base_color * (weight * lobe);
}

TS_HD float3 bsdf_eval_pdf_refraction(const Bsdf& b, float3 wo, float3 wi, float eta, float p_transmission,
                                      float& pdf) {
    float3 h = wo + eta * wi;
    if (h.z < 0.0f) h = -h;
    float len = length(h);
    if (!(len > 0.0f)) {
        pdf = 0.0f;
        return splat3(0.0f);
    }
    h = h / len;
    float wo_h = dot(wo, h);
    float wi_h = dot(wi, h);
    if (!(wo_h > 0.0f && wi_h < 0.0f)) {
        pdf = 0.0f;
        return splat3(0.0f);
    }
    float denom = wo_h + eta * wi_h;
    float denom2 = denom * denom;
    float weight = (1.0f - b.metallic) * b.transmission * (1.0f - fresnel_dielectric(wo_h, eta));
    float btdf = ggx_d(h, b.alpha) * smith_g2(wo, wi, b.alpha) * wo_h * -wi_h / (wo.z * denom2);
    pdf = p_transmission * ggx_vndf_pdf(wo, h, b.alpha) * eta * eta * -wi_h / denom2;
    return b.base_color * (weight * btdf);
}

// eval and pdf for wo.z > 0.
TS_HD float3 bsdf_eval_pdf_upper(const Bsdf& b, float3 wo, float3 wi, float eta, float& pdf) {
    float p[3];
    bsdf_lobe_probabilities(b, wo.z, eta, p);
    if (wi.z > 0.0f) return bsdf_eval_pdf_reflection(b, wo, wi, eta, p[0], p[1], pdf);
    if (p[2] == 0.0f) {
        pdf = 0.0f;
        return splat3(0.0f);
    }
    if (b.thin) return bsdf_eval_pdf_thin_transmission(b, wo, wi, eta, p[2], pdf);
    return bsdf_eval_pdf_refraction(b, wo, wi, eta, p[2], pdf);
}

// Bsdf::eval_pdf: f(wo, wi) |cos θi| and the density with which bsdf_sample returns wi.
TS_HD float3 bsdf_eval_pdf(const Bsdf& b, float3 wo, float3 wi, float& pdf) {
    if (!(fabsf(wo.z) > 0.0f && fabsf(wi.z) > 0.0f)) {
        pdf = 0.0f;
        return splat3(0.0f);
    }
    bool mirrored;
    float eta;
    wo = bsdf_upper_hemisphere(b, wo, mirrored, eta);
    if (mirrored) wi = mirror_z(wi);
    return bsdf_eval_pdf_upper(b, wo, wi, eta, pdf);
}

TS_HD float3 bsdf_eval(const Bsdf& b, float3 wo, float3 wi) {
    float pdf;
    return bsdf_eval_pdf(b, wo, wi, pdf);
}

TS_HD float bsdf_pdf(const Bsdf& b, float3 wo, float3 wi) {
    float pdf;
    bsdf_eval_pdf(b, wo, wi, pdf);
    return pdf;
}

// Bsdf::sample: false where the Rust version returns None.
TS_HD bool bsdf_sample(const Bsdf& b, float3 wo, float u_lobe, float2 u, BsdfSample& s) {
    if (!(fabsf(wo.z) > 0.0f)) return false;
    bool mirrored;
    float eta;
    float3 wo_up = bsdf_upper_hemisphere(b, wo, mirrored, eta);
    float p[3];
    bsdf_lobe_probabilities(b, wo_up.z, eta, p);
    float3 wi_up;
    if (u_lobe < p[0]) {
        wi_up = reflect(wo_up, sample_ggx_vndf(wo_up, b.alpha, u));
        if (!(wi_up.z > 0.0f)) return false;
    } else if (u_lobe < p[0] + p[1]) {
        wi_up = square_to_cosine_hemisphere(u);
        if (!(wi_up.z > 0.0f)) return false;
    } else {
        float3 h = sample_ggx_vndf(wo_up, b.alpha, u);
        if (b.thin) {
            wi_up = mirror_z(reflect(wo_up, h));
        } else if (!refract(wo_up, h, eta, wi_up)) {
            return false;
        }
        if (!(wi_up.z < 0.0f)) return false;
    }
    float pdf;
    float3 eval = bsdf_eval_pdf_upper(b, wo_up, wi_up, eta, pdf);
    if (!(pdf > 0.0f)) return false;
    s.wi = mirrored ? mirror_z(wi_up) : wi_up;
    s.weight = eval / pdf;
    s.pdf = pdf;
    s.transmitted = wi_up.z < 0.0f;
    return true;
}
