// The wavefront path tracer's per-item work, shared by the CUDA kernels
// (integrator.cu: one thread per item) and the host tests (a loop per stage).
//
// A task (tile × sample range) runs in waves of at most `capacity` paths: path i
// of a wave is pixel `pixel_begin + i % pixel_count` of the tile (row-major) and
// sample `sample_begin + i / pixel_count`, so neighbouring threads trace
// neighbouring pixels. Per wave: generate fills the extension queue; then, until
// the queue is empty, extend (closest hit) → shade (pushes the surviving paths to
// the next queue and NEE shadow rays to the shadow queue) → shadow; finally
// accumulate adds every path of the wave to its pixel's sums in sample order, so
// the sums do not depend on how threads were scheduled.
//
// Path state is stored as STATE_LANES arrays of float4 (structure of arrays), so
// every load and store of a warp is one contiguous 512-byte access.
#pragma once

#include "path.cuh"

// Threads per block of every kernel (their __launch_bounds__).
static constexpr unsigned TS_BLOCK = 128u;
static constexpr unsigned STATE_LANES = 7u;
static constexpr unsigned SHADOW_LANES = 3u;
// counters[COUNTER_NEXT]: paths pushed to queue_out; counters[COUNTER_SHADOW]: shadow rays.
static constexpr unsigned COUNTER_NEXT = 0u;
static constexpr unsigned COUNTER_SHADOW = 1u;

// Device buffers and the range of one wave (params.rs: WaveParams).
struct WaveParams {
    float4* state;           // STATE_LANES * capacity
    float4* hits;            // capacity: (t, u, v, triangle or NONE)
    float4* shadow;          // SHADOW_LANES * capacity
    unsigned* queue_in;      // capacity: paths to extend and shade this iteration
    unsigned* queue_out;     // capacity: paths that go on
    unsigned* shadow_queue;  // capacity: paths with a shadow ray
    unsigned* counters;      // COUNTER_NEXT, COUNTER_SHADOW, 2 spare
    PixelSums* pixels;       // tile_width * tile_height sums, row-major
    unsigned long long* rays;
    unsigned capacity;
    unsigned seed;
    unsigned max_depth;
    unsigned tile_x;
    unsigned tile_y;
    unsigned tile_width;
    unsigned pixel_begin;
    unsigned pixel_count;
    unsigned sample_begin;
    unsigned sample_count;
    unsigned path_count;     // pixel_count * sample_count
    unsigned queue_len;      // entries of queue_in
};

TS_HD unsigned push_index(unsigned* counter) {
#if defined(__CUDA_ARCH__)
    return atomicAdd(counter, 1u);
#else
    return (*counter)++;
#endif
}

// Lane layout: 0 origin+prev_bsdf_pdf, 1 dir+depth, 2 beta+flags, 3 radiance+rays,
// 4 albedo+pixel (x | y << 16), 5 normal+sample, 6 medium+spare. flags: bounce | transparent hits << 16 | hit << 24.
TS_HD void store_state(const WaveParams& w, unsigned i, const PathState& p) {
    const unsigned c = w.capacity;
    unsigned flags = p.bounce | (p.transparent_hits << 16u) | ((p.hit ? 1u : 0u) << 24u);
    w.state[0 * c + i] = make_float4(p.ray.origin.x, p.ray.origin.y, p.ray.origin.z, p.prev_bsdf_pdf);
    w.state[1 * c + i] = make_float4(p.ray.dir.x, p.ray.dir.y, p.ray.dir.z, p.depth);
    w.state[2 * c + i] = make_float4(p.beta.x, p.beta.y, p.beta.z, __uint_as_float(flags));
    w.state[3 * c + i] = make_float4(p.radiance.x, p.radiance.y, p.radiance.z, __uint_as_float(p.rays));
    w.state[4 * c + i] = make_float4(p.albedo.x, p.albedo.y, p.albedo.z, __uint_as_float(p.px | (p.py << 16u)));
    w.state[5 * c + i] = make_float4(p.normal.x, p.normal.y, p.normal.z, __uint_as_float(p.sample));
    w.state[6 * c + i] = make_float4(p.medium.x, p.medium.y, p.medium.z, 0.0f);
}

