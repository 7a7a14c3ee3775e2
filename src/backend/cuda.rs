//! The cuda backend (work in progress: not available yet).

use super::{Backend, BackendError, BackendInfo, BackendKind, BackendOptions, Probe, Progress};
use crate::render::task::{RenderTask, TileResult};
use crate::scene::flat::FlatScene;

const NOT_YET: &str = "the cuda backend is not implemented yet";

pub fn probe() -> Probe {
    Probe { kind: BackendKind::Cuda, devices: Vec::new(), unavailable: NOT_YET.into() }
}

pub struct CudaBackend;

impl CudaBackend {
    pub fn new(_opts: &BackendOptions) -> Result<Self, BackendError> {
        Err(BackendError::Unavailable { backend: "cuda", reason: NOT_YET.into() })
    }
}

impl Backend for CudaBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo { name: "cuda".into(), device: String::new() }
    }
    fn upload(&mut self, _scene: &FlatScene) -> Result<(), BackendError> {
        Err(BackendError::Unavailable { backend: "cuda", reason: NOT_YET.into() })
    }
    fn render(&mut self, _task: &RenderTask, _progress: Progress) -> Result<TileResult, BackendError> {
        Err(BackendError::Unavailable { backend: "cuda", reason: NOT_YET.into() })
    }
}
