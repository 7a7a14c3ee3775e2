// BVH traversal (src/accel/traverse.rs), step for step: depth-first over the
// binary BVH with a fixed stack, nearer child first, the farther one pushed with
// its entry distance; nodes beyond the closest hit are skipped when tested and
// when popped; leaves use Möller–Trumbore. Nodes and triangles are read with
// 16-byte read-only loads on the device. The leaves' triangles come from a
// loader, so the moving triangles of a motion-blurred frame, posed at the ray's
// instant, are traversed by the same code (motion.cuh).
#pragma once

#include "layout.cuh"

// Entries of the traversal stack (accel::STACK_SIZE; the build keeps every node shallower).
static constexpr int STACK_SIZE = 64;

struct Ray {
    float3 origin;
    float3 dir;
};

struct Hit {
    float t;
    float u;
    float v;
    unsigned tri;
};

TS_HD BvhNode load_node(const BvhNode* nodes, unsigned i) {
#if defined(__CUDA_ARCH__)
    const float4* p = reinterpret_cast<const float4*>(nodes + i);
    float4 a = __ldg(p), b = __ldg(p + 1);
    BvhNode n;
    n.bmin = make_float3(a.x, a.y, a.z);
    n.index = __float_as_uint(a.w);
    n.bmax = make_float3(b.x, b.y, b.z);
    n.count = __float_as_uint(b.w);
    return n;
#else
    return nodes[i];
#endif
}

TS_HD Triangle load_triangle(const Triangle* tris, unsigned i) {
#if defined(__CUDA_ARCH__)
    const float4* p = reinterpret_cast<const float4*>(tris + i);
    float4 a = __ldg(p), b = __ldg(p + 1), c = __ldg(p + 2);
    Triangle t;
    t.v0 = make_float3(a.x, a.y, a.z);
    t.material = __float_as_uint(a.w);
    t.e1 = make_float3(b.x, b.y, b.z);
    t.light = __float_as_uint(b.w);
    t.e2 = make_float3(c.x, c.y, c.z);
    t.flags = __float_as_uint(c.w);
    return t;
#else
    return tris[i];
#endif
}

// The triangles as stored (the loader of a still frame's BVH).
struct StoredTriangles {
    const Triangle* tris;
    TS_HD Triangle operator()(unsigned i) const { return load_triangle(tris, i); }
};

// Möller–Trumbore: (t, u, v) when the ray hits in (0, t_max).
TS_HD bool intersect_triangle(const Triangle& tri, const Ray& ray, float t_max, float& t, float& u, float& v) {
    float3 p = cross(ray.dir, tri.e2);
    float det = dot(tri.e1, p);
    if (det == 0.0f) return false;
    float inv_det = 1.0f / det;
    float3 s = ray.origin - tri.v0;
    u = dot(s, p) * inv_det;
    if (!(u >= 0.0f && u <= 1.0f)) return false;
    float3 q = cross(s, tri.e1);
    v = dot(ray.dir, q) * inv_det;
    if (v < 0.0f || u + v > 1.0f) return false;
    t = dot(tri.e2, q) * inv_det;
    return t > 0.0f && t < t_max;
}

// 1 + 2γ₃: makes the slab exit distance conservative under rounding.
#define TS_EXIT_SCALE (1.0f + 2.0f * (3.0f * TS_FLT_EPSILON * 0.5f) / (1.0f - 3.0f * TS_FLT_EPSILON * 0.5f))

// The ray, prepared for box tests: 1/dir (0 on axes the ray runs parallel to).
struct Slabs {
    float3 origin;
    float3 inv_dir;
    bool px, py, pz;
    bool any_parallel;
};

TS_HD Slabs slabs_new(const Ray& ray) {
    Slabs s;
    float ix = 1.0f / ray.dir.x, iy = 1.0f / ray.dir.y, iz = 1.0f / ray.dir.z;
    s.px = !ts_isfinite(ix);
    s.py = !ts_isfinite(iy);
    s.pz = !ts_isfinite(iz);
    s.inv_dir = make_float3(s.px ? 0.0f : ix, s.py ? 0.0f : iy, s.pz ? 0.0f : iz);
    s.origin = ray.origin;
    s.any_parallel = s.px || s.py || s.pz;
    return s;
}

