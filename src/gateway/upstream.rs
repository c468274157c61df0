//! Connections to one route's upstream: a pool of idle HTTP/1.1 connections that no task
//! drives while they wait, and the response body that drives its connection while it streams.
//!
//! A pooled client of the usual kind (hyper-util's) gives every upstream connection a task of
//! its own, so each proxied request crosses from the serving task to that task and back: two
//! task wake-ups, and on a busy core two more trips through the scheduler per request
//! (issue #8, bench/RESULTS.md). Here the task serving the client's request polls the upstream
//! connection itself — while it waits for the response head ([`Pool::send`]) and while the
//! response body streams ([`UpstreamBody`]) — and puts the connection back into the pool when
//! the body has ended. An idle connection needs no driving: HTTP/1.1 sends nothing unasked,
//! and one the upstream closed is noticed when it is next taken.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::header::{self, HeaderValue};
use axum::http::{Request, Response, Uri};
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long an idle connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Most idle connections kept per upstream; more are closed as they come back.
const MAX_IDLE: usize = 1024;

type Driver = Pin<Box<Connection<TokioIo<TcpStream>, Body>>>;

/// Why a request got no response head.
#[derive(Debug)]
pub enum Failure {
    /// Connecting, or the response head, took longer than the route allows.
    TimedOut,
    /// The upstream could not be reached, or broke the exchange.
    Broken(anyhow::Error),
}

/// One upstream connection with its sender. `driver` is `None` once the connection has ended.
struct Link {
    sender: SendRequest<Body>,
    driver: Option<Driver>,
    idle_since: Instant,
}

impl Link {
    /// Polls the connection, so it reads and writes what it can; notes when it has ended.
    fn drive(&mut self, cx: &mut Context<'_>) {
        if let Some(driver) = self.driver.as_mut()
            && let Poll::Ready(result) = driver.as_mut().poll(cx)
        {
            if let Err(error) = result {
                tracing::debug!(%error, "upstream connection ended");
            }
            self.driver = None;
        }
    }

    /// Whether the connection can take a request now.
    fn ready(&mut self, cx: &mut Context<'_>) -> bool {
        self.drive(cx);
        self.driver.is_some() && matches!(self.sender.poll_ready(cx), Poll::Ready(Ok(())))
    }
}

/// The idle connections to one upstream, newest last.
pub struct Pool {
    host: String,
    port: u16,
    /// The `Host` header the upstream gets: its own authority.
    authority: HeaderValue,
    connect_timeout: Duration,
    idle: Mutex<Vec<Link>>,
}

impl Pool {
    /// A pool for `upstream`, an `http://HOST:PORT` the configuration has checked
    /// ([`super::route`]).
    pub fn new(upstream: &Uri, connect_timeout: Duration) -> Self {
        let authority = upstream.authority().map_or("", |a| a.as_str());
        Self {
            host: upstream
                .host()
                .unwrap_or_default()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: upstream.port_u16().unwrap_or(80),
            // An authority `Uri` accepted holds only characters a header value may hold.
            authority: HeaderValue::from_str(authority).expect("a URI authority is a valid header value"),
            connect_timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Sends `request` (origin-form target, no `Host`) on an idle connection, or a new one if
    /// none is ready or the idle one turns out to be closed before the request went out. The
    /// response head must come within `timeout`.
    pub async fn send(
        self: &Arc<Self>,
        mut request: Request<Body>,
        timeout: Duration,
    ) -> Result<Response<UpstreamBody>, Failure> {
        request.headers_mut().insert(header::HOST, self.authority.clone());
        let exchange = async {
            if let Some(link) = poll_fn(|cx| Poll::Ready(self.take(cx))).await {
                match exchange(link, request).await {
                    Ok(answered) => return Ok(answered),
                    // Never written: the upstream closed the idle connection first.
                    Err((Some(unsent), _)) => request = unsent,
                    Err((None, error)) => return Err(Failure::Broken(error)),
                }
            }
            let link = self.connect().await?;
            exchange(link, request)
                .await
                .map_err(|(_, error)| Failure::Broken(error))
        };
        let (head, link, incoming) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| Failure::TimedOut)??;
        Ok(Response::from_parts(
            head,
            UpstreamBody {
                incoming,
                link: Some(link),
                pool: Arc::clone(self),
                ended: false,
            },
        ))
    }

    /// Sends an upgrade request on a connection of its own, driven by a task of its own, which
    /// hands the connection over once the upstream switches protocols.
    pub async fn send_upgrade(
        &self,
        mut request: Request<Body>,
        timeout: Duration,
    ) -> Result<Response<Incoming>, Failure> {
        request.headers_mut().insert(header::HOST, self.authority.clone());
        let exchange = async {
            let (mut sender, connection) = self.handshake().await?;
            tokio::spawn(async move {
                if let Err(error) = connection.with_upgrades().await {
                    tracing::debug!(%error, "upgraded upstream connection ended");
                }
            });
            sender
                .send_request(request)
                .await
                .map_err(|e| Failure::Broken(e.into()))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| Failure::TimedOut)?
    }

    /// The newest idle connection that is still open and ready, closing any found unusable.
    fn take(&self, cx: &mut Context<'_>) -> Option<Link> {
        loop {
            let mut link = {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                let link = idle.pop()?;
                if link.idle_since.elapsed() > IDLE_TIMEOUT {
                    // The rest are older still.
                    idle.clear();
                    return None;
                }
                link
            };
            if link.ready(cx) {
                return Some(link);
            }
        }
    }

    /// Keeps `link` for the next request if it is still open.
    fn put_back(&self, mut link: Link) {
        if link.driver.is_none() || link.sender.is_closed() {
            return;
        }
        link.idle_since = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(link);
        }
    }

