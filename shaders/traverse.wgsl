// BVH traversal, as src/accel/traverse.rs: depth first with a fixed stack; the
// nearer child is visited next, the farther one pushed with its entry distance;
// nodes entered beyond the closest hit are skipped when tested and when popped.
// Alpha-tested triangles ask alpha_mask_accepts whether a hit counts. With motion
// blur a ray meets the static triangles through the frame's BVH and the moving
// ones through its segment's refitted BVH (src/render/motion.rs).

struct Ray {
    origin: vec3<f32>,
    dir: vec3<f32>,
}

// Closest hit; `found == false` for a miss.
struct Hit {
    t: f32,
    u: f32,
    v: f32,
    tri: u32,
    found: bool,
}

fn no_hit() -> Hit {
    return Hit(0.0, 0.0, 0.0, 0u, false);
}

// Möller–Trumbore: (t, u, v) in `Hit` when the ray hits in (0, t_max).
fn intersect_triangle(tri: Triangle, ray: Ray, t_max: f32) -> Hit {
    let p = cross(ray.dir, tri.e2);
    let det = dot(tri.e1, p);
    if det == 0.0 {
        return no_hit();
    }
    let inv_det = 1.0 / det;
    let s = ray.origin - tri.v0;
    let u = dot(s, p) * inv_det;
    if !(u >= 0.0 && u <= 1.0) {
        return no_hit();
    }
    let q = cross(s, tri.e1);
    let v = dot(ray.dir, q) * inv_det;
    if v < 0.0 || u + v > 1.0 {
        return no_hit();
    }
    let t = dot(tri.e2, q) * inv_det;
    return Hit(t, u, v, 0u, t > 0.0 && t < t_max);
}

// The ray prepared for box tests: 1 / dir, with 0 on the axes it runs parallel to.
struct Slabs {
    origin: vec3<f32>,
    inv_dir: vec3<f32>,
    parallel: vec3<bool>,
    any_parallel: bool,
}

fn slabs_new(ray: Ray) -> Slabs {
    let inv = vec3<f32>(1.0) / ray.dir;
    let parallel = vec3<bool>(!is_finite(inv.x), !is_finite(inv.y), !is_finite(inv.z));
    return Slabs(ray.origin, select(inv, vec3<f32>(0.0), parallel), parallel, any(parallel));
}

// Distance at which the ray enters the node's box if it does so in [0, t_max];
// otherwise infinity.
fn slabs_entry(s: Slabs, node: BvhNode, t_max: f32) -> f32 {
    let t0 = (node.bmin - s.origin) * s.inv_dir;
    let t1 = (node.bmax - s.origin) * s.inv_dir;
    var lo = min(t0, t1);
    var hi = max(t0, t1);
    if s.any_parallel {
        // Parallel to an axis: between that axis's planes for every t when the
        // origin is (faces included), never otherwise.
        let inside = (s.origin >= node.bmin) & (s.origin <= node.bmax);
        if any(s.parallel & !inside) {
            return inf();
        }
        lo = select(lo, vec3<f32>(-inf()), s.parallel);
        hi = select(hi, vec3<f32>(inf()), s.parallel);
    }
    let near = max(max(max(lo.x, 0.0), lo.y), lo.z);
    let exit = min(min(hi.x, hi.y), hi.z) * EXIT_SCALE;
    let far = select(t_max, exit, exit < t_max);
    return select(inf(), near, near <= far);
}

// Closest accepted hit in (0, t_max), or with `any_hit` the first one found:
// among the static triangles, or with `moving` among the moving ones at `at`.
fn traverse(ray: Ray, t_max: f32, any_hit: bool, moving: bool, at: Instant) -> Hit {
    var count = header.num_nodes;
    var base = 0u;
    var first = 0u;
    if moving {
        count = motion.header.moving_nodes;
        base = header.num_nodes + at.segment * count;
        first = motion.header.static_triangles;
    }
    if count == 0u {
        return no_hit();
    }
    let slabs = slabs_new(ray);
    var closest = t_max;
    var hit = no_hit();
    if slabs_entry(slabs, nodes[base], closest) == inf() {
        return hit;
    }
    var stack_node: array<u32, STACK_SIZE>;
    var stack_entry: array<f32, STACK_SIZE>;
    var len = 0u;
    var node = nodes[base];
    loop {
        if node.count > 0u {
            for (var k = 0u; k < node.count; k++) {
                let id = first + node.index + k;
                var tri = triangles[id];
                if moving {
                    tri = triangle_at(id, at);
                }
                let h = intersect_triangle(tri, ray, closest);
                if !h.found {
                    continue;
                }
                if (tri.flags & TRI_ALPHA_TESTED) != 0u && !alpha_mask_accepts(id, h.u, h.v) {
                    continue;
                }
                closest = h.t;
                hit = Hit(h.t, h.u, h.v, id, true);
                if any_hit {
                    return hit;
                }
            }
        } else {
            let left = node.index;
            let right = node.index + 1u;
            let t_left = slabs_entry(slabs, nodes[base + left], closest);
            let t_right = slabs_entry(slabs, nodes[base + right], closest);
            let left_first = t_left <= t_right;
            let near = select(right, left, left_first);
            let t_near = select(t_right, t_left, left_first);
            let far = select(left, right, left_first);
            let t_far = select(t_left, t_right, left_first);
            if t_near != inf() {
                if t_far != inf() && len < STACK_SIZE {
                    stack_node[len] = far;
                    stack_entry[len] = t_far;
                    len += 1u;
                }
                node = nodes[base + near];
                continue;
            }
        }
        // Neither child entered (or a leaf is done): pop the next node the ray
        // enters before the closest hit.
        var popped = false;
        while len > 0u {
            len -= 1u;
            if stack_entry[len] <= closest {
                node = nodes[base + stack_node[len]];
                popped = true;
                break;
            }
        }
        if !popped {
            return hit;
        }
    }
    return hit;
}

fn intersect(ray: Ray, t_max: f32, at: Instant) -> Hit {
    var hit = traverse(ray, t_max, false, false, at);
    if at.moving {
        let moved = traverse(ray, select(t_max, hit.t, hit.found), false, true, at);
        if moved.found {
            hit = moved;
        }
    }
    return hit;
}

fn occluded(ray: Ray, t_max: f32, at: Instant) -> bool {
    if traverse(ray, t_max, true, false, at).found {
        return true;
    }
    return at.moving && traverse(ray, t_max, true, true, at).found;
}
