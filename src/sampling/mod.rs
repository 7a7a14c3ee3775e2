//! The reference spelling of Tessera's sampling math: RNG, warps, microfacet
//! distribution, the glTF BSDF, piecewise-constant distributions and light
//! sampling. `shaders/` and `kernels/` spell the same functions with the same names.

pub mod bsdf;
#[cfg(test)]
mod chi2;
pub mod distribution;
pub mod ggx_albedo;
pub mod light;
pub mod microfacet;
pub mod quadrature;
pub mod rng;
pub mod sheen;
pub mod thin_film;
pub mod warp;
