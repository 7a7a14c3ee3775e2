//! The coordinator's HTTP API (axum).
//!
//! | method & path | who | what |
//! |---|---|---|
//! | `GET /health` | anyone | liveness, `{"status":"ok"}` |
//! | `GET /metrics` | admin | Prometheus text |
//! | `POST /api/v1/blobs/missing` | artist | which of these scene-file hashes the project lacks |
//! | `PUT /api/v1/blobs/{sha256}?project=P` | artist | upload a scene file (checked against its hash) |
//! | `GET /api/v1/blobs/{sha256}` | worker | download a scene file |
//! | `POST /api/v1/jobs` | artist | submit a [`JobSpec`] → 201 `{job_id, tasks}` |
//! | `GET /api/v1/jobs[?project=P&limit=N&after=ID]` | viewer | a page of the jobs of the caller's projects |
//! | `GET /api/v1/jobs/{id}[?tasks=true&task_after=ID&task_limit=N]` | viewer | status, frames, errors (and a page of tasks) |
//! | `POST /api/v1/jobs/{id}/{cancel,pause,resume,retry}` | artist (own jobs), wrangler | control |
//! | `POST /api/v1/jobs/{id}/priority` | wrangler | `{"priority": N}`, within the project's ceiling |
//! | `GET /api/v1/jobs/{id}/outputs/{name}` | viewer | an assembled frame |
//! | `GET /api/v1/audit[?since_ms=&user=&project=&limit=&after=]` | admin | a page of the audit log |
//! | `GET /api/v1/usage[?by=project|user|job&project=&user=&job=&since_ms=&limit=&after=]` | viewer | a page of worker-seconds, samples, energy |
//! | `POST /api/v1/workers` | enrolment token | register [`Capabilities`] → the worker's own credential |
//! | `GET /api/v1/workers[?limit=&after=]` | admin | registered workers |
//! | `POST /api/v1/workers/{wid}/lease` | worker `wid` | long-poll for a task: 200 [`Lease`] or 204 |
//! | `POST /api/v1/workers/{wid}/leases/{lid}/heartbeat` | worker `wid` | extend; 409 if the lease is lost, 404 if it is not this worker's |
//! | `PUT /api/v1/workers/{wid}/leases/{lid}/result` | worker `wid` | binary tile result, checked against its task (422 `bad_result`: a failed attempt) |
//! | `POST /api/v1/workers/{wid}/leases/{lid}/fail` | worker `wid` | report a failed render |
//!
//! Roles are per project (see [`access`](super::access)); admins may do
//! everything. A worker credential works only under its own `{wid}`.
//!
//! Every error is JSON (see [`ApiError`]): 400 malformed request or corrupt
//! upload (`bad_checksum`), 401 missing/invalid/expired token, 403 not allowed (wrong kind of token or
//! role), 404 unknown (including another project's job), 409 lost lease or impossible
//! state change, 413 too large, 415 not JSON, 422 well-formed but invalid, 429 over a
//! project quota (`quota_exceeded`) or the token's rate limit (`rate_limited`).
//!
//! [`Capabilities`]: super::protocol::Capabilities
//! [`Lease`]: super::protocol::Lease

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Query, Request, State};
use axum::handler::Handler;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{middleware, Extension, Json, Router};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tokio::sync::{mpsc, Notify};

use super::access::Action;
use super::assemble;
use super::audit::{self, Note};
use super::auth::{self, Authenticator, Principal};
use super::bundle::{BlobDir, BundleError};
use super::error::ApiError;
use super::metrics::Metrics;
use super::protocol::{
    decode_result, is_sha256_hex, Capabilities, FailRequest, JobSpec, LeaseRequest, MissingRequest, MissingResponse,
    PageQuery, RegisterResponse, ResultFormatError,
};
use super::queries;
use super::scheduler::{self, Control, SchedConfig, SchedState, Upload};
use super::store::writer::Writer;
use super::store::{now_ms, ReadPool};
use super::validate::SceneChecker;
use crate::render::task::{PixelSums, TileResult};

