// Piecewise-constant distributions as inclusive CDFs, as
// src/sampling/distribution.rs. All CDFs live in `cdfs`: a CDF is addressed by
// its first entry and its length instead of a slice.

// Where each CDF of the scene starts in `cdfs`.
fn light_cdf_offset() -> u32 {
    return 0u;
}

fn env_marginal_offset() -> u32 {
    return header.num_lights;
}

fn env_conditional_offset() -> u32 {
    return header.num_lights + header.env_height;
}

// Index of the first entry greater than u (clamped to the last entry).
fn sample_cdf(offset: u32, len: u32, u: f32) -> u32 {
    var lo = 0u;
    var hi = len - 1u;
    while lo < hi {
        let mid = (lo + hi) / 2u;
        if cdfs[offset + mid] > u {
            hi = mid;
        } else {
            lo = mid + 1u;
        }
    }
    return lo;
}

fn cdf_pmf(offset: u32, i: u32) -> f32 {
    if i == 0u {
        return cdfs[offset];
    }
    return cdfs[offset + i] - cdfs[offset + i - 1u];
}

struct EnvDistributionSample {
    uv: vec2<f32>,
    // Density with respect to UV area.
    pdf: f32,
}

fn sample_env_distribution(u: vec2<f32>) -> EnvDistributionSample {
    let width = header.env_width;
    let height = header.env_height;
    let marginal = env_marginal_offset();
    let row = sample_cdf(marginal, height, u.y);
    let row_cdf = env_conditional_offset() + row * width;
    let col = sample_cdf(row_cdf, width, u.x);
    let row_pmf = cdf_pmf(marginal, row);
    let col_pmf = cdf_pmf(row_cdf, col);
    var row_lo = 0.0;
    if row != 0u {
        row_lo = cdfs[marginal + row - 1u];
    }
    var col_lo = 0.0;
    if col != 0u {
        col_lo = cdfs[row_cdf + col - 1u];
    }
    let dv = clamp((u.y - row_lo) / row_pmf, 0.0, 0.999999);
    let du = clamp((u.x - col_lo) / col_pmf, 0.0, 0.999999);
    let uv = vec2<f32>((f32(col) + du) / f32(width), (f32(row) + dv) / f32(height));
    return EnvDistributionSample(uv, row_pmf * col_pmf * f32(width * height));
}

fn env_distribution_pdf(uv: vec2<f32>) -> f32 {
    let width = header.env_width;
    let height = header.env_height;
    let col = min(u32(max(uv.x * f32(width), 0.0)), width - 1u);
    let row = min(u32(max(uv.y * f32(height), 0.0)), height - 1u);
    let row_cdf = env_conditional_offset() + row * width;
    return cdf_pmf(env_marginal_offset(), row) * cdf_pmf(row_cdf, col) * f32(width * height);
}
