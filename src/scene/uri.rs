//! The files a scene's URIs name, confined to its folder.
//!
//! A URI is a `data:` URI or a relative path (percent-encoded) resolved against
//! the scene file's folder. Any other scheme, an absolute path, and a path that
//! leaves the confinement folder once canonicalised (through `..` or a symbolic
//! link) are refused; so is anything but a regular file (`/dev/zero`, a FIFO, a
//! folder). A file's size is checked against the budget before it is read, and
//! the read is bounded by that size. Messages never name the resolved path: the
//! caller names the URI as written and its glTF field.

use std::io::Read;
use std::path::{Path, PathBuf};

use base64::Engine;

use super::limits::{Budget, Confinement};

/// Where a URI's bytes come from; equal sources hold equal bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    /// The text after `data:`.
    Data(String),
    /// A regular file, canonicalised.
    File(PathBuf),
}

/// Resolves and reads the URIs of one scene file.
#[derive(Clone, Debug)]
pub(crate) struct UriResolver {
    /// The scene file's folder, against which relative URIs resolve.
    base: PathBuf,
    /// Canonical folder URIs must stay in; `None` when unconfined.
    root: Option<PathBuf>,
    /// How messages name the root ("the scene's folder", "the job's folder").
    root_name: &'static str,
    /// How many folders `base` lies below the root: the `..` a URI may climb.
    base_depth: usize,
}

impl UriResolver {
    /// The resolver for URIs in `scene_file` under `confinement`.
    pub fn new(scene_file: &Path, confinement: &Confinement) -> std::io::Result<Self> {
        let base = scene_file.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
        let (root, root_name) = match confinement {
            Confinement::SceneFolder => (Some(base.canonicalize()?), "the scene's folder"),
            Confinement::Folder(root) => (Some(root.canonicalize()?), "the job's folder"),
            Confinement::Unconfined => (None, "any folder"),
        };
        let canonical_base = base.canonicalize()?;
        let base_depth = root
            .as_ref()
            .and_then(|root| canonical_base.strip_prefix(root).ok())
            .map_or(0, |below| below.components().count());
        Ok(Self { base, root, root_name, base_depth })
    }

    /// Whether `path` (canonical) lies in the confinement folder.
    pub fn contains(&self, path: &Path) -> bool {
        self.root.as_ref().is_none_or(|root| path.starts_with(root))
    }

    /// Where `uri` leads, checked against the confinement (the file is not read).
    pub fn resolve(&self, uri: &str) -> Result<Source, String> {
        if let Some(data) = uri.strip_prefix("data:") {
            return Ok(Source::Data(data.to_string()));
        }
        let scheme = uri
            .split_once(':')
            .map(|(s, _)| s)
            .filter(|s| s.len() > 1 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')));
        if let Some(scheme) = scheme {
            return Err(format!(
                "the URI scheme \"{scheme}:\" is not allowed (only relative paths inside the scene's folder and data: URIs)"
            ));
        }
        let decoded = percent_encoding::percent_decode_str(uri)
            .decode_utf8()
            .map_err(|_| "the URI is not valid UTF-8 after percent-decoding".to_string())?;
        let relative = Path::new(decoded.as_ref());
        if decoded.is_empty() || decoded.contains('\0') {
            return Err("the URI is empty or holds a NUL character".into());
        }
        if relative.has_root() && self.root.is_some() {
            return Err(format!("absolute paths are not allowed: URIs are relative to {}", self.root_name));
        }
        // Refused before the file system is asked, so nothing is learnt of what lies outside.
        if self.root.is_some() && climbs_out(relative, self.base_depth) {
            return Err(self.outside());
        }
        let path = self.base.join(relative).canonicalize().map_err(|e| format!("cannot read: {}", io_reason(&e)))?;
        if !self.contains(&path) {
            return Err(self.outside());
        }
        Ok(Source::File(path))
    }

    fn outside(&self) -> String {
        format!(
            "the path leads outside {} (through \"..\" or a symbolic link); --allow-outside-paths allows it locally",
            self.root_name
        )
    }

    /// The bytes of `source`, charged to `budget` before they are read.
    pub fn read(&self, source: &Source, budget: &Budget) -> Result<Vec<u8>, String> {
        match source {
            Source::Data(data) => read_data_uri(data, budget),
            Source::File(path) => read_regular_file(path, budget),
        }
    }
}

/// Whether `relative`'s `..` components climb more than `depth` folders up.
fn climbs_out(relative: &Path, depth: usize) -> bool {
    use std::path::Component;
    let mut level = depth as isize;
    for component in relative.components() {
        match component {
            Component::ParentDir => level -= 1,
            Component::Normal(_) => level += 1,
            _ => {}
        }
        if level < 0 {
            return true;
        }
    }
    false
}

/// The payload of a `data:` URI (everything after `data:`), decoded.
fn read_data_uri(data: &str, budget: &Budget) -> Result<Vec<u8>, String> {
    let (header, payload) = data.split_once(',').ok_or("data URI without a ',' separator")?;
    // The decoded bytes are at most as many as the encoded ones.
    budget.charge(payload.len() as u64, || "the data URI decodes to up to".into())?;
    if header.ends_with(";base64") {
        base64::engine::general_purpose::STANDARD
            .decode(payload.trim())
            .map_err(|e| format!("invalid base64 in data URI: {e}"))
    } else {
        Ok(percent_encoding::percent_decode_str(payload).collect())
    }
}

/// Reads a regular file whole, never more than the size checked against the budget.
pub(crate) fn read_regular_file(path: &Path, budget: &Budget) -> Result<Vec<u8>, String> {
    let not_regular = "it is not a regular file (a device, FIFO, socket or folder)";
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {}", io_reason(&e)))?;
    if !meta.is_file() {
        return Err(not_regular.into());
    }
    budget.charge(meta.len(), || "the file holds".into())?;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read: {}", io_reason(&e)))?;
    // Checked again on the open file: the path may have been replaced since.
    let size = match file.metadata() {
        Ok(m) if m.is_file() && m.len() == meta.len() => m.len(),
        Ok(m) if !m.is_file() => return Err(not_regular.into()),
        _ => return Err("the file changed while it was being opened".into()),
    };
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(size).read_to_end(&mut bytes).map_err(|e| format!("cannot read: {}", io_reason(&e)))?;
    if bytes.len() as u64 != size {
        return Err("the file changed while it was being read".into());
    }
    Ok(bytes)
}

/// An I/O error's reason without the path or bytes involved ("No such file or directory").
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(_) => {
            let text = e.to_string();
            text.split(" (os error").next().unwrap_or(&text).to_string()
        }
        None => e.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> Budget {
        Budget::new(1 << 20)
    }

