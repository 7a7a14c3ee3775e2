//! `prepare`: a [`Scene`] flattened for one frame into the [`FlatScene`] layout —
//! world-space triangles in BVH order, vertices, materials, textures, the light
//! table, the environment and the camera — posed at the frame's time.

use std::sync::Arc;

use glam::{Mat3, Mat4, Vec3, Vec4};
use rayon::prelude::*;

use super::animation::{self, driven_nodes, pose};
use super::camera::{flat_camera, framing_camera, select};
use super::environment::Environment;
use super::error::SceneError;
use super::flat::{self, BvhNode, FlatScene, SceneHeader, Triangle, TriangleVertices, Vertex};
use super::lights::{light_table, luminance, EmissiveTriangle, EnvironmentLight};
use super::{MeshInstance, PrepareOptions, Scene};
use crate::render::settings::{SettingsError, MAX_IMAGE_SIDE};

/// World-space triangles of some mesh instances, in BVH leaf order, with their BVH.
#[derive(Debug, Default)]
pub(crate) struct Geometry {
    nodes: Vec<BvhNode>,
    triangles: Vec<Triangle>,
    triangle_vertices: Vec<TriangleVertices>,
    vertices: Vec<Vertex>,
    bounds: (Vec3, Vec3),
    uses_default_material: bool,
}

/// The geometry that does not move while an animation plays, kept between frames:
/// `moved[node]` says which nodes it leaves out.
#[derive(Debug)]
pub(crate) struct StaticGeometry {
    moved: Vec<bool>,
    geometry: Arc<Geometry>,
}

/// Flattens `scene` for one frame — the pose at `opts.time` of the animations
/// `opts.animation` selects — building the BVH, light table and camera for a
/// `opts.width × opts.height` image. While an animation plays, the instances it
/// cannot move are built into a BVH once and kept in the scene; each frame builds
/// only the moving part and joins the two under one root. Without `env` the scene
/// gets its [`Scene::default_light`]: uniform white of radiance 1, or black.
pub fn prepare(scene: &Scene, env: Option<&Environment>, opts: &PrepareOptions) -> Result<FlatScene, SceneError> {
    let side_ok = |s: u32| (1..=MAX_IMAGE_SIDE).contains(&s);
    if !side_ok(opts.width) || !side_ok(opts.height) {
        return Err(SettingsError::Resolution { width: opts.width, height: opts.height }.into());
    }
    let animations = animation::select(&scene.animations, &opts.animation, &scene.path)?;
    // Stills without skins use the placement made at load; the rest place the pose.
    let (posed, now);
    let (instances, cameras, lights, worlds, weights) = if animations.is_empty() && scene.nodes.skins.is_empty() {
        (&scene.instances, &scene.cameras, &scene.lights, &[][..], &[][..])
    } else {
        now = pose(&scene.nodes, animations, opts.time);
        posed = scene.nodes.place(&now.locals, &scene.path)?;
        (&posed.instances, &posed.cameras, &posed.lights, &posed.worlds[..], &now.weights[..])
    };
    let posed = Posed { worlds, weights };
    let camera = select(cameras, opts.camera.as_ref(), &scene.path)?;

    let mut materials = scene.materials.clone();
    let default_material = materials.len() as u32;
    let moved = scene.nodes.moved_by(&driven_nodes(&scene.nodes, animations));
    let mut keys = None;
    let geometry = if moved.iter().any(|&m| m) {
        let fixed = static_geometry(scene, instances, &posed, moved, default_material)?;
        match opts.shutter {
            Some(shutter) => {
                let mut k = motion_keys(scene, animations, shutter, &fixed.moved, opts, default_material)?;
                k.header.static_triangles = fixed.geometry.triangles.len() as u32;
                k.header.static_vertices = fixed.geometry.vertices.len() as u32;
                let geometry = with_moving(&fixed.geometry, &k);
                keys = Some(k);
                geometry
            }
            None => {
                let moving = instances.iter().filter(|i| moves(scene, &fixed.moved, i));
                join(&fixed.geometry, build_geometry(scene, moving, &posed, default_material)?)
            }
        }
    } else {
        build_geometry(scene, instances.iter(), &posed, default_material)?
    };
    if geometry.uses_default_material {
        materials.push(flat::Material::default());
    }
    let Geometry { nodes, mut triangles, triangle_vertices, vertices, bounds: (bounds_min, bounds_max), .. } = geometry;
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
    let white = EnvironmentLight { color: Vec3::ONE, mean_luminance: 1.0 };
    let default_white = env.is_none() && scene.default_light.white;
    let env_light = match env {
        Some(e) => Some(EnvironmentLight { color: e.color, mean_luminance: e.mean_luminance }),
        None => default_white.then_some(white),
    };
    let table = light_table(lights, &emissive, env_light.as_ref(), radius, &mut triangles);
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
        // A camera framed on this frame's bounds would move with the animation.
        None if !animations.is_empty() => {
            let (lo, hi) = animation_bounds(scene, animations)?;
            framing_camera(lo, hi, opts.width, opts.height)
        }
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
        num_nodes: nodes.len() as u32,
    };
    Ok(FlatScene {
        header,
        nodes,
        triangles,
        triangle_vertices,
        vertices,
        materials,
        textures,
        texels,
        lights,
        light_cdf,
        env_texels: map.map_or_else(Vec::new, |m| m.texels.clone()),
        env_marginal_cdf: map.map_or_else(Vec::new, |m| m.marginal_cdf.clone()),
        env_conditional_cdf: map.map_or_else(Vec::new, |m| m.conditional_cdf.clone()),
        motion: keys.as_ref().map_or_else(Default::default, |k| k.header),
        motion_cameras: keys.as_mut().map_or_else(Vec::new, |k| std::mem::take(&mut k.cameras)),
        motion_nodes: keys.as_mut().map_or_else(Vec::new, |k| std::mem::take(&mut k.nodes)),
        motion_triangles: keys.as_mut().map_or_else(Vec::new, |k| std::mem::take(&mut k.triangles)),
        motion_vertices: keys.map_or_else(Vec::new, |k| k.vertices),
    })
}

