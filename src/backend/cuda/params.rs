//! The structs the CUDA kernels take as parameters (mirrored in
//! `kernels/layout.cuh` and `kernels/wavefront.cuh`, checked by
//! [`layout_checks`](super::source::layout_checks)), the packing of a
//! [`FlatScene`] into one device allocation, and the division of a task into waves.

use bytemuck::{Pod, Zeroable};

use crate::scene::flat::*;
use crate::scene::texture::SRGB_TO_LINEAR;

/// `SceneView` in `kernels/layout.cuh`: the header by value and a device address
/// per array of the flat scene.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct DeviceScene {
    pub header: SceneHeader,
    pub nodes: u64,
    pub triangles: u64,
    pub triangle_vertices: u64,
    pub vertices: u64,
    pub materials: u64,
    pub textures: u64,
    pub texels: u64,
    pub lights: u64,
    pub light_cdf: u64,
    pub env_texels: u64,
    pub env_marginal_cdf: u64,
    pub env_conditional_cdf: u64,
    pub srgb_to_linear: u64,
    pub lights_len: u32,
    pub _pad: [u32; 3],
    pub motion: MotionHeader,
    pub motion_cameras: u64,
    pub motion_nodes: u64,
    pub motion_triangles: u64,
    pub motion_vertices: u64,
}

/// `WaveParams` in `kernels/wavefront.cuh`: the buffers of the wavefront and the
/// pixels and samples of one wave.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct WaveParams {
    pub state: u64,
    pub hits: u64,
    pub shadow: u64,
    pub queue_in: u64,
    pub queue_out: u64,
    pub shadow_queue: u64,
    pub counters: u64,
    pub pixels: u64,
    pub rays: u64,
    pub capacity: u32,
    pub seed: u32,
    pub max_depth: u32,
    pub tile_x: u32,
    pub tile_y: u32,
    pub tile_width: u32,
    pub pixel_begin: u32,
    pub pixel_count: u32,
    pub sample_begin: u32,
    pub sample_count: u32,
    pub path_count: u32,
    pub queue_len: u32,
}

/// float4 lanes of path state per path (`STATE_LANES` in wavefront.cuh).
pub const STATE_LANES: usize = 7;
/// Index of the counter of paths that go on (`COUNTER_NEXT`).
pub const COUNTER_NEXT: usize = 0;
/// float4 lanes of a shadow ray (`SHADOW_LANES`).
pub const SHADOW_LANES: usize = 3;
/// Device bytes the wavefront needs per path of a wave: state, hit, shadow ray, three queues.
pub const BYTES_PER_PATH: usize = (STATE_LANES + 1 + SHADOW_LANES) * 16 + 3 * 4;

/// Where each array of a packed scene starts, in bytes from the allocation's start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SceneOffsets {
    pub nodes: u64,
    pub triangles: u64,
    pub triangle_vertices: u64,
    pub vertices: u64,
    pub materials: u64,
    pub textures: u64,
    pub texels: u64,
    pub lights: u64,
    pub light_cdf: u64,
    pub env_texels: u64,
    pub env_marginal_cdf: u64,
    pub env_conditional_cdf: u64,
    pub srgb_to_linear: u64,
    pub motion_cameras: u64,
    pub motion_nodes: u64,
    pub motion_triangles: u64,
    pub motion_vertices: u64,
}

/// The flat scene's arrays in one byte buffer for a single upload. Arrays start
/// on 256-byte boundaries, except the BVH nodes, which start 32 bytes past one:
/// the build puts every child pair at an odd index, so each pair then shares one
/// 64-byte line.
pub fn pack_scene(scene: &FlatScene) -> (Vec<u8>, SceneOffsets) {
    fn put(bytes: &mut Vec<u8>, data: &[u8], skew: usize) -> u64 {
        let start = bytes.len().next_multiple_of(256) + skew;
        bytes.resize(start, 0);
        bytes.extend_from_slice(data);
        start as u64
    }
    use bytemuck::cast_slice;
    let mut b = Vec::with_capacity(scene.byte_size() + 16 * 256 + 1024);
    let srgb = &*SRGB_TO_LINEAR;
    let offsets = SceneOffsets {
        nodes: put(&mut b, cast_slice(&scene.nodes), 32),
        triangles: put(&mut b, cast_slice(&scene.triangles), 0),
        triangle_vertices: put(&mut b, cast_slice(&scene.triangle_vertices), 0),
        vertices: put(&mut b, cast_slice(&scene.vertices), 0),
        materials: put(&mut b, cast_slice(&scene.materials), 0),
        textures: put(&mut b, cast_slice(&scene.textures), 0),
        texels: put(&mut b, cast_slice(&scene.texels), 0),
        lights: put(&mut b, cast_slice(&scene.lights), 0),
        light_cdf: put(&mut b, cast_slice(&scene.light_cdf), 0),
        env_texels: put(&mut b, cast_slice(&scene.env_texels), 0),
        env_marginal_cdf: put(&mut b, cast_slice(&scene.env_marginal_cdf), 0),
        env_conditional_cdf: put(&mut b, cast_slice(&scene.env_conditional_cdf), 0),
        srgb_to_linear: put(&mut b, cast_slice(srgb.as_slice()), 0),
        motion_cameras: put(&mut b, cast_slice(&scene.motion_cameras), 0),
        motion_nodes: put(&mut b, cast_slice(&scene.motion_nodes), 32),
        motion_triangles: put(&mut b, cast_slice(&scene.motion_triangles), 0),
        motion_vertices: put(&mut b, cast_slice(&scene.motion_vertices), 0),
    };
    // Room for the 16-byte loads of the last element of any array.
    b.resize(b.len().next_multiple_of(256), 0);
    (b, offsets)
}

