//! The rayon CPU backend: the reference every other backend is judged against.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;

use super::{Backend, BackendError, BackendInfo, BackendKind, Probe, Progress};
use crate::render::integrator::{accumulate, trace_path};
use crate::render::task::{RenderTask, TileResult};
use crate::sampling::rng::frame_seed;
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

    fn render(&mut self, task: &RenderTask, progress: Progress) -> Result<TileResult, BackendError> {
        let scene = self.scene.as_ref().ok_or(BackendError::NoScene("cpu"))?;
        super::check_tile(scene, task)?;
        let mut result = TileResult::empty(task);
        let seed = frame_seed(task.seed, task.frame);
        let tile = task.tile;
        let cancelled = AtomicBool::new(false);
        let rays = AtomicU64::new(0);
        // One row per work item: small enough to balance, large enough to amortise.
        self.pool.install(|| {
            result.pixels.par_chunks_mut(tile.width as usize).enumerate().for_each(|(row, pixels)| {
                if cancelled.load(Ordering::Relaxed) {
                    return;
                }
                let py = tile.y + row as u32;
                let mut row_rays = 0u64;
                for (col, sums) in pixels.iter_mut().enumerate() {
                    let px = tile.x + col as u32;
                    for sample in task.samples.start..task.samples.end {
                        let path = trace_path(scene, seed, px, py, sample, task.max_depth);
                        accumulate(sums, &path);
                        row_rays += path.rays as u64;
                    }
                }
                rays.fetch_add(row_rays, Ordering::Relaxed);
                if !progress(tile.width as u64 * task.samples.count() as u64) {
                    cancelled.store(true, Ordering::Relaxed);
                }
            })
        });
        if cancelled.into_inner() {
            return Err(BackendError::Cancelled);
        }
        result.rays = rays.into_inner();
        Ok(result)
    }
}