/// The moving part of a frame over its shutter (see [`flat::MotionHeader`]).
struct MotionKeys {
    header: flat::MotionHeader,
    cameras: Vec<flat::Camera>,
    nodes: Vec<BvhNode>,
    triangles: Vec<Triangle>,
    vertices: Vec<Vertex>,
    /// Key 0 in the layout of the frame's own arrays, for [`with_moving`].
    first: Geometry,
}

/// Poses the moving instances (those `moved` marks) and the camera at the
/// shutter's keys. One BVH topology is built over the triangles' mean position
/// over the keys, and refitted for each segment between two keys.
fn motion_keys(
    scene: &Scene,
    animations: &[animation::Animation],
    shutter: super::Shutter,
    moved: &[bool],
    opts: &PrepareOptions,
    default_material: u32,
) -> Result<MotionKeys, SceneError> {
    let count = shutter.keys.max(2);
    let mut poses = Vec::with_capacity(count as usize);
    let mut cameras = Vec::with_capacity(count as usize);
    for k in 0..count {
        let time = shutter.open + (shutter.close - shutter.open) * k as f32 / (count - 1) as f32;
        let now = pose(&scene.nodes, animations, time);
        let placed = scene.nodes.place(&now.locals, &scene.path)?;
        cameras.push(
            select(&placed.cameras, opts.camera.as_ref(), &scene.path)?
                .map(|c| flat_camera(c, opts.width, opts.height)),
        );
        let posed = Posed { worlds: &placed.worlds, weights: &now.weights };
        let moving = placed.instances.iter().filter(|i| moves(scene, moved, i));
        poses.push(gather(scene, moving, &posed, default_material)?);
    }
    let (tris, verts) = (poses[0].triangles.len(), poses[0].vertices.len());
    if poses.iter().any(|p| p.triangles.len() != tris || p.vertices.len() != verts) {
        let message = "the moving meshes change their triangle count during the shutter";
        return Err(SceneError::field(&scene.path, "animations", message));
    }
    let mean: Vec<[Vec3; 3]> = (0..tris)
        .map(|i| [0, 1, 2].map(|c| poses.iter().map(|p| p.corners[i][c]).sum::<Vec3>() / count as f32))
        .collect();
    let bvh = crate::accel::build(&mean);
    let bound = |c: &[Vec3; 3]| (c[0].min(c[1]).min(c[2]), c[0].max(c[1]).max(c[2]));
    let mut nodes = Vec::with_capacity(bvh.nodes.len() * (count as usize - 1));
    for s in 0..count as usize - 1 {
        let boxes: Vec<(Vec3, Vec3)> = bvh
            .order
            .iter()
            .map(|&i| {
                let (a, b) = (bound(&poses[s].corners[i as usize]), bound(&poses[s + 1].corners[i as usize]));
                (a.0.min(b.0), a.1.max(b.1))
            })
            .collect();
        nodes.extend(crate::accel::refit(&bvh.nodes, &boxes));
    }
    let triangles: Vec<Triangle> = poses.iter().flat_map(|p| bvh.reorder(&p.triangles)).collect();
    let vertices: Vec<Vertex> = poses.iter().flat_map(|p| p.vertices.iter().copied()).collect();
    let bounds =
        poses.iter().flat_map(|p| p.corners.iter()).fold((Vec3::INFINITY, Vec3::NEG_INFINITY), |(lo, hi), c| {
            (lo.min(c[0]).min(c[1]).min(c[2]), hi.max(c[0]).max(c[1]).max(c[2]))
        });
    let camera_moves = cameras.iter().any(|c| c.is_some() && *c != cameras[0]);
    let first = &poses[0];
    let header = flat::MotionHeader {
        keys: count,
        camera_keys: if camera_moves { count } else { 0 },
        static_triangles: 0,
        moving_triangles: tris as u32,
        static_vertices: 0,
        moving_vertices: verts as u32,
        moving_nodes: bvh.nodes.len() as u32,
        _pad: 0,
    };
    Ok(MotionKeys {
        header,
        cameras: if camera_moves { cameras.into_iter().flatten().collect() } else { Vec::new() },
        nodes,
        triangles,
        vertices,
        first: Geometry {
            nodes: Vec::new(),
            triangles: bvh.reorder(&first.triangles),
            triangle_vertices: bvh.reorder(&first.triangle_vertices),
            vertices: first.vertices.clone(),
            bounds,
            uses_default_material: first.uses_default_material,
        },
    })
}

