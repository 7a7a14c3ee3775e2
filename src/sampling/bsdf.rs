//! The glTF metallic-roughness BSDF with `KHR_materials_transmission`,
//! `KHR_materials_ior` and `KHR_materials_volume` (thin-walled or refracting).
//!
//! f = metallic · f_metal + (1 − metallic) · f_dielectric, all lobes GGX with
//! the same α = max(roughness², MIN_ALPHA) and height-correlated Smith G2:
//! - metal: F_schlick(base_color, wo·h) D G2 / (4 |cos θo| |cos θi|);
//! - dielectric specular reflection, untinted, with the exact Fresnel factor
//!   F(wo·h, η) of the half vector;
//! - diffuse (weight 1 − transmission): Lambert, tinted by base_color, times
//!   (1 − F(cos θo)) (1 − F(cos θi)): light crosses the interface on its way in
//!   and on its way out, which keeps the sum with the specular lobe at or below
//!   one at every angle (the (1 − F(wo·h)) weight of the glTF specification's
//!   `fresnel_mix` reflects up to 1.5× the incident energy at cos θo = 0.1 on
//!   smooth plastic) and is reciprocal;
//! - transmission (weight transmission), tinted by base_color, (1 − F(wo·h, η))
//!   times either the rough dielectric BTDF of Walter et al. 2007 (refracting)
//!   or, for thin-walled materials, the specular lobe mirrored through the
//!   surface plane (no bending). glTF materials without `KHR_materials_volume`
//!   are thin-walled; volume attenuation inside refracting ones is the
//!   integrator's business, not the BSDF's.
//!
//! Conventions: directions are in the local shading frame (z = shading normal),
//! unit length, pointing away from the surface; `wo` points towards the camera
//! and `wi` towards the light. `eval` returns f(wo, wi) |cos θi| (Mitsuba's
//! convention). The surface is two-sided: for `wo.z < 0` both directions are
//! mirrored to the upper side, and a refracting dielectric then sees the
//! inverted relative index (light inside the object).
//!
//! Transport direction: the integrator traces paths from the camera and
//! estimates radiance, so the refraction BTDF is the radiance BTDF — pbrt-v4's
//! `TransportMode::Radiance`: f(wo, wi) carries the factor (η_o / η_i)² relative
//! to the importance BTDF, where η_o and η_i are the indices on the sides of
//! wo and wi. Radiance entering a denser medium is concentrated, so for a
//! camera inside glass the directional albedo legitimately exceeds one, and
//! f(wi, wo) = (η_i / η_o)² f(wo, wi) rather than plain reciprocity.
//!
//! Sampling picks one lobe with probabilities that depend on `wo` alone —
//! specular ∝ metallic + (1 − metallic) F(cos θo), diffuse ∝ (1 − metallic)
//! (1 − F(cos θo)) (1 − transmission), transmission ∝ (1 − metallic)
//! (1 − F(cos θo)) transmission, which sum to one — so `pdf` is the closed-form
//! mixture Σ p_lobe pdf_lobe(wi) and `weight` = eval / pdf of the whole BSDF.
//! Reflection and transmission sample visible GGX normals, diffuse samples the
//! cosine hemisphere.

// `!(x > 0.0)` is the NaN-rejecting test: true for NaN, unlike `x <= 0.0`.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use std::f32::consts::FRAC_1_PI;

use glam::{Vec2, Vec3};

use super::microfacet::{
    fresnel_dielectric, fresnel_schlick, ggx_d, ggx_vndf_pdf, reflect, refract, roughness_to_alpha, sample_ggx_vndf,
    smith_g2,
};
use super::warp::{cosine_hemisphere_pdf, square_to_cosine_hemisphere};

/// Smallest index of refraction of a refracting dielectric: at exactly 1 the
/// interface is invisible and transmission becomes a delta lobe.
pub const MIN_REFRACTING_IOR: f32 = 1.01;
/// Largest index of refraction accepted (beyond all common materials).
pub const MAX_IOR: f32 = 10.0;
/// Cap on the Fresnel reflectance used to choose lobes, so that diffuse and
/// transmission keep a fair chance where F(cos θo) → 1 (grazing angles, total
/// internal reflection at the macro normal) while their microfacets still
/// contribute.
const MAX_LOBE_FRESNEL: f32 = 0.9;

