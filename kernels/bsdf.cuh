// The glTF metallic-roughness BSDF with transmission, ior, specular, anisotropy, volume, sheen and clearcoat
// (src/sampling/bsdf.rs: read its header for the model). eval returns
// f(wo, wi) |cos θi|; wo points to the camera, wi to the light, both local.
#pragma once

#include "ggx_albedo.cuh"
#include "microfacet.cuh"
#include "sheen.cuh"
#include "thin_film.cuh"
#include "warp.cuh"

static constexpr float MIN_REFRACTING_IOR = 1.01f;
static constexpr float MAX_IOR = 10.0f;
static constexpr float COAT_IOR = 1.5f;

struct Bsdf {
    float3 base_color;
    float metallic;
    float2 alpha;  // GGX α along the local x axis (the anisotropy direction) and y
    float ior;
    float transmission;
    bool thin;
    float albedo_row;
    float f0;        // the layer's normal reflectance as the albedo tables see it
    float3 layer_f0; // per channel (the specular colour tints it)
    float specular;
    float diffuse_scale;
    float coat;          // clearcoat weight (0: no coat)
    float coat_alpha;
    float coat_row;
    float3 coat_normal;  // in the local shading frame
    float3 sheen_color;  // black: no sheen
    float sheen_alpha;
    float sheen_row;
    float iridescence;  // KHR_materials_iridescence's factor (0: no film)
    float film_ior;
    float film_thickness;  // nm
};

struct BsdfSample {
    float3 wi;
    float3 weight;
    float pdf;
    bool transmitted;
};

// The GGX albedos at one direction: (E1, W), (1 − E1) / E1, the dielectric layer's E,
// the coat's E_c (weight included) and its lobe's (1 − E1) / E1, the sheen's
// min(E_s, 1) and 1 / max(E_s, 1).
struct Albedo {
    float2 lobe;
    float lost;
    float layer;
    float coat;
    float coat_lost;
    float sheen;
    float sheen_norm;
};

// Bsdf::view: the BSDF seen from one direction, shared by its evaluations and samples.
struct BsdfView {
    Bsdf bsdf;
    float3 wo;
    bool mirrored;
    float eta;
    Albedo albedo;
    float3 coat_normal;  // mirrored with wo
    float lobes[4];      // coat, specular, cosine (diffuse and sheen), transmission
    bool valid;
};

TS_HD float3 mirror_z(float3 v) { return make_float3(v.x, v.y, -v.z); }

TS_HD float mean3(float3 v) { return (v.x + v.y + v.z) * (1.0f / 3.0f); }

TS_HD float max3(float3 v) { return fmaxf(fmaxf(v.x, v.y), v.z); }

// NaN maps to 0, as in the Rust `unit` helper.
TS_HD float bsdf_unit(float x) { return x > 0.0f ? fminf(x, 1.0f) : 0.0f; }

// The isotropic α at which the albedo tables are read.
TS_HD float table_alpha(float2 alpha) { return sqrtf(alpha.x * alpha.y); }

// 1 / (1 − E_avg) of a dielectric layer: the diffuse lobe's normalisation.
TS_HD float bsdf_diffuse_scale(float specular, float row, float f0) {
    return 1.0f / fmaxf(1.0f - specular * dielectric_average(row, f0), 1e-3f);
}

TS_HD Bsdf bsdf_new(float3 base_color, float metallic, float roughness, float ior, float transmission, bool thin,
                    float specular) {
    Bsdf b;
    b.specular = bsdf_unit(specular);
    b.transmission = bsdf_unit(transmission);
    float min_ior = (b.transmission > 0.0f && !thin) ? MIN_REFRACTING_IOR : 1.0f;
    float r = bsdf_unit(roughness);
    b.base_color = make_float3(bsdf_unit(base_color.x), bsdf_unit(base_color.y), bsdf_unit(base_color.z));
    b.metallic = bsdf_unit(metallic);
    b.alpha = make_float2(roughness_to_alpha(r), roughness_to_alpha(r));
    b.ior = fminf(fmaxf(ior, min_ior), MAX_IOR);
    b.thin = thin;
    b.albedo_row = roughness_row(r);
    b.f0 = dielectric_f0(b.ior);
    b.layer_f0 = splat3(b.f0);
    b.diffuse_scale = bsdf_diffuse_scale(b.specular, b.albedo_row, b.f0);
    b.coat = 0.0f;
    b.coat_alpha = roughness_to_alpha(0.0f);
    b.coat_row = 0.0f;
    b.coat_normal = make_float3(0.0f, 0.0f, 1.0f);
    b.sheen_color = splat3(0.0f);
    b.sheen_alpha = sheen_alpha(0.0f);
    b.sheen_row = 0.0f;
    b.iridescence = 0.0f;
    b.film_ior = 1.0f;
    b.film_thickness = 0.0f;
    return b;
}

