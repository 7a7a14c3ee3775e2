//! The kernel sources (`kernels/`, embedded in the binary), resolved into one
//! translation unit for NVRTC, with the layout checks generated from the Rust
//! structs appended, and the options they are compiled with.

use std::fmt::Write;
use std::mem::{offset_of, size_of};

use super::params::{DeviceScene, WaveParams, SHADOW_LANES, STATE_LANES};
use crate::render::task::PixelSums;
use crate::scene::flat::*;

/// The kernel files, by the name `#include` uses.
pub const FILES: [(&str, &str); 19] = [
    ("common.cuh", include_str!("../../../kernels/common.cuh")),
    ("layout.cuh", include_str!("../../../kernels/layout.cuh")),
    ("rng.cuh", include_str!("../../../kernels/rng.cuh")),
    ("warp.cuh", include_str!("../../../kernels/warp.cuh")),
    ("microfacet.cuh", include_str!("../../../kernels/microfacet.cuh")),
    ("ggx_albedo.cuh", include_str!("../../../kernels/ggx_albedo.cuh")),
    ("sheen.cuh", include_str!("../../../kernels/sheen.cuh")),
    ("thin_film.cuh", include_str!("../../../kernels/thin_film.cuh")),
    ("bsdf.cuh", include_str!("../../../kernels/bsdf.cuh")),
    ("distribution.cuh", include_str!("../../../kernels/distribution.cuh")),
    ("texture.cuh", include_str!("../../../kernels/texture.cuh")),
    ("motion.cuh", include_str!("../../../kernels/motion.cuh")),
    ("light.cuh", include_str!("../../../kernels/light.cuh")),
    ("traverse.cuh", include_str!("../../../kernels/traverse.cuh")),
    ("surface.cuh", include_str!("../../../kernels/surface.cuh")),
    ("path.cuh", include_str!("../../../kernels/path.cuh")),
    ("wavefront.cuh", include_str!("../../../kernels/wavefront.cuh")),
    ("integrator.cu", include_str!("../../../kernels/integrator.cu")),
    ("host/shim.h", include_str!("../../../kernels/host/shim.h")),
];

/// The translation unit NVRTC compiles.
pub const MAIN: &str = "integrator.cu";

/// The kernels' entry points (`extern "C" __global__` in integrator.cu).
pub const KERNELS: [&str; 6] = ["ts_generate", "ts_extend", "ts_shade", "ts_shadow", "ts_megakernel", "ts_accumulate"];

/// Threads per block every kernel is launched with (`TS_BLOCK`, its `__launch_bounds__`).
pub const BLOCK_SIZE: u32 = 128;

/// integrator.cu with every `#include "…"` of a kernel file replaced by that file
/// (once, as `#pragma once` would), `#line` directives keeping NVRTC's messages
/// pointing at the original files, and the layout checks appended.
pub fn kernel_source() -> String {
    let mut out = String::new();
    let mut included = Vec::new();
    expand(MAIN, &mut out, &mut included);
    out.push_str("\n#line 1 \"layout_checks (generated from the Rust structs)\"\n");
    out.push_str(&layout_checks());
    out
}

/// The header holding the BSDF's albedo tables, generated from the Rust ones.
pub const ALBEDO_TABLES: &str = "albedo_tables.h";

/// The text of [`ALBEDO_TABLES`]: `TS_GGX_ALBEDO` and `TS_SHEEN_ALBEDO`, the
/// numbers of `sampling::ggx_albedo::TABLE` and `sampling::sheen::TABLE`
/// (`{:?}` prints each as the shortest decimal that reads back as the same f32).
pub fn albedo_tables() -> String {
    use crate::sampling::{ggx_albedo, sheen};
    let mut out =
        String::from("// Generated from src/sampling/ggx_albedo.table and sheen_albedo.table.\n#pragma once\n");
    for (name, table) in [("TS_GGX_ALBEDO", &ggx_albedo::TABLE[..]), ("TS_SHEEN_ALBEDO", &sheen::TABLE[..])] {
        let _ = writeln!(out, "static __device__ const float {name}[{}] = {{", table.len());
        for line in table.chunks(8) {
            let items: Vec<String> = line.iter().map(|v| format!("{v:?}f")).collect();
            let _ = writeln!(out, "    {},", items.join(", "));
        }
        out.push_str("};\n");
    }
    out
}

/// A kernel file's text by the name `#include` uses.
fn file(name: &str) -> Option<std::borrow::Cow<'static, str>> {
    if name == ALBEDO_TABLES {
        return Some(albedo_tables().into());
    }
    FILES.iter().find(|(n, _)| *n == name).map(|(_, text)| (*text).into())
}

