//! The task state machine, as changes run by the group-commit writer.
//!
//! ```text
//! queued ──lease──▶ leased ──result──▶ done
//!   ▲                 │ fail / lease expired / bad result
//!   └──(failures < max_attempts)──┘   └──(failures = max_attempts)──▶ failed
//! queued | leased ──cancel──▶ cancelled;  failed | cancelled ──retry──▶ queued
//! ```
//!
//! Scheduling order: the highest job priority first, then the oldest job, then
//! the job's tasks in order (frame by frame, tiles row by row). A worker that has
//! failed [`SchedConfig::blocklist_after`] tasks of a job gets no more of it until
//! the job is retried. Fencing: a heartbeat, result or failure must name the
//! task's current lease and come from the worker holding it; a lost lease is a
//! 409, another worker's lease is a 404 like one that does not exist, and
//! neither changes anything — the last-assigned worker wins.
//!
//! Every job keeps task counters by state (and frames its done-tile count), so
//! progress, frame completion and job completion are O(1) per change.
//!
//! Lazy task creation: a submit writes the job row only. Task rows (and frame
//! rows) are created one at a time as tasks are first leased, from the job's
//! cursor `tasks_created` into the spec's fixed task order ([`task_at`]); the
//! tasks not yet created are counted as queued (or cancelled, or failed, when
//! the job is). So submitting, cancelling or failing a job of millions of
//! tasks is a few row changes, and never holds the writer (and every lease,
//! heartbeat and upload behind it) for longer than a small job would. Task and
//! frame listings show the tasks and frames that have started.
//!
//! A job fails as a whole, with the last error, once every online worker is
//! blocklisted for it: nothing could render the rest of it.

use std::collections::HashMap;
use std::sync::mpsc::Sender;
use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::Notify;

use super::access::{self, Action};
use super::auth::{self, NewToken, Principal};
use super::error::ApiError;
use super::metrics::Metrics;
use super::protocol::{
    Capabilities, HeartbeatResponse, JobSpec, JobState, Lease, Prefetch, SubmitResponse, TaskCounts,
};
use super::store::now_ms;
use super::store::writer::AfterCommit;
use crate::render::task::{RenderTask, SampleRange, Tile, TileResult};

/// Scheduling settings of a coordinator.
#[derive(Clone, Debug)]
pub struct SchedConfig {
    /// A lease lives this long without a heartbeat.
    pub lease_ms: u64,
    /// Workers heartbeat this often.
    pub heartbeat_ms: u64,
    /// Failed attempts after which a task fails for good.
    pub max_attempts: u32,
    /// Failures of one job on one worker after which that worker is blocklisted for the job.
    pub blocklist_after: u32,
    /// A worker seen within this long is online (a lease time plus the longest long poll).
    pub online_ms: u64,
    /// Job-size limits.
    pub jobs: JobLimits,
}

impl Default for SchedConfig {
    fn default() -> Self {
        Self {
            lease_ms: 60_000,
            heartbeat_ms: 10_000,
            max_attempts: 3,
            blocklist_after: 3,
            online_ms: 90_000,
            jobs: JobLimits::default(),
        }
    }
}

/// The largest job a coordinator accepts (flags of `tessera coordinator`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobLimits {
    /// Tasks: frames x tiles x sample ranges.
    pub max_tasks: u64,
    pub max_frames: u64,
    /// Image size: the coordinator holds a whole frame's sums to assemble it.
    pub max_width: u32,
    pub max_height: u32,
    pub max_spp: u32,
}

impl Default for JobLimits {
    fn default() -> Self {
        Self { max_tasks: 2_000_000, max_frames: 100_000, max_width: 8192, max_height: 8192, max_spp: 1 << 16 }
    }
}

/// A frame whose tiles are all in, to assemble.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameKey {
    pub job_id: i64,
    pub frame: u32,
}

/// What the writer thread owns besides the connection.
pub struct SchedState {
    pub config: SchedConfig,
    /// Wakes long-polling lease requests when tasks become queued.
    pub work: Arc<Notify>,
    pub assemble: Sender<FrameKey>,
    pub metrics: Arc<Metrics>,
    specs: HashMap<i64, Arc<JobSpec>>,
}

impl SchedState {
    pub fn new(config: SchedConfig, work: Arc<Notify>, assemble: Sender<FrameKey>, metrics: Arc<Metrics>) -> Self {
        Self { config, work, assemble, metrics, specs: HashMap::new() }
    }

    fn notify_work(&self, after: &mut AfterCommit) {
        let work = self.work.clone();
        after.push(move || work.notify_waiters());
    }

    fn assemble_later(&self, after: &mut AfterCommit, key: FrameKey) {
        let tx = self.assemble.clone();
        after.push(move || {
            let _ = tx.send(key);
        });
    }

    /// The spec of `job_id` (immutable once submitted, so cached).
    fn spec(&mut self, db: &Connection, job_id: i64) -> Result<Arc<JobSpec>, ApiError> {
        if let Some(spec) = self.specs.get(&job_id) {
            return Ok(spec.clone());
        }
        let json: String =
            db.prepare_cached("SELECT spec FROM jobs WHERE id = ?1")?.query_row([job_id], |r| r.get(0))?;
        let spec: Arc<JobSpec> = Arc::new(
            serde_json::from_str(&json).map_err(|e| ApiError::internal(format!("job {job_id}: stored spec: {e}")))?,
        );
        if self.specs.len() > 1024 {
            self.specs.clear();
        }
        self.specs.insert(job_id, spec.clone());
        Ok(spec)
    }
}

/// Task states, with the job counter column each is counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    Queued,
    Leased,
    Done,
    Failed,
    Cancelled,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Queued => "queued",
            TaskState::Leased => "leased",
            TaskState::Done => "done",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
        }
    }
    pub const ALL: [TaskState; 5] =
        [TaskState::Queued, TaskState::Leased, TaskState::Done, TaskState::Failed, TaskState::Cancelled];
}

/// Moves `n` tasks of `job_id` from one counter to another.
fn count_move(db: &Connection, job_id: i64, from: TaskState, to: TaskState, n: i64) -> rusqlite::Result<()> {
    let (f, t) = (from.as_str(), to.as_str());
    let sql = format!("UPDATE jobs SET tasks_{f} = tasks_{f} - ?1, tasks_{t} = tasks_{t} + ?1 WHERE id = ?2");
    db.prepare_cached(&sql)?.execute(params![n, job_id])?;
    Ok(())
}

