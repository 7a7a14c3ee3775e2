//! Directional albedo of the single-scattering GGX lobe, tabulated for the
//! BSDF's energy compensation (see `bsdf.rs`).
//!
//! For a roughness r (α = max(r², MIN_ALPHA)) and a view cosine μ:
//! - `E1(μ, r)` = ∫ D G2 / (4 μ) dωi, the albedo of the lobe with F = 1;
//! - `W(μ, r)` = ∫ (1 − wo·h)⁵ D G2 / (4 μ) dωi, its Schlick weight.
//!
//! Schlick's F = F0 + (1 − F0)(1 − wo·h)⁵ is linear in F0, so the lobe's albedo
//! under any F0 is F0 (E1 − W) + W. Each row also holds three hemispherical
//! averages (2∫ · μ dμ) of the compensated dielectric albedo's coefficients of
//! 1, F0 and F0² (see [`dielectric_albedo`]), so its average follows in closed
//! form from F0.
//!
//! The table lives in `ggx_albedo.table` (data only), written by
//! `cargo run --release --example albedo_tables` from [`generate`]; a test
//! regenerates it and compares. GPU backends upload the same numbers.
//!
//! Layout, one flat array: `(row · COS_STEPS + column) · 2 + {0: E1, 1: D}`,
//! then from [`AVERAGES`] on `row · 3 + {0, 1, 2}`. Rows are at roughness
//! i / (ROUGHNESS_STEPS − 1). A smooth lobe's albedos change within cos θ ≈ α
//! of the horizon (where masking sets in), and only there, so columns are
//! evenly spaced in u = μ (1 + α) / (μ + α), which puts that change at the same
//! columns for every small α and lets rows interpolate along it. Far from the
//! horizon a smooth lobe's W is Schlick's weight (1 − μ)⁵ times E1, which the
//! u columns would crowd into the last few: the table holds the difference
//! D = W − (1 − μ)⁵ E1 instead. The first column is computed at
//! [`GRAZING_COS`]: the lobe is undefined in the surface plane.
//!
//! Measured against [`lobe_albedo`] over roughness and μ ≥ 5·10⁻⁴, the
//! interpolated table's E1 is at most 0.07% low (a compensated white metal
//! reflecting 1.0007) and the dielectric layer's albedo at most 0.17% low.

// `!(x > 0.0)` is the NaN-rejecting test.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use glam::{Vec2, Vec3};

use super::microfacet::{reflect, roughness_to_alpha, sample_ggx_vndf, schlick_weight, smith_g1, smith_g2};
use super::quadrature::adaptive_simpson;

/// Rows of the table (roughness, from 0 to 1 inclusive).
pub const ROUGHNESS_STEPS: usize = 32;
/// Columns of the table (u = μ (1 + α) / (μ + α), from 0 to 1 inclusive).
pub const COS_STEPS: usize = 32;
/// The cosine at which the first column is computed.
pub const GRAZING_COS: f32 = 1e-6;
/// Offset of the per-row averages.
pub const AVERAGES: usize = ROUGHNESS_STEPS * COS_STEPS * 2;
/// Length of the flat table.
pub const TABLE_LEN: usize = AVERAGES + ROUGHNESS_STEPS * 3;

/// The tabulated albedos, as [`generate`] computes them.
pub static TABLE: [f32; TABLE_LEN] = include!("ggx_albedo.table");

/// Absolute tolerance of the inner quadrature in [`lobe_albedo`].
const QUADRATURE_TOLERANCE: f64 = 1e-7;
/// Intervals (even) of the outer Simpson rule in [`lobe_albedo`].
const AZIMUTH_INTERVALS: usize = 32;
/// Quadrature points over μ for the averages.
const AVERAGE_POINTS: usize = 4096;

/// The row coordinate of a glTF roughness in [0, 1]: row index plus fraction.
#[inline]
pub fn roughness_row(roughness: f32) -> f32 {
    roughness * (ROUGHNESS_STEPS - 1) as f32
}

/// The column coordinate of view cosine `cos_o` at GGX `alpha`.
#[inline]
fn albedo_column(alpha: f32, cos_o: f32) -> f32 {
    let mu = cos_o.clamp(0.0, 1.0);
    mu * (1.0 + alpha) / (mu + alpha) * (COS_STEPS - 1) as f32
}