/// Size limits of the API.
#[derive(Clone, Debug)]
pub struct Limits {
    /// JSON request bodies.
    pub max_json_bytes: usize,
    /// One scene file.
    pub max_blob_bytes: u64,
    /// Longest long-poll a lease request may ask for.
    pub max_wait_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_json_bytes: 8 << 20, max_blob_bytes: 4 << 30, max_wait_ms: 30_000 }
    }
}

/// Largest tile result upload: a `MAX_TILE`² tile.
pub fn max_result_bytes() -> usize {
    super::protocol::encoded_len((scheduler::MAX_TILE * scheduler::MAX_TILE) as usize)
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct App {
    pub writer: Writer<SchedState>,
    pub reads: ReadPool,
    pub auth: Authenticator,
    pub blobs: BlobDir,
    pub checker: SceneChecker,
    pub outputs: PathBuf,
    pub work: Arc<Notify>,
    pub metrics: Arc<Metrics>,
    pub config: SchedConfig,
    pub limits: Limits,
    /// Set when the coordinator shuts down: long polls stop waiting.
    pub stopping: Arc<AtomicBool>,
}

/// The router with every route, auth and limits.
pub fn router(app: App) -> Router {
    let api = super::protocol::API;
    let user = || middleware::from_fn(auth::users_only);
    let worker = || middleware::from_fn(auth::workers_only);
    // Roles are checked before any body is read, so a wrong token is a 403
    // whatever the body holds.
    let admin = || middleware::from_fn(auth::admins_only);
    let protected = Router::new()
        .route("/metrics", get(metrics.layer(admin())))
        .route(&format!("{api}/blobs/missing"), post(blobs_missing.layer(user())))
        .route(&format!("{api}/blobs/{{hash}}"), put(put_blob.layer(user())).get(get_blob.layer(worker())))
        .route(&format!("{api}/jobs"), post(submit.layer(user())).get(list_jobs.layer(user())))
        .route(&format!("{api}/jobs/{{id}}"), get(job_status.layer(user())))
        .route(&format!("{api}/jobs/{{id}}/outputs/{{name}}"), get(get_output.layer(user())))
        .route(&format!("{api}/jobs/{{id}}/priority"), post(set_priority.layer(user())))
        .route(&format!("{api}/jobs/{{id}}/{{action}}"), post(control.layer(user())))
        .route(&format!("{api}/audit"), get(read_audit.layer(admin())))
        .route(&format!("{api}/usage"), get(read_usage.layer(user())))
        .route(
            &format!("{api}/workers"),
            post(register.layer(middleware::from_fn(auth::enrolment_only))).get(list_workers.layer(admin())),
        )
        .route(&format!("{api}/workers/{{wid}}/lease"), post(lease.layer(worker())))
        .route(&format!("{api}/workers/{{wid}}/leases/{{lid}}/heartbeat"), post(heartbeat.layer(worker())))
        .route(&format!("{api}/workers/{{wid}}/leases/{{lid}}/result"), put(upload_result.layer(worker())))
        .route(&format!("{api}/workers/{{wid}}/leases/{{lid}}/fail"), post(fail.layer(worker())))
        .route_layer(middleware::from_fn_with_state(app.auth.clone(), auth::require_token))
        // Outside the token check, so refused tokens are recorded too.
        .route_layer(middleware::from_fn_with_state(app.clone(), audit::record));
    let json_limit = app.limits.max_json_bytes;
    Router::new()
        .route("/health", get(|| async { Json(serde_json::json!({"status": "ok"})) }))
        .merge(protected)
        .fallback(|| async { ApiError::not_found("no_such_endpoint", "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this endpoint")
        })
        .layer(DefaultBodyLimit::max(json_limit))
        .with_state(app)
}

/// `Json` whose rejections are JSON errors too.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    let code = match r.status() {
        StatusCode::BAD_REQUEST => "malformed_json",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_json",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        _ => "bad_request",
    };
    ApiError::new(r.status(), code, r.body_text())
}

