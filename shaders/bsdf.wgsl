// The glTF metallic-roughness BSDF with transmission, ior and volume (thin-walled
// or refracting), as src/sampling/bsdf.rs: methods `Bsdf::x` are `bsdf_x`.
// `eval` returns f(wo, wi) |cos θi|; the surface is two-sided (wo.z < 0 mirrors
// both directions, and a refracting dielectric then sees 1 / ior).

// Cap on the Fresnel reflectance used to choose lobes (bsdf.rs MAX_LOBE_FRESNEL).
const MAX_LOBE_FRESNEL: f32 = 0.9;

struct Bsdf {
    base_color: vec3<f32>,
    metallic: f32,
    alpha: f32,
    ior: f32,
    transmission: f32,
    thin: bool,
}

struct BsdfSample {
    wi: vec3<f32>,
    weight: vec3<f32>,
    pdf: f32,
    transmitted: bool,
    // false where the Rust reference returns None.
    valid: bool,
}

struct BsdfValue {
    eval: vec3<f32>,
    pdf: f32,
}

// Clamp to [0, 1], NaN to 0.
fn unit_interval(x: f32) -> f32 {
    return select(0.0, min(x, 1.0), x > 0.0);
}

fn bsdf_new(base_color: vec3<f32>, metallic: f32, roughness: f32, ior: f32, transmission: f32, thin: bool) -> Bsdf {
    let tr = unit_interval(transmission);
    let min_ior = select(1.0, MIN_REFRACTING_IOR, tr > 0.0 && !thin);
    let clamped_ior = min(select(min_ior, ior, ior > min_ior), MAX_IOR);
    return Bsdf(
        vec3<f32>(unit_interval(base_color.x), unit_interval(base_color.y), unit_interval(base_color.z)),
        unit_interval(metallic),
        roughness_to_alpha(unit_interval(roughness)),
        clamped_ior,
        tr,
        thin,
    );
}

fn mirror_z(v: vec3<f32>) -> vec3<f32> {
    return vec3<f32>(v.x, v.y, -v.z);
}

struct UpperHemisphere {
    wo: vec3<f32>,
    mirrored: bool,
    eta: f32,
}

fn bsdf_upper_hemisphere(b: Bsdf, wo: vec3<f32>) -> UpperHemisphere {
    if wo.z >= 0.0 {
        return UpperHemisphere(wo, false, b.ior);
    }
    let inside = b.transmission > 0.0 && !b.thin;
    return UpperHemisphere(mirror_z(wo), true, select(b.ior, 1.0 / b.ior, inside));
}

// Probabilities of [specular, diffuse, transmission] for cos θo > 0.
fn bsdf_lobe_probabilities(b: Bsdf, cos_o: f32, eta: f32) -> vec3<f32> {
    let f = min(fresnel_dielectric(cos_o, eta), MAX_LOBE_FRESNEL);
    let dielectric = 1.0 - b.metallic;
    let refracted = dielectric * (1.0 - f);
    return vec3<f32>(b.metallic + dielectric * f, refracted * (1.0 - b.transmission), refracted * b.transmission);
}

fn bsdf_eval(b: Bsdf, wo: vec3<f32>, wi: vec3<f32>) -> vec3<f32> {
    return bsdf_eval_pdf(b, wo, wi).eval;
}

fn bsdf_pdf(b: Bsdf, wo: vec3<f32>, wi: vec3<f32>) -> f32 {
    return bsdf_eval_pdf(b, wo, wi).pdf;
}

fn bsdf_eval_pdf(b: Bsdf, wo: vec3<f32>, wi: vec3<f32>) -> BsdfValue {
    if !(abs(wo.z) > 0.0 && abs(wi.z) > 0.0) {
        return BsdfValue(vec3<f32>(0.0), 0.0);
    }
    let up = bsdf_upper_hemisphere(b, wo);
    var wi_up = wi;
    if up.mirrored {
        wi_up = mirror_z(wi);
    }
    return bsdf_eval_pdf_upper(b, up.wo, wi_up, up.eta);
}

fn bsdf_eval_pdf_upper(b: Bsdf, wo: vec3<f32>, wi: vec3<f32>, eta: f32) -> BsdfValue {
    let p = bsdf_lobe_probabilities(b, wo.z, eta);
    if wi.z > 0.0 {
        return bsdf_eval_pdf_reflection(b, wo, wi, eta, p.x, p.y);
    } else if p.z == 0.0 {
        return BsdfValue(vec3<f32>(0.0), 0.0);
    } else if b.thin {
        return bsdf_eval_pdf_thin_transmission(b, wo, wi, eta, p.z);
    }
    return bsdf_eval_pdf_refraction(b, wo, wi, eta, p.z);
}

