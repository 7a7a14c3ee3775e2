// Piecewise-constant distributions stored as inclusive CDF arrays
// (src/sampling/distribution.rs): light choice and environment importance sampling.
#pragma once

#include "common.cuh"

// Index of the first CDF entry greater than u (clamped to the last entry).
TS_HD unsigned sample_cdf(const float* cdf, unsigned len, float u) {
    unsigned lo = 0, hi = len - 1;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2u;
        if (ldg(cdf + mid) > u) {
            hi = mid;
        } else {
            lo = mid + 1u;
        }
    }
    return lo;
}

TS_HD float cdf_pmf(const float* cdf, unsigned i) { return i == 0u ? ldg(cdf) : ldg(cdf + i) - ldg(cdf + i - 1u); }

// Samples a UV in [0,1)² from the environment distribution; returns the UV and
// its density with respect to UV area.
TS_HD float2 sample_env_distribution(const float* marginal, const float* conditional, unsigned width, unsigned height,
                                     float2 u, float& pdf) {
    unsigned row = sample_cdf(marginal, height, u.y);
    const float* row_cdf = conditional + (size_t)row * width;
    unsigned col = sample_cdf(row_cdf, width, u.x);
    float row_pmf = cdf_pmf(marginal, row);
    float col_pmf = cdf_pmf(row_cdf, col);
    float row_lo = row == 0u ? 0.0f : ldg(marginal + row - 1u);
    float col_lo = col == 0u ? 0.0f : ldg(row_cdf + col - 1u);
    float dv = ts_clamp((u.y - row_lo) / row_pmf, 0.0f, 0.999999f);
    float du = ts_clamp((u.x - col_lo) / col_pmf, 0.0f, 0.999999f);
    pdf = row_pmf * col_pmf * (float)(width * height);
    return make_float2(((float)col + du) / (float)width, ((float)row + dv) / (float)height);
}

TS_HD float env_distribution_pdf(const float* marginal, const float* conditional, unsigned width, unsigned height,
                                 float2 uv) {
    unsigned col = sat_f2u(uv.x * (float)width);
    col = col < width - 1u ? col : width - 1u;
    unsigned row = sat_f2u(uv.y * (float)height);
    row = row < height - 1u ? row : height - 1u;
    const float* row_cdf = conditional + (size_t)row * width;
    return cdf_pmf(marginal, row) * cdf_pmf(row_cdf, col) * (float)(width * height);
}