/// A glTF material at one shading point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bsdf {
    pub base_color: Vec3,
    pub metallic: f32,
    /// GGX α (see [`roughness_to_alpha`]).
    pub alpha: f32,
    /// Index of refraction of the material (the outside is taken to be 1).
    pub ior: f32,
    pub transmission: f32,
    /// Thin-walled: transmission passes straight through without bending.
    pub thin: bool,
}

/// A direction sampled from a [`Bsdf`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BsdfSample {
    /// Direction towards the light, local frame.
    pub wi: Vec3,
    /// eval(wo, wi) / pdf(wo, wi): the path throughput factor.
    pub weight: Vec3,
    /// Solid-angle density of `wi`, as [`Bsdf::pdf`].
    pub pdf: f32,
    /// `wi` is on the other side of the surface from `wo`.
    pub transmitted: bool,
}

/// Mirror image through the surface plane.
#[inline]
fn mirror_z(v: Vec3) -> Vec3 {
    Vec3::new(v.x, v.y, -v.z)
}

impl Bsdf {
    /// A BSDF from glTF parameters, clamped to their valid ranges (not-a-number
    /// inputs become the lower bound): colour, metallic, roughness and
    /// transmission to [0, 1], ior to [1, MAX_IOR] — [MIN_REFRACTING_IOR,
    /// MAX_IOR] for a refracting material.
    pub fn new(base_color: Vec3, metallic: f32, roughness: f32, ior: f32, transmission: f32, thin: bool) -> Bsdf {
        // Written so that NaN maps to the lower bound.
        let unit = |x: f32| if x > 0.0 { x.min(1.0) } else { 0.0 };
        let transmission = unit(transmission);
        let min_ior = if transmission > 0.0 && !thin { MIN_REFRACTING_IOR } else { 1.0 };
        Bsdf {
            base_color: Vec3::new(unit(base_color.x), unit(base_color.y), unit(base_color.z)),
            metallic: unit(metallic),
            alpha: roughness_to_alpha(unit(roughness)),
            ior: ior.max(min_ior).min(MAX_IOR),
            transmission,
            thin,
        }
    }

    /// `wo` mirrored to the upper hemisphere, whether it was mirrored, and the
    /// relative index η (index beyond the surface over index on wo's side).
    #[inline]
    fn upper_hemisphere(&self, wo: Vec3) -> (Vec3, bool, f32) {
        if wo.z >= 0.0 {
            return (wo, false, self.ior);
        }
        let inside = self.transmission > 0.0 && !self.thin;
        (mirror_z(wo), true, if inside { 1.0 / self.ior } else { self.ior })
    }

    /// Probabilities of sampling [specular, diffuse, transmission] for
    /// `cos_o` = cos θo > 0; they sum to one.
    #[inline]
    fn lobe_probabilities(&self, cos_o: f32, eta: f32) -> [f32; 3] {
        let f = fresnel_dielectric(cos_o, eta).min(MAX_LOBE_FRESNEL);
        let dielectric = 1.0 - self.metallic;
        let refracted = dielectric * (1.0 - f);
        [self.metallic + dielectric * f, refracted * (1.0 - self.transmission), refracted * self.transmission]
    }

    /// f(wo, wi) |cos θi|.
    pub fn eval(&self, wo: Vec3, wi: Vec3) -> Vec3 {
        self.eval_pdf(wo, wi).0
    }

    /// Solid-angle density with which [`Bsdf::sample`] returns `wi`.
    pub fn pdf(&self, wo: Vec3, wi: Vec3) -> f32 {
        self.eval_pdf(wo, wi).1
    }

    /// [`Bsdf::eval`] and [`Bsdf::pdf`] together (they share most of the work).
    pub fn eval_pdf(&self, wo: Vec3, wi: Vec3) -> (Vec3, f32) {
        // Also false for NaN.
        if !(wo.z.abs() > 0.0 && wi.z.abs() > 0.0) {
            return (Vec3::ZERO, 0.0);
        }
        let (wo, mirrored, eta) = self.upper_hemisphere(wo);
        let wi = if mirrored { mirror_z(wi) } else { wi };
        self.eval_pdf_upper(wo, wi, eta)
    }

