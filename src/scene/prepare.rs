//! `prepare`: a [`Scene`] flattened for one frame into the [`FlatScene`] layout —
//! world-space triangles in BVH order, vertices, materials, textures, the light
//! table, the environment and the camera.

use glam::{Mat3, Vec3};
use rayon::prelude::*;

use super::camera::{flat_camera, framing_camera, select};
use super::environment::Environment;
use super::error::SceneError;
use super::flat::{self, FlatScene, SceneHeader, Triangle, TriangleVertices, Vertex};
use super::lights::{light_table, luminance, EmissiveTriangle, EnvironmentLight};
use super::{PrepareOptions, Scene};
use crate::render::settings::{SettingsError, MAX_IMAGE_SIDE};

/// World-space triangles gathered from every mesh instance, before BVH ordering.
struct Gathered {
    corners: Vec<[Vec3; 3]>,
    triangles: Vec<Triangle>,
    triangle_vertices: Vec<TriangleVertices>,
    vertices: Vec<Vertex>,
    uses_default_material: bool,
}

/// Flattens `scene` for one frame (node transforms at `opts.time`, which is reserved:
/// animation is not supported), building the BVH, light table and camera for a
/// `opts.width × opts.height` image. Without `env` an unlit scene gets a uniform
/// white environment of radiance 1; a lit one gets none.
pub fn prepare(scene: &Scene, env: Option<&Environment>, opts: &PrepareOptions) -> Result<FlatScene, SceneError> {
    let side_ok = |s: u32| (1..=MAX_IMAGE_SIDE).contains(&s);
    if !side_ok(opts.width) || !side_ok(opts.height) {
        return Err(SettingsError::Resolution { width: opts.width, height: opts.height }.into());
    }
    let camera = select(&scene.cameras, opts.camera.as_ref(), &scene.path)?;

    let mut materials = scene.materials.clone();
    let gathered = gather(scene, materials.len() as u32);
    if gathered.uses_default_material {
        materials.push(flat::Material::default());
    }
    let bvh = crate::accel::build(&gathered.corners);
    let mut triangles: Vec<Triangle> = bvh.order.par_iter().map(|&i| gathered.triangles[i as usize]).collect();
    let triangle_vertices: Vec<TriangleVertices> =
        bvh.order.par_iter().map(|&i| gathered.triangle_vertices[i as usize]).collect();
    let (bounds_min, bounds_max) = gathered
        .corners
        .par_iter()
        .map(|c| (c[0].min(c[1]).min(c[2]), c[0].max(c[1]).max(c[2])))
        .reduce(|| (Vec3::INFINITY, Vec3::NEG_INFINITY), |(lo, hi), (l, h)| (lo.min(l), hi.max(h)));
    let radius = (bounds_max - bounds_min).length() * 0.5;

    let emissive: Vec<EmissiveTriangle> = triangles
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let material = &materials[t.material as usize];
            emits(material).then(|| EmissiveTriangle {
                triangle: i as u32,
                emission: Vec3::from(material.emission),
                area: 0.5 * Vec3::from(t.e1).cross(Vec3::from(t.e2)).length(),
                double_sided: material.flags & flat::MAT_DOUBLE_SIDED != 0,
            })
        })
        .collect();
    let env_light = env.map(|e| EnvironmentLight { color: e.color, mean_luminance: e.mean_luminance });
    let mut table = light_table(&scene.lights, &emissive, env_light.as_ref(), radius, &mut triangles);
    let default_white = env.is_none() && table.0.is_empty();
    if default_white {
        tracing::info!(
            "{} has no lights: lighting it with a uniform white environment of radiance 1 \
             (choose another with --env R,G,B or --env sky.hdr)",
            scene.path.display()
        );
        let white = EnvironmentLight { color: Vec3::ONE, mean_luminance: 1.0 };
        table = light_table(&scene.lights, &emissive, Some(&white), radius, &mut triangles);
    }
    let (lights, light_cdf, env_light) = table;

    let (textures, texels) = texture_table(scene)?;
    let map = env.and_then(|e| e.map.as_ref());
    let env_color = match (env, default_white) {
        (Some(e), _) => e.color,
        (None, true) => Vec3::ONE,
        (None, false) => Vec3::ZERO,
    };
    let camera = match camera {
        Some(c) => flat_camera(c, opts.width, opts.height),
        None => framing_camera(bounds_min, bounds_max, opts.width, opts.height),
    };
    let header = SceneHeader {
        camera,
        bounds_min: bounds_min.to_array(),
        num_lights: lights.len() as u32,
        bounds_max: bounds_max.to_array(),
        env_light,
        env_color: env_color.to_array(),
        env_flags: if map.is_some() { flat::ENV_MAP } else { 0 },
        env_width: map.map_or(0, |m| m.width),
        env_height: map.map_or(0, |m| m.height),
        num_triangles: triangles.len() as u32,
        num_nodes: bvh.nodes.len() as u32,
    };
    Ok(FlatScene {
        header,
        nodes: bvh.nodes,
        triangles,
        triangle_vertices,
        vertices: gathered.vertices,
        materials,
        textures,
        texels,
        lights,
        light_cdf,
        env_texels: map.map_or_else(Vec::new, |m| m.texels.clone()),
        env_marginal_cdf: map.map_or_else(Vec::new, |m| m.marginal_cdf.clone()),
        env_conditional_cdf: map.map_or_else(Vec::new, |m| m.conditional_cdf.clone()),
    })
}

