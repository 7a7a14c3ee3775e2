//! The compute pipelines and the per-band buffers: a tile is rendered in bands
//! of rows, each band in batches of samples (one dispatch each, sized by
//! [`BatchSchedule`]), then its lanes are reduced and the sums read back.

use std::time::Instant;

use bytemuck::{Pod, Zeroable};

use super::adapter::GpuDevice;
use super::scene::{buffer_entry, SceneBuffers};
use super::schedule::BatchSchedule;
use super::shader;
use crate::backend::{BackendError, Progress};
use crate::render::task::{PixelSums, RenderTask, TileResult};
use crate::sampling::rng::frame_seed;

/// Workgroups are `WORKGROUP_SIZE × WORKGROUP_SIZE` pixels of one lane.
pub const WORKGROUP_SIZE: u32 = 8;
/// Storage buffers of bind group 1 (pixel sums and ray counts).
pub const BAND_STORAGE_BUFFERS: u32 = 2;
/// (pixel, lane) slots of one band: about 260 000 invocations per dispatch fill
/// a large GPU, and the band's sums take 16 MiB.
pub const BAND_SLOTS: u64 = 1 << 18;
/// Most lanes (samples of one pixel traced side by side).
pub const MAX_LANES: u32 = 64;

/// Parameters of one dispatch; mirrors `DispatchParams` in `shaders/kernel.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct DispatchParams {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub rows: u32,
    pub sample_start: u32,
    pub sample_end: u32,
    pub lanes: u32,
    pub seed: u32,
    pub max_depth: u32,
    pub _pad0: u32,
    pub _pad1: u32,
    pub _pad2: u32,
}

/// How a tile is cut: lanes per pixel and rows per band.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bands {
    pub lanes: u32,
    pub rows: u32,
}

impl Bands {
    /// Lanes fill [`BAND_SLOTS`] when the tile is small (but never exceed the
    /// samples to trace); a tile larger than that is cut into bands of rows.
    pub fn for_tile(width: u32, height: u32, samples: u32) -> Bands {
        let pixels = (width as u64 * height as u64).max(1);
        let lanes = (BAND_SLOTS / pixels).clamp(1, MAX_LANES as u64) as u32;
        let lanes = lanes.min(samples.max(1));
        let rows = (BAND_SLOTS / (width.max(1) as u64 * lanes as u64)).clamp(1, height.max(1) as u64) as u32;
        Bands { lanes, rows }
    }

    /// Slots a band of this shape needs for a tile `width` wide.
    fn slots(&self, width: u32) -> u64 {
        width as u64 * self.rows as u64 * self.lanes as u64
    }
}

/// The two pipelines and their shared layout.
pub struct Kernels {
    pub scene_layout: wgpu::BindGroupLayout,
    band_layout: wgpu::BindGroupLayout,
    render: wgpu::ComputePipeline,
    reduce: wgpu::ComputePipeline,
}

impl Kernels {
    /// Compiles the path tracer for `gpu`.
    pub fn new(gpu: &GpuDevice) -> Result<Self, BackendError> {
        let device = &gpu.device;
        gpu.scoped(|| {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("tessera path tracer"),
                source: wgpu::ShaderSource::Wgsl(shader::source().into()),
            });
            let scene_layout = super::scene::bind_group_layout(device);
            let band_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some("band"),
                entries: &[
                    buffer_entry(0, wgpu::BufferBindingType::Uniform),
                    buffer_entry(1, wgpu::BufferBindingType::Storage { read_only: false }),
                    buffer_entry(2, wgpu::BufferBindingType::Storage { read_only: false }),
                ],
            });
            let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("path tracer"),
                bind_group_layouts: &[Some(&scene_layout), Some(&band_layout)],
                immediate_size: 0,
            });
            let pipeline = |entry: &str| {
                device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(entry),
                    layout: Some(&layout),
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: None,
                })
            };
            let render = pipeline(shader::RENDER_ENTRY);
            let reduce = pipeline(shader::REDUCE_ENTRY);
            Kernels { scene_layout, band_layout, render, reduce }
        })
    }
}

/// Buffers of one band, reused while bands fit.
pub struct BandBuffers {
    slots: u64,
    params: wgpu::Buffer,
    sums: wgpu::Buffer,
    rays: wgpu::Buffer,
    readback: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
}

