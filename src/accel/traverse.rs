//! CPU traversal: the reference the WGSL and CUDA traversals follow step for step.
//!
//! Depth-first with a fixed-size stack. At an interior node both children's boxes are
//! tested (slab test); the nearer child is visited next and the farther one, with its
//! entry distance, is pushed. A node is skipped when its entry distance lies beyond
//! the closest hit found so far, both when it is tested and when it is popped.
//! Leaves test their triangles with Möller–Trumbore.

use glam::{BVec3A, Vec3, Vec3A};

use super::build::MAX_DEPTH;
use super::{Hit, Ray};
use crate::scene::flat::{BvhNode, Triangle, TRI_ALPHA_TESTED};

/// Entries of the traversal stack. At a node of depth `d` at most `d` entries are
/// held, and the build keeps every node shallower than this.
pub const STACK_SIZE: usize = 64;
const _: () = assert!((MAX_DEPTH as usize) < STACK_SIZE);

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

/// Closest hit with `t` in (0, t_max). For triangles flagged `TRI_ALPHA_TESTED`,
/// `accept(tri, u, v)` decides whether the hit counts (alpha cutout). `nodes` and
/// `tris` come from the same [`build`](super::build), `tris` in its leaf order; `tri`
/// and [`Hit::tri`] index `tris`.
pub fn intersect(
    nodes: &[BvhNode],
    tris: &[Triangle],
    ray: &Ray,
    t_max: f32,
    mut accept: impl FnMut(u32, f32, f32) -> bool,
) -> Option<Hit> {
    traverse::<false>(nodes, |i| tris[i], ray, t_max, &mut accept)
}

/// [`intersect`] over triangles given by `tri(index)` (moving triangles, posed at
/// the ray's time).
pub fn intersect_by(
    nodes: &[BvhNode],
    tri: impl Fn(usize) -> Triangle,
    ray: &Ray,
    t_max: f32,
    mut accept: impl FnMut(u32, f32, f32) -> bool,
) -> Option<Hit> {
    traverse::<false>(nodes, tri, ray, t_max, &mut accept)
}

/// [`occluded`] over triangles given by `tri(index)`.
pub fn occluded_by(
    nodes: &[BvhNode],
    tri: impl Fn(usize) -> Triangle,
    ray: &Ray,
    t_max: f32,
    mut accept: impl FnMut(u32, f32, f32) -> bool,
) -> bool {
    traverse::<true>(nodes, tri, ray, t_max, &mut accept).is_some()
}

/// Whether anything (accepted as in [`intersect`]) lies along the ray in (0, t_max);
/// stops at the first such hit.
pub fn occluded(
    nodes: &[BvhNode],
    tris: &[Triangle],
    ray: &Ray,
    t_max: f32,
    mut accept: impl FnMut(u32, f32, f32) -> bool,
) -> bool {
    traverse::<true>(nodes, |i| tris[i], ray, t_max, &mut accept).is_some()
}

