//! The GGX (Trowbridge–Reitz) microfacet distribution with the
//! height-correlated Smith shadowing-masking term, visible-normal sampling,
//! and Fresnel factors.
//!
//! All vectors are in the local shading frame (z = normal), unit length, and
//! point away from the surface. The roughness `alpha` is anisotropic: α.x
//! along the frame's x axis (the tangent), α.y along y; an isotropic
//! distribution has α.x = α.y. Functions that take an outgoing direction `wo`
//! expect it on the upper hemisphere (`wo.z > 0`); the BSDF mirrors directions
//! there before calling them.

use std::f32::consts::{FRAC_1_PI, PI};

use glam::{Vec2, Vec3};

/// Smallest GGX α: a perfectly smooth material still has a (very narrow) GGX
/// lobe, so no code path needs delta distributions.
pub const MIN_ALPHA: f32 = 1e-3;

/// glTF perceptual roughness (0..1) to GGX α = roughness², at least [`MIN_ALPHA`].
#[inline]
pub fn roughness_to_alpha(roughness: f32) -> f32 {
    // `max` maps NaN to MIN_ALPHA.
    (roughness * roughness).max(MIN_ALPHA)
}

/// GGX normal distribution D(m): microfacet area per unit macro-surface area
/// and solid angle, so that ∫ D(m) cos θm dωm = 1. Zero below the horizon.
#[inline]
pub fn ggx_d(m: Vec3, alpha: Vec2) -> f32 {
    if m.z <= 0.0 {
        return 0.0;
    }
    // 1 / (π αx αy ((mx/αx)² + (my/αy)² + mz²)²), written without 1 − cos²θ so
    // it keeps its precision for the near-normal microfacets of smooth surfaces.
    let t = m.x * m.x / (alpha.x * alpha.x) + m.y * m.y / (alpha.y * alpha.y) + m.z * m.z;
    FRAC_1_PI / (alpha.x * alpha.y * t * t)
}

/// Smith Λ(v) for GGX: the masking function is G1 = 1 / (1 + Λ). The same on
/// either hemisphere; infinite at grazing.
#[inline]
pub fn smith_lambda(v: Vec3, alpha: Vec2) -> f32 {
    let cos2 = v.z * v.z;
    if cos2 == 0.0 {
        return f32::INFINITY;
    }
    // α² tan²θ with α projected onto v's azimuth.
    let a2_tan2 = (alpha.x * alpha.x * v.x * v.x + alpha.y * alpha.y * v.y * v.y) / cos2;
    0.5 * ((1.0 + a2_tan2).sqrt() - 1.0)
}

/// Smith masking G1(v): the fraction of microfacets facing `v` that `v` sees.
#[inline]
pub fn smith_g1(v: Vec3, alpha: Vec2) -> f32 {
    1.0 / (1.0 + smith_lambda(v, alpha))
}

/// Height-correlated Smith shadowing-masking G2 = 1 / (1 + Λ(wo) + Λ(wi)),
/// used for reflection and transmission alike.
#[inline]
pub fn smith_g2(wo: Vec3, wi: Vec3, alpha: Vec2) -> f32 {
    1.0 / (1.0 + smith_lambda(wo, alpha) + smith_lambda(wi, alpha))
}

/// Samples a microfacet normal from the distribution of normals visible from
/// `wo` (density [`ggx_vndf_pdf`]). In the configuration where GGX is the unit
/// hemisphere (x and y stretched by 1/α.x and 1/α.y), the visible normals seen from a
/// direction v are `v` plus a uniform point on the spherical cap z ≥ −v.z of the
/// unit sphere (Dupuy & Benyoub, "Sampling Visible GGX Normals with Spherical
/// Caps", 2023); the result is stretched back by α. Expects `wo.z > 0`.
#[inline]
pub fn sample_ggx_vndf(wo: Vec3, alpha: Vec2, u: Vec2) -> Vec3 {
    let v = Vec3::new(alpha.x * wo.x, alpha.y * wo.y, wo.z).normalize();
    let phi = 2.0 * PI * u.x;
    let z = (1.0 - u.y) * (1.0 + v.z) - v.z;
    let sin_theta = (1.0 - z * z).max(0.0).sqrt();
    let h = Vec3::new(sin_theta * phi.cos(), sin_theta * phi.sin(), z) + v;
    Vec3::new(alpha.x * h.x, alpha.y * h.y, h.z.max(0.0)).normalize()
}

