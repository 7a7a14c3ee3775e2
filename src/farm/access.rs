//! Users, projects and roles, and what each may do.
//!
//! Jobs, scene files and outputs belong to a project. A user is an admin (may
//! do everything: every project, tokens, workers, the audit log) or a member of
//! projects with one role each:
//!
//! | role | may |
//! |---|---|
//! | `viewer` | see the project's jobs, frames, outputs and usage |
//! | `artist` | … and upload scene files, submit, and control their own jobs |
//! | `wrangler` | … and control and reprioritise every job of the project |
//!
//! Outside their projects users see nothing: another project's job is "not
//! found", exactly like a job that does not exist. Each project has quotas
//! (queued tasks, running tasks, stored bytes) and a priority ceiling that
//! bind everyone but admins.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::auth::{valid_name, Identity, Principal, TokenError};
use super::error::ApiError;
use super::store::now_ms;

/// A member's role in a project, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ProjectRole {
    Viewer,
    Artist,
    Wrangler,
}

impl ProjectRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectRole::Viewer => "viewer",
            ProjectRole::Artist => "artist",
            ProjectRole::Wrangler => "wrangler",
        }
    }
    fn parse(s: &str) -> Option<ProjectRole> {
        Some(match s {
            "viewer" => ProjectRole::Viewer,
            "artist" => ProjectRole::Artist,
            "wrangler" => ProjectRole::Wrangler,
            _ => return None,
        })
    }
}

/// What a caller wants to do with a project or one of its jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// See jobs, frames, outputs, usage.
    Read,
    /// Upload scene files and submit jobs.
    Submit,
    /// Cancel, pause, resume or retry a job owned by `owner`.
    Control,
    /// Change a job's priority.
    Prioritise,
}

impl Principal {
    /// The role this principal acts with in `project` (admins act as wranglers everywhere).
    pub fn role_in(&self, project: &str) -> Option<ProjectRole> {
        if self.is_admin() {
            return Some(ProjectRole::Wrangler);
        }
        self.projects.get(project).copied()
    }

    /// How the audit log names this principal's role in `project`.
    pub fn role_label(&self, project: Option<&str>) -> &'static str {
        match &self.identity {
            Identity::User { admin: true, .. } => "admin",
            Identity::User { .. } => project.and_then(|p| self.projects.get(p)).map_or("user", |r| r.as_str()),
            Identity::Enrolment { .. } => "enrolment",
            Identity::Worker { .. } => "worker",
        }
    }

    /// May this principal do `action` in `project` (on a job owned by `owner`)?
    /// Outside its projects the answer is "not found", so nothing leaks.
    pub fn check(&self, action: Action, project: &str, owner: Option<&str>, what: &str) -> Result<(), ApiError> {
        let Some(role) = self.role_in(project) else {
            return Err(ApiError::not_found("not_found", format!("{what} not found")));
        };
        let own = matches!((&self.identity, owner), (Identity::User { name, .. }, Some(o)) if name == o);
        let allowed = match action {
            Action::Read => true,
            Action::Submit => role >= ProjectRole::Artist,
            Action::Control => role == ProjectRole::Wrangler || (role == ProjectRole::Artist && own),
            Action::Prioritise => role == ProjectRole::Wrangler,
        };
        if allowed {
            return Ok(());
        }
        let need = match action {
            Action::Submit => "an artist or wrangler",
            Action::Control if role == ProjectRole::Artist => "the job's owner or a wrangler",
            _ => "a wrangler",
        };
        Err(ApiError::forbidden(format!("you are a {} in project \"{project}\"; {what} needs {need}", role.as_str())))
    }

    /// The projects whose jobs this principal may list (`None`: every project).
    pub fn visible_projects(&self) -> Option<Vec<String>> {
        (!self.is_admin()).then(|| self.projects.keys().cloned().collect())
    }
}

/// A user's projects and roles.
pub fn memberships(conn: &Connection, user: &str) -> rusqlite::Result<BTreeMap<String, ProjectRole>> {
    let mut stmt = conn.prepare_cached("SELECT project, role FROM members WHERE user = ?1")?;
    let rows = stmt.query_map([user], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (project, role) = row?;
        if let Some(role) = ProjectRole::parse(&role) {
            out.insert(project, role);
        }
    }
    Ok(out)
}

/// Creates user `name` (not an admin) unless it exists.
pub fn ensure_user(conn: &Connection, name: &str) -> Result<(), TokenError> {
    if !valid_name(name) {
        return Err(TokenError::Name(name.into()));
    }
    conn.execute(
        "INSERT INTO users (name, admin, created_ms) VALUES (?1, 0, ?2) ON CONFLICT (name) DO NOTHING",
        params![name, now_ms()],
    )?;
    Ok(())
}

