//! The WGSL mirrors of the flat scene (`shaders/layout.wgsl`) and of the
//! dispatch parameters have exactly the Rust layouts: naga reflects every
//! struct of the assembled shader, and each size and member offset (and name,
//! in order) must equal `size_of` / `offset_of!` of the Rust struct. Also
//! checks that the whole shader parses and validates, with no GPU needed.
#![cfg(feature = "wgpu")]

use std::mem::{offset_of, size_of};

use tessera::backend::wgpu::kernel::DispatchParams;
use tessera::backend::wgpu::shader;
use tessera::render::task::PixelSums;
use tessera::scene::flat::*;
use wgpu::naga;

/// A Rust struct's name, size and (field, offset) list.
struct RustLayout {
    name: &'static str,
    size: usize,
    fields: Vec<(&'static str, usize)>,
}

macro_rules! layout {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        RustLayout {
            name: stringify!($ty),
            size: size_of::<$ty>(),
            fields: vec![$((stringify!($field), offset_of!($ty, $field))),*],
        }
    };
}

fn rust_layouts() -> Vec<RustLayout> {
    vec![
        layout!(BvhNode { bmin, index, bmax, count }),
        layout!(Triangle { v0, material, e1, light, e2, flags }),
        layout!(TriangleVertices { v, _pad }),
        layout!(Vertex { normal, _pad, tangent, uv0, uv1 }),
        layout!(TextureSlot { texture, texcoord, _pad, row_u, row_v }),
        layout!(Material {
            base_color,
            emission,
            metallic,
            roughness,
            ior,
            transmission,
            alpha_cutoff,
            normal_scale,
            flags,
            _pad,
            attenuation,
            specular,
            clearcoat,
            clearcoat_roughness,
            clearcoat_normal_scale,
            _pad2,
            sheen_color,
            sheen_roughness,
            anisotropy_rotation,
            anisotropy_strength,
            _pad3,
            specular_color,
            _pad4,
            iridescence,
            iridescence_ior,
            iridescence_thickness_min,
            iridescence_thickness_max,
            base_color_tex,
            metallic_roughness_tex,
            normal_tex,
            emissive_tex,
            transmission_tex,
            specular_tex,
            clearcoat_tex,
            clearcoat_roughness_tex,
            clearcoat_normal_tex,
            sheen_color_tex,
            sheen_roughness_tex,
            anisotropy_tex,
            specular_color_tex,
            iridescence_tex,
            iridescence_thickness_tex,
        }),
        layout!(Texture { offset, width, height, flags }),
        layout!(Light { position, kind, direction, index, intensity, pick_pdf, cos_outer, cos_inner, range, _pad }),
        layout!(Camera { origin, kind, right, width, up, height, forward, _pad }),
        layout!(SceneHeader {
            camera,
            bounds_min,
            num_lights,
            bounds_max,
            env_light,
            env_color,
            env_flags,
            env_width,
            env_height,
            num_triangles,
            num_nodes,
        }),
        layout!(MotionHeader {
            keys,
            camera_keys,
            static_triangles,
            moving_triangles,
            static_vertices,
            moving_vertices,
            moving_nodes,
            _pad,
        }),
        layout!(PixelSums { radiance, count, radiance_sq, depth, albedo, alpha, normal, _pad }),
        layout!(DispatchParams {
            x,
            y,
            width,
            rows,
            sample_start,
            sample_end,
            lanes,
            seed,
            max_depth,
            _pad0,
            _pad1,
            _pad2
        }),
    ]
}

fn parse() -> naga::Module {
    let source = shader::source();
    naga::front::wgsl::parse_str(&source).unwrap_or_else(|e| panic!("{}", e.emit_to_string(&source)))
}

/// How `rust` and the WGSL struct of the same name differ (empty when they agree).
fn mismatches(module: &naga::Module, rust: &RustLayout) -> Vec<String> {
    let found = module.types.iter().find_map(|(_, ty)| match &ty.inner {
        naga::TypeInner::Struct { members, span } if ty.name.as_deref() == Some(rust.name) => Some((members, *span)),
        _ => None,
    });
    let Some((members, span)) = found else {
        return vec![format!("struct {} is not in the WGSL", rust.name)];
    };
    let mut problems = Vec::new();
    if span as usize != rust.size {
        problems.push(format!("{}: WGSL size {span}, Rust size {}", rust.name, rust.size));
    }
    let wgsl: Vec<(&str, usize)> =
        members.iter().map(|m| (m.name.as_deref().unwrap_or("?"), m.offset as usize)).collect();
    for i in 0..wgsl.len().max(rust.fields.len()) {
        let (w, r) = (wgsl.get(i), rust.fields.get(i));
        if w != r {
            problems.push(format!("{} member {i}: WGSL (name, offset) {w:?}, Rust {r:?}", rust.name));
        }
    }
    problems
}

#[test]
fn wgsl_structs_match_the_rust_layout() {
    let module = parse();
    let problems: Vec<String> = rust_layouts().iter().flat_map(|rust| mismatches(&module, rust)).collect();
    assert!(problems.is_empty(), "WGSL layouts differ from Rust:\n{}", problems.join("\n"));
}

#[test]
fn layout_check_notices_a_moved_member() {
    // A vec3 pad is 16-aligned: every later member of Material moves by 16 bytes.
    let source = shader::source().replace(
        "    flags: u32,\n    _pad: vec2<u32>,\n    attenuation",
        "    flags: u32,\n    _pad: vec3<u32>,\n    attenuation",
    );
    let module = naga::front::wgsl::parse_str(&source).expect("still valid WGSL");
    let material = rust_layouts().into_iter().find(|l| l.name == "Material").unwrap();
    let problems = mismatches(&module, &material);
    assert!(problems.iter().any(|p| p.contains("base_color_tex")), "{problems:?}");
    assert!(problems.iter().any(|p| p.contains("size")), "{problems:?}");
}

#[test]
fn shader_validates() {
    let module = parse();
    let info = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::default())
        .validate(&module);
    if let Err(e) = info {
        panic!("{}", e.emit_to_string(&shader::source()));
    }
    for entry in [shader::RENDER_ENTRY, shader::REDUCE_ENTRY] {
        assert!(module.entry_points.iter().any(|e| e.name == entry), "entry point {entry} missing");
    }
}
