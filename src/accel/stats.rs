//! Shape and quality of a built BVH, for `tessera info`.

use std::fmt;

use super::bounds::Aabb;
use super::build::{SAH_INTERSECT_COST, SAH_TRAVERSAL_COST};
use crate::scene::flat::BvhNode;

/// Summary of a BVH.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BvhStats {
    pub nodes: usize,
    pub leaves: usize,
    /// Triangle slots referenced by the leaves.
    pub triangles: usize,
    /// Depth of the deepest node (the root is at depth 0).
    pub max_depth: u32,
    pub mean_leaf_triangles: f64,
    pub max_leaf_triangles: u32,
    /// Expected cost of tracing a ray that hits the root box, by the surface area
    /// heuristic with [`SAH_TRAVERSAL_COST`] per interior node and
    /// [`SAH_INTERSECT_COST`] per triangle: each node's cost weighted by its surface
    /// area over the root's.
    pub sah_cost: f64,
}

/// Walks the tree from the root. Tolerates malformed input: children outside `nodes`
/// are not counted, and no more than `nodes.len()` nodes are visited.
pub fn stats(nodes: &[BvhNode]) -> BvhStats {
    let mut s = BvhStats::default();
    let Some(root) = nodes.first() else {
        return s;
    };
    let root_area = Aabb::of_node(root).area() as f64;
    let mut weighted_cost = 0.0;
    let mut stack = vec![(0usize, 0u32)];
    while let Some((index, depth)) = stack.pop() {
        let Some(node) = nodes.get(index).filter(|_| s.nodes < nodes.len()) else {
            continue;
        };
        s.nodes += 1;
        s.max_depth = s.max_depth.max(depth);
        let area = Aabb::of_node(node).area() as f64;
        if node.count > 0 {
            s.leaves += 1;
            s.triangles += node.count as usize;
            s.max_leaf_triangles = s.max_leaf_triangles.max(node.count);
            weighted_cost += SAH_INTERSECT_COST as f64 * node.count as f64 * area;
        } else {
            weighted_cost += SAH_TRAVERSAL_COST as f64 * area;
            let child = node.index as usize;
            stack.extend([(child, depth + 1), (child + 1, depth + 1)]);
        }
    }
    s.mean_leaf_triangles = s.triangles as f64 / s.leaves.max(1) as f64;
    s.sah_cost = if root_area > 0.0 { weighted_cost / root_area } else { 0.0 };
    s
}

impl fmt::Display for BvhStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} nodes, {} leaves, depth {}, {:.2} triangles per leaf (max {}), SAH cost {:.2} \
             (traversal {}, triangle {})",
            self.nodes,
            self.leaves,
            self.max_depth,
            self.mean_leaf_triangles,
            self.max_leaf_triangles,
            self.sah_cost,
            SAH_TRAVERSAL_COST,
            SAH_INTERSECT_COST
        )
    }
}
