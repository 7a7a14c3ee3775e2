//! Bearer tokens and who holds them.
//!
//! A token is 32 random bytes in hex behind a prefix that says its kind: `tsu_`
//! acts as a user (see [`access`](super::access) for what users may do), `tse_`
//! only enrols render nodes, and `tsw_` is one worker's own credential, handed
//! out when it registers with an enrolment token. The database keeps only the
//! SHA-256: a salted slow hash buys nothing for 256-bit random secrets, and
//! SHA-256 keeps the check cheap on every request. Every request looks the token
//! up afresh (no cache), so revocation, expiry and role changes apply to the
//! next request.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use super::access::ProjectRole;
use super::error::ApiError;
use super::rate_limit::RateLimiter;
use super::store::{now_ms, ReadPool};

/// The kinds of token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    User,
    Enrolment,
    Worker,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::User => "user",
            TokenKind::Enrolment => "enrolment",
            TokenKind::Worker => "worker",
        }
    }
    fn parse(s: &str) -> Option<TokenKind> {
        Some(match s {
            "user" => TokenKind::User,
            "enrolment" => TokenKind::Enrolment,
            "worker" => TokenKind::Worker,
            _ => return None,
        })
    }
    fn prefix(self) -> &'static str {
        match self {
            TokenKind::User => "tsu_",
            TokenKind::Enrolment => "tse_",
            TokenKind::Worker => "tsw_",
        }
    }
}

/// Who a token speaks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// A person; admins may do everything.
    User { name: String, admin: bool },
    /// May only register workers.
    Enrolment { label: String },
    /// One registered render node.
    Worker { id: i64 },
}

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The first 12 hex digits of the token's hash: names it in listings and the audit log.
    pub token_id: String,
    pub identity: Identity,
    /// The user's projects and roles there (empty for other kinds).
    pub projects: BTreeMap<String, ProjectRole>,
}

impl Principal {
    /// A user principal (for tests and in-process callers).
    pub fn user(name: &str, admin: bool, projects: &[(&str, ProjectRole)]) -> Principal {
        Principal {
            token_id: String::new(),
            identity: Identity::User { name: name.into(), admin },
            projects: projects.iter().map(|(p, r)| (p.to_string(), *r)).collect(),
        }
    }

    /// The name recorded as the owner of what this principal submits, and in the audit log.
    pub fn name(&self) -> String {
        match &self.identity {
            Identity::User { name, .. } => name.clone(),
            Identity::Enrolment { label } => format!("enrolment:{label}"),
            Identity::Worker { id } => format!("worker:{id}"),
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self.identity, Identity::User { admin: true, .. })
    }

    /// The registered worker this credential belongs to.
    pub fn worker_id(&self) -> Option<i64> {
        match self.identity {
            Identity::Worker { id } => Some(id),
            _ => None,
        }
    }

    pub fn require_user(&self) -> Result<(), ApiError> {
        match self.identity {
            Identity::User { .. } => Ok(()),
            _ => Err(ApiError::forbidden("this endpoint needs a user token")),
        }
    }
}

/// SHA-256 hex of a token, as stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Why a token, user or project could not be created or changed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot get random bytes for a token: {0}")]
    Random(String),
    #[error("name \"{0}\" is invalid: use 1 to 64 letters, digits, '.', '-' or '_'")]
    Name(String),
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("no token has an id starting with \"{0}\" (see `tessera coordinator token list`)")]
    Unknown(String),
    #[error("token id prefix \"{0}\" matches several tokens; give more characters")]
    Ambiguous(String),
    #[error("{0}")]
    Invalid(String),
}

/// Whether `name` is acceptable as a user, project or label name.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Random hex of `bytes` random bytes.
pub fn random_hex(bytes: usize) -> Result<String, TokenError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| TokenError::Random(e.to_string()))?;
    Ok(hex::encode(buf))
}