const SUMS_SIZE: u64 = std::mem::size_of::<PixelSums>() as u64;
const RAYS_SIZE: u64 = 8;

impl BandBuffers {
    fn new(gpu: &GpuDevice, kernels: &Kernels, slots: u64) -> Result<Self, BackendError> {
        let device = &gpu.device;
        gpu.scoped(|| {
            let buffer = |label: &str, size: u64, usage| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(label),
                    size,
                    usage,
                    mapped_at_creation: false,
                })
            };
            let storage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
            let params = buffer(
                "dispatch params",
                std::mem::size_of::<DispatchParams>() as u64,
                wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            );
            let sums = buffer("pixel sums", slots * SUMS_SIZE, storage);
            let rays = buffer("ray counts", slots * RAYS_SIZE, storage);
            // Lane 0 of a full band: the sums, then the ray counts.
            let pixels = slots;
            let readback = buffer(
                "readback",
                pixels * (SUMS_SIZE + RAYS_SIZE),
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            );
            let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("band"),
                layout: &kernels.band_layout,
                entries: &[
                    wgpu::BindGroupEntry { binding: 0, resource: params.as_entire_binding() },
                    wgpu::BindGroupEntry { binding: 1, resource: sums.as_entire_binding() },
                    wgpu::BindGroupEntry { binding: 2, resource: rays.as_entire_binding() },
                ],
            });
            BandBuffers { slots, params, sums, rays, readback, bind_group }
        })
    }
}

/// Everything `render_task` needs, borrowed from the backend.
pub struct Renderer<'a> {
    pub gpu: &'a GpuDevice,
    pub kernels: &'a Kernels,
    pub scene: &'a SceneBuffers,
    pub band: &'a mut Option<BandBuffers>,
    pub schedule: &'a mut BatchSchedule,
}

