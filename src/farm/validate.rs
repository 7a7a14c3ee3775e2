//! Scenes checked before they cost the farm anything.
//!
//! [`load_confined`] is how a farm process loads an uploaded scene: every file
//! the glTF references must be a file of its bundle (no absolute paths, no
//! `..`, no schemes, whatever client built the bundle), and the loader runs
//! with the memory budget given. Workers' render processes and the
//! coordinator's scene check both load through it.
//!
//! At submit the coordinator lays the bundle out (hard links to its blobs) and
//! runs `tessera check-scene` (hidden) on it: a child process of the same
//! binary that loads the scene and the environment and prepares the first
//! frame, under a time limit, so a scene that would abort the loader or loop
//! forever takes down only that child. A refused scene is a 422 with the
//! loader's message (file and field), its local paths replaced by bundle
//! paths. Verdicts are kept per scene and settings, so resubmitting a scene
//! costs nothing.

use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::bundle::{self, BlobDir};
use super::child::{self, StderrTail};
use super::error::ApiError;
use super::protocol::JobSpec;
use crate::render::settings::{prepare_frame, RenderSettings};
use crate::scene::{default_memory_limit, Confinement, Environment, EnvironmentSpec, LoadOptions, Scene};

/// A scene and its environment, loaded from a bundle folder.
pub struct Confined {
    pub scene: Scene,
    pub environment: Option<Environment>,
}

/// Loads bundle `dir`'s scene `root` (and the environment; a map is a bundle
/// path) with its references confined to the bundle, within `memory_limit`
/// (default: the loader's, the memory available).
pub fn load_confined(
    dir: &Path,
    root: &str,
    environment: Option<&EnvironmentSpec>,
    memory_limit: Option<u64>,
) -> Result<Confined, String> {
    bundle::check_references(dir, root).map_err(|e| e.to_string())?;
    let options = LoadOptions {
        root: Confinement::Folder(dir.to_path_buf()),
        memory_limit: memory_limit.unwrap_or_else(default_memory_limit),
        ..LoadOptions::default()
    };
    let scene = Scene::load_with(&dir.join(root), &options).map_err(|e| e.to_string())?;
    let remaining = options.memory_limit.saturating_sub(scene.memory_bytes);
    let environment = match environment {
        Some(EnvironmentSpec::Map(rel)) => {
            let rel = rel.to_string_lossy();
            bundle::check_path(&rel).map_err(|e| format!("environment map: {e}"))?;
            let map = EnvironmentSpec::Map(dir.join(rel.as_ref()));
            Some(Environment::load_within(&map, remaining).map_err(|e| e.to_string())?)
        }
        Some(spec) => Some(Environment::load_within(spec, remaining).map_err(|e| e.to_string())?),
        None => None,
    };
    Ok(Confined { scene, environment })
}

/// What `tessera check-scene` reads on stdin (one JSON line).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckRequest {
    pub dir: PathBuf,
    pub root: String,
    pub settings: RenderSettings,
    pub frame: u32,
    pub memory_limit: Option<u64>,
}

/// Exit status of a check that refused the scene (its message is on stdout).
const REFUSED: i32 = 3;

/// The child's side: loads and prepares the scene, prints the verdict and exits.
pub fn serve_check() -> anyhow::Result<()> {
    child::install_panic_hook();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let request: CheckRequest = serde_json::from_str(&line)?;
    let verdict = catch_unwind(AssertUnwindSafe(|| {
        let r = &request;
        // The coordinator holds a whole frame's film to assemble it.
        let limit = r.memory_limit.unwrap_or_else(default_memory_limit);
        r.settings.check_memory(limit).map_err(|e| e.to_string())?;
        let c = load_confined(&r.dir, &r.root, r.settings.environment.as_ref(), r.memory_limit)?;
        prepare_frame(&c.scene, c.environment.as_ref(), &r.settings, r.frame).map_err(|e| e.to_string())?;
        Ok::<(), String>(())
    }))
    .unwrap_or_else(|_| Err(format!("the scene loader panicked: {}", child::last_panic())));
    let mut out = std::io::stdout().lock();
    match verdict {
        Ok(()) => Ok(()),
        Err(message) => {
            out.write_all(message.as_bytes())?;
            out.flush()?;
            std::process::exit(REFUSED);
        }
    }
}

/// Most verdicts kept (then the cache starts over).
const MAX_VERDICTS: usize = 4096;
/// Scene checks running at once; more wait.
const CONCURRENT_CHECKS: usize = 2;

/// The coordinator's scene check, with its verdict cache.
#[derive(Clone)]
pub struct SceneChecker {
    blobs: BlobDir,
    /// Where bundles are laid out while they are checked.
    work: PathBuf,
    /// Folders whose paths never appear in messages.
    private: PathBuf,
    time_limit: Duration,
    memory_limit: Option<u64>,
    /// Testing aid: accept every scene unchecked.
    skip: bool,
    verdicts: Arc<Mutex<HashMap<String, Result<(), String>>>>,
    slots: Arc<tokio::sync::Semaphore>,
}

