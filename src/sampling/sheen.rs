//! KHR_materials_sheen's lobe: the Charlie microfacet sheen of Estevez and
//! Kulla (2017, "Production Friendly Microfacet Sheen BRDF"), and its
//! directional albedo tabulated for the albedo scaling of the layers below.
//!
//! With α = r² (r the sheen roughness, at least [`MIN_SHEEN_ROUGHNESS`]):
//! - D(h) = (2 + 1/α) sin^(1/α) θh / (2π), normalised so that ∫ D cos θh dωh = 1;
//! - V = 1 / ((1 + Λ(μo) + Λ(μi)) 4 μo μi), with the paper's fit of Λ;
//! - f = sheenColor · D · V, and the base below is scaled by
//!   1 − max(sheenColor) · E(μo), E the lobe's directional albedo with white
//!   colour (the extension's albedo scaling, as the glTF Sample Viewer does it).
//!
//! The table lives in `sheen_albedo.table` (data only), written by
//! `cargo run --release --example albedo_tables` from [`generate`]; a test
//! regenerates it and compares. GPU backends upload the same numbers.
//! Layout: `row · COS_STEPS + column`, rows evenly spaced in roughness from
//! [`MIN_SHEEN_ROUGHNESS`] to 1, columns evenly spaced in μo from 0 to 1.

// `!(x > 0.0)` is the NaN-rejecting test.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use std::f32::consts::PI;

use glam::Vec3;

use super::quadrature::adaptive_simpson;

/// Smallest sheen roughness rendered: below it the lobe is a sliver at the
/// horizon (sin^(1/α) θh with 1/α > 200) that reflects almost nothing and
/// that neither the table nor single-precision powers resolve.
pub const MIN_SHEEN_ROUGHNESS: f32 = 0.07;
/// Rows of the table (roughness from [`MIN_SHEEN_ROUGHNESS`] to 1 inclusive).
pub const ROUGHNESS_STEPS: usize = 32;
/// Columns of the table (μo from 0 to 1 inclusive).
pub const COS_STEPS: usize = 32;
/// Length of the flat table.
pub const TABLE_LEN: usize = ROUGHNESS_STEPS * COS_STEPS;

/// The tabulated albedos, as [`generate`] computes them.
pub static TABLE: [f32; TABLE_LEN] = include!("sheen_albedo.table");

/// Absolute tolerance of the quadrature in [`lobe_albedo`].
const QUADRATURE_TOLERANCE: f64 = 1e-7;

/// The sheen's α for a glTF sheen roughness (clamped to [MIN_SHEEN_ROUGHNESS, 1]).
#[inline]
pub fn sheen_alpha(roughness: f32) -> f32 {
    let r = clamp_roughness(roughness);
    r * r
}

#[inline]
fn clamp_roughness(roughness: f32) -> f32 {
    // NaN maps to the lower bound.
    if roughness > MIN_SHEEN_ROUGHNESS {
        roughness.min(1.0)
    } else {
        MIN_SHEEN_ROUGHNESS
    }
}

/// The row coordinate of a glTF sheen roughness: row index plus fraction.
#[inline]
pub fn sheen_row(roughness: f32) -> f32 {
    (clamp_roughness(roughness) - MIN_SHEEN_ROUGHNESS) / (1.0 - MIN_SHEEN_ROUGHNESS) * (ROUGHNESS_STEPS - 1) as f32
}

/// The Charlie distribution at a half vector with cosine `cos_h` to the normal.
#[inline]
pub fn charlie_d(cos_h: f32, alpha: f32) -> f32 {
    let sin2 = (1.0 - cos_h * cos_h).max(0.0);
    (2.0 + 1.0 / alpha) * sin2.powf(0.5 / alpha) / (2.0 * PI)
}