/// The static part with the moving triangles and vertices (at the first key)
/// after it; the BVH is the static part's alone.
fn with_moving(fixed: &Geometry, keys: &MotionKeys) -> Geometry {
    let moving = &keys.first;
    let base = fixed.vertices.len() as u32;
    Geometry {
        nodes: fixed.nodes.clone(),
        triangles: [&fixed.triangles[..], &moving.triangles].concat(),
        triangle_vertices: fixed
            .triangle_vertices
            .iter()
            .copied()
            .chain(moving.triangle_vertices.iter().map(|t| TriangleVertices { v: t.v.map(|v| v + base), ..*t }))
            .collect(),
        vertices: [&fixed.vertices[..], &moving.vertices].concat(),
        bounds: (fixed.bounds.0.min(moving.bounds.0), fixed.bounds.1.max(moving.bounds.1)),
        uses_default_material: fixed.uses_default_material || moving.uses_default_material,
    }
}

/// The static part for the nodes `moved` leaves out: the one kept in the scene
/// when it was built for the same nodes, else built now and kept.
fn static_geometry(
    scene: &Scene,
    instances: &[MeshInstance],
    posed: &Posed,
    moved: Vec<bool>,
    default_material: u32,
) -> Result<Arc<StaticGeometry>, SceneError> {
    let mut kept = scene.static_geometry.lock().unwrap_or_else(|e| e.into_inner());
    Ok(match &*kept {
        Some(fixed) if fixed.moved == moved => fixed.clone(),
        _ => {
            let fixed = instances.iter().filter(|i| !moves(scene, &moved, i));
            let geometry = build_geometry(scene, fixed, posed, default_material)?;
            let fixed = Arc::new(StaticGeometry { moved, geometry: Arc::new(geometry) });
            *kept = Some(fixed.clone());
            fixed
        }
    })
}

