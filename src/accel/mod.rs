//! Bounding volume hierarchy: binned SAH build (parallel) into the flat
//! [`BvhNode`] layout, and CPU traversal.

use glam::Vec3;

use crate::scene::flat::{BvhNode, Triangle};

/// A built BVH: nodes (root at 0) and, for each triangle slot in leaf order, the
/// index of the input triangle that goes there.
#[derive(Clone, Debug, Default)]
pub struct Bvh {
    pub nodes: Vec<BvhNode>,
    pub order: Vec<u32>,
}

/// Builds a BVH over triangles given by their three vertices.
pub fn build(_triangles: &[[Vec3; 3]]) -> Bvh {
    Bvh::default()
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
pub fn intersect(
    _nodes: &[BvhNode],
    _tris: &[Triangle],
    _ray: &Ray,
    _t_max: f32,
    _accept: impl FnMut(u32, f32, f32) -> bool,
) -> Option<Hit> {
    None
}

/// Whether anything (accepted as in [`intersect`]) lies along the ray in (0, t_max).
pub fn occluded(
    _nodes: &[BvhNode],
    _tris: &[Triangle],
    _ray: &Ray,
    _t_max: f32,
    _accept: impl FnMut(u32, f32, f32) -> bool,
) -> bool {
    false
}
