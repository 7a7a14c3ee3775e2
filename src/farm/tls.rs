//! TLS for the farm: the coordinator's certificate (reloaded on SIGHUP and when
//! its files change) and the clients' trust roots. rustls with the ring provider.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use axum_server::tls_rustls::RustlsConfig;

/// Makes ring the process's TLS provider (once; later calls change nothing).
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The coordinator's certificate chain and private key, as PEM files.
#[derive(Clone, Debug)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertFiles {
    /// A server configuration from the files, with an error that names them.
    pub async fn load(&self) -> anyhow::Result<RustlsConfig> {
        install_provider();
        RustlsConfig::from_pem_file(&self.cert, &self.key).await.map_err(|e| self.error(e))
    }

    fn error(&self, e: std::io::Error) -> anyhow::Error {
        anyhow::anyhow!(
            "cannot use the TLS certificate {} with key {}: {e} (both must be PEM: the chain, then its private key)",
            self.cert.display(),
            self.key.display()
        )
    }

    fn modified(&self) -> Option<(SystemTime, SystemTime)> {
        let time = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        Some((time(&self.cert)?, time(&self.key)?))
    }

    /// Reloads `config` on SIGHUP and when either file changes (checked every
    /// `poll`); a reload that fails keeps the certificate in use and says why.
    pub async fn watch(self, config: RustlsConfig, poll: Duration) {
        let mut seen = self.modified();
        #[cfg(unix)]
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut tick = tokio::time::interval(poll);
        loop {
            #[cfg(unix)]
            let signalled = async {
                match hangup.as_mut() {
                    Some(h) => h.recv().await.is_some(),
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let signalled = std::future::pending::<bool>();
            let why = tokio::select! {
                _ = tick.tick() => {
                    let now = self.modified();
                    if now == seen || now.is_none() {
                        continue;
                    }
                    seen = now;
                    "its files changed"
                }
                _ = signalled => "SIGHUP",
            };
            match config.reload_from_pem_file(&self.cert, &self.key).await {
                Ok(()) => eprintln!("Reloaded the TLS certificate {} ({why})", self.cert.display()),
                Err(e) => tracing::error!("{}; still serving the previous certificate", self.error(e)),
            }
        }
    }
}

/// The trust roots of a client: the system's, or only those of `ca_cert`.
pub fn client_roots(
    builder: reqwest::blocking::ClientBuilder,
    ca_cert: Option<&Path>,
) -> Result<reqwest::blocking::ClientBuilder, String> {
    install_provider();
    let Some(path) = ca_cert else { return Ok(builder) };
    let pem = std::fs::read(path).map_err(|e| format!("CA certificate {}: {e}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("CA certificate {}: not a PEM certificate: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("CA certificate {}: holds no PEM certificate", path.display()));
    }
    Ok(builder.tls_certs_only(certs))
}
