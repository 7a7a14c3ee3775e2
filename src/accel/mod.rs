//! Bounding volume hierarchy: binned SAH build (parallel) into the flat
//! [`BvhNode`] layout, and CPU traversal.

use glam::Vec3;

use crate::scene::flat::{BvhNode, Triangle, TRI_ALPHA_TESTED};

/// A built BVH: nodes (root at 0) and, for each triangle slot in leaf order, the
/// index of the input triangle that goes there.
#[derive(Clone, Debug, Default)]
pub struct Bvh {
    pub nodes: Vec<BvhNode>,
    pub order: Vec<u32>,
}

/// Builds a BVH over triangles given by their three vertices.
/// (Placeholder: one leaf holding every triangle in input order.)
pub fn build(triangles: &[[Vec3; 3]]) -> Bvh {
    let (mut lo, mut hi) = (Vec3::INFINITY, Vec3::NEG_INFINITY);
    for v in triangles.iter().flatten() {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    let node = BvhNode { bmin: lo.to_array(), index: 0, bmax: hi.to_array(), count: triangles.len() as u32 };
    Bvh { nodes: vec![node], order: (0..triangles.len() as u32).collect() }
}

/// Möller–Trumbore ray/triangle test: `(t, u, v)` when the ray hits in (0, t_max).
#[inline]
pub fn intersect_triangle(tri: &Triangle, ray: &Ray, t_max: f32) -> Option<(f32, f32, f32)> {
    let (v0, e1, e2) = (Vec3::from(tri.v0), Vec3::from(tri.e1), Vec3::from(tri.e2));
    let p = ray.dir.cross(e2);
    let det = e1.dot(p);
    if det == 0.0 {
        return None;
    }
    let inv_det = 1.0 / det;
    let s = ray.origin - v0;
    let u = s.dot(p) * inv_det;
    if !(0.0..=1.0).contains(&u) {
        return None;
    }
    let q = s.cross(e1);
    let v = ray.dir.dot(q) * inv_det;
    if v < 0.0 || u + v > 1.0 {
        return None;
    }
    let t = e2.dot(q) * inv_det;
    (t > 0.0 && t < t_max).then_some((t, u, v))
}

/// A ray; `dir` need not be normalised (hit distances are in units of `dir`).
#[derive(Clone, Copy, Debug)]
pub struct Ray {
    pub origin: Vec3,
    pub dir: Vec3,
}

/// Closest hit: distance, barycentrics `u` (of v1) and `v` (of v2), triangle index.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    pub t: f32,
    pub u: f32,
    pub v: f32,
    pub tri: u32,
}

/// Closest hit with `t` in (0, t_max). For triangles flagged `TRI_ALPHA_TESTED`,
/// `accept(tri, u, v)` decides whether the hit counts (alpha cutout).
/// (Placeholder: tests every triangle.)
pub fn intersect(
    _nodes: &[BvhNode],
    tris: &[Triangle],
    ray: &Ray,
    t_max: f32,
    mut accept: impl FnMut(u32, f32, f32) -> bool,
) -> Option<Hit> {
    let mut best: Option<Hit> = None;
    for (i, tri) in tris.iter().enumerate() {
        let limit = best.map_or(t_max, |h| h.t);
        if let Some((t, u, v)) = intersect_triangle(tri, ray, limit) {
            if tri.flags & TRI_ALPHA_TESTED == 0 || accept(i as u32, u, v) {
                best = Some(Hit { t, u, v, tri: i as u32 });
            }
        }
    }
    best
}

/// Whether anything (accepted as in [`intersect`]) lies along the ray in (0, t_max).
pub fn occluded(
    nodes: &[BvhNode],
    tris: &[Triangle],
    ray: &Ray,
    t_max: f32,
    accept: impl FnMut(u32, f32, f32) -> bool,
) -> bool {
    intersect(nodes, tris, ray, t_max, accept).is_some()
}
