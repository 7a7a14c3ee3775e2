//! Chi-square goodness-of-fit tests of samplers against their densities, in the
//! manner of pbrt-v4's `Chi2Test` and Mitsuba 3's `chi2.py`: draw many samples,
//! histogram them, integrate the claimed density over every bin, pool bins with
//! small expected counts, and reject when the χ² statistic is improbable.
//!
//! Directions are binned by (θ, φ); the density in those coordinates is
//! pdf(ω) sin θ. Bins are integrated with nested adaptive Simpson rules whose
//! minimum depth resolves lobes a few thousandths of a radian wide (GGX lobes
//! have heavy tails, so the refinement finds narrower peaks too).
//!
//! Each test in the crate gets a Šidák-corrected significance level so the
//! chance that any correct sampler fails is [`FAMILY_ALPHA`].

use std::f64::consts::PI;
use std::sync::atomic::{AtomicUsize, Ordering};

use glam::Vec3;

use super::quadrature::adaptive_simpson;
use super::rng::sample4;

/// Chance that at least one χ² test of a correct sampler fails.
pub const FAMILY_ALPHA: f64 = 0.01;
/// Upper bound on the χ² tests in the crate; [`significance_level`] panics past it.
pub const MAX_TESTS: usize = 256;
/// Bins expected to hold fewer samples than this are pooled.
const MIN_EXPECTED: f64 = 5.0;

static TESTS_RUN: AtomicUsize = AtomicUsize::new(0);

/// The per-test significance level that keeps the family-wise error at
/// [`FAMILY_ALPHA`] over [`MAX_TESTS`] tests. Counts the calls so the bound is
/// enforced whenever the whole suite runs in one process.
pub fn significance_level() -> f64 {
    let n = TESTS_RUN.fetch_add(1, Ordering::Relaxed) + 1;
    assert!(n <= MAX_TESTS, "more than {MAX_TESTS} χ² tests: raise MAX_TESTS");
    1.0 - (1.0 - FAMILY_ALPHA).powf(1.0 / MAX_TESTS as f64)
}

/// ln Γ(x) for x > 0: shifted up to x ≥ 16 by Γ(x+1) = xΓ(x), then Stirling's
/// series, accurate to about 1e-13.
pub fn ln_gamma(x: f64) -> f64 {
    let mut x = x;
    let mut shift = 0.0;
    while x < 16.0 {
        shift -= x.ln();
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    let series = inv * (1.0 / 12.0 - inv2 * (1.0 / 360.0 - inv2 * (1.0 / 1260.0 - inv2 / 1680.0)));
    shift + (x - 0.5) * x.ln() - x + 0.5 * (2.0 * PI).ln() + series
}

/// Regularised upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a).
/// For x < a + 1 the power series of P = 1 − Q converges fast; beyond, the
/// continued fraction of Q (evaluated with the modified Lentz method) does.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    // e^{−x} x^a / Γ(a), the common prefactor.
    let prefactor = (a * x.ln() - x - ln_gamma(a)).exp();
    if x < a + 1.0 {
        // P(a, x) = prefactor · Σ_n x^n / (a (a+1) … (a+n)).
        let mut term = 1.0 / a;
        let mut sum = term;
        let mut n = 1.0;
        while term > sum * 1e-16 {
            term *= x / (a + n);
            sum += term;
            n += 1.0;
        }
        (1.0 - prefactor * sum).max(0.0)
    } else {
        // Q(a, x) = prefactor · 1/(x+1−a− 1(1−a)/(x+3−a− 2(2−a)/(x+5−a− …))).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut f = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            d = if d.abs() < tiny { tiny } else { d };
            c = b + an / c;
            c = if c.abs() < tiny { tiny } else { c };
            d = 1.0 / d;
            let delta = d * c;
            f *= delta;
            if (delta - 1.0).abs() < 1e-15 {
                break;
            }
        }
        prefactor * f
    }
}

/// Probability that a χ² variable with `dof` degrees of freedom is at least
/// `statistic`.
pub fn chi2_p_value(statistic: f64, dof: usize) -> f64 {
    if dof == 0 {
        return 1.0;
    }
    gamma_q(0.5 * dof as f64, 0.5 * statistic)
}

