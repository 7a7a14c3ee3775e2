//! The path tracer's WGSL, assembled from `shaders/*.wgsl`: one file per
//! reference module (the same function names as in `src/`), preceded by the
//! constants they share with Rust, generated from the Rust definitions so that
//! each value has one source.

use std::fmt::Write;

use super::scene;
use crate::accel::STACK_SIZE;
use crate::render::integrator::{MAX_TRANSPARENT_HITS, RR_START_BOUNCE};
use crate::sampling::bsdf::{COAT_IOR, MAX_IOR, MIN_REFRACTING_IOR};
use crate::sampling::microfacet::MIN_ALPHA;
use crate::sampling::rng::{GROUPS_PER_BOUNCE, GROUP_CAMERA, GROUP_TIME};
use crate::sampling::{ggx_albedo, sheen};
use crate::scene::flat;

/// Compute entry point that traces a batch of samples for a band of a tile.
pub const RENDER_ENTRY: &str = "render_band";
/// Compute entry point that sums a band's lanes into lane 0.
pub const REDUCE_ENTRY: &str = "reduce_lanes";

/// The WGSL files in the order they are concatenated (WGSL does not care about
/// the order of module-scope declarations; this one reads bottom-up).
pub const MODULES: [(&str, &str); 17] = [
    ("layout.wgsl", include_str!("../../../shaders/layout.wgsl")),
    ("bindings.wgsl", include_str!("../../../shaders/bindings.wgsl")),
    ("math.wgsl", include_str!("../../../shaders/math.wgsl")),
    ("rng.wgsl", include_str!("../../../shaders/rng.wgsl")),
    ("warp.wgsl", include_str!("../../../shaders/warp.wgsl")),
    ("microfacet.wgsl", include_str!("../../../shaders/microfacet.wgsl")),
    ("ggx_albedo.wgsl", include_str!("../../../shaders/ggx_albedo.wgsl")),
    ("sheen.wgsl", include_str!("../../../shaders/sheen.wgsl")),
    ("thin_film.wgsl", include_str!("../../../shaders/thin_film.wgsl")),
    ("bsdf.wgsl", include_str!("../../../shaders/bsdf.wgsl")),
    ("distribution.wgsl", include_str!("../../../shaders/distribution.wgsl")),
    ("texture.wgsl", include_str!("../../../shaders/texture.wgsl")),
    ("motion.wgsl", include_str!("../../../shaders/motion.wgsl")),
    ("light.wgsl", include_str!("../../../shaders/light.wgsl")),
    ("traverse.wgsl", include_str!("../../../shaders/traverse.wgsl")),
    ("surface.wgsl", include_str!("../../../shaders/surface.wgsl")),
    ("integrator.wgsl", include_str!("../../../shaders/integrator.wgsl")),
];

/// The render kernel (entry point and dispatch parameters).
const KERNEL: (&str, &str) = ("kernel.wgsl", include_str!("../../../shaders/kernel.wgsl"));

/// `1 + 2γ₃`, the conservative slab-exit scale of `accel::traverse` (spelled as there).
const EXIT_SCALE: f32 = 1.0 + 2.0 * (3.0 * f32::EPSILON * 0.5) / (1.0 - 3.0 * f32::EPSILON * 0.5);

/// The whole shader: constants, every module and the render kernel.
pub fn source() -> String {
    let mut out = constants();
    for (name, text) in MODULES.iter().chain(std::iter::once(&KERNEL)) {
        let _ = write!(out, "\n// ---- shaders/{name} ----\n{text}");
    }
    out
}