TS_HD PathState load_state(const WaveParams& w, unsigned i) {
    const unsigned c = w.capacity;
    float4 l0 = w.state[0 * c + i], l1 = w.state[1 * c + i], l2 = w.state[2 * c + i];
    float4 l3 = w.state[3 * c + i], l4 = w.state[4 * c + i], l5 = w.state[5 * c + i], l6 = w.state[6 * c + i];
    PathState p;
    p.ray.origin = make_float3(l0.x, l0.y, l0.z);
    p.prev_bsdf_pdf = l0.w;
    p.ray.dir = make_float3(l1.x, l1.y, l1.z);
    p.depth = l1.w;
    p.beta = make_float3(l2.x, l2.y, l2.z);
    unsigned flags = __float_as_uint(l2.w);
    p.bounce = flags & 0xffffu;
    p.transparent_hits = (flags >> 16u) & 0xffu;
    p.hit = (flags >> 24u) != 0u;
    p.radiance = make_float3(l3.x, l3.y, l3.z);
    p.rays = __float_as_uint(l3.w);
    p.albedo = make_float3(l4.x, l4.y, l4.z);
    unsigned pixel = __float_as_uint(l4.w);
    p.px = pixel & 0xffffu;
    p.py = pixel >> 16u;
    p.normal = make_float3(l5.x, l5.y, l5.z);
    p.sample = __float_as_uint(l5.w);
    p.medium = make_float3(l6.x, l6.y, l6.z);
    return p;
}

TS_HD void wave_path_pixel(const WaveParams& w, unsigned i, unsigned& px, unsigned& py, unsigned& sample) {
    unsigned tile_pixel = w.pixel_begin + i % w.pixel_count;
    px = w.tile_x + tile_pixel % w.tile_width;
    py = w.tile_y + tile_pixel / w.tile_width;
    sample = w.sample_begin + i / w.pixel_count;
}

// The instant of the shutter path i travels at (drawn again by every stage
// rather than stored: it is one hash, and none for a frame that holds still).
TS_HD Instant wave_path_instant(const SceneView& s, const WaveParams& w, unsigned i) {
    unsigned px, py, sample;
    wave_path_pixel(w, i, px, py, sample);
    return sample_instant(s, w.seed, px, py, sample);
}

// Ray generation: path i gets its camera ray and joins the extension queue.
TS_HD void wf_generate(const SceneView& s, const WaveParams& w, unsigned i) {
    unsigned px, py, sample;
    wave_path_pixel(w, i, px, py, sample);
    PathState p;
    path_begin(s, w.seed, px, py, sample, sample_instant(s, w.seed, px, py, sample), p);
    store_state(w, i, p);
    w.queue_in[i] = i;
}

// Extension: closest hit of the path's ray.
TS_HD void wf_extend(const SceneView& s, const WaveParams& w, unsigned slot) {
    unsigned i = w.queue_in[slot];
    const unsigned c = w.capacity;
    float4 l0 = w.state[0 * c + i], l1 = w.state[1 * c + i];
    Ray ray;
    ray.origin = make_float3(l0.x, l0.y, l0.z);
    ray.dir = make_float3(l1.x, l1.y, l1.z);
    Hit hit;
    if (intersect(s, ray, TS_INF, wave_path_instant(s, w, i), hit)) {
        w.hits[i] = make_float4(hit.t, hit.u, hit.v, __uint_as_float(hit.tri));
    } else {
        w.hits[i] = make_float4(0.0f, 0.0f, 0.0f, __uint_as_float(NONE));
    }
}

