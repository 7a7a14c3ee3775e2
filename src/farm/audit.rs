//! The audit log: every state-changing request and every refused one, with
//! who (user, role), project, action, target, result, source address and time,
//! in an append-only table (triggers refuse changes and deletions).
//!
//! Not recorded: successful reads, and a worker's successful lease, heartbeat
//! and result uploads, which the `leases` table already keeps (who rendered
//! what, when, with what outcome). Tokens never appear: a principal is named by
//! its user (or worker) and the audit log never sees a header.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use rusqlite::{params, Connection};

use super::auth::Principal;
use super::error::ApiError;
use super::protocol::{Page, PageQuery};
use super::server::App;
use super::store::now_ms;

/// Set by a handler on its response: what the request did, beyond what its path says.
#[derive(Clone, Debug, Default)]
pub struct Note {
    pub project: Option<String>,
    pub target: Option<String>,
}

/// One audit row.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub id: i64,
    pub at_ms: i64,
    pub user: String,
    pub role: String,
    pub project: Option<String>,
    pub action: String,
    pub target: Option<String>,
    /// `ok`, `refused` (401, 403, 404, 429) or `failed` (any other error).
    pub result: String,
    pub status: u16,
    pub source: Option<String>,
}

/// The action a route performs, and its target as the path names it.
fn action_of(method: &Method, route: &str, path: &str) -> Option<(String, Option<String>)> {
    let route = route.strip_prefix(super::protocol::API).unwrap_or(route);
    let parts: Vec<&str> = path.trim_start_matches(super::protocol::API).split('/').skip(1).collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or("");
    let job = || Some(format!("job:{}", part(1)));
    let lease = || Some(format!("worker:{} lease:{}", part(1), part(3)));
    let (action, target) = match (method.as_str(), route) {
        ("POST", "/blobs/missing") => ("blobs.check".into(), None),
        ("PUT", "/blobs/{hash}") => ("blob.upload".into(), Some(format!("blob:{}", part(1)))),
        ("GET", "/blobs/{hash}") => ("blob.download".into(), Some(format!("blob:{}", part(1)))),
        ("POST", "/jobs") => ("job.submit".into(), None),
        ("GET", "/jobs") => ("jobs.list".into(), None),
        ("GET", "/jobs/{id}") => ("job.status".into(), job()),
        ("GET", "/jobs/{id}/outputs/{name}") => ("job.output".into(), Some(format!("job:{} {}", part(1), part(3)))),
        ("POST", "/jobs/{id}/{action}") => {
            let known = ["cancel", "pause", "resume", "retry", "priority"].contains(&part(2));
            (format!("job.{}", if known { part(2) } else { "unknown" }), job())
        }
        ("POST", "/workers") => ("worker.register".into(), None),
        ("GET", "/workers") => ("workers.list".into(), None),
        ("GET", "/usage") => ("usage.read".into(), None),
        ("GET", "/audit") => ("audit.read".into(), None),
        ("POST", "/workers/{wid}/lease") => ("worker.lease".into(), Some(format!("worker:{}", part(1)))),
        ("POST", "/workers/{wid}/leases/{lid}/heartbeat") => ("lease.heartbeat".into(), lease()),
        ("PUT", "/workers/{wid}/leases/{lid}/result") => ("lease.result".into(), lease()),
        ("POST", "/workers/{wid}/leases/{lid}/fail") => ("lease.fail".into(), lease()),
        (m, r) => (format!("{m} {r}"), None),
    };
    Some((action, target))
}

/// Whether a request with this outcome belongs in the log.
fn recorded(method: &Method, action: &str, status: u16) -> bool {
    let success = (200..400).contains(&status);
    let routine = matches!(action, "worker.lease" | "lease.heartbeat" | "lease.result");
    !success || (*method != Method::GET && !routine)
}

fn result_of(status: u16) -> &'static str {
    match status {
        200..=399 => "ok",
        401 | 403 | 404 | 429 => "refused",
        _ => "failed",
    }
}

