//! KHR_materials_iridescence: the Fresnel reflectance of a thin dielectric film
//! over a base, with the interference integrated over the visible spectrum in
//! closed form (Belcour and Barla 2017, "A Practical Extension to Microfacet
//! Theory for the Modeling of Varying Iridescence", as the extension specifies).
//!
//! Light reflected by the film's top and by the base below interferes with a
//! phase set by the optical path difference 2 n_film d cos θ_film. The Airy sum
//! of the reflected waves is a constant plus cosines of the phase; integrated
//! against the colour-matching functions, each cosine becomes the Fourier
//! transform of the spectral sensitivity at that path difference, which the
//! paper fits with Gaussians in XYZ. Two terms of the series suffice.

use std::f32::consts::PI;

use glam::{Mat3, Vec3};

use super::microfacet::{dielectric_f0, schlick_weight};

/// Below this film thickness (nm) the film's index fades to the outside's, so
/// that a vanishing film leaves the base's own Fresnel (the extension's rule).
const FADE_THICKNESS: f32 = 30.0;

/// Gaussian fit of the XYZ sensitivity in the Fourier domain: amplitude,
/// mean and variance per channel, one more lobe for X, and Y's integral.
const SENSITIVITY_AMPLITUDE: Vec3 = Vec3::new(5.4856e-13, 4.4201e-13, 5.2481e-13);
const SENSITIVITY_MEAN: Vec3 = Vec3::new(1.6810e6, 1.7953e6, 2.2084e6);
const SENSITIVITY_VARIANCE: Vec3 = Vec3::new(4.3278e9, 9.3046e9, 6.6121e9);
const SENSITIVITY_X2: [f32; 3] = [9.7470e-14, 2.2399e6, 4.5282e9];
const SENSITIVITY_NORM: f32 = 1.0685e-7;

/// CIE XYZ to linear Rec. 709 (sRGB primaries, D65), columns.
const XYZ_TO_REC709: Mat3 = Mat3::from_cols(
    Vec3::new(3.2404542, -0.969266, 0.0556434),
    Vec3::new(-1.5371385, 1.8760108, -0.2040259),
    Vec3::new(-0.4985314, 0.0415560, 1.0572252),
);

/// The spectral sensitivity's Fourier transform at optical path difference
/// `opd` (nm) with phase shift `shift` per channel, in linear Rec. 709.
fn sensitivity(opd: f32, shift: Vec3) -> Vec3 {
    let phase = 2.0 * PI * opd * 1e-9;
    let gauss = |amplitude: f32, mean: f32, variance: f32, shift: f32| {
        amplitude * (2.0 * PI * variance).sqrt() * (mean * phase + shift).cos() * (-phase * phase * variance).exp()
    };
    let (a, m, v) = (SENSITIVITY_AMPLITUDE, SENSITIVITY_MEAN, SENSITIVITY_VARIANCE);
    let [a2, m2, v2] = SENSITIVITY_X2;
    let xyz = Vec3::new(
        gauss(a.x, m.x, v.x, shift.x) + gauss(a2, m2, v2, shift.x),
        gauss(a.y, m.y, v.y, shift.y),
        gauss(a.z, m.z, v.z, shift.z),
    );
    XYZ_TO_REC709 * (xyz / SENSITIVITY_NORM)
}

/// Index of refraction of a dielectric with normal reflectance `f0` < 1 against 1.
fn f0_to_ior(f0: f32) -> f32 {
    let r = f0.clamp(0.0, 0.9999).sqrt();
    (1.0 + r) / (1.0 - r)
}

/// Normal reflectance between indices `a` and `b`.
fn ior_to_f0(a: f32, b: f32) -> f32 {
    let r = (a - b) / (a + b);
    r * r
}

