//! Adaptive Simpson quadrature, for the integrals the sampling code needs
//! to tabulate (`ggx_albedo`) and the tests that check densities (`chi2`).

/// Adaptive Simpson integration of `f` over [a, b] to absolute tolerance `tol`,
/// subdividing at least `min_depth` times everywhere.
pub fn adaptive_simpson(f: &mut dyn FnMut(f64) -> f64, a: f64, b: f64, tol: f64, min_depth: u32) -> f64 {
    let m = 0.5 * (a + b);
    let (fa, fm, fb) = (f(a), f(m), f(b));
    let whole = (b - a) / 6.0 * (fa + 4.0 * fm + fb);
    simpson_step(f, [a, m, b], [fa, fm, fb], whole, tol, 0, min_depth)
}

fn simpson_step(
    f: &mut dyn FnMut(f64) -> f64,
    [a, m, b]: [f64; 3],
    [fa, fm, fb]: [f64; 3],
    whole: f64,
    tol: f64,
    depth: u32,
    min_depth: u32,
) -> f64 {
    const MAX_DEPTH: u32 = 20;
    let (lm, rm) = (0.5 * (a + m), 0.5 * (m + b));
    let (flm, frm) = (f(lm), f(rm));
    let left = (m - a) / 6.0 * (fa + 4.0 * flm + fm);
    let right = (b - m) / 6.0 * (fm + 4.0 * frm + fb);
    let refined = left + right;
    // Or a relative error of 1e-5: ample for tables and next to the counting
    // noise of 1e6 samples, and it keeps narrow peaks from costing millions of
    // evaluations.
    let error = (refined - whole).abs();
    let converged = error <= 15.0 * tol || error <= 1e-5 * refined.abs();
    if depth >= MAX_DEPTH || (depth >= min_depth && converged) {
        return refined;
    }
    simpson_step(f, [a, lm, m], [fa, flm, fm], left, 0.5 * tol, depth + 1, min_depth)
        + simpson_step(f, [m, rm, b], [fm, frm, fb], right, 0.5 * tol, depth + 1, min_depth)
}
