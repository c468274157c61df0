//! What the gateway tests stand on: an upstream that records what reaches it, real nginx and
//! Caddy processes started from the configurations in `docs/gateway/`, and raw HTTP helpers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use tempfile::TempDir;

use crate::helpers::Reply;

/// One request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// The request target exactly as it arrived (path and query).
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The address the request came from (the proxy's side of a pooled connection).
    pub peer: Option<SocketAddr>,
}

impl Seen {
    /// Every value of header `name`.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The one value of header `name`, if any; panics when it is there twice.
    pub fn header(&self, name: &str) -> Option<&str> {
        let values = self.header_values(name);
        assert!(values.len() <= 1, "{name} reached the upstream twice: {self:?}");
        values.first().copied()
    }
}

#[derive(Default)]
struct Record {
    seen: Vec<Seen>,
    /// Chunks of the body of the request in progress on `/stream-in`, as they arrive.
    stream_chunks: Vec<Vec<u8>>,
}

/// A small HTTP server on its own thread and runtime, recording every request.
///
/// `/slow…` answers after 3 s; `/stream-out…` sends `first` then, 1.5 s later, `second`;
/// `/stream-in…` records its body chunk by chunk; `/ws…` accepts an upgrade and echoes bytes.
/// Everything else answers `200 upstream saw METHOD TARGET`.
pub struct Upstream {
    pub addr: SocketAddr,
    record: Arc<Mutex<Record>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Upstream {
    pub fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the upstream");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let record = Arc::new(Mutex::new(Record::default()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = Arc::clone(&record);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new().fallback(move |request: Request| handle(Arc::clone(&shared), request));
                axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Upstream {
            addr,
            record,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.record.lock().unwrap().seen.clone()
    }

    /// Forgets what was received.
    pub fn clear(&self) {
        let mut record = self.record.lock().unwrap();
        record.seen.clear();
        record.stream_chunks.clear();
    }

    /// The body chunks of `/stream-in` received so far.
    pub fn stream_chunks(&self) -> Vec<Vec<u8>> {
        self.record.lock().unwrap().stream_chunks.clone()
    }

    /// The one request received since the last [`Upstream::clear`]; panics otherwise.
    #[track_caller]
    pub fn only(&self, what: &str) -> Seen {
        let seen = self.seen();
        assert_eq!(
            seen.len(),
            1,
            "{what}: the upstream should have seen exactly one request: {seen:#?}"
        );
        seen[0].clone()
    }

    /// Asserts that nothing reached the upstream since the last [`Upstream::clear`].
    #[track_caller]
    pub fn assert_nothing(&self, what: &str) {
        let seen = self.seen();
        assert!(
            seen.is_empty(),
            "{what}: nothing should reach the upstream, but it saw {seen:#?}"
        );
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn handle(record: Arc<Mutex<Record>>, mut request: Request) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or_else(|| request.uri().to_string(), |pq| pq.as_str().to_owned());
    let mut seen = Seen {
        method: request.method().to_string(),
        target: target.clone(),
        headers: request
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: Vec::new(),
        peer: request
            .extensions()
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map(|c| c.0),
    };
    if target.starts_with("/app/ws") || target.starts_with("/ws") {
        let upgrade = hyper::upgrade::on(&mut request);
        record.lock().unwrap().seen.push(seen);
        tokio::spawn(async move {
            if let Ok(upgraded) = upgrade.await {
                let mut io = hyper_util::rt::TokioIo::new(upgraded);
                let mut buffer = [0u8; 1024];
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                while let Ok(n) = io.read(&mut buffer).await {
                    if n == 0 || io.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            }
        });
        return Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .body(Body::empty())
            .unwrap();
    }
    let streaming_in = target.contains("/stream-in");
    let mut body = request.into_body();
    while let Some(Ok(frame)) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(data) = frame.into_data() {
            if streaming_in {
                record.lock().unwrap().stream_chunks.push(data.to_vec());
            }
            seen.body.extend_from_slice(&data);
        }
    }
    let answer = format!("upstream saw {} {}", seen.method, seen.target);
    record.lock().unwrap().seen.push(seen);
    if target.contains("/slow") {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    if target.contains("/stream-out") {
        let (tx, rx) = tokio::sync::mpsc::channel::<axum::body::Bytes>(2);
        tokio::spawn(async move {
            let _ = tx.send("first\n".into()).await;
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let _ = tx.send("second\n".into()).await;
        });
        return Response::new(Body::new(ChannelBody(rx)));
    }
    let mut response = Response::new(Body::from(answer));
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("text/plain"));
    response
}

/// A response body fed by a channel, so the upstream can pause between chunks.
struct ChannelBody(tokio::sync::mpsc::Receiver<axum::body::Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(hyper::body::Frame::data(c))))
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released for a peer to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free port")
        .port()
}