fn path_rejection(r: PathRejection) -> ApiError {
    ApiError::bad_request("bad_path", r.body_text())
}

fn query_rejection(r: QueryRejection) -> ApiError {
    ApiError::bad_request("bad_query", r.body_text())
}

/// Parses a numeric id from the path.
fn id(value: &str, what: &str) -> Result<i64, ApiError> {
    value
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| ApiError::bad_request("bad_path", format!("{what} \"{value}\" is not a positive integer")))
}

fn check_hash(hash: &str) -> Result<(), ApiError> {
    if !is_sha256_hex(hash) {
        return Err(ApiError::bad_request("bad_hash", format!("\"{hash}\" is not a SHA-256 in lowercase hex")));
    }
    Ok(())
}

async fn metrics(State(app): State<App>) -> Result<Response, ApiError> {
    let online_since = now_ms() - (app.config.lease_ms + app.limits.max_wait_ms) as i64;
    let snap = app.reads.read(move |conn| queries::snapshot(conn, online_since)).await?;
    let text = app.metrics.render(&snap);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

/// A response the audit log records with `note`.
fn noted(response: impl IntoResponse, project: Option<String>, target: Option<String>) -> Response {
    let mut response = response.into_response();
    response.extensions_mut().insert(Note { project, target });
    response
}

async fn blobs_missing(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    ApiJson(req): ApiJson<MissingRequest>,
) -> Result<Response, ApiError> {
    let project = scheduler::resolve_project(&who, req.project.as_deref())?;
    who.check(Action::Submit, &project, None, &format!("project \"{project}\""))?;
    if req.hashes.len() > super::bundle::MAX_FILES {
        return Err(ApiError::unprocessable(
            "too_many",
            format!("at most {} hashes per request", super::bundle::MAX_FILES),
        ));
    }
    for h in &req.hashes {
        check_hash(h).map_err(|e| ApiError::unprocessable("bad_hash", e.message))?;
    }
    let (hashes, p) = (req.hashes.clone(), project.clone());
    let known = app.reads.read(move |conn| queries::known_blobs(conn, &p, &hashes)).await?;
    let missing = req
        .hashes
        .into_iter()
        .zip(known)
        .filter(|(h, known)| !known || !app.blobs.contains(h))
        .map(|(h, _)| h)
        .collect();
    Ok(noted(Json(MissingResponse { missing }), Some(project), None))
}

#[derive(Deserialize)]
struct ProjectQuery {
    project: Option<String>,
}

/// Feeds an async body into a blocking reader.
struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes, String>>,
    buf: Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.buf = chunk,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}

async fn put_blob(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ProjectQuery>, QueryRejection>,
    body: Body,
) -> Result<Response, ApiError> {
    let Path(hash) = path.map_err(path_rejection)?;
    let Query(q) = query.map_err(query_rejection)?;
    check_hash(&hash)?;
    let project = scheduler::resolve_project(&who, q.project.as_deref())?;
    who.check(Action::Submit, &project, None, &format!("project \"{project}\""))?;
    // The bytes are received and hashed even when another project has the same
    // file: holding a hash must not be enough to use that project's file.
    let (tx, rx) = mpsc::channel(8);
    let (blobs, h, limit) = (app.blobs.clone(), hash.clone(), app.limits.max_blob_bytes);
    let store = tokio::task::spawn_blocking(move || blobs.store(&h, ChannelReader { rx, buf: Bytes::new() }, limit));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.to_string());
        let failed = chunk.is_err();
        if tx.send(chunk).await.is_err() || failed {
            break; // the store stopped early (too large) or the client went away
        }
    }
    drop(tx);
    let stored = store.await.map_err(|e| ApiError::internal(format!("blob store task: {e}")))?;
    let size = match stored {
        Ok(size) => size,
        Err(BundleError::HashMismatch { actual, .. }) => {
            return Err(ApiError::bad_request(
                "bad_checksum",
                format!("uploaded content has SHA-256 {actual}, not {hash}: the upload is corrupt"),
            ))
        }
        Err(e @ BundleError::TooLarge { .. }) => return Err(ApiError::too_large(e.to_string())),
        Err(e @ BundleError::Read { .. }) => return Err(ApiError::bad_request("upload_interrupted", e.to_string())),
        Err(e) => return Err(ApiError::internal(e.to_string())),
    };
    let (h, p) = (hash.clone(), project.clone());
    app.writer.call(move |db, _, _| scheduler::add_blob(db, &who, &p, &h, size)).await?;
    Ok(noted((StatusCode::CREATED, Json(serde_json::json!({"sha256": hash, "size": size}))), Some(project), None))
}