/// What a new token is for.
#[derive(Clone, Debug)]
pub enum NewToken<'a> {
    /// Acts as this user (created, not an admin, when missing).
    User(&'a str),
    /// Registers workers; the label says which nodes it was given to.
    Enrolment(&'a str),
    /// The credential of worker `id`.
    Worker(i64),
}

/// Creates a token; returns the secret (shown once). `expires_ms`: when it stops working.
pub fn create_token(conn: &Connection, new: NewToken, expires_ms: Option<i64>) -> Result<String, TokenError> {
    let (kind, name, worker_id) = match new {
        NewToken::User(name) => {
            super::access::ensure_user(conn, name)?;
            (TokenKind::User, name.to_string(), None)
        }
        NewToken::Enrolment(label) if valid_name(label) => (TokenKind::Enrolment, label.to_string(), None),
        NewToken::Enrolment(label) => return Err(TokenError::Name(label.into())),
        NewToken::Worker(id) => (TokenKind::Worker, format!("worker-{id}"), Some(id)),
    };
    let token = format!("{}{}", kind.prefix(), random_hex(32)?);
    conn.execute(
        "INSERT INTO tokens (hash, kind, name, worker_id, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![hash_token(&token), kind.as_str(), name, worker_id, now_ms(), expires_ms],
    )?;
    Ok(token)
}

/// A stored token, without the secret.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TokenInfo {
    /// The first 12 hex digits of the hash: enough to name it for `revoke`.
    pub id: String,
    pub kind: String,
    pub name: String,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub revoked: bool,
}