    /// A new HTTP/1.1 connection to the upstream, within the route's connect timeout.
    async fn handshake(&self) -> Result<(SendRequest<Body>, Connection<TokioIo<TcpStream>, Body>), Failure> {
        let stream = tokio::time::timeout(
            self.connect_timeout,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| Failure::TimedOut)?
        .map_err(|e| {
            Failure::Broken(anyhow::Error::new(e).context(format!("connecting to {}:{}", self.host, self.port)))
        })?;
        let _ = stream.set_nodelay(true);
        http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Failure::Broken(e.into()))
    }

    async fn connect(&self) -> Result<Link, Failure> {
        let (sender, connection) = self.handshake().await?;
        Ok(Link {
            sender,
            driver: Some(Box::pin(connection)),
            idle_since: Instant::now(),
        })
    }
}

type Exchanged = (axum::http::response::Parts, Link, Incoming);

/// Sends `request` on `link`, driving the connection until the response head is in. On
/// failure, the request comes back if it was never written.
async fn exchange(mut link: Link, request: Request<Body>) -> Result<Exchanged, (Option<Request<Body>>, anyhow::Error)> {
    // Let the other requests that are ready go first, so their writes to the upstream come in
    // one run instead of waking the upstream (and being preempted by it) one at a time.
    tokio::task::yield_now().await;
    let mut answer = std::pin::pin!(link.sender.try_send_request(request));
    let answered = poll_fn(|cx| {
        link.drive(cx);
        answer.as_mut().poll(cx)
    })
    .await;
    match answered {
        Ok(response) => {
            let (head, incoming) = response.into_parts();
            Ok((head, link, incoming))
        }
        Err(mut error) => {
            let unsent = error.take_message();
            Err((unsent, error.into_error().into()))
        }
    }
}

/// A response body from the upstream. Polling it also drives the connection it comes from;
/// once it has ended, the connection goes back to the pool.
pub struct UpstreamBody {
    incoming: Incoming,
    link: Option<Link>,
    pool: Arc<Pool>,
    ended: bool,
}

impl hyper::body::Body for UpstreamBody {
    type Data = axum::body::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let mut frame = Pin::new(&mut this.incoming).poll_frame(cx);
        if frame.is_pending()
            && let Some(link) = this.link.as_mut()
        {
            // The connection reads on only when the body asks for more.
            link.drive(cx);
            frame = Pin::new(&mut this.incoming).poll_frame(cx);
        }
        if let Poll::Ready(None) = frame {
            this.ended = true;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        // A body dropped before its end leaves the connection mid-response: it is closed.
        if let Some(link) = self.link.take()
            && self.is_end_stream()
        {
            self.pool.put_back(link);
        }
    }
}
