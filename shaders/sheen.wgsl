// KHR_materials_sheen's Charlie lobe and its tabulated directional albedo, as
// src/sampling/sheen.rs (read its header). The table is part of the uniform
// `tables` (bindings.wgsl), from SHEEN_ALBEDO_TABLE on.

fn sheen_clamp_roughness(roughness: f32) -> f32 {
    // NaN maps to the lower bound.
    return select(MIN_SHEEN_ROUGHNESS, min(roughness, 1.0), roughness > MIN_SHEEN_ROUGHNESS);
}

fn sheen_alpha(roughness: f32) -> f32 {
    let r = sheen_clamp_roughness(roughness);
    return r * r;
}

fn sheen_row(roughness: f32) -> f32 {
    return (sheen_clamp_roughness(roughness) - MIN_SHEEN_ROUGHNESS) / (1.0 - MIN_SHEEN_ROUGHNESS)
        * f32(SHEEN_ROUGHNESS_STEPS - 1u);
}

fn charlie_d(cos_h: f32, alpha: f32) -> f32 {
    let sin2 = max(1.0 - cos_h * cos_h, 0.0);
    return (2.0 + 1.0 / alpha) * pow(sin2, 0.5 / alpha) / (2.0 * PI);
}

// Between a fit coefficient at α = 1 and at α = 0, as the Rust reference spells it.
fn charlie_mix(at1: f32, at0: f32, t: f32) -> f32 {
    return at1 + (at0 - at1) * t;
}

// Estevez and Kulla's fit of ln Λ, interpolated by (1 − α)².
fn charlie_l(mu: f32, alpha: f32) -> f32 {
    let t = (1.0 - alpha) * (1.0 - alpha);
    let a = charlie_mix(21.5473, 25.3245, t);
    let b = charlie_mix(3.82987, 3.32435, t);
    let c = charlie_mix(0.19823, 0.16801, t);
    let d = charlie_mix(-1.97760, -1.27393, t);
    let e = charlie_mix(-4.32054, -4.85967, t);
    return a / (1.0 + b * pow(mu, c)) + d * mu + e;
}

fn charlie_lambda(mu: f32, alpha: f32) -> f32 {
    if mu < 0.5 {
        return exp(charlie_l(mu, alpha));
    }
    return exp(2.0 * charlie_l(0.5, alpha) - charlie_l(1.0 - mu, alpha));
}

// D · V · μi with white colour; wo.z > 0, wi.z > 0.
fn sheen_lobe(wo: vec3<f32>, wi: vec3<f32>, alpha: f32) -> f32 {
    let h = normalize(wo + wi);
    let masking = 1.0 + charlie_lambda(wo.z, alpha) + charlie_lambda(wi.z, alpha);
    return charlie_d(h.z, alpha) / (4.0 * wo.z * masking);
}

fn sheen_entry(r: u32, c: u32) -> f32 {
    return table_at(SHEEN_ALBEDO_TABLE + r * SHEEN_COS_STEPS + c);
}

fn sheen_albedo(row: f32, cos_o: f32) -> f32 {
    let column = clamp(cos_o, 0.0, 1.0) * f32(SHEEN_COS_STEPS - 1u);
    let c0 = min(u32(column), SHEEN_COS_STEPS - 2u);
    let tc = column - f32(c0);
    let r0 = min(u32(row), SHEEN_ROUGHNESS_STEPS - 2u);
    let tr = row - f32(r0);
    let lower = sheen_entry(r0, c0) + (sheen_entry(r0, c0 + 1u) - sheen_entry(r0, c0)) * tc;
    let upper = sheen_entry(r0 + 1u, c0) + (sheen_entry(r0 + 1u, c0 + 1u) - sheen_entry(r0 + 1u, c0)) * tc;
    return lower + (upper - lower) * tr;
}
