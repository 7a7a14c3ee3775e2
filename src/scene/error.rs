//! Scene errors: every message names the file and, where there is one, the glTF field.

use std::path::{Path, PathBuf};

use crate::render::settings::SettingsError;

/// Errors in scene files and scene options; each names the file or field at fault.
#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    /// A file could not be read at all.
    #[error("cannot read {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    /// The file is not glTF: corrupt JSON, a truncated or malformed GLB container.
    #[error("{}: not a valid glTF file: {message}", path.display())]
    Format { path: PathBuf, message: String },
    /// A glTF field holds something that cannot be rendered. `field` is a glTF path
    /// such as `meshes[2].primitives[0].attributes.POSITION`.
    #[error("{}: {field}: {message}", path.display())]
    Field { path: PathBuf, field: String, message: String },
    /// Nothing renderable is left after skipping degenerate and non-triangle primitives.
    #[error("{}: no triangles to render: {reason}", path.display())]
    NoTriangles { path: PathBuf, reason: String },
    /// `--camera` names a camera the scene does not have.
    #[error("{}: no camera {requested}; available cameras: {available}", path.display())]
    UnknownCamera { path: PathBuf, requested: String, available: String },
    /// Image size or another render setting is out of range.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// An environment map that cannot be read or used.
    #[error("environment map {}: {message}", path.display())]
    EnvironmentMap { path: PathBuf, message: String },
    /// An `--env` value that is neither a colour nor a map.
    #[error("invalid environment {spec:?}: {message}")]
    EnvironmentSpec { spec: String, message: String },
}

impl SceneError {
    pub(crate) fn field(path: &Path, field: impl Into<String>, message: impl Into<String>) -> Self {
        SceneError::Field { path: path.to_path_buf(), field: field.into(), message: message.into() }
    }
}
