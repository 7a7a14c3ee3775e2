//! Rendering a whole frame locally: the frame's tasks run one after another on a
//! backend and accumulate in a film — the same tasks the farm hands to workers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::backend::{Backend, BackendError, Progress};
use crate::render::film::{Film, FilmError};
use crate::render::settings::RenderSettings;

/// Throughput of a finished render.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct RenderStats {
    pub seconds: f64,
    /// Pixel-samples rendered (width × height × spp).
    pub samples: u64,
    pub rays: u64,
}

impl RenderStats {
    pub fn samples_per_second(&self) -> f64 {
        self.samples as f64 / self.seconds.max(1e-9)
    }
    pub fn rays_per_second(&self) -> f64 {
        self.rays as f64 / self.seconds.max(1e-9)
    }
}

/// Why a frame could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Film(#[from] FilmError),
}

/// Renders frame `frame` on `backend` (whose scene is already uploaded), split into
/// tiles of `tile_size` pixels. `progress` receives finished pixel-samples.
pub fn render_frame(
    backend: &mut dyn Backend,
    settings: &RenderSettings,
    frame: u32,
    tile_size: u32,
    progress: Progress,
) -> Result<(Film, RenderStats), RenderError> {
    let start = Instant::now();
    let mut film = Film::new(settings.width, settings.height);
    let rays = AtomicU64::new(0);
    let mut samples = 0u64;
    for task in settings.tasks(frame, tile_size, settings.spp) {
        let result = backend.render(&task, progress)?;
        rays.fetch_add(result.rays, Ordering::Relaxed);
        samples += task.tile.pixel_count() as u64 * task.samples.count() as u64;
        film.add(&result)?;
    }
    let stats = RenderStats { seconds: start.elapsed().as_secs_f64(), samples, rays: rays.into_inner() };
    Ok((film, stats))
}
