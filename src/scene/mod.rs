//! Scenes: glTF loading into a host-side `Scene`, and `prepare`, which flattens a
//! scene for one frame into the `FlatScene` layout every backend renders.

pub mod flat;
pub mod texture;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use flat::FlatScene;

/// Which glTF camera to render through: `--camera NAME|INDEX`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CameraSelect {
    Index(usize),
    Name(String),
}

impl FromStr for CameraSelect {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.parse::<usize>() {
            Ok(i) => CameraSelect::Index(i),
            Err(_) => CameraSelect::Name(s.to_string()),
        })
    }
}

/// The environment light: `--env R,G,B`, `--env V` (grey), or `--env FILE.hdr|FILE.exr`
/// (equirectangular map, importance-sampled).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum EnvironmentSpec {
    Color([f32; 3]),
    Map(PathBuf),
}

/// Errors in scene files and scene options; each names the file or field at fault.
#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    #[error("{0}")]
    Todo(String),
}

/// A loaded glTF scene (host side).
#[derive(Debug)]
pub struct Scene {}

impl Scene {
    pub fn load(path: &Path) -> Result<Scene, SceneError> {
        Err(SceneError::Todo(format!("cannot load {} yet", path.display())))
    }
}

/// A loaded environment light.
#[derive(Debug)]
pub struct Environment {}

impl Environment {
    pub fn load(_spec: &EnvironmentSpec) -> Result<Environment, SceneError> {
        Err(SceneError::Todo("environment".into()))
    }
}

/// Per-frame options for [`prepare`].
#[derive(Clone, Debug)]
pub struct PrepareOptions {
    pub width: u32,
    pub height: u32,
    pub camera: Option<CameraSelect>,
    /// Animation time in seconds.
    pub time: f32,
}

/// Flattens `scene` for one frame (node transforms at `time`, BVH, light table,
/// camera for the image size, environment) into a [`FlatScene`].
pub fn prepare(_scene: &Scene, _env: Option<&Environment>, _opts: &PrepareOptions) -> Result<FlatScene, SceneError> {
    Err(SceneError::Todo("prepare".into()))
}
