//! HTTPS: rustls with HTTP/2 and HTTP/1.1 (ALPN), certificate reload on SIGHUP. New
//! connections get the new certificate; open connections keep theirs and are not dropped.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

use crate::http::AppState;
use crate::http::serve::{self, Dispatch};

/// The certificate chain and private key files, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Longest time a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the files into a server configuration offering h2 and http/1.1.
pub fn load(files: &TlsFiles) -> anyhow::Result<ServerConfig> {
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| anyhow::anyhow!("reading certificates from {}: {e}", files.cert.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{} holds no PEM certificate", files.cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| anyhow::anyhow!("reading the private key from {}: {e}", files.key.display()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(|| format!("the key in {} does not fit the certificate", files.key.display()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Serves `app` over TLS with `config` (from [`load`], so bad files fail before the server
/// announces itself) until `shutdown` resolves, then lets open connections finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    app: Router,
    proxy: Arc<crate::gateway::Proxy>,
    files: TlsFiles,
    config: ServerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let config = Arc::new(RwLock::new(Arc::new(config)));
    let reloader = tokio::spawn(reload_on_hangup(files, config.clone()));
    let state = Arc::new(state);
    let graceful = GracefulShutdown::new();
    let builder = Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = serve::accept(&listener) => accepted,
            () = &mut shutdown => break,
        };
        let acceptor = TlsAcceptor::from(config.read().unwrap_or_else(|p| p.into_inner()).clone());
        let service = Dispatch::new(state.clone(), app.clone(), proxy.clone(), peer);
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => return tracing::debug!(%peer, %error, "TLS handshake failed"),
                Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
            };
            // HTTP/1 connections get the framing guard against request smuggling; HTTP/2 frames
            // carry their own lengths and are not HTTP/1 text.
            let result = if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                watcher
                    .watch(
                        builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service)
                            .into_owned(),
                    )
                    .await
            } else {
                let stream = crate::gateway::framing::Guarded::new(stream);
                watcher
                    .watch(
                        builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service)
                            .into_owned(),
                    )
                    .await
            };
            if let Err(error) = result {
                tracing::debug!(%peer, error = %error, "connection ended with an error");
            }
        });
    }
    reloader.abort();
    drop(listener);
    serve::drain(graceful).await;
    Ok(())
}

/// Reloads the certificate and key on every SIGHUP; a failed reload keeps the old ones.
async fn reload_on_hangup(files: TlsFiles, config: Arc<RwLock<Arc<ServerConfig>>>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            return tracing::warn!("cannot listen for SIGHUP; certificates will not be reloaded");
        };
        while hangups.recv().await.is_some() {
            match load(&files) {
                Ok(new) => {
                    *config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
                    tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
                }
                Err(error) => tracing::error!(
                    error = format!("{error:#}"),
                    "TLS reload failed; keeping the old certificate"
                ),
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (files, config);
    }
}