/// Estevez and Kulla's fit L(μ) of ln Λ, interpolated between its α = 0 and
/// α = 1 coefficients by (1 − α)².
#[inline]
fn charlie_l(mu: f32, alpha: f32) -> f32 {
    let t = (1.0 - alpha) * (1.0 - alpha);
    let mix = |at1: f32, at0: f32| at1 + (at0 - at1) * t;
    let (a, b, c) = (mix(21.5473, 25.3245), mix(3.82987, 3.32435), mix(0.19823, 0.16801));
    let (d, e) = (mix(-1.97760, -1.27393), mix(-4.32054, -4.85967));
    a / (1.0 + b * mu.powf(c)) + d * mu + e
}

/// The Charlie masking Λ at cosine `mu` in [0, 1].
#[inline]
pub fn charlie_lambda(mu: f32, alpha: f32) -> f32 {
    if mu < 0.5 {
        charlie_l(mu, alpha).exp()
    } else {
        (2.0 * charlie_l(0.5, alpha) - charlie_l(1.0 - mu, alpha)).exp()
    }
}

/// D · V · μi with white colour: the lobe's f cos θi; `wo.z > 0`, `wi.z > 0`.
#[inline]
pub fn sheen_lobe(wo: Vec3, wi: Vec3, alpha: f32) -> f32 {
    let h = (wo + wi).normalize();
    let masking = 1.0 + charlie_lambda(wo.z, alpha) + charlie_lambda(wi.z, alpha);
    charlie_d(h.z, alpha) / (4.0 * wo.z * masking)
}

/// The white lobe's directional albedo at row coordinate `row` and view
/// cosine `cos_o`, bilinear between table entries and clamped at the edges.
#[inline]
pub fn sheen_albedo(table: &[f32], row: f32, cos_o: f32) -> f32 {
    let column = cos_o.clamp(0.0, 1.0) * (COS_STEPS - 1) as f32;
    let c0 = (column as usize).min(COS_STEPS - 2);
    let tc = column - c0 as f32;
    let r0 = (row as usize).min(ROUGHNESS_STEPS - 2);
    let tr = row - r0 as f32;
    let at = |r: usize, c: usize| table[r * COS_STEPS + c];
    let lower = at(r0, c0) + (at(r0, c0 + 1) - at(r0, c0)) * tc;
    let upper = at(r0 + 1, c0) + (at(r0 + 1, c0 + 1) - at(r0 + 1, c0)) * tc;
    lower + (upper - lower) * tr
}

/// ∫ [`sheen_lobe`] dωi at view cosine `cos_o`: adaptive Simpson over μi
/// (outer) and the azimuth (inner; wo lies in the xz plane, so half of it).
pub fn lobe_albedo(cos_o: f32, roughness: f32) -> f32 {
    let alpha = sheen_alpha(roughness);
    let mu_o = cos_o.clamp(1e-4, 1.0);
    let wo = Vec3::new((1.0 - mu_o * mu_o).sqrt(), 0.0, mu_o);
    let mut over_mu = |mu_i: f64| {
        let sin_i = (1.0 - mu_i * mu_i).max(0.0).sqrt();
        let mut over_phi = |phi: f64| {
            let wi = Vec3::new((sin_i * phi.cos()) as f32, (sin_i * phi.sin()) as f32, mu_i as f32);
            if !(wi.z > 0.0) {
                return 0.0;
            }
            sheen_lobe(wo, wi, alpha) as f64
        };
        2.0 * adaptive_simpson(&mut over_phi, 0.0, std::f64::consts::PI, QUADRATURE_TOLERANCE, 4)
    };
    adaptive_simpson(&mut over_mu, 0.0, 1.0, QUADRATURE_TOLERANCE, 4) as f32
}

