//! Serving connections: the accept loop for plain HTTP, and the [`Dispatch`] every connection,
//! plain or TLS, hands its requests to.
//!
//! The dispatch answers `/auth/verify` itself, gives requests under a `[[routes]]` prefix
//! straight to the reverse proxy, and every other request to the axum router. Forward-auth and
//! the proxy serve the requests a guarded API gets, so they skip what they do not need: the
//! route table, the middleware stack and, for forward-auth, the body conversion (issue #8,
//! bench/RESULTS.md). They are observed exactly like a routed request
//! (`super::observe::observed`).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use super::AppState;
use crate::gateway::Proxy;
use crate::gateway::framing::Guarded;

/// Longest time open connections get to finish after shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// The service of one connection from `peer`.
#[derive(Clone)]
pub struct Dispatch {
    state: Arc<AppState>,
    router: Router,
    proxy: Arc<Proxy>,
    peer: SocketAddr,
}

impl Dispatch {
    pub fn new(state: Arc<AppState>, router: Router, proxy: Arc<Proxy>, peer: SocketAddr) -> Self {
        Self {
            state,
            router,
            proxy,
            peer,
        }
    }
}

impl hyper::service::Service<hyper::Request<Incoming>> for Dispatch {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        if request.uri().path() == crate::gateway::VERIFY_PATH {
            let state = self.state.clone();
            return Box::pin(async move { Ok(crate::gateway::serve_verify(&state, request).await) });
        }
        if self.proxy.takes(request.uri().path()) {
            let (proxy, peer) = (self.proxy.clone(), self.peer);
            return Box::pin(async move { Ok(proxy.serve(request, peer).await) });
        }
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(self.peer));
        Box::pin(self.router.clone().oneshot(request))
    }
}

/// The next connection. Errors such as running out of file descriptors are logged and waited
/// out instead of spinning.
pub async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                // Answers are written whole; a request-response protocol gains nothing from
                // Nagle's algorithm and streamed proxy bodies lose latency to it.
                let _ = stream.set_nodelay(true);
                return (stream, peer);
            }
            Err(error) => {
                tracing::warn!(%error, "accepting a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Waits for open connections to finish, at most `DRAIN_TIMEOUT` (30 s).
pub async fn drain(graceful: GracefulShutdown) {
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after {DRAIN_TIMEOUT:?}; closing them");
    }
}

/// Serves plain HTTP (HTTP/1.1, and HTTP/2 with prior knowledge) until `shutdown` resolves,
/// then lets open connections finish. Every connection gets the framing guard against request
/// smuggling.
pub async fn plain(
    listener: TcpListener,
    state: AppState,
    app: Router,
    proxy: Arc<Proxy>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let state = Arc::new(state);
    let graceful = GracefulShutdown::new();
    let builder = Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = accept(&listener) => accepted,
            () = &mut shutdown => break,
        };
        let service = Dispatch::new(state.clone(), app.clone(), proxy.clone(), peer);
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(Guarded::new(stream)), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, error = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    drain(graceful).await;
    Ok(())
}
