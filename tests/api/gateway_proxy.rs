//! The authenticating reverse proxy (issue 4.2, 4.3): `[[routes]]` in front of an upstream the
//! test starts.

use std::time::{Duration, Instant};

use crate::gateway_scenario::*;
use crate::gateway_support::*;
use crate::helpers::*;

/// A Portcullis whose route `/app` leads to `upstream`, with extra route lines.
fn proxy_app(upstream: &Upstream, extra: &str) -> TestApp {
    TestApp::spawn_with_config(&format!(
        "[[routes]]\nprefix = \"/app\"\nupstream = \"{}\"\n{extra}",
        upstream.url()
    ))
}

#[tokio::test]
async fn the_reverse_proxy_guards_an_upstream() {
    let upstream = Upstream::start();
    let app = proxy_app(&upstream, "");
    guard_scenario(Front::Proxy, app.addr, &app, &upstream).await;
    // Upstream status and latency are counted per route prefix, never per raw path.
    let metrics = app.call("GET", "/metrics", None, None).await.body;
    assert!(
        metrics.contains("portcullis_upstream_responses_total{route=\"/app\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_upstream_seconds_count{route=\"/app\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_upstream_gets_forwarding_headers_and_no_hop_by_hop_headers() {
    let upstream = Upstream::start();
    let app = proxy_app(&upstream, "");
    let (_, read) = app.create_token("read").await;
    let request = format!(
        "GET /app/x HTTP/1.1\r\nHost: api.example:8000\r\nAuthorization: Bearer {read}\r\n\
         Connection: close, X-Secret-Hop\r\nX-Secret-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n\
         Proxy-Authorization: Basic eDp5\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil\r\n\
         Forwarded: for=6.6.6.6\r\nX-Portcullis-Framing-Refused-Not: 1\r\nAccept: text/plain\r\n\r\n"
    );
    let (reply, _) = raw_exchange(app.addr, request.as_bytes());
    reply.assert_status(200, "a read GET");
    let seen = upstream.only("GET /app/x");
    assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"), "{seen:?}");
    assert_eq!(seen.header("x-forwarded-proto"), Some("http"), "{seen:?}");
    assert_eq!(seen.header("x-forwarded-host"), Some("api.example:8000"), "{seen:?}");
    assert_eq!(
        seen.header("accept"),
        Some("text/plain"),
        "end-to-end headers pass: {seen:?}"
    );
    for gone in [
        "x-secret-hop",
        "keep-alive",
        "te",
        "proxy-authorization",
        "forwarded",
        "authorization",
        "x-portcullis-framing-refused-not",
    ] {
        assert_eq!(seen.header(gone), None, "{gone} must not reach the upstream: {seen:?}");
    }
    assert_ne!(
        seen.header("host"),
        Some("api.example:8000"),
        "Host names the upstream: {seen:?}"
    );
}

#[tokio::test]
async fn upstream_connections_are_pooled() {
    let upstream = Upstream::start();
    let app = proxy_app(&upstream, "");
    let (_, read) = app.create_token("read").await;
    for i in 0..3 {
        app.get(&format!("/app/pooled/{i}"), &read)
            .await
            .assert_status(200, "GET");
    }
    let peers: Vec<_> = upstream.seen().iter().map(|s| s.peer).collect();
    assert_eq!(peers.len(), 3);
    assert!(
        peers[0].is_some() && peers.iter().all(|p| *p == peers[0]),
        "one pooled connection: {peers:?}"
    );
}

/// An upstream that answers one request per connection with keep-alive promised, then closes
/// the connection behind the proxy's back. It counts the connections it accepted.
fn closing_upstream() -> (std::net::SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            // Dropping the stream closes it: the pooled connection is now dead.
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn a_pooled_connection_the_upstream_closed_is_replaced_not_reported_as_502() {
    let (upstream, accepted) = closing_upstream();
    let app = TestApp::spawn_with_config(&format!(
        "[[routes]]\nprefix = \"/app\"\nupstream = \"http://{upstream}\"\n"
    ));
    let (_, read) = app.create_token("read").await;
    for i in 0..4 {
        let response = app.get(&format!("/app/closing/{i}"), &read).await;
        response.assert_status(
            200,
            &format!("request {i} after the upstream closed the last connection"),
        );
        assert_eq!(response.body, "ok");
        // Give the close time to arrive, as it would between requests in real traffic.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        4,
        "each request needed a connection of its own"
    );
}

#[tokio::test]
async fn proxied_requests_are_observed_and_checked_like_every_routed_request() {
    // Route prefixes are dispatched to the proxy before the router (src/http/serve.rs); they
    // must still get the request id, the log line, the metrics and the head checks.
    let upstream = Upstream::start();
    let app = TestApp::spawn_with_config(&format!(
        "log = \"info\"\nlog_format = \"json\"\n[limits]\nmax_header_size = 4096\n\n\
         [[routes]]\nprefix = \"/app\"\nupstream = \"{}\"\n",
        upstream.url()
    ));
    let (id, token) = app.create_token("read").await;
    let authorization = format!("Authorization: Bearer {token}");
    let allowed = app.raw_request(
        "GET",
        "/app/observed",
        &[authorization.as_bytes(), b"X-Request-Id: proxied-1"],
    );
    allowed.assert_status(200, "a read token reading through the proxy");
    assert_eq!(allowed.header("x-request-id"), Some("proxied-1"));
    assert_eq!(
        upstream.only("the allowed request").header("x-request-id"),
        Some("proxied-1"),
        "the upstream gets the request id too"
    );

    let refused = app.raw_request("GET", "/app/observed", &[]);
    refused.assert_problem(401, Some(WWW_NO_ERROR), "no token");
    let generated = refused.header("x-request-id").expect("a generated request id");
    assert_eq!(generated.len(), 32, "{generated}");

    let padding = format!("X-Padding: {}", "p".repeat(5000));
    app.raw_request("GET", "/app/observed", &[authorization.as_bytes(), padding.as_bytes()])
        .assert_problem(431, None, "headers over max_header_size");

    let smuggled = format!(
        "POST /app/observed HTTP/1.1\r\nHost: x\r\n{authorization}\r\n\
         Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    );
    let (reply, closed) = raw_exchange(app.addr, smuggled.as_bytes());
    reply.assert_problem(400, None, "both Content-Length and Transfer-Encoding");
    assert!(closed, "the connection is closed");
    assert_eq!(upstream.seen().len(), 1, "nothing refused reached the upstream");

    let event = app.request_log_event("proxied-1").await;
    assert_eq!(event["fields"]["status"], 200);
    assert_eq!(event["span"]["route"], "unmatched");
    assert_eq!(event["span"]["token_id"], id);
    assert!(!app.logs().contains(&token), "the secret never reaches the log");

    let metrics = app.call("GET", "/metrics", None, None).await.body;
    for (method, status) in [("GET", "200"), ("GET", "401"), ("GET", "431"), ("POST", "400")] {
        let series =
            format!("portcullis_http_requests_total{{route=\"unmatched\",method=\"{method}\",status=\"{status}\"}} 1");
        assert!(metrics.contains(&series), "{series} in:\n{metrics}");
    }
}

#[tokio::test]
async fn response_bodies_stream_through_without_being_buffered() {
    let upstream = Upstream::start();
    let app = proxy_app(&upstream, "");
    let (_, read) = app.create_token("read").await;
    let started = Instant::now();
    let mut response = app
        .client()
        .get(app.url("/app/stream-out"))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let first = response.chunk().await.unwrap().expect("a first chunk");
    let first_at = started.elapsed();
    assert_eq!(&first[..], b"first\n");
    assert!(
        first_at < Duration::from_millis(1200),
        "the first chunk arrived after {first_at:?}: the response was buffered"
    );
    let second = response.chunk().await.unwrap().expect("a second chunk");
    assert_eq!(&second[..], b"second\n");
}

#[tokio::test]
async fn request_bodies_stream_through_without_being_buffered() {
    use std::io::{Read, Write};
    let upstream = Upstream::start();
    let app = proxy_app(&upstream, "");
    let (_, full) = app.create_token("full").await;
    let mut stream = std::net::TcpStream::connect(app.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /app/stream-in HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {full}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    while upstream.stream_chunks().concat() != b"hello" {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the first chunk never reached the upstream before the body ended: it was buffered"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    stream.write_all(b"6\r\n world\r\n0\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(upstream.only("stream-in").body, b"hello world");
}

#[tokio::test]
async fn websocket_upgrades_are_tunnelled() {
    use std::io::{Read, Write};
    let upstream = Upstream::start();
    let app = proxy_app(&upstream, "");
    let (_, read) = app.create_token("read").await;
    let mut stream = std::net::TcpStream::connect(app.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let head = format!(
        "GET /app/ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {read}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "the head of the answer: {answer:?}");
        answer.push(byte[0]);
    }
    let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 101"), "{answer}");
    assert!(answer.contains("upgrade: websocket"), "{answer}");
    let seen = upstream.only("the upgrade request");
    assert_eq!(seen.header("upgrade"), Some("websocket"));
    assert_eq!(seen.header("x-portcullis-access"), Some("read"));
    stream.write_all(b"ping over the tunnel").unwrap();
    let mut echoed = [0u8; 20];
    stream.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"ping over the tunnel");
}

#[tokio::test]
async fn an_upstream_that_is_down_gives_502_and_a_slow_one_504() {
    let upstream = Upstream::start();
    let closed_port = free_port();
    let app = TestApp::spawn_with_config(&format!(
        "[[routes]]\nprefix = \"/app\"\nupstream = \"{}\"\ntimeout = \"1s\"\n\n\
         [[routes]]\nprefix = \"/down\"\nupstream = \"http://127.0.0.1:{closed_port}\"\n",
        upstream.url()
    ));
    let (_, read) = app.create_token("read").await;
    app.get("/down/x", &read)
        .await
        .assert_problem(502, None, "upstream down");
    let started = Instant::now();
    app.get("/app/slow", &read)
        .await
        .assert_problem(504, None, "upstream slow");
    assert!(started.elapsed() < Duration::from_millis(2900), "the timeout is 1 s");
    assert!(!app.logs().contains(&read), "the token must not be logged");
}

#[tokio::test]
async fn route_options_set_access_and_authorization_forwarding() {
    let upstream = Upstream::start();
    let app = TestApp::spawn_with_config(&format!(
        "[[routes]]\nprefix = \"/search\"\nupstream = \"{u}\"\naccess = \"read\"\n\n\
         [[routes]]\nprefix = \"/admin-api\"\nupstream = \"{u}\"\naccess = \"full\"\nstrip_authorization = false\n\n\
         [[routes]]\nprefix = \"/public\"\nupstream = \"{u}\"\naccess = \"public\"\n",
        u = upstream.url()
    ));
    let (_, read) = app.create_token("read").await;
    let (_, full) = app.create_token("full").await;

    upstream.clear();
    app.call("POST", "/search/query", Some(&read), None)
        .await
        .assert_status(200, "read route, read POST");
    upstream.only("read route");

    upstream.clear();
    app.get("/admin-api/x", &read)
        .await
        .assert_problem(403, Some(WWW_SCOPE_FULL), "full route, read GET");
    upstream.assert_nothing("full route, read GET");
    app.get("/admin-api/x", &full)
        .await
        .assert_status(200, "full route, full GET");
    let seen = upstream.only("full route");
    assert_eq!(seen.header("authorization"), Some(format!("Bearer {full}").as_str()));

    upstream.clear();
    let reply = app
        .client()
        .post(app.url("/public/hook"))
        .header("X-Portcullis-Access", "full")
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200, "a public route needs no token");
    let seen = upstream.only("public route");
    assert_eq!(seen.header("x-portcullis-access"), None, "{seen:?}");

    // Sessions are for the web admin and the REST API, not for the gateway.
    let session = app.admin_session().await;
    app.get("/search/x", &session)
        .await
        .assert_problem(401, Some(WWW_INVALID_TOKEN), "a session");
}

#[tokio::test]
async fn paths_outside_every_route_keep_their_meaning() {
    let upstream = Upstream::start();
    let app = proxy_app(&upstream, "");
    let (_, full) = app.create_token("full").await;
    let auth = format!("Authorization: Bearer {full}");
    app.get("/nowhere", &full).await.assert_problem(404, None, "no route");
    app.get("/api/users", &full)
        .await
        .assert_status(200, "Portcullis' own API still answers");
    app.raw_request("GET", "/app/../api/users", &[auth.as_bytes()])
        .assert_problem(400, None, "out of a route into the API");
    app.raw_request("GET", "/x/../api/users", &[auth.as_bytes()])
        .assert_problem(400, None, "into the API by a detour");
    upstream.clear();
    app.raw_request("GET", "/x/../app/in", &[auth.as_bytes()])
        .assert_status(200, "into a route");
    assert_eq!(
        upstream.only("into a route").target,
        "/app/in",
        "the checked path is the forwarded one"
    );
    upstream.clear();
    app.raw_request("GET", "/app/a/./b/../c//d?q=%2F", &[auth.as_bytes()])
        .assert_status(200, "dots inside");
    assert_eq!(upstream.only("dots inside").target, "/app/a/c/d?q=%2F");
}

#[tokio::test]
async fn a_bad_route_is_a_one_line_configuration_error() {
    let dir = tempfile::TempDir::new().unwrap();
    for (config, expected) in [
        (
            "[[routes]]\nprefix = \"/api\"\nupstream = \"http://127.0.0.1:9\"\n",
            "overlaps",
        ),
        (
            "[[routes]]\nprefix = \"/x\"\nupstream = \"https://127.0.0.1:9\"\n",
            "routes.upstream",
        ),
        ("[[routes]]\nprefix = \"/x\"\n", "upstream"),
        (
            "[[routes]]\nprefix = \"/x\"\nupstream = \"http://127.0.0.1:9\"\naccess = \"write\"\n",
            "write",
        ),
    ] {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, config).unwrap();
        let out = run_cli(dir.path(), &["--config", path.to_str().unwrap(), "check"], None, &[]);
        assert!(!out.status.success(), "{config:?} should be refused");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{config:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
}

#[tokio::test]
async fn ambiguous_framing_is_refused_on_portcullis_own_routes_too() {
    let app = TestApp::spawn();
    let (_, full) = app.create_token("full").await;
    for framing in [
        "Transfer-Encoding: chunked\r\nContent-Length: 2",
        "Content-Length: 2\r\nContent-Length: 2",
    ] {
        let request = format!(
            "POST /api/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {full}\r\n\
             Content-Type: application/json\r\n{framing}\r\n\r\n{{}}"
        );
        let (reply, closed) = raw_exchange(app.addr, request.as_bytes());
        reply.assert_problem(400, None, framing);
        assert_eq!(reply.header("connection"), Some("close"), "{framing}");
        assert!(closed, "{framing}: the connection is closed");
    }
    // A keep-alive connection whose second request is ambiguous: the first is served.
    let request = format!(
        "GET /api/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {full}\r\n\r\n\
         POST /api/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {full}\r\n\
         Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    );
    let (first, closed) = raw_exchange(app.addr, request.as_bytes());
    first.assert_status(200, "the first request of the connection");
    assert!(closed, "the connection is closed after the second");
}
