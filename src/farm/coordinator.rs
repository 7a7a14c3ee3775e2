//! `tessera coordinator`: opens the data folder, recovers, and serves the API.
//!
//! Data folder layout:
//!
//! ```text
//! DATA/farm.sqlite (+ -wal, -shm)   jobs, tasks, leases, results, tokens
//! DATA/blobs/ab/abcdef…             scene files by SHA-256
//! DATA/outputs/JOB/frame_NNNN.exr   assembled frames
//! DATA/tokens/admin.token           first-start token of the admin user "admin" (mode 0600)
//! DATA/tokens/enrolment.token       first-start enrolment token for workers (mode 0600)
//! DATA/address                      the address the API listens on, written once bound
//! ```
//!
//! On restart, leases that were running get a full lease time from now (their
//! workers keep rendering and upload to the restarted coordinator), and frames
//! whose tiles were all in but not yet written are assembled again.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::Notify;

use super::assemble;
use super::auth::{self, Authenticator, NewToken};
use super::bundle::BlobDir;
use super::metrics::Metrics;
use super::rate_limit::RateLimiter;
use super::scheduler::{self, SchedConfig, SchedState};
use super::server::{self, App, Limits};
use super::store::{self, writer::Writer, ReadPool};
use super::validate::SceneChecker;

/// How a coordinator runs.
#[derive(Clone, Debug)]
pub struct CoordinatorOptions {
    /// Address to listen on; port 0 picks a free one (see `DATA/address`).
    pub listen: String,
    /// Serve HTTPS with this certificate.
    pub tls: Option<super::tls::CertFiles>,
    /// Allow plain HTTP on a non-loopback address.
    pub insecure_http: bool,
    pub data: PathBuf,
    pub config: SchedConfig,
    pub limits: Limits,
    pub scene_check: SceneCheckOptions,
    /// Requests per second per user or enrolment token (0: unlimited); bursts of 4 s worth.
    pub rate_limit: f64,
}

/// How submitted scenes are checked.
#[derive(Clone, Debug)]
pub struct SceneCheckOptions {
    /// A check running longer is stopped and the scene refused.
    pub time_limit: Duration,
    /// Memory budget of the scene check (None: the loader's default).
    pub memory_limit: Option<u64>,
    /// Testing aid: accept every scene unchecked.
    pub skip: bool,
}

impl Default for SceneCheckOptions {
    fn default() -> Self {
        Self { time_limit: Duration::from_secs(60), memory_limit: None, skip: false }
    }
}

/// File in the data folder holding the bound address.
pub fn address_file(data: &Path) -> PathBuf {
    data.join("address")
}

