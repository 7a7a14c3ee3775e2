//! `tessera worker`: a render node that pulls work.
//!
//! It registers with its capabilities (backends and devices, memory, a quick
//! benchmark), then loops: long-poll for a lease, make sure the scene is in the
//! local cache (fetching only missing files, each checked against its hash),
//! render the task while a heartbeat thread keeps the lease alive, upload the
//! checksummed result, and ask again. While it renders it fetches the scene the
//! coordinator says comes next. When the coordinator is unreachable it keeps
//! retrying (heartbeats, uploads, lease requests) with backoff, so a restarted
//! coordinator gets the finished work; when the coordinator says the lease is
//! lost (409) it drops the task at once.
//!
//! Isolation: the worker itself never loads a scene. Each scene is loaded and
//! rendered by a [`RenderProcess`] (a child process of the same binary), kept
//! for that scene's consecutive tasks and started afresh after any failure.
//! Whatever a hostile scene does there (an error, a panic, an abort on a huge
//! allocation, a GPU fault, a signal, running past `--task-time-limit`) ends at
//! most that child: the worker reports the task as a failed attempt with the
//! message and takes the next lease. The scene is loaded confined to the
//! job's bundle folder, with the `--memory-limit` budget. Messages sent to the
//! coordinator name bundle files by their bundle paths; the worker's own
//! folders are replaced by placeholders.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use reqwest::Method;

use super::bundle::{self, BlobDir};
use super::child;
use super::http::{is_no_content, Api, ClientError};
use super::protocol::{Capabilities, FailRequest, Lease, LeaseRequest, RegisterResponse, SceneManifest, API};
use super::render_process::{self, Outcome, RenderProcess};
use crate::backend::{self, BackendKind, BackendOptions};
use crate::render::bench::{self, BenchOptions};
use crate::render::settings::RenderSettings;

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    pub coordinator: String,
    pub token: String,
    /// Trust only this CA certificate for HTTPS (default: the system's roots).
    pub ca_cert: Option<PathBuf>,
    pub backend: BackendKind,
    pub backend_options: BackendOptions,
    pub name: String,
    /// Local scene cache.
    pub cache: PathBuf,
    /// Skip the start-up benchmark (its score is then 0).
    pub skip_bench: bool,
    /// Long-poll time of one lease request.
    pub wait: Duration,
    /// Testing aid: wait this long before rendering each task (heartbeating), so
    /// a task's lease can be observed and interrupted.
    pub task_delay: Duration,
    /// Stop after this many tasks (None: run forever).
    pub max_tasks: Option<u64>,
    /// Memory budget of scene loading in each render process (None: the loader's default).
    pub memory_limit: Option<u64>,
    /// A task whose render runs longer is stopped and reported failed (None: no limit).
    pub task_time_limit: Option<Duration>,
}

/// Longest pause between retries when the coordinator is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << attempt.min(6))).min(MAX_BACKOFF)
}

