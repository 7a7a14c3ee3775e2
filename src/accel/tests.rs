//! Build invariants, traversal against brute force, determinism and statistics.

use glam::Vec3;

use super::bounds::Aabb;
use super::*;
use crate::sampling::rng::{pcg4d, to_unit_float};
use crate::scene::flat::{BvhNode, Triangle, TRI_ALPHA_TESTED};

/// Deterministic uniform numbers for test inputs.
struct Rng {
    seed: u32,
    counter: u32,
}

impl Rng {
    fn new(seed: u32) -> Self {
        Self { seed, counter: 0 }
    }

    fn next4(&mut self) -> [f32; 4] {
        self.counter += 1;
        pcg4d([self.seed, self.counter, 0x7e55, 0]).map(to_unit_float)
    }

    fn uniform(&mut self) -> f32 {
        self.next4()[0]
    }

    /// A point in the box [lo, hi]³.
    fn point(&mut self, lo: f32, hi: f32) -> Vec3 {
        let [x, y, z, _] = self.next4();
        Vec3::new(x, y, z) * (hi - lo) + Vec3::splat(lo)
    }

    fn direction(&mut self) -> Vec3 {
        let [a, b, _, _] = self.next4();
        let z = 1.0 - 2.0 * a;
        let r = (1.0 - z * z).max(0.0).sqrt();
        let phi = std::f32::consts::TAU * b;
        Vec3::new(r * phi.cos(), r * phi.sin(), z)
    }
}

/// `n` triangles of sizes from 0.01 to 2 scattered through [-10, 10]³.
fn soup(n: usize, seed: u32) -> Vec<[Vec3; 3]> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let center = rng.point(-10.0, 10.0);
            let size = 0.01 * 200f32.powf(rng.uniform());
            [0, 1, 2].map(|_| center + rng.point(-1.0, 1.0) * size)
        })
        .collect()
}

/// Triangles in leaf order, every `alpha_every`-th (by input index) alpha-tested.
fn leaf_triangles(bvh: &Bvh, input: &[[Vec3; 3]], alpha_every: Option<u32>) -> Vec<Triangle> {
    bvh.order
        .iter()
        .map(|&i| {
            let [a, b, c] = input[i as usize];
            let alpha = alpha_every.is_some_and(|k| i % k == 0);
            Triangle {
                v0: a.to_array(),
                e1: (b - a).to_array(),
                e2: (c - a).to_array(),
                flags: if alpha { TRI_ALPHA_TESTED } else { 0 },
                ..Triangle::default()
            }
        })
        .collect()
}

/// Checks the layout `flat.rs` documents: every node reachable exactly once from the
/// root, child pairs inside the array (at odd indices), leaves within
/// `MAX_LEAF_SIZE`, depth within `MAX_DEPTH`, leaves covering every triangle slot
/// exactly once, `order` a permutation. With `boxes`, also that child boxes lie
/// inside their parents and leaf boxes contain their triangles.
fn check_structure(bvh: &Bvh, input: &[[Vec3; 3]], boxes: bool) {
    let n = input.len();
    assert_eq!(bvh.order.len(), n, "order length");
    let mut seen = vec![false; n];
    for &i in &bvh.order {
        assert!(!std::mem::replace(&mut seen[i as usize], true), "triangle {i} twice in order");
    }
    if n == 0 {
        assert!(bvh.nodes.is_empty());
        return;
    }
    let mut visited = vec![false; bvh.nodes.len()];
    let mut covered = vec![false; n];
    let mut stack = vec![(0usize, 0u32, Aabb::of_node(&bvh.nodes[0]))];
    while let Some((index, depth, parent)) = stack.pop() {
        assert!(!std::mem::replace(&mut visited[index], true), "node {index} reached twice");
        assert!(depth <= MAX_DEPTH, "node {index} at depth {depth}");
        let node = &bvh.nodes[index];
        let bounds = Aabb::of_node(node);
        if boxes {
            assert!(parent.contains(&bounds), "node {index} sticks out of its parent");
        }
        if node.count == 0 {
            let child = node.index as usize;
            assert!(child > index && child + 1 < bvh.nodes.len(), "node {index}: children at {child}");
            assert!(child % 2 == 1, "node {index}: child pair at even index {child}");
            stack.extend([(child, depth + 1, bounds), (child + 1, depth + 1, bounds)]);
            continue;
        }
        assert!(node.count as usize <= MAX_LEAF_SIZE, "leaf {index} holds {}", node.count);
        for slot in node.index as usize..(node.index + node.count) as usize {
            assert!(!std::mem::replace(&mut covered[slot], true), "slot {slot} in two leaves");
            if boxes {
                let tri = Aabb::from_points(&input[bvh.order[slot] as usize]);
                assert!(bounds.contains(&tri), "leaf {index} does not contain slot {slot}");
            }
        }
    }
    assert!(visited.iter().all(|&v| v), "unreachable nodes");
    assert!(covered.iter().all(|&c| c), "slots in no leaf");
}