    /// eval and pdf for `wo.z > 0`.
    fn eval_pdf_upper(&self, wo: Vec3, wi: Vec3, eta: f32) -> (Vec3, f32) {
        let [p_specular, p_diffuse, p_transmission] = self.lobe_probabilities(wo.z, eta);
        if wi.z > 0.0 {
            self.eval_pdf_reflection(wo, wi, eta, p_specular, p_diffuse)
        } else if p_transmission == 0.0 {
            (Vec3::ZERO, 0.0)
        } else if self.thin {
            self.eval_pdf_thin_transmission(wo, wi, eta, p_transmission)
        } else {
            self.eval_pdf_refraction(wo, wi, eta, p_transmission)
        }
    }

    /// Metal, dielectric specular and diffuse; `wo.z > 0`, `wi.z > 0`.
    fn eval_pdf_reflection(&self, wo: Vec3, wi: Vec3, eta: f32, p_specular: f32, p_diffuse: f32) -> (Vec3, f32) {
        let h = (wo + wi).normalize();
        let wo_h = wo.dot(h);
        let dielectric = 1.0 - self.metallic;
        let fresnel = self.metallic * fresnel_schlick(self.base_color, wo_h)
            + Vec3::splat(dielectric * fresnel_dielectric(wo_h, eta));
        // D G2 / (4 cos θo cos θi), times cos θi.
        let specular = fresnel * (ggx_d(h, self.alpha) * smith_g2(wo, wi, self.alpha) / (4.0 * wo.z));
        let interface = (1.0 - fresnel_dielectric(wo.z, eta)) * (1.0 - fresnel_dielectric(wi.z, eta));
        let diffuse = self.base_color * (dielectric * (1.0 - self.transmission) * interface * FRAC_1_PI * wi.z);
        let pdf = p_specular * ggx_vndf_pdf(wo, h, self.alpha) / (4.0 * wo_h) + p_diffuse * cosine_hemisphere_pdf(wi.z);
        (specular + diffuse, pdf)
    }

    /// Thin-walled transmission: the specular lobe of `wi` mirrored back to
    /// `wo`'s side; `wo.z > 0`, `wi.z < 0`.
    fn eval_pdf_thin_transmission(&self, wo: Vec3, wi: Vec3, eta: f32, p_transmission: f32) -> (Vec3, f32) {
        let wi = mirror_z(wi);
        let h = (wo + wi).normalize();
        let wo_h = wo.dot(h);
        let weight = (1.0 - self.metallic) * self.transmission * (1.0 - fresnel_dielectric(wo_h, eta));
        let lobe = ggx_d(h, self.alpha) * smith_g2(wo, wi, self.alpha) / (4.0 * wo.z);
        let pdf = p_transmission * ggx_vndf_pdf(wo, h, self.alpha) / (4.0 * wo_h);
        (self.base_color * (weight * lobe), pdf)
    }

    /// Rough dielectric refraction (Walter et al. 2007), radiance BTDF;
    /// `wo.z > 0`, `wi.z < 0`.
    fn eval_pdf_refraction(&self, wo: Vec3, wi: Vec3, eta: f32, p_transmission: f32) -> (Vec3, f32) {
        // The generalised half vector, turned to the upper side.
        let h = wo + eta * wi;
        let h = if h.z < 0.0 { -h } else { h };
        let length = h.length();
        if !(length > 0.0) {
            return (Vec3::ZERO, 0.0);
        }
        let h = h / length;
        let (wo_h, wi_h) = (wo.dot(h), wi.dot(h));
        // The microfacet must face wo and have wi behind it.
        if !(wo_h > 0.0 && wi_h < 0.0) {
            return (Vec3::ZERO, 0.0);
        }
        let denom = wo_h + eta * wi_h;
        let denom2 = denom * denom;
        let weight = (1.0 - self.metallic) * self.transmission * (1.0 - fresnel_dielectric(wo_h, eta));
        // (1 − F) D G2 |wi·h| |wo·h| / (|cos θo| (wo·h + η wi·h)²): the importance
        // BTDF times cos θi, divided by η² for radiance.
        let btdf = ggx_d(h, self.alpha) * smith_g2(wo, wi, self.alpha) * wo_h * -wi_h / (wo.z * denom2);
        // dωh / dωi = η² |wi·h| / (wo·h + η wi·h)².
        let pdf = p_transmission * ggx_vndf_pdf(wo, h, self.alpha) * eta * eta * -wi_h / denom2;
        (self.base_color * (weight * btdf), pdf)
    }

