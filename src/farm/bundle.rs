//! Scene bundles: a glTF file with every file it references (buffers, images)
//! and the environment map, each addressed by its SHA-256.
//!
//! `tessera submit` builds a [`SceneManifest`], asks the coordinator which hashes
//! it lacks and uploads only those, so an unchanged file is never sent twice.
//! Workers fetch the files into a local cache and lay them out under their
//! bundle paths. Bundle paths are relative and '/'-separated, with no `..`, no
//! `.`, no empty component, no drive or scheme: a bundle can never name a file
//! outside its folder, on the client, the coordinator or a worker.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::protocol::{is_sha256_hex, BundleFile, SceneManifest};

/// Most files a bundle may hold.
pub const MAX_FILES: usize = 10_000;
/// Longest bundle path accepted.
pub const MAX_PATH: usize = 1024;
/// Bundle folder of the environment map.
pub const ENVIRONMENT_DIR: &str = "environment";

/// Why a bundle could not be built, checked or laid out.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{file}: {field} {message}")]
    Reference { file: String, field: String, message: String },
    #[error("bundle path \"{path}\" is not allowed: {reason}")]
    UnsafePath { path: String, reason: &'static str },
    #[error("bundle file \"{path}\" has an invalid SHA-256 \"{hash}\" (expected 64 lowercase hex digits)")]
    BadHash { path: String, hash: String },
    #[error("bundle lists \"{0}\" twice")]
    Duplicate(String),
    #[error("bundle root \"{0}\" is not one of its files")]
    MissingRoot(String),
    #[error("bundle has {0} files; at most {MAX_FILES} are allowed")]
    TooManyFiles(usize),
    #[error("scene file {path} is not .gltf or .glb")]
    NotGltf { path: String },
    #[error("reading blob {hash}: {message}")]
    Read { hash: String, message: String },
    #[error("blob {hash} is larger than the {limit}-byte limit")]
    TooLarge { hash: String, limit: u64 },
    #[error("{path}: content does not match its SHA-256 (expected {expected}, got {actual})")]
    HashMismatch { path: String, expected: String, actual: String },
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> BundleError {
    BundleError::Io { path: path.display().to_string(), message: e.to_string() }
}

/// Checks that `path` is a safe relative bundle path.
pub fn check_path(path: &str) -> Result<(), BundleError> {
    let unsafe_path = |reason| Err(BundleError::UnsafePath { path: path.into(), reason });
    if path.is_empty() || path.len() > MAX_PATH {
        return unsafe_path("it must have 1 to 1024 bytes");
    }
    if path.starts_with('/') {
        return unsafe_path("absolute paths are not allowed");
    }
    if path.contains('\\') {
        return unsafe_path("use '/' as the separator");
    }
    if path.chars().any(char::is_control) {
        return unsafe_path("control characters are not allowed");
    }
    for (i, part) in path.split('/').enumerate() {
        match part {
            "" => return unsafe_path("empty path components are not allowed"),
            "." | ".." => return unsafe_path("'.' and '..' components are not allowed"),
            _ if i == 0 && part.contains(':') => return unsafe_path("drive letters and URI schemes are not allowed"),
            _ => {}
        }
    }
    Ok(())
}

/// Checks a manifest received from elsewhere: safe unique paths, valid hashes,
/// the root among the files, not too many files.
pub fn check_manifest(manifest: &SceneManifest) -> Result<(), BundleError> {
    if manifest.files.len() > MAX_FILES {
        return Err(BundleError::TooManyFiles(manifest.files.len()));
    }
    let mut seen = std::collections::HashSet::new();
    for f in &manifest.files {
        check_path(&f.path)?;
        if !is_sha256_hex(&f.sha256) {
            return Err(BundleError::BadHash { path: f.path.clone(), hash: f.sha256.clone() });
        }
        if !seen.insert(f.path.as_str()) {
            return Err(BundleError::Duplicate(f.path.clone()));
        }
    }
    if !seen.contains(manifest.root.as_str()) {
        return Err(BundleError::MissingRoot(manifest.root.clone()));
    }
    Ok(())
}

/// SHA-256 (hex) and size of a file, read in chunks.
pub fn hash_file(path: &Path) -> Result<(String, u64), BundleError> {
    let mut file = File::open(path).map_err(|e| io_error(path, format!("cannot open: {e}")))?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| io_error(path, format!("cannot read: {e}")))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hash.finalize()), size))
}

