//! Render settings shared by `tessera render` and farm jobs: the same settings
//! produce the same `FlatScene` and the same tasks wherever they run.

use serde::{Deserialize, Serialize};

use super::film::Film;
use crate::scene::animation::{frame_time, DEFAULT_FPS};
use crate::scene::{format_bytes, AnimationSelect, CameraSelect, EnvironmentSpec};

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
    /// Frames per second: frame `f` shows scene time `(f − 1) / fps`.
    #[serde(default = "default_fps")]
    pub fps: f32,
    /// The animations that play.
    #[serde(default)]
    pub animation: AnimationSelect,
    /// Motion blur: how long the shutter stays open, when it is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motion_blur: Option<MotionBlur>,
}

/// Where the shutter opens relative to the frame's time (as Cycles).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ShutterPosition {
    /// Open from half the shutter before the frame to half after.
    #[default]
    Center,
    /// Open at the frame's time.
    Start,
    /// Close at the frame's time.
    End,
}

/// `--motion-blur`: a shutter open for `shutter` frames, placed by `position`, seen
/// at `steps + 1` motion keys (linear motion between two keys).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MotionBlur {
    pub shutter: f32,
    pub position: ShutterPosition,
    pub steps: u32,
}

/// Longest shutter accepted, in frames.
pub const MAX_SHUTTER: f32 = 2.0;
/// Most motion steps accepted (each is a copy of the moving geometry).
pub const MAX_MOTION_STEPS: u32 = 64;

impl MotionBlur {
    /// The shutter of frame time `time` (seconds) at `fps`; `None` when it is
    /// closed (a shutter of 0 is no motion blur).
    pub fn shutter_at(&self, time: f32, fps: f32) -> Option<crate::scene::Shutter> {
        let open_for = self.shutter / fps;
        let open = match self.position {
            ShutterPosition::Center => time - 0.5 * open_for,
            ShutterPosition::Start => time,
            ShutterPosition::End => time - open_for,
        };
        (open_for > 0.0).then_some(crate::scene::Shutter { open, close: open + open_for, keys: self.steps + 1 })
    }
}

fn default_fps() -> f32 {
    DEFAULT_FPS
}

impl Default for RenderSettings {
    fn default() -> Self {
        Self {
            width: 960,
            height: 540,
            spp: 64,
            max_depth: 8,
            seed: 0,
            camera: None,
            environment: None,
            fps: DEFAULT_FPS,
            animation: AnimationSelect::First,
            motion_blur: None,
        }
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
    #[error("fps {0} is invalid: the frame rate must be more than 0 and at most {MAX_FPS} frames per second")]
    Fps(f32),
    #[error("shutter {0} is invalid: it must be between 0 and {MAX_SHUTTER} frames")]
    Shutter(f32),
    #[error("motion steps {0} is invalid: must be between 1 and {MAX_MOTION_STEPS}")]
    MotionSteps(u32),
    #[error("a {width}x{height} film takes {}, over the memory budget of {}", format_bytes(*.bytes), format_bytes(*.limit))]
    FilmMemory { width: u32, height: u32, bytes: u64, limit: u64 },
}

/// `--fps` and `--animation`: how frame numbers become scene times.
#[derive(Clone, Debug, clap::Args)]
pub struct TimeArgs {
    /// Frames per second: frame N shows scene time (N − 1) / fps, so frame 1 is the
    /// start of the animation (shots count frames from 1).
    #[arg(long, default_value_t = DEFAULT_FPS, value_parser = parse_fps)]
    pub fps: f32,
    /// The animation that plays: its name or index in the glTF file, or "all" to
    /// play every animation together. Default: the first.
    #[arg(long)]
    pub animation: Option<AnimationSelect>,
    /// Motion blur: each camera sample sees the scene at its own time while the
    /// shutter is open (camera, object and deformation motion).
    #[arg(long)]
    pub motion_blur: bool,
    /// How long the shutter stays open, in frames (0 to 2; 0 is no blur).
    #[arg(long, default_value_t = 0.5, requires = "motion_blur", value_parser = parse_shutter)]
    pub shutter: f32,
    /// Where the shutter opens relative to the frame's time.
    #[arg(long, value_enum, default_value_t = ShutterPosition::Center, requires = "motion_blur")]
    pub shutter_position: ShutterPosition,
    /// Motion segments over the shutter: keys = steps + 1, moving linearly between
    /// keys (1 is linear motion; more follow curved motion such as a spinning wheel).
    #[arg(long, default_value_t = 1, requires = "motion_blur",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_MOTION_STEPS)))]
    pub motion_steps: u32,
}

impl TimeArgs {
    /// The motion blur these options ask for.
    pub fn motion_blur(&self) -> Option<MotionBlur> {
        self.motion_blur.then_some(MotionBlur {
            shutter: self.shutter,
            position: self.shutter_position,
            steps: self.motion_steps,
        })
    }
}

fn parse_shutter(s: &str) -> Result<f32, String> {
    let shutter: f32 = s.trim().parse().map_err(|_| format!("{s:?} is not a number"))?;
    (0.0..=MAX_SHUTTER)
        .contains(&shutter)
        .then_some(shutter)
        .ok_or_else(|| format!("{shutter} is not a shutter in [0, {MAX_SHUTTER}] frames"))
}

/// Highest frame rate accepted.
pub const MAX_FPS: f32 = 1000.0;

fn fps_ok(fps: f32) -> bool {
    fps > 0.0 && fps <= MAX_FPS
}

pub fn parse_fps(s: &str) -> Result<f32, String> {
    let fps: f32 = s.trim().parse().map_err(|_| format!("{s:?} is not a number"))?;
    fps_ok(fps).then_some(fps).ok_or_else(|| format!("{fps} is not a frame rate in (0, {MAX_FPS}]"))
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
        if !fps_ok(self.fps) {
            return Err(SettingsError::Fps(self.fps));
        }
        if let Some(blur) = &self.motion_blur {
            if !(0.0..=MAX_SHUTTER).contains(&blur.shutter) {
                return Err(SettingsError::Shutter(blur.shutter));
            }
            if !(1..=MAX_MOTION_STEPS).contains(&blur.steps) {
                return Err(SettingsError::MotionSteps(blur.steps));
            }
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
        time: frame_time(frame, settings.fps),
        animation: settings.animation.clone(),
        shutter: settings.motion_blur.and_then(|m| m.shutter_at(frame_time(frame, settings.fps), settings.fps)),
    };
    crate::scene::prepare(scene, env, &opts)
}

/// The frames of a sequence: `first`, then every `step`-th frame up to `last`
/// (`A-B` or `A-BxSTEP`, inclusive, as Blender and farm managers write them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameRange {
    pub first: u32,
    pub last: u32,
    #[serde(default = "one")]
    pub step: u32,
}