// Bsdf::with_specular_color: the layer's normal reflectance min(F0(ior) color, 1) per channel.
TS_HD Bsdf bsdf_with_specular_color(Bsdf b, float3 color) {
    float f0s = dielectric_f0(b.ior);
    b.layer_f0 = make_float3(fminf(f0s * fmaxf(color.x, 0.0f), 1.0f), fminf(f0s * fmaxf(color.y, 0.0f), 1.0f),
                             fminf(f0s * fmaxf(color.z, 0.0f), 1.0f));
    b.f0 = max_element(b.layer_f0);
    b.diffuse_scale = bsdf_diffuse_scale(b.specular, b.albedo_row, b.f0);
    return b;
}

// Bsdf::with_iridescence: under a thin film of factor, index and thickness (nm).
TS_HD Bsdf bsdf_with_iridescence(Bsdf b, float factor, float ior, float thickness) {
    b.iridescence = bsdf_unit(factor);
    b.film_ior = fminf(fmaxf(ior, 1.0f), MAX_IOR);
    b.film_thickness = fmaxf(thickness, 0.0f);
    float film = max_element(iridescent_fresnel(1.0f, b.film_ior, b.film_thickness, b.layer_f0));
    b.f0 = b.f0 + (film - b.f0) * b.iridescence;
    b.diffuse_scale = bsdf_diffuse_scale(b.specular, b.albedo_row, b.f0);
    return b;
}

// Bsdf::with_anisotropy: KHR_materials_anisotropy's strength along the local x
// axis, the albedo tables read at the geometric mean √(α.x α.y).
TS_HD Bsdf bsdf_with_anisotropy(Bsdf b, float strength) {
    float s = bsdf_unit(strength);
    float alpha_y = b.alpha.y;
    b.alpha = make_float2(alpha_y + (1.0f - alpha_y) * s * s, alpha_y);
    b.albedo_row = roughness_row(sqrtf(table_alpha(b.alpha)));
    b.diffuse_scale = bsdf_diffuse_scale(b.specular, b.albedo_row, b.f0);
    return b;
}

// Bsdf::with_coat: under a clear coat of weight and roughness with a local unit normal.
TS_HD Bsdf bsdf_with_coat(Bsdf b, float weight, float roughness, float3 normal) {
    float r = bsdf_unit(roughness);
    b.coat = bsdf_unit(weight);
    b.coat_alpha = roughness_to_alpha(r);
    b.coat_row = roughness_row(r);
    b.coat_normal = normal;
    return b;
}