/// Computes the whole table (what `sheen_albedo.table` holds).
pub fn generate() -> Vec<f32> {
    let mut table = vec![0.0f32; TABLE_LEN];
    for row in 0..ROUGHNESS_STEPS {
        let t = row as f32 / (ROUGHNESS_STEPS - 1) as f32;
        let roughness = MIN_SHEEN_ROUGHNESS + (1.0 - MIN_SHEEN_ROUGHNESS) * t;
        for column in 0..COS_STEPS {
            let cos_o = column as f32 / (COS_STEPS - 1) as f32;
            table[row * COS_STEPS + column] = lobe_albedo(cos_o, roughness);
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::chi2::{bin_probabilities, Domain};

    #[test]
    fn the_checked_in_table_is_what_the_generator_computes() {
        let fresh = generate();
        for (i, (&stored, &computed)) in TABLE.iter().zip(&fresh).enumerate() {
            // Not bit for bit: libm's powers and exponentials may differ by an ulp between platforms.
            assert!((stored - computed).abs() <= 2e-6 * computed.max(1.0), "entry {i}: {stored} vs {computed}");
        }
    }

    #[test]
    fn the_charlie_distribution_is_normalised() {
        // ∫ D(h) cos θh dωh = 1 over the hemisphere of normals, by quadrature.
        for roughness in [MIN_SHEEN_ROUGHNESS, 0.3, 0.6, 1.0] {
            let alpha = sheen_alpha(roughness);
            let bins = bin_probabilities(&|h| charlie_d(h.z, alpha) * h.z, Domain::Hemisphere);
            let total: f64 = bins.iter().sum();
            assert!((total - 1.0).abs() < 1e-3, "roughness {roughness}: ∫ D cos = {total}");
        }
    }

    #[test]
    fn lobe_albedo_agrees_with_a_quadrature_over_directions() {
        // An independent integral over (θ, φ) bins of the hemisphere.
        for (roughness, cos_o) in [(0.3f32, 0.9f32), (0.5, 0.4), (1.0, 0.7), (1.0, 0.1), (0.15, 0.25)] {
            let alpha = sheen_alpha(roughness);
            let wo = Vec3::new((1.0 - cos_o * cos_o).sqrt(), 0.0, cos_o);
            let lobe = |wi: Vec3| if wi.z > 0.0 { sheen_lobe(wo, wi, alpha) } else { 0.0 };
            let e: f64 = bin_probabilities(&lobe, Domain::Hemisphere).iter().sum();
            let ours = lobe_albedo(cos_o, roughness) as f64;
            assert!((ours - e).abs() < 2e-3 * e.max(0.1), "r {roughness}, μ {cos_o}: {ours} vs {e}");
        }
    }

    #[test]
    fn the_masking_fit_is_continuous_and_falls_to_normal_incidence() {
        // The fit's two halves meet at μ = 0.5, and Λ decreases towards μ = 1.
        for alpha in [0.01, 0.2, 0.6, 1.0] {
            let (below, above) = (charlie_lambda(0.5 - 1e-4, alpha), charlie_lambda(0.5 + 1e-4, alpha));
            assert!((below - above).abs() < 2e-3 * below, "α {alpha}: Λ {below} | {above}");
            let lambdas: Vec<f32> = (1..=10).map(|k| charlie_lambda(k as f32 / 10.0, alpha)).collect();
            assert!(lambdas.windows(2).all(|w| w[1] < w[0]), "α {alpha}: {lambdas:?}");
        }
    }

    #[test]
    fn interpolated_albedos_stay_close_to_the_quadrature() {
        // Off the grid, from 4° above the horizon: within 0.005 of the light
        // (measured at most 0.0039, roughness 0.21 at μ = 0.07; 0.0021 from μ = 0.26 on).
        for roughness in [0.09, 0.21, 0.44, 0.67, 0.93] {
            for mu in [0.07, 0.26, 0.43, 0.71, 0.97] {
                let (exact, table) = (lobe_albedo(mu, roughness), sheen_albedo(&TABLE, sheen_row(roughness), mu));
                assert!((exact - table).abs() < 0.005, "r {roughness}, μ {mu}: {table} vs {exact}");
            }
        }
        // Clamped: roughness below the minimum is the minimum.
        assert_eq!(sheen_row(0.0), 0.0);
        assert_eq!(sheen_row(1.0), (ROUGHNESS_STEPS - 1) as f32);
    }
}
