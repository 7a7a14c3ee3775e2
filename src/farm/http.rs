//! The blocking HTTP client used by workers and the user commands: bearer
//! token on every request, JSON error bodies turned into [`ClientError`]s.

use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use super::protocol::ErrorBody;

/// A failed API call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The coordinator answered with an error.
    #[error("coordinator refused ({status} {code}): {message}")]
    Api { status: u16, code: String, message: String },
    /// The coordinator could not be reached or the connection broke.
    #[error("cannot reach the coordinator at {url}: {message}")]
    Transport { url: String, message: String },
    #[error("unexpected answer from the coordinator: {0}")]
    Decode(String),
    #[error("{0}")]
    Local(String),
}

impl ClientError {
    /// The HTTP status, for API errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
    /// Whether retrying later may succeed (network trouble, coordinator restarting or overloaded).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Transport { .. } => true,
            ClientError::Api { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// A coordinator's API, as one token holder.
#[derive(Clone)]
pub struct Api {
    client: Client,
    base: String,
    token: String,
}

impl Api {
    /// `base` is the coordinator's URL, e.g. `https://render-master:7878`;
    /// HTTPS is checked against the system's root certificates.
    pub fn new(base: &str, token: &str) -> Result<Self, ClientError> {
        Self::with_ca(base, token, None)
    }

    /// As [`Api::new`], trusting only the CA certificate(s) in `ca_cert` when given.
    pub fn with_ca(base: &str, token: &str, ca_cert: Option<&std::path::Path>) -> Result<Self, ClientError> {
        let base = base.trim_end_matches('/').to_string();
        if !base.starts_with("http://") && !base.starts_with("https://") {
            return Err(ClientError::Local(format!("coordinator URL \"{base}\" must start with http:// or https://")));
        }
        let builder = Client::builder().connect_timeout(Duration::from_secs(10)).timeout(Duration::from_secs(120));
        let client = super::tls::client_roots(builder, ca_cert)
            .map_err(ClientError::Local)?
            .build()
            .map_err(|e| ClientError::Local(format!("cannot create an HTTP client: {e}")))?;
        Ok(Self { client, base, token: token.to_string() })
    }

    /// The same coordinator and connection settings, as another token holder.
    pub fn with_token(&self, token: &str) -> Api {
        Api { token: token.to_string(), ..self.clone() }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request to `path` (starting with '/') with the token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token)
    }

    /// Sends a request; non-success statuses become [`ClientError::Api`].
    pub fn send(&self, request: RequestBuilder) -> Result<Response, ClientError> {
        let response = request.send().map_err(|e| self.transport(e))?;
        check(response)
    }

    /// Sends a request and decodes a JSON answer.
    pub fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, ClientError> {
        let response = self.send(request)?;
        response.json().map_err(|e| ClientError::Decode(e.to_string()))
    }

    pub fn transport(&self, e: reqwest::Error) -> ClientError {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message = format!("{message}: {s}");
            source = s.source();
        }
        ClientError::Transport { url: self.base.clone(), message }
    }
}

/// Turns an error status into [`ClientError::Api`] with the JSON body's code and message.
pub fn check(response: Response) -> Result<Response, ClientError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let text = response.text().unwrap_or_default();
    let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => (body.error.code, body.error.message),
        Err(_) => (status.canonical_reason().unwrap_or("error").to_string(), text),
    };
    Err(ClientError::Api { status: status.as_u16(), code, message })
}

/// Whether a status means "no content" (a long poll that found no work).
pub fn is_no_content(response: &Response) -> bool {
    response.status() == StatusCode::NO_CONTENT
}
