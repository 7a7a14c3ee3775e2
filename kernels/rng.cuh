// Counter-based random numbers (src/sampling/rng.rs), bit-identical to the CPU:
// rand4 is pcg4d over (pixel x, pixel y, sample, seed ^ pcg_hash(group)); paths
// draw from sample4 (two Owen-scrambled, shuffled 2D Sobol pairs).
#pragma once

#include "common.cuh"

static constexpr unsigned GROUP_CAMERA = 0u;
// A camera sample's time over the shutter (motion blur), apart from every other group.
static constexpr unsigned GROUP_TIME = 0x40000000u;
static constexpr unsigned GROUPS_PER_BOUNCE = 2u;

TS_HD unsigned pcg_hash(unsigned v) {
    unsigned state = v * 747796405u + 2891336453u;
    unsigned word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
    return (word >> 22u) ^ word;
}

TS_HD uint4 pcg4d(uint4 v) {
    unsigned x = v.x * 1664525u + 1013904223u;
    unsigned y = v.y * 1664525u + 1013904223u;
    unsigned z = v.z * 1664525u + 1013904223u;
    unsigned w = v.w * 1664525u + 1013904223u;
    x += y * w;
    y += z * x;
    z += x * y;
    w += y * z;
    x ^= x >> 16u;
    y ^= y >> 16u;
    z ^= z >> 16u;
    w ^= w >> 16u;
    x += y * w;
    y += z * x;
    z += x * y;
    w += y * z;
    return make_uint4(x, y, z, w);
}

TS_HD unsigned frame_seed(unsigned seed, unsigned frame) { return pcg_hash(seed ^ pcg_hash(frame)); }

TS_HD float to_unit_float(unsigned bits) { return (float)(bits >> 8u) * (1.0f / 16777216.0f); }

TS_HD float4 rand4(unsigned seed, unsigned px, unsigned py, unsigned sample, unsigned group) {
    uint4 h = pcg4d(make_uint4(px, py, sample, seed ^ pcg_hash(group)));
    return make_float4(to_unit_float(h.x), to_unit_float(h.y), to_unit_float(h.z), to_unit_float(h.w));
}

TS_HD unsigned reverse_bits(unsigned x) {
#ifdef __CUDA_ARCH__
    return __brev(x);
#else
    x = (x << 16u) | (x >> 16u);
    x = ((x & 0x00ff00ffu) << 8u) | ((x >> 8u) & 0x00ff00ffu);
    x = ((x & 0x0f0f0f0fu) << 4u) | ((x >> 4u) & 0x0f0f0f0fu);
    x = ((x & 0x33333333u) << 2u) | ((x >> 2u) & 0x33333333u);
    return ((x & 0x55555555u) << 1u) | ((x >> 1u) & 0x55555555u);
#endif
}

// Laine and Karras's permutation as Burley improved it.
TS_HD unsigned laine_karras(unsigned x, unsigned seed) {
    x += seed;
    x ^= x * 0x6c50b47cu;
    x ^= x * 0xb82f1e52u;
    x ^= x * 0xc7afe638u;
    x ^= x * 0x8d22f6e6u;
    return x;
}

TS_HD unsigned owen_scramble(unsigned x, unsigned seed) { return reverse_bits(laine_karras(reverse_bits(x), seed)); }

// Sobol's second dimension, bit-reversed: a superset sum over bit positions
// (Pascal's triangle mod 2 as generator matrix).
TS_HD unsigned sobol_second_reversed(unsigned x) {
    x ^= (x >> 1u) & 0x55555555u;
    x ^= (x >> 2u) & 0x33333333u;
    x ^= (x >> 4u) & 0x0f0f0f0fu;
    x ^= (x >> 8u) & 0x00ff00ffu;
    x ^= (x >> 16u) & 0x0000ffffu;
    return x;
}

// Both coordinates formed bit-reversed, where an Owen scramble is one permutation.
TS_HD uint2 sobol_pair(unsigned sample, unsigned shuffle, unsigned scramble) {
    unsigned index = owen_scramble(sample, shuffle);
    return make_uint2(reverse_bits(laine_karras(index, scramble)),
                      reverse_bits(laine_karras(sobol_second_reversed(index), pcg_hash(scramble))));
}

static constexpr unsigned SAMPLER_KEY = 0x50b01e55u;

// The low-discrepancy sequence: (.y, .z) one stratified pair, (.x, .w) another.
TS_HD float4 sample4(unsigned seed, unsigned px, unsigned py, unsigned sample, unsigned group) {
    uint4 key = pcg4d(make_uint4(px, py, seed ^ pcg_hash(group), SAMPLER_KEY));
    uint2 yz = sobol_pair(sample, key.x, key.y);
    uint2 xw = sobol_pair(sample, key.z, key.w);
    return make_float4(to_unit_float(xw.x), to_unit_float(yz.x), to_unit_float(yz.y), to_unit_float(xw.y));
}

TS_HD unsigned group_light(unsigned bounce) { return 1u + GROUPS_PER_BOUNCE * bounce; }
TS_HD unsigned group_bsdf(unsigned bounce) { return 2u + GROUPS_PER_BOUNCE * bounce; }
