//! Farm state in SQLite: schema and migrations, a pool of read connections, and
//! a single writer that commits in groups.
//!
//! Durability: WAL journal with `synchronous = FULL`, so a commit is on disk when
//! `COMMIT` returns, and no answer leaves the coordinator before the commit of the
//! change it reports. Throughput comes from group commit ([`writer`]): changes
//! waiting while one transaction commits all go into the next one, one fsync for
//! the lot.
//!
//! Several coordinators on PostgreSQL: the SQL here and in the scheduler sticks
//! to what both databases accept (partial indexes, `RETURNING`, `ON CONFLICT`).
//! The scheduler takes a task with a `SELECT … LIMIT 1` on the partial index of
//! queued tasks followed by an `UPDATE` of that row; on PostgreSQL that select
//! gains `FOR UPDATE SKIP LOCKED`, so coordinators sharing the database never hand
//! out the same task, and each runs its own group-commit writer. What stays per
//! process: the long-poll wake-up (PostgreSQL's `LISTEN`/`NOTIFY` would carry it
//! across coordinators; without it a worker waits at most one poll), the cache
//! of job specs (immutable once submitted) and the metrics counters.

pub mod schema;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags};

use super::error::ApiError;

/// Milliseconds since the Unix epoch (deadlines survive a restart).
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The database file inside a data folder.
pub fn db_path(data: &Path) -> PathBuf {
    data.join("farm.sqlite")
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: cannot open the farm database: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("{path}: database schema version {found} is newer than this coordinator knows ({known}); upgrade Tessera")]
    TooNew { path: String, found: i64, known: i64 },
    #[error("{path}: migration {index} failed: {source}")]
    Migration { path: String, index: usize, source: rusqlite::Error },
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Opens (creating if needed) the database and brings its schema up to date.
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    let name = path.display().to_string();
    // Owner-only before SQLite creates it: its journal files take its mode.
    let private = |p: &Path| -> rusqlite::Result<()> {
        let made = if p.exists() { super::private::tighten(p) } else { super::private::create_file(p).map(drop) };
        made.map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
    };
    private(path).map_err(|source| StoreError::Open { path: name.clone(), source })?;
    for journal in ["-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{journal}", path.display()));
        if file.exists() {
            private(&file).map_err(|source| StoreError::Open { path: name.clone(), source })?;
        }
    }
    let conn = Connection::open(path).map_err(|source| StoreError::Open { path: name.clone(), source })?;
    configure(&conn).map_err(|source| StoreError::Open { path: name.clone(), source })?;
    migrate(&conn, &name)?;
    Ok(conn)
}

fn migrate(conn: &Connection, name: &str) -> Result<(), StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|source| StoreError::Open { path: name.into(), source })?;
    let known = schema::MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew { path: name.into(), found: version, known });
    }
    for (index, sql) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
        let run = || -> rusqlite::Result<()> {
            let tx = conn.unchecked_transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", index as i64 + 1)?;
            tx.commit()
        };
        run().map_err(|source| StoreError::Migration { path: name.into(), index: index + 1, source })?;
    }
    Ok(())
}

/// Read-only connections for queries that change nothing (status, listings,
/// metrics, token checks); WAL lets them run while the writer commits.
#[derive(Clone)]
pub struct ReadPool {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
}

impl ReadPool {
    pub fn new(path: &Path) -> Self {
        Self { path: Arc::new(path.to_path_buf()), idle: Arc::new(Mutex::new(Vec::new())) }
    }

    fn take(&self) -> Result<Connection, ApiError> {
        if let Some(conn) = self.idle.lock().expect("pool lock").pop() {
            return Ok(conn);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(self.path.as_ref(), flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    /// Runs `f` on a read connection in a blocking thread.
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, ApiError> + Send + 'static,
    ) -> Result<R, ApiError> {
        let pool = self.clone();
        tokio::task::spawn_blocking(move || pool.read_blocking(f))
            .await
            .map_err(|e| ApiError::internal(format!("read task failed: {e}")))?
    }

    /// Runs `f` on a read connection on the current thread.
    pub fn read_blocking<R>(&self, f: impl FnOnce(&Connection) -> Result<R, ApiError>) -> Result<R, ApiError> {
        let conn = self.take()?;
        let result = f(&conn);
        let mut idle = self.idle.lock().expect("pool lock");
        if idle.len() < 16 {
            idle.push(conn);
        }
        result
    }
}