/// The view cosine of table column `column` at GGX `alpha`: the inverse of
/// [`albedo_column`], at least [`GRAZING_COS`].
pub fn column_cos(alpha: f32, column: usize) -> f32 {
    let u = column as f32 / (COS_STEPS - 1) as f32;
    (u * alpha / (1.0 + alpha - u)).clamp(GRAZING_COS, 1.0)
}

/// (E1, W) at row coordinate `row` (whose GGX α is `alpha`) and view cosine
/// `cos_o`, bilinear between table entries and clamped at the edges.
#[inline]
pub fn albedo_lookup(table: &[f32], row: f32, alpha: f32, cos_o: f32) -> Vec2 {
    let column = albedo_column(alpha, cos_o).min((COS_STEPS - 1) as f32);
    let c0 = (column as usize).min(COS_STEPS - 2);
    let tc = column - c0 as f32;
    let r0 = (row as usize).min(ROUGHNESS_STEPS - 2);
    let tr = row - r0 as f32;
    let at = |r: usize, c: usize| {
        let i = (r * COS_STEPS + c) * 2;
        Vec2::new(table[i], table[i + 1])
    };
    let lower = lerp2(at(r0, c0), at(r0, c0 + 1), tc);
    let upper = lerp2(at(r0 + 1, c0), at(r0 + 1, c0 + 1), tc);
    let e1_d = lerp2(lower, upper, tr);
    Vec2::new(e1_d.x, e1_d.y + schlick_weight(cos_o) * e1_d.x)
}

#[inline]
fn lerp2(a: Vec2, b: Vec2, t: f32) -> Vec2 {
    a + (b - a) * t
}

/// Hemispherical average 2∫ E_d(μ) μ dμ of [`dielectric_albedo`] with normal
/// reflectance `f0`, at row coordinate `row`.
#[inline]
pub fn dielectric_average(table: &[f32], row: f32, f0: f32) -> f32 {
    let r0 = (row as usize).min(ROUGHNESS_STEPS - 2);
    let tr = row - r0 as f32;
    let at = |r: usize, k: usize| table[AVERAGES + r * 3 + k];
    let coefficient = |k: usize| at(r0, k) + (at(r0 + 1, k) - at(r0, k)) * tr;
    coefficient(0) + f0 * (coefficient(1) + f0 * coefficient(2))
}

/// What a single-scattering GGX lobe loses over what it keeps, (1 − E1) / E1:
/// Turquin's (2019) multiple-scattering compensation scales a lobe of normal
/// reflectance F0 by 1 + F0 (1 − E1) / E1, which makes a lobe with F = 1
/// reflect exactly all the light.
#[inline]
pub fn multiscatter_lost(albedo: Vec2) -> f32 {
    (1.0 - albedo.x) / albedo.x
}

/// Directional albedo of the compensated dielectric specular lobe with normal
/// reflectance `f0`: (F0 (E1 − W) + W) · (1 + F0 (1 − E1) / E1).
#[inline]
pub fn dielectric_albedo(albedo: Vec2, f0: f32) -> f32 {
    (f0 * (albedo.x - albedo.y) + albedo.y) * (1.0 + f0 * multiscatter_lost(albedo))
}

/// (E1, W) for view cosine `cos_o` and roughness `roughness`. With h
/// distributed by the visible normals, ∫ D G2 / (4 μ) dωi = E[G2 / G1], so the
/// integrals are taken over the square that [`sample_ggx_vndf`] maps onto the
/// visible normals. The integrand falls to zero steeply where wi dips below
/// the horizon, which a fixed grid resolves only at the cost of steps between
/// neighbouring table entries. wo lies in the xz plane, so half the square in
/// φ suffices.
pub fn lobe_albedo(cos_o: f32, roughness: f32) -> Vec2 {
    let alpha = Vec2::splat(roughness_to_alpha(roughness));
    let wo = Vec3::new((1.0 - cos_o * cos_o).max(0.0).sqrt(), 0.0, cos_o);
    let g1 = smith_g1(wo, alpha) as f64;
    let integrand = |u: Vec2, schlick: bool| {
        let h = sample_ggx_vndf(wo, alpha, u);
        let wi = reflect(wo, h);
        // Also false where the rim of the square maps to no normal (NaN).
        if !(wi.z > 0.0) {
            return 0.0;
        }
        let g = smith_g2(wo, wi, alpha) as f64 / g1;
        if schlick {
            g * (1.0 - wo.dot(h).clamp(0.0, 1.0) as f64).powi(5)
        } else {
            g
        }
    };
    // Adaptive along the visible normals' polar coordinate, where the horizon
    // cuts; a composite Simpson rule over the azimuth, which is smooth once
    // integrated (an adaptive rule there would chase the inner rule's error).
    let integral = |schlick: bool| {
        let over_y = |x: f64| {
            let mut f = |y: f64| integrand(Vec2::new(x as f32, y as f32), schlick);
            adaptive_simpson(&mut f, 0.0, 1.0, QUADRATURE_TOLERANCE, 4)
        };
        let h = 0.5 / AZIMUTH_INTERVALS as f64;
        let sum: f64 = (0..=AZIMUTH_INTERVALS)
            .map(|k| {
                let weight = if k == 0 || k == AZIMUTH_INTERVALS {
                    1.0
                } else if k % 2 == 1 {
                    4.0
                } else {
                    2.0
                };
                weight * over_y(k as f64 * h)
            })
            .sum();
        2.0 * sum * h / 3.0
    };
    Vec2::new(integral(false) as f32, integral(true) as f32)
}

