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
    r#"
-- Users, projects and roles. A user is an admin (everything) or a member of
-- projects as viewer (read), artist (submit and control own jobs) or wrangler
-- (control every job of the project). Quotas are NULL when unlimited.
CREATE TABLE users (
    name       TEXT PRIMARY KEY,
    admin      INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);
CREATE TABLE projects (
    name              TEXT PRIMARY KEY,
    created_ms        INTEGER NOT NULL,
    max_queued_tasks  INTEGER,
    max_running_tasks INTEGER,
    max_storage_bytes INTEGER,
    max_priority      INTEGER NOT NULL DEFAULT 1000
);
CREATE TABLE members (
    project TEXT NOT NULL REFERENCES projects (name),
    user    TEXT NOT NULL REFERENCES users (name),
    role    TEXT NOT NULL CHECK (role IN ('viewer', 'artist', 'wrangler')),
    PRIMARY KEY (project, user)
);
CREATE INDEX members_user ON members (user);

-- Tokens: 'user' tokens act as their user; 'enrolment' tokens only register
-- workers; 'worker' tokens are one worker's credential, handed out at registration.
CREATE TABLE tokens_v3 (
    hash       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('user', 'enrolment', 'worker')),
    name       TEXT NOT NULL,
    worker_id  INTEGER,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER,
    revoked    INTEGER NOT NULL DEFAULT 0
);
INSERT INTO users (name, admin, created_ms)
    SELECT name, max(kind = 'admin'), min(created_ms) FROM tokens WHERE kind IN ('user', 'admin') GROUP BY name;
INSERT INTO tokens_v3 (hash, kind, name, created_ms, revoked)
    SELECT hash, CASE kind WHEN 'worker' THEN 'enrolment' ELSE 'user' END, name, created_ms, revoked FROM tokens;
DROP TABLE tokens;
ALTER TABLE tokens_v3 RENAME TO tokens;
CREATE INDEX tokens_worker ON tokens (worker_id) WHERE worker_id IS NOT NULL;

-- Jobs and scene files belong to a project; what existed before is in 'default'.
INSERT INTO projects (name, created_ms) VALUES ('default', 0);
INSERT INTO members (project, user, role) SELECT 'default', name, 'artist' FROM users WHERE admin = 0;
ALTER TABLE jobs ADD COLUMN project TEXT NOT NULL DEFAULT 'default';
CREATE INDEX jobs_project ON jobs (project, id);
CREATE TABLE project_blobs (
    project    TEXT NOT NULL,
    hash       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (project, hash)
);
INSERT INTO project_blobs (project, hash, size, created_ms) SELECT 'default', hash, size, created_ms FROM blobs;

-- Every state-changing request and every refused one. Append-only: the
-- triggers refuse changes and deletions.
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    at_ms   INTEGER NOT NULL,
    user    TEXT NOT NULL,
    role    TEXT NOT NULL,
    project TEXT,
    action  TEXT NOT NULL,
    target  TEXT,
    result  TEXT NOT NULL,
    status  INTEGER NOT NULL,
    source  TEXT
);
CREATE INDEX audit_at ON audit (at_ms);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"#,
    r#"
-- Usage accounting: what each attempt rendered and, where the worker's
-- hardware reports it, the energy it took (NULL: not measured, never 0).
ALTER TABLE leases ADD COLUMN samples INTEGER;
ALTER TABLE leases ADD COLUMN energy_j REAL;
CREATE INDEX leases_started ON leases (started_ms);
"#,
    r#"
-- Preview movies: NULL for jobs that did not ask for one, else 'waiting',
-- 'done' or 'failed' (with preview_error).
ALTER TABLE jobs ADD COLUMN preview TEXT;
ALTER TABLE jobs ADD COLUMN preview_error TEXT;
"#,
];
