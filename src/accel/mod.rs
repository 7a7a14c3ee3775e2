//! Bounding volume hierarchy: binned SAH build (parallel) into the flat
//! [`BvhNode`](crate::scene::flat::BvhNode) layout, and CPU traversal.
//!
//! [`build`] returns the nodes and the leaf order of the triangles; the scene puts
//! its triangles in that order ([`Bvh::reorder`]) so that leaves address them
//! directly. [`intersect`] and [`occluded`] are the reference traversal that the
//! GPU backends mirror; [`stats`] summarises a tree.

mod bounds;
mod build;
mod join;
mod refit;
mod stats;
mod traverse;

#[cfg(test)]
mod tests;

use glam::Vec3;

pub use build::{build, BINS, MAX_DEPTH, MAX_LEAF_SIZE, SAH_INTERSECT_COST, SAH_TRAVERSAL_COST};
pub use join::join;
pub use refit::refit;
pub use stats::{stats, BvhStats};
pub use traverse::{intersect, intersect_by, intersect_triangle, occluded, occluded_by, STACK_SIZE};

/// A built BVH: nodes (root at 0) and, for each triangle slot in leaf order, the
/// index of the input triangle that goes there.
///
/// Every child pair starts at an odd index, so a node array placed 32 bytes past a
/// 64-byte boundary keeps each pair in one cache line.
#[derive(Clone, Debug, Default)]
pub struct Bvh {
    pub nodes: Vec<crate::scene::flat::BvhNode>,
    pub order: Vec<u32>,
}

impl Bvh {
    /// Per-triangle data (one entry per input triangle of [`build`]) put in leaf order.
    pub fn reorder<T: Clone>(&self, items: &[T]) -> Vec<T> {
        self.order.iter().map(|&i| items[i as usize].clone()).collect()
    }
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