    #[test]
    fn data_uris_and_percent_encoded_paths() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("my mesh.bin"), [7u8; 3]).unwrap();
        let scene = dir.path().join("scene.gltf");
        let r = UriResolver::new(&scene, &Confinement::SceneFolder).unwrap();
        let read = |uri: &str| r.resolve(uri).and_then(|s| r.read(&s, &budget()));
        assert_eq!(read("data:application/octet-stream;base64,AAEC").unwrap(), vec![0, 1, 2]);
        assert_eq!(read("data:,a%20b").unwrap(), b"a b".to_vec());
        assert_eq!(read("my%20mesh.bin").unwrap(), vec![7; 3]);
        assert!(read("https://example.com/x.bin").unwrap_err().contains("\"https:\" is not allowed"));
        assert!(read("data:;base64,!!").unwrap_err().contains("base64"));
        assert_eq!(read("missing.bin").unwrap_err(), "cannot read: No such file or directory");
    }

    #[test]
    fn paths_out_of_the_folder_are_refused_unless_unconfined() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("scene");
        std::fs::create_dir(&inner).unwrap();
        std::fs::write(dir.path().join("outside.bin"), [1u8; 4]).unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside.bin"), inner.join("link.bin")).unwrap();
        let scene = inner.join("scene.gltf");
        let confined = UriResolver::new(&scene, &Confinement::SceneFolder).unwrap();
        let absolute = dir.path().join("outside.bin").to_string_lossy().into_owned();
        for uri in ["../outside.bin", "link.bin", absolute.as_str(), "/dev/zero"] {
            let message = confined.resolve(uri).unwrap_err();
            assert!(message.contains("outside the scene's folder") || message.contains("absolute"), "{uri}: {message}");
            assert!(!message.contains(&*dir.path().to_string_lossy()), "{message}");
        }
        let open = UriResolver::new(&scene, &Confinement::Unconfined).unwrap();
        for uri in ["../outside.bin", "link.bin", absolute.as_str()] {
            assert_eq!(open.read(&open.resolve(uri).unwrap(), &budget()).unwrap(), vec![1; 4], "{uri}");
        }
        let zero = open.resolve("/dev/zero").unwrap();
        assert!(open.read(&zero, &budget()).unwrap_err().contains("not a regular file"));
        let small = Budget::new(3);
        let message = open.read(&open.resolve("link.bin").unwrap(), &small).unwrap_err();
        assert_eq!(message, "the file holds 4 bytes, over the memory budget of 3 bytes");
    }
}
