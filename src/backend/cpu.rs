//! The rayon CPU backend: the reference every other backend is judged against.

use super::{Backend, BackendError, BackendInfo, BackendKind, Probe, Progress};
use crate::render::task::{RenderTask, TileResult};
use crate::scene::flat::FlatScene;

pub struct CpuBackend {
    pool: rayon::ThreadPool,
    scene: Option<FlatScene>,
}

impl CpuBackend {
    pub fn new(threads: Option<usize>) -> Result<Self, BackendError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.unwrap_or(0))
            .build()
            .map_err(|e| BackendError::Device { backend: "cpu", message: e.to_string() })?;
        Ok(Self { pool, scene: None })
    }
}

pub fn probe() -> Probe {
    Probe { kind: BackendKind::Cpu, devices: vec![cpu_name(rayon::current_num_threads())], unavailable: String::new() }
}

fn cpu_name(threads: usize) -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    format!("{model} ({threads} threads)")
}

impl Backend for CpuBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo { name: "cpu".into(), device: cpu_name(self.pool.current_num_threads()) }
    }

    fn upload(&mut self, scene: &FlatScene) -> Result<(), BackendError> {
        self.scene = Some(scene.clone());
        Ok(())
    }

    fn render(&mut self, task: &RenderTask, _progress: Progress) -> Result<TileResult, BackendError> {
        let scene = self.scene.as_ref().ok_or(BackendError::NoScene("cpu"))?;
        super::check_tile(scene, task)?;
        Ok(TileResult::empty(task))
    }
}