    /// Samples `wi` given `wo`: `u_lobe` picks the lobe, `u` the direction.
    /// `None` when the sampled direction is impossible (a reflection below the
    /// surface, total internal reflection in the transmission lobe) or `wo`
    /// lies in the surface plane.
    pub fn sample(&self, wo: Vec3, u_lobe: f32, u: Vec2) -> Option<BsdfSample> {
        if !(wo.z.abs() > 0.0) {
            return None;
        }
        let (wo_up, mirrored, eta) = self.upper_hemisphere(wo);
        let [p_specular, p_diffuse, _] = self.lobe_probabilities(wo_up.z, eta);
        let wi_up = if u_lobe < p_specular {
            let wi = reflect(wo_up, sample_ggx_vndf(wo_up, self.alpha, u));
            if !(wi.z > 0.0) {
                return None;
            }
            wi
        } else if u_lobe < p_specular + p_diffuse {
            let wi = square_to_cosine_hemisphere(u);
            if !(wi.z > 0.0) {
                return None;
            }
            wi
        } else {
            let h = sample_ggx_vndf(wo_up, self.alpha, u);
            let wi = if self.thin { mirror_z(reflect(wo_up, h)) } else { refract(wo_up, h, eta)? };
            if !(wi.z < 0.0) {
                return None;
            }
            wi
        };
        let (eval, pdf) = self.eval_pdf_upper(wo_up, wi_up, eta);
        if !(pdf > 0.0) {
            return None;
        }
        let wi = if mirrored { mirror_z(wi_up) } else { wi_up };
        Some(BsdfSample { wi, weight: eval / pdf, pdf, transmitted: wi_up.z < 0.0 })
    }
}

#[cfg(test)]
mod tests {
    use std::f32::consts::PI;

    use super::*;
    use crate::sampling::chi2::{assert_fits, bin_probabilities, chi2_directions, significance_level, Domain};
    use crate::sampling::rng::rand4;
    use crate::sampling::warp::{square_to_uniform_sphere, uniform_sphere_pdf};

    /// Direction at polar angle `theta` (beyond π/2: below the surface), off
    /// the xz plane so nothing lines up with bin edges.
    fn dir(theta: f32) -> Vec3 {
        let phi = 0.3f32;
        Vec3::new(theta.sin() * phi.cos(), theta.sin() * phi.sin(), theta.cos())
    }

    fn uniform3(seed: u32, i: u32) -> (f32, Vec2) {
        let [a, b, c, _] = rand4(seed, i & 0xffff, i >> 16, 1, 0);
        (a, Vec2::new(b, c))
    }

    fn random_dir(seed: u32, i: u32) -> Vec3 {
        square_to_uniform_sphere(uniform3(seed, i).1)
    }

    fn metal(roughness: f32) -> Bsdf {
        Bsdf::new(Vec3::new(0.9, 0.6, 0.3), 1.0, roughness, 1.5, 0.0, false)
    }

    fn plastic(roughness: f32) -> Bsdf {
        Bsdf::new(Vec3::new(0.6, 0.3, 0.2), 0.0, roughness, 1.5, 0.0, false)
    }

    fn glass(roughness: f32) -> Bsdf {
        Bsdf::new(Vec3::ONE, 0.0, roughness, 1.5, 1.0, false)
    }

    fn thin(roughness: f32, transmission: f32) -> Bsdf {
        Bsdf::new(Vec3::new(0.9, 0.8, 0.7), 0.0, roughness, 1.5, transmission, true)
    }

    fn mixed() -> Bsdf {
        Bsdf::new(Vec3::new(0.7, 0.5, 0.9), 0.4, 0.4, 1.4, 0.5, false)
    }