/// Streams a file from a blocking thread.
fn file_body(path: PathBuf) -> Result<(u64, Body), ApiError> {
    let file = std::fs::File::open(&path).map_err(|_| ApiError::not_found("not_found", "file not found"))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut file = file;
        loop {
            let mut buf = vec![0u8; 256 << 10];
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Ok((len, Body::from_stream(stream)))
}

fn file_response(path: PathBuf, content_type: &'static str) -> Result<Response, ApiError> {
    let (len, body) = file_body(path)?;
    Ok(([(header::CONTENT_TYPE, content_type.to_string()), (header::CONTENT_LENGTH, len.to_string())], body)
        .into_response())
}

async fn get_blob(State(app): State<App>, path: Result<Path<String>, PathRejection>) -> Result<Response, ApiError> {
    let Path(hash) = path.map_err(path_rejection)?;
    check_hash(&hash)?;
    if !app.blobs.contains(&hash) {
        return Err(ApiError::not_found("unknown_blob", format!("no scene file with SHA-256 {hash}")));
    }
    file_response(app.blobs.path(&hash), "application/octet-stream")
}

async fn submit(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    ApiJson(spec): ApiJson<JobSpec>,
) -> Result<Response, ApiError> {
    // Refuse what cannot render before it costs a database change: the spec
    // first (cheap), then the scene, loaded in a child process.
    scheduler::check_spec(&spec, &app.config.jobs)?;
    let project = scheduler::resolve_project(&who, spec.project.as_deref())?;
    who.check(Action::Submit, &project, None, &format!("project \"{project}\""))?;
    app.checker.check(&spec).await?;
    let (name, p) = (who.name(), project.clone());
    let reply = app.writer.call(move |db, st, after| scheduler::submit(db, st, after, &who, &p, spec)).await?;
    tracing::info!("job {} submitted by {name} to {project} ({} tasks)", reply.job_id, reply.tasks);
    let target = Some(format!("job:{}", reply.job_id));
    Ok(noted((StatusCode::CREATED, Json(reply)), Some(project), target))
}

// Flat query structs: serde's flatten cannot parse numbers from query strings.
#[derive(Deserialize)]
struct ListQuery {
    project: Option<String>,
    limit: Option<u32>,
    after: Option<i64>,
}

async fn list_jobs(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(query_rejection)?;
    let jobs = app
        .reads
        .read(move |conn| {
            queries::list_jobs(conn, &who, q.project.as_deref(), PageQuery { limit: q.limit, after: q.after })
        })
        .await?;
    Ok(Json(jobs).into_response())
}

#[derive(Deserialize)]
struct StatusQuery {
    #[serde(default)]
    tasks: bool,
    task_after: Option<i64>,
    task_limit: Option<u32>,
}

async fn job_status(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<StatusQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path(job) = path.map_err(path_rejection)?;
    let Query(q) = query.map_err(query_rejection)?;
    let job_id = id(&job, "job id")?;
    let threshold = app.config.blocklist_after;
    let tasks = q.tasks.then_some(PageQuery { limit: q.task_limit, after: q.task_after });
    let status = app.reads.read(move |conn| queries::job_status(conn, &who, job_id, tasks, threshold)).await?;
    Ok(Json(status).into_response())
}

async fn control(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((job, action)) = path.map_err(path_rejection)?;
    let job_id = id(&job, "job id")?;
    let action = Control::parse(&action).ok_or_else(|| {
        ApiError::not_found(
            "no_such_endpoint",
            format!("unknown job action \"{action}\" (cancel, pause, resume, retry)"),
        )
    })?;
    let state = app.writer.call(move |db, st, after| scheduler::control(db, st, after, &who, job_id, action)).await?;
    Ok(Json(serde_json::json!({"job_id": job_id, "state": state})).into_response())
}

#[derive(Deserialize)]
struct PriorityRequest {
    priority: i32,
}

async fn set_priority(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    path: Result<Path<String>, PathRejection>,
    ApiJson(req): ApiJson<PriorityRequest>,
) -> Result<Response, ApiError> {
    let Path(job) = path.map_err(path_rejection)?;
    let job_id = id(&job, "job id")?;
    app.writer.call(move |db, _, _| scheduler::set_priority(db, &who, job_id, req.priority)).await?;
    Ok(Json(serde_json::json!({"job_id": job_id, "priority": req.priority})).into_response())
}

async fn read_usage(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    query: Result<Query<super::usage::Filter>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(filter) = query.map_err(query_rejection)?;
    Ok(Json(app.reads.read(move |conn| super::usage::usage(conn, &who, &filter)).await?).into_response())
}

#[derive(Deserialize)]
struct AuditQuery {
    since_ms: Option<i64>,
    user: Option<String>,
    project: Option<String>,
    limit: Option<u32>,
    after: Option<i64>,
}

async fn read_audit(
    State(app): State<App>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(query_rejection)?;
    let filter = audit::Filter { since_ms: q.since_ms, user: q.user, project: q.project };
    let page = PageQuery { limit: q.limit, after: q.after };
    Ok(Json(app.reads.read(move |conn| audit::read(conn, &filter, page)).await?).into_response())
}

async fn get_output(
    State(app): State<App>,
    Extension(who): Extension<Principal>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((job, name)) = path.map_err(path_rejection)?;
    let job_id = id(&job, "job id")?;
    let n = name.clone();
    let listed = app.reads.read(move |conn| queries::has_output(conn, &who, job_id, &n)).await?;
    if !listed || name.contains('/') || name.starts_with('.') {
        return Err(ApiError::not_found("unknown_output", format!("job {job_id} has no output \"{name}\" (yet)")));
    }
    let content_type = match name.rsplit('.').next() {
        Some("png") => "image/png",
        Some("mp4") => "video/mp4",
        _ => "image/x-exr",
    };
    file_response(assemble::job_dir(&app.outputs, job_id).join(&name), content_type)
}

async fn register(State(app): State<App>, ApiJson(caps): ApiJson<Capabilities>) -> Result<Response, ApiError> {
    if caps.name.is_empty() || caps.name.len() > 200 || caps.name.chars().any(char::is_control) {
        return Err(ApiError::unprocessable("invalid_worker", "name: must have 1 to 200 printable characters"));
    }
    let name = caps.name.clone();
    let (worker_id, credential) = app.writer.call(move |db, _, _| scheduler::register(db, &caps)).await?;
    tracing::info!("worker {worker_id} ({name}) registered");
    let (heartbeat_ms, lease_ms) = (app.config.heartbeat_ms, app.config.lease_ms);
    let reply = RegisterResponse { worker_id, credential, heartbeat_ms, lease_ms };
    Ok(noted((StatusCode::CREATED, Json(reply)), None, Some(format!("worker:{worker_id}"))))
}

async fn list_workers(
    State(app): State<App>,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(page) = query.map_err(query_rejection)?;
    Ok(Json(app.reads.read(move |conn| queries::list_workers(conn, page)).await?).into_response())
}

async fn lease(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
    ApiJson(req): ApiJson<LeaseRequest>,
) -> Result<Response, ApiError> {
    let Path(worker) = path.map_err(path_rejection)?;
    let worker_id = id(&worker, "worker id")?;
    let deadline = Instant::now() + Duration::from_millis(req.wait_ms.min(app.limits.max_wait_ms));
    loop {
        // Registered before asking, so work queued in between still wakes us.
        let notified = app.work.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let start = Instant::now();
        let granted = app.writer.call(move |db, st, _| scheduler::lease(db, st, worker_id, now_ms())).await?;
        if let Some(lease) = granted {
            app.metrics.observe_lease(start.elapsed());
            return Ok(Json(lease).into_response());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if app.stopping.load(Ordering::Relaxed) {
            return Err(ApiError::unavailable("the coordinator is shutting down; ask again shortly"));
        }
        if left.is_zero() {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        let _ = tokio::time::timeout(left, notified).await;
    }
}

fn lease_path(path: Result<Path<(String, String)>, PathRejection>) -> Result<(i64, i64), ApiError> {
    let Path((worker, lease)) = path.map_err(path_rejection)?;
    Ok((id(&worker, "worker id")?, id(&lease, "lease id")?))
}

async fn heartbeat(
    State(app): State<App>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (worker_id, lease_id) = lease_path(path)?;
    let reply = app.writer.call(move |db, st, _| scheduler::heartbeat(db, st, worker_id, lease_id, now_ms())).await?;
    Ok(Json(reply).into_response())
}

/// Why a result cannot be what a renderer produced for its sample range, if it
/// cannot: every pixel counts exactly the range's samples, every sum is finite,
/// sums of non-negative quantities are non-negative, coverage and normals stay
/// within one per sample, and the sum of squares is at least the square of the
/// sum over the count (Cauchy–Schwarz, with room for f32 rounding). Whether the
/// range is the task's is checked against the lease.
fn implausible(result: &TileResult) -> Option<String> {
    let n = result.samples.count();
    let count = n as f32;
    let slack = 1.0 + 1e-3;
    let check = |p: &PixelSums| -> Option<&'static str> {
        let sums = p.radiance.iter().chain(&p.radiance_sq).chain(&p.albedo).chain(&p.normal);
        if !(sums.copied().all(f32::is_finite) && p.depth.is_finite() && p.alpha.is_finite()) {
            return Some("has a non-finite sum");
        }
        if p.count != n {
            return Some("counts a different number of samples than its sample range");
        }
        let negative = p.radiance.iter().chain(&p.radiance_sq).chain(&p.albedo).any(|v| *v < 0.0);
        if negative || p.depth < 0.0 || p.alpha < 0.0 {
            return Some("has a negative sum of a non-negative quantity");
        }
        if p.alpha > count * slack || p.normal.iter().any(|v| v.abs() > count * slack) {
            return Some("has coverage or normal sums over one per sample");
        }
        let squares_too_small = p.radiance.iter().zip(&p.radiance_sq).any(|(s, q)| {
            let s = f64::from(*s);
            f64::from(*q) * f64::from(slack) * f64::from(count.max(1.0)) < s * s
        });
        squares_too_small.then_some("has a sum of squares smaller than its samples' sum allows")
    };
    result.pixels.iter().enumerate().find_map(|(i, p)| {
        let t = result.tile;
        let (x, y) = (t.x + i as u32 % t.width.max(1), t.y + i as u32 / t.width.max(1));
        check(p).map(|why| format!("pixel {x},{y} {why}"))
    })
}

/// The energy a worker reported; a figure no task can take is dropped (and
/// logged), never recorded, and never costs the result.
fn reported_energy(value: Option<f64>, worker_id: i64) -> Option<f64> {
    let value = value?;
    let checked = super::protocol::check_energy(value);
    if checked.is_none() {
        tracing::warn!("worker {worker_id} reported an impossible energy of {value} J; recorded as not measured");
    }
    checked
}

async fn upload_result(
    State(app): State<App>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (worker_id, lease_id) = lease_path(path)?;
    let energy = headers.get(super::protocol::ENERGY_HEADER).map(|v| v.to_str().ok().and_then(|v| v.parse().ok()));
    let energy_j = reported_energy(energy.map(|v| v.unwrap_or(f64::NAN)), worker_id);
    let limit = max_result_bytes();
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        if e.into_inner().downcast_ref::<http_body_util::LengthLimitError>().is_some() {
            ApiError::too_large(format!("tile results are at most {limit} bytes"))
        } else {
            ApiError::bad_request("upload_interrupted", "the upload was cut off")
        }
    })?;
    // Hashing a large tile takes milliseconds: keep it off the async threads.
    let decoded = if bytes.len() > 256 << 10 {
        tokio::task::spawn_blocking(move || decode_result(&bytes).map(|r| (r, bytes)))
            .await
            .map_err(|e| ApiError::internal(format!("decode task: {e}")))?
    } else {
        decode_result(&bytes).map(|r| (r, bytes))
    };
    let (result, bytes) = decoded.map_err(|e| match e {
        ResultFormatError::Checksum { .. } => ApiError::bad_request("bad_checksum", e.to_string()),
        other => ApiError::bad_request("bad_result_format", other.to_string()),
    })?;
    let invalid = implausible(&result);
    app.writer
        .call(move |db, st, after| {
            let upload = Upload { worker_id, lease_id, result, bytes: bytes.into(), invalid, energy_j };
            scheduler::complete(db, st, after, upload)
        })
        .await??;
    Ok(Json(serde_json::json!({"accepted": true})).into_response())
}