/// Every primitive of every mesh instance in world space. glTF: a transform with a
/// negative determinant flips the winding, so such triangles are re-ordered to keep
/// counter-clockwise fronts.
fn gather(scene: &Scene, default_material: u32) -> Gathered {
    let total = scene.instanced_triangles();
    let mut out = Gathered {
        corners: Vec::with_capacity(total),
        triangles: Vec::with_capacity(total),
        triangle_vertices: Vec::with_capacity(total),
        vertices: Vec::new(),
        uses_default_material: false,
    };
    for instance in &scene.instances {
        let linear = Mat3::from_mat4(instance.world);
        let det = linear.determinant();
        let normal_matrix = if det != 0.0 { linear.inverse().transpose() } else { linear };
        let handedness = if det < 0.0 { -1.0 } else { 1.0 };
        for prim in &scene.meshes[instance.mesh].primitives {
            let g = &*prim.geometry;
            let material = prim.material.map_or(default_material, |m| m as u32);
            out.uses_default_material |= prim.material.is_none();
            let alpha_tested =
                scene.materials.get(material as usize).is_some_and(|m| m.flags & flat::MAT_ALPHA_MASK != 0);
            let flags = if alpha_tested { flat::TRI_ALPHA_TESTED } else { 0 };
            let base = out.vertices.len() as u32;
            out.vertices.extend((0..g.positions.len()).map(|i| {
                let normal = (normal_matrix * g.normals[i]).try_normalize().unwrap_or(Vec3::Z);
                let tangent = g.tangents.get(i).map_or([0.0; 4], |t| {
                    let xyz = (linear * t.truncate()).try_normalize().unwrap_or(Vec3::X);
                    xyz.extend(t.w * handedness).to_array()
                });
                Vertex {
                    normal: normal.to_array(),
                    _pad: 0.0,
                    tangent,
                    uv0: g.uv0.get(i).map_or([0.0; 2], |uv| uv.to_array()),
                    uv1: g.uv1.get(i).map_or([0.0; 2], |uv| uv.to_array()),
                }
            }));
            let world: Vec<Vec3> = g.positions.iter().map(|&p| instance.world.transform_point3(p)).collect();
            for &[a, b, c] in &g.triangles {
                let [a, b, c] = if det < 0.0 { [a, c, b] } else { [a, b, c] };
                let corners = [world[a as usize], world[b as usize], world[c as usize]];
                out.triangles.push(Triangle {
                    v0: corners[0].to_array(),
                    material,
                    e1: (corners[1] - corners[0]).to_array(),
                    light: flat::NONE,
                    e2: (corners[2] - corners[0]).to_array(),
                    flags,
                });
                out.triangle_vertices.push(TriangleVertices { v: [base + a, base + b, base + c], _pad: 0 });
                out.corners.push(corners);
            }
        }
    }
    out
}

/// Flat textures and their texels: every image once, textures pointing into it.
fn texture_table(scene: &Scene) -> Result<(Vec<flat::Texture>, Vec<u32>), SceneError> {
    let total: usize = scene.images.iter().map(|i| i.texels.len()).sum();
    if total > u32::MAX as usize {
        let message = format!("{total} texels in all, more than the 2^32 the flat layout can address");
        return Err(SceneError::field(&scene.path, "images", message));
    }
    let mut texels = Vec::with_capacity(total);
    let offsets: Vec<u32> = scene
        .images
        .iter()
        .map(|image| {
            let offset = texels.len() as u32;
            texels.extend_from_slice(&image.texels);
            offset
        })
        .collect();
    let textures = scene
        .textures
        .iter()
        .map(|t| {
            let image = &scene.images[t.image];
            flat::Texture { offset: offsets[t.image], width: image.width, height: image.height, flags: t.flags }
        })
        .collect();
    Ok((textures, texels))
}

/// Whether a material emits light (its triangles are area lights).
pub(crate) fn emits(material: &flat::Material) -> bool {
    luminance(Vec3::from(material.emission)) > 0.0
}
