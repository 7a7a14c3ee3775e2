//! The worker's render process: `tessera render-process` (hidden), a child of
//! the worker that loads one job's scene and renders its tasks.
//!
//! The worker starts one for a scene (bundle and environment) and keeps it for
//! that scene's consecutive tasks, so the scene is loaded, the frame prepared
//! and the backend created (GPU context, compiled kernels) once, not per tile.
//! It is stopped and started afresh after any failure, when the lease is lost
//! (the render cannot be interrupted any other way), when the task time limit
//! passes, and when the next task is of another scene.
//!
//! Protocol: the worker writes one JSON line of [`Setup`], then one JSON line
//! of [`Request`] per task on the child's stdin; the child answers each on
//! stdout with one frame ([`super::child::write_frame`]): `R` and the encoded,
//! checksummed tile result (uploaded as it is), or `E` and an error message,
//! after which it exits. A panic becomes an `E` answer with the panic's text;
//! an abort, a signal or an exit without an answer is read from the child's
//! exit status ("render process died: signal 6 (SIGABRT)").

use std::io::{BufRead, BufReader, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::{Child, ChildStdin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::child::{self, StderrTail};
use super::protocol::encode_result;
use super::server::max_result_bytes;
use super::validate::{load_confined, Confined};
use crate::backend::{self, Backend, BackendKind, BackendOptions};
use crate::render::settings::{prepare_frame, RenderSettings};
use crate::render::task::RenderTask;
use crate::scene::EnvironmentSpec;

/// What the render process loads: a bundle folder, its root file, the job's
/// environment (a map is a bundle path), the memory budget and the backend.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Setup {
    pub dir: PathBuf,
    pub root: String,
    pub environment: Option<EnvironmentSpec>,
    pub memory_limit: Option<u64>,
    pub backend: BackendKind,
    pub device: Option<usize>,
    pub threads: Option<usize>,
}

/// One task to render.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Request {
    pub settings: RenderSettings,
    pub task: RenderTask,
}

const RESULT: u8 = b'R';
const ERROR: u8 = b'E';

/// The child's side: serves requests until stdin closes or a task fails.
pub fn serve() -> anyhow::Result<()> {
    child::install_panic_hook();
    let mut input = BufReader::new(std::io::stdin().lock());
    let mut out = std::io::stdout().lock();
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(());
    }
    let setup: Setup = serde_json::from_str(&line)?;
    let mut state: Option<Loaded> = None;
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let request: Request = serde_json::from_str(&line)?;
        let answer = catch_unwind(AssertUnwindSafe(|| render(&setup, &mut state, &request)))
            .unwrap_or_else(|_| Err(format!("render process panicked: {}", child::last_panic())));
        match answer {
            Ok(bytes) => child::write_frame(&mut out, RESULT, &bytes)?,
            Err(message) => {
                child::write_frame(&mut out, ERROR, message.as_bytes())?;
                return Ok(());
            }
        }
    }
}

/// The child's loaded scene and backend.
struct Loaded {
    scene: Confined,
    backend: Box<dyn Backend>,
    /// (frame, settings) of the prepared scene in the backend.
    uploaded: Option<(u32, RenderSettings)>,
}

fn render(setup: &Setup, state: &mut Option<Loaded>, request: &Request) -> Result<Vec<u8>, String> {
    if state.is_none() {
        let scene = load_confined(&setup.dir, &setup.root, setup.environment.as_ref(), setup.memory_limit)?;
        let options = BackendOptions { device: setup.device, threads: setup.threads };
        let (backend, _) = backend::create(setup.backend, &options).map_err(|e| e.to_string())?;
        *state = Some(Loaded { scene, backend, uploaded: None });
    }
    let loaded = state.as_mut().expect("loaded above");
    let wanted = (request.task.frame, request.settings.clone());
    if loaded.uploaded.as_ref() != Some(&wanted) {
        loaded.uploaded = None;
        let c = &loaded.scene;
        let flat = prepare_frame(&c.scene, c.environment.as_ref(), &request.settings, request.task.frame)
            .map_err(|e| e.to_string())?;
        loaded.backend.upload(&flat).map_err(|e| e.to_string())?;
        loaded.uploaded = Some(wanted);
    }
    let result = loaded.backend.render(&request.task, &|_| true).map_err(|e| e.to_string())?;
    Ok(encode_result(&result))
}

