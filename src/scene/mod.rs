//! Scenes: glTF loading into a host-side `Scene`, and `prepare`, which flattens a
//! scene for one frame into the `FlatScene` layout every backend renders.
//!
//! # Loading hostile files
//!
//! Every scene file is treated as hostile. [`Scene::load_with`] (and
//! [`Scene::from_bytes_with`]) take [`LoadOptions`]:
//!
//! - `root: Confinement` — where URIs may lead. [`Confinement::SceneFolder`] (the
//!   default, and what [`Scene::load`] uses) allows the scene file's folder and
//!   below; [`Confinement::Folder`] a given folder (a farm worker passes the job's
//!   bundle folder; messages then name the scene relative to it);
//!   [`Confinement::Unconfined`] anything (`--allow-outside-paths`). Other schemes
//!   than `data:`, absolute paths, `..` or symbolic links that leave the folder,
//!   and anything but regular files are refused.
//! - `memory_limit` — bytes the loaded scene and its prepared flat form may take
//!   (default: the memory available, [`default_memory_limit`]). Files, data URIs,
//!   decoded accessors, images (sized from their headers before decoding, each
//!   distinct image once), mesh instances and the flat scene's triangles are
//!   charged before they are allocated; a charge over the limit fails naming the
//!   file, the field and the figures.
//! - `max_instances` — node visits and mesh instances the node graph may expand
//!   to, counted without expanding it.
//!
//! Error messages name the URI as written and its glTF field, never a resolved
//! path or bytes read from a file. Values that cannot render (non-finite or
//! out-of-range factors, IOR, light intensities and cones, camera parameters)
//! are refused at load.

pub mod animation;
pub mod cornell;
pub mod flat;
pub mod keyframes;
pub mod nodes;
pub mod texture;

mod buffers;
mod camera;
mod default_light;
mod environment;
mod error;
mod geometry;
mod gltf_load;
mod image;
mod lights;
mod limits;
mod material;
mod prepare;
mod summary;
mod uri;
mod values;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use glam::Mat4;
use serde::{Deserialize, Serialize};

pub use animation::{Animation, AnimationSelect};
pub use camera::{Projection, SceneCamera};
pub use default_light::{DefaultLight, LitBy, MEANINGFUL_SHARE};
pub use environment::{Environment, EnvironmentMap};
pub use error::SceneError;
pub use geometry::{generate_tangents, Geometry, MorphTarget};
pub use gltf_load::SUPPORTED_EXTENSIONS;
pub use image::Image;
pub use lights::{luminance, LightKind, SceneLight};
pub use limits::{
    default_memory_limit, format_bytes, parse_memory_size, Confinement, LoadOptions, DEFAULT_MAX_INSTANCES,
    FALLBACK_MEMORY_LIMIT,
};
pub use material::Texture;
pub use nodes::NodeGraph;
pub use prepare::prepare;
pub use summary::{AnimationSummary, CameraSummary, SceneSummary};
pub use values::MAX_RADIANCE;

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

/// A loaded glTF scene (host side): mesh data in mesh space, placed in its rest
/// pose by instances with world transforms, plus materials, textures, cameras and
/// lights in world space; the node graph, skins and animations pose other times.
#[derive(Debug)]
pub struct Scene {
    /// The file it was loaded from, as messages name it (relative to the
    /// confinement folder when [`Confinement::Folder`] was given).
    pub path: PathBuf,
    /// glTF meshes, by index.
    pub meshes: Vec<Mesh>,
    /// Every placement of a mesh by a node (and by EXT_mesh_gpu_instancing).
    pub instances: Vec<MeshInstance>,
    /// glTF materials, by index, in the flat layout; slots index [`Scene::textures`].
    pub materials: Vec<flat::Material>,
    pub textures: Vec<Texture>,
    /// Decoded images that textures use.
    pub images: Vec<Image>,
    /// Cameras in node-traversal order (the first is the default).
    pub cameras: Vec<SceneCamera>,
    /// KHR_lights_punctual lights placed by nodes.
    pub lights: Vec<SceneLight>,
    /// The node hierarchy, for placing animated frames.
    pub nodes: NodeGraph,
    /// glTF animations, by index.
    pub animations: Vec<Animation>,
    /// What `prepare` keeps between frames of an animation: the part that does not move.
    pub(crate) static_geometry: Mutex<Option<Arc<prepare::StaticGeometry>>>,
    /// Extensions the file uses (`extensionsUsed` and `extensionsRequired`).
    pub extensions_used: Vec<String>,
    /// The subset that Tessera ignores.
    pub extensions_unsupported: Vec<String>,
    /// Everything skipped or ignored while loading, for people.
    pub warnings: Vec<String>,
    /// Bytes charged to the memory budget while loading, including the estimate
    /// for the prepared flat scene.
    pub memory_bytes: u64,
    /// The environment it gets without `--env`, and why ([`default_light`]).
    pub default_light: DefaultLight,
}

