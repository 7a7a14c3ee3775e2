// GGX (Trowbridge–Reitz) with height-correlated Smith shadowing, visible-normal
// sampling and Fresnel factors, as src/sampling/microfacet.rs. Local shading
// frame, unit vectors pointing away from the surface; α.x along the frame's
// x axis, α.y along y.

fn roughness_to_alpha(roughness: f32) -> f32 {
    let a = roughness * roughness;
    return select(MIN_ALPHA, a, a > MIN_ALPHA);
}

fn ggx_d(m: vec3<f32>, alpha: vec2<f32>) -> f32 {
    if m.z <= 0.0 {
        return 0.0;
    }
    let t = m.x * m.x / (alpha.x * alpha.x) + m.y * m.y / (alpha.y * alpha.y) + m.z * m.z;
    return FRAC_1_PI / (alpha.x * alpha.y * t * t);
}

fn smith_lambda(v: vec3<f32>, alpha: vec2<f32>) -> f32 {
    let cos2 = v.z * v.z;
    if cos2 == 0.0 {
        return inf();
    }
    let a2_tan2 = (alpha.x * alpha.x * v.x * v.x + alpha.y * alpha.y * v.y * v.y) / cos2;
    return 0.5 * (sqrt(1.0 + a2_tan2) - 1.0);
}

fn smith_g1(v: vec3<f32>, alpha: vec2<f32>) -> f32 {
    return 1.0 / (1.0 + smith_lambda(v, alpha));
}

fn smith_g2(wo: vec3<f32>, wi: vec3<f32>, alpha: vec2<f32>) -> f32 {
    return 1.0 / (1.0 + smith_lambda(wo, alpha) + smith_lambda(wi, alpha));
}

// Visible normals by spherical caps (Dupuy & Benyoub 2023); expects wo.z > 0.
fn sample_ggx_vndf(wo: vec3<f32>, alpha: vec2<f32>, u: vec2<f32>) -> vec3<f32> {
    let v = normalize(vec3<f32>(alpha.x * wo.x, alpha.y * wo.y, wo.z));
    let phi = 2.0 * PI * u.x;
    let z = (1.0 - u.y) * (1.0 + v.z) - v.z;
    let sin_theta = sqrt(max(1.0 - z * z, 0.0));
    let h = vec3<f32>(sin_theta * cos(phi), sin_theta * sin(phi), z) + v;
    return normalize(vec3<f32>(alpha.x * h.x, alpha.y * h.y, max(h.z, 0.0)));
}

fn ggx_vndf_pdf(wo: vec3<f32>, m: vec3<f32>, alpha: vec2<f32>) -> f32 {
    let wo_m = dot(wo, m);
    if wo.z <= 0.0 || wo_m <= 0.0 {
        return 0.0;
    }
    return smith_g1(wo, alpha) * wo_m * ggx_d(m, alpha) / wo.z;
}

// Mirror reflection of wo about m (WGSL's built-in `reflect` mirrors an
// incident direction instead, hence the prefix).
fn microfacet_reflect(wo: vec3<f32>, m: vec3<f32>) -> vec3<f32> {
    return 2.0 * dot(wo, m) * m - wo;
}

// A refracted direction, or `ok == false` on total internal reflection.
struct Refraction {
    wi: vec3<f32>,
    ok: bool,
}

// Refraction of wo through microfacet m (wo·m > 0); eta = far index / near index.
fn microfacet_refract(wo: vec3<f32>, m: vec3<f32>, eta: f32) -> Refraction {
    let cos_i = dot(wo, m);
    let sin2_t = max(1.0 - cos_i * cos_i, 0.0) / (eta * eta);
    if sin2_t >= 1.0 {
        return Refraction(vec3<f32>(0.0), false);
    }
    let cos_t = sqrt(1.0 - sin2_t);
    return Refraction((cos_i / eta - cos_t) * m - wo / eta, true);
}

fn schlick_weight(cos_theta: f32) -> f32 {
    let c = 1.0 - clamp(cos_theta, 0.0, 1.0);
    let c2 = c * c;
    return c2 * c2 * c;
}

fn fresnel_schlick(f0: vec3<f32>, cos_theta: f32) -> vec3<f32> {
    return f0 + (vec3<f32>(1.0) - f0) * schlick_weight(cos_theta);
}

fn dielectric_f0(eta: f32) -> f32 {
    let r = (eta - 1.0) / (eta + 1.0);
    return r * r;
}

// Schlick with total internal reflection: seen from the denser side (eta < 1)
// the angle is the refracted one.
fn fresnel_schlick_dielectric(cos_theta_i: f32, eta: f32) -> f32 {
    return schlick_mix(dielectric_f0(eta), dielectric_schlick_weight(cos_theta_i, eta));
}

// F0 + (1 − F0) w, exactly 1 for w = 1 (total internal reflection).
fn schlick_mix(f0: f32, w: f32) -> f32 {
    return w + f0 * (1.0 - w);
}

// The weight w of fresnel_schlick_dielectric: Schlick's at the angle in the
// less dense medium, 1 beyond the critical angle.
fn dielectric_schlick_weight(cos_theta_i: f32, eta: f32) -> f32 {
    let cos_i = clamp(cos_theta_i, 0.0, 1.0);
    var cos_t = cos_i;
    if eta < 1.0 {
        let sin2_t = (1.0 - cos_i * cos_i) / (eta * eta);
        if sin2_t >= 1.0 {
            return 1.0;
        }
        cos_t = sqrt(1.0 - sin2_t);
    }
    return schlick_weight(cos_t);
}