/// Pearson's χ² statistic and its degrees of freedom. Bins whose expected count
/// is below [`MIN_EXPECTED`] are pooled, smallest first, until each pool
/// expects enough. A bin that expects nothing but observed something makes the
/// statistic infinite.
pub fn chi2_statistic(observed: &[f64], expected: &[f64]) -> (f64, usize) {
    let mut order: Vec<usize> = (0..expected.len()).collect();
    order.sort_by(|&a, &b| expected[a].total_cmp(&expected[b]));
    let (mut statistic, mut categories) = (0.0, 0usize);
    let (mut pool_obs, mut pool_exp) = (0.0, 0.0);
    for i in order {
        let (obs, exp) = (observed[i], expected[i].max(0.0));
        if exp == 0.0 {
            if obs > 0.0 {
                return (f64::INFINITY, categories.max(1));
            }
        } else if exp < MIN_EXPECTED || (pool_exp > 0.0 && pool_exp < MIN_EXPECTED) {
            pool_obs += obs;
            pool_exp += exp;
        } else {
            statistic += (obs - exp) * (obs - exp) / exp;
            categories += 1;
        }
    }
    if pool_exp > 0.0 {
        statistic += (pool_obs - pool_exp) * (pool_obs - pool_exp) / pool_exp;
        categories += 1;
    }
    (statistic, categories.saturating_sub(1))
}

/// The set of directions a test bins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// z ≥ 0, binned by θ ∈ [0, π/2] and φ.
    Hemisphere,
    /// All directions, θ ∈ [0, π].
    Sphere,
}

impl Domain {
    fn theta_max(self) -> f64 {
        match self {
            Domain::Hemisphere => 0.5 * PI,
            Domain::Sphere => PI,
        }
    }

    fn theta_bins(self) -> usize {
        match self {
            Domain::Hemisphere => 16,
            Domain::Sphere => 32,
        }
    }
}

const PHI_BINS: usize = 32;

fn direction(theta: f64, phi: f64) -> Vec3 {
    let (sin_t, cos_t) = theta.sin_cos();
    let (sin_p, cos_p) = phi.sin_cos();
    Vec3::new((sin_t * cos_p) as f32, (sin_t * sin_p) as f32, cos_t as f32)
}

/// Integral of `pdf` over every (θ, φ) bin of `domain`, row-major in θ.
pub fn bin_probabilities(pdf: &dyn Fn(Vec3) -> f32, domain: Domain) -> Vec<f64> {
    const TOL: f64 = 1e-7;
    let (n_theta, n_phi) = (domain.theta_bins(), PHI_BINS);
    let d_theta = domain.theta_max() / n_theta as f64;
    let d_phi = 2.0 * PI / n_phi as f64;
    let mut bins = Vec::with_capacity(n_theta * n_phi);
    for i in 0..n_theta {
        for j in 0..n_phi {
            let (t0, p0) = (i as f64 * d_theta, j as f64 * d_phi);
            let mut over_theta = |theta: f64| {
                let sin_theta = theta.sin();
                let mut over_phi = |phi: f64| pdf(direction(theta, phi)) as f64 * sin_theta;
                adaptive_simpson(&mut over_phi, p0, p0 + d_phi, TOL, 3)
            };
            bins.push(adaptive_simpson(&mut over_theta, t0, t0 + d_theta, TOL, 2));
        }
    }
    bins
}

/// Outcome of one χ² test.
#[derive(Clone, Copy, Debug)]
pub struct Chi2Outcome {
    pub statistic: f64,
    pub dof: usize,
    pub p_value: f64,
    /// ∫ pdf over the domain (numerical).
    pub pdf_integral: f64,
    /// Fraction of sample attempts that produced a direction.
    pub accepted: f64,
}

/// Histograms `samples` directions from `sample` (given three uniform numbers;
/// `None` for a rejected sample) and tests them against `pdf`. Rejections are a
/// category of their own, expected with probability 1 − ∫ pdf; directions
/// outside `domain` (or not finite) are a category expected to stay empty.
pub fn chi2_directions(
    sample: &mut dyn FnMut([f32; 3]) -> Option<Vec3>,
    pdf: &dyn Fn(Vec3) -> f32,
    domain: Domain,
    samples: usize,
) -> Chi2Outcome {
    let (n_theta, n_phi) = (domain.theta_bins(), PHI_BINS);
    let probabilities = bin_probabilities(pdf, domain);
    let pdf_integral: f64 = probabilities.iter().sum();

    // Bins, then "rejected", then "outside the domain".
    let mut observed = vec![0.0; n_theta * n_phi + 2];
    for i in 0..samples as u32 {
        // The integrator's own numbers: lobe choice u[0], direction (u[1], u[2]).
        let [a, b, c, _] = sample4(0x5eed, 0, 0, i, 0);
        let Some(w) = sample([a, b, c]) else {
            observed[n_theta * n_phi] += 1.0;
            continue;
        };
        let theta = (w.z.clamp(-1.0, 1.0) as f64).acos();
        let phi = (w.y as f64).atan2(w.x as f64).rem_euclid(2.0 * PI);
        if !w.is_finite() || theta > domain.theta_max() {
            observed[n_theta * n_phi + 1] += 1.0;
            continue;
        }
        // θ = θmax (the horizon, or the south pole) belongs to the last row.
        let row = ((theta / domain.theta_max() * n_theta as f64) as usize).min(n_theta - 1);
        let col = ((phi / (2.0 * PI) * n_phi as f64) as usize).min(n_phi - 1);
        observed[row * n_phi + col] += 1.0;
    }
    let n = samples as f64;
    let mut expected: Vec<f64> = probabilities.iter().map(|p| p * n).collect();
    expected.push((1.0 - pdf_integral).max(0.0) * n);
    expected.push(0.0);

    let (statistic, dof) = chi2_statistic(&observed, &expected);
    Chi2Outcome {
        statistic,
        dof,
        p_value: chi2_p_value(statistic, dof),
        pdf_integral,
        accepted: 1.0 - observed[n_theta * n_phi] / n,
    }
}