/// Creates or updates user `name`.
pub fn set_user(conn: &Connection, name: &str, admin: bool) -> Result<(), TokenError> {
    ensure_user(conn, name)?;
    conn.execute("UPDATE users SET admin = ?2 WHERE name = ?1", params![name, admin])?;
    Ok(())
}

/// Removes a user, their memberships and their tokens (their jobs stay).
pub fn remove_user(conn: &Connection, name: &str) -> Result<(), TokenError> {
    let tx = conn.unchecked_transaction()?;
    tx.execute("UPDATE tokens SET revoked = 1 WHERE kind = 'user' AND name = ?1", [name])?;
    tx.execute("DELETE FROM members WHERE user = ?1", [name])?;
    if tx.execute("DELETE FROM users WHERE name = ?1", [name])? == 0 {
        return Err(TokenError::Invalid(format!("no user \"{name}\" (see `tessera coordinator user list`)")));
    }
    Ok(tx.commit()?)
}

fn require_project(conn: &Connection, project: &str) -> Result<(), TokenError> {
    let exists: bool =
        conn.query_row("SELECT EXISTS (SELECT 1 FROM projects WHERE name = ?1)", [project], |r| r.get(0))?;
    if !exists {
        return Err(TokenError::Invalid(format!(
            "no project \"{project}\" (create it with `tessera coordinator project create {project}`)"
        )));
    }
    Ok(())
}

/// Makes `user` a member of `project` with `role` (replacing an earlier role).
pub fn grant(conn: &Connection, user: &str, project: &str, role: ProjectRole) -> Result<(), TokenError> {
    require_project(conn, project)?;
    ensure_user(conn, user)?;
    conn.execute(
        "INSERT INTO members (project, user, role) VALUES (?1, ?2, ?3)
         ON CONFLICT (project, user) DO UPDATE SET role = excluded.role",
        params![project, user, role.as_str()],
    )?;
    Ok(())
}

/// Ends `user`'s membership of `project`.
pub fn ungrant(conn: &Connection, user: &str, project: &str) -> Result<(), TokenError> {
    if conn.execute("DELETE FROM members WHERE project = ?1 AND user = ?2", params![project, user])? == 0 {
        return Err(TokenError::Invalid(format!("user \"{user}\" is not a member of project \"{project}\"")));
    }
    Ok(())
}

/// A user, for `user list`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct UserInfo {
    pub name: String,
    pub admin: bool,
    pub projects: BTreeMap<String, ProjectRole>,
}

pub fn list_users(conn: &Connection) -> Result<Vec<UserInfo>, TokenError> {
    let users: Vec<(String, bool)> = conn
        .prepare("SELECT name, admin FROM users ORDER BY name")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    users.into_iter().map(|(name, admin)| Ok(UserInfo { projects: memberships(conn, &name)?, name, admin })).collect()
}

/// A project's quotas; `None` is unlimited.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Quotas {
    pub max_queued_tasks: Option<u64>,
    pub max_running_tasks: Option<u64>,
    pub max_storage_bytes: Option<u64>,
    /// Highest priority its jobs may have.
    pub max_priority: i32,
}

/// A project and its quotas.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProjectInfo {
    pub name: String,
    #[serde(flatten)]
    pub quotas: Quotas,
}

/// A change to a project's quotas: `Some(None)` lifts a limit.
#[derive(Clone, Debug, Default)]
pub struct QuotaChange {
    pub max_queued_tasks: Option<Option<u64>>,
    pub max_running_tasks: Option<Option<u64>>,
    pub max_storage_bytes: Option<Option<u64>>,
    pub max_priority: Option<i32>,
}

/// Creates a project (with no limits) unless it exists, then applies `change`.
pub fn set_project(conn: &Connection, name: &str, create: bool, change: &QuotaChange) -> Result<(), TokenError> {
    if !valid_name(name) {
        return Err(TokenError::Name(name.into()));
    }
    if create {
        let added = conn.execute(
            "INSERT INTO projects (name, created_ms) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
            params![name, now_ms()],
        )?;
        if added == 0 {
            return Err(TokenError::Invalid(format!("project \"{name}\" exists (change it with `project set`)")));
        }
    } else {
        require_project(conn, name)?;
    }
    if let Some(p) = change.max_priority {
        if !super::scheduler::PRIORITY_RANGE.contains(&p) {
            return Err(TokenError::Invalid(format!("priority ceiling {p} is outside -1000..=1000")));
        }
        conn.execute("UPDATE projects SET max_priority = ?2 WHERE name = ?1", params![name, p])?;
    }
    let limits = [
        ("max_queued_tasks", change.max_queued_tasks),
        ("max_running_tasks", change.max_running_tasks),
        ("max_storage_bytes", change.max_storage_bytes),
    ];
    for (column, value) in limits {
        if let Some(v) = value {
            let v = v.map(|v| v.min(i64::MAX as u64) as i64);
            conn.execute(&format!("UPDATE projects SET {column} = ?2 WHERE name = ?1"), params![name, v])?;
        }
    }
    Ok(())
}