/// Reflectance per channel of a film of index `film_ior` and `thickness` (nm)
/// in air over a base of normal reflectance `base_f0` (against air), for light
/// arriving at cosine `cos_theta` > 0 on the film; each interface is Schlick's.
pub fn iridescent_fresnel(cos_theta: f32, film_ior: f32, thickness: f32, base_f0: Vec3) -> Vec3 {
    let fade = (thickness / FADE_THICKNESS).clamp(0.0, 1.0);
    let film = 1.0 + (film_ior - 1.0) * fade * fade * (3.0 - 2.0 * fade);
    let cos1 = cos_theta.clamp(0.0, 1.0);
    let sin2_film = (1.0 - cos1 * cos1) / (film * film);
    if sin2_film >= 1.0 {
        return Vec3::ONE;
    }
    let cos2 = (1.0 - sin2_film).sqrt();
    // The top interface, from air into the film, and the light it lets through twice.
    let r12 = {
        let f0 = dielectric_f0(film);
        f0 + (1.0 - f0) * schlick_weight(cos1)
    };
    let t121 = 1.0 - r12;
    // Reflection off a denser medium shifts the phase by π.
    let phi21 = if film < 1.0 { 0.0 } else { PI };
    // The bottom interface, from the film into the base, per channel.
    let base = |f0: f32| {
        let ior = f0_to_ior(f0);
        let r = ior_to_f0(ior, film);
        (r + (1.0 - r) * schlick_weight(cos2), if ior < film { PI } else { 0.0 })
    };
    let (rx, px) = base(base_f0.x);
    let (ry, py) = base(base_f0.y);
    let (rz, pz) = base(base_f0.z);
    let r23 = Vec3::new(rx, ry, rz);
    let phi = Vec3::splat(phi21) + Vec3::new(px, py, pz);
    let opd = 2.0 * film * thickness * cos2;
    // The Airy sum: a constant and the first two harmonics.
    let r123 = (r12 * r23).clamp(Vec3::splat(1e-5), Vec3::splat(0.9999));
    let root = Vec3::new(r123.x.sqrt(), r123.y.sqrt(), r123.z.sqrt());
    let rs = t121 * t121 * r23 / (Vec3::ONE - r123);
    let mut intensity = Vec3::splat(r12) + rs;
    let mut c = rs - Vec3::splat(t121);
    for m in 1..=2 {
        c *= root;
        intensity += c * 2.0 * sensitivity(m as f32 * opd, m as f32 * phi);
    }
    // The truncated series can overshoot a little near grazing angles; a
    // reflectance lies in [0, 1].
    intensity.clamp(Vec3::ZERO, Vec3::ONE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_film_of_the_outside_index_leaves_the_base_fresnel_at_normal_incidence() {
        // Film index 1 (or a film too thin to matter, whose index fades to 1) is
        // no interface at normal incidence, where Schlick's R12 is 0: what remains
        // is the base's F0, up to the ripple that the model's floor of 1e-5 on
        // R12·R23 leaves, 2 √1e-5 (1 − R23) times the sensitivity (about 1.2).
        // Off normal incidence Schlick's formula gives even an index-1 interface
        // a reflectance, so there is no such closed form.
        for base in [Vec3::splat(0.04), Vec3::new(0.9, 0.6, 0.3)] {
            for (ior, thickness) in [(1.0, 300.0), (1.0, 700.0), (1.5, 0.0)] {
                let f = iridescent_fresnel(1.0, ior, thickness, base);
                assert!((f - base).abs().max_element() < 0.01, "{ior} {thickness}: {f} vs {base}");
            }
        }
    }

    #[test]
    fn the_sensitivity_at_zero_path_difference_is_the_white_of_equal_energy() {
        // At zero path difference the cosine is 1 and the transform is the
        // colour of an equal-energy spectrum: X = Y = Z, in Rec. 709 the row
        // sums of the XYZ matrix.
        let s = sensitivity(0.0, Vec3::ZERO);
        let expected = XYZ_TO_REC709 * Vec3::ONE;
        assert!((s - expected).abs().max_element() < 0.02, "{s} vs {expected}");
    }

    #[test]
    fn the_reflectance_stays_between_zero_and_one_and_varies_with_thickness() {
        let mut seen = Vec::new();
        for thickness in (0..=12).map(|i| 100.0 * i as f32) {
            for cos in [1.0f32, 0.5, 0.1] {
                for base in [Vec3::splat(0.04), Vec3::new(0.95, 0.64, 0.54)] {
                    let f = iridescent_fresnel(cos, 1.3, thickness, base);
                    assert!(f.min_element() >= 0.0 && f.max_element() <= 1.0, "{thickness} {cos} {base}: {f}");
                }
            }
            seen.push(iridescent_fresnel(1.0, 1.3, thickness, Vec3::splat(0.04)));
        }
        // Interference: the colour changes with the film's thickness.
        let spread = seen.iter().map(|f| f.x - f.z).fold(f32::NEG_INFINITY, f32::max)
            - seen.iter().map(|f| f.x - f.z).fold(f32::INFINITY, f32::min);
        assert!(spread > 0.02, "no interference colours: {seen:?}");
    }

    /// The CIE 1931 colour-matching functions in the closed form of Wyman,
    /// Sloan and Shirley 2013 (multi-lobe piecewise Gaussians), at `l` nm.
    fn cie_xyz(l: f64) -> [f64; 3] {
        let g = |mu: f64, below: f64, above: f64| {
            let t = (l - mu) / if l < mu { below } else { above };
            (-0.5 * t * t).exp()
        };
        [
            1.056 * g(599.8, 37.9, 31.0) + 0.362 * g(442.0, 16.0, 26.7) - 0.065 * g(501.1, 20.4, 26.2),
            0.821 * g(568.8, 46.9, 40.5) + 0.286 * g(530.9, 16.3, 31.1),
            1.217 * g(437.0, 11.8, 36.0) + 0.681 * g(459.0, 26.0, 13.8),
        ]
    }

    #[test]
    fn at_normal_incidence_the_film_matches_the_airy_reflectance_integrated_over_the_spectrum() {
        // Independent of the paper's Fourier-domain fit: the exact reflectance
        // of a film of index n and thickness d between air and a dielectric of
        // index n3 is Airy's |r12 + r23 e^iδ|² / |1 + r12 r23 e^iδ|², δ = 4π n d / λ,
        // integrated against the CIE functions (360–830 nm, 0.5 nm trapezoids,
        // equal-energy light) at normal incidence, where Schlick's formula is
        // exact. The model renders the incoherent part R̄ = R12 + T²R23 / (1 − R12 R23)
        // as grey and the interference around it in XYZ, so the reference does the
        // same: R̄ + M ∫ (R(λ) − R̄) x̄ȳz̄ dλ / ∫ ȳ dλ, clamped to [0, 1].
        // Measured worst difference 0.025 (the two-harmonic truncation at the
        // highest contrast); a missing π phase shift or factor of 2 in the path
        // is off by more than 0.1.
        let steps = 940;
        let wavelength = |i: usize| 360.0 + 470.0 * i as f64 / steps as f64;
        let weight = |i: usize| if i == 0 || i == steps { 0.5 } else { 1.0 };
        let y_integral: f64 = (0..=steps).map(|i| weight(i) * cie_xyz(wavelength(i))[1]).sum();
        for (n, n3) in [(1.3f64, 1.5f64), (1.8, 1.5), (1.3, 3.0), (2.0, 1.2)] {
            let (r12, r23) = ((1.0 - n) / (1.0 + n), (n - n3) / (n + n3));
            let (big_r12, big_r23) = (r12 * r12, r23 * r23);
            let incoherent = big_r12 + (1.0 - big_r12).powi(2) * big_r23 / (1.0 - big_r12 * big_r23);
            for d in (1..=24).map(|k| 50.0 * k as f64) {
                let mut xyz = [0.0f64; 3];
                for i in 0..=steps {
                    let l = wavelength(i);
                    let cos = (4.0 * std::f64::consts::PI * n * d / l).cos();
                    let airy = (r12 * r12 + r23 * r23 + 2.0 * r12 * r23 * cos)
                        / (1.0 + (r12 * r23).powi(2) + 2.0 * r12 * r23 * cos);
                    let cmf = cie_xyz(l);
                    for k in 0..3 {
                        xyz[k] += weight(i) * (airy - incoherent) * cmf[k] / y_integral;
                    }
                }
                let xyz = Vec3::new(xyz[0] as f32, xyz[1] as f32, xyz[2] as f32);
                let reference = (Vec3::splat(incoherent as f32) + XYZ_TO_REC709 * xyz).clamp(Vec3::ZERO, Vec3::ONE);
                let model = iridescent_fresnel(1.0, n as f32, d as f32, Vec3::splat(dielectric_f0(n3 as f32)));
                let difference = (model - reference).abs().max_element();
                assert!(difference < 0.03, "film {n} over {n3}, {d} nm: {model} against {reference}");
            }
        }
    }
}