fn brute_force(tris: &[Triangle], ray: &Ray, t_max: f32, accept: impl Fn(u32, f32, f32) -> bool) -> Option<Hit> {
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

/// Alpha cutout for the tests: rejects hits on the half of the triangle where u > v.
fn cutout(_tri: u32, u: f32, v: f32) -> bool {
    u <= v
}

/// Rays from in and around the input's bounds: half aimed at points on random
/// triangles, half in random directions; a quarter of all with one or two direction
/// components exactly zero; a third with a finite `t_max`.
fn rays(input: &[[Vec3; 3]], count: usize, seed: u32) -> Vec<(Ray, f32)> {
    let bounds = input.iter().fold(Aabb::EMPTY, |b, t| b.union(Aabb::from_points(t)));
    let (lo, hi) = (Vec3::from(bounds.min), Vec3::from(bounds.max));
    let (center, half) = ((lo + hi) * 0.5, (hi - lo) * 0.75 + Vec3::splat(1e-3));
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|k| {
            let origin = center + rng.point(-1.0, 1.0) * half;
            let mut dir = if k % 2 == 0 && !input.is_empty() {
                let [a, b, c] = input[(rng.uniform() * input.len() as f32) as usize % input.len()];
                let [s, t, _, _] = rng.next4();
                let (s, t) = if s + t > 1.0 { (1.0 - s, 1.0 - t) } else { (s, t) };
                a + (b - a) * s + (c - a) * t - origin
            } else {
                rng.direction()
            };
            if k % 4 == 1 {
                dir[k / 4 % 3] = 0.0;
            }
            if k % 8 == 3 {
                dir[k / 8 % 3] = 0.0;
                dir[(k / 8 + 1) % 3] = 0.0;
            }
            let t_max = if k % 3 == 0 { rng.uniform() * 2.0 } else { f32::INFINITY };
            (Ray { origin, dir }, t_max)
        })
        .collect()
}

/// Checks `intersect` and `occluded` against brute force on `rays`, with alpha cutout
/// on every third triangle; returns how many rays hit something.
fn check_traversal(input: &[[Vec3; 3]], rays: &[(Ray, f32)]) -> usize {
    check_traversal_of(&build(input), input, rays)
}

fn check_traversal_of(bvh: &Bvh, input: &[[Vec3; 3]], rays: &[(Ray, f32)]) -> usize {
    let tris = leaf_triangles(bvh, input, Some(3));
    let mut hits = 0;
    for (ray, t_max) in rays {
        let mut asked_opaque = false;
        let accept = |tri: u32, u: f32, v: f32| {
            asked_opaque |= tris[tri as usize].flags & TRI_ALPHA_TESTED == 0;
            cutout(tri, u, v)
        };
        let got = intersect(&bvh.nodes, &tris, ray, *t_max, accept);
        assert!(!asked_opaque, "accept consulted for an opaque triangle");
        let want = brute_force(&tris, ray, *t_max, cutout);
        match (got, want) {
            (None, None) => {}
            (Some(g), Some(w)) => {
                assert_eq!(g.t, w.t, "{ray:?} t_max {t_max}: BVH hit {g:?}, brute force {w:?}");
                // Equal distances may resolve to different triangles; the one reported
                // must really be hit there.
                let (t, u, v) = intersect_triangle(&tris[g.tri as usize], ray, f32::INFINITY).unwrap();
                assert_eq!((t, u, v), (g.t, g.u, g.v));
                if tris[g.tri as usize].flags & TRI_ALPHA_TESTED != 0 {
                    assert!(cutout(g.tri, g.u, g.v), "hit a cut-out point");
                }
                hits += 1;
            }
            _ => panic!("{ray:?} t_max {t_max}: BVH hit {got:?}, brute force {want:?}"),
        }
        let blocked = occluded(&bvh.nodes, &tris, ray, *t_max, cutout);
        assert_eq!(blocked, want.is_some(), "occluded disagrees for {ray:?} t_max {t_max}");
    }
    hits
}

fn check_all(input: &[[Vec3; 3]], ray_count: usize, seed: u32) -> usize {
    check_structure(&build(input), input, true);
    check_traversal(input, &rays(input, ray_count, seed))
}