/// Calls `f` until it succeeds or fails with a non-transient error.
fn retry<T>(what: &str, mut f: impl FnMut() -> Result<T, ClientError>) -> Result<T, ClientError> {
    let mut attempt = 0;
    loop {
        match f() {
            Err(e) if e.is_transient() => {
                if attempt % 10 == 0 {
                    tracing::warn!("{what}: {e}; retrying");
                }
                std::thread::sleep(backoff(attempt));
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Total memory of this machine in bytes (0 where unknown).
fn memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// This machine's host name, for the worker's default name.
pub fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "worker".into())
}

fn kind_of(name: &str) -> BackendKind {
    match name {
        "cuda" => BackendKind::Cuda,
        "wgpu" => BackendKind::Wgpu,
        _ => BackendKind::Cpu,
    }
}

/// A quick benchmark on the built-in Cornell box: samples/s of the chosen backend.
fn quick_bench(kind: BackendKind, opts: &BackendOptions) -> f64 {
    let settings = RenderSettings { width: 64, height: 64, spp: 8, max_depth: 4, ..Default::default() };
    let run = || -> Result<f64, String> {
        let (backend, _) = backend::create(kind, opts).map_err(|e| e.to_string())?;
        let report = bench::run(backend, None, &settings, &BenchOptions { warmup_spp: 1, tile: 64, frame: 1 })
            .map_err(|e| e.to_string())?;
        Ok(report.samples_per_second)
    };
    run().unwrap_or_else(|e| {
        tracing::warn!("start-up benchmark failed: {e}");
        0.0
    })
}

/// Scenes fetched from the coordinator: blobs by hash, and each bundle laid out
/// under `scenes/<manifest id>/`.
#[derive(Clone)]
pub struct SceneCache {
    blobs: BlobDir,
    scenes: PathBuf,
}

impl SceneCache {
    pub fn new(root: &Path) -> Self {
        Self { blobs: BlobDir::new(root.join("blobs")), scenes: root.join("scenes") }
    }

    /// Where `manifest`'s files are laid out.
    pub fn dir_of(&self, manifest: &SceneManifest) -> PathBuf {
        self.scenes.join(manifest.id())
    }

    /// The local folder of `manifest`, fetching whatever is missing.
    pub fn ensure(&self, api: &Api, manifest: &SceneManifest) -> Result<PathBuf, String> {
        bundle::check_manifest(manifest).map_err(|e| e.to_string())?;
        let dest = self.dir_of(manifest);
        if dest.join(&manifest.root).is_file() {
            return Ok(dest);
        }
        for file in &manifest.files {
            if self.blobs.contains(&file.sha256) {
                continue;
            }
            let fetch = || -> Result<(), ClientError> {
                let request = api
                    .request(Method::GET, &format!("{API}/blobs/{}", file.sha256))
                    .timeout(Duration::from_secs(3600));
                let response = api.send(request)?;
                self.blobs.store(&file.sha256, response, file.size).map_err(|e| match e {
                    // A broken connection is worth another try; wrong content is not.
                    bundle::BundleError::Read { .. } => ClientError::Transport {
                        url: api.base().to_string(),
                        message: format!("fetching {}: {e}", file.path),
                    },
                    other => ClientError::Local(format!("fetching {}: {other}", file.path)),
                })?;
                Ok(())
            };
            retry(&format!("fetching scene file {}", file.path), fetch).map_err(|e| e.to_string())?;
        }
        std::fs::create_dir_all(&self.scenes).map_err(|e| format!("{}: {e}", self.scenes.display()))?;
        bundle::materialize(manifest, &self.blobs, &dest).map_err(|e| e.to_string())?;
        Ok(dest)
    }
}

/// Keeps a lease alive from its own thread; sets `lost` when the coordinator
/// says the lease is gone.
struct Heartbeat {
    stop: Arc<AtomicBool>,
    lost: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeat {
    fn start(api: Api, worker_id: i64, lease_id: i64, interval: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let lost = Arc::new(AtomicBool::new(false));
        let (s, l) = (stop.clone(), lost.clone());
        let thread = std::thread::spawn(move || {
            let path = format!("{API}/workers/{worker_id}/leases/{lease_id}/heartbeat");
            let mut next = Instant::now() + interval;
            while !s.load(Ordering::Relaxed) {
                if Instant::now() < next {
                    std::thread::sleep(Duration::from_millis(20).min(interval));
                    continue;
                }
                next = Instant::now() + interval;
                match api.send(api.request(Method::POST, &path).timeout(interval.max(Duration::from_secs(2)))) {
                    Ok(_) => {}
                    Err(e) if e.status() == Some(409) || e.status() == Some(404) => {
                        tracing::warn!("lease {lease_id}: {e}");
                        l.store(true, Ordering::Relaxed);
                        break;
                    }
                    Err(e) => tracing::debug!("lease {lease_id}: heartbeat failed: {e}"),
                }
            }
        });
        Self { stop, lost, thread: Some(thread) }
    }

    fn lost(&self) -> bool {
        self.lost.load(Ordering::Relaxed)
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A running worker.
pub struct Worker {
    opts: WorkerOptions,
    /// With the enrolment token: only registers.
    enrolment: Api,
    /// With this worker's own credential, once registered.
    api: Api,
    /// The backend render processes create (`auto` resolved once, at start).
    backend: BackendKind,
    caps: Capabilities,
    worker_id: i64,
    cache: SceneCache,
    process: Option<RenderProcess>,
    prefetching: Option<JoinHandle<()>>,
    /// The energy counter read around each task, for usage accounting.
    meter: super::energy::EnergyMeter,
}

impl Worker {
    /// Creates the backend, measures it and registers with the coordinator.
    pub fn start(opts: WorkerOptions) -> anyhow::Result<Self> {
        let api = Api::with_ca(&opts.coordinator, &opts.token, opts.ca_cert.as_deref())?;
        let (backend, skipped) = backend::create(opts.backend, &opts.backend_options)?;
        for line in skipped {
            eprintln!("{line}");
        }
        let info = backend.info();
        eprintln!("Backend: {} on {}", info.name, info.device);
        // Render processes create their own; this one only said what runs here.
        drop(backend);
        let bench = if opts.skip_bench { 0.0 } else { quick_bench(kind_of(&info.name), &opts.backend_options) };
        let caps = Capabilities {
            name: opts.name.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            backend: info,
            probes: backend::probe_all(),
            memory_bytes: memory_bytes(),
            cpu_threads: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            bench_samples_per_second: bench,
        };
        let cache = SceneCache::new(&opts.cache);
        let backend = kind_of(&caps.backend.name);
        let enrolment = api.clone();
        let meter = super::energy::EnergyMeter::detect(backend != BackendKind::Cpu);
        eprintln!("Energy accounting: {}", if meter.available() { "measured" } else { "no readable counter" });
        let (process, prefetching) = (None, None);
        let mut worker = Self { opts, enrolment, api, backend, caps, worker_id: 0, cache, process, prefetching, meter };
        worker.register()?;
        Ok(worker)
    }

    pub fn id(&self) -> i64 {
        self.worker_id
    }

    fn register(&mut self) -> Result<(), ClientError> {
        let enrolment = &self.enrolment;
        let reply: RegisterResponse = retry("registering", || {
            enrolment.json(enrolment.request(Method::POST, &format!("{API}/workers")).json(&self.caps))
        })?;
        self.worker_id = reply.worker_id;
        self.api = self.enrolment.with_token(&reply.credential);
        eprintln!(
            "Worker {} registered with {} (heartbeat {} ms, lease {} ms)",
            reply.worker_id,
            self.api.base(),
            reply.heartbeat_ms,
            reply.lease_ms
        );
        Ok(())
    }

    /// Pulls and renders tasks until `max_tasks` (forever by default).
    pub fn run(&mut self) -> anyhow::Result<()> {
        let mut done = 0u64;
        while self.opts.max_tasks.is_none_or(|max| done < max) {
            let Some(lease) = self.next_lease()? else { continue };
            self.handle(lease);
            done += 1;
        }
        Ok(())
    }

    /// One long poll; `None` when no work came.
    fn next_lease(&mut self) -> anyhow::Result<Option<Lease>> {
        let wait = self.opts.wait;
        let path = format!("{API}/workers/{}/lease", self.worker_id);
        let request = || {
            self.api
                .request(Method::POST, &path)
                .timeout(wait + Duration::from_secs(30))
                .json(&LeaseRequest { wait_ms: wait.as_millis() as u64 })
        };
        let response = retry("asking for work", || self.api.send(request()));
        match response {
            Ok(r) if is_no_content(&r) => Ok(None),
            Ok(r) => Ok(Some(r.json().map_err(|e| ClientError::Decode(e.to_string()))?)),
            Err(e) if e.status() == Some(404) => {
                // The coordinator does not know us (e.g. a fresh database): register again.
                tracing::warn!("{e}");
                self.register()?;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn prefetch(&mut self, lease: &Lease) {
        let Some(next) = &lease.prefetch else { return };
        if self.prefetching.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let (api, cache, scene, job) = (self.api.clone(), self.cache.clone(), next.scene.clone(), next.job_id);
        self.prefetching = Some(std::thread::spawn(move || match cache.ensure(&api, &scene) {
            Ok(_) => tracing::info!("prefetched the scene of job {job}"),
            Err(e) => tracing::warn!("prefetching the scene of job {job}: {e}"),
        }));
    }

    /// Renders one lease and reports the outcome.
    fn handle(&mut self, lease: Lease) {
        let t = lease.task;
        tracing::info!(
            "lease {} task {} (job {}, frame {}, tile {},{} {}x{}, samples {}..{}, attempt {})",
            lease.lease_id,
            lease.task_id,
            lease.job_id,
            t.frame,
            t.tile.x,
            t.tile.y,
            t.tile.width,
            t.tile.height,
            t.samples.start,
            t.samples.end,
            lease.attempt
        );
        let heartbeat = Heartbeat::start(
            self.api.clone(),
            self.worker_id,
            lease.lease_id,
            Duration::from_millis(lease.heartbeat_ms.max(50)),
        );
        self.prefetch(&lease);
        let before = self.meter.read();
        let outcome = self.render(&lease, &heartbeat);
        let energy_j = before.and_then(|b| self.meter.joules_since(&b));
        match outcome {
            Ok(Some(result)) => self.upload(&lease, &heartbeat, &result, energy_j),
            Ok(None) => tracing::warn!("lease {} lost; dropped task {}", lease.lease_id, lease.task_id),
            Err(message) => {
                tracing::error!("lease {} task {}: {message}", lease.lease_id, lease.task_id);
                let dir = self.cache.dir_of(&lease.scene);
                let message = child::redact(&message, &dir, &[(&self.opts.cache, "<worker cache>")]);
                self.report_failure(&lease, &message, energy_j);
            }
        }
        drop(heartbeat);
    }

    /// Renders the task in the scene's render process; `Ok(None)` when the
    /// lease was lost meanwhile, else the encoded result.
    fn render(&mut self, lease: &Lease, heartbeat: &Heartbeat) -> Result<Option<Vec<u8>>, String> {
        let dir = self.cache.ensure(&self.api, &lease.scene)?;
        let key = format!(
            "{} {}",
            lease.scene.id(),
            serde_json::to_string(&lease.settings.environment).map_err(|e| e.to_string())?
        );
        if self.process.as_ref().is_none_or(|p| p.key() != key) {
            self.process = None;
            let setup = render_process::Setup {
                dir,
                root: lease.scene.root.clone(),
                environment: lease.settings.environment.clone(),
                memory_limit: self.opts.memory_limit,
                backend: self.backend,
                device: self.opts.backend_options.device,
                threads: self.opts.backend_options.threads,
            };
            self.process = Some(RenderProcess::start(key, &setup)?);
        }
        let delay_end = Instant::now() + self.opts.task_delay;
        while Instant::now() < delay_end && !heartbeat.lost() {
            std::thread::sleep(Duration::from_millis(10));
        }
        if heartbeat.lost() {
            return Ok(None);
        }
        let request = render_process::Request { settings: lease.settings.clone(), task: lease.task };
        let process = self.process.as_mut().expect("started above");
        match process.render(&request, &heartbeat.lost, self.opts.task_time_limit) {
            Outcome::Rendered(bytes) if !heartbeat.lost() => Ok(Some(bytes)),
            Outcome::Rendered(_) => Ok(None),
            Outcome::Lost => {
                self.process = None;
                Ok(None)
            }
            Outcome::Failed(message) => {
                // Whatever state the process is in, the next task gets a fresh one.
                self.process = None;
                Err(message)
            }
        }
    }

    /// Uploads a result, retrying while the coordinator is unreachable and the lease holds.
    fn upload(&self, lease: &Lease, heartbeat: &Heartbeat, bytes: &[u8], energy_j: Option<f64>) {
        let path = format!("{API}/workers/{}/leases/{}/result", self.worker_id, lease.lease_id);
        let mut corrupt = 0;
        let mut attempt = 0;
        loop {
            let mut request = self
                .api
                .request(Method::PUT, &path)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .timeout(Duration::from_secs(300))
                .body(bytes.to_vec());
            if let Some(joules) = energy_j {
                request = request.header(super::protocol::ENERGY_HEADER, format!("{joules:.6}"));
            }
            match self.api.send(request) {
                Ok(_) => {
                    tracing::info!("lease {}: result accepted", lease.lease_id);
                    return;
                }
                Err(e) if e.is_transient() && !heartbeat.lost() => {
                    if attempt % 10 == 0 {
                        tracing::warn!("lease {}: upload failed: {e}; retrying", lease.lease_id);
                    }
                    std::thread::sleep(backoff(attempt));
                    attempt += 1;
                }
                Err(ClientError::Api { code, .. }) if code == "bad_checksum" && corrupt < 3 => {
                    // Damaged on the way; the bytes here are intact, send them again.
                    corrupt += 1;
                }
                Err(e) => {
                    tracing::warn!("lease {}: result refused: {e}", lease.lease_id);
                    return;
                }
            }
        }
    }

    fn report_failure(&self, lease: &Lease, message: &str, energy_j: Option<f64>) {
        let path = format!("{API}/workers/{}/leases/{}/fail", self.worker_id, lease.lease_id);
        let body = FailRequest { error: message.to_string(), energy_j };
        if let Err(e) =
            retry("reporting a failure", || self.api.send(self.api.request(Method::POST, &path).json(&body)))
        {
            tracing::warn!("lease {}: failure report refused: {e}", lease.lease_id);
        }
    }
}