// Bsdf::with_sheen: under a sheen of colour and roughness.
TS_HD Bsdf bsdf_with_sheen(Bsdf b, float3 color, float roughness) {
    b.sheen_color = make_float3(bsdf_unit(color.x), bsdf_unit(color.y), bsdf_unit(color.z));
    b.sheen_alpha = sheen_alpha(roughness);
    b.sheen_row = sheen_row(roughness);
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

TS_HD Albedo bsdf_albedo(const Bsdf& b, float cos) {
    Albedo a;
    a.lobe = albedo_lookup(b.albedo_row, table_alpha(b.alpha), cos);
    a.lost = multiscatter_lost(a.lobe);
    a.layer = b.specular * dielectric_albedo(a.lobe, b.f0);
    a.coat = 0.0f;
    a.coat_lost = 0.0f;
    a.sheen = 0.0f;
    a.sheen_norm = 0.0f;
    return a;
}

// Bsdf::with_sheen_albedo: the sheen's albedos at view cosine cos > 0.
TS_HD Albedo bsdf_with_sheen_albedo(const Bsdf& b, Albedo o, float cos) {
    float e = sheen_albedo(b.sheen_row, cos);
    o.sheen = fminf(e, 1.0f);
    o.sheen_norm = 1.0f / fmaxf(e, 1.0f);
    return o;
}

// The sheen's albedo scaling of the base: 1 − max(sheenColor) E_s(wo).
TS_HD float bsdf_sheen_scaling(const Bsdf& b, Albedo o) { return 1.0f - max3(b.sheen_color) * o.sheen; }

// Bsdf::with_coat_albedo: the coat's albedos at cosine cos (its own frame) > 0.
TS_HD Albedo bsdf_with_coat_albedo(const Bsdf& b, Albedo o, float cos) {
    float2 lobe = albedo_lookup(b.coat_row, b.coat_alpha, cos);
    o.coat = b.coat * dielectric_albedo(lobe, dielectric_f0(COAT_IOR));
    o.coat_lost = multiscatter_lost(lobe);
    return o;
}

// Fresnel reflectance of the dielectric layer at wo·h: its largest channel.
TS_HD float bsdf_layer_fresnel(const Bsdf& b, float wo_h, float eta) {
    return b.specular * schlick_mix(b.f0, dielectric_schlick_weight(wo_h, eta));
}

TS_HD void bsdf_lobe_probabilities(const Bsdf& b, Albedo o, float p[4]) {
    float3 c = b.base_color;
    float dielectric = 1.0f - b.metallic;
    float3 metal = (c * (o.lobe.x - o.lobe.y) + splat3(o.lobe.y)) * (splat3(1.0f) + c * o.lost);
    float specular = b.metallic * mean3(metal) + dielectric * o.layer;
    float refracted = dielectric * fmaxf(1.0f - o.layer, 0.0f) * mean3(c);
    float diffuse = refracted * (1.0f - b.transmission);
    float transmission = refracted * b.transmission;
    float kept = 1.0f - o.coat;
    float sheen = mean3(b.sheen_color) * o.sheen, under = bsdf_sheen_scaling(b, o);
    float total = o.coat + kept * (sheen + under * (specular + diffuse + transmission));
    if (!(total > 0.0f)) {
        p[0] = 0.0f;
        p[1] = 1.0f;
        p[2] = 0.0f;
        p[3] = 0.0f;
        return;
    }
    float cosine = sheen + under * diffuse;
    p[0] = o.coat / total;
    p[1] = kept * under * specular / total;
    p[2] = kept * cosine / total;
    p[3] = kept * under * transmission / total;
}

// Bsdf::reflection: the specular and diffuse parts of f cos θi, half vector h.
TS_HD void bsdf_reflection(const Bsdf& b, float3 wo, float3 wi, float3 h, float eta, Albedo o, float3& specular,
                           float3& diffuse) {
    float wo_h = dot(wo, h);
    float dielectric = 1.0f - b.metallic;
    float3 f0 = b.layer_f0;
    float w = dielectric_schlick_weight(wo_h, eta);
    float3 metal_fresnel = fresnel_schlick(b.base_color, wo_h);
    float3 fresnel = make_float3(schlick_mix(f0.x, w), schlick_mix(f0.y, w), schlick_mix(f0.z, w));
    // The film lies on the outside (not seen from inside a refracting
    // material); each film term is computed only where its lobe has weight.
    if (b.iridescence > 0.0f && eta >= 1.0f) {
        float k = b.iridescence;
        if (b.metallic > 0.0f) {
            float3 film_metal = iridescent_fresnel(wo_h, b.film_ior, b.film_thickness, b.base_color);
            metal_fresnel = metal_fresnel * (1.0f - k) + film_metal * k;
        }
        if (dielectric > 0.0f) {
            fresnel = fresnel * (1.0f - k) + iridescent_fresnel(wo_h, b.film_ior, b.film_thickness, f0) * k;
        }
    }
    float3 metal = metal_fresnel * (splat3(1.0f) + b.base_color * o.lost);
    float3 layer = fresnel * b.specular * (splat3(1.0f) + f0 * o.lost);
    float lobe = ggx_d(h, b.alpha) * smith_g2(wo, wi, b.alpha) / (4.0f * wo.z);
    specular = (metal * b.metallic + layer * dielectric) * lobe;
    float weight = dielectric * (1.0f - b.transmission);
    if (weight > 0.0f) {
        float layer_i = bsdf_albedo(b, wi.z).layer;
        float through = fmaxf(1.0f - o.layer, 0.0f) * fmaxf(1.0f - layer_i, 0.0f) * b.diffuse_scale;
        diffuse = b.base_color * (weight * through * TS_FRAC_1_PI * wi.z);
    } else {
        diffuse = splat3(0.0f);
    }
}

TS_HD float3 bsdf_eval_pdf_reflection(const Bsdf& b, float3 wo, float3 wi, float eta, Albedo o, float p_specular,
                                      float p_diffuse, float& pdf) {
    float3 h = normalize(wo + wi);
    float3 specular, diffuse;
    bsdf_reflection(b, wo, wi, h, eta, o, specular, diffuse);
    pdf = p_specular * ggx_vndf_pdf(wo, h, b.alpha) / (4.0f * dot(wo, h)) + p_diffuse * cosine_hemisphere_pdf(wi.z);
    return specular + diffuse;
}

TS_HD float3 bsdf_eval_pdf_thin_transmission(const Bsdf& b, float3 wo, float3 wi, float eta, float p_transmission,
                                             float& pdf) {
    wi = mirror_z(wi);
    float3 h = normalize(wo + wi);
    float wo_h = dot(wo, h);
    float weight = (1.0f - b.metallic) * b.transmission * (1.0f - bsdf_layer_fresnel(b, wo_h, eta));
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
    float weight = (1.0f - b.metallic) * b.transmission * (1.0f - bsdf_layer_fresnel(b, wo_h, eta));
    float btdf = ggx_d(h, b.alpha) * smith_g2(wo, wi, b.alpha) * wo_h * -wi_h / (wo.z * denom2);
    pdf = p_transmission * ggx_vndf_pdf(wo, h, b.alpha) * eta * eta * -wi_h / denom2;
    return b.base_color * (weight * btdf);
}

// The base's eval and pdf with the probabilities p of [specular, cosine, transmission].
TS_HD float3 bsdf_eval_pdf_base(const Bsdf& b, float3 wo, float3 wi, float eta, Albedo o, const float p[3],
                                float& pdf) {
    if (wi.z > 0.0f) return bsdf_eval_pdf_reflection(b, wo, wi, eta, o, p[0], p[1], pdf);
    if (p[2] == 0.0f) {
        pdf = 0.0f;
        return splat3(0.0f);
    }
    if (b.thin) return bsdf_eval_pdf_thin_transmission(b, wo, wi, eta, p[2], pdf);
    return bsdf_eval_pdf_refraction(b, wo, wi, eta, p[2], pdf);
}

// The coat's f cos θi and its lobe's density, in the coat's frame.
TS_HD float bsdf_eval_pdf_coat(const Bsdf& b, float3 wo, float3 wi, Albedo o, float& pdf) {
    if (!(wo.z > 0.0f && wi.z > 0.0f)) {
        pdf = 0.0f;
        return 0.0f;
    }
    float3 h = normalize(wo + wi);
    float wo_h = dot(wo, h);
    float fresnel = fresnel_schlick_dielectric(wo_h, COAT_IOR) * (1.0f + dielectric_f0(COAT_IOR) * o.coat_lost);
    float2 alpha = make_float2(b.coat_alpha, b.coat_alpha);
    float lobe = ggx_d(h, alpha) * smith_g2(wo, wi, alpha) / (4.0f * wo.z);
    pdf = ggx_vndf_pdf(wo, h, alpha) / (4.0f * wo_h);
    return b.coat * fresnel * lobe;
}

// eval and pdf for wo.z > 0, with the albedos o seen from wo, the coat's normal and the
// lobe probabilities p: the coat over the sheen over the base.
TS_HD float3 bsdf_eval_pdf_upper(const Bsdf& b, float3 wo, float3 wi, float eta, Albedo o, float3 coat_normal,
                                 const float p[4], float& pdf) {
    float base_p[3] = {p[1], p[2], p[3]};
    float base_pdf;
    float3 base = bsdf_eval_pdf_base(b, wo, wi, eta, o, base_p, base_pdf);
    if (o.sheen > 0.0f) {
        base = base * bsdf_sheen_scaling(b, o);
        if (wi.z > 0.0f) base = base + b.sheen_color * (o.sheen_norm * sheen_lobe(wo, wi, b.sheen_alpha));
    }
    if (!(o.coat > 0.0f)) {
        pdf = base_pdf;
        return base;
    }
    Frame frame = frame_from_normal(coat_normal);
    float coat = 0.0f, coat_pdf = 0.0f;
    if (wi.z > 0.0f) coat = bsdf_eval_pdf_coat(b, to_local(frame, wo), to_local(frame, wi), o, coat_pdf);
    pdf = p[0] * coat_pdf + base_pdf;
    return splat3(coat) + base * (1.0f - o.coat);
}

TS_HD BsdfView bsdf_view(const Bsdf& b, float3 wo) {
    BsdfView v;
    v.bsdf = b;
    v.wo = bsdf_upper_hemisphere(b, wo, v.mirrored, v.eta);
    v.valid = v.wo.z > 0.0f;
    v.albedo = bsdf_albedo(b, v.valid ? v.wo.z : 1.0f);
    // Seen from behind, the coat turns with the surface, then everything is mirrored.
    float3 c = b.coat_normal;
    v.coat_normal = v.mirrored ? make_float3(-c.x, -c.y, c.z) : c;
    float cos_coat = dot(v.wo, v.coat_normal);
    // Seen from inside a refracting material there is no coat and no sheen.
    bool outside = v.eta == b.ior;
    if (b.coat > 0.0f && outside && cos_coat > 0.0f) v.albedo = bsdf_with_coat_albedo(b, v.albedo, cos_coat);
    if (max3(b.sheen_color) > 0.0f && outside && v.valid) v.albedo = bsdf_with_sheen_albedo(b, v.albedo, v.wo.z);
    bsdf_lobe_probabilities(b, v.albedo, v.lobes);
    return v;
}

// BsdfView::eval_pdf: f(wo, wi) |cos θi| and the density with which bsdf_view_sample returns wi.
TS_HD float3 bsdf_view_eval_pdf(const BsdfView& v, float3 wi, float& pdf) {
    if (!(v.valid && fabsf(wi.z) > 0.0f)) {
        pdf = 0.0f;
        return splat3(0.0f);
    }
    if (v.mirrored) wi = mirror_z(wi);
    return bsdf_eval_pdf_upper(v.bsdf, v.wo, wi, v.eta, v.albedo, v.coat_normal, v.lobes, pdf);
}

// BsdfView::sample: false where the Rust version returns None.
TS_HD bool bsdf_view_sample(const BsdfView& v, float u_lobe, float2 u, BsdfSample& s) {
    if (!v.valid) return false;
    const Bsdf& b = v.bsdf;
    float3 wo = v.wo;
    float3 wi_up;
    float p_specular = v.lobes[0] + v.lobes[1];
    float p_diffuse = v.lobes[0] + v.lobes[1] + v.lobes[2];
    if (u_lobe < v.lobes[0]) {
        Frame frame = frame_from_normal(v.coat_normal);
        float3 wo_coat = to_local(frame, wo);
        wi_up = to_world(frame, reflect(wo_coat, sample_ggx_vndf(wo_coat, make_float2(b.coat_alpha, b.coat_alpha), u)));
        if (!(wi_up.z > 0.0f)) return false;
    } else if (u_lobe < p_specular) {
        wi_up = reflect(wo, sample_ggx_vndf(wo, b.alpha, u));
        if (!(wi_up.z > 0.0f)) return false;
    } else if (u_lobe < p_diffuse) {
        wi_up = square_to_cosine_hemisphere(u);
        if (!(wi_up.z > 0.0f)) return false;
    } else {
        float3 h = sample_ggx_vndf(wo, b.alpha, u);
        if (b.thin) {
            wi_up = mirror_z(reflect(wo, h));
        } else if (!refract(wo, h, v.eta, wi_up)) {
            return false;
        }
        if (!(wi_up.z < 0.0f)) return false;
    }
    float pdf;
    float3 eval = bsdf_eval_pdf_upper(b, wo, wi_up, v.eta, v.albedo, v.coat_normal, v.lobes, pdf);
    if (!(pdf > 0.0f)) return false;
    s.wi = v.mirrored ? mirror_z(wi_up) : wi_up;
    s.weight = eval / pdf;
    s.pdf = pdf;
    s.transmitted = wi_up.z < 0.0f;
    return true;
}

// Bsdf::eval_pdf and Bsdf::sample: through a view of wo.
TS_HD float3 bsdf_eval_pdf(const Bsdf& b, float3 wo, float3 wi, float& pdf) {
    return bsdf_view_eval_pdf(bsdf_view(b, wo), wi, pdf);
}

TS_HD bool bsdf_sample(const Bsdf& b, float3 wo, float u_lobe, float2 u, BsdfSample& s) {
    return bsdf_view_sample(bsdf_view(b, wo), u_lobe, u, s);
}
