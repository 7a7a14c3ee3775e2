//! Bearer tokens for users and workers.
//!
//! A token is 32 random bytes in hex behind a prefix that says its kind (`tsu_`
//! user, `tsa_` admin, `tsw_` worker). The database keeps only its SHA-256: a
//! salted slow hash buys nothing for 256-bit random secrets, and SHA-256 keeps
//! the check cheap on every request. Users see and control only their own jobs;
//! admins see all; worker tokens only lease, heartbeat, upload and fetch scene
//! files. Operators create tokens with `tessera coordinator token create`; on
//! first start the coordinator writes an admin and a worker token to
//! `DATA/tokens/`. Lookups are cached for [`CACHE_TTL`], so a revoked token stops
//! working within that time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rusqlite::{Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::store::{now_ms, ReadPool};

/// How long a token lookup is trusted before the database is asked again.
pub const CACHE_TTL: Duration = Duration::from_secs(10);

/// What a token lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Submits jobs and sees its own.
    User,
    /// A user who sees and controls every job.
    Admin,
    /// A render node.
    Worker,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
            Role::Worker => "worker",
        }
    }
    fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "user" => Role::User,
            "admin" => Role::Admin,
            "worker" => Role::Worker,
            _ => return None,
        })
    }
    fn prefix(self) -> &'static str {
        match self {
            Role::User => "tsu_",
            Role::Admin => "tsa_",
            Role::Worker => "tsw_",
        }
    }
}

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub role: Role,
    /// The user name (for workers: the token's label).
    pub name: String,
}

impl Principal {
    /// Whether this principal may see and control a job owned by `owner`.
    pub fn can_access(&self, owner: &str) -> bool {
        match self.role {
            Role::Admin => true,
            Role::User => self.name == owner,
            Role::Worker => false,
        }
    }
    pub fn require_user(&self) -> Result<(), ApiError> {
        match self.role {
            Role::User | Role::Admin => Ok(()),
            Role::Worker => Err(ApiError::forbidden("this endpoint needs a user token, not a worker token")),
        }
    }
    pub fn require_worker(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Worker => Ok(()),
            _ => Err(ApiError::forbidden("this endpoint needs a worker token")),
        }
    }
}

/// SHA-256 hex of a token, as stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Why a token could not be created or changed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot get random bytes for a token: {0}")]
    Random(String),
    #[error("user name \"{0}\" is invalid: use 1 to 64 letters, digits, '.', '-' or '_'")]
    Name(String),
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("no token has an id starting with \"{0}\" (see `tessera coordinator token list`)")]
    Unknown(String),
    #[error("token id prefix \"{0}\" matches several tokens; give more characters")]
    Ambiguous(String),
}

/// Whether `name` is acceptable as a user name or worker-token label.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Random hex of `bytes` random bytes.
pub fn random_hex(bytes: usize) -> Result<String, TokenError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| TokenError::Random(e.to_string()))?;
    Ok(hex::encode(buf))
}

/// Creates a token of `role` for user (or worker label) `name`; returns the token.
pub fn create_token(conn: &Connection, role: Role, name: &str) -> Result<String, TokenError> {
    if !valid_name(name) {
        return Err(TokenError::Name(name.into()));
    }
    let token = format!("{}{}", role.prefix(), random_hex(32)?);
    conn.execute(
        "INSERT INTO tokens (hash, kind, name, created_ms) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![hash_token(&token), role.as_str(), name, now_ms()],
    )?;
    Ok(token)
}

/// A stored token, without the secret.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TokenInfo {
    /// The first 12 hex digits of the hash: enough to name it for `revoke`.
    pub id: String,
    pub role: String,
    pub name: String,
    pub created_ms: i64,
    pub revoked: bool,
}

