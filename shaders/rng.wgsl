// Counter-based random numbers, as src/sampling/rng.rs: every number is a pure
// function of (seed, pixel x, pixel y, sample index, dimension group); paths
// draw from sample4 (two Owen-scrambled, shuffled 2D Sobol pairs). The
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

// Laine and Karras's permutation as Burley improved it.
fn laine_karras(input: u32, seed: u32) -> u32 {
    var x = input + seed;
    x ^= x * 0x6c50b47cu;
    x ^= x * 0xb82f1e52u;
    x ^= x * 0xc7afe638u;
    x ^= x * 0x8d22f6e6u;
    return x;
}

fn owen_scramble(x: u32, seed: u32) -> u32 {
    return reverseBits(laine_karras(reverseBits(x), seed));
}

// Sobol's second dimension, bit-reversed: a superset sum over bit positions
// (Pascal's triangle mod 2 as generator matrix).
fn sobol_second_reversed(index: u32) -> u32 {
    var x = index;
    x ^= (x >> 1u) & 0x55555555u;
    x ^= (x >> 2u) & 0x33333333u;
    x ^= (x >> 4u) & 0x0f0f0f0fu;
    x ^= (x >> 8u) & 0x00ff00ffu;
    x ^= (x >> 16u) & 0x0000ffffu;
    return x;
}

// Both coordinates formed bit-reversed, where an Owen scramble is one permutation.
fn sobol_pair(sample: u32, shuffle: u32, scramble: u32) -> vec2<u32> {
    let index = owen_scramble(sample, shuffle);
    return vec2<u32>(reverseBits(laine_karras(index, scramble)),
                     reverseBits(laine_karras(sobol_second_reversed(index), pcg_hash(scramble))));
}

const SAMPLER_KEY: u32 = 0x50b01e55u;

// The low-discrepancy sequence: (.y, .z) one stratified pair, (.x, .w) another.
fn sample4(seed: u32, px: u32, py: u32, sample: u32, group: u32) -> vec4<f32> {
    let key = pcg4d(vec4<u32>(px, py, seed ^ pcg_hash(group), SAMPLER_KEY));
    let yz = sobol_pair(sample, key.x, key.y);
    let xw = sobol_pair(sample, key.z, key.w);
    return vec4<f32>(to_unit_float(xw.x), to_unit_float(yz.x), to_unit_float(yz.y), to_unit_float(xw.y));
}

fn group_light(bounce: u32) -> u32 {
    return 1u + GROUPS_PER_BOUNCE * bounce;
}

fn group_bsdf(bounce: u32) -> u32 {
    return 2u + GROUPS_PER_BOUNCE * bounce;
}