fn bsdf_eval_pdf_reflection(b: Bsdf, wo: vec3<f32>, wi: vec3<f32>, eta: f32, p_specular: f32, p_diffuse: f32) -> BsdfValue {
    let h = normalize(wo + wi);
    let wo_h = dot(wo, h);
    let dielectric = 1.0 - b.metallic;
    let fresnel = b.metallic * fresnel_schlick(b.base_color, wo_h) + vec3<f32>(dielectric * fresnel_dielectric(wo_h, eta));
    let specular = fresnel * (ggx_d(h, b.alpha) * smith_g2(wo, wi, b.alpha) / (4.0 * wo.z));
    let crossings = (1.0 - fresnel_dielectric(wo.z, eta)) * (1.0 - fresnel_dielectric(wi.z, eta));
    let diffuse = b.base_color * (dielectric * (1.0 - b.transmission) * crossings * FRAC_1_PI * wi.z);
    let pdf = p_specular * ggx_vndf_pdf(wo, h, b.alpha) / (4.0 * wo_h) + p_diffuse * cosine_hemisphere_pdf(wi.z);
    return BsdfValue(specular + diffuse, pdf);
}

fn bsdf_eval_pdf_thin_transmission(b: Bsdf, wo: vec3<f32>, wi_below: vec3<f32>, eta: f32, p_transmission: f32) -> BsdfValue {
    let wi = mirror_z(wi_below);
    let h = normalize(wo + wi);
    let wo_h = dot(wo, h);
    let weight = (1.0 - b.metallic) * b.transmission * (1.0 - fresnel_dielectric(wo_h, eta));
    let lobe = ggx_d(h, b.alpha) * smith_g2(wo, wi, b.alpha) / (4.0 * wo.z);
    let pdf = p_transmission * ggx_vndf_pdf(wo, h, b.alpha) / (4.0 * wo_h);
    return BsdfValue(b.base_color * (weight * lobe), pdf);
}

// Rough dielectric refraction (Walter et al. 2007), radiance BTDF.
fn bsdf_eval_pdf_refraction(b: Bsdf, wo: vec3<f32>, wi: vec3<f32>, eta: f32, p_transmission: f32) -> BsdfValue {
    var h = wo + eta * wi;
    if h.z < 0.0 {
        h = -h;
    }
    let len = length(h);
    if !(len > 0.0) {
        return BsdfValue(vec3<f32>(0.0), 0.0);
    }
    h = h / len;
    let wo_h = dot(wo, h);
    let wi_h = dot(wi, h);
    if !(wo_h > 0.0 && wi_h < 0.0) {
        return BsdfValue(vec3<f32>(0.0), 0.0);
    }
    let denom = wo_h + eta * wi_h;
    let denom2 = denom * denom;
    let weight = (1.0 - b.metallic) * b.transmission * (1.0 - fresnel_dielectric(wo_h, eta));
    let btdf = ggx_d(h, b.alpha) * smith_g2(wo, wi, b.alpha) * wo_h * -wi_h / (wo.z * denom2);
    let pdf = p_transmission * ggx_vndf_pdf(wo, h, b.alpha) * eta * eta * -wi_h / denom2;
    return BsdfValue(b.base_color * (weight * btdf), pdf);
}

fn no_bsdf_sample() -> BsdfSample {
    return BsdfSample(vec3<f32>(0.0), vec3<f32>(0.0), 0.0, false, false);
}

// Samples wi given wo: u_lobe picks the lobe, u the direction.
fn bsdf_sample(b: Bsdf, wo: vec3<f32>, u_lobe: f32, u: vec2<f32>) -> BsdfSample {
    if !(abs(wo.z) > 0.0) {
        return no_bsdf_sample();
    }
    let up = bsdf_upper_hemisphere(b, wo);
    let p = bsdf_lobe_probabilities(b, up.wo.z, up.eta);
    var wi_up: vec3<f32>;
    if u_lobe < p.x {
        wi_up = microfacet_reflect(up.wo, sample_ggx_vndf(up.wo, b.alpha, u));
        if !(wi_up.z > 0.0) {
            return no_bsdf_sample();
        }
    } else if u_lobe < p.x + p.y {
        wi_up = square_to_cosine_hemisphere(u);
        if !(wi_up.z > 0.0) {
            return no_bsdf_sample();
        }
    } else {
        let h = sample_ggx_vndf(up.wo, b.alpha, u);
        if b.thin {
            wi_up = mirror_z(microfacet_reflect(up.wo, h));
        } else {
            let r = microfacet_refract(up.wo, h, up.eta);
            if !r.ok {
                return no_bsdf_sample();
            }
            wi_up = r.wi;
        }
        if !(wi_up.z < 0.0) {
            return no_bsdf_sample();
        }
    }
    let value = bsdf_eval_pdf_upper(b, up.wo, wi_up, up.eta);
    if !(value.pdf > 0.0) {
        return no_bsdf_sample();
    }
    var wi = wi_up;
    if up.mirrored {
        wi = mirror_z(wi_up);
    }
    return BsdfSample(wi, value.eval / value.pdf, value.pdf, wi_up.z < 0.0, true);
}
