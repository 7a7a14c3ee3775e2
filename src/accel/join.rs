//! Two BVHs under one root: a scene's static part, built once, and the part that
//! moves, rebuilt every frame. The result is an ordinary [`Bvh`] node array, so
//! every backend traverses it unchanged.

use glam::Vec3;

use super::build::MAX_DEPTH;
use super::traverse::STACK_SIZE;
use crate::scene::flat::BvhNode;

// The join adds one level above the deeper tree.
const _: () = assert!((MAX_DEPTH as usize + 1) < STACK_SIZE);

/// Joins `first` (over triangles `0..first_triangles`) and `second` (over the
/// triangles that follow) under a new root. Either may be empty. Child pairs stay
/// at odd indices: `first`'s nodes move by 2 and `second`'s by `first.len() + 1`,
/// both even because a tree holds an odd number of nodes.
pub fn join(first: &[BvhNode], first_triangles: u32, second: &[BvhNode]) -> Vec<BvhNode> {
    if first.is_empty() || second.is_empty() {
        let (only, offset) = if first.is_empty() { (second, first_triangles) } else { (first, 0) };
        return only.iter().map(|&n| if n.count > 0 { BvhNode { index: n.index + offset, ..n } } else { n }).collect();
    }
    let moved = |nodes: &[BvhNode], shift: u32, triangles: u32| -> Vec<BvhNode> {
        nodes
            .iter()
            .map(|&n| {
                let index = if n.count > 0 { n.index + triangles } else { n.index + shift };
                BvhNode { index, ..n }
            })
            .collect()
    };
    // Node j ≥ 1 of `first` lands at j + 2; node j ≥ 1 of `second` at j + first.len() + 1.
    let a = moved(first, 2, 0);
    let b = moved(second, first.len() as u32 + 1, first_triangles);
    let (f, s) = (&first[0], &second[0]);
    let root = BvhNode {
        bmin: Vec3::from(f.bmin).min(Vec3::from(s.bmin)).to_array(),
        index: 1,
        bmax: Vec3::from(f.bmax).max(Vec3::from(s.bmax)).to_array(),
        count: 0,
    };
    let mut out = Vec::with_capacity(first.len() + second.len() + 1);
    out.extend([root, a[0], b[0]]);
    out.extend_from_slice(&a[1..]);
    out.extend_from_slice(&b[1..]);
    out
}