/// The JSON of a `.gltf` file, or the JSON chunk of a `.glb`.
fn gltf_json(path: &Path, bytes: &[u8]) -> Result<serde_json::Value, BundleError> {
    let json: std::borrow::Cow<[u8]> = if bytes.starts_with(b"glTF") {
        gltf::Glb::from_slice(bytes).map_err(|e| io_error(path, format!("not a valid GLB file: {e}")))?.json
    } else {
        bytes.into()
    };
    serde_json::from_slice(&json).map_err(|e| io_error(path, format!("invalid glTF JSON: {e}")))
}

/// The external files a glTF document references (buffers and images), as
/// decoded relative paths, with the field that names each; `data:` URIs are
/// embedded and need no file.
pub fn referenced_files(path: &Path, bytes: &[u8]) -> Result<Vec<(String, String)>, BundleError> {
    let json = gltf_json(path, bytes)?;
    let mut files = Vec::new();
    for array in ["buffers", "images"] {
        let Some(items) = json.get(array).and_then(|v| v.as_array()) else { continue };
        for (i, item) in items.iter().enumerate() {
            let Some(uri) = item.get("uri").and_then(|u| u.as_str()) else { continue };
            if uri.starts_with("data:") {
                continue;
            }
            let field = format!("{array}[{i}].uri \"{uri}\"");
            let reference = |message: String| BundleError::Reference {
                file: path.display().to_string(),
                field: field.clone(),
                message,
            };
            let decoded = percent_encoding::percent_decode_str(uri)
                .decode_utf8()
                .map_err(|_| reference("is not valid UTF-8 after percent-decoding".into()))?;
            check_path(&decoded).map_err(|e| {
                reference(match e {
                    BundleError::UnsafePath { reason, .. } => format!(
                        "cannot go into a farm bundle ({reason}); the bundle takes relative paths inside the scene's folder and data: URIs"
                    ),
                    other => other.to_string(),
                })
            })?;
            files.push((decoded.into_owned(), field));
        }
    }
    Ok(files)
}

/// Largest glTF JSON read to check a scene's references (a `.gltf` file, or
/// the JSON chunk of a `.glb`).
pub const MAX_GLTF_JSON: u64 = 256 << 20;

/// The JSON of the glTF file `root` in bundle folder `dir`, read without
/// trusting any size it declares: a `.glb`'s JSON chunk is read only once its
/// length is checked against the file and [`MAX_GLTF_JSON`].
fn read_gltf_json(dir: &Path, root: &str) -> Result<Vec<u8>, BundleError> {
    let named = |message: String| BundleError::Io { path: root.to_string(), message };
    let mut file = File::open(dir.join(root)).map_err(|e| named(format!("cannot open: {}", e.kind())))?;
    let size = file.metadata().map_err(|e| named(format!("cannot read: {}", e.kind())))?.len();
    let mut head = [0u8; 20];
    let glb = size >= 20 && file.read_exact(&mut head).is_ok() && &head[..4] == b"glTF";
    let (skip, len) = if glb {
        let chunk = u64::from(u32::from_le_bytes(head[12..16].try_into().expect("4 bytes")));
        if &head[16..20] != b"JSON" || chunk > size - 20 {
            return Err(named(format!(
                "not a valid GLB file: the first chunk is not JSON within the file's {size} bytes"
            )));
        }
        (20, chunk)
    } else {
        (0, size)
    };
    if len > MAX_GLTF_JSON {
        return Err(named(format!("its glTF JSON has {len} bytes; at most {MAX_GLTF_JSON} are read")));
    }
    use std::io::Seek;
    file.seek(std::io::SeekFrom::Start(skip)).map_err(|e| named(format!("cannot read: {}", e.kind())))?;
    let mut json = Vec::with_capacity(len as usize);
    file.take(len).read_to_end(&mut json).map_err(|e| named(format!("cannot read: {}", e.kind())))?;
    Ok(json)
}

