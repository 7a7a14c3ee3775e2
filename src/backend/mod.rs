//! Backends execute `RenderTask`s on a `FlatScene`. They are discovered at run
//! time: a build without a GPU, CUDA or Vulkan still succeeds, and `auto` picks
//! CUDA, then wgpu, then the CPU, saying why it skipped the others.

pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
#[cfg(feature = "wgpu")]
pub mod wgpu;

use crate::render::task::{RenderTask, TileResult};
use crate::scene::flat::FlatScene;

/// Errors a backend reports; messages are for the person running the render.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("backend {backend} is not available: {reason}")]
    Unavailable { backend: &'static str, reason: String },
    #[error("no scene uploaded to backend {0}")]
    NoScene(&'static str),
    #[error("tile {x},{y} {w}x{h} lies outside the {width}x{height} image")]
    TileOutOfBounds { x: u32, y: u32, w: u32, h: u32, width: u32, height: u32 },
    #[error("the scene needs {needed} bytes for {what}, but {device} allows at most {limit}")]
    SceneTooLarge { what: &'static str, needed: u64, limit: u64, device: String },
    #[error("render cancelled")]
    Cancelled,
    #[error("{backend} device error: {message}")]
    Device { backend: &'static str, message: String },
}

/// What a backend is and runs on, for logs, `tessera info --devices` and bench output.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackendInfo {
    /// "cpu", "wgpu" or "cuda".
    pub name: String,
    /// Device description, e.g. "NVIDIA H100 80GB HBM3" or "AMD EPYC (16 threads)".
    pub device: String,
}

/// Called by backends as work completes with the number of newly finished
/// pixel-samples; returning `false` asks the backend to stop (it then returns
/// [`BackendError::Cancelled`]). Called from several threads at once.
pub type Progress<'a> = &'a (dyn Fn(u64) -> bool + Sync);

/// A render backend. `upload` once per scene (or frame), then `render` any number
/// of tasks. Results must not depend on how a frame is split into tasks.
pub trait Backend: Send {
    fn info(&self) -> BackendInfo;
    fn upload(&mut self, scene: &FlatScene) -> Result<(), BackendError>;
    fn render(&mut self, task: &RenderTask, progress: Progress) -> Result<TileResult, BackendError>;
}

/// Which backend to use: `--backend`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// CUDA if available, else wgpu, else the CPU.
    #[default]
    Auto,
    Cpu,
    Wgpu,
    Cuda,
}

impl BackendKind {
    /// The name used on the command line and in logs.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Auto => "auto",
            BackendKind::Cpu => "cpu",
            BackendKind::Wgpu => "wgpu",
            BackendKind::Cuda => "cuda",
        }
    }
}

/// Options that choose and configure a backend.
#[derive(Clone, Debug, Default)]
pub struct BackendOptions {
    /// GPU index (`--device N`) among the backend's devices.
    pub device: Option<usize>,
    /// CPU worker threads (`--threads`); all cores when `None`.
    pub threads: Option<usize>,
}

/// `--backend`, `--device` and `--threads`: the options of every command that renders.
#[derive(Clone, Debug, clap::Args)]
pub struct BackendArgs {
    /// Backend: auto picks CUDA, then wgpu, then the CPU.
    #[arg(long, value_enum, default_value_t = BackendKind::Auto)]
    pub backend: BackendKind,
    /// GPU index for the wgpu and CUDA backends (see `tessera info --devices`).
    #[arg(long)]
    pub device: Option<usize>,
    /// CPU threads for the CPU backend, 1 to 4096 (default: all cores).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=4096))]
    pub threads: Option<usize>,
}

impl BackendArgs {
    pub fn options(&self) -> BackendOptions {
        BackendOptions { device: self.device, threads: self.threads }
    }
}

/// Result of probing one backend: its devices, or why it cannot run here.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Probe {
    pub kind: BackendKind,
    pub devices: Vec<String>,
    /// Empty when available; otherwise why not (for `info --devices` and `auto`'s log).
    pub unavailable: String,
}

