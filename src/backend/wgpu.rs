//! The wgpu backend (work in progress: not available yet).

use super::{Backend, BackendError, BackendInfo, BackendKind, BackendOptions, Probe, Progress};
use crate::render::task::{RenderTask, TileResult};
use crate::scene::flat::FlatScene;

const NOT_YET: &str = "the wgpu backend is not implemented yet";

pub fn probe() -> Probe {
    Probe { kind: BackendKind::Wgpu, devices: Vec::new(), unavailable: NOT_YET.into() }
}

pub struct WgpuBackend;

impl WgpuBackend {
    pub fn new(_opts: &BackendOptions) -> Result<Self, BackendError> {
        Err(BackendError::Unavailable { backend: "wgpu", reason: NOT_YET.into() })
    }
}

impl Backend for WgpuBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo { name: "wgpu".into(), device: String::new() }
    }
    fn upload(&mut self, _scene: &FlatScene) -> Result<(), BackendError> {
        Err(BackendError::Unavailable { backend: "wgpu", reason: NOT_YET.into() })
    }
    fn render(&mut self, _task: &RenderTask, _progress: Progress) -> Result<TileResult, BackendError> {
        Err(BackendError::Unavailable { backend: "wgpu", reason: NOT_YET.into() })
    }
}
