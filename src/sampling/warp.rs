//! Sample warps: maps from the unit square to directions and points with known
//! densities, the shading frame, and the MIS power heuristic. `shaders/` and
//! `kernels/` spell the same functions with the same names.

use std::f32::consts::{FRAC_1_PI, FRAC_PI_2, FRAC_PI_4, PI};

use glam::{Vec2, Vec3};

/// An orthonormal, right-handed shading frame: `t × b = n`. Local coordinates
/// put the normal on +z.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Frame {
    pub t: Vec3,
    pub b: Vec3,
    pub n: Vec3,
}

impl Frame {
    /// Frame around a unit normal, branchless and continuous except where n.z
    /// changes sign (Duff et al., "Building an Orthonormal Basis, Revisited",
    /// JCGT 2017).
    pub fn from_normal(n: Vec3) -> Frame {
        let sign = 1.0f32.copysign(n.z);
        let a = -1.0 / (sign + n.z);
        let b = n.x * n.y * a;
        Frame {
            t: Vec3::new(1.0 + sign * n.x * n.x * a, sign * b, -sign * n.x),
            b: Vec3::new(b, sign + n.y * n.y * a, -n.y),
            n,
        }
    }

    /// Frame around a unit normal whose tangent follows `t` (e.g. a mesh
    /// tangent), made orthogonal to `n` by Gram–Schmidt. A tangent that is zero,
    /// not finite, or (nearly) parallel to `n` falls back to [`Frame::from_normal`].
    pub fn from_normal_tangent(n: Vec3, t: Vec3) -> Frame {
        let t = t - n * n.dot(t);
        let len2 = t.length_squared();
        // The comparison is false for NaN, which also falls back.
        if !(len2 > 1e-12 && len2 < f32::INFINITY) {
            return Frame::from_normal(n);
        }
        let t = t / len2.sqrt();
        Frame { t, b: n.cross(t), n }
    }

    /// World direction to local coordinates (z along the normal).
    #[inline]
    pub fn to_local(&self, v: Vec3) -> Vec3 {
        Vec3::new(v.dot(self.t), v.dot(self.b), v.dot(self.n))
    }

    /// Local direction back to world coordinates.
    #[inline]
    pub fn to_world(&self, v: Vec3) -> Vec3 {
        self.t * v.x + self.b * v.y + self.n * v.z
    }
}

/// Concentric map of the unit square onto the unit disk (Shirley & Chiu 1997):
/// area-preserving and with low distortion, so stratification survives.
#[inline]
pub fn square_to_concentric_disk(u: Vec2) -> Vec2 {
    let p = 2.0 * u - Vec2::ONE;
    if p.x == 0.0 && p.y == 0.0 {
        return Vec2::ZERO;
    }
    let (r, phi) =
        if p.x.abs() > p.y.abs() { (p.x, FRAC_PI_4 * (p.y / p.x)) } else { (p.y, FRAC_PI_2 - FRAC_PI_4 * (p.x / p.y)) };
    r * Vec2::new(phi.cos(), phi.sin())
}

/// Cosine-weighted direction on the upper (+z) hemisphere: a concentric disk
/// point lifted onto the hemisphere (Malley's method).
#[inline]
pub fn square_to_cosine_hemisphere(u: Vec2) -> Vec3 {
    let d = square_to_concentric_disk(u);
    let z = (1.0 - d.length_squared()).max(0.0).sqrt();
    Vec3::new(d.x, d.y, z)
}

/// Solid-angle density of [`square_to_cosine_hemisphere`]; zero below the horizon.
#[inline]
pub fn cosine_hemisphere_pdf(cos_theta: f32) -> f32 {
    cos_theta.max(0.0) * FRAC_1_PI
}

/// Uniform direction on the unit sphere.
#[inline]
pub fn square_to_uniform_sphere(u: Vec2) -> Vec3 {
    let z = 1.0 - 2.0 * u.x;
    let r = (1.0 - z * z).max(0.0).sqrt();
    let phi = 2.0 * PI * u.y;
    Vec3::new(r * phi.cos(), r * phi.sin(), z)
}

/// Solid-angle density of [`square_to_uniform_sphere`]: 1 / 4π.
#[inline]
pub fn uniform_sphere_pdf() -> f32 {
    0.25 * FRAC_1_PI
}

/// Uniform point on a triangle as barycentrics `(b1, b2)` of its second and
/// third vertices (`b0 = 1 - b1 - b2`); area-preserving, so the density is
/// 1 / area. The point is `v0 + b1 (v1 - v0) + b2 (v2 - v0)`.
#[inline]
pub fn square_to_uniform_triangle(u: Vec2) -> Vec2 {
    let s = u.x.sqrt();
    Vec2::new(s * (1.0 - u.y), s * u.y)
}