/// What a frame's pose gives the geometry: every node's world transform (for
/// skins; empty for a still) and the animated morph weights by node.
struct Posed<'a> {
    worlds: &'a [Mat4],
    weights: &'a [Option<Vec<f32>>],
}

impl<'a> Posed<'a> {
    /// The morph weights of `instance`: animated, else its node's, else its mesh's.
    fn weights(&self, scene: &'a Scene, instance: &MeshInstance) -> &'a [f32] {
        let animated = self.weights.get(instance.node).and_then(Option::as_deref);
        animated.or(scene.nodes.nodes[instance.node].weights.as_deref()).unwrap_or(&scene.meshes[instance.mesh].weights)
    }
}

/// Whether `instance` can move when the nodes in `moved` do: its node moves, or
/// one of the joints of its skin.
fn moves(scene: &Scene, moved: &[bool], instance: &MeshInstance) -> bool {
    let skin = scene.nodes.nodes[instance.node].skin.map(|s| &scene.nodes.skins[s]);
    moved[instance.node] || skin.is_some_and(|s| s.joints.iter().any(|&j| moved[j]))
}

/// `instances` gathered into world space and ordered by a BVH built over them.
fn build_geometry<'a>(
    scene: &Scene,
    instances: impl Iterator<Item = &'a MeshInstance>,
    posed: &Posed,
    default_material: u32,
) -> Result<Geometry, SceneError> {
    let gathered = gather(scene, instances, posed, default_material)?;
    let bvh = crate::accel::build(&gathered.corners);
    let bounds = gathered
        .corners
        .par_iter()
        .map(|c| (c[0].min(c[1]).min(c[2]), c[0].max(c[1]).max(c[2])))
        .reduce(|| (Vec3::INFINITY, Vec3::NEG_INFINITY), |(lo, hi), (l, h)| (lo.min(l), hi.max(h)));
    Ok(Geometry {
        triangles: bvh.order.par_iter().map(|&i| gathered.triangles[i as usize]).collect(),
        triangle_vertices: bvh.order.par_iter().map(|&i| gathered.triangle_vertices[i as usize]).collect(),
        nodes: bvh.nodes,
        vertices: gathered.vertices,
        bounds,
        uses_default_material: gathered.uses_default_material,
    })
}

/// Poses sampled over an animation, for a camera that frames all of it.
const FRAMING_POSES: usize = 16;

/// Bounds of every instance (its mesh's box, transformed) over [`FRAMING_POSES`]
/// poses spread evenly from time 0 to the end of `animations`.
fn animation_bounds(scene: &Scene, animations: &[animation::Animation]) -> Result<(Vec3, Vec3), SceneError> {
    let end = animations.iter().map(animation::Animation::duration).fold(0.0, f32::max);
    let mut bounds = (Vec3::INFINITY, Vec3::NEG_INFINITY);
    for k in 0..FRAMING_POSES {
        let time = end * k as f32 / (FRAMING_POSES - 1) as f32;
        let placed = scene.nodes.place(&pose(&scene.nodes, animations, time).locals, &scene.path)?;
        for instance in &placed.instances {
            let Some((lo, hi)) = scene.nodes.mesh_bounds[instance.mesh] else { continue };
            for corner in 0..8 {
                let pick = |bit: usize, a: f32, b: f32| if corner & bit == 0 { a } else { b };
                let local = Vec3::new(pick(1, lo.x, hi.x), pick(2, lo.y, hi.y), pick(4, lo.z, hi.z));
                let p = instance.world.transform_point3(local);
                bounds = (bounds.0.min(p), bounds.1.max(p));
            }
        }
    }
    Ok(bounds)
}

