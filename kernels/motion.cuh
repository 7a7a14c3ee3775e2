// Motion blur (src/render/motion.rs): the flat scene at one instant of the
// shutter. A camera sample draws its time from its own dimension group, so a
// frame that holds still never draws it; the instant falls between motion keys
// `segment` and `segment + 1`, where moving triangles, their vertices and a
// moving camera are interpolated linearly. Rays meet the static triangles
// through the frame's BVH and the moving ones through the segment's refitted BVH.
#pragma once

#include "rng.cuh"
#include "traverse.cuh"

// `moving == false` stands for a frame that holds still.
struct Instant {
    unsigned segment;
    float fraction;
    bool moving;
};

TS_HD Instant still() {
    Instant at;
    at.segment = 0u;
    at.fraction = 0.0f;
    at.moving = false;
    return at;
}

// The instant at shutter time u in [0, 1] with `keys` (≥ 2) motion keys.
TS_HD Instant instant_at(unsigned keys, float u) {
    unsigned segments = keys - 1u;
    float scaled = u * (float)segments;
    unsigned segment = (unsigned)scaled;
    Instant at;
    at.segment = segment < segments - 1u ? segment : segments - 1u;
    at.fraction = scaled - (float)at.segment;
    at.moving = true;
    return at;
}

// The instant camera sample `sample` of pixel (px, py) sees.
TS_HD Instant sample_instant(const SceneView& s, unsigned seed, unsigned px, unsigned py, unsigned sample) {
    if (s.motion.keys < 2u) return still();
    return instant_at(s.motion.keys, sample4(seed, px, py, sample, GROUP_TIME).x);
}

// glam's lerp, a * (1 - f) + b * f, so that the host build rounds as the CPU does.
TS_HD float3 lerp3(float3 a, float3 b, float f) { return a * (1.0f - f) + b * f; }
TS_HD float4 lerp4(float4 a, float4 b, float f) { return a * (1.0f - f) + b * f; }

TS_HD Camera camera_at(const SceneView& s, const Instant& at) {
    if (!at.moving || s.motion.camera_keys < 2u) return s.header.camera;
    const Camera& a = s.motion_cameras[at.segment];
    const Camera& b = s.motion_cameras[at.segment + 1u];
    Camera c = a;
    c.origin = lerp3(a.origin, b.origin, at.fraction);
    c.right = lerp3(a.right, b.right, at.fraction);
    c.up = lerp3(a.up, b.up, at.fraction);
    c.forward = lerp3(a.forward, b.forward, at.fraction);
    return c;
}

// Triangle `tri` at `at`: a static one as stored, a moving one interpolated
// between its two keys (material, light and flags stay where they are stored).
TS_HD Triangle triangle_at(const SceneView& s, unsigned tri, const Instant& at) {
    Triangle t = load_triangle(s.triangles, tri);
    const MotionHeader& m = s.motion;
    if (!at.moving || tri < m.static_triangles) return t;
    unsigned moving = tri - m.static_triangles;
    Triangle a = load_triangle(s.motion_triangles, at.segment * m.moving_triangles + moving);
    Triangle b = load_triangle(s.motion_triangles, (at.segment + 1u) * m.moving_triangles + moving);
    t.v0 = lerp3(a.v0, b.v0, at.fraction);
    t.e1 = lerp3(a.e1, b.e1, at.fraction);
    t.e2 = lerp3(a.e2, b.e2, at.fraction);
    return t;
}

// Vertex `v` at `at` (normal and tangent interpolated for a moving one).
TS_HD Vertex vertex_at(const SceneView& s, unsigned v, const Instant& at) {
    Vertex out = s.vertices[v];
    const MotionHeader& m = s.motion;
    if (!at.moving || v < m.static_vertices) return out;
    unsigned moving = v - m.static_vertices;
    const Vertex& a = s.motion_vertices[at.segment * m.moving_vertices + moving];
    const Vertex& b = s.motion_vertices[(at.segment + 1u) * m.moving_vertices + moving];
    out.normal = lerp3(a.normal, b.normal, at.fraction);
    out.tangent = lerp4(a.tangent, b.tangent, at.fraction);
    return out;
}

// The moving triangles at one instant (the loader of a segment's BVH).
struct MovingTriangles {
    const SceneView* scene;
    Instant at;
    TS_HD Triangle operator()(unsigned i) const { return triangle_at(*scene, i, at); }
};

// The BVH of the moving triangles for `at`'s segment.
TS_HD const BvhNode* segment_nodes(const SceneView& s, const Instant& at) {
    return s.motion_nodes + at.segment * s.motion.moving_nodes;
}