    /// A spread of materials for the pointwise checks.
    fn materials() -> Vec<(&'static str, Bsdf)> {
        let mut all = vec![
            ("lambert", Bsdf::new(Vec3::splat(0.8), 0.0, 0.5, 1.0, 0.0, false)),
            ("smooth metal", metal(0.0)),
            ("rough metal", metal(0.7)),
            ("smooth plastic", plastic(0.0)),
            ("plastic", plastic(0.4)),
            ("smooth glass", glass(0.0)),
            ("rough glass", glass(0.5)),
            ("thin glass", thin(0.3, 1.0)),
            ("half thin", thin(0.6, 0.5)),
            ("mixed", mixed()),
        ];
        for i in 0..20 {
            let [a, b, c, d] = rand4(99, i, 0, 0, 0);
            let [e, f, g, _] = rand4(99, i, 0, 0, 1);
            all.push(("random", Bsdf::new(Vec3::new(a, b, c), d.powi(3), e, 1.0 + 1.5 * f, g, i % 2 == 0)));
        }
        all
    }

    /// χ² of `Bsdf::sample` against `Bsdf::pdf` for wo at polar angle `theta`,
    /// plus the pdf's total (≤ 1, and 1 when no sample was rejected).
    fn check_sampling(name: &str, bsdf: Bsdf, theta: f32) {
        let wo = dir(theta);
        let mut sample = |u: [f32; 3]| bsdf.sample(wo, u[0], Vec2::new(u[1], u[2])).map(|s| s.wi);
        let pdf = |wi: Vec3| bsdf.pdf(wo, wi);
        let outcome = chi2_directions(&mut sample, &pdf, Domain::Sphere, 1_000_000);
        let name = format!("{name}, θo = {theta}");
        assert!(outcome.pdf_integral <= 1.0 + 1e-3, "{name}: ∫pdf = {}", outcome.pdf_integral);
        if outcome.accepted == 1.0 {
            assert!((outcome.pdf_integral - 1.0).abs() < 1e-3, "{name}: ∫pdf = {}", outcome.pdf_integral);
        }
        assert_fits(&name, outcome);
    }

    #[test]
    fn diffuse_and_plastic_sampling_matches_pdf() {
        check_sampling("lambert", Bsdf::new(Vec3::splat(0.8), 0.0, 0.5, 1.0, 0.0, false), 0.6);
        check_sampling("plastic 0.2", plastic(0.2), 0.4);
        check_sampling("plastic 0.2", plastic(0.2), 1.45);
        check_sampling("plastic 0.8", plastic(0.8), 1.0);
    }

    #[test]
    fn metal_sampling_matches_pdf() {
        for roughness in [0.05, 0.3, 0.7, 1.0] {
            for theta in [0.2, 0.9, 1.5] {
                check_sampling(&format!("metal {roughness}"), metal(roughness), theta);
            }
        }
        // Seen from below: the two-sided mirror image.
        check_sampling("metal 0.3 from below", metal(0.3), PI - 0.7);
    }

    #[test]
    fn rough_glass_sampling_matches_pdf() {
        // Outside and inside; π − 1.0 is beyond the critical angle (41.8°).
        for (roughness, theta) in
            [(0.1, 0.5), (0.1, PI - 0.3), (0.3, 1.3), (0.3, PI - 0.5), (0.3, PI - 1.0), (0.7, 0.9), (0.7, PI - 0.8)]
        {
            check_sampling(&format!("glass {roughness}"), glass(roughness), theta);
        }
    }

    #[test]
    fn thin_and_mixed_sampling_matches_pdf() {
        check_sampling("thin glass 0.3", thin(0.3, 1.0), 0.7);
        check_sampling("half thin 0.6", thin(0.6, 0.5), PI - 0.5);
        check_sampling("mixed", mixed(), 0.8);
        check_sampling("mixed", mixed(), PI - 0.6);
    }

    #[test]
    fn a_wrong_pdf_is_rejected() {
        // The true pdf tilted by (1 + 0.3 cos θ) and renormalised to the same
        // total: a subtle error the test must still catch.
        let bsdf = plastic(0.5);
        let wo = dir(0.7);
        let pdf = |wi: Vec3| bsdf.pdf(wo, wi);
        let tilted = |wi: Vec3| pdf(wi) * (1.0 + 0.3 * wi.z);
        let total = |f: &dyn Fn(Vec3) -> f32| bin_probabilities(f, Domain::Sphere).iter().sum::<f64>();
        let scale = (total(&pdf) / total(&tilted)) as f32;
        let wrong = |wi: Vec3| tilted(wi) * scale;
        let mut sample = |u: [f32; 3]| bsdf.sample(wo, u[0], Vec2::new(u[1], u[2])).map(|s| s.wi);
        let outcome = chi2_directions(&mut sample, &wrong, Domain::Sphere, 1_000_000);
        assert!(outcome.p_value < significance_level(), "wrong pdf accepted: {outcome:?}");
    }