// Distance at which the ray enters the box, if it does so in [0, t_max]; else TS_INF.
TS_HD float slab_entry(const Slabs& s, float3 bmin, float3 bmax, float t_max) {
    float3 t0 = (bmin - s.origin) * s.inv_dir;
    float3 t1 = (bmax - s.origin) * s.inv_dir;
    float3 lo = make_float3(fminf(t0.x, t1.x), fminf(t0.y, t1.y), fminf(t0.z, t1.z));
    float3 hi = make_float3(fmaxf(t0.x, t1.x), fmaxf(t0.y, t1.y), fmaxf(t0.z, t1.z));
    if (s.any_parallel) {
        // Parallel to an axis: inside the slab for every t when the origin is (faces included).
        bool in_x = s.origin.x >= bmin.x && s.origin.x <= bmax.x;
        bool in_y = s.origin.y >= bmin.y && s.origin.y <= bmax.y;
        bool in_z = s.origin.z >= bmin.z && s.origin.z <= bmax.z;
        if ((s.px && !in_x) || (s.py && !in_y) || (s.pz && !in_z)) return TS_INF;
        if (s.px) { lo.x = -TS_INF; hi.x = TS_INF; }
        if (s.py) { lo.y = -TS_INF; hi.y = TS_INF; }
        if (s.pz) { lo.z = -TS_INF; hi.z = TS_INF; }
    }
    float near_ = fmaxf(fmaxf(fmaxf(lo.x, 0.0f), fmaxf(lo.y, 0.0f)), fmaxf(lo.z, 0.0f));
    float exit = fminf(fminf(hi.x, hi.y), hi.z) * TS_EXIT_SCALE;
    float far_ = exit < t_max ? exit : t_max;
    return near_ <= far_ ? near_ : TS_INF;
}

// Closest (ANY_HIT: first) accepted hit with t in (0, t_max). Leaf entry k is
// triangle `first + k`, given by `tris(id)`; `accept(id, u, v)` decides for
// triangles flagged TRI_ALPHA_TESTED.
template <bool ANY_HIT, typename Triangles, typename Accept>
TS_HD bool traverse(const BvhNode* nodes, unsigned num_nodes, const Triangles& tris, unsigned first, const Ray& ray,
                    float t_max, const Accept& accept, Hit& hit) {
    if (num_nodes == 0u) return false;
    Slabs slabs = slabs_new(ray);
    float closest = t_max;
    bool found = false;
    BvhNode node = load_node(nodes, 0);
    if (slab_entry(slabs, node.bmin, node.bmax, closest) == TS_INF) return false;
    unsigned stack_node[STACK_SIZE];
    float stack_t[STACK_SIZE];
    int len = 0;
    for (;;) {
        if (node.count > 0u) {
            for (unsigned k = 0; k < node.count; ++k) {
                unsigned id = first + node.index + k;
                Triangle tri = tris(id);
                float t, u, v;
                if (!intersect_triangle(tri, ray, closest, t, u, v)) continue;
                if ((tri.flags & TRI_ALPHA_TESTED) && !accept(id, u, v)) continue;
                closest = t;
                hit.t = t;
                hit.u = u;
                hit.v = v;
                hit.tri = id;
                found = true;
                if (ANY_HIT) return true;
            }
        } else {
            unsigned left = node.index, right = node.index + 1u;
            BvhNode l = load_node(nodes, left), r = load_node(nodes, right);
            float t_left = slab_entry(slabs, l.bmin, l.bmax, closest);
            float t_right = slab_entry(slabs, r.bmin, r.bmax, closest);
            bool left_first = t_left <= t_right;
            float t_near = left_first ? t_left : t_right;
            float t_far = left_first ? t_right : t_left;
            if (t_near != TS_INF) {
                if (t_far != TS_INF) {
                    stack_node[len] = left_first ? right : left;
                    stack_t[len] = t_far;
                    ++len;
                }
                node = left_first ? l : r;
                continue;
            }
        }
        // Neither child entered (or a leaf is done): pop the next node the ray
        // enters before the closest hit.
        for (;;) {
            if (len == 0) return found;
            --len;
            if (stack_t[len] <= closest) {
                node = load_node(nodes, stack_node[len]);
                break;
            }
        }
    }
}
