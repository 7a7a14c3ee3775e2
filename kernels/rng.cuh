// Counter-based random numbers (src/sampling/rng.rs): pcg4d over
// (pixel x, pixel y, sample, seed ^ pcg_hash(group)), bit-identical to the CPU.
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

TS_HD unsigned group_light(unsigned bounce) { return 1u + GROUPS_PER_BOUNCE * bounce; }
TS_HD unsigned group_bsdf(unsigned bounce) { return 2u + GROUPS_PER_BOUNCE * bounce; }