    #[test]
    fn samples_agree_with_eval_and_pdf() {
        for (name, bsdf) in materials() {
            for i in 0..2000 {
                let wo = random_dir(1, i);
                let (u_lobe, u) = uniform3(2, i);
                let Some(s) = bsdf.sample(wo, u_lobe, u) else { continue };
                let (eval, pdf) = bsdf.eval_pdf(wo, s.wi);
                assert!(s.pdf > 0.0 && s.weight.is_finite() && s.weight.min_element() >= 0.0, "{name}: {s:?}");
                assert!((s.wi.length() - 1.0).abs() < 1e-4, "{name}: |wi| = {}", s.wi.length());
                assert!((pdf - s.pdf).abs() <= 1e-4 * pdf, "{name}: pdf {pdf} vs sampled {}", s.pdf);
                let expected = eval / pdf;
                assert!((s.weight - expected).abs().max_element() <= 1e-4 * expected.max_element(), "{name}");
                assert_eq!(s.transmitted, s.wi.z * wo.z < 0.0, "{name}");
            }
        }
    }

    #[test]
    fn eval_is_covered_by_pdf_and_well_behaved() {
        // Wherever eval is non-zero the sampler can produce the direction, or
        // estimates using `sample` would be biased.
        for (name, bsdf) in materials() {
            for i in 0..20_000 {
                let (wo, wi) = (random_dir(3, i), random_dir(4, i));
                let (eval, pdf) = bsdf.eval_pdf(wo, wi);
                assert!(eval.is_finite() && eval.min_element() >= 0.0 && pdf.is_finite() && pdf >= 0.0, "{name}");
                assert!(eval.max_element() == 0.0 || pdf > 0.0, "{name}: eval {eval} with pdf 0 at {wo}, {wi}");
            }
        }
    }

    #[test]
    fn degenerate_directions_are_harmless() {
        let bsdf = mixed();
        let flat = Vec3::X;
        assert_eq!(bsdf.eval_pdf(flat, Vec3::Z), (Vec3::ZERO, 0.0));
        assert_eq!(bsdf.eval_pdf(Vec3::Z, flat), (Vec3::ZERO, 0.0));
        assert_eq!(bsdf.eval_pdf(Vec3::NAN, Vec3::Z), (Vec3::ZERO, 0.0));
        assert_eq!(bsdf.sample(flat, 0.5, Vec2::splat(0.5)), None);
        assert_eq!(bsdf.sample(Vec3::NAN, 0.5, Vec2::splat(0.5)), None);
        // Straight through an index-matched thin wall, and at normal incidence.
        let s = thin(0.0, 1.0).sample(Vec3::Z, 0.99, Vec2::new(0.3, 0.0)).expect("transmission");
        assert!(s.transmitted && s.weight.is_finite());
    }

    #[test]
    fn new_clamps_parameters() {
        let b = Bsdf::new(Vec3::new(-1.0, 2.0, f32::NAN), 3.0, -1.0, 0.5, f32::NAN, false);
        assert_eq!(b.base_color, Vec3::new(0.0, 1.0, 0.0));
        assert_eq!((b.metallic, b.alpha, b.ior, b.transmission), (1.0, roughness_to_alpha(0.0), 1.0, 0.0));
        assert_eq!(Bsdf::new(Vec3::ONE, 0.0, 2.0, 1e9, 0.0, false).alpha, 1.0);
        assert_eq!(Bsdf::new(Vec3::ONE, 0.0, 0.5, 1e9, 0.0, false).ior, MAX_IOR);
        // Refracting materials keep away from the index-matched delta lobe.
        assert_eq!(Bsdf::new(Vec3::ONE, 0.0, 0.5, 1.0, 0.5, false).ior, MIN_REFRACTING_IOR);
        assert_eq!(Bsdf::new(Vec3::ONE, 0.0, 0.5, 1.0, 0.5, true).ior, 1.0);
    }

