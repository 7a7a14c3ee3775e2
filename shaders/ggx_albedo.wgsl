// Directional albedo of the GGX lobe for the BSDF's energy compensation, as
// src/sampling/ggx_albedo.rs (read its header for the table's layout). The
// table is part of the uniform `tables` (bindings.wgsl).

fn ggx_albedo_at(i: u32) -> f32 {
    return table_at(GGX_ALBEDO_TABLE + i);
}

fn roughness_row(roughness: f32) -> f32 {
    return roughness * f32(ROUGHNESS_STEPS - 1u);
}

fn albedo_column(alpha: f32, cos_o: f32) -> f32 {
    let mu = clamp(cos_o, 0.0, 1.0);
    return mu * (1.0 + alpha) / (mu + alpha) * f32(COS_STEPS - 1u);
}

fn albedo_entry(r: u32, c: u32) -> vec2<f32> {
    let i = (r * COS_STEPS + c) * 2u;
    return vec2<f32>(ggx_albedo_at(i), ggx_albedo_at(i + 1u));
}

fn lerp2(a: vec2<f32>, b: vec2<f32>, t: f32) -> vec2<f32> {
    return a + (b - a) * t;
}

// (E1, W) at row coordinate `row` (GGX α `alpha`) and view cosine cos_o.
fn albedo_lookup(row: f32, alpha: f32, cos_o: f32) -> vec2<f32> {
    let column = min(albedo_column(alpha, cos_o), f32(COS_STEPS - 1u));
    let c0 = min(u32(column), COS_STEPS - 2u);
    let tc = column - f32(c0);
    let r0 = min(u32(row), ROUGHNESS_STEPS - 2u);
    let tr = row - f32(r0);
    let lower = lerp2(albedo_entry(r0, c0), albedo_entry(r0, c0 + 1u), tc);
    let upper = lerp2(albedo_entry(r0 + 1u, c0), albedo_entry(r0 + 1u, c0 + 1u), tc);
    let e1_d = lerp2(lower, upper, tr);
    return vec2<f32>(e1_d.x, e1_d.y + schlick_weight(cos_o) * e1_d.x);
}

// Coefficient k of the dielectric average, interpolated between rows r0 and r0 + 1.
fn average_coefficient(r0: u32, tr: f32, k: u32) -> f32 {
    let a = ggx_albedo_at(AVERAGES + r0 * 3u + k);
    let b = ggx_albedo_at(AVERAGES + (r0 + 1u) * 3u + k);
    return a + (b - a) * tr;
}

fn dielectric_average(row: f32, f0: f32) -> f32 {
    let r0 = min(u32(row), ROUGHNESS_STEPS - 2u);
    let tr = row - f32(r0);
    return average_coefficient(r0, tr, 0u) + f0 * (average_coefficient(r0, tr, 1u) + f0 * average_coefficient(r0, tr, 2u));
}

// (1 − E1) / E1: Turquin's compensation scales a lobe of normal reflectance F0 by 1 + F0 · this.
fn multiscatter_lost(albedo: vec2<f32>) -> f32 {
    return (1.0 - albedo.x) / albedo.x;
}

fn dielectric_albedo(albedo: vec2<f32>, f0: f32) -> f32 {
    return (f0 * (albedo.x - albedo.y) + albedo.y) * (1.0 + f0 * multiscatter_lost(albedo));
}