/// Solid-angle density of `m` under [`sample_ggx_vndf`]:
/// G1(wo) · max(0, wo·m) · D(m) / cos θo.
#[inline]
pub fn ggx_vndf_pdf(wo: Vec3, m: Vec3, alpha: Vec2) -> f32 {
    let wo_m = wo.dot(m);
    if wo.z <= 0.0 || wo_m <= 0.0 {
        return 0.0;
    }
    smith_g1(wo, alpha) * wo_m * ggx_d(m, alpha) / wo.z
}

/// Mirror reflection of `wo` about the normal `m`.
#[inline]
pub fn reflect(wo: Vec3, m: Vec3) -> Vec3 {
    2.0 * wo.dot(m) * m - wo
}

/// Refraction of `wo` through a microfacet `m` with `wo·m > 0`, where `eta` is
/// the index of refraction on the far side over the index on `wo`'s side.
/// `None` on total internal reflection.
#[inline]
pub fn refract(wo: Vec3, m: Vec3, eta: f32) -> Option<Vec3> {
    let cos_i = wo.dot(m);
    let sin2_t = (1.0 - cos_i * cos_i).max(0.0) / (eta * eta);
    if sin2_t >= 1.0 {
        return None;
    }
    let cos_t = (1.0 - sin2_t).sqrt();
    Some((cos_i / eta - cos_t) * m - wo / eta)
}

/// Schlick's weight (1 − cos θ)⁵, cos θ clamped to [0, 1].
#[inline]
pub fn schlick_weight(cos_theta: f32) -> f32 {
    let c = 1.0 - cos_theta.clamp(0.0, 1.0);
    let c2 = c * c;
    c2 * c2 * c
}

/// Schlick's approximation of conductor Fresnel reflectance with normal
/// reflectance `f0` (the glTF metal base colour).
#[inline]
pub fn fresnel_schlick(f0: Vec3, cos_theta: f32) -> Vec3 {
    f0 + (Vec3::ONE - f0) * schlick_weight(cos_theta)
}

/// Normal reflectance ((η − 1) / (η + 1))² of a dielectric interface with
/// relative index η (the same for η and 1 / η).
#[inline]
pub fn dielectric_f0(eta: f32) -> f32 {
    let r = (eta - 1.0) / (eta + 1.0);
    r * r
}

/// Schlick's approximation of dielectric Fresnel reflectance for light
/// arriving at `cos_theta_i` > 0 on the side the normal points to, where `eta`
/// is the index beyond the interface over the index on that side. Seen from
/// the denser side (η < 1), Schlick's formula is a function of the angle in
/// the less dense medium, the refracted one, and reflectance is total beyond
/// the critical angle: so F is the same from both sides of one refraction,
/// and reflection and refraction stay complementary and reciprocal.
#[inline]
pub fn fresnel_schlick_dielectric(cos_theta_i: f32, eta: f32) -> f32 {
    schlick_mix(dielectric_f0(eta), dielectric_schlick_weight(cos_theta_i, eta))
}

/// F0 + (1 − F0) w, written so that w = 1 (total internal reflection) gives exactly 1.
#[inline]
pub fn schlick_mix(f0: f32, w: f32) -> f32 {
    w + f0 * (1.0 - w)
}

