// Counter-based random numbers, as src/sampling/rng.rs: every number is a pure
// function of (seed, pixel x, pixel y, sample index, dimension group). The
// 32-bit products wrap in WGSL as `wrapping_mul` does in Rust, so both give
// the same bits (tests/backend_wgpu.rs checks that).

fn pcg_hash(v: u32) -> u32 {
    let state = v * 747796405u + 2891336453u;
    let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

fn pcg4d(input: vec4<u32>) -> vec4<u32> {
    var v = input * 1664525u + 1013904223u;
    v.x += v.y * v.w;
    v.y += v.z * v.x;
    v.z += v.x * v.y;
    v.w += v.y * v.z;
    v ^= v >> vec4<u32>(16u);
    v.x += v.y * v.w;
    v.y += v.z * v.x;
    v.z += v.x * v.y;
    v.w += v.y * v.z;
    return v;
}

fn to_unit_float(bits: u32) -> f32 {
    return f32(bits >> 8u) * (1.0 / 16777216.0);
}

fn rand4(seed: u32, px: u32, py: u32, sample: u32, group: u32) -> vec4<f32> {
    let h = pcg4d(vec4<u32>(px, py, sample, seed ^ pcg_hash(group)));
    return vec4<f32>(to_unit_float(h.x), to_unit_float(h.y), to_unit_float(h.z), to_unit_float(h.w));
}

fn group_light(bounce: u32) -> u32 {
    return 1u + GROUPS_PER_BOUNCE * bounce;
}

fn group_bsdf(bounce: u32) -> u32 {
    return 2u + GROUPS_PER_BOUNCE * bounce;
}
