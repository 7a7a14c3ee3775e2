//! Binned SAH build, parallel with rayon, into the flat [`BvhNode`] layout.
//!
//! Top-down: at each node the triangles' centroids are sorted into [`BINS`] equal
//! slots (fewer for small nodes) along each axis of the centroid bounds, and every
//! boundary between slots is a candidate split, priced by the surface area heuristic
//! (SAH): `C_trav · A + C_tri · (A_left · N_left + A_right · N_right)` against
//! `C_tri · N · A` for a leaf (`A` = surface area, `N` = triangle count). A node
//! becomes a leaf when it holds one triangle, or at most [`MAX_LEAF_SIZE`] and no split
//! pays. When every centroid coincides (no split separates anything) the node is split
//! at the object median instead.
//!
//! Layout: the root is node 0 and child pairs are appended after it, so every pair
//! starts at an odd index.
//!
//! Determinism: every decision is a pure function of the input. Subtrees are built in
//! parallel, each into its own node array, and joined in a fixed order; large nodes
//! are binned in fixed-size chunks merged in order. So the same triangles give the
//! same nodes and order, bit for bit, on any number of threads.

use glam::{Vec3, Vec3A};
use rayon::prelude::*;

use super::bounds::Aabb;
use super::Bvh;
use crate::scene::flat::BvhNode;

/// SAH cost of visiting an interior node (two box tests), in units of one triangle test.
pub const SAH_TRAVERSAL_COST: f32 = 1.0;
/// SAH cost of one ray/triangle test.
pub const SAH_INTERSECT_COST: f32 = 1.0;
/// Centroid slots per axis.
pub const BINS: usize = 32;
/// Most triangles in one leaf; larger nodes are split even when SAH says it does not pay.
pub const MAX_LEAF_SIZE: usize = 8;
/// From this depth (root = 0) nodes are split at the object median, which halves
/// them, instead of by SAH, which may peel off one triangle at a time.
const SAH_DEPTH_LIMIT: u32 = 32;
/// The deepest any node can be: `SAH_DEPTH_LIMIT` plus the median splits that take
/// up to 2³² triangles down to leaves of [`MAX_LEAF_SIZE`] (2³² / 2²⁹ = 8).
pub const MAX_DEPTH: u32 = SAH_DEPTH_LIMIT + 29;

/// Subtrees with fewer triangles are built on one thread.
const PARALLEL_SUBTREE_MIN: usize = 4096;
/// Nodes with at least this many triangles are bounded and binned in parallel ...
const PARALLEL_BINNING_MIN: usize = 1 << 16;
/// ... in chunks of this many triangles, merged in order.
const PARALLEL_CHUNK: usize = 1 << 14;

/// Builds a BVH over triangles given by their three vertices (at most `u32::MAX`).
/// No triangles give no nodes. A triangle with a non-finite vertex can never be hit;
/// it is placed as a point at the origin so that it cannot spoil any bounds.
pub fn build(triangles: &[[Vec3; 3]]) -> Bvh {
    if triangles.is_empty() {
        return Bvh::default();
    }
    let mut refs: Vec<PrimRef> = triangles
        .par_iter()
        .enumerate()
        .map(|(i, vertices)| {
            let finite = vertices.iter().all(|v| v.is_finite());
            let bounds = if finite { Aabb::from_points(vertices) } else { Aabb::POINT_AT_ORIGIN };
            PrimRef { bounds, tri: i as u32 }
        })
        .collect();
    let nodes = build_subtree(&mut refs, 0, 0).flatten();
    let order = refs.par_iter().map(|r| r.tri).collect();
    Bvh { nodes, order }
}

/// A triangle during the build: its bounds and its index in the input.
#[derive(Clone, Copy)]
struct PrimRef {
    bounds: Aabb,
    tri: u32,
}

impl PrimRef {
    #[inline]
    fn centroid(&self) -> Vec3A {
        self.bounds.center()
    }
}

/// A subtree before flattening.
enum Subtree {
    /// Built on one thread: nodes in the flat layout, indices local to this array.
    Local(Vec<BvhNode>),
    /// An interior node whose two children were built in parallel.
    Fork(Aabb, Box<[Subtree; 2]>),
}