#[test]
fn random_soups() {
    for (n, seed) in [(2, 1), (3, 2), (9, 3), (50, 4), (300, 5), (2000, 6), (10_000, 7)] {
        let input = soup(n, seed);
        let hits = check_all(&input, 2000, seed);
        assert!(hits > 300, "{n} triangles: only {hits} of 2000 rays hit");
    }
}

#[test]
fn empty_and_single() {
    let bvh = build(&[]);
    assert!(bvh.nodes.is_empty() && bvh.order.is_empty());
    let ray = Ray { origin: Vec3::ZERO, dir: Vec3::X };
    assert_eq!(intersect(&bvh.nodes, &[], &ray, f32::INFINITY, |_, _, _| true), None);
    assert!(!occluded(&bvh.nodes, &[], &ray, f32::INFINITY, |_, _, _| true));
    assert_eq!(stats(&bvh.nodes), BvhStats::default());

    let one = [[Vec3::new(1.0, -1.0, -1.0), Vec3::new(1.0, 1.0, -1.0), Vec3::new(1.0, 0.0, 1.0)]];
    let bvh = build(&one);
    assert_eq!(bvh.nodes.len(), 1);
    assert_eq!((bvh.nodes[0].index, bvh.nodes[0].count), (0, 1));
    let tris = leaf_triangles(&bvh, &one, None);
    let hit = intersect(&bvh.nodes, &tris, &ray, f32::INFINITY, |_, _, _| true).expect("ray through the triangle");
    assert_eq!((hit.t, hit.tri), (1.0, 0));
    assert!(check_all(&one, 500, 11) > 50);
}

#[test]
fn axis_aligned_rays_along_box_faces() {
    // Right triangles in the planes x = 0, 1, …, 7 with legs along y and z on [0, 2].
    let input: Vec<_> = (0..8)
        .map(|i| {
            let x = i as f32;
            [Vec3::new(x, 0.0, 0.0), Vec3::new(x, 2.0, 0.0), Vec3::new(x, 0.0, 2.0)]
        })
        .collect();
    let bvh = build(&input);
    let tris = leaf_triangles(&bvh, &input, None);
    let all = |_: u32, _: f32, _: f32| true;
    // Rays along ±x with y and z exactly zero in the direction, starting on the boxes'
    // faces y = 0 and z = 0 (and on the triangles' edges and corner).
    for (y, z) in [(0.0, 0.5), (0.5, 0.0), (0.0, 0.0), (1.0, 1.0), (0.25, 0.25)] {
        let forward = Ray { origin: Vec3::new(-1.0, y, z), dir: Vec3::X };
        let hit = intersect(&bvh.nodes, &tris, &forward, f32::INFINITY, all).expect("forward ray hits x = 0");
        assert_eq!((hit.t, bvh.order[hit.tri as usize]), (1.0, 0), "from {forward:?}");
        let back = Ray { origin: Vec3::new(7.5, y, z), dir: -Vec3::X };
        let hit = intersect(&bvh.nodes, &tris, &back, f32::INFINITY, all).expect("backward ray hits x = 7");
        assert_eq!((hit.t, bvh.order[hit.tri as usize]), (0.5, 7), "from {back:?}");
        assert!(occluded(&bvh.nodes, &tris, &back, 0.6, all));
        assert!(!occluded(&bvh.nodes, &tris, &back, 0.5, all), "t_max is exclusive");
    }
    // A ray in the plane of one triangle and parallel to all of them hits nothing.
    let grazing = Ray { origin: Vec3::new(3.0, -1.0, 0.5), dir: Vec3::Y };
    assert_eq!(intersect(&bvh.nodes, &tris, &grazing, f32::INFINITY, all), None);
}

#[test]
fn identical_triangles() {
    let tri = [Vec3::new(0.0, 0.0, 0.0), Vec3::new(1.0, 0.0, 0.0), Vec3::new(0.0, 1.0, 0.0)];
    let input = vec![tri; 1000];
    let s = stats(&build(&input).nodes);
    assert!(s.max_depth <= 8, "1000 identical triangles split to depth {}", s.max_depth);
    assert!(check_all(&input, 1000, 12) > 100);
}