/// Probes every backend, in `auto`'s order of preference. Never panics; a backend
/// left out of this build says so and how to get it.
pub fn probe_all() -> Vec<Probe> {
    vec![probe_cuda(), probe_wgpu(), cpu::probe()]
}

#[allow(dead_code)] // unused when every backend is built in
fn not_built(kind: BackendKind, feature: &str) -> Probe {
    Probe {
        kind,
        devices: Vec::new(),
        unavailable: format!("this build has no {feature} backend (rebuild with `--features {feature}`)"),
    }
}

#[cfg(feature = "cuda")]
fn probe_cuda() -> Probe {
    cuda::probe()
}
#[cfg(not(feature = "cuda"))]
fn probe_cuda() -> Probe {
    not_built(BackendKind::Cuda, "cuda")
}

#[cfg(feature = "wgpu")]
fn probe_wgpu() -> Probe {
    wgpu::probe()
}
#[cfg(not(feature = "wgpu"))]
fn probe_wgpu() -> Probe {
    not_built(BackendKind::Wgpu, "wgpu")
}

/// Creates one specific backend (never `Auto`).
fn create_one(kind: BackendKind, opts: &BackendOptions) -> Result<Box<dyn Backend>, BackendError> {
    match kind {
        BackendKind::Cpu | BackendKind::Auto => Ok(Box::new(cpu::CpuBackend::new(opts.threads)?)),
        #[cfg(feature = "wgpu")]
        BackendKind::Wgpu => Ok(Box::new(wgpu::WgpuBackend::new(opts)?)),
        #[cfg(feature = "cuda")]
        BackendKind::Cuda => Ok(Box::new(cuda::CudaBackend::new(opts)?)),
        #[allow(unreachable_patterns)]
        other => {
            let probe = if other == BackendKind::Cuda { probe_cuda() } else { probe_wgpu() };
            Err(BackendError::Unavailable { backend: other.name(), reason: probe.unavailable })
        }
    }
}

/// Creates the backend `kind`, resolving `Auto` in the order CUDA, wgpu, CPU.
/// Also returns one line per backend `Auto` skipped, saying why.
pub fn create(kind: BackendKind, opts: &BackendOptions) -> Result<(Box<dyn Backend>, Vec<String>), BackendError> {
    if kind != BackendKind::Auto {
        return Ok((create_one(kind, opts)?, Vec::new()));
    }
    let mut skipped = Vec::new();
    for candidate in [BackendKind::Cuda, BackendKind::Wgpu] {
        match create_auto_candidate(candidate, opts) {
            Ok(backend) => return Ok((backend, skipped)),
            Err(e) => skipped.push(format!("auto: skipping {}: {e}", candidate.name())),
        }
    }
    Ok((create_one(BackendKind::Cpu, opts)?, skipped))
}

/// `auto`'s attempt at one GPU backend. A software wgpu adapter (lavapipe,
/// WARP) is passed over: the CPU backend renders faster than it.
fn create_auto_candidate(kind: BackendKind, opts: &BackendOptions) -> Result<Box<dyn Backend>, BackendError> {
    #[cfg(feature = "wgpu")]
    if kind == BackendKind::Wgpu {
        return Ok(Box::new(wgpu::WgpuBackend::new_hardware(opts)?));
    }
    create_one(kind, opts)
}

/// Checks that a task's tile lies inside the scene's image.
pub fn check_tile(scene: &FlatScene, task: &RenderTask) -> Result<(), BackendError> {
    let (width, height) = (scene.header.camera.width, scene.header.camera.height);
    let t = task.tile;
    if t.width == 0
        || t.height == 0
        || t.x.checked_add(t.width).is_none_or(|r| r > width)
        || t.y.checked_add(t.height).is_none_or(|b| b > height)
    {
        return Err(BackendError::TileOutOfBounds { x: t.x, y: t.y, w: t.width, h: t.height, width, height });
    }
    Ok(())
}