/// Largest tile side accepted (a 1024² tile uploads 64 MiB).
pub const MAX_TILE: u32 = 1024;
/// Job priorities accepted.
pub const PRIORITY_RANGE: std::ops::RangeInclusive<i32> = -1000..=1000;

/// Checks a submitted spec against `limits` (everything but its scene and the
/// presence of its blobs); returns its task count.
pub fn check_spec(spec: &JobSpec, limits: &JobLimits) -> Result<u64, ApiError> {
    let bad = |m: String| ApiError::unprocessable("invalid_job", m);
    if spec.name.is_empty() || spec.name.len() > 200 || spec.name.chars().any(char::is_control) {
        return Err(bad("name: must have 1 to 200 printable characters".into()));
    }
    spec.settings.validate().map_err(|e| bad(format!("settings: {e}")))?;
    let s = &spec.settings;
    if s.width > limits.max_width || s.height > limits.max_height {
        return Err(bad(format!(
            "settings: image size {}x{} is over this coordinator's limit of {}x{} (--max-width, --max-height)",
            s.width, s.height, limits.max_width, limits.max_height
        )));
    }
    if s.spp > limits.max_spp {
        return Err(bad(format!(
            "settings.spp: {} samples per pixel is over this coordinator's limit of {} (--max-spp)",
            s.spp, limits.max_spp
        )));
    }
    if !(1..=MAX_TILE).contains(&spec.tile) {
        return Err(bad(format!("tile: {} is invalid: must be between 1 and {MAX_TILE} pixels", spec.tile)));
    }
    if spec.samples_per_task == 0 {
        return Err(bad("samples_per_task: must be at least 1".into()));
    }
    if spec.frames.first > spec.frames.last {
        return Err(bad(format!("frames: {}-{} is empty", spec.frames.first, spec.frames.last)));
    }
    if spec.frames.step == 0 {
        return Err(bad("frames.step: must be at least 1".into()));
    }
    if spec.preview_movie && !spec.formats.contains(&super::protocol::OutputFormat::Png) {
        return Err(bad("preview_movie: the movie is made from PNG frames; add png to formats".into()));
    }
    if spec.frames.count() > limits.max_frames {
        return Err(bad(format!(
            "frames: {} frames; this coordinator takes at most {} per job (--max-frames)",
            spec.frames.count(),
            limits.max_frames
        )));
    }
    if !PRIORITY_RANGE.contains(&spec.priority) {
        return Err(bad(format!("priority: {} is outside -1000..=1000", spec.priority)));
    }
    if spec.formats.is_empty() {
        return Err(bad("formats: give at least one output format (exr, png)".into()));
    }
    if !spec.output.exposure.is_finite() {
        return Err(bad("output.exposure: must be finite".into()));
    }
    if spec.denoise && !cfg!(feature = "oidn") {
        return Err(bad(format!("denoise: this coordinator cannot denoise ({})", crate::denoise::HOW_TO_ENABLE)));
    }
    super::bundle::check_manifest(&spec.scene).map_err(|e| bad(format!("scene: {e}")))?;
    if let Some(crate::scene::EnvironmentSpec::Map(path)) = &spec.settings.environment {
        let path = path.to_string_lossy();
        if !spec.scene.files.iter().any(|f| f.path == path) {
            return Err(bad(format!("settings.environment: map \"{path}\" is not a file of the scene bundle")));
        }
    }
    let g = TaskGrid::of(spec);
    let tasks = g.per_frame() * spec.frames.count();
    if tasks > limits.max_tasks {
        return Err(bad(format!(
            "the job has {tasks} tasks ({}x{} tiles x {} sample ranges x {} frames); this coordinator takes at most {} per job (--max-tasks)",
            g.tiles_x,
            g.tiles_y,
            g.ranges,
            spec.frames.count(),
            limits.max_tasks
        )));
    }
    Ok(tasks)
}

/// How a job's frames split into tasks: tiles row by row, each tile's sample
/// ranges in order (the order of [`RenderSettings::tasks`]).
///
/// [`RenderSettings::tasks`]: crate::render::settings::RenderSettings::tasks
#[derive(Clone, Copy, Debug)]
struct TaskGrid {
    tiles_x: u64,
    tiles_y: u64,
    ranges: u64,
}

impl TaskGrid {
    fn of(spec: &JobSpec) -> Self {
        let tile = spec.tile.max(1);
        Self {
            tiles_x: u64::from(spec.settings.width.div_ceil(tile)),
            tiles_y: u64::from(spec.settings.height.div_ceil(tile)),
            ranges: u64::from(spec.settings.spp.div_ceil(spec.samples_per_task.max(1))),
        }
    }

    fn per_frame(&self) -> u64 {
        self.tiles_x * self.tiles_y * self.ranges
    }
}

/// Task `index` of a job (in submission order), computed without listing the tasks before it.
fn task_at(spec: &JobSpec, index: u64) -> (u32, Tile, SampleRange) {
    let g = TaskGrid::of(spec);
    let frame = spec.frames.nth(index / g.per_frame());
    let within = index % g.per_frame();
    let (tile, range) = (within / g.ranges, within % g.ranges);
    let size = spec.tile.max(1);
    let (x, y) = ((tile % g.tiles_x) as u32 * size, (tile / g.tiles_x) as u32 * size);
    let (w, h) = (spec.settings.width, spec.settings.height);
    let chunk = spec.samples_per_task.max(1);
    let start = range as u32 * chunk;
    (
        frame,
        Tile { x, y, width: size.min(w - x), height: size.min(h - y) },
        SampleRange { start, end: start.saturating_add(chunk).min(spec.settings.spp) },
    )
}