/// Middleware (outside the token check): records the request once it is answered.
pub async fn record(State(app): State<App>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()).unwrap_or_default();
    let path = req.uri().path().to_string();
    let source = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let Some((action, path_target)) = action_of(&method, &route, &path) else { return response };
    if !recorded(&method, &action, status) {
        return response;
    }
    let note = response.extensions().get::<Note>().cloned().unwrap_or_default();
    let who = response.extensions().get::<Principal>().cloned();
    let target = note.target.or(path_target);
    let job_id = target.as_deref().and_then(|t| t.strip_prefix("job:")).and_then(|t| t.split(' ').next());
    let job_id = job_id.and_then(|t| t.parse::<i64>().ok());
    let row = move |db: &Connection| -> Result<(), ApiError> {
        // A job's project comes from the job, whoever asked.
        let project = match (note.project, job_id) {
            (Some(p), _) => Some(p),
            (None, Some(id)) => {
                db.prepare_cached("SELECT project FROM jobs WHERE id = ?1")?.query_row([id], |r| r.get(0)).ok()
            }
            (None, None) => None,
        };
        let (user, role) = match &who {
            Some(p) => (p.name(), p.role_label(project.as_deref())),
            None => ("-".to_string(), "anonymous"),
        };
        db.prepare_cached(
            "INSERT INTO audit (at_ms, user, role, project, action, target, result, status, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![now_ms(), user, role, project, action, target, result_of(status), status, source])?;
        Ok(())
    };
    if let Err(e) = app.writer.call(move |db, _, _| row(db)).await {
        tracing::error!("writing the audit log: {e}");
    }
    response
}

/// Records a change made on the coordinator's host by `tessera coordinator
/// token|user|project …` (the operator is the local account).
pub fn record_local(conn: &Connection, action: &str, project: Option<&str>, target: &str) -> rusqlite::Result<()> {
    let account = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "?".into());
    conn.execute(
        "INSERT INTO audit (at_ms, user, role, project, action, target, result, status, source)
         VALUES (?1, ?2, 'operator', ?3, ?4, ?5, 'ok', 0, 'local')",
        params![now_ms(), format!("local:{account}"), project, action, target],
    )?;
    Ok(())
}

/// Which rows to read.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct Filter {
    /// Only rows at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    pub user: Option<String>,
    pub project: Option<String>,
}

/// One page of the audit log, oldest first.
pub fn read(conn: &Connection, filter: &Filter, page: PageQuery) -> Result<Page<Entry>, ApiError> {
    let limit = page.limit();
    let rows = conn
        .prepare(
            "SELECT id, at_ms, user, role, project, action, target, result, status, source FROM audit
             WHERE id > ?1 AND at_ms >= ?2 AND (?3 IS NULL OR user = ?3) AND (?4 IS NULL OR project = ?4)
             ORDER BY id LIMIT ?5",
        )?
        .query_map(
            params![page.after.unwrap_or(0), filter.since_ms.unwrap_or(0), filter.user, filter.project, limit + 1],
            |r| {
                Ok(Entry {
                    id: r.get(0)?,
                    at_ms: r.get(1)?,
                    user: r.get(2)?,
                    role: r.get(3)?,
                    project: r.get(4)?,
                    action: r.get(5)?,
                    target: r.get(6)?,
                    result: r.get(7)?,
                    status: r.get(8)?,
                    source: r.get(9)?,
                })
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::cut(rows, limit, |e| e.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_named_from_their_route() {
        let api = super::super::protocol::API;
        let (action, target) =
            action_of(&Method::POST, &format!("{api}/jobs/{{id}}/{{action}}"), &format!("{api}/jobs/12/cancel"))
                .unwrap();
        assert_eq!((action.as_str(), target.as_deref()), ("job.cancel", Some("job:12")));
        assert!(!recorded(&Method::GET, "job.status", 200) && recorded(&Method::GET, "job.status", 404));
        assert!(!recorded(&Method::POST, "lease.heartbeat", 200) && recorded(&Method::POST, "lease.heartbeat", 403));
        assert!(recorded(&Method::POST, "job.submit", 201));
        assert_eq!((result_of(201), result_of(429), result_of(409)), ("ok", "refused", "failed"));
    }

    #[test]
    fn the_log_is_append_only() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::farm::store::open(&dir.path().join("t.sqlite")).unwrap();
        conn.execute(
            "INSERT INTO audit (at_ms, user, role, action, result, status) VALUES (1, 'a', 'admin', 'x', 'ok', 200)",
            [],
        )
        .unwrap();
        assert!(conn.execute("UPDATE audit SET user = 'b'", []).is_err());
        assert!(conn.execute("DELETE FROM audit", []).is_err());
        let page = read(&conn, &Filter::default(), PageQuery::default()).unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].user, "a");
    }
}
