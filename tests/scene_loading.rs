//! Loading and preparing the shared glTF scenes, the Cornell box, and texture sampling.

mod common;
#[path = "data/gltf_builder.rs"]
mod gltf_builder;

use common::{shared_scene as scene_file, shared_scene_names};

use std::path::Path;

use glam::{Mat4, Vec2, Vec3, Vec4};
use gltf_builder::{Doc, QUAD, QUAD_INDICES};
use serde_json::{json, Value};
use tessera::scene::flat::{self, FlatScene, TextureSlot, NONE};
use tessera::scene::texture::sample_slot;
use tessera::scene::{
    cornell, generate_tangents, prepare, CameraSelect, Environment, EnvironmentSpec, LightKind, PrepareOptions,
    Projection, Scene,
};

fn options(width: u32, height: u32) -> PrepareOptions {
    PrepareOptions { width, height, camera: None, time: 0.0, animation: Default::default(), shutter: None }
}

fn load_and_prepare(name: &str) -> (Scene, FlatScene) {
    let scene = Scene::load(&scene_file(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let flat = prepare(&scene, None, &options(32, 24)).unwrap_or_else(|e| panic!("{name}: {e}"));
    (scene, flat)
}

fn finite(values: &[f32]) -> bool {
    values.iter().all(|v| v.is_finite())
}

/// Invariants every prepared scene must satisfy, whatever the BVH looks like.
fn check_flat(name: &str, s: &FlatScene) {
    let n = s.triangles.len();
    assert!(n > 0, "{name}: no triangles");
    assert_eq!(s.header.num_triangles as usize, n, "{name}");
    assert_eq!(s.triangle_vertices.len(), n, "{name}");
    assert_eq!(s.header.num_nodes as usize, s.nodes.len(), "{name}");
    for (i, (t, tv)) in s.triangles.iter().zip(&s.triangle_vertices).enumerate() {
        assert!(finite(&t.v0) && finite(&t.e1) && finite(&t.e2), "{name}: triangle {i} not finite");
        assert!((t.material as usize) < s.materials.len(), "{name}: triangle {i} material {}", t.material);
        assert!(tv.v.iter().all(|&v| (v as usize) < s.vertices.len()), "{name}: triangle {i} vertices {:?}", tv.v);
        let alpha_tested = s.materials[t.material as usize].flags & flat::MAT_ALPHA_MASK != 0;
        assert_eq!(t.flags & flat::TRI_ALPHA_TESTED != 0, alpha_tested, "{name}: triangle {i} flags");
        if t.light != NONE {
            let light = &s.lights[t.light as usize];
            assert_eq!((light.kind, light.index), (flat::LIGHT_TRIANGLE, i as u32), "{name}: triangle {i} light");
        }
    }
    for (i, v) in s.vertices.iter().enumerate() {
        assert!(finite(&v.normal) && finite(&v.tangent) && finite(&v.uv0) && finite(&v.uv1), "{name}: vertex {i}");
        assert!((Vec3::from(v.normal).length() - 1.0).abs() < 1e-3, "{name}: vertex {i} normal {:?}", v.normal);
    }
    for (i, m) in s.materials.iter().enumerate() {
        for (_, slot) in m.texture_slots() {
            assert!(slot.texture == NONE || (slot.texture as usize) < s.textures.len(), "{name}: material {i}");
            assert!(slot.texcoord <= 1, "{name}: material {i}");
        }
    }
    for (i, t) in s.textures.iter().enumerate() {
        assert!(t.width > 0 && t.height > 0, "{name}: texture {i}");
        assert!((t.offset + t.width * t.height) as usize <= s.texels.len(), "{name}: texture {i} out of texels");
    }
    // Lights: one pick probability each, summing to one, with a matching CDF.
    assert_eq!(s.header.num_lights as usize, s.lights.len(), "{name}");
    assert_eq!(s.light_cdf.len(), s.lights.len(), "{name}");
    if !s.lights.is_empty() {
        let total: f32 = s.lights.iter().map(|l| l.pick_pdf).sum();
        assert!((total - 1.0).abs() < 1e-4, "{name}: pick pdfs sum to {total}");
        assert_eq!(*s.light_cdf.last().unwrap(), 1.0, "{name}");
        assert!(s.light_cdf.windows(2).all(|w| w[0] <= w[1]), "{name}: CDF not monotone");
    }
    if s.header.env_light != NONE {
        assert_eq!(s.lights[s.header.env_light as usize].kind, flat::LIGHT_ENVIRONMENT, "{name}");
    }
    let c = &s.header.camera;
    assert!(finite(&c.origin) && finite(&c.right) && finite(&c.up) && finite(&c.forward), "{name}: camera");
    assert_eq!((c.width, c.height), (32, 24), "{name}");
    // The BVH's leaves cover every triangle exactly once and bound them.
    let mut covered = vec![0u32; n];
    let mut stack = vec![0usize];
    while let Some(i) = stack.pop() {
        let node = &s.nodes[i];
        if node.count == 0 {
            stack.extend([node.index as usize, node.index as usize + 1]);
            continue;
        }
        for t in node.index..node.index + node.count {
            covered[t as usize] += 1;
            let tri = &s.triangles[t as usize];
            let v0 = Vec3::from(tri.v0);
            for p in [v0, v0 + Vec3::from(tri.e1), v0 + Vec3::from(tri.e2)] {
                let slack = 1e-4 * (1.0 + p.abs().max_element());
                assert!(
                    p.cmpge(Vec3::from(node.bmin) - slack).all() && p.cmple(Vec3::from(node.bmax) + slack).all(),
                    "{name}: triangle {t} outside its leaf"
                );
            }
        }
    }
    assert!(covered.iter().all(|&c| c == 1), "{name}: BVH leaves do not cover each triangle once");
}

#[test]
fn every_shared_scene_loads_and_prepares() {
    let names = shared_scene_names();
    assert!(names.len() >= 17, "expected the shared scenes, found {names:?}");
    for name in &names {
        let (scene, flat) = load_and_prepare(name);
        check_flat(name, &flat);
        assert_eq!(flat.triangles.len(), scene.summary().triangles, "{name}");
        println!("{}", scene.summary());
    }
}

fn gltf_json(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(scene_file(name)).unwrap()).unwrap()
}

fn close(a: Vec3, b: Vec3, tolerance: f32) -> bool {
    (a - b).abs().max_element() <= tolerance
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn committed_cornell_box_matches_the_generator() {
    let committed = std::fs::read_to_string(manifest_dir().join(cornell::CORNELL_BOX_PATH)).unwrap();
    assert!(committed == cornell::cornell_box_gltf(), "run `cargo run --example cornell_box` and commit the result");
}

#[test]
fn cornell_box_geometry_lights_and_camera() {
    let scene = Scene::load(&manifest_dir().join(cornell::CORNELL_BOX_PATH)).unwrap();
    let summary = scene.summary();
    // 5 room quads, the light quad, 2 blocks of 5 quads: 16 quads.
    assert_eq!((summary.triangles, summary.meshes, summary.materials), (32, 8, 4));
    assert_eq!(summary.emissive_triangles, 2);
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);
    assert_eq!(summary.cameras.len(), 1);
    assert_eq!((summary.cameras[0].name.as_deref(), summary.cameras[0].kind), (Some("Cornell camera"), "perspective"));

    // Walls, floor, ceiling and light face into the room; the blocks' faces face out.
    let room_centre = Vec3::new(0.278, 0.2744, 0.2796);
    for mesh in &scene.meshes {
        let g = &mesh.primitives[0].geometry;
        let centre: Vec3 = g.positions.iter().sum::<Vec3>() / g.positions.len() as f32;
        for t in &g.triangles {
            let [a, b, c] = t.map(|i| g.positions[i as usize]);
            let normal = (b - a).cross(c - a);
            let name = mesh.name.as_deref().unwrap();
            let outward = (a + b + c) / 3.0 - if name.ends_with("block") { centre } else { room_centre };
            let facing = normal.dot(outward);
            assert!(if name.ends_with("block") { facing > 0.0 } else { facing < 0.0 }, "{name} faces the wrong way");
        }
    }

    let flat = prepare(&scene, None, &options(32, 24)).unwrap();
    check_flat("cornell box", &flat);
    assert_eq!(flat.lights.len(), 2);
    assert_eq!(flat.header.env_light, NONE, "a lit scene gets no default environment");
    assert_eq!(flat.header.env_color, [0.0; 3]);
    let mut area = 0.0;
    for light in &flat.lights {
        assert_eq!(light.kind, flat::LIGHT_TRIANGLE);
        assert!(close(Vec3::from(light.intensity), Vec3::new(17.0, 12.0, 4.0), 1e-4), "{:?}", light.intensity);
        let t = &flat.triangles[light.index as usize];
        area += 0.5 * Vec3::from(t.e1).cross(Vec3::from(t.e2)).length();
        assert!((light.pick_pdf - 0.5).abs() < 1e-6);
    }
    assert!((area - 0.130 * 0.105).abs() < 1e-6, "light area {area}");
    let camera = &flat.header.camera;
    assert_eq!(camera.kind, flat::CAMERA_PERSPECTIVE);
    assert!(close(Vec3::from(camera.origin), Vec3::new(0.278, 0.273, -0.8), 1e-6));
    assert!(close(Vec3::from(camera.forward), Vec3::Z, 1e-6));
    let tan_half = 12.5 / 35.0;
    assert!(close(Vec3::from(camera.up), Vec3::Y * tan_half, 1e-5), "{:?}", camera.up);
    // Right is -X: the red wall (x ≈ 0.55 m) is on the left of the image.
    assert!(close(Vec3::from(camera.right), -Vec3::X * tan_half * 32.0 / 24.0, 1e-5), "{:?}", camera.right);
}

#[test]
fn flight_helmet_has_textures_and_tangents() {
    let (scene, flat) = load_and_prepare("FlightHelmet");
    assert_eq!(scene.images.len(), 15);
    assert!(flat.textures.len() >= 15 && !flat.texels.is_empty());
    let mut checked = 0;
    for (t, tv) in flat.triangles.iter().zip(&flat.triangle_vertices) {
        let material = &flat.materials[t.material as usize];
        assert_ne!(material.base_color_tex.texture, NONE);
        if material.normal_tex.texture == NONE {
            continue;
        }
        for &v in &tv.v {
            let tangent = Vec4::from(flat.vertices[v as usize].tangent);
            assert!((tangent.truncate().length() - 1.0).abs() < 1e-3, "{tangent}");
            assert!(tangent.w.abs() == 1.0, "{tangent}");
            checked += 1;
        }
    }
    assert!(checked > 100_000, "{checked} normal-mapped corners");
    // Base colour is sRGB, the others are linear data.
    let helmet = &flat.materials[flat.triangles[0].material as usize];
    assert_ne!(flat.textures[helmet.base_color_tex.texture as usize].flags & flat::TEX_SRGB, 0);
    assert_eq!(flat.textures[helmet.normal_tex.texture as usize].flags & flat::TEX_SRGB, 0);
}

#[test]
fn generated_tangents_agree_with_supplied_ones() {
    // NormalTangentMirrorTest ships MikkTSpace tangents, with mirrored UVs.
    let scene = Scene::load(&scene_file("NormalTangentMirrorTest")).unwrap();
    let g = &scene.meshes[0].primitives[0].geometry;
    assert_eq!(g.tangents.len(), g.positions.len());
    let generated = generate_tangents(&g.positions, &g.normals, &g.uv0, &g.triangles);
    let agree_w = g.tangents.iter().zip(&generated).filter(|(a, b)| a.w == b.w).count();
    let agree_dir = g.tangents.iter().zip(&generated).filter(|(a, b)| a.truncate().dot(b.truncate()) > 0.9).count();
    let n = g.tangents.len() as f32;
    assert!(agree_w as f32 > 0.98 * n, "handedness agrees at {agree_w} of {n} vertices");
    assert!(agree_dir as f32 > 0.9 * n, "direction agrees at {agree_dir} of {n} vertices");
    assert!(g.tangents.iter().any(|t| t.w < 0.0) && g.tangents.iter().any(|t| t.w > 0.0), "mirrored UVs");
}

#[test]
fn cameras_by_index_and_name() {
    let scene = Scene::load(&scene_file("Cameras")).unwrap();
    assert_eq!(scene.cameras.len(), 2);
    assert_eq!((scene.cameras[0].index, scene.cameras[0].projection), (0, Projection::Perspective { yfov: 0.7 }));
    assert_eq!((scene.cameras[1].index, scene.cameras[1].projection), (1, Projection::Orthographic { ymag: 1.0 }));
    let with = |camera: Option<CameraSelect>| {
        prepare(&scene, None, &PrepareOptions { camera, ..options(32, 24) }).unwrap().header.camera
    };
    let default = with(None);
    let perspective = with(Some(CameraSelect::Index(0)));
    assert_eq!(default, perspective, "the first camera is the default");
    assert_eq!(perspective.kind, flat::CAMERA_PERSPECTIVE);
    // The image's aspect ratio (4:3) overrides the camera's aspectRatio (1).
    let t = 0.35f32.tan();
    assert!((Vec3::from(perspective.up).length() - t).abs() < 1e-6);
    assert!((Vec3::from(perspective.right).length() - t * 32.0 / 24.0).abs() < 1e-6);
    assert!(close(Vec3::from(perspective.origin), Vec3::new(0.5, 0.5, 3.0), 1e-6));
    assert!(close(Vec3::from(perspective.forward), -Vec3::Z, 1e-6));
    let ortho = with(Some(CameraSelect::Index(1)));
    assert_eq!(ortho.kind, flat::CAMERA_ORTHOGRAPHIC);
    assert!((Vec3::from(ortho.up).length() - 1.0).abs() < 1e-6);
    assert!((Vec3::from(ortho.right).length() - 32.0 / 24.0).abs() < 1e-6);

    // By camera name and by node name.
    let scene = Scene::load(&scene_file("TransmissionTest")).unwrap();
    let json = gltf_json("TransmissionTest");
    let node = json["nodes"].as_array().unwrap().iter().find(|n| n.get("camera").is_some()).unwrap();
    let translation = &node["translation"];
    for name in ["render_camera", "render_camera_n3d"] {
        let opts = PrepareOptions { camera: Some(CameraSelect::Name(name.into())), ..options(32, 24) };
        let camera = prepare(&scene, None, &opts).unwrap().header.camera;
        let expected = Vec3::new(f(&translation[0]), f(&translation[1]), f(&translation[2]));
        assert!(close(Vec3::from(camera.origin), expected, 1e-6), "{name}: {:?}", camera.origin);
    }
}

#[test]
fn scenes_without_cameras_are_framed() {
    let (_, flat) = load_and_prepare("SimpleInstancing");
    let c = &flat.header.camera;
    let (lo, hi) = (Vec3::from(flat.header.bounds_min), Vec3::from(flat.header.bounds_max));
    let centre = (lo + hi) * 0.5;
    let to_centre = (centre - Vec3::from(c.origin)).normalize();
    assert!(close(to_centre, Vec3::from(c.forward), 1e-4), "looks at the centre");
    assert!(Vec3::from(c.origin).z > hi.z && Vec3::from(c.origin).y > centre.y, "in front and above");
}

#[test]
fn punctual_lamp_has_five_point_lights() {
    let (scene, flat) = load_and_prepare("LightsPunctualLamp");
    let json = gltf_json("LightsPunctualLamp");
    let defined = json["extensions"]["KHR_lights_punctual"]["lights"].as_array().unwrap();
    assert_eq!(scene.lights.len(), 5);
    let points: Vec<_> = flat.lights.iter().filter(|l| l.kind == flat::LIGHT_POINT).collect();
    assert_eq!(points.len(), 5);
    for light in &scene.lights {
        assert_eq!(light.kind, LightKind::Point);
        let def = defined.iter().find(|d| d["name"].as_str() == light.name.as_deref()).unwrap();
        let color = def.get("color").map_or(Vec3::ONE, |c| Vec3::new(f(&c[0]), f(&c[1]), f(&c[2])));
        assert!(close(light.radiance, color * f(&def["intensity"]), 1e-4), "{:?}", light.name);
    }
    assert_eq!(flat.header.env_light, NONE);
}

fn f(v: &Value) -> f32 {
    v.as_f64().unwrap() as f32
}

#[test]
fn emissive_strength_scales_emission_and_light_power() {
    let (scene, flat) = load_and_prepare("EmissiveStrengthTest");
    let json = gltf_json("EmissiveStrengthTest");
    let mut power_per_area = Vec::new();
    for (i, def) in json["materials"].as_array().unwrap().iter().enumerate() {
        let Some(factor) = def.get("emissiveFactor") else { continue };
        let strength = def["extensions"]["KHR_materials_emissive_strength"]["emissiveStrength"].as_f64().unwrap_or(1.0);
        let expected = Vec3::new(f(&factor[0]), f(&factor[1]), f(&factor[2])) * strength as f32;
        assert!(close(Vec3::from(scene.materials[i].emission), expected, 1e-5), "materials[{i}]");
        // Light picking is proportional to power: area × luminance of the emission.
        let (mut pdf, mut area) = (0.0, 0.0);
        for t in flat.triangles.iter().filter(|t| t.material == i as u32) {
            pdf += flat.lights[t.light as usize].pick_pdf;
            area += 0.5 * Vec3::from(t.e1).cross(Vec3::from(t.e2)).length();
        }
        power_per_area.push((strength as f32, pdf / area));
    }
    assert_eq!(power_per_area.len(), 5);
    let (s0, p0) = power_per_area[0];
    for &(s, p) in &power_per_area {
        assert!((p / p0 - s / s0).abs() < 1e-3 * (s / s0), "strength {s}: {p} vs {p0}");
    }
}

#[test]
fn texture_transform_rows_follow_the_file() {
    let (scene, _) = load_and_prepare("TextureTransformTest");
    let json = gltf_json("TextureTransformTest");
    let mut transformed = 0;
    for (i, def) in json["materials"].as_array().unwrap().iter().enumerate() {
        let slot = scene.materials[i].base_color_tex;
        assert_ne!(slot.texture, NONE);
        let t = &def["pbrMetallicRoughness"]["baseColorTexture"]["extensions"]["KHR_texture_transform"];
        let pair = |v: &Value, default: f32| {
            [v[0].as_f64().map_or(default, |x| x as f32), v[1].as_f64().map_or(default, |x| x as f32)]
        };
        let (offset, scale) = (pair(&t["offset"], 0.0), pair(&t["scale"], 1.0));
        let rotation = t["rotation"].as_f64().unwrap_or(0.0) as f32;
        transformed += t.is_object() as usize;
        // The extension's matrix: translation × rotation × scale, rotation = [cos sin; -sin cos].
        let m = Mat4::from_cols_array(&[
            rotation.cos() * scale[0],
            -rotation.sin() * scale[0],
            0.0,
            0.0,
            rotation.sin() * scale[1],
            rotation.cos() * scale[1],
            0.0,
            0.0,
            0.0,
            0.0,
            1.0,
            0.0,
            offset[0],
            offset[1],
            0.0,
            1.0,
        ]);
        for uv in [Vec2::new(0.0, 0.0), Vec2::new(1.0, 0.0), Vec2::new(0.3, 0.8)] {
            let expected = m.transform_point3(uv.extend(0.0));
            let u = Vec3::from_slice(&slot.row_u).dot(uv.extend(1.0));
            let v = Vec3::from_slice(&slot.row_v).dot(uv.extend(1.0));
            assert!((u - expected.x).abs() < 1e-6 && (v - expected.y).abs() < 1e-6, "materials[{i}] at {uv}");
        }
    }
    assert_eq!(transformed, 6);
}

#[test]
fn gpu_instancing_places_every_instance() {
    let scene = Scene::load(&scene_file("SimpleInstancing")).unwrap();
    assert_eq!(scene.instances.len(), 125);
    assert_eq!(scene.instanced_triangles(), 1500);
    let origins: Vec<Vec3> = scene.instances.iter().map(|i| i.world.transform_point3(Vec3::ZERO)).collect();
    let (lo, hi) = origins.iter().fold((Vec3::INFINITY, Vec3::NEG_INFINITY), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    // The TRANSLATION accessor spans [0, 10]³.
    assert!(close(lo, Vec3::ZERO, 1e-6) && close(hi, Vec3::splat(10.0), 1e-6), "{lo} {hi}");
    for (i, a) in origins.iter().enumerate() {
        assert!(origins[..i].iter().all(|b| b.distance(*a) > 1e-3), "instance {i} duplicates another");
    }
    assert!(scene.warnings.is_empty(), "{:?}", scene.warnings);
}

#[test]
fn environments_constant_default_and_maps() {
    let scene = Scene::load(&scene_file("Cameras")).unwrap();
    // No lights: a white environment of radiance 1.
    let flat = prepare(&scene, None, &options(32, 24)).unwrap();
    assert_eq!(flat.lights.len(), 1);
    assert_eq!(flat.header.env_light, 0);
    assert_eq!(flat.header.env_color, [1.0; 3]);
    // An explicit black environment leaves the scene unlit.
    let black = Environment::load(&EnvironmentSpec::Color([0.0; 3])).unwrap();
    let flat = prepare(&scene, Some(&black), &options(32, 24)).unwrap();
    assert!(flat.lights.is_empty() && flat.light_cdf.is_empty());
    assert_eq!(flat.header.env_light, NONE);

    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (8u32, 4u32);
    let radiance = |x: u32, y: u32| [x as f32 * 0.5, y as f32, 0.25];
    let hdr = dir.path().join("sky.hdr");
    let pixels: Vec<image::Rgb<f32>> = (0..w * h).map(|i| image::Rgb(radiance(i % w, i / w))).collect();
    let file = std::io::BufWriter::new(std::fs::File::create(&hdr).unwrap());
    image::codecs::hdr::HdrEncoder::new(file).encode(&pixels, w as usize, h as usize).unwrap();
    let exr_path = dir.path().join("sky.exr");
    exr::prelude::write_rgb_file(&exr_path, w as usize, h as usize, |x, y| {
        let [r, g, b] = radiance(x as u32, y as u32);
        (r, g, b)
    })
    .unwrap();
    for path in [hdr, exr_path] {
        let env = Environment::load(&EnvironmentSpec::Map(path.clone())).unwrap();
        let flat = prepare(&scene, Some(&env), &options(32, 24)).unwrap();
        let header = &flat.header;
        assert_eq!((header.env_flags, header.env_width, header.env_height), (flat::ENV_MAP, w, h), "{path:?}");
        assert_eq!(header.env_color, [1.0; 3]);
        assert_eq!(flat.env_texels.len(), 32);
        assert_eq!((flat.env_marginal_cdf.len(), flat.env_conditional_cdf.len()), (4, 32));
        // Row 2, column 6 (HDR stores RGBE, so allow its rounding).
        let texel = flat.env_texels[2 * 8 + 6];
        assert!(close(Vec3::from_slice(&texel), Vec3::new(3.0, 2.0, 0.25), 0.02), "{path:?}: {texel:?}");
        assert_eq!(flat.lights[header.env_light as usize].kind, flat::LIGHT_ENVIRONMENT);
    }
}

/// A textured quad in a folder whose name has a space, with percent-encoded URIs.
#[test]
fn external_files_textures_and_glb() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("my scene");
    std::fs::create_dir(&folder).unwrap();
    // A 16-bit grey PNG: decoding must give RGBA8.
    let png = image::ImageBuffer::<image::Luma<u16>, _>::from_raw(2, 1, vec![0u16, 65535]).unwrap();
    png.save(folder.join("grey map.png")).unwrap();

    let mut doc = Doc::new();
    let uv = doc.floats(&[0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0], "VEC2");
    let pos = doc.floats(&QUAD.concat(), "VEC3");
    let idx = doc.indices(&QUAD_INDICES);
    doc.mesh(json!({ "attributes": { "POSITION": pos, "TEXCOORD_0": uv }, "indices": idx, "material": 0 }));
    doc.json["images"] = json!([{ "uri": "grey%20map.png" }]);
    doc.json["samplers"] = json!([{ "magFilter": 9728, "wrapS": 33071, "wrapT": 33648 }]);
    doc.json["textures"] = json!([{ "source": 0, "sampler": 0 }, { "source": 0, "sampler": 0 }]);
    doc.json["materials"] = json!([{
        "pbrMetallicRoughness": { "baseColorTexture": { "index": 0 }, "metallicRoughnessTexture": { "index": 1 } },
        "emissiveTexture": { "index": 1 },
    }]);
    let gltf = doc.write_external(&folder, "quad.gltf", "quad data.bin", "quad%20data.bin");
    let scene = Scene::load(&gltf).unwrap();
    let flat = prepare(&scene, None, &options(32, 24)).unwrap();
    check_flat("textured quad", &flat);
    // One image; base colour and emissive share an sRGB texture, metallic-roughness is linear.
    assert_eq!(scene.images.len(), 1);
    assert_eq!(flat.texels, vec![0xff00_0000, 0xffff_ffff]);
    let m = &flat.materials[0];
    assert_eq!(m.base_color_tex.texture, m.emissive_tex.texture);
    assert_ne!(m.base_color_tex.texture, m.metallic_roughness_tex.texture);
    let wrap = (flat::WRAP_CLAMP << flat::WRAP_S_SHIFT) | (flat::WRAP_MIRROR << flat::WRAP_T_SHIFT);
    let srgb = &flat.textures[m.base_color_tex.texture as usize];
    assert_eq!(srgb.flags, wrap | flat::TEX_NEAREST | flat::TEX_SRGB);
    assert_eq!(flat.textures[m.metallic_roughness_tex.texture as usize].flags, wrap | flat::TEX_NEAREST);

    // The same document as GLB (buffer in the BIN chunk, image still external).
    let glb = folder.join("quad.glb");
    std::fs::write(&glb, doc.glb()).unwrap();
    let from_glb = prepare(&Scene::load(&glb).unwrap(), None, &options(32, 24)).unwrap();
    assert_eq!(from_glb.triangles, flat.triangles);
    assert_eq!(from_glb.vertices, flat.vertices);
    assert_eq!(from_glb.texels, flat.texels);
    // And with the buffer as a data URI.
    let embedded = doc.write_embedded(&folder, "embedded.gltf");
    let from_data_uri = prepare(&Scene::load(&embedded).unwrap(), None, &options(32, 24)).unwrap();
    assert_eq!(from_data_uri.triangles, flat.triangles);
}

#[test]
fn strips_fans_mirrors_and_missing_normals() {
    let dir = tempfile::tempdir().unwrap();
    let mut doc = Doc::new();
    let pos = doc.floats(&QUAD.concat(), "VEC3");
    let strip = doc.indices(&[0, 1, 3, 2]);
    let fan = doc.indices(&[0, 1, 2, 3]);
    doc.mesh(json!({ "attributes": { "POSITION": pos }, "indices": strip, "mode": 5 }));
    doc.mesh(json!({ "attributes": { "POSITION": pos }, "indices": fan, "mode": 6 }));
    // A mirrored instance (negative determinant) of the fan.
    doc.json["nodes"].as_array_mut().unwrap().push(json!({ "mesh": 1, "scale": [-1.0, 1.0, 1.0] }));
    doc.json["scenes"][0]["nodes"].as_array_mut().unwrap().push(json!(2));
    let scene = Scene::load(&doc.write_embedded(dir.path(), "modes.gltf")).unwrap();
    assert_eq!(scene.instanced_triangles(), 6);
    let flat = prepare(&scene, None, &options(32, 24)).unwrap();
    check_flat("modes", &flat);
    for (t, tv) in flat.triangles.iter().zip(&flat.triangle_vertices) {
        // Flat normals (no NORMAL attribute) agree with the counter-clockwise front face,
        // also for the mirrored instance.
        let geometric = Vec3::from(t.e1).cross(Vec3::from(t.e2)).normalize();
        for &v in &tv.v {
            assert!(close(Vec3::from(flat.vertices[v as usize].normal), geometric, 1e-6));
        }
        assert!(close(geometric, Vec3::Z, 1e-6), "every triangle faces +Z");
    }
    // The default material stands in for primitives without one.
    assert_eq!(flat.materials, vec![flat::Material::default()]);
}

/// A 2×2 texture: top row black, white; bottom row red, sRGB grey 128 (alpha 0).
fn tiny_texture_scene(flags: u32) -> FlatScene {
    let texels = vec![0xff00_0000, 0xffff_ffff, 0xff00_00ff, 0x0080_8080];
    let texture = flat::Texture { offset: 1, width: 2, height: 2, flags };
    let mut padded = vec![0x1234_5678];
    padded.extend(texels);
    FlatScene { textures: vec![texture], texels: padded, ..FlatScene::default() }
}

fn slot() -> TextureSlot {
    TextureSlot { texture: 0, ..TextureSlot::EMPTY }
}

fn sample(scene: &FlatScene, u: f32, v: f32) -> Vec4 {
    sample_slot(scene, &slot(), Vec2::new(u, v), Vec2::ZERO)
}

fn near(a: Vec4, b: Vec4) -> bool {
    (a - b).abs().max_element() < 1e-5
}

#[test]
fn sample_slot_filters_wraps_and_decodes() {
    let grey = 128.0 / 255.0;
    let linear = tiny_texture_scene(0);
    // UV (0, 0) is the top-left corner; texel centres return the texel.
    assert!(near(sample(&linear, 0.25, 0.25), Vec4::new(0.0, 0.0, 0.0, 1.0)));
    assert!(near(sample(&linear, 0.75, 0.25), Vec4::ONE));
    assert!(near(sample(&linear, 0.25, 0.75), Vec4::new(1.0, 0.0, 0.0, 1.0)));
    assert!(near(sample(&linear, 0.75, 0.75), Vec4::new(grey, grey, grey, 0.0)));
    // Bilinear: the centre averages all four.
    let mean =
        (Vec4::new(0.0, 0.0, 0.0, 1.0) + Vec4::ONE + Vec4::new(1.0, 0.0, 0.0, 1.0) + Vec4::new(grey, grey, grey, 0.0))
            / 4.0;
    assert!(near(sample(&linear, 0.5, 0.5), mean));
    // Repeat: the left edge blends the first and last columns; whole periods change nothing.
    assert!(near(sample(&linear, 0.0, 0.25), Vec4::new(0.5, 0.5, 0.5, 1.0)));
    assert!(near(sample(&linear, 2.25, -0.75), sample(&linear, 0.25, 0.25)));
    // Clamp and mirror keep the edge texel at the edge.
    let clamp = tiny_texture_scene((flat::WRAP_CLAMP << flat::WRAP_S_SHIFT) | (flat::WRAP_CLAMP << flat::WRAP_T_SHIFT));
    assert!(near(sample(&clamp, 0.0, 0.25), Vec4::new(0.0, 0.0, 0.0, 1.0)));
    assert!(near(sample(&clamp, -5.0, 0.25), Vec4::new(0.0, 0.0, 0.0, 1.0)));
    let mirror = tiny_texture_scene(flat::WRAP_MIRROR << flat::WRAP_S_SHIFT);
    assert!(near(sample(&mirror, 0.0, 0.25), Vec4::new(0.0, 0.0, 0.0, 1.0)));
    assert!(near(sample(&mirror, 1.25, 0.25), Vec4::ONE), "mirrored: the second period runs backwards");
    // Nearest.
    let nearest = tiny_texture_scene(flat::TEX_NEAREST);
    assert!(near(sample(&nearest, 0.49, 0.1), Vec4::new(0.0, 0.0, 0.0, 1.0)));
    assert!(near(sample(&nearest, 0.51, 0.1), Vec4::ONE));
    // sRGB: decoded per texel before filtering; alpha stays linear.
    let srgb = tiny_texture_scene(flat::TEX_SRGB);
    let decoded = ((grey + 0.055) / 1.055).powf(2.4);
    assert!(near(sample(&srgb, 0.75, 0.75), Vec4::new(decoded, decoded, decoded, 0.0)));
    assert!(near(sample(&srgb, 0.5, 0.25), Vec4::new(0.5, 0.5, 0.5, 1.0)), "black and white average to 0.5");
    // Transform (swap u and v) and the second UV set.
    let swap = TextureSlot { row_u: [0.0, 1.0, 0.0, 0.0], row_v: [1.0, 0.0, 0.0, 0.0], ..slot() };
    assert!(near(sample_slot(&linear, &swap, Vec2::new(0.75, 0.25), Vec2::ZERO), sample(&linear, 0.25, 0.75)));
    let second = TextureSlot { texcoord: 1, ..slot() };
    assert!(near(sample_slot(&linear, &second, Vec2::ZERO, Vec2::new(0.75, 0.25)), Vec4::ONE));
    assert_eq!(sample_slot(&linear, &TextureSlot::EMPTY, Vec2::ZERO, Vec2::ZERO), Vec4::ONE);
}