/// `const` declarations for the values the WGSL shares with the Rust reference.
pub fn constants() -> String {
    let mut out = String::from("// ---- constants generated from the Rust definitions ----\n");
    let u32s: [(&str, u32); 38] = [
        ("NONE", flat::NONE),
        ("TRI_ALPHA_TESTED", flat::TRI_ALPHA_TESTED),
        ("MAT_ALPHA_MASK", flat::MAT_ALPHA_MASK),
        ("MAT_ALPHA_BLEND", flat::MAT_ALPHA_BLEND),
        ("MAT_DOUBLE_SIDED", flat::MAT_DOUBLE_SIDED),
        ("MAT_THIN_WALLED", flat::MAT_THIN_WALLED),
        ("MAT_UNLIT", flat::MAT_UNLIT),
        ("TEX_SRGB", flat::TEX_SRGB),
        ("TEX_NEAREST", flat::TEX_NEAREST),
        ("WRAP_REPEAT", flat::WRAP_REPEAT),
        ("WRAP_CLAMP", flat::WRAP_CLAMP),
        ("WRAP_MIRROR", flat::WRAP_MIRROR),
        ("WRAP_S_SHIFT", flat::WRAP_S_SHIFT),
        ("WRAP_T_SHIFT", flat::WRAP_T_SHIFT),
        ("LIGHT_POINT", flat::LIGHT_POINT),
        ("LIGHT_SPOT", flat::LIGHT_SPOT),
        ("LIGHT_DIRECTIONAL", flat::LIGHT_DIRECTIONAL),
        ("LIGHT_TRIANGLE", flat::LIGHT_TRIANGLE),
        ("LIGHT_ENVIRONMENT", flat::LIGHT_ENVIRONMENT),
        ("CAMERA_PERSPECTIVE", flat::CAMERA_PERSPECTIVE),
        ("CAMERA_ORTHOGRAPHIC", flat::CAMERA_ORTHOGRAPHIC),
        ("ENV_MAP", flat::ENV_MAP),
        ("STACK_SIZE", STACK_SIZE as u32),
        ("GROUP_CAMERA", GROUP_CAMERA),
        ("GROUP_TIME", GROUP_TIME),
        ("GROUPS_PER_BOUNCE", GROUPS_PER_BOUNCE),
        ("RR_START_BOUNCE", RR_START_BOUNCE),
        ("MAX_TRANSPARENT_HITS", MAX_TRANSPARENT_HITS),
        ("WORKGROUP_SIZE", super::kernel::WORKGROUP_SIZE),
        ("ROUGHNESS_STEPS", ggx_albedo::ROUGHNESS_STEPS as u32),
        ("COS_STEPS", ggx_albedo::COS_STEPS as u32),
        ("AVERAGES", ggx_albedo::AVERAGES as u32),
        ("SRGB_TABLE", scene::SRGB_TABLE as u32),
        ("GGX_ALBEDO_TABLE", scene::GGX_ALBEDO_TABLE as u32),
        ("SHEEN_ROUGHNESS_STEPS", sheen::ROUGHNESS_STEPS as u32),
        ("SHEEN_COS_STEPS", sheen::COS_STEPS as u32),
        ("SHEEN_ALBEDO_TABLE", scene::SHEEN_ALBEDO_TABLE as u32),
        ("TABLES_VEC4S", scene::TABLES_LEN as u32 / 4),
    ];
    for (name, value) in u32s {
        let _ = writeln!(out, "const {name}: u32 = {value}u;");
    }
    let f32s = [
        ("MIN_ALPHA", MIN_ALPHA),
        ("MIN_REFRACTING_IOR", MIN_REFRACTING_IOR),
        ("MAX_IOR", MAX_IOR),
        ("COAT_IOR", COAT_IOR),
        ("MIN_SHEEN_ROUGHNESS", sheen::MIN_SHEEN_ROUGHNESS),
        ("EXIT_SCALE", EXIT_SCALE),
    ];
    for (name, value) in f32s {
        let _ = writeln!(out, "const {name}: f32 = {};", wgsl_f32(value));
    }
    out
}

/// A WGSL `f32` literal that converts back to exactly `value` (Rust's shortest
/// round-trip formatting, with an `f` suffix so that no abstract-float rounding
/// intervenes). `value` must be finite.
fn wgsl_f32(value: f32) -> String {
    let text = format!("{value:?}");
    if text.contains(['.', 'e']) {
        format!("{text}f")
    } else {
        format!("{text}.0f")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_literals_round_trip() {
        for value in [MIN_ALPHA, MIN_REFRACTING_IOR, MAX_IOR, EXIT_SCALE, 1.0, 1e-30, 3.5e20] {
            let literal = wgsl_f32(value);
            assert!(literal.ends_with('f'));
            let parsed: f32 = literal.trim_end_matches('f').parse().unwrap();
            assert_eq!(parsed.to_bits(), value.to_bits(), "{literal}");
        }
    }

    #[test]
    fn every_module_is_in_the_source() {
        let source = source();
        for (name, text) in MODULES {
            assert!(source.contains(text), "{name} missing");
        }
        for entry in [RENDER_ENTRY, REDUCE_ENTRY] {
            assert!(source.contains(&format!("fn {entry}(")), "{entry} missing");
        }
    }
}