/// How one task in a render process ended.
#[derive(Debug)]
pub enum Outcome {
    /// The encoded tile result.
    Rendered(Vec<u8>),
    /// Why it failed (the process is gone or must go).
    Failed(String),
    /// The lease was lost meanwhile; the process was stopped.
    Lost,
}

type Reply = std::io::Result<(u8, Vec<u8>)>;

/// The worker's handle on a running render process.
pub struct RenderProcess {
    key: String,
    child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<Reply>,
    stderr: StderrTail,
}

impl RenderProcess {
    /// Starts a render process for `setup`; `key` names the scene it holds.
    pub fn start(key: String, setup: &Setup) -> Result<Self, String> {
        let mut child =
            child::spawn(child::RENDER_SUBCOMMAND).map_err(|e| format!("cannot start a render process: {e}"))?;
        let stderr = StderrTail::start(child.stderr.take().expect("piped"), format!("render {}", child.id()));
        let mut stdout = child.stdout.take().expect("piped");
        let (tx, replies) = mpsc::channel();
        std::thread::spawn(move || loop {
            let frame = child::read_frame(&mut stdout, max_result_bytes().max(child::MAX_MESSAGE));
            let stop = !matches!(frame, Ok(Some(_)));
            if let Some(reply) = frame.transpose() {
                if tx.send(reply).is_err() {
                    break;
                }
            }
            if stop {
                break;
            }
        });
        let mut process = Self { key, stdin: child.stdin.take(), child, replies, stderr };
        let line = serde_json::to_string(setup).map_err(|e| e.to_string())?;
        process.send_line(&line)?;
        tracing::info!("render process {} started", process.child.id());
        Ok(process)
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn send_line(&mut self, line: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("the render process is closed")?;
        let sent = stdin.write_all(line.as_bytes()).and_then(|()| stdin.write_all(b"\n")).and_then(|()| stdin.flush());
        sent.map_err(|_| self.died())
    }

    /// Renders `request`, giving up when `lost` is set or after `limit`.
    pub fn render(&mut self, request: &Request, lost: &AtomicBool, limit: Option<Duration>) -> Outcome {
        let line = match serde_json::to_string(request) {
            Ok(line) => line,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        if let Err(message) = self.send_line(&line) {
            return Outcome::Failed(message);
        }
        let start = Instant::now();
        loop {
            match self.replies.recv_timeout(Duration::from_millis(20)) {
                Ok(Ok((RESULT, bytes))) => return Outcome::Rendered(bytes),
                Ok(Ok((ERROR, message))) => return Outcome::Failed(String::from_utf8_lossy(&message).into_owned()),
                Ok(Ok((tag, _))) => {
                    self.kill();
                    return Outcome::Failed(format!("render process sent a malformed answer (tag {tag})"));
                }
                Ok(Err(e)) => {
                    self.kill();
                    return Outcome::Failed(format!("render process sent a malformed answer: {e}"));
                }
                Err(RecvTimeoutError::Disconnected) => return Outcome::Failed(self.died()),
                Err(RecvTimeoutError::Timeout) => {
                    if lost.load(Ordering::Relaxed) {
                        self.kill();
                        return Outcome::Lost;
                    }
                    if let Some(limit) = limit.filter(|l| start.elapsed() > *l) {
                        self.kill();
                        return Outcome::Failed(format!(
                            "the task ran past the worker's task time limit ({:.1} s); its render process was stopped",
                            limit.as_secs_f64()
                        ));
                    }
                }
            }
        }
    }

    /// Why the process ended without answering: its exit status, and the
    /// allocator's message when that is what it printed last.
    fn died(&mut self) -> String {
        self.stdin = None;
        let status = match self.child.wait() {
            Ok(status) => child::describe_exit(status),
            Err(e) => format!("status unknown ({e})"),
        };
        let last = self.stderr.finish();
        match child::allocation_failure(&last) {
            Some(line) => format!("render process died: {status} after \"{line}\""),
            None => format!("render process died: {status}"),
        }
    }

    fn kill(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RenderProcess {
    fn drop(&mut self) {
        self.kill();
        self.stderr.finish();
    }
}
