//! Render settings shared by `tessera render` and farm jobs: the same settings
//! produce the same `FlatScene` and the same tasks wherever they run.

use serde::{Deserialize, Serialize};

use super::film::Film;
use crate::scene::{format_bytes, CameraSelect, EnvironmentSpec};

/// Everything besides the scene file that determines a rendered frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RenderSettings {
    pub width: u32,
    pub height: u32,
    pub spp: u32,
    pub max_depth: u32,
    pub seed: u32,
    pub camera: Option<CameraSelect>,
    pub environment: Option<EnvironmentSpec>,
}

impl Default for RenderSettings {
    fn default() -> Self {
        Self { width: 960, height: 540, spp: 64, max_depth: 8, seed: 0, camera: None, environment: None }
    }
}

/// Largest image side accepted (a 16K frame); beyond this a typo is more likely than intent.
pub const MAX_IMAGE_SIDE: u32 = 16_384;
/// Largest sample count per pixel accepted.
pub const MAX_SPP: u32 = 1 << 20;
/// Largest path depth accepted.
pub const MAX_DEPTH: u32 = 1024;

/// A setting outside what Tessera can render.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SettingsError {
    #[error("image size {width}x{height} is invalid: width and height must be between 1 and {MAX_IMAGE_SIDE}")]
    Resolution { width: u32, height: u32 },
    #[error("samples per pixel {0} is invalid: must be between 1 and {MAX_SPP}")]
    Spp(u32),
    #[error("max depth {0} is invalid: must be between 1 and {MAX_DEPTH}")]
    MaxDepth(u32),
    #[error("a {width}x{height} film takes {}, over the memory budget of {}", format_bytes(*.bytes), format_bytes(*.limit))]
    FilmMemory { width: u32, height: u32, bytes: u64, limit: u64 },
}

impl RenderSettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        let side_ok = |s: u32| (1..=MAX_IMAGE_SIDE).contains(&s);
        if !side_ok(self.width) || !side_ok(self.height) {
            return Err(SettingsError::Resolution { width: self.width, height: self.height });
        }
        if !(1..=MAX_SPP).contains(&self.spp) {
            return Err(SettingsError::Spp(self.spp));
        }
        if !(1..=MAX_DEPTH).contains(&self.max_depth) {
            return Err(SettingsError::MaxDepth(self.max_depth));
        }
        Ok(())
    }

    /// Checks that the film of a frame fits in `memory_limit` bytes.
    pub fn check_memory(&self, memory_limit: u64) -> Result<(), SettingsError> {
        let bytes = Film::memory_bytes(self.width, self.height);
        if bytes > memory_limit {
            return Err(SettingsError::FilmMemory {
                width: self.width,
                height: self.height,
                bytes,
                limit: memory_limit,
            });
        }
        Ok(())
    }

    /// The tasks of one frame: tiles of at most `tile_size` pixels square, each over
    /// sample ranges of at most `samples_per_task` samples.
    pub fn tasks(&self, frame: u32, tile_size: u32, samples_per_task: u32) -> Vec<super::task::RenderTask> {
        use super::task::{RenderTask, SampleRange, Tile};
        let ranges = SampleRange::split(self.spp, samples_per_task);
        Tile::grid(self.width, self.height, tile_size)
            .into_iter()
            .flat_map(|tile| {
                ranges.iter().map(move |&samples| RenderTask {
                    frame,
                    tile,
                    samples,
                    seed: self.seed,
                    max_depth: self.max_depth,
                })
            })
            .collect()
    }
}

/// Frames per second used to turn a frame number into an animation time.
pub const FRAME_RATE: f32 = 24.0;

/// Prepares `scene` for frame `frame` under `settings`: the one place where the
/// local renderer and farm workers turn settings into a `FlatScene`.
pub fn prepare_frame(
    scene: &crate::scene::Scene,
    env: Option<&crate::scene::Environment>,
    settings: &RenderSettings,
    frame: u32,
) -> Result<crate::scene::flat::FlatScene, crate::scene::SceneError> {
    let opts = crate::scene::PrepareOptions {
        width: settings.width,
        height: settings.height,
        camera: settings.camera.clone(),
        time: frame as f32 / FRAME_RATE,
    };
    crate::scene::prepare(scene, env, &opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_impossible_settings() {
        let ok = RenderSettings::default();
        assert_eq!(ok.validate(), Ok(()));
        let zero = RenderSettings { width: 0, ..ok.clone() };
        assert_eq!(
            zero.validate().unwrap_err().to_string(),
            "image size 0x540 is invalid: width and height must be between 1 and 16384"
        );
        assert!(RenderSettings { height: 100_000, ..ok.clone() }.validate().is_err());
        assert_eq!(RenderSettings { spp: 0, ..ok.clone() }.validate(), Err(SettingsError::Spp(0)));
        assert_eq!(RenderSettings { max_depth: 0, ..ok.clone() }.validate(), Err(SettingsError::MaxDepth(0)));
        // 16384² pixels fit the side limit but not a 1 GiB budget.
        let big = RenderSettings { width: 16_384, height: 16_384, ..ok.clone() };
        assert_eq!(big.validate(), Ok(()));
        let message = big.check_memory(1 << 30).unwrap_err().to_string();
        assert!(
            message.starts_with("a 16384x16384 film takes 63.0 GiB, over the memory budget of 1.0 GiB"),
            "{message}"
        );
        assert_eq!(ok.check_memory(1 << 30), Ok(()));
    }
}
