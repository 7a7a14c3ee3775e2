//! Piecewise-constant distributions stored as plain CDF arrays (the flat layout):
//! a 1D CDF picks lights by power, a 2D one (marginal over rows, conditional per
//! row) importance-samples environment maps. Sampling is a binary search, spelled
//! the same way in WGSL and CUDA.

use std::f32::consts::PI;

use glam::Vec2;

/// Inclusive CDF of non-negative `weights`: `cdf[i] = sum(w[..=i]) / sum(w)`, with
/// the last entry exactly 1. Returns the CDF and the sum of weights; `None` when
/// the weights sum to zero (or are not finite).
pub fn build_cdf(weights: &[f32]) -> Option<(Vec<f32>, f64)> {
    let total: f64 = weights.iter().map(|&w| w.max(0.0) as f64).sum();
    if !(total > 0.0 && total.is_finite()) {
        return None;
    }
    let mut acc = 0.0f64;
    let mut cdf: Vec<f32> = weights
        .iter()
        .map(|&w| {
            acc += w.max(0.0) as f64;
            (acc / total) as f32
        })
        .collect();
    *cdf.last_mut().unwrap() = 1.0;
    Some((cdf, total))
}

/// Index of the first CDF entry greater than `u` (clamped to the last entry), in
/// an inclusive CDF as built by [`build_cdf`].
#[inline]
pub fn sample_cdf(cdf: &[f32], u: f32) -> usize {
    let (mut lo, mut hi) = (0usize, cdf.len() - 1);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if cdf[mid] > u {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// Probability of entry `i` in an inclusive CDF.
#[inline]
pub fn cdf_pmf(cdf: &[f32], i: usize) -> f32 {
    if i == 0 {
        cdf[0]
    } else {
        cdf[i] - cdf[i - 1]
    }
}

/// Builds the environment map distribution from per-texel luminance (`width *
/// height`, row 0 at the top), weighted by sin θ of each row's centre. Returns
/// `(marginal, conditional)`: `height` and `height * width` inclusive CDF entries.
/// Rows or maps that are entirely black fall back to uniform so every direction
/// keeps a non-zero pdf.
pub fn build_env_distribution(luminance: &[f32], width: usize, height: usize) -> (Vec<f32>, Vec<f32>) {
    assert_eq!(luminance.len(), width * height);
    let mut conditional = Vec::with_capacity(width * height);
    let mut row_weights = Vec::with_capacity(height);
    for row in luminance.chunks_exact(width) {
        let (cdf, total) = build_cdf(row).unwrap_or_else(|| (build_cdf(&vec![1.0; width]).unwrap().0, 0.0));
        conditional.extend_from_slice(&cdf);
        let sin_theta = (PI * (row_weights.len() as f32 + 0.5) / height as f32).sin();
        row_weights.push(total as f32 / width as f32 * sin_theta);
    }
    let marginal = build_cdf(&row_weights).map(|(c, _)| c).unwrap_or_else(|| build_cdf(&vec![1.0; height]).unwrap().0);
    (marginal, conditional)
}

/// Samples a continuous UV in [0,1)² from the environment distribution; returns
/// the UV and its density with respect to UV area.
pub fn sample_env_distribution(
    marginal: &[f32],
    conditional: &[f32],
    width: usize,
    height: usize,
    u: Vec2,
) -> (Vec2, f32) {
    let row = sample_cdf(marginal, u.y);
    let row_cdf = &conditional[row * width..(row + 1) * width];
    let col = sample_cdf(row_cdf, u.x);
    let (row_pmf, col_pmf) = (cdf_pmf(marginal, row), cdf_pmf(row_cdf, col));
    // Reuse the position of u inside the chosen cell as the continuous offset.
    let row_lo = if row == 0 { 0.0 } else { marginal[row - 1] };
    let col_lo = if col == 0 { 0.0 } else { row_cdf[col - 1] };
    let dv = ((u.y - row_lo) / row_pmf).clamp(0.0, 0.999_999);
    let du = ((u.x - col_lo) / col_pmf).clamp(0.0, 0.999_999);
    let uv = Vec2::new((col as f32 + du) / width as f32, (row as f32 + dv) / height as f32);
    (uv, row_pmf * col_pmf * (width * height) as f32)
}

/// Density with respect to UV area of [`sample_env_distribution`] at `uv`.
pub fn env_distribution_pdf(marginal: &[f32], conditional: &[f32], width: usize, height: usize, uv: Vec2) -> f32 {
    let col = ((uv.x * width as f32) as usize).min(width - 1);
    let row = ((uv.y * height as f32) as usize).min(height - 1);
    let row_cdf = &conditional[row * width..(row + 1) * width];
    cdf_pmf(marginal, row) * cdf_pmf(row_cdf, col) * (width * height) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_sampling_matches_weights() {
        let (cdf, total) = build_cdf(&[1.0, 0.0, 3.0]).unwrap();
        assert_eq!(total, 4.0);
        assert_eq!(cdf, vec![0.25, 0.25, 1.0]);
        assert_eq!(sample_cdf(&cdf, 0.0), 0);
        assert_eq!(sample_cdf(&cdf, 0.2499), 0);
        // The zero-weight entry is never chosen.
        assert_eq!(sample_cdf(&cdf, 0.25), 2);
        assert_eq!(sample_cdf(&cdf, 0.999_999), 2);
        assert_eq!(cdf_pmf(&cdf, 2), 0.75);
        assert!(build_cdf(&[0.0, 0.0]).is_none());
    }

    #[test]
    fn env_pdf_agrees_with_sampling_and_integrates_to_one() {
        let (w, h) = (8, 4);
        let lum: Vec<f32> = (0..w * h).map(|i| 0.1 + (i % 5) as f32).collect();
        let (marginal, conditional) = build_env_distribution(&lum, w, h);
        let mut integral = 0.0;
        for row in 0..h {
            for col in 0..w {
                let uv = Vec2::new((col as f32 + 0.5) / w as f32, (row as f32 + 0.5) / h as f32);
                integral += env_distribution_pdf(&marginal, &conditional, w, h, uv) / (w * h) as f32;
            }
        }
        assert!((integral - 1.0).abs() < 1e-5, "{integral}");
        for i in 0..100 {
            let u = Vec2::new((i as f32 * 0.618_034).fract(), (i as f32 * 0.754_877).fract());
            let (uv, pdf) = sample_env_distribution(&marginal, &conditional, w, h, u);
            let expected = env_distribution_pdf(&marginal, &conditional, w, h, uv);
            assert!((pdf - expected).abs() <= 1e-4 * expected, "{pdf} vs {expected} at {uv}");
        }
    }
}
