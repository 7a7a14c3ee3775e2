//! Refitting: a built tree's boxes recomputed for other triangle positions, its
//! topology and leaf order kept. Motion blur refits one tree for each segment
//! between two motion keys, so that a moving triangle is bounded by where it is
//! during that segment, not over the whole shutter.

use glam::Vec3;

use crate::scene::flat::BvhNode;

/// `nodes` with every box made the union of `boxes[i]` over the triangles below it
/// (`boxes` in leaf order, as the leaves index them).
pub fn refit(nodes: &[BvhNode], boxes: &[(Vec3, Vec3)]) -> Vec<BvhNode> {
    let mut out = nodes.to_vec();
    if out.is_empty() {
        return out;
    }
    // Children sit after their parent, so one pass from the back sees them first.
    for i in (0..out.len()).rev() {
        let node = out[i];
        let (lo, hi) = if node.count > 0 {
            let leaf = &boxes[node.index as usize..(node.index + node.count) as usize];
            leaf.iter().fold((Vec3::INFINITY, Vec3::NEG_INFINITY), |(l, h), b| (l.min(b.0), h.max(b.1)))
        } else {
            let (a, b) = (out[node.index as usize], out[node.index as usize + 1]);
            (Vec3::from(a.bmin).min(Vec3::from(b.bmin)), Vec3::from(a.bmax).max(Vec3::from(b.bmax)))
        };
        out[i] = BvhNode { bmin: lo.to_array(), bmax: hi.to_array(), ..node };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refitting_to_the_built_positions_gives_the_built_boxes() {
        let corners: Vec<[Vec3; 3]> = (0..40)
            .map(|i| {
                let p = Vec3::new((i * 7 % 13) as f32, (i * 3 % 5) as f32, i as f32 * 0.5);
                [p, p + Vec3::X, p + Vec3::Y * 0.5]
            })
            .collect();
        let bvh = crate::accel::build(&corners);
        let bound = |c: &[Vec3; 3]| (c[0].min(c[1]).min(c[2]), c[0].max(c[1]).max(c[2]));
        let boxes: Vec<_> = bvh.order.iter().map(|&i| bound(&corners[i as usize])).collect();
        assert_eq!(refit(&bvh.nodes, &boxes), bvh.nodes);
        // Moved by one along x, every box moves with them.
        let moved: Vec<_> = boxes.iter().map(|(l, h)| (*l + Vec3::X, *h + Vec3::X)).collect();
        let refitted = refit(&bvh.nodes, &moved);
        for (a, b) in refitted.iter().zip(&bvh.nodes) {
            assert_eq!((a.bmin[0], a.bmax[0], a.index, a.count), (b.bmin[0] + 1.0, b.bmax[0] + 1.0, b.index, b.count));
        }
    }
}
