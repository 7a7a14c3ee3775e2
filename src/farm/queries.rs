//! Read-only queries behind the status, listing, download and metrics
//! endpoints; they run on the read pool, never on the writer.

use rusqlite::{params, Connection};

use super::access::Action;
use super::auth::Principal;
use super::error::ApiError;
use super::metrics::Snapshot;
use super::preview::PREVIEW_NAME;
use super::protocol::{
    FrameStatus, JobState, JobStatus, JobSummary, Page, PageQuery, PreviewStatus, TaskError, TaskStatus,
};
use super::scheduler::{counts_from_row, job_access, TaskState, COUNT_COLUMNS};
use crate::render::task::{SampleRange, Tile};

/// Errors kept in a job status, newest first.
const ERRORS_SHOWN: i64 = 50;

fn parse_state(s: &str) -> Result<JobState, ApiError> {
    JobState::parse(s).ok_or_else(|| ApiError::internal(format!("bad job state {s} in the database")))
}

/// Full status of one job `who` may see; with `tasks`, one page of its tasks.
/// `blocklist_after` is the failure count at which a worker is blocklisted.
pub fn job_status(
    conn: &Connection,
    who: &Principal,
    job_id: i64,
    tasks: Option<PageQuery>,
    blocklist_after: u32,
) -> Result<JobStatus, ApiError> {
    job_access(conn, who, job_id, Action::Read)?;
    let (mut status, state) = conn.query_row(
        &format!(
            "SELECT id, name, owner, state, priority, created_ms, finished_ms, error, frames_total, project,
                    {COUNT_COLUMNS}, preview, preview_error
             FROM jobs WHERE id = ?1"
        ),
        [job_id],
        |r| {
            Ok((
                JobStatus {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    owner: r.get(2)?,
                    state: JobState::Active,
                    priority: r.get(4)?,
                    created_ms: r.get(5)?,
                    finished_ms: r.get(6)?,
                    project: r.get(9)?,
                    tasks: counts_from_row(r, 10)?,
                    frames_total: r.get::<_, i64>(8)?.max(0) as u64,
                    frames: Vec::new(),
                    blocklisted_workers: Vec::new(),
                    errors: Vec::new(),
                    error: r.get(7)?,
                    preview: preview_status(r.get(16)?, r.get(17)?),
                    task_list: None,
                    tasks_next: None,
                },
                r.get::<_, String>(3)?,
            ))
        },
    )?;
    status.state = parse_state(&state)?;
    status.frames = conn
        .prepare(
            "SELECT frame, state, tasks_total, tasks_done, outputs, error FROM frames WHERE job_id = ?1 ORDER BY frame",
        )?
        .query_map([job_id], |r| {
            let outputs: String = r.get(4)?;
            Ok(FrameStatus {
                frame: r.get(0)?,
                state: r.get(1)?,
                tasks_total: r.get::<_, i64>(2)? as u64,
                tasks_done: r.get::<_, i64>(3)? as u64,
                outputs: serde_json::from_str(&outputs).unwrap_or_default(),
                error: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    status.errors = conn
        .prepare(
            "SELECT task_id, frame, worker_id, attempt, message, at_ms FROM task_errors WHERE job_id = ?1
             ORDER BY id DESC LIMIT ?2",
        )?
        .query_map(params![job_id, ERRORS_SHOWN], |r| {
            Ok(TaskError {
                task_id: r.get(0)?,
                frame: r.get(1)?,
                worker: r.get(2)?,
                attempt: r.get(3)?,
                message: r.get(4)?,
                at_ms: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    status.blocklisted_workers = blocklisted(conn, job_id, blocklist_after)?;
    if let Some(page) = tasks {
        let limit = page.limit();
        let list: Vec<TaskStatus> = conn
            .prepare(
                "SELECT id, frame, tile_x, tile_y, tile_w, tile_h, sample_start, sample_end, state, attempts, failures,
                        worker_id, last_error
                 FROM tasks WHERE job_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            )?
            .query_map(params![job_id, page.after.unwrap_or(0), limit + 1], |r| {
                Ok(TaskStatus {
                    id: r.get(0)?,
                    frame: r.get(1)?,
                    tile: Tile { x: r.get(2)?, y: r.get(3)?, width: r.get(4)?, height: r.get(5)? },
                    samples: SampleRange { start: r.get(6)?, end: r.get(7)? },
                    state: r.get(8)?,
                    attempts: r.get(9)?,
                    failures: r.get(10)?,
                    worker: r.get(11)?,
                    last_error: r.get(12)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let page = Page::cut(list, limit, |t| t.id);
        (status.task_list, status.tasks_next) = (Some(page.items), page.next);
    }
    Ok(status)
}

/// Workers blocklisted for a job (at least `threshold` failures).
pub fn blocklisted(conn: &Connection, job_id: i64, threshold: u32) -> Result<Vec<i64>, ApiError> {
    Ok(conn
        .prepare("SELECT worker_id FROM job_worker_failures WHERE job_id = ?1 AND failures >= ?2 ORDER BY worker_id")?
        .query_map(params![job_id, threshold], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// One page of the jobs `who` may see (of `project` if given), newest first.
pub fn list_jobs(
    conn: &Connection,
    who: &Principal,
    project: Option<&str>,
    page: PageQuery,
) -> Result<Page<JobSummary>, ApiError> {
    // Admins see every project; others their own, as a JSON list SQLite can search.
    let visible = who.visible_projects().map(|p| serde_json::to_string(&p).unwrap_or_default());
    let limit = page.limit();
    let sql = format!(
        "SELECT id, name, owner, state, priority, created_ms, frames_total, frames_done, project, {COUNT_COLUMNS}
         FROM jobs
         WHERE id < ?1 AND (?2 IS NULL OR project = ?2)
           AND (?3 IS NULL OR project IN (SELECT value FROM json_each(?3)))
         ORDER BY id DESC LIMIT ?4"
    );
    let rows = conn
        .prepare(&sql)?
        .query_map(params![page.after.unwrap_or(i64::MAX), project, visible, limit + 1], |r| {
            Ok((
                JobSummary {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    owner: r.get(2)?,
                    project: r.get(8)?,
                    state: JobState::Active,
                    priority: r.get(4)?,
                    created_ms: r.get(5)?,
                    frames_total: r.get::<_, i64>(6)? as u64,
                    frames_done: r.get::<_, i64>(7)? as u64,
                    tasks: counts_from_row(r, 9)?,
                },
                r.get::<_, String>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let items = rows
        .into_iter()
        .map(|(mut job, state)| {
            job.state = parse_state(&state)?;
            Ok(job)
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Page::cut(items, limit, |j| j.id))
}

/// Whether `name` is an output file of job `job_id` (which `who` may see).
pub fn has_output(conn: &Connection, who: &Principal, job_id: i64, name: &str) -> Result<bool, ApiError> {
    job_access(conn, who, job_id, Action::Read)?;
    if name == PREVIEW_NAME {
        let preview: Option<String> =
            conn.query_row("SELECT preview FROM jobs WHERE id = ?1", [job_id], |r| r.get(0))?;
        return Ok(preview.as_deref() == Some("done"));
    }
    let lists: Vec<String> = conn
        .prepare("SELECT outputs FROM frames WHERE job_id = ?1 AND state = 'done'")?
        .query_map([job_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(lists.iter().any(|l| serde_json::from_str::<Vec<String>>(l).unwrap_or_default().iter().any(|n| n == name)))
}

/// A job's preview movie from its `preview` and `preview_error` columns.
fn preview_status(state: Option<String>, error: Option<String>) -> Option<PreviewStatus> {
    Some(match state?.as_str() {
        "done" => PreviewStatus::Done,
        "failed" => PreviewStatus::Failed(error.unwrap_or_default()),
        _ => PreviewStatus::Waiting,
    })
}

/// Which of `hashes` were uploaded to `project` (another project's files do not count).
pub fn known_blobs(conn: &Connection, project: &str, hashes: &[String]) -> Result<Vec<bool>, ApiError> {
    let mut stmt =
        conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM project_blobs WHERE project = ?1 AND hash = ?2)")?;
    hashes.iter().map(|h| Ok(stmt.query_row(params![project, h], |r| r.get(0))?)).collect()
}

/// Counts for `/metrics`; workers seen since `online_since_ms` are online.
pub fn snapshot(conn: &Connection, online_since_ms: i64) -> Result<Snapshot, ApiError> {
    let tasks = conn.query_row(
        "SELECT coalesce(sum(tasks_queued), 0), coalesce(sum(tasks_leased), 0), coalesce(sum(tasks_done), 0),
                coalesce(sum(tasks_failed), 0), coalesce(sum(tasks_cancelled), 0) FROM jobs",
        [],
        |r| (0..5).map(|i| r.get::<_, i64>(i)).collect::<Result<Vec<_>, _>>(),
    )?;
    let jobs: Vec<(String, i64)> = conn
        .prepare("SELECT state, count(*) FROM jobs GROUP BY state")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let (busy, online, total): (i64, i64, i64) = conn.query_row(
        "SELECT (SELECT count(DISTINCT worker_id) FROM tasks WHERE state = 'leased'),
                (SELECT count(*) FROM workers WHERE last_seen_ms >= ?1),
                (SELECT count(*) FROM workers)",
        [online_since_ms],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let job_states = [JobState::Active, JobState::Paused, JobState::Done, JobState::Failed, JobState::Cancelled];
    Ok(Snapshot {
        tasks: TaskState::ALL.iter().zip(tasks).map(|(s, n)| (s.as_str(), n.max(0) as u64)).collect(),
        workers_busy: busy as u64,
        workers_idle: (online - busy).max(0) as u64,
        workers_offline: (total - online.max(busy)).max(0) as u64,
        jobs: job_states
            .iter()
            .map(|s| (s.as_str(), jobs.iter().find(|(n, _)| n == s.as_str()).map_or(0, |(_, c)| *c as u64)))
            .collect(),
    })
}

/// A registered worker, for `GET /workers` (admins).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct WorkerInfo {
    pub id: i64,
    pub name: String,
    pub last_seen_ms: i64,
    pub capabilities: serde_json::Value,
}

/// One page of the registered workers, newest first.
pub fn list_workers(conn: &Connection, page: PageQuery) -> Result<Page<WorkerInfo>, ApiError> {
    let limit = page.limit();
    let items: Vec<WorkerInfo> = conn
        .prepare("SELECT id, name, last_seen_ms, capabilities FROM workers WHERE id < ?1 ORDER BY id DESC LIMIT ?2")?
        .query_map(params![page.after.unwrap_or(i64::MAX), limit + 1], |r| {
            let caps: String = r.get(3)?;
            Ok(WorkerInfo {
                id: r.get(0)?,
                name: r.get(1)?,
                last_seen_ms: r.get(2)?,
                capabilities: serde_json::from_str(&caps).unwrap_or(serde_json::Value::Null),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Page::cut(items, limit, |w| w.id))
}