/// Checks that every file the bundle's glTF references is a safe path inside
/// the bundle: what a worker or the coordinator checks before loading an
/// uploaded scene, whatever client built the bundle. Messages name the file
/// by its bundle path.
pub fn check_references(dir: &Path, root: &str) -> Result<(), BundleError> {
    let json = read_gltf_json(dir, root)?;
    let files = referenced_files(Path::new(root), &json)?;
    for (path, field) in files {
        if !dir.join(&path).is_file() {
            return Err(BundleError::Reference {
                file: root.to_string(),
                field,
                message: "names a file that is not in the scene bundle".into(),
            });
        }
    }
    Ok(())
}

/// A manifest plus where each of its files is on this machine.
#[derive(Clone, Debug)]
pub struct LocalBundle {
    pub manifest: SceneManifest,
    /// Local file of each bundle path.
    pub sources: BTreeMap<String, PathBuf>,
    /// The bundle path of the environment map, if one was given.
    pub environment: Option<String>,
}

impl LocalBundle {
    /// Local file of a blob, by hash.
    pub fn source_of(&self, sha256: &str) -> Option<&Path> {
        let file = self.manifest.files.iter().find(|f| f.sha256 == sha256)?;
        self.sources.get(&file.path).map(PathBuf::as_path)
    }
}

/// Builds the bundle of `scene` (a `.gltf` or `.glb`) and, optionally, an
/// environment map, hashing every file.
pub fn build(scene: &Path, environment: Option<&Path>) -> Result<LocalBundle, BundleError> {
    let ext = scene.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    if !matches!(ext.as_deref(), Some("gltf" | "glb")) {
        return Err(BundleError::NotGltf { path: scene.display().to_string() });
    }
    let bytes = std::fs::read(scene).map_err(|e| io_error(scene, format!("cannot read: {e}")))?;
    let root = scene
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| io_error(scene, "not a file name"))?;
    check_path(&root)?;
    let folder = scene.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut sources = BTreeMap::new();
    sources.insert(root.clone(), scene.to_path_buf());
    for (rel, field) in referenced_files(scene, &bytes)? {
        let local = folder.join(&rel);
        if !local.is_file() {
            return Err(BundleError::Reference {
                file: scene.display().to_string(),
                field,
                message: format!("names {}, which does not exist", local.display()),
            });
        }
        sources.insert(rel, local);
    }
    let environment = match environment {
        Some(env) => {
            let name = env.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let rel = format!("{ENVIRONMENT_DIR}/{name}");
            check_path(&rel)?;
            sources.insert(rel.clone(), env.to_path_buf());
            Some(rel)
        }
        None => None,
    };
    let mut files = Vec::with_capacity(sources.len());
    for (path, local) in &sources {
        let (sha256, size) = hash_file(local)?;
        files.push(BundleFile { path: path.clone(), sha256, size });
    }
    let manifest = SceneManifest { root, files };
    check_manifest(&manifest)?;
    Ok(LocalBundle { manifest, sources, environment })
}

/// A folder of blobs named by their SHA-256 (`ab/abcdef…`), written atomically.
#[derive(Clone, Debug)]
pub struct BlobDir {
    dir: PathBuf,
}

impl BlobDir {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// Where blob `hash` lives (whether or not it exists). `hash` must be checked hex.
    pub fn path(&self, hash: &str) -> PathBuf {
        self.dir.join(&hash[..2]).join(hash)
    }

    pub fn contains(&self, hash: &str) -> bool {
        is_sha256_hex(hash) && self.path(hash).is_file()
    }