/// Builds the subtree over `refs`, which occupy slots `first..` of the final order,
/// for a node at `depth`.
fn build_subtree(refs: &mut [PrimRef], first: u32, depth: u32) -> Subtree {
    let mut bins = EMPTY_BINS;
    if refs.len() < PARALLEL_SUBTREE_MIN {
        let mut nodes = Vec::with_capacity(2 * refs.len() - 1);
        nodes.push(BvhNode::default());
        build_local(&mut nodes, &mut bins, 0, refs, first, depth);
        return Subtree::Local(nodes);
    }
    let (bounds, split) = split_node(refs, depth, &mut bins);
    let Some(mid) = split else {
        return Subtree::Local(vec![node(bounds, first, refs.len() as u32)]);
    };
    let (left, right) = refs.split_at_mut(mid);
    let (left, right) =
        rayon::join(|| build_subtree(left, first, depth + 1), || build_subtree(right, first + mid as u32, depth + 1));
    Subtree::Fork(bounds, Box::new([left, right]))
}

/// Builds the subtree over `refs` on this thread; its root goes to `nodes[slot]`,
/// every child pair is appended to `nodes`. `bins` is scratch space.
fn build_local(nodes: &mut Vec<BvhNode>, bins: &mut Bins, slot: usize, refs: &mut [PrimRef], first: u32, depth: u32) {
    let (bounds, split) = split_node(refs, depth, bins);
    let built = match split {
        None => node(bounds, first, refs.len() as u32),
        Some(mid) => {
            let child = nodes.len();
            nodes.extend([BvhNode::default(); 2]);
            let (left, right) = refs.split_at_mut(mid);
            build_local(nodes, bins, child, left, first, depth + 1);
            build_local(nodes, bins, child + 1, right, first + mid as u32, depth + 1);
            node(bounds, child as u32, 0)
        }
    };
    nodes[slot] = built;
}

fn node(bounds: Aabb, index: u32, count: u32) -> BvhNode {
    BvhNode { bmin: bounds.min.to_array(), index, bmax: bounds.max.to_array(), count }
}

impl Subtree {
    fn node_count(&self) -> usize {
        match self {
            Subtree::Local(nodes) => nodes.len(),
            Subtree::Fork(_, children) => 1 + children.iter().map(Subtree::node_count).sum::<usize>(),
        }
    }

    /// The final node array, root at 0.
    fn flatten(self) -> Vec<BvhNode> {
        let mut out = Vec::with_capacity(self.node_count());
        out.push(BvhNode::default());
        self.place(0, &mut out);
        out
    }

    /// Writes this subtree's root to `out[slot]` and its other nodes to the end of `out`.
    fn place(self, slot: usize, out: &mut Vec<BvhNode>) {
        match self {
            Subtree::Local(nodes) => {
                // Local node j ≥ 1 lands at out.len() + j - 1.
                let offset = out.len() as u32 - 1;
                let relocated = |mut n: BvhNode| {
                    if n.count == 0 {
                        n.index += offset;
                    }
                    n
                };
                out[slot] = relocated(nodes[0]);
                out.extend(nodes[1..].iter().map(|&n| relocated(n)));
            }
            Subtree::Fork(bounds, children) => {
                let child = out.len();
                out.extend([BvhNode::default(); 2]);
                out[slot] = node(bounds, child as u32, 0);
                let [left, right] = *children;
                left.place(child, out);
                right.place(child + 1, out);
            }
        }
    }
}

/// Decides how the node over `refs` (at `depth`) is built. Returns its bounds and,
/// when it is split, the number of triangles that go to the left child, having
/// partitioned `refs` so that they come first. `bins` is scratch space.
fn split_node(refs: &mut [PrimRef], depth: u32, bins: &mut Bins) -> (Aabb, Option<usize>) {
    let n = refs.len();
    let (bounds, centroids) = in_chunks(
        refs,
        |chunk| {
            chunk.iter().fold((Aabb::EMPTY, Aabb::EMPTY), |(b, c), r| (b.union(r.bounds), c.with_point(r.centroid())))
        },
        |(b1, c1), (b2, c2)| (b1.union(b2), c1.union(c2)),
    );
    if n == 1 {
        return (bounds, None);
    }
    if depth >= SAH_DEPTH_LIMIT {
        return (bounds, (n > MAX_LEAF_SIZE).then(|| median_split(refs, &centroids)));
    }
    let binning = Binning::new(&centroids, n);
    binning.fill(bins, refs);
    let mid = match best_split(bins, binning.count) {
        Some(split) => {
            let area = bounds.area();
            let leaf_cost = SAH_INTERSECT_COST * n as f32 * area;
            let split_cost = SAH_TRAVERSAL_COST * area + SAH_INTERSECT_COST * split.cost;
            if n <= MAX_LEAF_SIZE && leaf_cost <= split_cost {
                return (bounds, None);
            }
            let mid = partition(refs, |r| binning.slots(r.centroid())[split.axis] < split.bin);
            debug_assert!(0 < mid && mid < n, "binning and partition disagree");
            mid
        }
        None if n > MAX_LEAF_SIZE => median_split(refs, &centroids),
        None => return (bounds, None),
    };
    (bounds, Some(mid))
}

