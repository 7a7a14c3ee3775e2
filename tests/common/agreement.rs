//! Statistical agreement of two renders of the same scene (as Mitsuba 3's render
//! tests do): a per-pixel, per-channel z-test of the difference of the two means
//! against their standard errors, with a Šidák-corrected significance level, and
//! a bound on the fraction of rejected pixels (path-traced radiance is heavy-tailed,
//! so a few pixels may be rejected even when both renderers are right).

use tessera::render::film::FrameImage;

/// What a comparison found.
#[derive(Clone, Debug)]
pub struct Agreement {
    pub pixels: usize,
    /// Pixels where some channel's z exceeds `z_threshold`.
    pub rejected: usize,
    pub z_threshold: f64,
    /// The largest |z| seen and the pixel (x, y) where it was.
    pub worst_z: f64,
    pub worst_pixel: (u32, u32),
    /// Mean of the reference and test images (all channels), for messages.
    pub reference_mean: f64,
    pub test_mean: f64,
}

impl Agreement {
    pub fn rejected_fraction(&self) -> f64 {
        self.rejected as f64 / self.pixels.max(1) as f64
    }
}

/// Complementary error function (Numerical Recipes' `erfcc`): relative error below
/// 1.2e-7 everywhere, so it is accurate in the far tails the threshold needs.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// The |z| above which a two-sided test at level `p` rejects: solves erfc(z/√2) = p.
pub fn two_sided_threshold(p: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if erfc(mid / std::f64::consts::SQRT_2) > p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Compares `test` against `reference` (both with per-pixel variance and sample
/// counts, as [`FrameImage`] from a film has them) at family-wise level `alpha`.
pub fn compare(reference: &FrameImage, test: &FrameImage, alpha: f64) -> Agreement {
    assert_eq!((reference.width, reference.height), (test.width, test.height), "image sizes differ");
    let pixels = reference.pixel_count();
    let tests = (pixels * 3) as f64;
    // Šidák: per-test level so that the chance of any false rejection is alpha.
    let per_test = 1.0 - (1.0 - alpha).powf(1.0 / tests);
    let z_threshold = two_sided_threshold(per_test);
    let mut result = Agreement {
        pixels,
        rejected: 0,
        z_threshold,
        worst_z: 0.0,
        worst_pixel: (0, 0),
        reference_mean: 0.0,
        test_mean: 0.0,
    };
    for i in 0..pixels {
        let (nr, nt) = (reference.samples[i] as f64, test.samples[i] as f64);
        assert!(nr > 0.0 && nt > 0.0, "pixel {i} has no samples");
        let mut reject = false;
        for c in 0..3 {
            let (mr, mt) = (reference.color[i][c] as f64, test.color[i][c] as f64);
            result.reference_mean += mr;
            result.test_mean += mt;
            let se2 = reference.variance[i][c] as f64 / nr + test.variance[i][c] as f64 / nt;
            let diff = (mr - mt).abs();
            let z = if se2 > 0.0 {
                diff / se2.sqrt()
            } else if diff <= 1e-4 * mr.abs().max(1.0) {
                0.0
            } else {
                f64::INFINITY // both noiseless yet different
            };
            if z > z_threshold {
                reject = true;
            }
            if z > result.worst_z {
                result.worst_z = z;
                result.worst_pixel = (i as u32 % reference.width, i as u32 / reference.width);
            }
        }
        result.rejected += reject as usize;
    }
    result.reference_mean /= tests;
    result.test_mean /= tests;
    result
}

/// Panics, with the figures, unless at most `max_rejected_fraction` of the pixels
/// reject the hypothesis that both images have the same expected value.
pub fn assert_agrees(what: &str, reference: &FrameImage, test: &FrameImage, max_rejected_fraction: f64) -> Agreement {
    let a = compare(reference, test, 0.01);
    eprintln!(
        "{what}: {}/{} pixels rejected (|z| > {:.2}), worst |z| {:.2} at {:?}; means {:.5} vs {:.5}",
        a.rejected, a.pixels, a.z_threshold, a.worst_z, a.worst_pixel, a.reference_mean, a.test_mean
    );
    assert!(
        a.rejected_fraction() <= max_rejected_fraction,
        "{what}: {} of {} pixels disagree (more than {:.3}%); worst |z| {:.2} at {:?}; means {:.5} vs {:.5}",
        a.rejected,
        a.pixels,
        max_rejected_fraction * 100.0,
        a.worst_z,
        a.worst_pixel,
        a.reference_mean,
        a.test_mean
    );
    a
}