    /// A temporary file in the blob folder, to be filled and then [`BlobDir::commit`]ted.
    pub fn temp(&self) -> Result<(PathBuf, File), BundleError> {
        let tmp_dir = self.dir.join("tmp");
        super::private::create_dir(&tmp_dir).map_err(|e| io_error(&tmp_dir, format!("cannot create: {e}")))?;
        let name = format!("{}.part", super::auth::random_hex(12).map_err(|e| io_error(&tmp_dir, e))?);
        let path = tmp_dir.join(name);
        let file = super::private::create_file(&path).map_err(|e| io_error(&path, format!("cannot create: {e}")))?;
        Ok((path, file))
    }

    /// Flushes a filled temporary file to disk and moves it to blob `hash`.
    pub fn commit(&self, tmp: &Path, file: File, hash: &str) -> Result<PathBuf, BundleError> {
        file.sync_all().map_err(|e| io_error(tmp, format!("cannot flush: {e}")))?;
        drop(file);
        let dest = self.path(hash);
        let parent = dest.parent().expect("blob path has a folder");
        super::private::create_dir(parent).map_err(|e| io_error(parent, format!("cannot create: {e}")))?;
        std::fs::rename(tmp, &dest).map_err(|e| io_error(&dest, format!("cannot move blob into place: {e}")))?;
        // The rename itself is durable only once its folder is flushed.
        #[cfg(unix)]
        if let Ok(dir) = File::open(parent) {
            let _ = dir.sync_all();
        }
        Ok(dest)
    }