/// The project a submission or upload goes to: the one named, or else the
/// caller's only project where it may submit (or "default" if it may submit there).
pub fn resolve_project(who: &Principal, named: Option<&str>) -> Result<String, ApiError> {
    if let Some(project) = named {
        return Ok(project.to_string());
    }
    let submittable: Vec<&String> =
        who.projects.iter().filter(|(_, r)| **r >= access::ProjectRole::Artist).map(|(p, _)| p).collect();
    match submittable.as_slice() {
        _ if who.is_admin() || submittable.iter().any(|p| *p == "default") => Ok("default".into()),
        [only] => Ok(only.to_string()),
        [] => Err(ApiError::forbidden("you may submit to no project; ask an admin to make you an artist of one")),
        many => Err(ApiError::unprocessable(
            "project_required",
            format!(
                "name a project (--project): you may submit to {}",
                many.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// Refuses a priority over `project`'s ceiling (admins are not bound by it).
fn check_priority(db: &Connection, who: &Principal, project: &str, priority: i32) -> Result<(), ApiError> {
    let quotas = access::quotas(db, project)?.unwrap_or_default();
    if !who.is_admin() && priority > quotas.max_priority {
        return Err(ApiError::forbidden(format!(
            "priority {priority} is over project \"{project}\"'s ceiling of {}",
            quotas.max_priority
        )));
    }
    Ok(())
}

/// Creates a job in `project` for `who`, all of its tasks queued, within the
/// project's quotas.
pub fn submit(
    db: &Connection,
    st: &mut SchedState,
    after: &mut AfterCommit,
    who: &Principal,
    project: &str,
    spec: JobSpec,
) -> Result<SubmitResponse, ApiError> {
    let total = check_spec(&spec, &st.config.jobs)?;
    who.check(Action::Submit, project, None, &format!("project \"{project}\""))?;
    let quotas = access::quotas(db, project)?
        .ok_or_else(|| ApiError::not_found("not_found", format!("project \"{project}\" not found")))?;
    check_priority(db, who, project, spec.priority)?;
    if let Some(max) = quotas.max_queued_tasks.filter(|_| !who.is_admin()) {
        let queued: i64 = db
            .prepare_cached("SELECT coalesce(sum(tasks_queued), 0) FROM jobs WHERE project = ?1")?
            .query_row([project], |r| r.get(0))?;
        if queued.max(0) as u64 + total > max {
            return Err(access::over_quota(format!(
                "project \"{project}\" may have {max} queued tasks; {queued} are queued and this job adds {total}"
            )));
        }
    }
    let missing: Vec<&str> = {
        let mut stmt =
            db.prepare_cached("SELECT EXISTS (SELECT 1 FROM project_blobs WHERE project = ?1 AND hash = ?2)")?;
        let mut missing = Vec::new();
        for f in &spec.scene.files {
            if !stmt.query_row(params![project, &f.sha256], |r| r.get::<_, bool>(0))? {
                missing.push(f.path.as_str());
            }
        }
        missing
    };
    if !missing.is_empty() {
        return Err(ApiError::unprocessable(
            "missing_files",
            format!("scene files not uploaded to project \"{project}\" yet: {}", missing.join(", ")),
        ));
    }
    let json = serde_json::to_string(&spec).map_err(|e| ApiError::internal(e.to_string()))?;
    let now = now_ms();
    // The job row only: its tasks are created as they are leased.
    let job_id: i64 = db
        .prepare_cached(
            "INSERT INTO jobs (owner, project, name, spec, priority, state, created_ms, tasks_total, tasks_queued,
                               frames_total, tasks_created, preview)
         VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, ?7, ?7, ?8, 0, ?9) RETURNING id",
        )?
        .query_row(
            params![
                who.name(),
                project,
                spec.name,
                json,
                spec.priority,
                now,
                total as i64,
                spec.frames.count() as i64,
                spec.preview_movie.then_some("waiting")
            ],
            |r| r.get(0),
        )?;
    st.specs.insert(job_id, Arc::new(spec));
    st.notify_work(after);
    Ok(SubmitResponse { job_id, tasks: total })
}

/// Records that `project` holds scene file `hash` of `size` bytes, within its storage quota.
pub fn add_blob(db: &Connection, who: &Principal, project: &str, hash: &str, size: u64) -> Result<(), ApiError> {
    who.check(Action::Submit, project, None, &format!("project \"{project}\""))?;
    let quotas = access::quotas(db, project)?
        .ok_or_else(|| ApiError::not_found("not_found", format!("project \"{project}\" not found")))?;
    let now = now_ms();
    db.prepare_cached("INSERT INTO blobs (hash, size, created_ms) VALUES (?1, ?2, ?3) ON CONFLICT (hash) DO NOTHING")?
        .execute(params![hash, size as i64, now])?;
    let held: bool = db
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM project_blobs WHERE project = ?1 AND hash = ?2)")?
        .query_row(params![project, hash], |r| r.get(0))?;
    if held {
        return Ok(());
    }
    if let Some(max) = quotas.max_storage_bytes.filter(|_| !who.is_admin()) {
        let used: i64 = db
            .prepare_cached("SELECT coalesce(sum(size), 0) FROM project_blobs WHERE project = ?1")?
            .query_row([project], |r| r.get(0))?;
        if used.max(0) as u64 + size > max {
            return Err(access::over_quota(format!(
                "project \"{project}\" may store {max} bytes of scene files; {used} are stored and this file has {size}"
            )));
        }
    }
    db.prepare_cached("INSERT INTO project_blobs (project, hash, size, created_ms) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![project, hash, size as i64, now])?;
    Ok(())
}

/// Registers a worker; returns its id and its own credential.
pub fn register(db: &Connection, caps: &Capabilities) -> Result<(i64, String), ApiError> {
    let json = serde_json::to_string(caps).map_err(|e| ApiError::internal(e.to_string()))?;
    let now = now_ms();
    let sql =
        "INSERT INTO workers (name, capabilities, registered_ms, last_seen_ms) VALUES (?1, ?2, ?3, ?3) RETURNING id";
    let id: i64 = db.prepare_cached(sql)?.query_row(params![caps.name, json, now], |r| r.get(0))?;
    let credential = auth::create_token(db, NewToken::Worker(id), None).map_err(|e| match e {
        auth::TokenError::Db(e) => ApiError::from(e),
        other => ApiError::internal(other.to_string()),
    })?;
    Ok((id, credential))
}

fn touch_worker(db: &Connection, worker_id: i64, now: i64) -> Result<(), ApiError> {
    let n =
        db.prepare_cached("UPDATE workers SET last_seen_ms = ?1 WHERE id = ?2")?.execute(params![now, worker_id])?;
    if n == 0 {
        return Err(ApiError::not_found(
            "unknown_worker",
            format!("worker {worker_id} is not registered; register again"),
        ));
    }
    Ok(())
}

/// The runnable job this worker should take a task from next, skipping `skip`.
fn next_job(db: &Connection, st: &SchedState, worker_id: i64, skip: i64) -> rusqlite::Result<Option<i64>> {
    // On PostgreSQL with several coordinators this is unchanged; the task
    // select below gains FOR UPDATE SKIP LOCKED.
    db.prepare_cached(
        "SELECT id FROM jobs
         WHERE state = 'active' AND tasks_queued > 0 AND id <> ?3
           AND NOT EXISTS (SELECT 1 FROM job_worker_failures f
                           WHERE f.job_id = jobs.id AND f.worker_id = ?1 AND f.failures >= ?2)
           AND NOT EXISTS (SELECT 1 FROM projects p
                           WHERE p.name = jobs.project AND p.max_running_tasks IS NOT NULL
                             AND p.max_running_tasks <= (SELECT coalesce(sum(tasks_leased), 0) FROM jobs j
                                                         WHERE j.project = p.name))
         ORDER BY priority DESC, id LIMIT 1",
    )?
    .query_row(params![worker_id, st.config.blocklist_after, skip], |r| r.get(0))
    .optional()
}

/// A task row as the scheduler needs it.
struct TaskRow {
    id: i64,
    job_id: i64,
    frame: u32,
    tile: Tile,
    samples: SampleRange,
    state: String,
    attempts: u32,
    failures: u32,
    lease_id: Option<i64>,
}

const TASK_COLUMNS: &str =
    "id, job_id, frame, tile_x, tile_y, tile_w, tile_h, sample_start, sample_end, state, attempts, failures, lease_id";

fn task_row(r: &rusqlite::Row) -> rusqlite::Result<TaskRow> {
    Ok(TaskRow {
        id: r.get(0)?,
        job_id: r.get(1)?,
        frame: r.get(2)?,
        tile: Tile { x: r.get(3)?, y: r.get(4)?, width: r.get(5)?, height: r.get(6)? },
        samples: SampleRange { start: r.get(7)?, end: r.get(8)? },
        state: r.get(9)?,
        attempts: r.get(10)?,
        failures: r.get(11)?,
        lease_id: r.get(12)?,
    })
}

/// Leases the next task to `worker_id`, or `None` when there is no work for it.
pub fn lease(db: &Connection, st: &mut SchedState, worker_id: i64, now: i64) -> Result<Option<Lease>, ApiError> {
    touch_worker(db, worker_id, now)?;
    let Some(job_id) = next_job(db, st, worker_id, 0)? else { return Ok(None) };
    let spec = st.spec(db, job_id)?;
    // Requeued tasks first (they come earlier in the job's order), then the next new one.
    let requeued = db
        .prepare_cached(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE job_id = ?1 AND state = 'queued' ORDER BY id LIMIT 1"
        ))?
        .query_row([job_id], task_row)
        .optional()?;
    let task = match requeued {
        Some(task) => task,
        None => create_next_task(db, job_id, &spec)?,
    };
    let lease_id: i64 = db
        .prepare_cached("INSERT INTO leases (task_id, worker_id, started_ms) VALUES (?1, ?2, ?3) RETURNING id")?
        .query_row(params![task.id, worker_id, now], |r| r.get(0))?;
    let deadline = now + st.config.lease_ms as i64;
    db.prepare_cached(
        "UPDATE tasks SET state = 'leased', attempts = attempts + 1, lease_id = ?1, worker_id = ?2, deadline_ms = ?3
         WHERE id = ?4",
    )?
    .execute(params![lease_id, worker_id, deadline, task.id])?;
    count_move(db, job_id, TaskState::Queued, TaskState::Leased, 1)?;

    let queued_left: i64 =
        db.prepare_cached("SELECT tasks_queued FROM jobs WHERE id = ?1")?.query_row([job_id], |r| r.get(0))?;
    // Once this job has nothing left to hand out, the next lease comes from
    // another job: tell the worker which scene to fetch while it renders.
    let prefetch = match queued_left {
        0 => match next_job(db, st, worker_id, job_id)? {
            Some(next) => {
                let next_spec = st.spec(db, next)?;
                (next_spec.scene != spec.scene).then(|| Prefetch { job_id: next, scene: next_spec.scene.clone() })
            }
            None => None,
        },
        _ => None,
    };
    Ok(Some(Lease {
        lease_id,
        task_id: task.id,
        job_id,
        attempt: task.attempts + 1,
        task: RenderTask {
            frame: task.frame,
            tile: task.tile,
            samples: task.samples,
            seed: spec.settings.seed,
            max_depth: spec.settings.max_depth,
        },
        settings: spec.settings.clone(),
        scene: spec.scene.clone(),
        heartbeat_ms: st.config.heartbeat_ms,
        lease_ms: st.config.lease_ms,
        prefetch,
    }))
}

/// Creates the row of the job's next task not yet created (and its frame's row
/// when it is the frame's first), queued.
fn create_next_task(db: &Connection, job_id: i64, spec: &JobSpec) -> Result<TaskRow, ApiError> {
    let (created, total): (i64, i64) = db
        .prepare_cached("SELECT tasks_created, tasks_total FROM jobs WHERE id = ?1")?
        .query_row([job_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if created >= total {
        return Err(ApiError::internal(format!("job {job_id} counts queued tasks but has none")));
    }
    let index = created as u64;
    let (frame, tile, samples) = task_at(spec, index);
    let per_frame = TaskGrid::of(spec).per_frame();
    if index % per_frame == 0 {
        db.prepare_cached("INSERT INTO frames (job_id, frame, tasks_total, state) VALUES (?1, ?2, ?3, 'rendering')")?
            .execute(params![job_id, frame, per_frame as i64])?;
    }
    let id: i64 = db
        .prepare_cached(
            "INSERT INTO tasks (job_id, frame, tile_x, tile_y, tile_w, tile_h, sample_start, sample_end, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'queued') RETURNING id",
        )?
        .query_row(
            params![job_id, frame, tile.x, tile.y, tile.width, tile.height, samples.start, samples.end],
            |r| r.get(0),
        )?;
    db.prepare_cached("UPDATE jobs SET tasks_created = tasks_created + 1 WHERE id = ?1")?.execute([job_id])?;
    Ok(TaskRow { id, job_id, frame, tile, samples, state: "queued".into(), attempts: 0, failures: 0, lease_id: None })
}

/// The task `lease_id` is the current lease of, checked to belong to `worker_id`.
fn leased_task(db: &Connection, worker_id: i64, lease_id: i64) -> Result<TaskRow, ApiError> {
    let lease: Option<(i64, i64)> = db
        .prepare_cached("SELECT task_id, worker_id FROM leases WHERE id = ?1")?
        .query_row([lease_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    // Another worker's lease is answered exactly as a lease that does not
    // exist: the reply must tell nothing about other workers' work.
    let Some((task_id, _)) = lease.filter(|(_, holder)| *holder == worker_id) else {
        return Err(ApiError::not_found("unknown_lease", format!("lease {lease_id} does not exist")));
    };
    let task = db
        .prepare_cached(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1"))?
        .query_row([task_id], task_row)?;
    if task.state != "leased" || task.lease_id != Some(lease_id) {
        let why = match task.state.as_str() {
            "leased" | "queued" => "its lease expired and the task was handed to another worker",
            "done" => "the task is already done",
            "cancelled" => "the job was cancelled",
            _ => "the task failed",
        };
        return Err(ApiError::conflict(
            "lease_lost",
            format!("lease {lease_id} on task {task_id} is no longer valid: {why}"),
        ));
    }
    Ok(task)
}

/// Extends a lease.
pub fn heartbeat(
    db: &Connection,
    st: &mut SchedState,
    worker_id: i64,
    lease_id: i64,
    now: i64,
) -> Result<HeartbeatResponse, ApiError> {
    touch_worker(db, worker_id, now)?;
    let task = leased_task(db, worker_id, lease_id)?;
    db.prepare_cached("UPDATE tasks SET deadline_ms = ?1 WHERE id = ?2")?
        .execute(params![now + st.config.lease_ms as i64, task.id])?;
    Ok(HeartbeatResponse { lease_ms: st.config.lease_ms })
}

/// A tile result uploaded for a lease.
pub struct Upload {
    pub worker_id: i64,
    pub lease_id: i64,
    pub result: TileResult,
    /// The encoded, checksummed bytes, stored until the frame is assembled.
    pub bytes: Vec<u8>,
    /// Why the result is unusable though well-formed (e.g. a non-finite sum).
    pub invalid: Option<String>,
    /// Joules the task took, where the worker measured them.
    pub energy_j: Option<f64>,
}

/// Files a result for a lease. The outer error refuses the upload and changes
/// nothing (e.g. 409 for a lost lease); the inner one refuses it after
/// recording a failed attempt (a result that does not match its task).
pub fn complete(
    db: &Connection,
    st: &mut SchedState,
    after: &mut AfterCommit,
    upload: Upload,
) -> Result<Result<(), ApiError>, ApiError> {
    let Upload { worker_id, lease_id, result, bytes, invalid, energy_j } = upload;
    let now = now_ms();
    // No touch of the worker here: its next lease request follows at once.
    let task = leased_task(db, worker_id, lease_id)?;
    let mismatch =
        (result.frame != task.frame || result.tile != task.tile || result.samples != task.samples).then(|| {
            format!(
                "result is for frame {} tile {:?} samples {:?}, but the lease is for frame {} tile {:?} samples {:?}",
                result.frame, result.tile, result.samples, task.frame, task.tile, task.samples
            )
        });
    if let Some(problem) = mismatch.or(invalid) {
        record_usage(db, st, after, lease_id, now, None, energy_j)?;
        fail_attempt(db, st, after, &task, worker_id, lease_id, &format!("bad result: {problem}"), now)?;
        return Ok(Err(ApiError::unprocessable("bad_result", problem)));
    }
    db.prepare_cached("INSERT INTO results (task_id, job_id, frame, data) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![task.id, task.job_id, task.frame, bytes])?;
    db.prepare_cached("UPDATE tasks SET state = 'done', deadline_ms = NULL WHERE id = ?1")?.execute([task.id])?;
    end_lease(db, lease_id, now, "done")?;
    let samples = task.tile.pixel_count() as u64 * u64::from(task.samples.count());
    record_usage(db, st, after, lease_id, now, Some(samples), energy_j)?;
    count_move(db, task.job_id, TaskState::Leased, TaskState::Done, 1)?;
    let (done, total): (i64, i64) = db
        .prepare_cached(
            "UPDATE frames SET tasks_done = tasks_done + 1 WHERE job_id = ?1 AND frame = ?2
             RETURNING tasks_done, tasks_total",
        )?
        .query_row(params![task.job_id, task.frame], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if done == total {
        db.prepare_cached(
            "UPDATE frames SET state = 'assembling' WHERE job_id = ?1 AND frame = ?2 AND state = 'rendering'",
        )?
        .execute(params![task.job_id, task.frame])?;
        st.assemble_later(after, FrameKey { job_id: task.job_id, frame: task.frame });
    }
    let metrics = st.metrics.clone();
    after.push(move || metrics.tile_done());
    Ok(Ok(()))
}

/// Records what a finished attempt rendered (samples, for accepted results)
/// and the energy it took, and counts it for `/metrics`.
fn record_usage(
    db: &Connection,
    st: &SchedState,
    after: &mut AfterCommit,
    lease_id: i64,
    now: i64,
    samples: Option<u64>,
    energy_j: Option<f64>,
) -> rusqlite::Result<()> {
    db.prepare_cached("UPDATE leases SET samples = ?2, energy_j = ?3 WHERE id = ?1")?.execute(params![
        lease_id,
        samples.map(|s| s as i64),
        energy_j
    ])?;
    let (started, backend): (i64, String) = db
        .prepare_cached(
            "SELECT l.started_ms, coalesce(json_extract(w.capabilities, '$.backend.name'), '?')
             FROM leases l LEFT JOIN workers w ON w.id = l.worker_id WHERE l.id = ?1",
        )?
        .query_row([lease_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (metrics, seconds) = (st.metrics.clone(), (now - started).max(0) as f64 / 1e3);
    after.push(move || metrics.add_usage(&backend, seconds, samples.unwrap_or(0), energy_j));
    Ok(())
}

fn end_lease(db: &Connection, lease_id: i64, now: i64, outcome: &str) -> rusqlite::Result<()> {
    db.prepare_cached("UPDATE leases SET ended_ms = ?1, outcome = ?2 WHERE id = ?3")?
        .execute(params![now, outcome, lease_id])?;
    Ok(())
}

/// A worker reports that it could not render its task.
pub fn fail(
    db: &Connection,
    st: &mut SchedState,
    after: &mut AfterCommit,
    worker_id: i64,
    lease_id: i64,
    message: &str,
    energy_j: Option<f64>,
) -> Result<(), ApiError> {
    let now = now_ms();
    touch_worker(db, worker_id, now)?;
    let task = leased_task(db, worker_id, lease_id)?;
    record_usage(db, st, after, lease_id, now, None, energy_j)?;
    let message: String = message.chars().take(4000).collect();
    fail_attempt(db, st, after, &task, worker_id, lease_id, &format!("worker {worker_id}: {message}"), now)
}

/// Records a failed attempt of a leased task: requeue it, or fail it for good
/// at the attempt limit; count the failure against the worker for blocklisting.
#[allow(clippy::too_many_arguments)]
fn fail_attempt(
    db: &Connection,
    st: &mut SchedState,
    after: &mut AfterCommit,
    task: &TaskRow,
    worker_id: i64,
    lease_id: i64,
    message: &str,
    now: i64,
) -> Result<(), ApiError> {
    end_lease(db, lease_id, now, "failed")?;
    db.prepare_cached(
        "INSERT INTO task_errors (task_id, job_id, frame, worker_id, attempt, message, at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![task.id, task.job_id, task.frame, worker_id, task.attempts, message, now])?;
    let worker_failures: u32 = db
        .prepare_cached(
            "INSERT INTO job_worker_failures (job_id, worker_id, failures) VALUES (?1, ?2, 1)
             ON CONFLICT (job_id, worker_id) DO UPDATE SET failures = failures + 1 RETURNING failures",
        )?
        .query_row(params![task.job_id, worker_id], |r| r.get(0))?;
    let failures = task.failures + 1;
    if failures >= st.config.max_attempts {
        db.prepare_cached(
            "UPDATE tasks SET state = 'failed', failures = ?1, lease_id = NULL, deadline_ms = NULL, last_error = ?2
             WHERE id = ?3",
        )?
        .execute(params![failures, message, task.id])?;
        count_move(db, task.job_id, TaskState::Leased, TaskState::Failed, 1)?;
        let n = db
            .prepare_cached(
                "UPDATE frames SET state = 'failed', error = ?1 WHERE job_id = ?2 AND frame = ?3 AND state = 'rendering'",
            )?
            .execute(params![format!("task {} failed {failures} times; last: {message}", task.id), task.job_id, task.frame])?;
        db.prepare_cached("UPDATE jobs SET frames_failed = frames_failed + ?1 WHERE id = ?2")?
            .execute(params![n as i64, task.job_id])?;
        refresh_job(db, task.job_id, now)?;
    } else {
        db.prepare_cached(
            "UPDATE tasks SET state = 'queued', failures = ?1, lease_id = NULL, worker_id = NULL, deadline_ms = NULL,
             last_error = ?2 WHERE id = ?3",
        )?
        .execute(params![failures, message, task.id])?;
        count_move(db, task.job_id, TaskState::Leased, TaskState::Queued, 1)?;
        st.notify_work(after);
    }
    if worker_failures == st.config.blocklist_after && no_worker_left(db, st, task.job_id, now)? {
        let error = format!(
            "every online worker failed this job {} times and is blocklisted for it; last error: {message}",
            st.config.blocklist_after
        );
        fail_job(db, task.job_id, &error, now)?;
    }
    let metrics = st.metrics.clone();
    after.push(move || metrics.task_failed());
    Ok(())
}

/// Whether some online workers are blocklisted for `job_id` and none is left
/// that may still render it.
fn no_worker_left(db: &Connection, st: &SchedState, job_id: i64, now: i64) -> Result<bool, ApiError> {
    let since = now - st.config.online_ms as i64;
    let (blocked, free): (i64, i64) = db
        .prepare_cached(
            "SELECT count(f.worker_id), count(*) - count(f.worker_id) FROM workers w
             LEFT JOIN job_worker_failures f ON f.job_id = ?1 AND f.worker_id = w.id AND f.failures >= ?2
             WHERE w.last_seen_ms >= ?3",
        )?
        .query_row(params![job_id, st.config.blocklist_after, since], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(blocked > 0 && free == 0)
}

/// Fails an active or paused job as a whole: its running and queued tasks
/// (created or not) fail with `error`, and so do its unfinished frames.
fn fail_job(db: &Connection, job_id: i64, error: &str, now: i64) -> Result<(), ApiError> {
    let state: String = db.prepare_cached("SELECT state FROM jobs WHERE id = ?1")?.query_row([job_id], |r| r.get(0))?;
    if state != "active" && state != "paused" {
        return Ok(());
    }
    let leases: Vec<i64> = db
        .prepare_cached("SELECT lease_id FROM tasks WHERE job_id = ?1 AND state = 'leased'")?
        .query_map([job_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for lease in leases {
        end_lease(db, lease, now, "failed")?;
    }
    for state in ["queued", "leased"] {
        db.prepare_cached(&format!(
            "UPDATE tasks SET state = 'failed', lease_id = NULL, deadline_ms = NULL, last_error = ?2
             WHERE job_id = ?1 AND state = '{state}'"
        ))?
        .execute(params![job_id, error])?;
    }
    let frames = db
        .prepare_cached("UPDATE frames SET state = 'failed', error = ?2 WHERE job_id = ?1 AND state = 'rendering'")?
        .execute(params![job_id, error])?;
    db.prepare_cached(
        "UPDATE jobs SET state = 'failed', finished_ms = ?2, error = ?3, frames_failed = frames_failed + ?4,
         tasks_failed = tasks_failed + tasks_queued + tasks_leased, tasks_queued = 0, tasks_leased = 0
         WHERE id = ?1",
    )?
    .execute(params![job_id, now, error, frames as i64])?;
    tracing::info!("job {job_id} failed: {error}");
    Ok(())
}

/// Requeues (or fails) up to `limit` tasks whose lease deadline has passed; returns how many.
pub fn reap(
    db: &Connection,
    st: &mut SchedState,
    after: &mut AfterCommit,
    now: i64,
    limit: i64,
) -> Result<usize, ApiError> {
    let expired: Vec<(TaskRow, i64)> = db
        .prepare_cached(&format!(
            "SELECT {TASK_COLUMNS}, worker_id FROM tasks WHERE state = 'leased' AND deadline_ms < ?1 LIMIT ?2"
        ))?
        .query_map(params![now, limit], |r| Ok((task_row(r)?, r.get(13)?)))?
        .collect::<Result<_, _>>()?;
    for (task, worker) in &expired {
        let lease_id = task.lease_id.unwrap_or_default();
        // An earlier one may have failed the whole job, and this task with it.
        let still: Option<i64> = db
            .prepare_cached("SELECT lease_id FROM tasks WHERE id = ?1 AND state = 'leased'")?
            .query_row([task.id], |r| r.get(0))
            .optional()?;
        if still != Some(lease_id) {
            continue;
        }
        let message = format!(
            "lease {lease_id} expired: worker {worker} sent no heartbeat for {:.1} s",
            st.config.lease_ms as f64 / 1000.0
        );
        tracing::info!("task {} (job {}, frame {}): {message}", task.id, task.job_id, task.frame);
        fail_attempt(db, st, after, task, *worker, lease_id, &message, now)?;
    }
    Ok(expired.len())
}

/// Gives leases that were running when the coordinator stopped a full lease
/// time from now, so their workers can reach the restarted coordinator.
pub fn extend_leases_after_restart(db: &Connection, st: &SchedState) -> Result<usize, ApiError> {
    let deadline = now_ms() + st.config.lease_ms as i64;
    Ok(db.execute("UPDATE tasks SET deadline_ms = ?1 WHERE state = 'leased' AND deadline_ms < ?1", [deadline])?)
}

/// Frames waiting for assembly (after a restart).
pub fn frames_to_assemble(db: &Connection) -> Result<Vec<FrameKey>, ApiError> {
    let rows = db
        .prepare("SELECT job_id, frame FROM frames WHERE state = 'assembling' ORDER BY job_id, frame")?
        .query_map([], |r| Ok(FrameKey { job_id: r.get(0)?, frame: r.get(1)? }))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Sets a job done or failed when nothing more can happen to it.
fn refresh_job(db: &Connection, job_id: i64, now: i64) -> Result<(), ApiError> {
    let (state, queued, leased, frames_total, frames_done): (String, i64, i64, i64, i64) = db
        .prepare_cached("SELECT state, tasks_queued, tasks_leased, frames_total, frames_done FROM jobs WHERE id = ?1")?
        .query_row([job_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?;
    if state != "active" && state != "paused" {
        return Ok(());
    }
    let new = if frames_done == frames_total {
        JobState::Done
    } else if queued == 0 && leased == 0 {
        let assembling: bool = db
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM frames WHERE job_id = ?1 AND state = 'assembling')")?
            .query_row([job_id], |r| r.get(0))?;
        if assembling {
            return Ok(());
        }
        JobState::Failed
    } else {
        return Ok(());
    };
    db.prepare_cached("UPDATE jobs SET state = ?1, finished_ms = ?2 WHERE id = ?3")?.execute(params![
        new.as_str(),
        now,
        job_id
    ])?;
    tracing::info!("job {job_id} is {new}");
    Ok(())
}

/// Records an assembled frame and drops its tile results.
pub fn frame_assembled(db: &Connection, key: FrameKey, outputs: &[String]) -> Result<(), ApiError> {
    let json = serde_json::to_string(outputs).map_err(|e| ApiError::internal(e.to_string()))?;
    let n = db.execute(
        "UPDATE frames SET state = 'done', outputs = ?1, error = NULL WHERE job_id = ?2 AND frame = ?3 AND state = 'assembling'",
        params![json, key.job_id, key.frame],
    )?;
    if n == 1 {
        db.execute("UPDATE jobs SET frames_done = frames_done + 1 WHERE id = ?1", [key.job_id])?;
        db.execute("DELETE FROM results WHERE job_id = ?1 AND frame = ?2", params![key.job_id, key.frame])?;
        refresh_job(db, key.job_id, now_ms())?;
    }
    Ok(())
}

/// Finished jobs whose preview movie is still to be made, with their specs.
pub fn previews_waiting(db: &Connection) -> Result<Vec<(i64, JobSpec)>, ApiError> {
    let rows: Vec<(i64, String)> = db
        .prepare_cached("SELECT id, spec FROM jobs WHERE state = 'done' AND preview = 'waiting' ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(id, spec)| {
            let spec = serde_json::from_str(&spec).map_err(|e| ApiError::internal(format!("job {id} spec: {e}")))?;
            Ok((id, spec))
        })
        .collect()
}

/// Records a job's preview movie as made, or as failed with `error`.
pub fn preview_recorded(db: &Connection, job_id: i64, error: Option<&str>) -> Result<(), ApiError> {
    let state = if error.is_some() { "failed" } else { "done" };
    db.execute(
        "UPDATE jobs SET preview = ?1, preview_error = ?2 WHERE id = ?3 AND preview = 'waiting'",
        params![state, error, job_id],
    )?;
    Ok(())
}

/// Records a frame that could not be assembled (its results stay for a retry).
pub fn frame_failed(db: &Connection, key: FrameKey, error: &str) -> Result<(), ApiError> {
    let n = db.execute(
        "UPDATE frames SET state = 'failed', error = ?1 WHERE job_id = ?2 AND frame = ?3 AND state = 'assembling'",
        params![error, key.job_id, key.frame],
    )?;
    if n == 1 {
        db.execute("UPDATE jobs SET frames_failed = frames_failed + 1 WHERE id = ?1", [key.job_id])?;
        refresh_job(db, key.job_id, now_ms())?;
    }
    Ok(())
}

/// User actions on a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Cancel,
    Pause,
    Resume,
    Retry,
}

impl Control {
    pub fn parse(s: &str) -> Option<Control> {
        Some(match s {
            "cancel" => Control::Cancel,
            "pause" => Control::Pause,
            "resume" => Control::Resume,
            "retry" => Control::Retry,
            _ => return None,
        })
    }
}

/// The owner and state of a job `who` may do `action` to. Jobs of projects
/// `who` is not in are "not found", like jobs that do not exist.
pub fn job_access(
    db: &Connection,
    who: &Principal,
    job_id: i64,
    action: Action,
) -> Result<(String, JobState), ApiError> {
    let row: Option<(String, String, String)> = db
        .prepare_cached("SELECT owner, project, state FROM jobs WHERE id = ?1")?
        .query_row([job_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let what = format!("job {job_id}");
    let Some((owner, project, state)) = row else {
        return Err(ApiError::not_found("unknown_job", format!("{what} not found")));
    };
    who.check(action, &project, Some(&owner), &what).map_err(|e| match e.status.as_u16() {
        404 => ApiError::not_found("unknown_job", format!("{what} not found")),
        _ => e,
    })?;
    let state =
        JobState::parse(&state).ok_or_else(|| ApiError::internal(format!("job {job_id}: bad state {state}")))?;
    Ok((owner, state))
}

/// Sets a job's priority (wranglers and admins, within the project's ceiling).
pub fn set_priority(db: &Connection, who: &Principal, job_id: i64, priority: i32) -> Result<(), ApiError> {
    job_access(db, who, job_id, Action::Prioritise)?;
    if !PRIORITY_RANGE.contains(&priority) {
        return Err(ApiError::unprocessable(
            "invalid_priority",
            format!("priority {priority} is outside -1000..=1000"),
        ));
    }
    let project: String = db.query_row("SELECT project FROM jobs WHERE id = ?1", [job_id], |r| r.get(0))?;
    check_priority(db, who, &project, priority)?;
    db.execute("UPDATE jobs SET priority = ?2 WHERE id = ?1", params![job_id, priority])?;
    Ok(())
}

/// Cancels, pauses, resumes or retries a job; returns its new state.
pub fn control(
    db: &Connection,
    st: &mut SchedState,
    after: &mut AfterCommit,
    who: &Principal,
    job_id: i64,
    action: Control,
) -> Result<JobState, ApiError> {
    let (_, state) = job_access(db, who, job_id, Action::Control)?;
    let now = now_ms();
    let refuse =
        |what: &str| Err(ApiError::conflict("invalid_state", format!("job {job_id} is {state}: cannot {what}")));
    match action {
        Control::Pause => {
            if state != JobState::Active {
                return refuse("pause it (only active jobs can be paused)");
            }
            db.execute("UPDATE jobs SET state = 'paused' WHERE id = ?1", [job_id])?;
            Ok(JobState::Paused)
        }
        Control::Resume => {
            if state != JobState::Paused {
                return refuse("resume it (only paused jobs can be resumed)");
            }
            db.execute("UPDATE jobs SET state = 'active' WHERE id = ?1", [job_id])?;
            refresh_job(db, job_id, now)?;
            st.notify_work(after);
            job_state(db, job_id)
        }
        Control::Cancel => {
            if state.is_finished() {
                return refuse("cancel it");
            }
            let leases: Vec<i64> = db
                .prepare_cached("SELECT lease_id FROM tasks WHERE job_id = ?1 AND state = 'leased'")?
                .query_map([job_id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for lease in leases {
                end_lease(db, lease, now, "cancelled")?;
            }
            // One state per statement, so each runs on its partial index: the
            // rows touched are the running and requeued tasks, never the whole job.
            for state in ["queued", "leased"] {
                db.prepare_cached(&format!(
                    "UPDATE tasks SET state = 'cancelled', lease_id = NULL, deadline_ms = NULL
                     WHERE job_id = ?1 AND state = '{state}'"
                ))?
                .execute([job_id])?;
            }
            db.execute(
                "UPDATE jobs SET state = 'cancelled', finished_ms = ?1,
                 tasks_cancelled = tasks_cancelled + tasks_queued + tasks_leased, tasks_queued = 0, tasks_leased = 0
                 WHERE id = ?2",
                params![now, job_id],
            )?;
            Ok(JobState::Cancelled)
        }
        Control::Retry => {
            let requeued = db.execute(
                "UPDATE tasks SET state = 'queued', failures = 0, worker_id = NULL
                 WHERE job_id = ?1 AND state IN ('failed', 'cancelled')",
                [job_id],
            )?;
            // Frames that failed: back to rendering, or straight to assembly when
            // all their tiles are in (their assembly failed).
            let reassemble: Vec<u32> = db
                .prepare(
                    "SELECT frame FROM frames WHERE job_id = ?1 AND state = 'failed' AND tasks_done = tasks_total",
                )?
                .query_map([job_id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let refailed = db.execute(
                "UPDATE frames SET state = CASE WHEN tasks_done = tasks_total THEN 'assembling' ELSE 'rendering' END,
                 error = NULL WHERE job_id = ?1 AND state = 'failed'",
                [job_id],
            )?;
            // Tasks never created count as failed or cancelled too, and go back to the queue.
            let uncreated: i64 = db
                .query_row(
                    "SELECT tasks_total - tasks_created FROM jobs WHERE id = ?1 AND state IN ('failed', 'cancelled')",
                    [job_id],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(0);
            // A preview movie that failed is made again (the frames stay as they are).
            let movie = db.execute(
                "UPDATE jobs SET preview = 'waiting', preview_error = NULL WHERE id = ?1 AND preview = 'failed'",
                [job_id],
            )?;
            if requeued == 0 && refailed == 0 && uncreated == 0 {
                if movie > 0 {
                    return Ok(state);
                }
                return refuse("retry it: nothing failed or was cancelled");
            }
            db.execute(
                "UPDATE jobs SET state = 'active', finished_ms = NULL, frames_failed = 0, error = NULL,
                 tasks_queued = tasks_queued + tasks_failed + tasks_cancelled, tasks_failed = 0, tasks_cancelled = 0
                 WHERE id = ?1",
                [job_id],
            )?;
            db.execute("DELETE FROM job_worker_failures WHERE job_id = ?1", [job_id])?;
            for frame in reassemble {
                st.assemble_later(after, FrameKey { job_id, frame });
            }
            st.notify_work(after);
            Ok(JobState::Active)
        }
    }
}

fn job_state(db: &Connection, job_id: i64) -> Result<JobState, ApiError> {
    let s: String = db.query_row("SELECT state FROM jobs WHERE id = ?1", [job_id], |r| r.get(0))?;
    JobState::parse(&s).ok_or_else(|| ApiError::internal(format!("job {job_id}: bad state {s}")))
}

/// Task counts of a job from its counters.
pub fn counts_from_row(r: &rusqlite::Row, first: usize) -> rusqlite::Result<TaskCounts> {
    let n = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(first + i)?.max(0) as u64) };
    Ok(TaskCounts { total: n(0)?, queued: n(1)?, leased: n(2)?, done: n(3)?, failed: n(4)?, cancelled: n(5)? })
}

/// The counter columns in [`counts_from_row`]'s order.
pub const COUNT_COLUMNS: &str = "tasks_total, tasks_queued, tasks_leased, tasks_done, tasks_failed, tasks_cancelled";

#[cfg(test)]
mod tests;