impl Renderer<'_> {
    /// Renders `task` (already checked to lie inside the image) band by band.
    pub fn render_task(&mut self, task: &RenderTask, progress: Progress) -> Result<TileResult, BackendError> {
        let mut result = TileResult::empty(task);
        let samples = task.samples.count();
        if samples == 0 {
            return Ok(result);
        }
        let tile = task.tile;
        let shape = Bands::for_tile(tile.width, tile.height, samples);
        let slots = shape.slots(tile.width);
        if self.band.as_ref().is_none_or(|b| b.slots < slots) {
            *self.band = None; // free the old buffers first
            *self.band = Some(BandBuffers::new(self.gpu, self.kernels, slots)?);
        }
        let mut y = 0;
        while y < tile.height {
            // Bands may shrink (never grow) as the device proves slow; a pixel's
            // sums do not depend on which band it is in.
            let fit = self.schedule.max_band_pixels().map_or(u64::MAX, |p| (p / tile.width as u64).max(1));
            let rows = shape.rows.min(tile.height - y).min(fit.min(u32::MAX as u64) as u32);
            let params = DispatchParams {
                x: tile.x,
                y: tile.y + y,
                width: tile.width,
                rows,
                sample_start: task.samples.start,
                sample_end: task.samples.end,
                lanes: shape.lanes,
                seed: frame_seed(task.seed, task.frame),
                max_depth: task.max_depth,
                ..Default::default()
            };
            let first = (y * tile.width) as usize;
            let pixels = &mut result.pixels[first..first + (rows * tile.width) as usize];
            result.rays += self.render_band(params, pixels, progress)?;
            y += rows;
        }
        Ok(result)
    }

    /// Renders one band into `pixels` (its rows of the tile); returns the rays traced.
    fn render_band(
        &mut self,
        params: DispatchParams,
        pixels: &mut [PixelSums],
        progress: Progress,
    ) -> Result<u64, BackendError> {
        let band = self.band.as_ref().expect("band buffers were allocated");
        let (gpu, kernels) = (self.gpu, self.kernels);
        let device = &gpu.device;
        let slots = params.width as u64 * params.rows as u64 * params.lanes as u64;
        let groups = |n: u32| n.div_ceil(WORKGROUP_SIZE);
        let dispatch = |pipeline: &wgpu::ComputePipeline, lanes: u32, encoder: &mut wgpu::CommandEncoder| {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
            pass.set_pipeline(pipeline);
            pass.set_bind_group(0, &self.scene.bind_group, &[]);
            pass.set_bind_group(1, &band.bind_group, &[]);
            pass.dispatch_workgroups(groups(params.width), groups(params.rows), lanes);
        };

        let mut encoder = device.create_command_encoder(&Default::default());
        encoder.clear_buffer(&band.sums, 0, Some(slots * SUMS_SIZE));
        encoder.clear_buffer(&band.rays, 0, Some(slots * RAYS_SIZE));
        let pixel_count = params.width as u64 * params.rows as u64;
        let mut start = params.sample_start;
        while start < params.sample_end {
            let batch = self.schedule.next_batch(pixel_count, params.sample_end - start);
            let batch_params = DispatchParams { sample_start: start, sample_end: start + batch, ..params };
            gpu.queue.write_buffer(&band.params, 0, bytemuck::bytes_of(&batch_params));
            dispatch(&kernels.render, batch.min(params.lanes), &mut encoder);
            let began = Instant::now();
            gpu.queue.submit([encoder.finish()]);
            gpu.wait()?;
            tracing::debug!("wgpu: {pixel_count} pixels × {batch} samples in {:?}", began.elapsed());
            self.schedule.record(pixel_count, batch, began.elapsed());
            start += batch;
            if !progress(pixel_count * batch as u64) {
                return Err(BackendError::Cancelled);
            }
            encoder = device.create_command_encoder(&Default::default());
        }

        // Sum the lanes into lane 0 and read lane 0 back.
        gpu.queue.write_buffer(&band.params, 0, bytemuck::bytes_of(&params));
        dispatch(&kernels.reduce, 1, &mut encoder);
        let sums_bytes = pixel_count * SUMS_SIZE;
        let rays_bytes = pixel_count * RAYS_SIZE;
        encoder.copy_buffer_to_buffer(&band.sums, 0, &band.readback, 0, sums_bytes);
        encoder.copy_buffer_to_buffer(&band.rays, 0, &band.readback, sums_bytes, rays_bytes);
        gpu.queue.submit([encoder.finish()]);
        let slice = band.readback.slice(..sums_bytes + rays_bytes);
        let mapped = std::sync::Arc::new(std::sync::Mutex::new(None));
        let sink = mapped.clone();
        slice.map_async(wgpu::MapMode::Read, move |r| *sink.lock().unwrap_or_else(|p| p.into_inner()) = Some(r));
        gpu.wait()?;
        match mapped.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(gpu.device_error(format!("reading back the tile failed: {e}"))),
            None => return Err(gpu.device_error("reading back the tile did not finish".into())),
        }
        let rays = {
            let view = slice.get_mapped_range().map_err(|e| gpu.device_error(e.to_string()))?;
            let (sums, rays) = view.split_at(sums_bytes as usize);
            pixels.copy_from_slice(bytemuck::cast_slice(sums));
            let rays: &[[u32; 2]] = bytemuck::cast_slice(rays);
            rays.iter().map(|&[low, high]| (high as u64) << 32 | low as u64).sum()
        };
        band.readback.unmap();
        Ok(rays)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_tiles_get_lanes_and_large_ones_bands() {
        assert_eq!(Bands::for_tile(64, 64, 256), Bands { lanes: 64, rows: 64 });
        assert_eq!(Bands::for_tile(64, 64, 16), Bands { lanes: 16, rows: 64 });
        assert_eq!(Bands::for_tile(256, 256, 64), Bands { lanes: 4, rows: 256 });
        assert_eq!(Bands::for_tile(1000, 1000, 64), Bands { lanes: 1, rows: 262 });
        assert_eq!(Bands::for_tile(16384, 16384, 1), Bands { lanes: 1, rows: 16 });
        let b = Bands::for_tile(1, 1, 1);
        assert_eq!((b.lanes, b.rows), (1, 1));
        for (w, h, s) in [(64, 64, 256), (1000, 1000, 64), (7, 3, 9), (16384, 1, 4)] {
            assert!(Bands::for_tile(w, h, s).slots(w) <= BAND_SLOTS);
        }
    }
}