async fn fail(
    State(app): State<App>,
    path: Result<Path<(String, String)>, PathRejection>,
    ApiJson(req): ApiJson<FailRequest>,
) -> Result<Response, ApiError> {
    let (worker_id, lease_id) = lease_path(path)?;
    let energy_j = reported_energy(req.energy_j, worker_id);
    app.writer
        .call(move |db, st, after| scheduler::fail(db, st, after, worker_id, lease_id, &req.error, energy_j))
        .await?;
    Ok(Json(serde_json::json!({"recorded": true})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::task::{SampleRange, Tile};

    #[test]
    fn results_a_renderer_cannot_produce_are_named_by_pixel_and_check() {
        let tile = Tile { x: 8, y: 4, width: 2, height: 1 };
        let good = PixelSums { radiance: [2.0; 3], radiance_sq: [4.0; 3], count: 4, alpha: 4.0, ..Default::default() };
        let result = |second: PixelSums| TileResult {
            frame: 1,
            tile,
            samples: SampleRange { start: 0, end: 4 },
            pixels: vec![good, second],
            rays: 1,
        };
        assert_eq!(implausible(&result(good)), None);
        let cases = [
            (PixelSums { count: 1, radiance: [1e6; 3], radiance_sq: [1e12; 3], ..good }, "different number of samples"),
            (PixelSums { radiance: [-1.0, 0.0, 0.0], ..good }, "negative"),
            (PixelSums { radiance: [f32::NAN; 3], ..good }, "non-finite"),
            (PixelSums { alpha: 5.0, ..good }, "coverage"),
            (PixelSums { radiance: [8.0; 3], radiance_sq: [4.0; 3], ..good }, "sum of squares"),
        ];
        for (bad, why) in cases {
            let message = implausible(&result(bad)).expect(why);
            assert!(message.starts_with("pixel 9,4 ") && message.contains(why), "{message}");
        }
    }
}
