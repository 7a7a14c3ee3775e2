//! Motion blur on the CPU: the flat scene at one instant of the shutter.
//!
//! A camera sample draws its time `u` in [0, 1) over the shutter from its own
//! dimension group ([`GROUP_TIME`]), so the other numbers of a path do not change
//! with motion blur, and a frame that does not move never draws it (its image is
//! the same bits with blur on or off). The instant falls in segment `s` between
//! motion keys `s` and `s + 1` at fraction `f`; moving triangles, their vertex
//! normals and tangents, and a moving camera are interpolated linearly there (the
//! keys themselves are posed from the animation's decomposed TRS curves, so more
//! keys, `--motion-steps`, follow curved motion). Rays meet the static triangles
//! through the scene's BVH and the moving ones through segment `s`'s refitted BVH
//! ([`crate::scene::flat::MotionHeader`]).

use glam::{Vec3, Vec4};

use crate::accel::{self, Hit, Ray};
use crate::sampling::rng::{sample4, GROUP_TIME};
use crate::scene::flat::{BvhNode, Camera, FlatScene, Triangle, Vertex};

/// An instant of the shutter: between motion keys `segment` and `segment + 1`, at
/// `fraction` of the way. `None` stands for a frame that holds still.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Instant {
    pub segment: u32,
    pub fraction: f32,
}

/// The instant camera sample `sample` of pixel (px, py) sees; `None` when the
/// frame does not move.
pub fn sample_instant(scene: &FlatScene, seed: u32, px: u32, py: u32, sample: u32) -> Option<Instant> {
    scene.moves().then(|| instant(scene.motion.keys, sample4(seed, px, py, sample, GROUP_TIME)[0]))
}

/// The instant at shutter time `u` in [0, 1] with `keys` motion keys (≥ 2).
pub fn instant(keys: u32, u: f32) -> Instant {
    let segments = keys - 1;
    let scaled = u * segments as f32;
    let segment = (scaled as u32).min(segments - 1);
    Instant { segment, fraction: scaled - segment as f32 }
}

fn lerp3(a: [f32; 3], b: [f32; 3], f: f32) -> Vec3 {
    Vec3::from(a).lerp(Vec3::from(b), f)
}

/// The camera at `at` (the header's camera when it holds still).
pub fn camera(scene: &FlatScene, at: Option<Instant>) -> Camera {
    match at {
        Some(at) if scene.motion.camera_keys >= 2 => {
            let (a, b) = (&scene.motion_cameras[at.segment as usize], &scene.motion_cameras[at.segment as usize + 1]);
            let f = at.fraction;
            Camera {
                origin: lerp3(a.origin, b.origin, f).to_array(),
                right: lerp3(a.right, b.right, f).to_array(),
                up: lerp3(a.up, b.up, f).to_array(),
                forward: lerp3(a.forward, b.forward, f).to_array(),
                ..*a
            }
        }
        _ => scene.header.camera,
    }
}

/// Triangle `tri` of [`FlatScene::triangles`] at `at`: a static one as stored, a
/// moving one with its positions interpolated between its two keys.
#[inline]
pub fn triangle(scene: &FlatScene, tri: u32, at: Option<Instant>) -> Triangle {
    let stored = scene.triangles[tri as usize];
    let m = &scene.motion;
    match at {
        Some(at) if tri >= m.static_triangles => {
            let moving = (tri - m.static_triangles) as usize;
            let key = |k: u32| &scene.motion_triangles[k as usize * m.moving_triangles as usize + moving];
            let (a, b) = (key(at.segment), key(at.segment + 1));
            let f = at.fraction;
            Triangle {
                v0: lerp3(a.v0, b.v0, f).to_array(),
                e1: lerp3(a.e1, b.e1, f).to_array(),
                e2: lerp3(a.e2, b.e2, f).to_array(),
                ..stored
            }
        }
        _ => stored,
    }
}

/// Vertex `v` of [`FlatScene::vertices`] at `at` (normal and tangent
/// interpolated for a moving one; texture coordinates do not move).
#[inline]
pub fn vertex(scene: &FlatScene, v: u32, at: Option<Instant>) -> Vertex {
    let stored = scene.vertices[v as usize];
    let m = &scene.motion;
    match at {
        Some(at) if v >= m.static_vertices => {
            let moving = (v - m.static_vertices) as usize;
            let key = |k: u32| &scene.motion_vertices[k as usize * m.moving_vertices as usize + moving];
            let (a, b) = (key(at.segment), key(at.segment + 1));
            let f = at.fraction;
            let tangent = Vec4::from(a.tangent).lerp(Vec4::from(b.tangent), f);
            Vertex { normal: lerp3(a.normal, b.normal, f).to_array(), tangent: tangent.to_array(), ..stored }
        }
        _ => stored,
    }
}

/// The nodes of the moving triangles' BVH for `at`'s segment.
fn segment_nodes(scene: &FlatScene, at: Instant) -> &[BvhNode] {
    let n = scene.motion.moving_nodes as usize;
    &scene.motion_nodes[at.segment as usize * n..(at.segment as usize + 1) * n]
}

/// Closest hit at `at` ([`accel::intersect`] over the static and the moving
/// triangles); `tri` indices are those of [`FlatScene::triangles`].
pub fn intersect(
    scene: &FlatScene,
    ray: &Ray,
    t_max: f32,
    at: Option<Instant>,
    mut accept: impl FnMut(u32, f32, f32) -> bool,
) -> Option<Hit> {
    let hit = accel::intersect(&scene.nodes, &scene.triangles, ray, t_max, &mut accept);
    let Some(at) = at else { return hit };
    let first = scene.motion.static_triangles;
    let closest = hit.map_or(t_max, |h| h.t);
    let pose = |i: usize| triangle(scene, first + i as u32, Some(at));
    let moving = accel::intersect_by(segment_nodes(scene, at), pose, ray, closest, |i, u, v| accept(first + i, u, v));
    moving.map(|h| Hit { tri: first + h.tri, ..h }).or(hit)
}

/// Whether anything lies along the ray in (0, t_max) at `at` ([`accel::occluded`]).
pub fn occluded(
    scene: &FlatScene,
    ray: &Ray,
    t_max: f32,
    at: Option<Instant>,
    mut accept: impl FnMut(u32, f32, f32) -> bool,
) -> bool {
    if accel::occluded(&scene.nodes, &scene.triangles, ray, t_max, &mut accept) {
        return true;
    }
    let Some(at) = at else { return false };
    let first = scene.motion.static_triangles;
    let pose = |i: usize| triangle(scene, first + i as u32, Some(at));
    accel::occluded_by(segment_nodes(scene, at), pose, ray, t_max, |i, u, v| accept(first + i, u, v))
}
