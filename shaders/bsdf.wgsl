// The glTF metallic-roughness BSDF with transmission, ior, specular, anisotropy, sheen, clearcoat and volume (thin-walled
// or refracting), as src/sampling/bsdf.rs: methods `Bsdf::x` are `bsdf_x`.
// `eval` returns f(wo, wi) |cos θi|; the surface is two-sided (wo.z < 0 mirrors
// both directions, and a refracting dielectric then sees 1 / ior).

struct Bsdf {
    base_color: vec3<f32>,
    metallic: f32,
    // GGX α along the local x axis (the anisotropy direction) and y.
    alpha: vec2<f32>,
    ior: f32,
    transmission: f32,
    thin: bool,
    albedo_row: f32,
    // The layer's normal reflectance as the albedo tables see it, and per channel
    // (the specular colour tints it).
    f0: f32,
    layer_f0: vec3<f32>,
    specular: f32,
    diffuse_scale: f32,
    // Clearcoat weight (0: no coat), α, albedo-table row, normal in the local frame.
    coat: f32,
    coat_alpha: f32,
    coat_row: f32,
    coat_normal: vec3<f32>,
    // Sheen colour (black: none), Charlie α, albedo-table row.
    sheen_color: vec3<f32>,
    sheen_alpha: f32,
    sheen_row: f32,
    // Thin film (KHR_materials_iridescence): factor (0: none), index, thickness in nm.
    iridescence: f32,
    film_ior: f32,
    film_thickness: f32,
}

// The GGX albedos at one direction: (E1, W), (1 − E1) / E1, the dielectric layer's E,
// the coat's E_c (weight included) and its lobe's (1 − E1) / E1, the sheen's
// min(E_s, 1) and 1 / max(E_s, 1).
struct Albedo {
    lobe: vec2<f32>,
    lost: f32,
    layer: f32,
    coat: f32,
    coat_lost: f32,
    sheen: f32,
    sheen_norm: f32,
}