/// Where a tool is installed (the `PATH`, then `/usr/sbin` and `/usr/bin`, where Debian puts
/// nginx and Caddy); when it is not, either skips (returns `None` after saying why) or, under
/// `PORTCULLIS_TEST_STRICT=1`, fails the test.
pub fn find_tool(program: &str, test: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file());
    if found.is_none() {
        if std::env::var("PORTCULLIS_TEST_STRICT").as_deref() == Ok("1") {
            panic!("{test}: `{program}` is not installed, and PORTCULLIS_TEST_STRICT=1 requires it");
        }
        eprintln!("SKIPPED {test}: `{program}` is not installed (apt-get install {program})");
    }
    found
}

/// The repository's `docs/gateway/NAME` with the addresses it is written for replaced by the
/// test's: `127.0.0.1:8000` (the proxy), `127.0.0.1:8080` (Portcullis), `127.0.0.1:9000` (the
/// upstream). Each must occur, so the file cannot drift away from what is tested.
pub fn render_doc_config(name: &str, listen: u16, portcullis: SocketAddr, upstream: SocketAddr) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/gateway").join(name);
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    for (from, to) in [
        ("127.0.0.1:8000", format!("127.0.0.1:{listen}")),
        ("127.0.0.1:8080", portcullis.to_string()),
        ("127.0.0.1:9000", upstream.to_string()),
    ] {
        assert!(text.contains(from), "{name} should mention {from}");
        text = text.replace(from, &to);
    }
    text
}

/// A reverse proxy process (nginx or Caddy) in a temporary directory, stopped by PID on drop.
pub struct Peer {
    pub addr: SocketAddr,
    pub dir: TempDir,
    child: Option<Child>,
    log: PathBuf,
}

impl Peer {
    /// Starts `command` (already pointed at its config in `dir`) and waits until `port` accepts
    /// connections.
    pub fn start(mut command: Command, dir: TempDir, port: u16, log: PathBuf) -> Peer {
        let output = std::fs::File::create(dir.path().join("output.log")).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .spawn()
            .expect("start the peer");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut peer = Peer {
            addr,
            dir,
            child: Some(child),
            log,
        };
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            if let Some(Ok(Some(status))) = peer.child.as_mut().map(|c| c.try_wait()) {
                panic!("the peer exited with {status} before listening:\n{}", peer.logs());
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the peer did not listen on {addr} within 20 s:\n{}",
                peer.logs()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        peer
    }

    /// The peer's own output and error log, for failure messages.
    pub fn logs(&self) -> String {
        let output = std::fs::read_to_string(self.dir.path().join("output.log")).unwrap_or_default();
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!("--- output ---\n{output}\n--- log ---\n{log}")
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- peer logs ----\n{}", self.logs());
        }
    }
}

/// Starts nginx with `docs/gateway/nginx.conf` (the server block of the docs) inside a
/// minimal main configuration, in front of `upstream`, asking `portcullis` at `/auth/verify`.
pub fn start_nginx(nginx: &Path, portcullis: SocketAddr, upstream: SocketAddr) -> Peer {
    let dir = TempDir::new().unwrap();
    let port = free_port();
    let site = render_doc_config("nginx.conf", port, portcullis, upstream);
    std::fs::write(dir.path().join("site.conf"), site).unwrap();
    let d = dir.path().display();
    let main = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
         fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
         include {d}/site.conf;\n}}\n"
    );
    let config = dir.path().join("nginx.conf");
    std::fs::write(&config, main).unwrap();
    let mut command = Command::new(nginx);
    command.arg("-p").arg(dir.path()).arg("-c").arg(&config);
    let log = dir.path().join("error.log");
    Peer::start(command, dir, port, log)
}

/// Starts Caddy with `docs/gateway/Caddyfile` (the site block of the docs) after global
/// options that keep it offline and off the admin port.
pub fn start_caddy(caddy: &Path, portcullis: SocketAddr, upstream: SocketAddr) -> Peer {
    let dir = TempDir::new().unwrap();
    let port = free_port();
    let site = render_doc_config("Caddyfile", port, portcullis, upstream);
    let config = dir.path().join("Caddyfile");
    std::fs::write(&config, format!("{{\n\tadmin off\n\tauto_https off\n}}\n\n{site}")).unwrap();
    let mut command = Command::new(caddy);
    command
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&config)
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CONFIG_HOME", dir.path().join("config"));
    let log = dir.path().join("output.log");
    Peer::start(command, dir, port, log)
}

/// Sends raw bytes to `addr` and reads until the server closes or 5 s pass; returns the reply
/// and whether the server closed the connection.
pub fn raw_exchange(addr: SocketAddr, request: &[u8]) -> (Reply, bool) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(request).expect("send the raw request");
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 8192];
    let closed = loop {
        match stream.read(&mut buffer) {
            Ok(0) => break true,
            Ok(n) => bytes.extend_from_slice(&buffer[..n]),
            Err(_) => break false,
        }
    };
    (parse_first_response(&bytes), closed)
}

/// The status, headers and body of the first response in `bytes`.
fn parse_first_response(bytes: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(bytes);
    let Some((head, rest)) = text.split_once("\r\n\r\n") else {
        panic!("no complete response in {text:?}");
    };
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {text:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let body = match length {
        Some(n) => rest.chars().take(n).collect(),
        None => rest.to_owned(),
    };
    Reply { status, headers, body }
}