/// The weight w of [`fresnel_schlick_dielectric`], F = [`schlick_mix`]`(F0, w)`: Schlick's
/// weight at the angle in the less dense medium, 1 beyond the critical angle.
#[inline]
pub fn dielectric_schlick_weight(cos_theta_i: f32, eta: f32) -> f32 {
    let cos_i = cos_theta_i.clamp(0.0, 1.0);
    let cos = if eta < 1.0 {
        let sin2_t = (1.0 - cos_i * cos_i) / (eta * eta);
        if sin2_t >= 1.0 {
            return 1.0;
        }
        (1.0 - sin2_t).sqrt()
    } else {
        cos_i
    };
    schlick_weight(cos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::chi2::{assert_fits, bin_probabilities, chi2_directions, Domain};

    /// A unit direction at polar angle `theta` in the xz plane.
    fn dir(theta: f32) -> Vec3 {
        Vec3::new(theta.sin(), 0.0, theta.cos())
    }

    /// Isotropic, then anisotropic roughnesses.
    const ALPHAS: [Vec2; 7] = [
        Vec2::splat(MIN_ALPHA),
        Vec2::splat(0.05),
        Vec2::splat(0.2),
        Vec2::splat(0.5),
        Vec2::splat(1.0),
        Vec2::new(0.5, 0.05),
        Vec2::new(0.1, 1.0),
    ];

    /// A unit direction at polar angle `theta` and azimuth `phi`.
    fn dir_at(theta: f32, phi: f32) -> Vec3 {
        Vec3::new(theta.sin() * phi.cos(), theta.sin() * phi.sin(), theta.cos())
    }

    #[test]
    fn projected_microfacet_area_is_one() {
        for alpha in ALPHAS {
            let total: f64 = bin_probabilities(&|m| ggx_d(m, alpha) * m.z, Domain::Hemisphere).iter().sum();
            assert!((total - 1.0).abs() < 1e-4, "α = {alpha}: ∫ D cos θ = {total}");
        }
    }

    #[test]
    fn anisotropic_d_stretches_the_isotropic_one() {
        // D(m; αx, αy) is the isotropic D of the unit-roughness surface after
        // stretching: D = 1 / (π αx αy cos⁴θ' (1 + tan²θ')²) with m' = (mx/αx, my/αy, mz).
        for alpha in ALPHAS {
            for (theta, phi) in [(0.0, 0.0), (0.3, 0.2), (0.9, 1.3), (1.3, 2.5)] {
                let m = dir_at(theta, phi);
                let s = Vec3::new(m.x / alpha.x, m.y / alpha.y, m.z);
                let tan2 = (s.x * s.x + s.y * s.y) / (s.z * s.z);
                let expected = FRAC_1_PI / (alpha.x * alpha.y * s.z.powi(4) * (1.0 + tan2).powi(2));
                let d = ggx_d(m, alpha);
                assert!((d / expected - 1.0).abs() < 1e-4, "α = {alpha}, m = {m}: {d} vs {expected}");
            }
            // Swapping the roughnesses turns the distribution by 90°.
            let m = dir_at(0.5, 0.4);
            let turned = Vec3::new(-m.y, m.x, m.z);
            assert!((ggx_d(m, alpha) / ggx_d(turned, Vec2::new(alpha.y, alpha.x)) - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn vndf_pdf_integrates_to_one() {
        // ∫ D(m) max(0, wo·m) dm = cos θo / G1(wo) ties Λ to D; the VNDF pdf is
        // that integrand normalised.
        for alpha in ALPHAS {
            for (theta, phi) in [(0.0, 0.0), (0.7, 0.0), (1.4, 0.9), (1.55, 1.6)] {
                let wo = dir_at(theta, phi);
                let total: f64 = bin_probabilities(&|m| ggx_vndf_pdf(wo, m, alpha), Domain::Hemisphere).iter().sum();
                assert!((total - 1.0).abs() < 1e-3, "α = {alpha}, θo = {theta}: ∫ pdf = {total}");
            }
        }
    }

    #[test]
    fn vndf_sampling_follows_its_pdf() {
        let iso = Vec2::splat;
        for (alpha, theta, phi) in [
            (iso(0.05), 0.3, 0.0),
            (iso(0.3), 0.0, 0.0),
            (iso(0.3), 1.2, 0.0),
            (iso(0.8), 0.8, 0.0),
            (iso(1.0), 1.5, 0.0),
            (Vec2::new(0.6, 0.08), 0.9, 0.7),
            (Vec2::new(0.1, 0.9), 1.3, 2.0),
        ] {
            let wo = dir_at(theta, phi);
            let mut sample = |u: [f32; 3]| Some(sample_ggx_vndf(wo, alpha, Vec2::new(u[1], u[2])));
            let pdf = |m: Vec3| ggx_vndf_pdf(wo, m, alpha);
            let outcome = chi2_directions(&mut sample, &pdf, Domain::Hemisphere, 500_000);
            assert_fits(&format!("GGX VNDF α = {alpha}, θo = {theta}"), outcome);
        }
    }

    #[test]
    fn masking_is_one_at_normal_incidence_and_vanishes_at_grazing() {
        for alpha in ALPHAS {
            assert_eq!(smith_g1(Vec3::Z, alpha), 1.0);
            assert_eq!(smith_g1(Vec3::X, alpha), 0.0);
            assert_eq!(smith_g2(Vec3::X, Vec3::Z, alpha), 0.0);
            let (a, b) = (dir(0.4), dir(-1.1));
            let g2 = smith_g2(a, b, alpha);
            // Height correlation: G2 lies between the uncorrelated product and min(G1).
            let (g1a, g1b) = (smith_g1(a, alpha), smith_g1(b, alpha));
            assert!(g2 >= g1a * g1b - 1e-6 && g2 <= g1a.min(g1b) + 1e-6, "α = {alpha}");
            // Λ depends only on the angle to the normal, not the hemisphere.
            assert_eq!(smith_lambda(a, alpha), smith_lambda(Vec3::new(a.x, a.y, -a.z), alpha));
        }
    }

    #[test]
    fn roughness_maps_to_alpha() {
        assert_eq!(roughness_to_alpha(0.5), 0.25);
        assert_eq!(roughness_to_alpha(1.0), 1.0);
        assert_eq!(roughness_to_alpha(0.0), MIN_ALPHA);
        assert_eq!(roughness_to_alpha(f32::NAN), MIN_ALPHA);
    }

    #[test]
    fn dielectric_schlick_matches_known_values() {
        // Normal incidence from either side: ((η − 1) / (η + 1))².
        assert!((fresnel_schlick_dielectric(1.0, 1.5) - 0.04).abs() < 1e-6);
        assert!((fresnel_schlick_dielectric(1.0, 1.0 / 1.5) - 0.04).abs() < 1e-6);
        assert_eq!(fresnel_schlick_dielectric(0.0, 1.5), 1.0);
        // From inside glass beyond the critical angle (sin θc = 1/1.5): total.
        assert_eq!(fresnel_schlick_dielectric(0.5, 1.0 / 1.5), 1.0);
        // Schlick's curve at 60° from outside: F0 + (1 − F0) / 32.
        assert!((fresnel_schlick_dielectric(0.5, 1.5) - (0.04 + 0.96 / 32.0)).abs() < 1e-6);
        // Close to the exact Fresnel factor near normal incidence (0.0420 at 45°).
        assert!((fresnel_schlick_dielectric(std::f32::consts::FRAC_1_SQRT_2, 1.5) - 0.0420).abs() < 2e-3);
    }

    #[test]
    fn refraction_obeys_snell_and_fresnel_is_symmetric() {
        let m = Vec3::new(0.3, -0.2, 0.9).normalize();
        for eta in [1.5, 1.0 / 1.33, 2.4] {
            for theta in [0.0f32, 0.3, 0.8, 1.2, 1.5] {
                let wo = Vec3::new(theta.sin(), 0.1, theta.cos()).normalize();
                let cos_o = wo.dot(m);
                if cos_o <= 0.0 {
                    continue;
                }
                let Some(wi) = refract(wo, m, eta) else {
                    assert_eq!(fresnel_schlick_dielectric(cos_o, eta), 1.0, "refraction failed without TIR");
                    continue;
                };
                assert!((wi.length() - 1.0).abs() < 1e-5);
                let sin_o = wo.cross(m).length();
                let sin_i = wi.cross(m).length();
                assert!((sin_o - eta * sin_i).abs() < 1e-5, "Snell: {sin_o} vs {eta}·{sin_i}");
                // wo, m and wi are coplanar, wi on the far side.
                assert!(wo.cross(m).dot(wi).abs() < 1e-5 && wi.dot(m) < 0.0);
                // Going back reverses the path, and both sides reflect the same.
                let back = refract(wi, -m, 1.0 / eta).expect("reverse refraction");
                assert!((back - wo).length() < 1e-4);
                let (f_o, f_i) =
                    (fresnel_schlick_dielectric(cos_o, eta), fresnel_schlick_dielectric(-wi.dot(m), 1.0 / eta));
                assert!((f_o - f_i).abs() < 1e-5, "F = {f_o} from outside, {f_i} from inside");
            }
        }
        assert!((reflect(dir(0.5), Vec3::Z) - dir(-0.5)).length() < 1e-6);
    }

    #[test]
    fn schlick_runs_from_f0_to_one() {
        let f0 = Vec3::new(0.9, 0.5, 0.1);
        assert!((fresnel_schlick(f0, 1.0) - f0).length() < 1e-6);
        assert_eq!(fresnel_schlick(f0, 0.0), Vec3::ONE);
        assert_eq!(fresnel_schlick(f0, -0.3), Vec3::ONE);
        let mid = fresnel_schlick(f0, 0.5);
        assert!(mid.cmpgt(f0).all() && mid.cmplt(Vec3::ONE).all());
    }
}