fn expand(name: &str, out: &mut String, included: &mut Vec<String>) {
    let Some(text) = file(name) else {
        return;
    };
    included.push(name.to_string());
    let _ = writeln!(out, "#line 1 \"{name}\"");
    for (number, line) in text.lines().enumerate() {
        let target = line.trim().strip_prefix("#include \"").and_then(|rest| rest.strip_suffix('"'));
        match target {
            // Host-only includes stay as written: they sit in blocks NVRTC skips.
            Some(target) if file(target).is_some() && target != "host/shim.h" => {
                if !included.iter().any(|n| n == target) {
                    expand(target, out, included);
                }
                let _ = writeln!(out, "#line {} \"{name}\"", number + 2);
            }
            _ if line.trim() == "#pragma once" => out.push('\n'),
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
}

/// Writes the size and field-offset asserts of one mirrored struct. Naming every
/// field in an exhaustive pattern makes a field added on the Rust side a compile
/// error here until the mirror and this list follow.
macro_rules! struct_checks {
    ($out:expr, $rust:ident as $c:literal { $($field:ident),* $(,)? }) => {{
        #[allow(dead_code)]
        fn every_field_listed(v: $rust) {
            let $rust { $($field: _),* } = v;
        }
        let size = size_of::<$rust>();
        let _ = writeln!(
            $out,
            "static_assert(sizeof({c}) == {size}, \"{c}: size differs from Rust's {r} ({size} bytes)\");",
            c = $c,
            r = stringify!($rust),
        );
        $(
            let offset = offset_of!($rust, $field);
            let _ = writeln!(
                $out,
                "static_assert(TS_OFFSETOF({c}, {f}) == {offset}, \"{c}.{f}: offset differs from Rust's {r}.{f} ({offset})\");",
                c = $c,
                f = stringify!($field),
                r = stringify!($rust),
            );
        )*
    }};
}

/// `static_assert`s of every mirrored struct's size and field offsets and of
/// every shared constant, from the Rust definitions. Every compile of the kernels
/// includes them, so a mirror that drifts from Rust does not compile.
pub fn layout_checks() -> String {
    let mut o = String::new();
    struct_checks!(o, BvhNode as "BvhNode" { bmin, index, bmax, count });
    struct_checks!(o, Triangle as "Triangle" { v0, material, e1, light, e2, flags });
    struct_checks!(o, TriangleVertices as "TriangleVertices" { v, _pad });
    struct_checks!(o, Vertex as "Vertex" { normal, _pad, tangent, uv0, uv1 });
    struct_checks!(o, TextureSlot as "TextureSlot" { texture, texcoord, _pad, row_u, row_v });
    struct_checks!(o, Material as "Material" {
        base_color, emission, metallic, roughness, ior, transmission, alpha_cutoff, normal_scale, flags, _pad,
        attenuation, specular, clearcoat, clearcoat_roughness, clearcoat_normal_scale, _pad2, sheen_color,
        sheen_roughness, anisotropy_rotation, anisotropy_strength, _pad3, specular_color, _pad4,
        iridescence, iridescence_ior, iridescence_thickness_min, iridescence_thickness_max,
        base_color_tex, metallic_roughness_tex,
        normal_tex, emissive_tex, transmission_tex, specular_tex, clearcoat_tex, clearcoat_roughness_tex,
        clearcoat_normal_tex, sheen_color_tex, sheen_roughness_tex, anisotropy_tex, specular_color_tex, iridescence_tex, iridescence_thickness_tex,
    });
    struct_checks!(o, Texture as "Texture" { offset, width, height, flags });
    struct_checks!(o, Light as "Light" {
        position, kind, direction, index, intensity, pick_pdf, cos_outer, cos_inner, range, _pad,
    });
    struct_checks!(o, Camera as "Camera" { origin, kind, right, width, up, height, forward, _pad });
    struct_checks!(o, SceneHeader as "SceneHeader" {
        camera, bounds_min, num_lights, bounds_max, env_light, env_color, env_flags, env_width, env_height,
        num_triangles, num_nodes,
    });
    struct_checks!(o, MotionHeader as "MotionHeader" {
        keys, camera_keys, static_triangles, moving_triangles, static_vertices, moving_vertices, moving_nodes, _pad,
    });
    struct_checks!(o, PixelSums as "PixelSums" { radiance, count, radiance_sq, depth, albedo, alpha, normal, _pad });
    struct_checks!(o, DeviceScene as "SceneView" {
        header, nodes, triangles, triangle_vertices, vertices, materials, textures, texels, lights, light_cdf,
        env_texels, env_marginal_cdf, env_conditional_cdf, srgb_to_linear, lights_len, _pad, motion, motion_cameras,
        motion_nodes, motion_triangles, motion_vertices,
    });
    struct_checks!(o, WaveParams as "WaveParams" {
        state, hits, shadow, queue_in, queue_out, shadow_queue, counters, pixels, rays, capacity, seed, max_depth,
        tile_x, tile_y, tile_width, pixel_begin, pixel_count, sample_begin, sample_count, path_count, queue_len,
    });

    use crate::render::integrator::{MAX_TRANSPARENT_HITS, RR_START_BOUNCE};
    use crate::sampling::{bsdf, ggx_albedo, microfacet, rng, sheen};
    let unsigned = [
        ("NONE", NONE),
        ("TRI_ALPHA_TESTED", TRI_ALPHA_TESTED),
        ("MAT_ALPHA_MASK", MAT_ALPHA_MASK),
        ("MAT_ALPHA_BLEND", MAT_ALPHA_BLEND),
        ("MAT_DOUBLE_SIDED", MAT_DOUBLE_SIDED),
        ("MAT_THIN_WALLED", MAT_THIN_WALLED),
        ("MAT_UNLIT", MAT_UNLIT),
        ("TEX_SRGB", TEX_SRGB),
        ("TEX_NEAREST", TEX_NEAREST),
        ("WRAP_REPEAT", WRAP_REPEAT),
        ("WRAP_CLAMP", WRAP_CLAMP),
        ("WRAP_MIRROR", WRAP_MIRROR),
        ("WRAP_S_SHIFT", WRAP_S_SHIFT),
        ("WRAP_T_SHIFT", WRAP_T_SHIFT),
        ("LIGHT_POINT", LIGHT_POINT),
        ("LIGHT_SPOT", LIGHT_SPOT),
        ("LIGHT_DIRECTIONAL", LIGHT_DIRECTIONAL),
        ("LIGHT_TRIANGLE", LIGHT_TRIANGLE),
        ("LIGHT_ENVIRONMENT", LIGHT_ENVIRONMENT),
        ("CAMERA_PERSPECTIVE", CAMERA_PERSPECTIVE),
        ("CAMERA_ORTHOGRAPHIC", CAMERA_ORTHOGRAPHIC),
        ("ENV_MAP", ENV_MAP),
        ("GROUP_CAMERA", rng::GROUP_CAMERA),
        ("GROUP_TIME", rng::GROUP_TIME),
        ("GROUPS_PER_BOUNCE", rng::GROUPS_PER_BOUNCE),
        ("RR_START_BOUNCE", RR_START_BOUNCE),
        ("MAX_TRANSPARENT_HITS", MAX_TRANSPARENT_HITS),
        ("STACK_SIZE", crate::accel::STACK_SIZE as u32),
        ("STATE_LANES", STATE_LANES as u32),
        ("COUNTER_NEXT", super::params::COUNTER_NEXT as u32),
        ("SHADOW_LANES", SHADOW_LANES as u32),
        ("TS_BLOCK", BLOCK_SIZE),
        ("ROUGHNESS_STEPS", ggx_albedo::ROUGHNESS_STEPS as u32),
        ("COS_STEPS", ggx_albedo::COS_STEPS as u32),
        ("AVERAGES", ggx_albedo::AVERAGES as u32),
        ("SHEEN_ROUGHNESS_STEPS", sheen::ROUGHNESS_STEPS as u32),
        ("SHEEN_COS_STEPS", sheen::COS_STEPS as u32),
    ];
    for (name, value) in unsigned {
        let _ = writeln!(o, "static_assert({name} == {value}u, \"{name} differs from Rust ({value})\");");
    }
    let float = [
        ("MIN_ALPHA", microfacet::MIN_ALPHA),
        ("MIN_REFRACTING_IOR", bsdf::MIN_REFRACTING_IOR),
        ("MAX_IOR", bsdf::MAX_IOR),
        ("COAT_IOR", bsdf::COAT_IOR),
        ("MIN_SHEEN_ROUGHNESS", sheen::MIN_SHEEN_ROUGHNESS),
    ];
    for (name, value) in float {
        // `{:?}` prints the shortest decimal that reads back as the same f32.
        let _ = writeln!(o, "static_assert({name} == {value:?}f, \"{name} differs from Rust ({value:?})\");");
    }
    o
}

/// NVRTC options for a real GPU architecture such as 90 (sm_90): a CUBIN with
/// line information for profilers, and ptxas's register and spill report in the log.
pub fn compile_options(arch: u32, cubin: bool) -> Vec<String> {
    let target = if cubin { "sm" } else { "compute" };
    vec![
        format!("--gpu-architecture={target}_{arch}"),
        "--std=c++17".into(),
        "--generate-line-info".into(),
        "--ptxas-options=-v".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_inlines_every_kernel_header_once() {
        let src = kernel_source();
        for (name, _) in FILES.iter().filter(|(n, _)| n.ends_with(".cuh")) {
            assert_eq!(src.matches(&format!("#line 1 \"{name}\"")).count(), 1, "{name}");
        }
        assert!(!src.contains("#include \"rng.cuh\""));
        assert_eq!(src.matches("static __device__ const float TS_GGX_ALBEDO[").count(), 1);
        assert!(src.contains("#include \"host/shim.h\""), "the host-only include stays behind its #if");
        for kernel in KERNELS {
            assert!(src.contains(&format!("void __launch_bounds__(TS_BLOCK) {kernel}(")), "{kernel}");
        }
    }

    #[test]
    fn layout_checks_cover_every_field() {
        let checks = layout_checks();
        assert!(checks.contains("static_assert(sizeof(Material) == 880,"));
        assert!(checks.contains("static_assert(TS_OFFSETOF(Material, transmission_tex) == 352,"));
        assert!(checks.contains("static_assert(TS_OFFSETOF(SceneView, nodes) == 128,"));
        assert!(checks.contains("static_assert(NONE == 4294967295u,"));
        assert!(checks.contains("static_assert(MIN_ALPHA == 0.001f,"));
    }
}
