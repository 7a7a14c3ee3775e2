// Motion blur, as src/render/motion.rs: the flat scene at one instant of the
// shutter. `moving == false` stands for a frame that holds still.

struct Instant {
    segment: u32,
    fraction: f32,
    moving: bool,
}

fn still() -> Instant {
    return Instant(0u, 0.0, false);
}

// The instant at shutter time u in [0, 1] with `keys` (≥ 2) motion keys.
fn instant_at(keys: u32, u: f32) -> Instant {
    let segments = keys - 1u;
    let scaled = u * f32(segments);
    let segment = min(u32(scaled), segments - 1u);
    return Instant(segment, scaled - f32(segment), true);
}

// The instant camera sample `sample` of pixel (px, py) sees.
fn sample_instant(seed: u32, px: u32, py: u32, sample: u32) -> Instant {
    if motion.header.keys < 2u {
        return still();
    }
    return instant_at(motion.header.keys, sample4(seed, px, py, sample, GROUP_TIME).x);
}

fn camera_at(at: Instant) -> Camera {
    if !at.moving || motion.header.camera_keys < 2u {
        return header.camera;
    }
    let a = motion.cameras[at.segment];
    let b = motion.cameras[at.segment + 1u];
    let f = at.fraction;
    var c = a;
    c.origin = mix(a.origin, b.origin, f);
    c.right = mix(a.right, b.right, f);
    c.up = mix(a.up, b.up, f);
    c.forward = mix(a.forward, b.forward, f);
    return c;
}

// Triangle `tri` at `at`: a moving one interpolated between its two keys, whose
// entries follow the frame's triangles in `triangles`.
fn triangle_at(tri: u32, at: Instant) -> Triangle {
    var t = triangles[tri];
    let m = motion.header;
    if !at.moving || tri < m.static_triangles {
        return t;
    }
    let base = header.num_triangles + tri - m.static_triangles;
    let a = triangles[base + at.segment * m.moving_triangles];
    let b = triangles[base + (at.segment + 1u) * m.moving_triangles];
    let f = at.fraction;
    t.v0 = mix(a.v0, b.v0, f);
    t.e1 = mix(a.e1, b.e1, f);
    t.e2 = mix(a.e2, b.e2, f);
    return t;
}

// Vertex `v` at `at` (normal and tangent interpolated for a moving one).
fn vertex_at(v: u32, at: Instant) -> Vertex {
    var out = vertices[v];
    let m = motion.header;
    if !at.moving || v < m.static_vertices {
        return out;
    }
    let base = m.static_vertices + m.moving_vertices + v - m.static_vertices;
    let a = vertices[base + at.segment * m.moving_vertices];
    let b = vertices[base + (at.segment + 1u) * m.moving_vertices];
    let f = at.fraction;
    out.normal = mix(a.normal, b.normal, f);
    out.tangent = mix(a.tangent, b.tangent, f);
    return out;
}