// Bsdf::view: the BSDF seen from one direction, shared by its evaluations and samples.
struct BsdfView {
    bsdf: Bsdf,
    wo: vec3<f32>,
    mirrored: bool,
    eta: f32,
    albedo: Albedo,
    // Mirrored with wo.
    coat_normal: vec3<f32>,
    // Probabilities of coat, specular, cosine (diffuse and sheen), transmission.
    lobes: vec4<f32>,
    valid: bool,
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

// The isotropic α at which the albedo tables are read.
fn table_alpha(alpha: vec2<f32>) -> f32 {
    return sqrt(alpha.x * alpha.y);
}

// 1 / (1 − E_avg) of a dielectric layer: the diffuse lobe's normalisation.
fn diffuse_scale(specular: f32, row: f32, f0: f32) -> f32 {
    return 1.0 / max(1.0 - specular * dielectric_average(row, f0), 1e-3);
}

fn bsdf_new(
    base_color: vec3<f32>,
    metallic: f32,
    roughness: f32,
    ior: f32,
    transmission: f32,
    thin: bool,
    specular: f32,
) -> Bsdf {
    let s = unit_interval(specular);
    let tr = unit_interval(transmission);
    let min_ior = select(1.0, MIN_REFRACTING_IOR, tr > 0.0 && !thin);
    let clamped_ior = min(select(min_ior, ior, ior > min_ior), MAX_IOR);
    let r = unit_interval(roughness);
    let row = roughness_row(r);
    let f0 = dielectric_f0(clamped_ior);
    return Bsdf(
        vec3<f32>(unit_interval(base_color.x), unit_interval(base_color.y), unit_interval(base_color.z)),
        unit_interval(metallic),
        vec2<f32>(roughness_to_alpha(r)),
        clamped_ior,
        tr,
        thin,
        row,
        f0,
        vec3<f32>(f0),
        s,
        diffuse_scale(s, row, f0),
        0.0,
        roughness_to_alpha(0.0),
        0.0,
        vec3<f32>(0.0, 0.0, 1.0),
        vec3<f32>(0.0),
        sheen_alpha(0.0),
        0.0,
        0.0,
        1.0,
        0.0,
    );
}

// Bsdf::with_specular_color: the layer's normal reflectance min(F0(ior) color, 1) per channel.
fn bsdf_with_specular_color(b_in: Bsdf, color: vec3<f32>) -> Bsdf {
    var b = b_in;
    b.layer_f0 = min(dielectric_f0(b.ior) * max(color, vec3<f32>(0.0)), vec3<f32>(1.0));
    b.f0 = max(b.layer_f0.x, max(b.layer_f0.y, b.layer_f0.z));
    b.diffuse_scale = diffuse_scale(b.specular, b.albedo_row, b.f0);
    return b;
}

// Bsdf::with_iridescence: under a thin film of factor, index and thickness (nm);
// the base receives what a layer of the film's largest normal reflectance lets through.
fn bsdf_with_iridescence(b_in: Bsdf, factor: f32, ior: f32, thickness: f32) -> Bsdf {
    var b = b_in;
    b.iridescence = unit_interval(factor);
    b.film_ior = min(max(ior, 1.0), MAX_IOR);
    b.film_thickness = max(thickness, 0.0);
    let film = iridescent_fresnel(1.0, b.film_ior, b.film_thickness, b.layer_f0);
    b.f0 = b.f0 + (max(film.x, max(film.y, film.z)) - b.f0) * b.iridescence;
    b.diffuse_scale = diffuse_scale(b.specular, b.albedo_row, b.f0);
    return b;
}

// Bsdf::with_anisotropy: KHR_materials_anisotropy's strength along the local x
// axis, the albedo tables read at the geometric mean √(α.x α.y).
fn bsdf_with_anisotropy(b_in: Bsdf, strength: f32) -> Bsdf {
    var b = b_in;
    let s = unit_interval(strength);
    let alpha_y = b.alpha.y;
    b.alpha = vec2<f32>(alpha_y + (1.0 - alpha_y) * s * s, alpha_y);
    b.albedo_row = roughness_row(sqrt(table_alpha(b.alpha)));
    b.diffuse_scale = diffuse_scale(b.specular, b.albedo_row, b.f0);
    return b;
}

// Bsdf::with_coat: under a clear coat of weight and roughness with a local unit normal.
fn bsdf_with_coat(b_in: Bsdf, weight: f32, roughness: f32, normal: vec3<f32>) -> Bsdf {
    var b = b_in;
    let r = unit_interval(roughness);
    b.coat = unit_interval(weight);
    b.coat_alpha = roughness_to_alpha(r);
    b.coat_row = roughness_row(r);
    b.coat_normal = normal;
    return b;
}

// Bsdf::with_sheen: under a sheen of colour and roughness.
fn bsdf_with_sheen(b_in: Bsdf, color: vec3<f32>, roughness: f32) -> Bsdf {
    var b = b_in;
    b.sheen_color = vec3<f32>(unit_interval(color.x), unit_interval(color.y), unit_interval(color.z));
    b.sheen_alpha = sheen_alpha(roughness);
    b.sheen_row = sheen_row(roughness);
    return b;
}

fn max3(v: vec3<f32>) -> f32 {
    return max(v.x, max(v.y, v.z));
}

fn mean3(v: vec3<f32>) -> f32 {
    return (v.x + v.y + v.z) * (1.0 / 3.0);
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

fn bsdf_albedo(b: Bsdf, cos: f32) -> Albedo {
    let lobe = albedo_lookup(b.albedo_row, table_alpha(b.alpha), cos);
    return Albedo(lobe, multiscatter_lost(lobe), b.specular * dielectric_albedo(lobe, b.f0), 0.0, 0.0, 0.0, 0.0);
}

// Bsdf::with_sheen_albedo: the sheen's albedos at view cosine cos > 0.
fn bsdf_with_sheen_albedo(b: Bsdf, o_in: Albedo, cos: f32) -> Albedo {
    var o = o_in;
    let e = sheen_albedo(b.sheen_row, cos);
    o.sheen = min(e, 1.0);
    o.sheen_norm = 1.0 / max(e, 1.0);
    return o;
}

// The sheen's albedo scaling of the base: 1 − max(sheenColor) E_s(wo).
fn bsdf_sheen_scaling(b: Bsdf, o: Albedo) -> f32 {
    return 1.0 - max3(b.sheen_color) * o.sheen;
}

// Bsdf::with_coat_albedo: the coat's albedos at cosine cos (its own frame) > 0.
fn bsdf_with_coat_albedo(b: Bsdf, o_in: Albedo, cos: f32) -> Albedo {
    var o = o_in;
    let lobe = albedo_lookup(b.coat_row, b.coat_alpha, cos);
    o.coat = b.coat * dielectric_albedo(lobe, dielectric_f0(COAT_IOR));
    o.coat_lost = multiscatter_lost(lobe);
    return o;
}

// Fresnel reflectance of the dielectric layer at wo·h: its largest channel.
fn bsdf_layer_fresnel(b: Bsdf, wo_h: f32, eta: f32) -> f32 {
    return b.specular * schlick_mix(b.f0, dielectric_schlick_weight(wo_h, eta));
}

// Probabilities of [coat, specular, cosine (diffuse and sheen), transmission] given the albedos seen from wo.
fn bsdf_lobe_probabilities(b: Bsdf, o: Albedo) -> vec4<f32> {
    let c = b.base_color;
    let dielectric = 1.0 - b.metallic;
    let metal = (c * (o.lobe.x - o.lobe.y) + vec3<f32>(o.lobe.y)) * (vec3<f32>(1.0) + c * o.lost);
    let specular = b.metallic * mean3(metal) + dielectric * o.layer;
    let refracted = dielectric * max(1.0 - o.layer, 0.0) * mean3(c);
    let diffuse = refracted * (1.0 - b.transmission);
    let transmission = refracted * b.transmission;
    let kept = 1.0 - o.coat;
    let sheen = mean3(b.sheen_color) * o.sheen;
    let under = bsdf_sheen_scaling(b, o);
    let total = o.coat + kept * (sheen + under * (specular + diffuse + transmission));
    if !(total > 0.0) {
        return vec4<f32>(0.0, 1.0, 0.0, 0.0);
    }
    let cosine = sheen + under * diffuse;
    return vec4<f32>(o.coat / total, kept * under * specular / total, kept * cosine / total, kept * under * transmission / total);
}

// eval and pdf for wo.z > 0: the coat over the sheen over the base.
fn bsdf_eval_pdf_upper(
    b: Bsdf,
    wo: vec3<f32>,
    wi: vec3<f32>,
    eta: f32,
    o: Albedo,
    coat_normal: vec3<f32>,
    p: vec4<f32>,
) -> BsdfValue {
    var base = bsdf_eval_pdf_base(b, wo, wi, eta, o, p.yzw);
    if o.sheen > 0.0 {
        base.eval *= bsdf_sheen_scaling(b, o);
        if wi.z > 0.0 {
            base.eval += b.sheen_color * (o.sheen_norm * sheen_lobe(wo, wi, b.sheen_alpha));
        }
    }
    if !(o.coat > 0.0) {
        return base;
    }
    var coat = BsdfValue(vec3<f32>(0.0), 0.0);
    if wi.z > 0.0 {
        let frame = frame_from_normal(coat_normal);
        coat = bsdf_eval_pdf_coat(b, frame_to_local(frame, wo), frame_to_local(frame, wi), o);
    }
    return BsdfValue(coat.eval + base.eval * (1.0 - o.coat), p.x * coat.pdf + base.pdf);
}

// The coat's f cos θi (in every channel) and its lobe's density, in the coat's frame.
fn bsdf_eval_pdf_coat(b: Bsdf, wo: vec3<f32>, wi: vec3<f32>, o: Albedo) -> BsdfValue {
    if !(wo.z > 0.0 && wi.z > 0.0) {
        return BsdfValue(vec3<f32>(0.0), 0.0);
    }
    let h = normalize(wo + wi);
    let wo_h = dot(wo, h);
    let fresnel = fresnel_schlick_dielectric(wo_h, COAT_IOR) * (1.0 + dielectric_f0(COAT_IOR) * o.coat_lost);
    let alpha = vec2<f32>(b.coat_alpha);
    let lobe = ggx_d(h, alpha) * smith_g2(wo, wi, alpha) / (4.0 * wo.z);
    let pdf = ggx_vndf_pdf(wo, h, alpha) / (4.0 * wo_h);
    return BsdfValue(vec3<f32>(b.coat * fresnel * lobe), pdf);
}

// The base's eval and pdf with the probabilities of [specular, cosine, transmission].
fn bsdf_eval_pdf_base(b: Bsdf, wo: vec3<f32>, wi: vec3<f32>, eta: f32, o: Albedo, p: vec3<f32>) -> BsdfValue {
    if wi.z > 0.0 {
        return bsdf_eval_pdf_reflection(b, wo, wi, eta, o, p.x, p.y);
    } else if p.z == 0.0 {
        return BsdfValue(vec3<f32>(0.0), 0.0);
    } else if b.thin {
        return bsdf_eval_pdf_thin_transmission(b, wo, wi, eta, p.z);
    }
    return bsdf_eval_pdf_refraction(b, wo, wi, eta, p.z);
}

struct Reflection {
    specular: vec3<f32>,
    diffuse: vec3<f32>,
}

// Bsdf::reflection: the specular and diffuse parts of f cos θi, half vector h.
fn bsdf_reflection(b: Bsdf, wo: vec3<f32>, wi: vec3<f32>, h: vec3<f32>, eta: f32, o: Albedo) -> Reflection {
    let wo_h = dot(wo, h);
    let dielectric = 1.0 - b.metallic;
    let f0 = b.layer_f0;
    let w = dielectric_schlick_weight(wo_h, eta);
    var metal_fresnel = fresnel_schlick(b.base_color, wo_h);
    var fresnel = vec3<f32>(schlick_mix(f0.x, w), schlick_mix(f0.y, w), schlick_mix(f0.z, w));
    // The film lies on the outside (not seen from inside a refracting
    // material); each film term is computed only where its lobe has weight.
    if b.iridescence > 0.0 && eta >= 1.0 {
        let k = b.iridescence;
        if b.metallic > 0.0 {
            let film_metal = iridescent_fresnel(wo_h, b.film_ior, b.film_thickness, b.base_color);
            metal_fresnel = metal_fresnel * (1.0 - k) + film_metal * k;
        }
        if dielectric > 0.0 {
            fresnel = fresnel * (1.0 - k) + iridescent_fresnel(wo_h, b.film_ior, b.film_thickness, f0) * k;
        }
    }
    let metal = metal_fresnel * (vec3<f32>(1.0) + b.base_color * o.lost);
    let layer = fresnel * b.specular * (vec3<f32>(1.0) + f0 * o.lost);
    let lobe = ggx_d(h, b.alpha) * smith_g2(wo, wi, b.alpha) / (4.0 * wo.z);
    let specular = (metal * b.metallic + layer * dielectric) * lobe;
    let weight = dielectric * (1.0 - b.transmission);
    var diffuse = vec3<f32>(0.0);
    if weight > 0.0 {
        let layer_i = bsdf_albedo(b, wi.z).layer;
        let through = max(1.0 - o.layer, 0.0) * max(1.0 - layer_i, 0.0) * b.diffuse_scale;
        diffuse = b.base_color * (weight * through * FRAC_1_PI * wi.z);
    }
    return Reflection(specular, diffuse);
}

fn bsdf_eval_pdf_reflection(b: Bsdf, wo: vec3<f32>, wi: vec3<f32>, eta: f32, o: Albedo, p_specular: f32, p_diffuse: f32) -> BsdfValue {
    let h = normalize(wo + wi);
    let r = bsdf_reflection(b, wo, wi, h, eta, o);
    let pdf = p_specular * ggx_vndf_pdf(wo, h, b.alpha) / (4.0 * dot(wo, h)) + p_diffuse * cosine_hemisphere_pdf(wi.z);
    return BsdfValue(r.specular + r.diffuse, pdf);
}

fn bsdf_eval_pdf_thin_transmission(b: Bsdf, wo: vec3<f32>, wi_below: vec3<f32>, eta: f32, p_transmission: f32) -> BsdfValue {
    let wi = mirror_z(wi_below);
    let h = normalize(wo + wi);
    let wo_h = dot(wo, h);
    let weight = (1.0 - b.metallic) * b.transmission * (1.0 - bsdf_layer_fresnel(b, wo_h, eta));
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
    let weight = (1.0 - b.metallic) * b.transmission * (1.0 - bsdf_layer_fresnel(b, wo_h, eta));
    let btdf = ggx_d(h, b.alpha) * smith_g2(wo, wi, b.alpha) * wo_h * -wi_h / (wo.z * denom2);
    let pdf = p_transmission * ggx_vndf_pdf(wo, h, b.alpha) * eta * eta * -wi_h / denom2;
    return BsdfValue(b.base_color * (weight * btdf), pdf);
}

fn no_bsdf_sample() -> BsdfSample {
    return BsdfSample(vec3<f32>(0.0), vec3<f32>(0.0), 0.0, false, false);
}

fn bsdf_view(b: Bsdf, wo: vec3<f32>) -> BsdfView {
    let up = bsdf_upper_hemisphere(b, wo);
    let valid = up.wo.z > 0.0;
    var albedo = bsdf_albedo(b, select(1.0, up.wo.z, valid));
    // Seen from behind, the coat turns with the surface, then everything is mirrored.
    let c = b.coat_normal;
    let coat_normal = select(c, vec3<f32>(-c.x, -c.y, c.z), up.mirrored);
    let cos_coat = dot(up.wo, coat_normal);
    // Seen from inside a refracting material there is no coat and no sheen.
    let outside = up.eta == b.ior;
    if b.coat > 0.0 && outside && cos_coat > 0.0 {
        albedo = bsdf_with_coat_albedo(b, albedo, cos_coat);
    }
    if max3(b.sheen_color) > 0.0 && outside && valid {
        albedo = bsdf_with_sheen_albedo(b, albedo, up.wo.z);
    }
    return BsdfView(b, up.wo, up.mirrored, up.eta, albedo, coat_normal, bsdf_lobe_probabilities(b, albedo), valid);
}

// BsdfView::eval_pdf: f(wo, wi) |cos θi| and the density with which bsdf_view_sample returns wi.
fn bsdf_view_eval_pdf(v: BsdfView, wi: vec3<f32>) -> BsdfValue {
    if !(v.valid && abs(wi.z) > 0.0) {
        return BsdfValue(vec3<f32>(0.0), 0.0);
    }
    var wi_up = wi;
    if v.mirrored {
        wi_up = mirror_z(wi);
    }
    return bsdf_eval_pdf_upper(v.bsdf, v.wo, wi_up, v.eta, v.albedo, v.coat_normal, v.lobes);
}

// BsdfView::sample: u_lobe picks the lobe, u the direction.
fn bsdf_view_sample(v: BsdfView, u_lobe: f32, u: vec2<f32>) -> BsdfSample {
    if !v.valid {
        return no_bsdf_sample();
    }
    let b = v.bsdf;
    let p = v.lobes;
    var wi_up: vec3<f32>;
    if u_lobe < p.x {
        let frame = frame_from_normal(v.coat_normal);
        let wo_coat = frame_to_local(frame, v.wo);
        wi_up = frame_to_world(frame, microfacet_reflect(wo_coat, sample_ggx_vndf(wo_coat, vec2<f32>(b.coat_alpha), u)));
        if !(wi_up.z > 0.0) {
            return no_bsdf_sample();
        }
    } else if u_lobe < p.x + p.y {
        wi_up = microfacet_reflect(v.wo, sample_ggx_vndf(v.wo, b.alpha, u));
        if !(wi_up.z > 0.0) {
            return no_bsdf_sample();
        }
    } else if u_lobe < p.x + p.y + p.z {
        wi_up = square_to_cosine_hemisphere(u);
        if !(wi_up.z > 0.0) {
            return no_bsdf_sample();
        }
    } else {
        let h = sample_ggx_vndf(v.wo, b.alpha, u);
        if b.thin {
            wi_up = mirror_z(microfacet_reflect(v.wo, h));
        } else {
            let r = microfacet_refract(v.wo, h, v.eta);
            if !r.ok {
                return no_bsdf_sample();
            }
            wi_up = r.wi;
        }
        if !(wi_up.z < 0.0) {
            return no_bsdf_sample();
        }
    }
    let value = bsdf_eval_pdf_upper(b, v.wo, wi_up, v.eta, v.albedo, v.coat_normal, v.lobes);
    if !(value.pdf > 0.0) {
        return no_bsdf_sample();
    }
    var wi = wi_up;
    if v.mirrored {
        wi = mirror_z(wi_up);
    }
    return BsdfSample(wi, value.eval / value.pdf, value.pdf, wi_up.z < 0.0, true);
}