/// The traversal behind [`intersect`] and [`occluded`] (`ANY_HIT`: return the first
/// accepted hit rather than the closest).
#[inline]
fn traverse<const ANY_HIT: bool>(
    nodes: &[BvhNode],
    tris: impl Fn(usize) -> Triangle,
    ray: &Ray,
    t_max: f32,
    accept: &mut impl FnMut(u32, f32, f32) -> bool,
) -> Option<Hit> {
    let root = nodes.first()?;
    let slabs = Slabs::new(ray);
    let mut closest = t_max;
    let mut hit = None;
    if slabs.entry(root, closest) == f32::INFINITY {
        return None;
    }
    let mut stack = [(0u32, 0.0f32); STACK_SIZE];
    let mut len = 0;
    let mut node = root;
    loop {
        if node.count > 0 {
            let first = node.index as usize;
            for id in first..first + node.count as usize {
                let tri = tris(id);
                let Some((t, u, v)) = intersect_triangle(&tri, ray, closest) else {
                    continue;
                };
                let id = id as u32;
                if tri.flags & TRI_ALPHA_TESTED != 0 && !accept(id, u, v) {
                    continue;
                }
                closest = t;
                hit = Some(Hit { t, u, v, tri: id });
                if ANY_HIT {
                    return hit;
                }
            }
        } else {
            let (left, right) = (node.index, node.index + 1);
            let t_left = slabs.entry(&nodes[left as usize], closest);
            let t_right = slabs.entry(&nodes[right as usize], closest);
            let (near, t_near, far, t_far) =
                if t_left <= t_right { (left, t_left, right, t_right) } else { (right, t_right, left, t_left) };
            if t_near != f32::INFINITY {
                if t_far != f32::INFINITY {
                    stack[len] = (far, t_far);
                    len += 1;
                }
                node = &nodes[near as usize];
                continue;
            }
        }
        // Neither child entered (or a leaf is done): pop the next node that the ray
        // enters before the closest hit.
        loop {
            if len == 0 {
                return hit;
            }
            len -= 1;
            let (index, t_entry) = stack[len];
            if t_entry <= closest {
                node = &nodes[index as usize];
                break;
            }
        }
    }
}

/// `1 + 2γ₃` (γₙ = nε / (1 − nε), ε = 2⁻²⁴): scaling a slab exit distance by this
/// makes the box test conservative under rounding (Ize, "Robust BVH Ray Traversal", 2013).
const EXIT_SCALE: f32 = 1.0 + 2.0 * (3.0 * f32::EPSILON * 0.5) / (1.0 - 3.0 * f32::EPSILON * 0.5);

/// The ray, prepared for box tests.
struct Slabs {
    origin: Vec3A,
    /// `1 / dir`, and 0 on the axes in `parallel`.
    inv_dir: Vec3A,
    /// Axes the ray runs parallel to: its direction component is 0 (or so small that
    /// `1 / d` overflows).
    parallel: BVec3A,
    any_parallel: bool,
}

impl Slabs {
    fn new(ray: &Ray) -> Self {
        let inv = ray.dir.to_array().map(|d| 1.0 / d);
        let parallel = BVec3A::from(inv.map(|r| !r.is_finite()));
        let inv_dir = Vec3A::select(parallel, Vec3A::ZERO, Vec3A::from_array(inv));
        Self { origin: ray.origin.into(), inv_dir, parallel, any_parallel: parallel.any() }
    }

    /// Distance at which the ray enters `node`'s box, if it does so in [0, t_max];
    /// otherwise infinity.
    #[inline]
    fn entry(&self, node: &BvhNode, t_max: f32) -> f32 {
        let (bmin, bmax) = (Vec3A::from(node.bmin), Vec3A::from(node.bmax));
        // Per axis, the ray is between the box's two planes for t in [lo, hi].
        let t0 = (bmin - self.origin) * self.inv_dir;
        let t1 = (bmax - self.origin) * self.inv_dir;
        let (mut lo, mut hi) = (t0.min(t1), t0.max(t1));
        if self.any_parallel {
            // On an axis the ray runs parallel to, it is between the planes for every t
            // when its origin is (faces included), and never otherwise. (Dividing by a
            // zero component instead would give 0 · ∞ = NaN for an origin on a face.)
            let inside = self.origin.cmpge(bmin) & self.origin.cmple(bmax);
            if (self.parallel & !inside).any() {
                return f32::INFINITY;
            }
            lo = Vec3A::select(self.parallel, Vec3A::NEG_INFINITY, lo);
            hi = Vec3A::select(self.parallel, Vec3A::INFINITY, hi);
        }
        // Nothing here is NaN, so SIMD min/max and plain comparisons need no NaN handling.
        let near = lo.max(Vec3A::ZERO).max_element();
        let exit = hi.min_element() * EXIT_SCALE;
        let far = if exit < t_max { exit } else { t_max };
        if near <= far {
            near
        } else {
            f32::INFINITY
        }
    }
}