/// `f` over all of `refs`, or for large nodes over fixed-size chunks in parallel,
/// the results merged in chunk order. `f(&[])` must be the identity of `merge`.
fn in_chunks<T: Send>(refs: &[PrimRef], f: impl Fn(&[PrimRef]) -> T + Sync, merge: impl Fn(T, T) -> T) -> T {
    if refs.len() < PARALLEL_BINNING_MIN {
        return f(refs);
    }
    let parts: Vec<T> = refs.par_chunks(PARALLEL_CHUNK).map(&f).collect();
    parts.into_iter().fold(f(&[]), merge)
}

/// Maps centroids to slots: `count` equal slots over the centroid bounds per axis.
struct Binning {
    origin: Vec3A,
    /// Slots per unit length; 0 on an axis where all centroids coincide.
    scale: Vec3A,
    /// [`BINS`], or fewer for small nodes, where sweeping 32 slots would cost more
    /// than the triangles: four per triangle, at least eight.
    count: usize,
}

impl Binning {
    fn new(centroids: &Aabb, triangles: usize) -> Self {
        let count = (4 * triangles).clamp(8, BINS);
        let extent = centroids.max - centroids.min;
        let scale = Vec3A::from_array(extent.to_array().map(|e| {
            let s = count as f32 / e;
            if e > 0.0 && s.is_finite() {
                s
            } else {
                0.0
            }
        }));
        Self { origin: centroids.min, scale, count }
    }

    /// The slots of centroid `c` along the three axes. Clamped (NaN → 0), so every
    /// centroid lands in some slot.
    #[inline]
    fn slots(&self, c: Vec3A) -> [usize; 3] {
        let last = (self.count - 1) as f32;
        let slot = ((c - self.origin) * self.scale).max(Vec3A::ZERO).min(Vec3A::splat(last));
        slot.to_array().map(|x| x as i32 as usize)
    }

    /// Sets the first `count` slots of each axis to the triangles in `refs`.
    fn fill(&self, bins: &mut Bins, refs: &[PrimRef]) {
        if refs.len() < PARALLEL_BINNING_MIN {
            for axis_bins in bins.iter_mut() {
                axis_bins[..self.count].fill(Bin::EMPTY);
            }
            self.add(bins, refs);
            return;
        }
        let binned = |chunk: &[PrimRef]| {
            let mut part = Box::new(EMPTY_BINS);
            self.add(&mut part, chunk);
            part
        };
        *bins = *in_chunks(refs, binned, |mut a, b| {
            for (x, y) in a.iter_mut().flatten().zip(b.iter().flatten()) {
                x.bounds = x.bounds.union(y.bounds);
                x.count += y.count;
            }
            a
        });
    }

    fn add(&self, bins: &mut Bins, refs: &[PrimRef]) {
        for r in refs {
            let slots = self.slots(r.centroid());
            for (axis_bins, slot) in bins.iter_mut().zip(slots) {
                let bin = &mut axis_bins[slot];
                bin.bounds = bin.bounds.union(r.bounds);
                bin.count += 1;
            }
        }
    }
}

#[derive(Clone, Copy)]
struct Bin {
    bounds: Aabb,
    count: u32,
}

impl Bin {
    const EMPTY: Self = Self { bounds: Aabb::EMPTY, count: 0 };
}

/// Slots per axis.
type Bins = [[Bin; BINS]; 3];
const EMPTY_BINS: Bins = [[Bin::EMPTY; BINS]; 3];