fn one() -> u32 {
    1
}

impl FrameRange {
    /// The single frame `frame`.
    pub fn single(frame: u32) -> FrameRange {
        FrameRange { first: frame, last: frame, step: 1 }
    }

    /// How many frames the range holds (none when it is empty).
    pub fn count(&self) -> u64 {
        if self.last < self.first {
            return 0;
        }
        u64::from(self.last - self.first) / u64::from(self.step.max(1)) + 1
    }

    /// Frame `index` of the range (`index < count()`).
    pub fn nth(&self, index: u64) -> u32 {
        (u64::from(self.first) + index * u64::from(self.step.max(1))) as u32
    }

    pub fn iter(&self) -> impl Iterator<Item = u32> {
        (self.first..=self.last).step_by(self.step.max(1) as usize)
    }
}

impl std::fmt::Display for FrameRange {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self.step {
            1 => write!(f, "{}-{}", self.first, self.last),
            step => write!(f, "{}-{}x{step}", self.first, self.last),
        }
    }
}

impl std::str::FromStr for FrameRange {
    type Err = String;
    /// `"N"`, `"A-B"` or `"A-BxSTEP"` (inclusive; STEP ≥ 1).
    fn from_str(s: &str) -> Result<Self, String> {
        let parse = |v: &str| v.trim().parse::<u32>().map_err(|_| format!("\"{v}\" is not a frame number"));
        let (range, step) = match s.split_once('x') {
            Some((range, step)) => match step.trim().parse::<u32>() {
                Ok(n) if n >= 1 => (range, n),
                _ => return Err(format!("frame step \"{step}\" is not a whole number of at least 1")),
            },
            None => (s, 1),
        };
        let (first, last) = match range.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => (parse(range)?, parse(range)?),
        };
        if first > last {
            return Err(format!("frame range {first}-{last} is empty: the first frame comes after the last"));
        }
        Ok(FrameRange { first, last, step })
    }
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
        for fps in [0.0, -24.0, f32::NAN, f32::INFINITY, 1001.0] {
            assert!(RenderSettings { fps, ..ok.clone() }.validate().is_err(), "fps {fps}");
        }
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

    #[test]
    fn frame_ranges_parse() {
        assert_eq!("3".parse::<FrameRange>(), Ok(FrameRange::single(3)));
        assert_eq!("1-4".parse::<FrameRange>().map(|r| r.count()), Ok(4));
        assert!("4-1".parse::<FrameRange>().unwrap_err().contains("empty"));
        assert!("a-1".parse::<FrameRange>().unwrap_err().contains("\"a\""));
        assert!("1-9x0".parse::<FrameRange>().unwrap_err().contains("\"0\""));
        assert!("1-9xq".parse::<FrameRange>().unwrap_err().contains("\"q\""));
    }

    #[test]
    fn steps_take_every_nth_frame_from_the_first() {
        let r: FrameRange = "1-10x4".parse().unwrap();
        assert_eq!(r.iter().collect::<Vec<_>>(), [1, 5, 9]);
        assert_eq!((r.count(), r.nth(2)), (3, 9));
        assert_eq!(r.to_string(), "1-10x4");
        let r: FrameRange = "2-8x3".parse().unwrap();
        assert_eq!(r.iter().collect::<Vec<_>>(), [2, 5, 8]);
        assert_eq!("7-7x5".parse::<FrameRange>().map(|r| r.count()), Ok(1));
        // A range without a step (older job specs) steps by one.
        let old: FrameRange = serde_json::from_str(r#"{"first": 1, "last": 3}"#).unwrap();
        assert_eq!(old, "1-3".parse().unwrap());
    }
}