/// Veach's power heuristic with β = 2: the MIS weight of a sample drawn with
/// density `pdf_a` when `pdf_b` could also have produced it. Zero when `pdf_a`
/// is zero (or not a number); one when `pdf_a` is infinite (a delta) and
/// `pdf_b` is not; never NaN, even where squaring would overflow.
#[inline]
pub fn power_heuristic(pdf_a: f32, pdf_b: f32) -> f32 {
    // `max` maps NaN to 0.
    let a = pdf_a.max(0.0);
    let b = pdf_b.max(0.0);
    if a == 0.0 {
        return 0.0;
    }
    if a == f32::INFINITY {
        return if b == f32::INFINITY { 0.5 } else { 1.0 };
    }
    // Divide the smaller density by the larger so nothing overflows.
    if b > a {
        let r = a / b;
        r * r / (1.0 + r * r)
    } else {
        let r = b / a;
        1.0 / (1.0 + r * r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::chi2::{
        assert_fits, bin_probabilities, chi2_directions, chi2_p_value, chi2_statistic, Domain,
    };
    use crate::sampling::rng::rand4;

    fn random_unit(i: u32) -> Vec3 {
        let [a, b, ..] = rand4(11, i, 0, 0, 0);
        square_to_uniform_sphere(Vec2::new(a, b))
    }

    fn assert_orthonormal(f: &Frame) {
        for (v, name) in [(f.t, "t"), (f.b, "b"), (f.n, "n")] {
            assert!((v.length() - 1.0).abs() < 1e-5, "|{name}| = {}", v.length());
        }
        assert!(f.t.dot(f.b).abs() < 1e-5 && f.t.dot(f.n).abs() < 1e-5 && f.b.dot(f.n).abs() < 1e-5);
        assert!((f.t.cross(f.b) - f.n).length() < 1e-5, "left-handed frame {f:?}");
    }

    #[test]
    fn frames_are_orthonormal_and_round_trip() {
        let special = [Vec3::Z, -Vec3::Z, Vec3::X, -Vec3::Y, Vec3::new(0.0, 0.6, -0.8)];
        for n in special.into_iter().chain((0..1000).map(random_unit)) {
            let f = Frame::from_normal(n);
            assert_orthonormal(&f);
            assert_eq!(f.n, n);
            let v = random_unit(n.x.to_bits() ^ 77);
            assert!((f.to_world(f.to_local(v)) - v).length() < 1e-5);
            assert!((f.to_local(n) - Vec3::Z).length() < 1e-5);
        }
    }

    #[test]
    fn tangent_frames_follow_the_tangent_and_survive_bad_tangents() {
        for i in 0..500 {
            let n = random_unit(i);
            let t = random_unit(i + 10_000);
            let f = Frame::from_normal_tangent(n, t);
            assert_orthonormal(&f);
            // The tangent lies in the plane of n and t, on t's side.
            assert!(f.t.dot(n.cross(t)).abs() < 1e-4 && f.t.dot(t) > 0.0);
        }
        let n = Vec3::new(0.0, 0.6, 0.8);
        for bad in [Vec3::ZERO, n * 3.0, Vec3::NAN, Vec3::new(f32::INFINITY, 0.0, 0.0)] {
            assert_eq!(Frame::from_normal_tangent(n, bad), Frame::from_normal(n), "tangent {bad}");
        }
    }

    #[test]
    fn concentric_disk_stays_in_the_disk() {
        for i in 0..10_000 {
            let [a, b, ..] = rand4(3, i, 0, 0, 0);
            assert!(square_to_concentric_disk(Vec2::new(a, b)).length() <= 1.0 + 1e-6);
        }
        assert_eq!(square_to_concentric_disk(Vec2::splat(0.5)), Vec2::ZERO);
        assert!((square_to_concentric_disk(Vec2::new(1.0, 0.5)) - Vec2::X).length() < 1e-6);
    }

    #[test]
    fn cosine_hemisphere_follows_its_pdf() {
        let pdf = |w: Vec3| cosine_hemisphere_pdf(w.z);
        let mut sample = |u: [f32; 3]| Some(square_to_cosine_hemisphere(Vec2::new(u[1], u[2])));
        let outcome = chi2_directions(&mut sample, &pdf, Domain::Hemisphere, 1_000_000);
        assert!((outcome.pdf_integral - 1.0).abs() < 1e-5, "∫pdf = {}", outcome.pdf_integral);
        assert_fits("cosine hemisphere", outcome);
        assert_eq!(cosine_hemisphere_pdf(-0.5), 0.0);
    }

    #[test]
    fn uniform_sphere_follows_its_pdf() {
        let pdf = |_: Vec3| uniform_sphere_pdf();
        let mut sample = |u: [f32; 3]| Some(square_to_uniform_sphere(Vec2::new(u[1], u[2])));
        let outcome = chi2_directions(&mut sample, &pdf, Domain::Sphere, 1_000_000);
        assert!((outcome.pdf_integral - 1.0).abs() < 1e-5, "∫pdf = {}", outcome.pdf_integral);
        assert_fits("uniform sphere", outcome);
    }

    #[test]
    fn a_skewed_warp_is_rejected() {
        // The cosine warp fed u.x² instead of u.x: the χ² test must notice.
        let pdf = |w: Vec3| cosine_hemisphere_pdf(w.z);
        let mut skewed = |u: [f32; 3]| Some(square_to_cosine_hemisphere(Vec2::new(u[1] * u[1], u[2])));
        let outcome = chi2_directions(&mut skewed, &pdf, Domain::Hemisphere, 1_000_000);
        assert!(outcome.p_value < 1e-12, "skewed warp accepted: p = {}", outcome.p_value);
    }

    #[test]
    fn uniform_triangle_is_uniform() {
        // Histogram (b1, b2) on an n×n grid of the unit square. The diagonal
        // b1 + b2 = 1 runs through cell corners, so each cell is inside,
        // outside, or exactly half inside; the density is 2 on the triangle.
        let n = 32;
        let samples = 1_000_000;
        let mut observed = vec![0.0; n * n + 1];
        for i in 0..samples {
            let [a, b, ..] = rand4(5, i, 0, 0, 0);
            let p = square_to_uniform_triangle(Vec2::new(a, b));
            let inside = p.x >= 0.0 && p.y >= 0.0 && p.x + p.y <= 1.0;
            let (ix, iy) = ((p.x * n as f32) as usize, (p.y * n as f32) as usize);
            if inside && ix < n && iy < n {
                observed[ix * n + iy] += 1.0;
            } else {
                observed[n * n] += 1.0;
            }
        }
        let cell = 2.0 * samples as f64 / (n * n) as f64;
        let mut expected: Vec<f64> = (0..n * n)
            .map(|k| match (k / n + k % n).cmp(&(n - 1)) {
                std::cmp::Ordering::Less => cell,
                std::cmp::Ordering::Equal => 0.5 * cell,
                std::cmp::Ordering::Greater => 0.0,
            })
            .collect();
        expected.push(0.0);
        let (statistic, dof) = chi2_statistic(&observed, &expected);
        let level = crate::sampling::chi2::significance_level();
        let p = chi2_p_value(statistic, dof);
        assert!(p >= level, "triangle: χ² = {statistic} with {dof} dof, p = {p}");
    }

    #[test]
    fn warp_pdfs_integrate_to_one() {
        let cosine: f64 = bin_probabilities(&|w| cosine_hemisphere_pdf(w.z), Domain::Sphere).iter().sum();
        let sphere: f64 = bin_probabilities(&|_| uniform_sphere_pdf(), Domain::Sphere).iter().sum();
        assert!((cosine - 1.0).abs() < 1e-5, "{cosine}");
        assert!((sphere - 1.0).abs() < 1e-5, "{sphere}");
    }

    #[test]
    fn power_heuristic_handles_edge_cases() {
        assert_eq!(power_heuristic(1.0, 1.0), 0.5);
        assert!((power_heuristic(3.0, 1.0) - 0.9).abs() < 1e-6);
        assert!((power_heuristic(1.0, 3.0) - 0.1).abs() < 1e-6);
        assert_eq!(power_heuristic(0.0, 0.0), 0.0);
        assert_eq!(power_heuristic(0.0, 5.0), 0.0);
        assert_eq!(power_heuristic(5.0, 0.0), 1.0);
        assert_eq!(power_heuristic(f32::INFINITY, 2.0), 1.0);
        assert_eq!(power_heuristic(2.0, f32::INFINITY), 0.0);
        assert_eq!(power_heuristic(f32::INFINITY, f32::INFINITY), 0.5);
        assert_eq!(power_heuristic(f32::NAN, 1.0), 0.0);
        assert_eq!(power_heuristic(1.0, f32::NAN), 1.0);
        // Squares of these overflow f32; the weights must not.
        assert_eq!(power_heuristic(1e30, 1e30), 0.5);
        assert!((power_heuristic(3e30, 1e30) - 0.9).abs() < 1e-6);
        // Weights of the two techniques sum to one.
        for (a, b) in [(0.3, 7.0), (1e-20, 1e-19), (4.0, 4.5)] {
            assert!((power_heuristic(a, b) + power_heuristic(b, a) - 1.0).abs() < 1e-6);
        }
    }
}
