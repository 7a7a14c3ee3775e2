//! `tessera bench`: whole-frame throughput of a backend on a fixed scene, in a
//! machine-readable form comparable across nodes.

use std::fmt;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::backend::Backend;
use crate::render::frame::{render_frame, RenderError};
use crate::render::settings::{prepare_frame, RenderSettings};
use crate::scene::{Environment, LoadOptions, Scene, SceneError};

/// How a benchmark runs.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Samples per pixel of an untimed warm-up render (compiles kernels, fills caches).
    pub warmup_spp: u32,
    /// Tile size of the timed render.
    pub tile: u32,
    /// The frame rendered (its time, for an animated scene and motion blur).
    pub frame: u32,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self { warmup_spp: 1, tile: 256, frame: 1 }
    }
}

/// One benchmark result.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub backend: String,
    pub device: String,
    pub scene: String,
    pub triangles: u32,
    pub width: u32,
    pub height: u32,
    pub spp: u32,
    pub max_depth: u32,
    pub prepare_seconds: f64,
    pub seconds: f64,
    pub samples_per_second: f64,
    pub rays_per_second: f64,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} on {} — {} ({} triangles)", self.backend, self.device, self.scene, self.triangles)?;
        writeln!(f, "{}x{}, {} spp, max depth {}", self.width, self.height, self.spp, self.max_depth)?;
        write!(
            f,
            "{:.3} s: {:.2} M samples/s, {:.1} M rays/s (prepare {:.3} s)",
            self.seconds,
            self.samples_per_second / 1e6,
            self.rays_per_second / 1e6,
            self.prepare_seconds
        )
    }
}

/// Why a benchmark failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Scene(#[from] SceneError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),
}

/// Renders `scene` (the built-in Cornell box when `None`) once untimed at
/// `warmup_spp`, then once timed with `settings`.
pub fn run(
    backend: Box<dyn Backend>,
    scene_path: Option<&Path>,
    settings: &RenderSettings,
    opts: &BenchOptions,
) -> Result<BenchReport, BenchError> {
    run_with(backend, scene_path, settings, opts, &LoadOptions::default())
}

/// [`run`], loading the scene (and environment map) within `load`.
pub fn run_with(
    mut backend: Box<dyn Backend>,
    scene_path: Option<&Path>,
    settings: &RenderSettings,
    opts: &BenchOptions,
    load: &LoadOptions,
) -> Result<BenchReport, BenchError> {
    let (scene, name) = match scene_path {
        Some(path) => {
            (Scene::load_with(path, load)?, path.file_name().unwrap_or_default().to_string_lossy().into_owned())
        }
        None => (crate::scene::cornell::cornell_box()?, "cornell-box (built in)".to_string()),
    };
    let remaining = load.memory_limit.saturating_sub(scene.memory_bytes);
    let env = settings.environment.as_ref().map(|spec| Environment::load_within(spec, remaining)).transpose()?;
    let start = Instant::now();
    let flat = prepare_frame(&scene, env.as_ref(), settings, opts.frame)?;
    let prepare_seconds = start.elapsed().as_secs_f64();
    backend.upload(&flat)?;
    if opts.warmup_spp > 0 {
        let warmup = RenderSettings { spp: opts.warmup_spp.min(settings.spp), ..settings.clone() };
        render_frame(backend.as_mut(), &warmup, opts.frame, opts.tile, &|_| true)?;
    }
    let (_, stats) = render_frame(backend.as_mut(), settings, opts.frame, opts.tile, &|_| true)?;
    let info = backend.info();
    Ok(BenchReport {
        backend: info.name,
        device: info.device,
        scene: name,
        triangles: flat.header.num_triangles,
        width: settings.width,
        height: settings.height,
        spp: settings.spp,
        max_depth: settings.max_depth,
        prepare_seconds,
        seconds: stats.seconds,
        samples_per_second: stats.samples_per_second(),
        rays_per_second: stats.rays_per_second(),
    })
}