#[test]
fn coplanar_triangles_and_centroids() {
    let mut rng = Rng::new(13);
    // Every triangle in the plane z = 0, one inside each cell of a grid (coplanar
    // triangles that overlapped would hit at distances a rounding error apart, and
    // which of those is closest is arbitrary): flat boxes everywhere.
    let flat: Vec<_> = (0..2025)
        .map(|i| {
            let cell = Vec3::new((i % 45) as f32, (i / 45) as f32, 0.0) * 0.2 - Vec3::new(4.5, 4.5, 0.0);
            [0, 1, 2].map(|_| cell + rng.point(0.0, 0.2) * Vec3::new(1.0, 1.0, 0.0))
        })
        .collect();
    assert!(check_all(&flat, 2000, 14) > 300);
    // Triangles standing across z = 0 with their box centres on it.
    let standing: Vec<_> = (0..2000)
        .map(|_| {
            let c = rng.point(-5.0, 5.0) * Vec3::new(1.0, 1.0, 0.0);
            let h = 0.05 + rng.uniform() * 0.3;
            let [a, b] = [0, 1].map(|_| rng.point(-0.3, 0.3) * Vec3::new(1.0, 1.0, 0.0));
            [c + a + Vec3::Z * h, c + b - Vec3::Z * h, c]
        })
        .collect();
    assert!(check_all(&standing, 2000, 15) > 300);
}

#[test]
fn one_huge_triangle_among_tiny_ones() {
    let mut input = soup(3000, 16).into_iter().map(|t| t.map(|v| v * 0.01)).collect::<Vec<_>>();
    input
        .insert(1234, [Vec3::new(-1000.0, -1000.0, 0.0), Vec3::new(1000.0, -1000.0, 0.0), Vec3::new(0.0, 1000.0, 0.0)]);
    let bvh = build(&input);
    // The huge triangle's box is the root's, so every interior node above its leaf
    // costs a full unit: it must stay near the top, not sink to the bottom.
    let s = stats(&bvh.nodes);
    assert!(s.sah_cost < 8.0 && s.max_depth > 12, "huge triangle spoils the tree: {s}");
    check_structure(&bvh, &input, true);
    // Rays around the tiny ones (which sit across the huge one's plane).
    let tiny_rays = rays(&input[..1000], 2000, 17);
    assert!(check_traversal(&input, &tiny_rays) > 300);
}

#[test]
fn non_finite_vertices_are_never_hit() {
    let mut input = soup(500, 18);
    input[7][1] = Vec3::new(f32::NAN, 0.0, 0.0);
    input[70][0] = Vec3::splat(f32::INFINITY);
    input[300] = [Vec3::NEG_INFINITY, Vec3::ZERO, Vec3::ONE];
    let bvh = build(&input);
    check_structure(&bvh, &input, false);
    assert!(bvh.nodes.iter().all(|n| n.bmin.iter().chain(&n.bmax).all(|x| x.is_finite())));
    let finite: Vec<_> = input.iter().copied().filter(|t| t.iter().all(|v| v.is_finite())).collect();
    assert!(check_traversal(&input, &rays(&finite, 2000, 19)) > 300);
}

#[test]
fn chain_over_the_whole_float_range() {
    // Unit triangles in planes x = 2⁻¹²⁶, 2⁻¹²¹, …, 2⁹⁹: along x the farthest one is
    // alone in the last slot and the rest in the first, so SAH peels them off one by
    // one (the depth limit itself is tested in `build`).
    let input: Vec<_> = (0..46)
        .map(|k| {
            let x = 2f32.powi(-126 + 5 * k);
            [Vec3::new(x, 0.0, 0.0), Vec3::new(x, 1.0, 0.0), Vec3::new(x, 0.0, 1.0)]
        })
        .collect();
    let s = stats(&build(&input).nodes);
    assert!(s.max_depth >= 20, "expected a chain: {s}");
    assert!(check_all(&input, 1000, 20) > 100);
}

#[test]
fn build_is_identical_on_any_number_of_threads() {
    // Large enough for parallel subtrees and parallel binning.
    let input = soup(150_000, 21);
    let on = |threads| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| build(&input))
    };
    let one = on(1);
    check_structure(&one, &input, true);
    for threads in [2, 3, 8] {
        let other = on(threads);
        let bytes = |b: &Bvh| bytemuck::cast_slice::<BvhNode, u8>(&b.nodes).to_vec();
        assert!(bytes(&one) == bytes(&other), "nodes differ on {threads} threads");
        assert!(one.order == other.order, "order differs on {threads} threads");
    }
}