impl SceneChecker {
    pub fn new(data: &Path, blobs: BlobDir, time_limit: Duration, memory_limit: Option<u64>, skip: bool) -> Self {
        Self {
            blobs,
            work: data.join("checks"),
            private: data.to_path_buf(),
            time_limit,
            memory_limit,
            skip,
            verdicts: Arc::default(),
            slots: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_CHECKS)),
        }
    }

    /// The request of `spec`'s scene check, and its cache key.
    fn request(&self, spec: &JobSpec, dir: PathBuf) -> (CheckRequest, String) {
        let request = CheckRequest {
            dir,
            root: spec.scene.root.clone(),
            settings: spec.settings.clone(),
            frame: spec.frames.first,
            memory_limit: self.memory_limit,
        };
        let mut key = Sha256::new();
        key.update(spec.scene.id().as_bytes());
        key.update(serde_json::to_vec(&(&request.settings, request.frame)).unwrap_or_default());
        (request, hex::encode(key.finalize()))
    }

    /// Checks `spec`'s scene: `Ok` when it loads, a 422 with the loader's
    /// message when it does not. Scenes whose files are not all uploaded are
    /// left to the submit itself to refuse.
    pub async fn check(&self, spec: &JobSpec) -> Result<(), ApiError> {
        if self.skip || spec.scene.files.iter().any(|f| !self.blobs.contains(&f.sha256)) {
            return Ok(());
        }
        let dir = self.work.join(super::auth::random_hex(12).map_err(|e| ApiError::internal(e.to_string()))?);
        let (request, key) = self.request(spec, dir.clone());
        if let Some(verdict) = self.verdicts.lock().expect("verdict lock").get(&key) {
            return verdict.clone().map_err(invalid_scene);
        }
        let _slot = self.slots.acquire().await.map_err(|e| ApiError::internal(e.to_string()))?;
        let checker = self.clone();
        let manifest = spec.scene.clone();
        let verdict = tokio::task::spawn_blocking(move || {
            let verdict = bundle::materialize(&manifest, &checker.blobs, &dir)
                .map_err(|e| Unsettled(e.to_string()))
                .and_then(|()| checker.run_child(&request));
            let redact = |m: String| child::redact(&m, &dir, &[(&checker.private, "<coordinator data>")]);
            let verdict = verdict.map_err(|e| match e {
                Settled(m) => Settled(redact(m)),
                Unsettled(m) => Unsettled(redact(m)),
            });
            let _ = std::fs::remove_dir_all(&dir);
            verdict
        })
        .await
        .map_err(|e| ApiError::internal(format!("scene check task: {e}")))?;
        match verdict {
            Ok(()) => {
                self.remember(key, Ok(()));
                Ok(())
            }
            Err(Settled(message)) => {
                self.remember(key, Err(message.clone()));
                Err(invalid_scene(message))
            }
            Err(Unsettled(message)) => Err(invalid_scene(message)),
        }
    }

    fn remember(&self, key: String, verdict: Result<(), String>) {
        let mut verdicts = self.verdicts.lock().expect("verdict lock");
        if verdicts.len() >= MAX_VERDICTS {
            verdicts.clear();
        }
        verdicts.insert(key, verdict);
    }

    /// Runs `tessera check-scene` on a laid-out bundle.
    fn run_child(&self, request: &CheckRequest) -> Result<(), Verdict> {
        let mut process = child::spawn(child::CHECK_SUBCOMMAND)
            .map_err(|e| Unsettled(format!("cannot start the scene check process: {e}")))?;
        let mut stderr = StderrTail::start(process.stderr.take().expect("piped"), "check-scene".into());
        let mut stdout = process.stdout.take().expect("piped");
        let reader = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = (&mut stdout).take(child::MAX_MESSAGE as u64).read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        });
        if let Some(mut stdin) = process.stdin.take() {
            let line = serde_json::to_string(request).map_err(|e| Unsettled(e.to_string()))?;
            // A child that died at once shows in its exit status below.
            let _ = stdin.write_all(line.as_bytes()).and_then(|()| stdin.write_all(b"\n"));
        }
        let start = Instant::now();
        let status = loop {
            match process.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if start.elapsed() > self.time_limit => {
                    let _ = process.kill();
                    let _ = process.wait();
                    return Err(Unsettled(format!(
                        "loading the scene took longer than the coordinator's scene check time limit ({:.0} s)",
                        self.time_limit.as_secs_f64()
                    )));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(Unsettled(format!("scene check process: {e}"))),
            }
        };
        let message = reader.join().unwrap_or_default();
        let last = stderr.finish();
        if status.success() {
            return Ok(());
        }
        if status.code() == Some(REFUSED) {
            return Err(Settled(message.trim().to_string()));
        }
        let how = child::describe_exit(status);
        Err(Settled(match child::allocation_failure(&last) {
            Some(line) => format!("the scene loader died: {how} after \"{line}\""),
            None => format!("the scene loader died: {how}"),
        }))
    }
}

/// Why a check did not pass: `Settled` verdicts are the scene's own and are
/// kept; `Unsettled` ones (a time limit, a local problem) may differ next time.
enum Verdict {
    Settled(String),
    Unsettled(String),
}
use Verdict::{Settled, Unsettled};

fn invalid_scene(message: String) -> ApiError {
    ApiError::unprocessable("invalid_scene", format!("the scene cannot be rendered: {message}"))
}