fn quota_row(r: &rusqlite::Row, first: usize) -> rusqlite::Result<Quotas> {
    let limit = |i: usize| -> rusqlite::Result<Option<u64>> {
        Ok(r.get::<_, Option<i64>>(first + i)?.map(|v| v.max(0) as u64))
    };
    Ok(Quotas {
        max_queued_tasks: limit(0)?,
        max_running_tasks: limit(1)?,
        max_storage_bytes: limit(2)?,
        max_priority: r.get(first + 3)?,
    })
}

const QUOTA_COLUMNS: &str = "max_queued_tasks, max_running_tasks, max_storage_bytes, max_priority";

/// A project's quotas, or `None` if there is no such project.
pub fn quotas(conn: &Connection, project: &str) -> rusqlite::Result<Option<Quotas>> {
    conn.prepare_cached(&format!("SELECT {QUOTA_COLUMNS} FROM projects WHERE name = ?1"))?
        .query_row([project], |r| quota_row(r, 0))
        .optional()
}

pub fn list_projects(conn: &Connection) -> Result<Vec<ProjectInfo>, TokenError> {
    Ok(conn
        .prepare(&format!("SELECT name, {QUOTA_COLUMNS} FROM projects ORDER BY name"))?
        .query_map([], |r| Ok(ProjectInfo { name: r.get(0)?, quotas: quota_row(r, 1)? }))?
        .collect::<Result<_, _>>()?)
}

/// Refuses a request over a quota: 429 with what the limit is.
pub fn over_quota(message: String) -> ApiError {
    ApiError::new(axum::http::StatusCode::TOO_MANY_REQUESTS, "quota_exceeded", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_the_table_says() {
        use Action::*;
        let alice = Principal::user("alice", false, &[("film", ProjectRole::Artist), ("ads", ProjectRole::Viewer)]);
        let wendy = Principal::user("wendy", false, &[("film", ProjectRole::Wrangler)]);
        let root = Principal::user("root", true, &[]);
        let ok = |p: &Principal, a, project, owner| p.check(a, project, owner, "job 1").is_ok();
        assert!(ok(&alice, Submit, "film", None) && ok(&alice, Control, "film", Some("alice")));
        assert!(!ok(&alice, Control, "film", Some("bob")) && !ok(&alice, Prioritise, "film", Some("alice")));
        assert!(ok(&alice, Read, "ads", None) && !ok(&alice, Submit, "ads", None));
        assert_eq!(alice.check(Read, "other", None, "job 1").unwrap_err().status.as_u16(), 404);
        assert_eq!(alice.check(Control, "film", Some("bob"), "job 1").unwrap_err().status.as_u16(), 403);
        assert!(ok(&wendy, Control, "film", Some("bob")) && ok(&wendy, Prioritise, "film", None));
        assert!(!ok(&wendy, Read, "ads", None));
        assert!(ok(&root, Prioritise, "anything", None));
    }

    #[test]
    fn projects_users_and_quotas_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::farm::store::open(&dir.path().join("t.sqlite")).unwrap();
        let change = QuotaChange { max_queued_tasks: Some(Some(10)), max_priority: Some(50), ..Default::default() };
        set_project(&conn, "film", true, &change).unwrap();
        assert!(set_project(&conn, "film", true, &QuotaChange::default()).is_err());
        let q = quotas(&conn, "film").unwrap().unwrap();
        assert_eq!((q.max_queued_tasks, q.max_running_tasks, q.max_priority), (Some(10), None, 50));
        set_project(&conn, "film", false, &QuotaChange { max_queued_tasks: Some(None), ..Default::default() }).unwrap();
        assert_eq!(quotas(&conn, "film").unwrap().unwrap().max_queued_tasks, None);
        assert!(grant(&conn, "alice", "nope", ProjectRole::Artist).is_err());
        grant(&conn, "alice", "film", ProjectRole::Viewer).unwrap();
        grant(&conn, "alice", "film", ProjectRole::Artist).unwrap();
        assert_eq!(memberships(&conn, "alice").unwrap().get("film"), Some(&ProjectRole::Artist));
        ungrant(&conn, "alice", "film").unwrap();
        assert!(memberships(&conn, "alice").unwrap().is_empty());
        remove_user(&conn, "alice").unwrap();
        assert!(list_users(&conn).unwrap().is_empty());
    }
}