/// A glTF mesh: its triangle primitives (points and lines are not kept).
#[derive(Clone, Debug)]
pub struct Mesh {
    pub name: Option<String>,
    pub primitives: Vec<Primitive>,
    /// Default morph-target weights (`mesh.weights`), one per target; empty
    /// without targets.
    pub weights: Vec<f32>,
}

/// A triangle primitive; geometry is shared between primitives that use the same accessors.
#[derive(Clone, Debug)]
pub struct Primitive {
    pub geometry: Arc<Geometry>,
    /// Index into [`Scene::materials`]; `None` means glTF's default material.
    pub material: Option<usize>,
}

/// A mesh placed in the world.
#[derive(Clone, Debug)]
pub struct MeshInstance {
    pub mesh: usize,
    /// The glTF node that places it.
    pub node: usize,
    pub world: Mat4,
}

impl Scene {
    /// Loads a `.gltf` (with external or embedded buffers) or `.glb` file with
    /// the default [`LoadOptions`]: URIs confined to the file's folder, the
    /// memory available as the budget.
    pub fn load(path: &Path) -> Result<Scene, SceneError> {
        gltf_load::load(path, &LoadOptions::default())
    }

    /// Loads a `.gltf`/`.glb` file within `opts` (see the module documentation).
    pub fn load_with(path: &Path, opts: &LoadOptions) -> Result<Scene, SceneError> {
        gltf_load::load(path, opts)
    }

    /// Loads a scene from the bytes of a `.gltf`/`.glb` file with the default
    /// [`LoadOptions`]; `path` names it in messages and is the base for relative URIs.
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Scene, SceneError> {
        gltf_load::load_bytes(path, bytes, &LoadOptions::default())
    }

    /// [`Scene::from_bytes`] within `opts`.
    pub fn from_bytes_with(path: &Path, bytes: &[u8], opts: &LoadOptions) -> Result<Scene, SceneError> {
        gltf_load::load_bytes(path, bytes, opts)
    }

    /// Whether the animations `select` picks move anything (what motion blur needs).
    pub fn moves(&self, select: &AnimationSelect) -> bool {
        animation::select(&self.animations, select, &self.path).is_ok_and(|a| a.iter().any(|a| !a.channels.is_empty()))
    }

    /// Triangles rendered, counting every instance.
    pub fn instanced_triangles(&self) -> usize {
        self.instances.iter().flat_map(|i| &self.meshes[i.mesh].primitives).map(|p| p.geometry.triangles.len()).sum()
    }
}

/// Per-frame options for [`prepare`].
#[derive(Clone, Debug)]
pub struct PrepareOptions {
    pub width: u32,
    pub height: u32,
    pub camera: Option<CameraSelect>,
    /// Scene time in seconds ([`animation::frame_time`] maps frames to it).
    pub time: f32,
    /// The animations that play.
    pub animation: AnimationSelect,
    /// Motion blur: the shutter interval around `time`, when it is open.
    pub shutter: Option<Shutter>,
}

/// A shutter open from `open` to `close` (scene seconds), seen at `keys` (≥ 2)
/// evenly spaced motion keys.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shutter {
    pub open: f32,
    pub close: f32,
    pub keys: u32,
}