    /// (f(wo, wi), f(wi, wo)) for `wo`, `wi` from the BSDF's `eval`.
    fn both_ways(bsdf: &Bsdf, wo: Vec3, wi: Vec3) -> (Vec3, Vec3) {
        (bsdf.eval(wo, wi) / wi.z.abs(), bsdf.eval(wi, wo) / wo.z.abs())
    }

    fn assert_close(a: Vec3, b: Vec3, relative: f32, what: &str) {
        let scale = a.abs().max(b.abs()).max_element();
        assert!((a - b).abs().max_element() <= relative * scale + 1e-6, "{what}: {a} vs {b}");
    }

    #[test]
    fn reflection_and_thin_transmission_are_reciprocal() {
        for (name, bsdf) in materials() {
            let refracts = bsdf.transmission > 0.0 && !bsdf.thin;
            for i in 0..5000 {
                let (wo, wi) = (random_dir(5, i), random_dir(6, i));
                // Refraction obeys the generalised form, checked below.
                if refracts && wo.z * wi.z < 0.0 {
                    continue;
                }
                let (forward, backward) = both_ways(&bsdf, wo, wi);
                assert_close(forward, backward, 1e-3, &format!("{name} at {wo}, {wi}"));
            }
        }
    }

    #[test]
    fn refraction_obeys_generalised_reciprocity() {
        // Radiance BTDF: f(wi, wo) = (η_i / η_o)² f(wo, wi); with wo outside,
        // η_o = 1 and η_i = ior. Seen from inside, a microfacet near the
        // critical angle makes 1 − F ill-conditioned in f32 (the transmitted
        // cosine is a small difference), hence the percent tolerance.
        for bsdf in [glass(0.2), glass(0.7), mixed()] {
            for i in 0..5000 {
                let wo = random_dir(7, i);
                let wo = Vec3::new(wo.x, wo.y, wo.z.abs());
                let wi = random_dir(8, i);
                let wi = Vec3::new(wi.x, wi.y, -wi.z.abs());
                let (forward, backward) = both_ways(&bsdf, wo, wi);
                assert_close(forward * (bsdf.ior * bsdf.ior), backward, 1e-2, &format!("{bsdf:?} at {wo}, {wi}"));
            }
        }
    }

    #[test]
    fn two_sided_materials_mirror() {
        for (name, bsdf) in materials() {
            if bsdf.transmission > 0.0 && !bsdf.thin {
                continue;
            }
            for i in 0..1000 {
                let (wo, wi) = (random_dir(9, i), random_dir(10, i));
                let (a, pa) = bsdf.eval_pdf(wo, wi);
                let (b, pb) = bsdf.eval_pdf(mirror_z(wo), mirror_z(wi));
                assert!(a == b && pa == pb, "{name}");
            }
        }
    }

    /// Directional albedo ∫ eval dωi, with the transmitted part scaled by
    /// `transmitted_scale`, estimated with `samples` BSDF samples: the mean and
    /// its standard error. With base colour 1 every channel is the same, so
    /// the mean over channels is used.
    fn albedo(bsdf: &Bsdf, wo: Vec3, samples: u32, transmitted_scale: f64) -> (f64, f64) {
        let (mut sum, mut sum_sq) = (0.0, 0.0);
        for i in 0..samples {
            // Stratified lobe choice: no noise from how many samples each lobe gets.
            let (jitter, u) = uniform3(12, i);
            let u_lobe = (i as f32 + jitter) / samples as f32;
            if let Some(s) = bsdf.sample(wo, u_lobe, u) {
                let w = s.weight.element_sum() as f64 / 3.0 * if s.transmitted { transmitted_scale } else { 1.0 };
                sum += w;
                sum_sq += w * w;
            }
        }
        let n = samples as f64;
        let mean = sum / n;
        (mean, ((sum_sq / n - mean * mean).max(0.0) / (n - 1.0)).sqrt())
    }

    /// Asserts that an albedo estimate is not significantly above one. The
    /// weights of rare grazing microfacets are large (total internal
    /// reflection picked with the macro-normal Fresnel probability), so the
    /// bound allows three standard errors.
    fn assert_no_gain((mean, stderr): (f64, f64), what: &str) {
        assert!(mean - 3.0 * stderr <= 1.001, "{what}: albedo {mean} ± {stderr}");
    }