/// A candidate split: triangles in slots `..bin` of `axis` go left.
struct Split {
    axis: usize,
    bin: usize,
    /// `A_left · N_left + A_right · N_right`.
    cost: f32,
}

/// The cheapest split between the first `count` slots that leaves neither side
/// empty; `None` when there is none (or no finite cost, which sends the node to the
/// median split).
fn best_split(bins: &Bins, count: usize) -> Option<Split> {
    let mut best: Option<Split> = None;
    let mut best_cost = f32::INFINITY;
    for (axis, bins) in bins.iter().enumerate() {
        let bins = &bins[..count];
        // Right-to-left sweep: cost and count of slots i.. for every boundary i.
        let mut right_cost = [0.0; BINS];
        let mut right_count = [0; BINS];
        let (mut bounds, mut count) = (Aabb::EMPTY, 0);
        for i in (1..bins.len()).rev() {
            bounds = bounds.union(bins[i].bounds);
            count += bins[i].count;
            right_cost[i] = bounds.area() * count as f32;
            right_count[i] = count;
        }
        // Left-to-right sweep completes each boundary's cost.
        let (mut bounds, mut count) = (Aabb::EMPTY, 0);
        for i in 1..bins.len() {
            bounds = bounds.union(bins[i - 1].bounds);
            count += bins[i - 1].count;
            if count == 0 || right_count[i] == 0 {
                continue;
            }
            let cost = bounds.area() * count as f32 + right_cost[i];
            if cost < best_cost {
                best_cost = cost;
                best = Some(Split { axis, bin: i, cost });
            }
        }
    }
    best
}

/// Moves the triangles for which `is_left` holds to the front; returns their number.
fn partition(refs: &mut [PrimRef], is_left: impl Fn(&PrimRef) -> bool) -> usize {
    let (mut lo, mut hi) = (0, refs.len());
    loop {
        while lo < hi && is_left(&refs[lo]) {
            lo += 1;
        }
        while lo < hi && !is_left(&refs[hi - 1]) {
            hi -= 1;
        }
        if lo == hi {
            return lo;
        }
        refs.swap(lo, hi - 1);
        lo += 1;
        hi -= 1;
    }
}

/// Splits at the median centroid along the widest axis of the centroid bounds (ties
/// broken by triangle index, so the halves are well defined even when all centroids
/// coincide); returns the size of the left half.
fn median_split(refs: &mut [PrimRef], centroids: &Aabb) -> usize {
    let extent = (centroids.max - centroids.min).to_array();
    let axis = (0..3).fold(0, |best, a| if extent[a] > extent[best] { a } else { best });
    let mid = refs.len() / 2;
    refs.select_nth_unstable_by(mid, |a, b| a.centroid()[axis].total_cmp(&b.centroid()[axis]).then(a.tri.cmp(&b.tri)));
    mid
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From `SAH_DEPTH_LIMIT` on, nodes are halved until they fit in a leaf, on the
    /// parallel path and the local one.
    #[test]
    fn median_splits_past_the_depth_limit() {
        for n in [1000u32, 5000] {
            // A geometric chain, which SAH would peel rather than halve.
            let mut refs: Vec<PrimRef> = (0..n)
                .map(|i| {
                    let x = 1.01f32.powi(i as i32);
                    let tri = [Vec3::new(x, 0.0, 0.0), Vec3::new(x, 1.0, 0.0), Vec3::new(x, 0.0, 1.0)];
                    PrimRef { bounds: Aabb::from_points(&tri), tri: i }
                })
                .collect();
            let nodes = build_subtree(&mut refs, 0, SAH_DEPTH_LIMIT).flatten();
            let s = super::super::stats(&nodes);
            // Halving n until it is at most MAX_LEAF_SIZE takes ceil(log2(n / MAX_LEAF_SIZE)) levels.
            let levels = (n as f64 / MAX_LEAF_SIZE as f64).log2().ceil() as u32;
            assert_eq!(s.max_depth, levels, "{n} triangles: {s}");
            let smallest = n >> levels;
            for leaf in nodes.iter().filter(|n| n.count > 0) {
                assert!((smallest..=smallest + 1).contains(&leaf.count), "{n} triangles: leaf of {}", leaf.count);
            }
        }
    }
}