pub fn list_tokens(conn: &Connection) -> Result<Vec<TokenInfo>, TokenError> {
    let mut stmt = conn.prepare("SELECT hash, kind, name, created_ms, revoked FROM tokens ORDER BY created_ms")?;
    let rows = stmt.query_map([], |r| {
        let hash: String = r.get(0)?;
        Ok(TokenInfo {
            id: hash[..12].to_string(),
            role: r.get(1)?,
            name: r.get(2)?,
            created_ms: r.get(3)?,
            revoked: r.get::<_, i64>(4)? != 0,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Revokes the one token whose id starts with `prefix`.
pub fn revoke_token(conn: &Connection, prefix: &str) -> Result<(), TokenError> {
    let matching: Vec<String> = list_tokens(conn)?
        .into_iter()
        .filter(|t| !prefix.is_empty() && t.id.starts_with(prefix))
        .map(|t| t.id)
        .collect();
    match matching.as_slice() {
        [] => Err(TokenError::Unknown(prefix.into())),
        [id] => {
            conn.execute("UPDATE tokens SET revoked = 1 WHERE substr(hash, 1, 12) = ?1", [id])?;
            Ok(())
        }
        _ => Err(TokenError::Ambiguous(prefix.into())),
    }
}

/// Whether any token exists (a fresh data folder has none).
pub fn has_tokens(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM tokens)", [], |r| r.get(0))
}

fn lookup(conn: &Connection, hash: &str) -> rusqlite::Result<Option<Principal>> {
    conn.prepare_cached("SELECT kind, name FROM tokens WHERE hash = ?1 AND revoked = 0")?
        .query_row([hash], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .optional()
        .map(|row| row.and_then(|(kind, name)| Some(Principal { role: Role::parse(&kind)?, name })))
}

/// Checks bearer tokens against the database, with a short-lived cache.
#[derive(Clone)]
pub struct Authenticator {
    pool: ReadPool,
    cache: Arc<Mutex<HashMap<String, (Principal, Instant)>>>,
}

impl Authenticator {
    pub fn new(pool: ReadPool) -> Self {
        Self { pool, cache: Arc::default() }
    }

    pub async fn principal(&self, token: &str) -> Result<Principal, ApiError> {
        let hash = hash_token(token);
        if let Some((p, at)) = self.cache.lock().expect("token cache").get(&hash) {
            if at.elapsed() < CACHE_TTL {
                return Ok(p.clone());
            }
        }
        let key = hash.clone();
        let found = self.pool.read(move |conn| Ok(lookup(conn, &key)?)).await?;
        let principal = found.ok_or_else(|| ApiError::unauthorized("invalid or revoked token"))?;
        let mut cache = self.cache.lock().expect("token cache");
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(hash, (principal.clone(), Instant::now()));
        Ok(principal)
    }
}

/// Middleware: requires `Authorization: Bearer TOKEN` and puts the [`Principal`]
/// into the request's extensions.
pub async fn require_token(State(auth): State<Authenticator>, mut req: Request, next: Next) -> Response {
    let header = req.headers().get(axum::http::header::AUTHORIZATION).map(|v| v.to_str().unwrap_or(""));
    let token = match header {
        None => return ApiError::unauthorized("missing token: send `Authorization: Bearer TOKEN`").into_response(),
        Some(h) => match h.strip_prefix("Bearer ") {
            Some(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => return ApiError::unauthorized("the Authorization header must be `Bearer TOKEN`").into_response(),
        },
    };
    match auth.principal(&token).await {
        Ok(principal) => {
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// Middleware after [`require_token`]: `check` decides whether the caller may go on.
async fn role_gate(req: Request, next: Next, check: fn(&Principal) -> Result<(), ApiError>) -> Response {
    match req.extensions().get::<Principal>().map(check) {
        Some(Ok(())) => next.run(req).await,
        Some(Err(e)) => e.into_response(),
        None => ApiError::unauthorized("missing token").into_response(),
    }
}

/// Only user and admin tokens pass (checked before the body is read).
pub async fn users_only(req: Request, next: Next) -> Response {
    role_gate(req, next, Principal::require_user).await
}

/// Only worker tokens pass.
pub async fn workers_only(req: Request, next: Next) -> Response {
    role_gate(req, next, Principal::require_worker).await
}

/// Only admin tokens pass.
pub async fn admins_only(req: Request, next: Next) -> Response {
    role_gate(req, next, |p| match p.role {
        Role::Admin => Ok(()),
        _ => Err(ApiError::forbidden("this endpoint needs an admin token")),
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_hashed_and_can_be_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::farm::store::open(&dir.path().join("t.sqlite")).unwrap();
        assert!(!has_tokens(&conn).unwrap());
        let token = create_token(&conn, Role::User, "alice").unwrap();
        assert!(token.starts_with("tsu_") && token.len() == 4 + 64);
        let stored: String = conn.query_row("SELECT hash FROM tokens", [], |r| r.get(0)).unwrap();
        assert_ne!(stored, token);
        assert_eq!(
            lookup(&conn, &hash_token(&token)).unwrap(),
            Some(Principal { role: Role::User, name: "alice".into() })
        );
        assert_eq!(lookup(&conn, &hash_token("tsu_guess")).unwrap(), None);
        revoke_token(&conn, &stored[..6]).unwrap();
        assert_eq!(lookup(&conn, &hash_token(&token)).unwrap(), None);
        assert!(matches!(revoke_token(&conn, "zz"), Err(TokenError::Unknown(_))));
        assert!(matches!(create_token(&conn, Role::User, "../x"), Err(TokenError::Name(_))));
    }

    #[test]
    fn users_see_only_their_own_jobs() {
        let alice = Principal { role: Role::User, name: "alice".into() };
        let admin = Principal { role: Role::Admin, name: "root".into() };
        let worker = Principal { role: Role::Worker, name: "alice".into() };
        assert!(alice.can_access("alice") && !alice.can_access("bob"));
        assert!(admin.can_access("bob"));
        assert!(!worker.can_access("alice"));
        assert!(worker.require_user().is_err() && alice.require_worker().is_err());
    }
}