pub fn list_tokens(conn: &Connection) -> Result<Vec<TokenInfo>, TokenError> {
    let mut stmt =
        conn.prepare("SELECT hash, kind, name, created_ms, expires_ms, revoked FROM tokens ORDER BY created_ms")?;
    let rows = stmt.query_map([], |r| {
        let hash: String = r.get(0)?;
        Ok(TokenInfo {
            id: hash[..12].to_string(),
            kind: r.get(1)?,
            name: r.get(2)?,
            created_ms: r.get(3)?,
            expires_ms: r.get(4)?,
            revoked: r.get::<_, i64>(5)? != 0,
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

/// Why a token was not accepted; the message never says more than the holder knows.
fn refused(expired: bool) -> ApiError {
    ApiError::unauthorized(if expired { "token expired" } else { "invalid or revoked token" })
}

/// The principal holding the token with this hash at `now`.
pub fn lookup(conn: &Connection, hash: &str, now: i64) -> Result<Principal, ApiError> {
    let row = conn
        .prepare_cached("SELECT kind, name, worker_id, expires_ms FROM tokens WHERE hash = ?1 AND revoked = 0")?
        .query_row([hash], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })
        .optional()?;
    let Some((kind, name, worker_id, expires)) = row else { return Err(refused(false)) };
    if expires.is_some_and(|e| e <= now) {
        return Err(refused(true));
    }
    let identity = match (TokenKind::parse(&kind), worker_id) {
        (Some(TokenKind::User), _) => {
            let admin: Option<bool> = conn
                .prepare_cached("SELECT admin FROM users WHERE name = ?1")?
                .query_row([&name], |r| r.get(0))
                .optional()?;
            // A token whose user was removed is dead.
            let Some(admin) = admin else { return Err(refused(false)) };
            Identity::User { name, admin }
        }
        (Some(TokenKind::Enrolment), _) => Identity::Enrolment { label: name },
        (Some(TokenKind::Worker), Some(id)) => Identity::Worker { id },
        _ => return Err(ApiError::internal(format!("token {}: bad kind {kind}", &hash[..12]))),
    };
    let projects = match &identity {
        Identity::User { name, .. } => super::access::memberships(conn, name)?,
        _ => BTreeMap::new(),
    };
    Ok(Principal { token_id: hash[..12].to_string(), identity, projects })
}

/// Checks bearer tokens against the database, and their request rates.
#[derive(Clone)]
pub struct Authenticator {
    pool: ReadPool,
    limiter: Arc<RateLimiter>,
}

impl Authenticator {
    pub fn new(pool: ReadPool, limiter: RateLimiter) -> Self {
        Self { pool, limiter: Arc::new(limiter) }
    }

    pub async fn principal(&self, token: &str) -> Result<Principal, ApiError> {
        let hash = hash_token(token);
        self.pool.read(move |conn| lookup(conn, &hash, now_ms())).await
    }

    /// Takes one request from the principal's rate limit.
    pub fn within_rate(&self, who: &Principal) -> Result<(), ApiError> {
        if who.worker_id().is_some() {
            return Ok(());
        }
        self.limiter.take(&who.token_id, std::time::Instant::now()).map_err(|wait| {
            ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!("too many requests with this token; retry in {} ms", wait.as_millis().max(1)),
            )
        })
    }
}

/// Middleware: requires `Authorization: Bearer TOKEN` and puts the [`Principal`]
/// into the request's extensions (and the response's, for the audit log).
pub async fn require_token(State(auth): State<Authenticator>, mut req: Request, next: Next) -> Response {
    let header = req.headers().get(axum::http::header::AUTHORIZATION).map(|v| v.to_str().unwrap_or(""));
    let token = match header {
        None => return ApiError::unauthorized("missing token: send `Authorization: Bearer TOKEN`").into_response(),
        Some(h) => match h.strip_prefix("Bearer ") {
            Some(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => return ApiError::unauthorized("the Authorization header must be `Bearer TOKEN`").into_response(),
        },
    };
    let principal = match auth.principal(&token).await {
        Ok(principal) => principal,
        Err(e) => return e.into_response(),
    };
    let mut response = match auth.within_rate(&principal) {
        Ok(()) => {
            req.extensions_mut().insert(principal.clone());
            next.run(req).await
        }
        Err(e) => e.into_response(),
    };
    response.extensions_mut().insert(principal);
    response
}

/// Middleware after [`require_token`]: `check` decides whether the caller may go on.
async fn role_gate(req: Request, next: Next, check: impl Fn(&Principal, &Request) -> Result<(), ApiError>) -> Response {
    match req.extensions().get::<Principal>().map(|p| check(p, &req)) {
        Some(Ok(())) => next.run(req).await,
        Some(Err(e)) => e.into_response(),
        None => ApiError::unauthorized("missing token").into_response(),
    }
}

/// Only user tokens pass (checked before the body is read).
pub async fn users_only(req: Request, next: Next) -> Response {
    role_gate(req, next, |p, _| p.require_user()).await
}

/// Only enrolment tokens pass.
pub async fn enrolment_only(req: Request, next: Next) -> Response {
    role_gate(req, next, |p, _| match p.identity {
        Identity::Enrolment { .. } => Ok(()),
        _ => Err(ApiError::forbidden("registering a worker needs an enrolment token")),
    })
    .await
}

/// Only worker credentials pass, and under `/workers/{wid}/…` only the credential
/// of worker `wid`.
pub async fn workers_only(req: Request, next: Next) -> Response {
    role_gate(req, next, |p, req| {
        let Some(id) = p.worker_id() else {
            return Err(ApiError::forbidden("this endpoint needs a worker credential (from registering)"));
        };
        let path_worker = req.uri().path().split("/workers/").nth(1).and_then(|rest| rest.split('/').next());
        match path_worker {
            Some(wid) if wid != id.to_string() => Err(ApiError::forbidden("this credential belongs to another worker")),
            _ => Ok(()),
        }
    })
    .await
}

/// Only admins pass.
pub async fn admins_only(req: Request, next: Next) -> Response {
    role_gate(req, next, |p, _| match p.is_admin() {
        true => Ok(()),
        false => Err(ApiError::forbidden("this endpoint needs an admin")),
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stored_hashed_expire_and_can_be_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let conn = crate::farm::store::open(&dir.path().join("t.sqlite")).unwrap();
        assert!(!has_tokens(&conn).unwrap());
        let token = create_token(&conn, NewToken::User("alice"), None).unwrap();
        assert!(token.starts_with("tsu_") && token.len() == 4 + 64);
        let stored: String = conn.query_row("SELECT hash FROM tokens", [], |r| r.get(0)).unwrap();
        assert_ne!(stored, token);
        let now = now_ms();
        let alice = lookup(&conn, &hash_token(&token), now).unwrap();
        assert_eq!(alice.identity, Identity::User { name: "alice".into(), admin: false });
        assert_eq!(lookup(&conn, &hash_token("tsu_guess"), now).unwrap_err().status.as_u16(), 401);
        revoke_token(&conn, &stored[..6]).unwrap();
        assert_eq!(lookup(&conn, &hash_token(&token), now).unwrap_err().message, "invalid or revoked token");
        assert!(matches!(revoke_token(&conn, "zz"), Err(TokenError::Unknown(_))));
        assert!(matches!(create_token(&conn, NewToken::User("../x"), None), Err(TokenError::Name(_))));

        let brief = create_token(&conn, NewToken::Enrolment("rack1"), Some(now + 1000)).unwrap();
        assert!(brief.starts_with("tse_"));
        assert!(matches!(lookup(&conn, &hash_token(&brief), now).unwrap().identity, Identity::Enrolment { .. }));
        assert_eq!(lookup(&conn, &hash_token(&brief), now + 1000).unwrap_err().message, "token expired");

        let worker = create_token(&conn, NewToken::Worker(7), None).unwrap();
        assert_eq!(lookup(&conn, &hash_token(&worker), now).unwrap().worker_id(), Some(7));
    }
}