// Shading: one path_shade step; queues the path and its shadow ray.
TS_HD void wf_shade(const SceneView& s, const WaveParams& w, unsigned slot) {
    unsigned i = w.queue_in[slot];
    PathState p = load_state(w, i);
    float4 h = w.hits[i];
    Hit hit;
    hit.t = h.x;
    hit.u = h.y;
    hit.v = h.z;
    hit.tri = __float_as_uint(h.w);
    p.rays += 1u;  // the extension ray
    ShadowRay shadow;
    bool has_shadow;
    Instant at = sample_instant(s, w.seed, p.px, p.py, p.sample);
    bool more = path_shade(s, w.seed, w.max_depth, at, p, hit.tri != NONE, hit, shadow, has_shadow);
    if (has_shadow) {
        p.rays += 1u;
        const unsigned c = w.capacity;
        w.shadow[0 * c + i] = make_float4(shadow.ray.origin.x, shadow.ray.origin.y, shadow.ray.origin.z, shadow.t_max);
        w.shadow[1 * c + i] = make_float4(shadow.ray.dir.x, shadow.ray.dir.y, shadow.ray.dir.z, 0.0f);
        w.shadow[2 * c + i] = make_float4(shadow.contribution.x, shadow.contribution.y, shadow.contribution.z, 0.0f);
        w.shadow_queue[push_index(w.counters + COUNTER_SHADOW)] = i;
    }
    if (more) w.queue_out[push_index(w.counters + COUNTER_NEXT)] = i;
    store_state(w, i, p);
}

// Shadow rays: add the NEE contribution when nothing blocks the light.
TS_HD void wf_shadow(const SceneView& s, const WaveParams& w, unsigned slot) {
    if (slot >= w.counters[COUNTER_SHADOW]) return;
    unsigned i = w.shadow_queue[slot];
    const unsigned c = w.capacity;
    float4 a = w.shadow[0 * c + i], b = w.shadow[1 * c + i];
    Ray ray;
    ray.origin = make_float3(a.x, a.y, a.z);
    ray.dir = make_float3(b.x, b.y, b.z);
    if (occluded(s, ray, a.w, wave_path_instant(s, w, i))) return;
    float4 add = w.shadow[2 * c + i];
    float4 r = w.state[3 * c + i];
    w.state[3 * c + i] = make_float4(r.x + add.x, r.y + add.y, r.z + add.z, r.w);
}

// Megakernel: the whole path of item i in one thread, leaving the same state as the wavefront.
TS_HD void wf_megakernel(const SceneView& s, const WaveParams& w, unsigned i) {
    unsigned px, py, sample;
    wave_path_pixel(w, i, px, py, sample);
    PathResult r = trace_path(s, w.seed, px, py, sample, w.max_depth);
    PathState p;
    p.ray.origin = splat3(0.0f);
    p.ray.dir = splat3(0.0f);
    p.beta = splat3(0.0f);
    p.medium = splat3(0.0f);
    p.prev_bsdf_pdf = 0.0f;
    p.bounce = 0u;
    p.transparent_hits = 0u;
    p.px = px;
    p.py = py;
    p.sample = sample;
    p.radiance = r.radiance;
    p.albedo = r.albedo;
    p.normal = r.normal;
    p.depth = r.depth;
    p.hit = r.hit;
    p.rays = r.rays;
    store_state(w, i, p);
}

// Accumulation: wave pixel p adds its paths, in sample order, to the tile's sums.
TS_HD void wf_accumulate(const WaveParams& w, unsigned p) {
    unsigned tile_pixel = w.pixel_begin + p;
    PixelSums sums = w.pixels[tile_pixel];
    unsigned long long rays = 0;
    for (unsigned j = 0; j < w.sample_count; ++j) {
        PathState state = load_state(w, j * w.pixel_count + p);
        PathResult r = path_result(state);
        accumulate(sums, r);
        rays += r.rays;
    }
    w.pixels[tile_pixel] = sums;
#if defined(__CUDA_ARCH__)
    atomicAdd(w.rays, rays);
#else
    *w.rays += rays;
#endif
}
