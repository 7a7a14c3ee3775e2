//! The single database writer, with group commit.
//!
//! Every change is a closure sent to one thread that owns the write connection.
//! The thread takes the first waiting change, then every other one already
//! queued (up to [`MAX_BATCH`]), runs each inside its own savepoint of one
//! `BEGIN IMMEDIATE` transaction, commits once, and only then answers them all.
//! A change whose closure fails is rolled back to its savepoint alone; a failed
//! commit answers every change of the batch with an error. Actions that must
//! follow a durable change (waking long-polling workers, starting a frame's
//! assembly) are registered with [`AfterCommit`] and run only once the commit
//! has succeeded.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread::JoinHandle;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use crate::farm::error::ApiError;

/// Most changes committed by one transaction.
pub const MAX_BATCH: usize = 4096;
/// Changes that may wait for the writer before senders wait too.
const QUEUE: usize = 65_536;

/// Actions to run after the change that registered them is committed.
#[derive(Default)]
pub struct AfterCommit(Vec<Box<dyn FnOnce() + Send>>);

impl AfterCommit {
    pub fn push(&mut self, action: impl FnOnce() + Send + 'static) {
        self.0.push(Box::new(action));
    }
    pub(crate) fn run(self) {
        for action in self.0 {
            action();
        }
    }
}

type Finish = Box<dyn FnOnce(Result<(), ApiError>) + Send>;
type Op<S> = Box<dyn FnOnce(&Connection, &mut S) -> (bool, Finish) + Send>;

/// Handle to the writer thread; cheap to clone.
pub struct Writer<S> {
    tx: mpsc::Sender<Op<S>>,
}

impl<S> Clone for Writer<S> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone() }
    }
}

impl<S: Send + 'static> Writer<S> {
    /// Starts the writer thread on `conn`, with `state` owned by that thread.
    pub fn start(conn: Connection, state: S) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("farm-db-writer".into())
            .spawn(move || run(conn, state, rx))
            .expect("spawn the database writer thread");
        (Self { tx }, thread)
    }

    fn op<R: Send + 'static>(
        f: impl FnOnce(&Connection, &mut S, &mut AfterCommit) -> Result<R, ApiError> + Send + 'static,
        reply: oneshot::Sender<Result<R, ApiError>>,
    ) -> Op<S> {
        Box::new(move |db, state| {
            let mut after = AfterCommit::default();
            let result = catch_unwind(AssertUnwindSafe(|| f(db, state, &mut after)))
                .unwrap_or_else(|_| Err(ApiError::internal("a database change panicked; it was rolled back")));
            let keep = result.is_ok();
            let finish: Finish = Box::new(move |committed| match committed {
                Ok(()) => {
                    if result.is_ok() {
                        after.run();
                    }
                    let _ = reply.send(result);
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            });
            (keep, finish)
        })
    }

    /// Runs `f` in the next group commit and returns its result once committed.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &mut S, &mut AfterCommit) -> Result<R, ApiError> + Send + 'static,
    ) -> Result<R, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Self::op(f, reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// [`Writer::call`] for threads outside the async runtime.
    pub fn call_blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &mut S, &mut AfterCommit) -> Result<R, ApiError> + Send + 'static,
    ) -> Result<R, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.tx.blocking_send(Self::op(f, reply)).map_err(|_| stopped())?;
        answer.blocking_recv().map_err(|_| stopped())?
    }
}

fn stopped() -> ApiError {
    ApiError::unavailable("the coordinator's database writer could not take this change (see its log)")
}

fn run<S>(mut conn: Connection, mut state: S, mut rx: mpsc::Receiver<Op<S>>) {
    while let Some(first) = rx.blocking_recv() {
        let mut ops = vec![first];
        while ops.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        let finishes = commit_batch(&mut conn, &mut state, ops);
        let (committed, finishes) = match finishes {
            Ok(f) => (Ok(()), f),
            Err((e, f)) => (Err(e), f),
        };
        for finish in finishes {
            finish(committed.clone());
        }
    }
}

type Batch = Result<Vec<Finish>, (ApiError, Vec<Finish>)>;

/// Runs a statement from the connection's cache (savepoints run once per change;
/// parsing them each time would cost more than the changes themselves).
fn exec_cached(db: &Connection, sql: &str) -> rusqlite::Result<()> {
    db.prepare_cached(sql)?.execute([]).map(drop)
}

fn commit_batch<S>(conn: &mut Connection, state: &mut S, ops: Vec<Op<S>>) -> Batch {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            // The changes are dropped unrun; their callers get an error.
            let error = ApiError::internal(format!("database: cannot begin a transaction: {e}"));
            drop(ops);
            return Err((error, Vec::new()));
        }
    };
    let mut finishes = Vec::with_capacity(ops.len());
    let mut failure = None;
    for op in ops {
        if let Err(e) = exec_cached(&tx, "SAVEPOINT op") {
            // Dropped unrun (its caller gets an error); the batch is rolled back below.
            failure = Some(ApiError::internal(format!("database: cannot open a savepoint: {e}")));
            drop(op);
            continue;
        }
        let (keep, finish) = op(&tx, state);
        let closed = match keep {
            true => exec_cached(&tx, "RELEASE op"),
            false => exec_cached(&tx, "ROLLBACK TO op").and_then(|()| exec_cached(&tx, "RELEASE op")),
        };
        if let Err(e) = closed {
            failure = Some(ApiError::internal(format!("database: cannot close a savepoint: {e}")));
        }
        finishes.push(finish);
    }
    if let Some(error) = failure {
        drop(tx); // rolls back
        return Err((error, finishes));
    }
    match tx.commit() {
        Ok(()) => Ok(finishes),
        Err(e) => Err((ApiError::internal(format!("database: commit failed: {e}")), finishes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (tempfile::TempDir, Writer<u32>) {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::farm::store::open(&dir.path().join("t.sqlite")).unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER NOT NULL)").unwrap();
        (dir, Writer::start(conn, 0).0)
    }

    #[test]
    fn a_failing_change_is_rolled_back_alone_and_after_commit_runs_only_for_kept_changes() {
        let (dir, w) = writer();
        let (hook_tx, hook_rx) = std::sync::mpsc::channel();
        let tx2 = hook_tx.clone();
        let ok = w.call_blocking(move |db, n, after| {
            *n += 1;
            db.execute("INSERT INTO t (v) VALUES (1)", [])?;
            after.push(move || hook_tx.send("kept").unwrap());
            Ok(*n)
        });
        assert_eq!(ok, Ok(1));
        let failed: Result<(), ApiError> = w.call_blocking(move |db, _, after| {
            db.execute("INSERT INTO t (v) VALUES (2)", [])?;
            after.push(move || tx2.send("dropped").unwrap());
            Err(ApiError::conflict("nope", "refused"))
        });
        assert_eq!(failed.unwrap_err().code, "nope");
        assert_eq!(hook_rx.try_iter().collect::<Vec<_>>(), vec!["kept"]);
        let read = Connection::open(dir.path().join("t.sqlite")).unwrap();
        let values: Vec<i64> =
            read.prepare("SELECT v FROM t").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(values, vec![1]);
    }

    #[test]
    fn a_panicking_change_is_answered_and_the_writer_keeps_going() {
        let (_dir, w) = writer();
        let r: Result<(), ApiError> = w.call_blocking(|_, _, _| panic!("boom"));
        assert_eq!(r.unwrap_err().code, "internal");
        assert_eq!(w.call_blocking(|_, n, _| Ok(*n)), Ok(0));
    }
}