    const FURNACE_ROUGHNESS: [f32; 7] = [0.0, 0.05, 0.1, 0.3, 0.5, 0.7, 1.0];
    const FURNACE_COS: [f32; 6] = [1.0, 0.8, 0.5, 0.2, 0.05, 0.01];

    fn cos_dir(cos: f32) -> Vec3 {
        Vec3::new((1.0 - cos * cos).sqrt(), 0.0, cos)
    }

    #[test]
    fn metals_and_dielectrics_never_gain_energy() {
        for roughness in FURNACE_ROUGHNESS {
            for cos in FURNACE_COS {
                let wo = cos_dir(cos);
                for (name, bsdf) in [
                    ("metal", Bsdf::new(Vec3::ONE, 1.0, roughness, 1.5, 0.0, false)),
                    ("plastic 1.5", Bsdf::new(Vec3::ONE, 0.0, roughness, 1.5, 0.0, false)),
                    ("plastic 2.5", Bsdf::new(Vec3::ONE, 0.0, roughness, 2.5, 0.0, false)),
                    ("half metal", Bsdf::new(Vec3::ONE, 0.5, roughness, 1.5, 0.0, false)),
                    ("thin glass", Bsdf::new(Vec3::ONE, 0.0, roughness, 1.5, 1.0, true)),
                ] {
                    assert_no_gain(
                        albedo(&bsdf, wo, 20_000, 1.0),
                        &format!("{name}, roughness {roughness}, cos θo {cos}"),
                    );
                }
            }
        }
    }

    #[test]
    fn rough_glass_conserves_energy_on_both_sides() {
        // Energy is conserved by the importance BTDF: the radiance BTDF times
        // (η_i / η_o)². From outside that factor is ior², from inside 1/ior².
        for roughness in FURNACE_ROUGHNESS {
            for cos in FURNACE_COS {
                let bsdf = glass(roughness);
                for (side, wo, scale) in [("outside", cos_dir(cos), 2.25), ("inside", -cos_dir(cos), 1.0 / 2.25)] {
                    let what = format!("{side}, roughness {roughness}, cos θo {cos}");
                    assert_no_gain(albedo(&bsdf, wo, 20_000, scale), &what);
                    if side == "outside" {
                        assert_no_gain(albedo(&bsdf, wo, 20_000, 1.0), &what);
                    }
                }
            }
        }
    }

    #[test]
    fn smooth_glass_transmits_radiance_scaled_by_eta_squared() {
        // Nearly smooth glass at normal incidence: R = F0, and the radiance
        // transmitted from outside is (1 − F0) / η² (from inside, × η²).
        let bsdf = glass(0.0);
        let f0 = fresnel_dielectric(1.0, 1.5) as f64;
        for (side, wo, scale) in [("outside", Vec3::Z, 1.0 / 2.25), ("inside", -Vec3::Z, 2.25)] {
            let r = albedo(&bsdf, wo, 100_000, 0.0).0;
            let t = albedo(&bsdf, wo, 100_000, 1.0).0 - r;
            assert!((r - f0).abs() < 2e-3, "{side}: R = {r}, F0 = {f0}");
            assert!((t - (1.0 - f0) * scale).abs() < 5e-3, "{side}: T = {t}");
        }
    }

    #[test]
    fn lambert_integrates_to_one() {
        // Stratified uniform sphere directions: independent of the sampler.
        let bsdf = Bsdf::new(Vec3::ONE, 0.0, 0.5, 1.0, 0.0, false);
        let n = 1024u32;
        for cos in [1.0, 0.5, 0.05] {
            let wo = cos_dir(cos);
            let mut sum = 0.0f64;
            for i in 0..n * n {
                let [a, b, ..] = rand4(13, i, 0, 0, 0);
                let u = Vec2::new(((i % n) as f32 + a) / n as f32, ((i / n) as f32 + b) / n as f32);
                sum += (bsdf.eval(wo, square_to_uniform_sphere(u)).x / uniform_sphere_pdf()) as f64;
            }
            let albedo = sum / (n * n) as f64;
            assert!((albedo - 1.0).abs() < 0.005, "cos θo {cos}: albedo {albedo}");
        }
    }
}