/// Panics with the details unless `outcome` passes at the Šidák-corrected level.
pub fn assert_fits(name: &str, outcome: Chi2Outcome) {
    let level = significance_level();
    // Shown with `--nocapture`, or when the test fails.
    eprintln!("{name}: {outcome:?}");
    assert!(
        outcome.p_value >= level,
        "{name}: sampler and pdf disagree: χ² = {:.1} with {} dof, p = {:.3e} < {level:.3e} \
         (∫pdf = {:.5}, accepted {:.5})",
        outcome.statistic,
        outcome.dof,
        outcome.p_value,
        outcome.pdf_integral,
        outcome.accepted
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_factorials_and_half_integers() {
        let mut factorial = 1.0f64;
        for n in 1..20 {
            // Γ(n) = (n-1)!
            assert!((ln_gamma(n as f64) - factorial.ln()).abs() < 1e-10, "Γ({n})");
            factorial *= n as f64;
        }
        assert!((ln_gamma(0.5) - PI.sqrt().ln()).abs() < 1e-10);
        assert!((ln_gamma(1.5) - (0.5 * PI.sqrt()).ln()).abs() < 1e-10);
    }

    #[test]
    fn gamma_q_matches_closed_forms() {
        for x in [0.01f64, 0.5, 1.0, 2.0, 5.0, 20.0, 80.0] {
            // Q(1, x) = e^{−x}; Q(2, x) = (1 + x) e^{−x}.
            let q1 = (-x).exp();
            assert!((gamma_q(1.0, x) - q1).abs() <= 1e-12 + 1e-10 * q1, "Q(1, {x})");
            let q2 = (1.0 + x) * (-x).exp();
            assert!((gamma_q(2.0, x) - q2).abs() <= 1e-12 + 1e-10 * q2, "Q(2, {x})");
        }
        // Q(1/2, x) = erfc(√x); erfc(1) = 0.157299207050285.
        let q = gamma_q(0.5, 1.0);
        assert!((q - 0.157_299_207_050_285).abs() < 1e-12, "{q}");
        // χ² with 10 dof: P(X ≥ 18.307) = 0.05 (the tabulated critical value).
        assert!((chi2_p_value(18.307, 10) - 0.05).abs() < 1e-4);
        // With many dof the statistic's mean is near the median.
        let p = chi2_p_value(500.0, 500);
        assert!(p > 0.45 && p < 0.5, "{p}");
    }

    #[test]
    fn pooling_merges_small_bins_and_flags_impossible_samples() {
        let (stat, dof) = chi2_statistic(&[10.0, 10.0, 1.0, 2.0, 3.0], &[10.0, 10.0, 2.0, 2.0, 2.0]);
        // The three small bins pool into one category: (6 − 6)² / 6 = 0.
        assert_eq!((stat, dof), (0.0, 2));
        let (stat, _) = chi2_statistic(&[5.0, 1.0], &[6.0, 0.0]);
        assert!(stat.is_infinite());
    }

    #[test]
    fn adaptive_simpson_finds_narrow_peaks() {
        // A Lorentzian of width 1e-3 whose integral over the real line is 1.
        let w = 1e-3;
        let mut f = |x: f64| w / (PI * (x * x + w * w));
        let got = adaptive_simpson(&mut f, -0.3, 0.5, 1e-9, 4);
        let want = ((0.5 / w).atan() + (0.3 / w).atan()) / PI;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
}