/// `fixed` followed by `moving`, their BVHs under one root.
fn join(fixed: &Geometry, moving: Geometry) -> Geometry {
    let base = fixed.vertices.len() as u32;
    let offset = |t: &TriangleVertices| TriangleVertices { v: t.v.map(|v| v + base), ..*t };
    Geometry {
        nodes: crate::accel::join(&fixed.nodes, fixed.triangles.len() as u32, &moving.nodes),
        triangles: [&fixed.triangles[..], &moving.triangles].concat(),
        triangle_vertices: fixed
            .triangle_vertices
            .iter()
            .copied()
            .chain(moving.triangle_vertices.iter().map(offset))
            .collect(),
        vertices: [&fixed.vertices[..], &moving.vertices].concat(),
        bounds: (fixed.bounds.0.min(moving.bounds.0), fixed.bounds.1.max(moving.bounds.1)),
        uses_default_material: fixed.uses_default_material || moving.uses_default_material,
    }
}

/// World-space triangles gathered from mesh instances, before BVH ordering.
struct Gathered {
    corners: Vec<[Vec3; 3]>,
    triangles: Vec<Triangle>,
    triangle_vertices: Vec<TriangleVertices>,
    vertices: Vec<Vertex>,
    uses_default_material: bool,
}

/// Every primitive of `instances` in world space; morph targets are applied at
/// the instance's weights, then skinned meshes are deformed by their joints, given
/// every node's world transform. glTF: a transform with a negative determinant
/// flips the winding, so such triangles are re-ordered to keep counter-clockwise
/// fronts.
fn gather<'a>(
    scene: &Scene,
    instances: impl Iterator<Item = &'a MeshInstance>,
    posed: &Posed,
    default_material: u32,
) -> Result<Gathered, SceneError> {
    let mut out = Gathered {
        corners: Vec::new(),
        triangles: Vec::new(),
        triangle_vertices: Vec::new(),
        vertices: Vec::new(),
        uses_default_material: false,
    };
    for instance in instances {
        let joints = scene.nodes.nodes[instance.node].skin.map(|s| scene.nodes.skins[s].joint_matrices(posed.worlds));
        let rigid = Placement::new(instance.world);
        let det = rigid.linear.determinant();
        let weights = posed.weights(scene, instance);
        for (p, prim) in scene.meshes[instance.mesh].primitives.iter().enumerate() {
            let g = &*prim.geometry;
            let morphed = morph(g, weights);
            let (positions, normals, tangents) = match &morphed {
                Some(m) => (&m.positions[..], &m.normals[..], &m.tangents[..]),
                None => (&g.positions[..], &g.normals[..], &g.tangents[..]),
            };
            if morphed.is_some() && !positions.iter().all(|p| p.is_finite()) {
                let field = format!("meshes[{}].primitives[{p}].targets", instance.mesh);
                let message = format!("at weights {weights:?} the morph targets move vertices to non-finite positions");
                return Err(SceneError::field(&scene.path, field, message));
            }
            let material = prim.material.map_or(default_material, |m| m as u32);
            out.uses_default_material |= prim.material.is_none();
            let alpha_tested =
                scene.materials.get(material as usize).is_some_and(|m| m.flags & flat::MAT_ALPHA_MASK != 0);
            let flags = if alpha_tested { flat::TRI_ALPHA_TESTED } else { 0 };
            let base = out.vertices.len() as u32;
            let skinned: Option<Vec<Placement>> = joints
                .as_ref()
                .filter(|_| !g.skin.is_empty())
                .map(|joints| (0..positions.len()).map(|i| Placement::new(skin_matrix(g, i, joints))).collect());
            let place = |i: usize| skinned.as_ref().map_or(&rigid, |s| &s[i]);
            out.vertices.extend((0..positions.len()).map(|i| {
                let p = place(i);
                let normal = (p.normal * normals[i]).try_normalize().unwrap_or(Vec3::Z);
                let tangent = tangents.get(i).map_or([0.0; 4], |t| {
                    let xyz = (p.linear * t.truncate()).try_normalize().unwrap_or(Vec3::X);
                    xyz.extend(t.w * p.handedness).to_array()
                });
                Vertex {
                    normal: normal.to_array(),
                    _pad: 0.0,
                    tangent,
                    uv0: g.uv0.get(i).map_or([0.0; 2], |uv| uv.to_array()),
                    uv1: g.uv1.get(i).map_or([0.0; 2], |uv| uv.to_array()),
                }
            }));
            let world: Vec<Vec3> =
                positions.iter().enumerate().map(|(i, &v)| place(i).matrix.transform_point3(v)).collect();
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
    Ok(out)
}

/// A primitive's attributes with its morph targets applied.
struct Morphed {
    positions: Vec<Vec3>,
    normals: Vec<Vec3>,
    tangents: Vec<Vec4>,
}

/// `g` displaced by `weights` times its targets' deltas (glTF morphing: the
/// weighted sum is added to the base attribute); `None` when nothing moves.
/// Face normals made at load are made again from the morphed positions.
fn morph(g: &super::Geometry, weights: &[f32]) -> Option<Morphed> {
    let active: Vec<(f32, &super::MorphTarget)> =
        weights.iter().zip(&g.targets).filter(|(&w, _)| w != 0.0).map(|(&w, t)| (w, t)).collect();
    if active.is_empty() {
        return None;
    }
    let displaced = |base: &[Vec3], deltas: fn(&super::MorphTarget) -> &Vec<Vec3>| -> Vec<Vec3> {
        let mut out = base.to_vec();
        for &(w, target) in &active {
            for (o, d) in out.iter_mut().zip(deltas(target)) {
                *o += w * *d;
            }
        }
        out
    };
    let positions = displaced(&g.positions, |t| &t.positions);
    let normals = if g.flat {
        let face = |t: &[u32; 3]| {
            let [a, b, c] = t.map(|i| positions[i as usize]);
            (b - a).cross(c - a).try_normalize().unwrap_or(Vec3::Z)
        };
        let mut normals = vec![Vec3::Z; positions.len()];
        for t in &g.triangles {
            t.iter().for_each(|&i| normals[i as usize] = face(t));
        }
        normals
    } else {
        displaced(&g.normals, |t| &t.normals)
    };
    let xyz: Vec<Vec3> = g.tangents.iter().map(|t| t.truncate()).collect();
    let tangents = displaced(&xyz, |t| &t.tangents).into_iter().zip(&g.tangents).map(|(v, t)| v.extend(t.w)).collect();
    Some(Morphed { positions, normals, tangents })
}

/// How a vertex is carried into world space: points by `matrix`, normals by the
/// inverse transpose of its linear part, tangents by the linear part (their sign
/// flips with a mirroring transform).
struct Placement {
    matrix: Mat4,
    linear: Mat3,
    normal: Mat3,
    handedness: f32,
}

impl Placement {
    fn new(matrix: Mat4) -> Self {
        let linear = Mat3::from_mat4(matrix);
        let det = linear.determinant();
        let normal = if det != 0.0 { linear.inverse().transpose() } else { linear };
        Placement { matrix, linear, normal, handedness: if det < 0.0 { -1.0 } else { 1.0 } }
    }
}

/// The weighted sum of a vertex's joint matrices (glTF skinning).
fn skin_matrix(g: &super::Geometry, vertex: usize, joints: &[Mat4]) -> Mat4 {
    let mut sum = Mat4::ZERO;
    for set in &g.skin {
        for (&j, &w) in set.joints[vertex].iter().zip(&set.weights[vertex]) {
            if w != 0.0 {
                sum += joints[j as usize] * w;
            }
        }
    }
    sum
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
