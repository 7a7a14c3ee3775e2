//! The database schema, as numbered migrations applied in order
//! (`PRAGMA user_version` holds how many have run).
//!
//! The SQL is kept to what SQLite and PostgreSQL both accept (partial indexes,
//! `INTEGER PRIMARY KEY` ids, `ON CONFLICT` upserts), so a PostgreSQL store can
//! reuse it with `BIGSERIAL`/`BYTEA` swapped in.

/// Each entry is one migration; never edit one that has shipped, append a new one.
pub const MIGRATIONS: &[&str] = &[
    r#"
-- Bearer tokens, stored as SHA-256 hex; the token itself is shown once.
CREATE TABLE tokens (
    hash       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('user', 'admin', 'worker')),
    name       TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
);

-- Scene files, content-addressed; the bytes live in DATA/blobs/ab/abcdef….
CREATE TABLE blobs (
    hash       TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);

CREATE TABLE workers (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    capabilities  TEXT NOT NULL,
    registered_ms INTEGER NOT NULL,
    last_seen_ms  INTEGER NOT NULL
);

-- state: active | paused | cancelled | done | failed. The task counters are kept
-- in step with tasks.state by the scheduler, so progress is O(1) to read.
CREATE TABLE jobs (
    id             INTEGER PRIMARY KEY,
    owner          TEXT NOT NULL,
    name           TEXT NOT NULL,
    spec           TEXT NOT NULL,
    priority       INTEGER NOT NULL,
    state          TEXT NOT NULL,
    created_ms     INTEGER NOT NULL,
    finished_ms    INTEGER,
    tasks_total    INTEGER NOT NULL,
    tasks_queued   INTEGER NOT NULL,
    tasks_leased   INTEGER NOT NULL DEFAULT 0,
    tasks_done     INTEGER NOT NULL DEFAULT 0,
    tasks_failed   INTEGER NOT NULL DEFAULT 0,
    tasks_cancelled INTEGER NOT NULL DEFAULT 0,
    frames_total   INTEGER NOT NULL,
    frames_done    INTEGER NOT NULL DEFAULT 0,
    frames_failed  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_runnable ON jobs (priority DESC, id) WHERE state = 'active';
CREATE INDEX jobs_owner ON jobs (owner, id);

-- state: rendering | assembling | done | failed
CREATE TABLE frames (
    job_id      INTEGER NOT NULL REFERENCES jobs (id),
    frame       INTEGER NOT NULL,
    tasks_total INTEGER NOT NULL,
    tasks_done  INTEGER NOT NULL DEFAULT 0,
    state       TEXT NOT NULL,
    outputs     TEXT NOT NULL DEFAULT '[]',
    error       TEXT,
    PRIMARY KEY (job_id, frame)
);
CREATE INDEX frames_assembling ON frames (job_id) WHERE state = 'assembling';

-- state: queued | leased | done | failed | cancelled
CREATE TABLE tasks (
    id           INTEGER PRIMARY KEY,
    job_id       INTEGER NOT NULL REFERENCES jobs (id),
    frame        INTEGER NOT NULL,
    tile_x       INTEGER NOT NULL,
    tile_y       INTEGER NOT NULL,
    tile_w       INTEGER NOT NULL,
    tile_h       INTEGER NOT NULL,
    sample_start INTEGER NOT NULL,
    sample_end   INTEGER NOT NULL,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    failures     INTEGER NOT NULL DEFAULT 0,
    lease_id     INTEGER,
    worker_id    INTEGER,
    deadline_ms  INTEGER,
    last_error   TEXT
);
CREATE INDEX tasks_queued ON tasks (job_id, id) WHERE state = 'queued';
CREATE INDEX tasks_leased ON tasks (deadline_ms) WHERE state = 'leased';
CREATE INDEX tasks_job ON tasks (job_id, frame);

-- Every lease ever granted: fencing (a result must name the task's current
-- lease) and an audit of who rendered what.
CREATE TABLE leases (
    id         INTEGER PRIMARY KEY,
    task_id    INTEGER NOT NULL,
    worker_id  INTEGER NOT NULL,
    started_ms INTEGER NOT NULL,
    ended_ms   INTEGER,
    outcome    TEXT
);

-- Uploaded tile results (the encoded, checksummed bytes) until their frame is assembled.
CREATE TABLE results (
    task_id INTEGER PRIMARY KEY,
    job_id  INTEGER NOT NULL,
    frame   INTEGER NOT NULL,
    data    BLOB NOT NULL
);
CREATE INDEX results_frame ON results (job_id, frame);

-- Failed attempts, kept for the user.
CREATE TABLE task_errors (
    id        INTEGER PRIMARY KEY,
    task_id   INTEGER NOT NULL,
    job_id    INTEGER NOT NULL,
    frame     INTEGER NOT NULL,
    worker_id INTEGER,
    attempt   INTEGER NOT NULL,
    message   TEXT NOT NULL,
    at_ms     INTEGER NOT NULL
);
CREATE INDEX task_errors_job ON task_errors (job_id, id);

-- Failures per worker and job; at the blocklist threshold the worker gets no
-- more tasks of that job (until `retry`).
CREATE TABLE job_worker_failures (
    job_id    INTEGER NOT NULL,
    worker_id INTEGER NOT NULL,
    failures  INTEGER NOT NULL,
    PRIMARY KEY (job_id, worker_id)
);
"#,
    r#"
-- Lazy task creation: task and frame rows are created as tasks are first
-- leased; tasks_created is the cursor into the job's task order.
ALTER TABLE jobs ADD COLUMN tasks_created INTEGER NOT NULL DEFAULT 0;
UPDATE jobs SET tasks_created = tasks_total;
-- Why a job failed as a whole (every online worker blocklisted for it).
ALTER TABLE jobs ADD COLUMN error TEXT;
-- Cancel, fail and retry touch only a job's running, failed or cancelled rows.
CREATE INDEX tasks_leased_job ON tasks (job_id) WHERE state = 'leased';
CREATE INDEX tasks_ended_job ON tasks (job_id) WHERE state IN ('failed', 'cancelled');
"#,
];
