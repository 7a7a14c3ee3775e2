// The compute kernels. A band of tile rows is rendered with `params.lanes`
// PixelSums slots per pixel: lane l holds the samples whose index is l modulo
// lanes, added in sample order, so that samples of one pixel run side by side
// and small tiles still fill a large GPU. After the band's last batch,
// reduce_lanes adds the lanes into lane 0 in lane order. Neither sum depends on
// how the host splits samples into batches. The host keeps each dispatch short
// (src/backend/wgpu/schedule.rs) so no driver watchdog fires.

// Mirrored by DispatchParams in src/backend/wgpu/kernel.rs.
struct DispatchParams {
    // Image coordinates of the band's top-left pixel, and its size.
    x: u32,
    y: u32,
    width: u32,
    rows: u32,
    // Samples sample_start .. sample_end of this batch.
    sample_start: u32,
    sample_end: u32,
    lanes: u32,
    seed: u32,
    max_depth: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// Slot of pixel (x, y) of the band in `lane`.
fn slot(x: u32, y: u32, lane: u32) -> u32 {
    return (lane * params.rows + y) * params.width + x;
}

// Dispatched with min(samples in the batch, lanes) layers: layer z traces the
// batch's samples sample_start + z, sample_start + z + lanes, ..., which all
// belong to lane (sample_start + z) mod lanes, so no invocation idles.
@compute @workgroup_size(WORKGROUP_SIZE, WORKGROUP_SIZE, 1)
fn render_band(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= params.width || id.y >= params.rows || id.z >= params.lanes {
        return;
    }
    let px = params.x + id.x;
    let py = params.y + id.y;
    var sample = params.sample_start + id.z;
    let index = slot(id.x, id.y, sample % params.lanes);
    var sums = pixel_sums[index];
    var rays = ray_counts[index];
    while sample < params.sample_end {
        let path = trace_path(params.seed, px, py, sample, params.max_depth);
        accumulate(&sums, path);
        rays = add_rays(rays, vec2<u32>(path.rays, 0u));
        sample += params.lanes;
    }
    pixel_sums[index] = sums;
    ray_counts[index] = rays;
}

// 64-bit addition of (low, high) word pairs.
fn add_rays(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    let low = a.x + b.x;
    return vec2<u32>(low, a.y + b.y + select(0u, 1u, low < a.x));
}

@compute @workgroup_size(WORKGROUP_SIZE, WORKGROUP_SIZE, 1)
fn reduce_lanes(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x >= params.width || id.y >= params.rows {
        return;
    }
    let first = slot(id.x, id.y, 0u);
    var sums = pixel_sums[first];
    var rays = ray_counts[first];
    for (var lane = 1u; lane < params.lanes; lane++) {
        let other = pixel_sums[slot(id.x, id.y, lane)];
        sums.radiance += other.radiance;
        sums.radiance_sq += other.radiance_sq;
        sums.albedo += other.albedo;
        sums.normal += other.normal;
        sums.depth += other.depth;
        sums.alpha += other.alpha;
        sums.count += other.count;
        rays = add_rays(rays, ray_counts[slot(id.x, id.y, lane)]);
    }
    pixel_sums[first] = sums;
    ray_counts[first] = rays;
}
