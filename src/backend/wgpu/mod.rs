//! The wgpu backend: the CPU reference path tracer spelled in WGSL
//! (`shaders/*.wgsl`) and run as compute shaders on Vulkan, Metal or DX12 —
//! including software adapters such as Mesa's lavapipe.
//!
//! The flat scene is uploaded once per `upload`, as the same bytes the CPU
//! renders from. A task is rendered in bounded dispatches (bands of rows ×
//! batches of samples) so that no dispatch runs long enough to trip a driver
//! watchdog; progress is reported, and cancellation honoured, after each one.

pub mod adapter;
pub mod kernel;
pub mod scene;
pub mod schedule;
pub mod shader;

use super::{Backend, BackendError, BackendInfo, BackendKind, BackendOptions, Probe, Progress};
use crate::render::task::{RenderTask, TileResult};
use crate::scene::flat::FlatScene;
use adapter::{BufferNeeds, GpuDevice, Software};
use kernel::{BandBuffers, Kernels, Renderer};
use scene::SceneBuffers;
use schedule::BatchSchedule;

/// Lists the adapters (`tessera info --devices`); never panics.
pub fn probe() -> Probe {
    let listed = std::panic::catch_unwind(|| {
        let entries = adapter::list(&adapter::instance());
        let usable = entries.iter().any(|e| e.unusable.is_none());
        let devices: Vec<String> = entries.iter().map(adapter::AdapterEntry::describe).collect();
        (devices, if usable { String::new() } else { adapter::none_usable(&entries) })
    });
    let (devices, unavailable) = listed.unwrap_or_else(|_| (Vec::new(), "wgpu failed while listing adapters".into()));
    Probe { kind: BackendKind::Wgpu, devices, unavailable }
}

pub struct WgpuBackend {
    instance: wgpu::Instance,
    device_index: Option<usize>,
    software: Software,
    gpu: GpuDevice,
    kernels: Kernels,
    scene: Option<SceneBuffers>,
    band: Option<BandBuffers>,
    schedule: BatchSchedule,
}

impl WgpuBackend {
    /// Opens adapter `opts.device` (or the best one) and compiles the kernels.
    pub fn new(opts: &BackendOptions) -> Result<Self, BackendError> {
        Self::open(opts, Software::Allow)
    }

    /// As [`WgpuBackend::new`], for `--backend auto`: without `--device`, a
    /// software adapter is refused, since the CPU backend is faster.
    pub fn new_hardware(opts: &BackendOptions) -> Result<Self, BackendError> {
        Self::open(opts, Software::Refuse)
    }

    fn open(opts: &BackendOptions, software: Software) -> Result<Self, BackendError> {
        let instance = adapter::instance();
        let gpu = GpuDevice::open(&instance, opts.device, software, BufferNeeds::default())?;
        let kernels = Kernels::new(&gpu)?;
        Ok(Self {
            instance,
            device_index: opts.device,
            software,
            gpu,
            kernels,
            scene: None,
            band: None,
            schedule: BatchSchedule::default(),
        })
    }

    /// Reopens the device with limits that fit `needs` (adapters hand out one
    /// device each, so it is a fresh device from the same adapter).
    fn reopen(&mut self, needs: BufferNeeds) -> Result<(), BackendError> {
        self.scene = None;
        self.band = None;
        let gpu = GpuDevice::open(&self.instance, self.device_index, self.software, needs)?;
        if gpu.info != self.gpu.info {
            return Err(gpu.device_error("the adapter list changed while reopening the device".into()));
        }
        self.kernels = Kernels::new(&gpu)?;
        self.gpu = gpu;
        Ok(())
    }
}

impl Backend for WgpuBackend {
    fn info(&self) -> BackendInfo {
        let i = &self.gpu.info;
        BackendInfo { name: "wgpu".into(), device: format!("{} ({:?})", i.name, i.backend) }
    }

    fn upload(&mut self, flat: &FlatScene) -> Result<(), BackendError> {
        self.scene = None;
        scene::check_fits(flat, &self.gpu.adapter_limits, &self.gpu.info.name)?;
        let needs = scene::needs(flat);
        let limits = self.gpu.device.limits();
        if needs.binding > limits.max_storage_buffer_binding_size || needs.buffer > limits.max_buffer_size {
            tracing::info!("wgpu: reopening {} with room for a {} byte buffer", self.gpu.info.name, needs.buffer);
            self.reopen(needs)?;
        }
        self.scene = Some(scene::upload(&self.gpu, &self.kernels.scene_layout, flat)?);
        Ok(())
    }

    fn render(&mut self, task: &RenderTask, progress: Progress) -> Result<TileResult, BackendError> {
        let scene = self.scene.as_ref().ok_or(BackendError::NoScene("wgpu"))?;
        // The tile check needs only the image size from the header.
        super::check_tile(&FlatScene { header: scene.header, ..Default::default() }, task)?;
        let mut renderer = Renderer {
            gpu: &self.gpu,
            kernels: &self.kernels,
            scene,
            band: &mut self.band,
            schedule: &mut self.schedule,
        };
        renderer.render_task(task, progress)
    }
}