#[test]
fn triangle_test_matches_geometry() {
    let tri = Triangle { v0: [0.0, 0.0, 2.0], e1: [4.0, 0.0, 0.0], e2: [0.0, 2.0, 0.0], ..Triangle::default() };
    let ray = |origin: Vec3, dir: Vec3| Ray { origin, dir };
    // Hits (1, 0.5, 2) from (1, 0.5, 0) along 2·Z: t = 1, u = 1/4, v = 1/4.
    let down = ray(Vec3::new(1.0, 0.5, 0.0), Vec3::new(0.0, 0.0, 2.0));
    assert_eq!(intersect_triangle(&tri, &down, f32::INFINITY), Some((1.0, 0.25, 0.25)));
    assert_eq!(intersect_triangle(&tri, &down, 1.0), None, "t_max is exclusive");
    let behind = ray(Vec3::new(1.0, 0.5, 3.0), Vec3::Z);
    assert_eq!(intersect_triangle(&tri, &behind, f32::INFINITY), None);
    let parallel = ray(Vec3::new(1.0, 0.5, 2.0), Vec3::X);
    assert_eq!(intersect_triangle(&tri, &parallel, f32::INFINITY), None);
    let outside = ray(Vec3::new(3.0, 1.5, 0.0), Vec3::Z);
    assert_eq!(intersect_triangle(&tri, &outside, f32::INFINITY), None);
}

#[test]
fn stats_describe_the_tree() {
    let input = soup(5000, 22);
    let bvh = build(&input);
    let s = stats(&bvh.nodes);
    let leaves = bvh.nodes.iter().filter(|n| n.count > 0).count();
    assert_eq!((s.nodes, s.leaves, s.triangles), (bvh.nodes.len(), leaves, input.len()));
    assert_eq!(s.max_leaf_triangles, bvh.nodes.iter().map(|n| n.count).max().unwrap());
    assert!((s.mean_leaf_triangles - input.len() as f64 / leaves as f64).abs() < 1e-9);
    assert!(s.max_depth as f64 >= (leaves as f64).log2(), "{s}");
    // Scattered small triangles: a good tree costs far less than testing them all.
    let all_in_one_leaf = SAH_INTERSECT_COST as f64 * input.len() as f64;
    assert!(s.sah_cost < all_in_one_leaf / 50.0, "{s}");
    assert!(s.sah_cost > SAH_INTERSECT_COST as f64, "{s}");
    let text = s.to_string();
    assert!(text.contains(&format!("{} nodes", s.nodes)) && text.contains(&format!("{} leaves", s.leaves)), "{text}");

    // A single leaf costs exactly its triangle tests.
    let single = [BvhNode { bmin: [0.0; 3], index: 0, bmax: [1.0; 3], count: 3 }];
    let s = stats(&single);
    assert_eq!((s.nodes, s.leaves, s.max_depth, s.max_leaf_triangles), (1, 1, 0, 3));
    assert_eq!(s.sah_cost, 3.0 * SAH_INTERSECT_COST as f64);
}

#[test]
fn stats_survive_malformed_nodes() {
    // Children beyond the array and a node pointing back at the root.
    let nodes = [
        BvhNode { bmin: [0.0; 3], index: 1, bmax: [1.0; 3], count: 0 },
        BvhNode { bmin: [0.0; 3], index: 0, bmax: [1.0; 3], count: 0 },
        BvhNode { bmin: [0.0; 3], index: 7, bmax: [1.0; 3], count: 0 },
    ];
    assert!(stats(&nodes).nodes <= nodes.len());
}

#[test]
fn reorder_follows_order() {
    let input = soup(100, 23);
    let bvh = build(&input);
    let ids: Vec<u32> = (0..100).collect();
    assert_eq!(bvh.reorder(&ids), bvh.order);
}

#[test]
fn joined_trees_keep_the_layout_and_find_the_same_hits() {
    for (na, nb, seed) in [(1, 1, 30), (1, 40, 31), (300, 2, 32), (2000, 500, 33)] {
        let (a, b) = (soup(na, seed), soup(nb, seed + 100));
        let (ta, tb) = (build(&a), build(&b));
        let both: Vec<[Vec3; 3]> = a.iter().chain(&b).copied().collect();
        let joined = Bvh {
            nodes: join(&ta.nodes, na as u32, &tb.nodes),
            order: ta.order.iter().copied().chain(tb.order.iter().map(|&i| i + na as u32)).collect(),
        };
        check_structure(&joined, &both, true);
        let hits = check_traversal_of(&joined, &both, &rays(&both, 1000, seed));
        assert!(hits > 100, "{na}+{nb} triangles: only {hits} of 1000 rays hit");
    }
    let only = build(&soup(50, 40));
    assert_eq!(join(&only.nodes, 50, &[]), only.nodes);
    let shifted = join(&[], 7, &only.nodes);
    assert!(shifted.iter().zip(&only.nodes).all(|(s, o)| s.index == o.index + if o.count > 0 { 7 } else { 0 }));
}