/// The kernels' view of a scene packed by [`pack_scene`] at device address `base`.
pub fn device_scene(scene: &FlatScene, base: u64, o: &SceneOffsets) -> DeviceScene {
    DeviceScene {
        header: scene.header,
        nodes: base + o.nodes,
        triangles: base + o.triangles,
        triangle_vertices: base + o.triangle_vertices,
        vertices: base + o.vertices,
        materials: base + o.materials,
        textures: base + o.textures,
        texels: base + o.texels,
        lights: base + o.lights,
        light_cdf: base + o.light_cdf,
        env_texels: base + o.env_texels,
        env_marginal_cdf: base + o.env_marginal_cdf,
        env_conditional_cdf: base + o.env_conditional_cdf,
        srgb_to_linear: base + o.srgb_to_linear,
        lights_len: scene.lights.len() as u32,
        _pad: [0; 3],
        motion: scene.motion,
        motion_cameras: base + o.motion_cameras,
        motion_nodes: base + o.motion_nodes,
        motion_triangles: base + o.motion_triangles,
        motion_vertices: base + o.motion_vertices,
    }
}

/// One wave: tile pixels `pixel_begin..pixel_begin + pixel_count` (row-major in
/// the tile) times samples `sample_begin..sample_begin + sample_count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wave {
    pub pixel_begin: u32,
    pub pixel_count: u32,
    pub sample_begin: u32,
    pub sample_count: u32,
}

impl Wave {
    pub fn paths(&self) -> u64 {
        self.pixel_count as u64 * self.sample_count as u64
    }
}

/// Splits `pixels` × samples `samples` into waves of at most `capacity` paths,
/// sample chunk by sample chunk, so every pixel receives its samples in order.
/// Whole tiles go in one wave when they fit (then each wave takes as many samples
/// as fit); larger tiles are cut into pixel ranges of one sample each.
pub fn plan_waves(pixels: u32, samples: std::ops::Range<u32>, capacity: u32) -> Vec<Wave> {
    let capacity = capacity.max(1);
    let mut waves = Vec::new();
    if pixels == 0 || samples.is_empty() {
        return waves;
    }
    let (pixel_chunk, sample_chunk) = if pixels <= capacity { (pixels, capacity / pixels) } else { (capacity, 1) };
    let mut sample = samples.start;
    while sample < samples.end {
        let sample_count = sample_chunk.min(samples.end - sample);
        let mut pixel = 0;
        while pixel < pixels {
            let pixel_count = pixel_chunk.min(pixels - pixel);
            waves.push(Wave { pixel_begin: pixel, pixel_count, sample_begin: sample, sample_count });
            pixel += pixel_count;
        }
        sample += sample_count;
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waves_cover_every_path_once_in_sample_order() {
        for (pixels, samples, capacity) in [(100, 0..7, 1000), (100, 3..40, 250), (5000, 0..3, 1024), (7, 0..1, 1)] {
            let waves = plan_waves(pixels, samples.clone(), capacity);
            let mut seen = vec![Vec::new(); pixels as usize];
            for w in &waves {
                assert!(w.paths() <= capacity as u64 && w.paths() > 0, "{w:?}");
                for p in w.pixel_begin..w.pixel_begin + w.pixel_count {
                    seen[p as usize].extend(w.sample_begin..w.sample_begin + w.sample_count);
                }
            }
            let expected: Vec<u32> = samples.clone().collect();
            assert!(seen.iter().all(|s| *s == expected), "{pixels} px, {samples:?}, capacity {capacity}");
        }
        assert!(plan_waves(10, 4..4, 100).is_empty());
    }

    #[test]
    fn packed_nodes_put_child_pairs_in_one_line() {
        let scene = crate::scene::prepare(
            &crate::scene::cornell::cornell_box().unwrap(),
            None,
            &crate::scene::PrepareOptions {
                width: 8,
                height: 8,
                camera: None,
                time: 0.0,
                animation: Default::default(),
                shutter: None,
            },
        )
        .unwrap();
        let (bytes, o) = pack_scene(&scene);
        assert_eq!(o.nodes % 64, 32);
        let arrays = [o.triangles, o.materials, o.texels, o.lights, o.srgb_to_linear];
        assert!(arrays.iter().all(|a| a % 256 == 0));
        let at = o.materials as usize;
        assert_eq!(&bytes[at..at + size_of::<Material>()], bytemuck::bytes_of(&scene.materials[0]));
        assert_eq!(bytes.len() % 256, 0);
    }
}