/// Creates the admin user "admin" with a token, and an enrolment token for
/// workers, on first start, and writes the tokens to `DATA/tokens/`.
fn first_start_tokens(conn: &rusqlite::Connection, data: &Path) -> anyhow::Result<()> {
    if auth::has_tokens(conn)? {
        return Ok(());
    }
    let dir = data.join("tokens");
    super::private::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    super::access::set_user(conn, "admin", true)?;
    for (new, what, file) in [
        (NewToken::User("admin"), "admin", "admin.token"),
        (NewToken::Enrolment("workers"), "enrolment", "enrolment.token"),
    ] {
        let token = auth::create_token(conn, new, None)?;
        let path = dir.join(file);
        super::private::write_file(&path, &format!("{token}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("Created the first {what} token in {}", path.display());
    }
    Ok(())
}

/// Runs the coordinator until Ctrl-C.
pub fn run(opts: CoordinatorOptions) -> anyhow::Result<()> {
    let data = &opts.data;
    super::private::create_dir(data).with_context(|| format!("creating data folder {}", data.display()))?;
    // Owner-only, whoever made the folder: it holds every tenant's scenes and frames.
    for path in [data.clone(), data.join("blobs"), data.join("outputs"), data.join("tokens")] {
        if path.exists() {
            super::private::tighten(&path).with_context(|| format!("making {} private", path.display()))?;
        }
    }
    let db_path = store::db_path(&opts.data);
    let conn = store::open(&db_path)?;
    first_start_tokens(&conn, &opts.data)?;

    let metrics = Arc::new(Metrics::default());
    let work = Arc::new(Notify::new());
    let (assemble_tx, assemble_rx) = std::sync::mpsc::channel();
    let state = SchedState::new(opts.config.clone(), work.clone(), assemble_tx.clone(), metrics.clone());
    let extended = scheduler::extend_leases_after_restart(&conn, &state)?;
    let pending = scheduler::frames_to_assemble(&conn)?;
    if extended > 0 || !pending.is_empty() {
        eprintln!("Recovered: {extended} running lease(s) extended, {} frame(s) to assemble", pending.len());
    }

    let reads = ReadPool::new(&db_path);
    let (writer, _writer_thread) = Writer::start(conn, state);
    let outputs = opts.data.join("outputs");
    let (preview_tx, preview_rx) = std::sync::mpsc::channel();
    let _previews = super::preview::spawn(preview_rx, reads.clone(), writer.clone(), outputs.clone());
    let _assembler = assemble::spawn(assemble_rx, reads.clone(), writer.clone(), outputs.clone(), preview_tx);
    for key in pending {
        let _ = assemble_tx.send(key);
    }
    drop(assemble_tx);

    let app = App {
        writer: writer.clone(),
        reads: reads.clone(),
        auth: Authenticator::new(reads, RateLimiter::new(opts.rate_limit, (opts.rate_limit * 4.0).max(1.0))),
        blobs: BlobDir::new(opts.data.join("blobs")),
        checker: SceneChecker::new(
            &opts.data,
            BlobDir::new(opts.data.join("blobs")),
            opts.scene_check.time_limit,
            opts.scene_check.memory_limit,
            opts.scene_check.skip,
        ),
        outputs,
        work,
        metrics,
        config: opts.config.clone(),
        limits: opts.limits.clone(),
        stopping: Arc::default(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // On return the process exits: committed state is on disk, and a frame
    // being assembled is assembled again on the next start.
    runtime.block_on(serve(app, &opts))
}

async fn serve(app: App, opts: &CoordinatorOptions) -> anyhow::Result<()> {
    let address = address_file(&opts.data);
    let _ = std::fs::remove_file(&address);
    // The certificate first: a bad one should stop the start, not the first client.
    let tls = match &opts.tls {
        Some(files) => Some((files.clone(), files.load().await?)),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&opts.listen)
        .await
        .with_context(|| format!("cannot listen on {}", opts.listen))?;
    let bound: SocketAddr = listener.local_addr()?;
    if tls.is_none() && !bound.ip().is_loopback() {
        if !opts.insecure_http {
            anyhow::bail!(
                "refusing to serve plain HTTP on {bound}: tokens and scenes would cross the network in clear; \
                 give --tls-cert and --tls-key, or --insecure-http behind a TLS proxy or on a trusted network"
            );
        }
        tracing::warn!("serving plain HTTP on {bound} (--insecure-http): tokens and scenes cross the network in clear");
    }
    super::private::write_file(&address, &format!("{bound}\n"))
        .with_context(|| format!("writing {}", address.display()))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!("Coordinator listening on {scheme}://{bound} (data in {})", opts.data.display());

    let reaper = tokio::spawn(reap_expired(app.writer.clone(), app.config.lease_ms));
    let (stopping, work) = (app.stopping.clone(), app.work.clone());
    let service = server::router(app).into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        stop_signal().await;
        eprintln!("Shutting down");
        // Long polls answer now instead of holding the shutdown up.
        stopping.store(true, std::sync::atomic::Ordering::Relaxed);
        work.notify_waiters();
        stopper.graceful_shutdown(Some(Duration::from_secs(30)));
    });
    let listener = listener.into_std()?;
    let result = match tls {
        Some((files, config)) => {
            let watcher = tokio::spawn(files.watch(config.clone(), Duration::from_secs(2)));
            let served = axum_server::from_tcp_rustls(listener, config).handle(handle).serve(service).await;
            watcher.abort();
            served
        }
        None => axum_server::from_tcp(listener).handle(handle).serve(service).await,
    };
    reaper.abort();
    result.context("serving the API")
}

/// Ctrl-C, or SIGTERM on Unix (service managers, containers).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Requeues expired leases, checking four times per lease time (at most once a second).
async fn reap_expired(writer: Writer<SchedState>, lease_ms: u64) {
    let period = Duration::from_millis((lease_ms / 4).clamp(10, 1000));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let reaped = writer.call(|db, st, after| scheduler::reap(db, st, after, store::now_ms(), 1000)).await;
        if let Err(e) = reaped {
            tracing::error!("requeueing expired leases: {e}");
        }
    }
}