/// Computes the whole table (what `ggx_albedo.table` holds).
pub fn generate() -> Vec<f32> {
    let mut table = vec![0.0f32; TABLE_LEN];
    for row in 0..ROUGHNESS_STEPS {
        let roughness = row as f32 / (ROUGHNESS_STEPS - 1) as f32;
        for column in 0..COS_STEPS {
            let cos_o = column_cos(roughness_to_alpha(roughness), column);
            let a = lobe_albedo(cos_o, roughness);
            let i = (row * COS_STEPS + column) * 2;
            table[i] = a.x;
            table[i + 1] = a.y - schlick_weight(cos_o) * a.x;
        }
    }
    // Averages of the interpolated table, so that they agree with what the
    // lookups return: the coefficients of 1, F0 and F0² in dielectric_albedo.
    for row in 0..ROUGHNESS_STEPS {
        let alpha = roughness_to_alpha(row as f32 / (ROUGHNESS_STEPS - 1) as f32);
        let mut sums = [0.0f64; 3];
        for k in 0..AVERAGE_POINTS {
            let mu = (k as f32 + 0.5) / AVERAGE_POINTS as f32;
            let a = albedo_lookup(&table, row as f32, alpha, mu);
            let (e1, w) = (a.x as f64, a.y as f64);
            let lost = (1.0 - e1) / e1;
            let weight = 2.0 * mu as f64 / AVERAGE_POINTS as f64;
            sums[0] += weight * w;
            sums[1] += weight * (e1 - w + lost * w);
            sums[2] += weight * lost * (e1 - w);
        }
        for (k, sum) in sums.iter().enumerate() {
            table[AVERAGES + row * 3 + k] = *sum as f32;
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::chi2::{bin_probabilities, Domain};
    use crate::sampling::microfacet::ggx_d;

    #[test]
    fn the_checked_in_table_is_what_the_generator_computes() {
        let fresh = generate();
        for (i, (&stored, &computed)) in TABLE.iter().zip(&fresh).enumerate() {
            // Not bit for bit: libm's sin and cos may differ by an ulp between platforms.
            assert!((stored - computed).abs() <= 2e-6, "entry {i}: stored {stored}, generated {computed}");
        }
    }

    #[test]
    fn lobe_albedo_agrees_with_a_quadrature_over_directions() {
        // An independent integral of D G2 / (4 μo) over the hemisphere of wi
        // (adaptive Simpson over θ and φ), not using the visible-normal warp.
        for (roughness, cos_o) in [(0.5f32, 0.9f32), (0.7, 0.3), (1.0, 0.6), (1.0, 0.1), (0.4, 0.05)] {
            let alpha = Vec2::splat(roughness_to_alpha(roughness));
            let wo = Vec3::new((1.0 - cos_o * cos_o).sqrt(), 0.0, cos_o);
            let lobe = |wi: Vec3, weight: &dyn Fn(f32) -> f32| {
                if wi.z <= 0.0 {
                    return 0.0;
                }
                let h = (wo + wi).normalize();
                weight(wo.dot(h)) * ggx_d(h, alpha) * smith_g2(wo, wi, alpha) / (4.0 * wo.z)
            };
            let e1: f64 = bin_probabilities(&|wi| lobe(wi, &|_| 1.0), Domain::Hemisphere).iter().sum();
            let w: f64 = bin_probabilities(&|wi| lobe(wi, &|c| (1.0 - c).powi(5)), Domain::Hemisphere).iter().sum();
            let table = lobe_albedo(cos_o, roughness);
            assert!((table.x as f64 - e1).abs() < 2e-3, "r {roughness}, μ {cos_o}: E1 {} vs {e1}", table.x);
            assert!((table.y as f64 - w).abs() < 2e-3, "r {roughness}, μ {cos_o}: W {} vs {w}", table.y);
        }
    }

    /// (E1, W) from the checked-in table at glTF roughness `roughness`.
    fn lookup(roughness: f32, cos_o: f32) -> Vec2 {
        albedo_lookup(&TABLE, roughness_row(roughness), roughness_to_alpha(roughness), cos_o)
    }

    #[test]
    fn smooth_lobes_reflect_everything_and_follow_schlick() {
        for mu in [0.05, 0.2, 0.6, 1.0] {
            let a = lookup(0.0, mu);
            assert!((a.x - 1.0).abs() < 1e-3, "μ {mu}: E1 = {}", a.x);
            assert!((a.y - (1.0 - mu).powi(5)).abs() < 1e-3, "μ {mu}: W = {}", a.y);
        }
    }

    #[test]
    fn the_roughest_lobe_at_normal_incidence_has_its_closed_form() {
        // α = 1, wo = n: D = 1/π, Λ(wo) = 0, wi = reflect(n, h) leaves the
        // hemisphere beyond θh = 45°, and 1 + Λ(wi) = (1 + 1/cos 2θh) / 2, so
        // E1 = ∫₀^{π/4} 4 sin θ cos θ cos 2θ / (1 + cos 2θ) dθ = 1 − ln 2.
        let expected = 1.0 - std::f32::consts::LN_2;
        assert!((lobe_albedo(1.0, 1.0).x - expected).abs() < 1e-5, "{}", lobe_albedo(1.0, 1.0).x);
        assert!((lookup(1.0, 1.0).x - expected).abs() < 1e-5);
    }

    #[test]
    fn interpolated_albedos_stay_close_to_the_quadrature() {
        // Between rows and columns, off the grid: the bounds the module's
        // opening comment states (E1 at most 0.07% low, W and E1 within 1%).
        for roughness in [0.037, 0.12, 0.29, 0.437, 0.61, 0.83, 0.97] {
            for mu in [0.0013, 0.011, 0.07, 0.26, 0.55, 0.9] {
                let (exact, table) = (lobe_albedo(mu, roughness), lookup(roughness, mu));
                let what = format!("r {roughness}, μ {mu}: table {table}, quadrature {exact}");
                assert!(exact.x / table.x <= 1.0007 && exact.x / table.x > 0.99, "{what}");
                assert!((exact.y - table.y).abs() < 0.01, "{what}");
            }
        }
    }

    #[test]
    fn lookups_interpolate_between_entries() {
        let (roughness, c0) = (0.5, 10);
        let (row, alpha) = (roughness_row(roughness), roughness_to_alpha(roughness));
        let r0 = row as usize;
        let mu = column_cos(alpha, c0);
        let i = (r0 * COS_STEPS + c0) * 2;
        let j = ((r0 + 1) * COS_STEPS + c0) * 2;
        let expected = TABLE[i] + (TABLE[j] - TABLE[i]) * (row - r0 as f32);
        assert!((lookup(roughness, mu).x - expected).abs() < 1e-5);
        // Clamped below the horizon and at roughness 1, normal incidence.
        assert_eq!(lookup(0.3, -0.5), lookup(0.3, 0.0));
        assert_eq!(lookup(1.0, 1.0).x, TABLE[(ROUGHNESS_STEPS * COS_STEPS - 1) * 2]);
    }

    #[test]
    fn averages_match_the_directional_albedo() {
        for roughness in [0.0, 0.3, 0.55, 1.0] {
            let row = roughness_row(roughness);
            for f0 in [0.0, 0.04, 0.5, 1.0] {
                let n = 2000;
                let direct: f32 = (0..n)
                    .map(|k| {
                        let mu = (k as f32 + 0.5) / n as f32;
                        2.0 * mu * dielectric_albedo(lookup(roughness, mu), f0) / n as f32
                    })
                    .sum();
                let average = dielectric_average(&TABLE, row, f0);
                assert!((average - direct).abs() < 2e-3, "r {roughness}, F0 {f0}: {average} vs {direct}");
            }
        }
        // With F0 = 1 the compensated lobe reflects everything.
        assert!((dielectric_average(&TABLE, roughness_row(0.8), 1.0) - 1.0).abs() < 1e-4);
    }
}