    /// Writes `reader` to blob `hash`, checking the content against the hash
    /// and at most `limit` bytes; returns the size.
    pub fn store(&self, hash: &str, mut reader: impl Read, limit: u64) -> Result<u64, BundleError> {
        let (tmp, mut file) = self.temp()?;
        let result = (|| {
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 1 << 16];
            let mut size = 0u64;
            loop {
                let n = reader
                    .read(&mut buf)
                    .map_err(|e| BundleError::Read { hash: hash.into(), message: e.to_string() })?;
                if n == 0 {
                    break;
                }
                size += n as u64;
                if size > limit {
                    return Err(BundleError::TooLarge { hash: hash.into(), limit });
                }
                hasher.update(&buf[..n]);
                file.write_all(&buf[..n]).map_err(|e| io_error(&tmp, format!("cannot write: {e}")))?;
            }
            let actual = hex::encode(hasher.finalize());
            if actual != hash {
                return Err(BundleError::HashMismatch { path: format!("blob {hash}"), expected: hash.into(), actual });
            }
            Ok(size)
        })();
        match result {
            Ok(size) => {
                self.commit(&tmp, file, hash)?;
                Ok(size)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }
}

/// Lays out a manifest's files under `dest` (hard links to the blobs, or copies
/// where links are impossible). Every blob must be in `blobs`. Writing into a
/// temporary folder renamed at the end means `dest` either is complete or absent.
pub fn materialize(manifest: &SceneManifest, blobs: &BlobDir, dest: &Path) -> Result<(), BundleError> {
    check_manifest(manifest)?;
    if dest.join(&manifest.root).is_file() {
        return Ok(());
    }
    let parent = dest.parent().unwrap_or(Path::new("."));
    let tmp = parent.join(format!(".{}.tmp", super::auth::random_hex(8).map_err(|e| io_error(parent, e))?));
    let result = (|| {
        for f in &manifest.files {
            let target = tmp.join(&f.path);
            let folder = target.parent().expect("a bundle file has a folder");
            std::fs::create_dir_all(folder).map_err(|e| io_error(folder, format!("cannot create: {e}")))?;
            let blob = blobs.path(&f.sha256);
            if std::fs::hard_link(&blob, &target).is_err() {
                std::fs::copy(&blob, &target)
                    .map_err(|e| io_error(&target, format!("cannot copy {}: {e}", blob.display())))?;
            }
        }
        match std::fs::rename(&tmp, dest) {
            Ok(()) => Ok(()),
            // Another thread laid it out first.
            Err(_) if dest.join(&manifest.root).is_file() => Ok(()),
            Err(e) => Err(io_error(dest, format!("cannot move the scene into place: {e}"))),
        }
    })();
    if tmp.exists() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_refused() {
        for ok in ["scene.gltf", "textures/a b.png", "x/y/z.bin", "environment/sky.hdr", "a..b"] {
            check_path(ok).unwrap();
        }
        for bad in
            ["", "/etc/passwd", "../x.bin", "a/../../x", "a/./b", "a//b", "C:/x", "c:x", "a\\b", "http://x/y", "a\nb"]
        {
            assert!(matches!(check_path(bad), Err(BundleError::UnsafePath { .. })), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_gltf_bundle_carries_external_buffers_and_images_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tex")).unwrap();
        std::fs::write(dir.path().join("mesh data.bin"), [1u8, 2, 3]).unwrap();
        std::fs::write(dir.path().join("tex/a.png"), b"png").unwrap();
        let gltf = r#"{"asset":{"version":"2.0"},
            "buffers":[{"uri":"mesh%20data.bin","byteLength":3},{"uri":"data:application/octet-stream;base64,AAAA","byteLength":3}],
            "images":[{"uri":"tex/a.png"},{"bufferView":0,"mimeType":"image/png"}]}"#;
        let scene = dir.path().join("s.gltf");
        std::fs::write(&scene, gltf).unwrap();
        let env = dir.path().join("sky.hdr");
        std::fs::write(&env, b"hdr").unwrap();
        let bundle = build(&scene, Some(&env)).unwrap();
        let paths: Vec<&str> = bundle.manifest.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["environment/sky.hdr", "mesh data.bin", "s.gltf", "tex/a.png"]);
        assert_eq!(bundle.environment.as_deref(), Some("environment/sky.hdr"));
        let bin = &bundle.manifest.files[1];
        assert_eq!((bin.size, bin.sha256.as_str()), (3, hex::encode(Sha256::digest([1u8, 2, 3])).as_str()));

        for bad_uri in ["../secret.bin", "/etc/passwd", "file:///etc/passwd", "https://example.com/a.bin"] {
            let gltf = format!(r#"{{"asset":{{"version":"2.0"}},"buffers":[{{"uri":"{bad_uri}","byteLength":1}}]}}"#);
            std::fs::write(&scene, gltf).unwrap();
            let err = build(&scene, None).unwrap_err().to_string();
            assert!(err.contains("buffers[0].uri") && err.contains("cannot go into a farm bundle"), "{bad_uri}: {err}");
        }
        std::fs::write(&scene, r#"{"asset":{"version":"2.0"},"images":[{"uri":"missing.png"}]}"#).unwrap();
        assert!(build(&scene, None).unwrap_err().to_string().contains("does not exist"));
    }

    #[test]
    fn blobs_are_checked_and_materialized_under_their_paths() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobDir::new(dir.path().join("blobs"));
        let data = b"hello bundle";
        let hash = hex::encode(Sha256::digest(data));
        assert!(matches!(blobs.store(&"0".repeat(64), &data[..], 100), Err(BundleError::HashMismatch { .. })));
        assert!(matches!(blobs.store(&hash, &data[..], 5), Err(BundleError::TooLarge { limit: 5, .. })));
        assert!(!blobs.contains(&hash));
        assert_eq!(blobs.store(&hash, &data[..], 100).unwrap(), data.len() as u64);
        assert!(blobs.contains(&hash));
        let manifest = SceneManifest {
            root: "a/s.gltf".into(),
            files: vec![BundleFile { path: "a/s.gltf".into(), sha256: hash.clone(), size: data.len() as u64 }],
        };
        let dest = dir.path().join("scene");
        materialize(&manifest, &blobs, &dest).unwrap();
        assert_eq!(std::fs::read(dest.join("a/s.gltf")).unwrap(), data);
        let evil = SceneManifest {
            root: "../x".into(),
            files: vec![BundleFile { path: "../x".into(), ..manifest.files[0].clone() }],
        };
        assert!(matches!(materialize(&evil, &blobs, &dir.path().join("e")), Err(BundleError::UnsafePath { .. })));
    }
}
