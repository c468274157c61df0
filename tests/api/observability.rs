//! Operations: Prometheus metrics, request ids, and one structured log line per request.

use std::time::{Duration, Instant};

use crate::helpers::{TestApp, WWW_NO_ERROR, with_bad_checksum};

#[tokio::test]
async fn metrics_count_verification_outcomes_without_naming_any_token() {
    let app = TestApp::spawn();
    let (id, token) = app.create_token("read").await;
    let session = app.admin_session().await;
    app.get("/api/users", &token).await.assert_status(200, "allowed");
    app.get("/api/users", &token)
        .await
        .assert_status(200, "allowed again (cache hit)");
    app.get("/api/users", &with_bad_checksum(&token))
        .await
        .assert_status(401, "bad checksum");
    app.call("POST", "/api/users", Some(&token), None)
        .await
        .assert_status(403, "read token writing");
    app.call("GET", "/api/users", None, None)
        .await
        .assert_status(401, "no credential");
    app.call("DELETE", &format!("/api/tokens/{id}"), Some(&session), None)
        .await
        .assert_status(204, "revoke");
    app.get("/api/users", &token).await.assert_status(401, "revoked");

    let reply = app.call("GET", "/metrics", None, None).await;
    reply.assert_status(200, "metrics are open by default");
    assert!(
        reply
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/plain; version=0.0.4")
    );
    let text = reply.body;
    let counter = |series: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no series {series} in:\n{text}"))
    };
    assert!(counter("portcullis_verifications_total{outcome=\"allowed\"}") >= 3.0);
    assert_eq!(counter("portcullis_verifications_total{outcome=\"invalid\"}"), 1.0);
    assert_eq!(counter("portcullis_verifications_total{outcome=\"revoked\"}"), 1.0);
    assert_eq!(
        counter("portcullis_verifications_total{outcome=\"insufficient_scope\"}"),
        1.0
    );
    assert_eq!(counter("portcullis_verifications_total{outcome=\"missing\"}"), 1.0);
    assert!(counter("portcullis_cache_lookups_total{result=\"hit\"}") >= 1.0);
    assert!(text.contains("portcullis_verification_seconds_bucket"));
    assert!(text.contains("portcullis_store_pool_connections{state=\"idle\"}"));
    assert!(
        text.contains("route=\"/api/tokens/{id}\""),
        "route templates, not raw paths:\n{text}"
    );
    assert!(!text.contains(&format!("/api/tokens/{id}\"")), "no raw path with an id");
    assert!(!text.contains(&token[..20]), "no secret");
}

#[tokio::test]
async fn metrics_can_be_put_behind_a_token() {
    let app = TestApp::spawn_with_env(&[("PORTCULLIS_METRICS_REQUIRE_TOKEN", "true")]);
    let reply = app.call("GET", "/metrics", None, None).await;
    reply.assert_problem(401, Some(WWW_NO_ERROR), "metrics without a token when one is required");
    let (_, token) = app.create_token("read").await;
    app.get("/metrics", &token)
        .await
        .assert_status(200, "any valid token reads metrics");
}

#[tokio::test]
async fn a_sane_request_id_is_echoed_and_a_missing_one_is_generated() {
    let app = TestApp::spawn();
    let reply = app.raw_request("GET", "/healthz", &[b"X-Request-Id: job-42.step_7"]);
    assert_eq!(reply.header("x-request-id"), Some("job-42.step_7"));
    let generated = app.raw_request("GET", "/healthz", &[]);
    let id = generated.header("x-request-id").expect("a generated request id");
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "32 hex digits: {id}"
    );
    let next = app.raw_request("GET", "/healthz", &[]);
    assert_ne!(next.header("x-request-id"), Some(id), "each request gets its own id");
    let hostile = app.raw_request("GET", "/healthz", &[b"X-Request-Id: two words"]);
    assert_ne!(
        hostile.header("x-request-id"),
        Some("two words"),
        "an id with spaces is replaced"
    );
}

#[tokio::test]
async fn json_logs_have_one_line_per_request_with_route_status_latency_and_token_id() {
    let app = TestApp::spawn_with_env(&[("PORTCULLIS_LOG_FORMAT", "json"), ("PORTCULLIS_LOG", "info")]);
    let (id, token) = app.create_token("read").await;
    let reply = app.raw_request(
        "GET",
        "/api/users/1",
        &[
            format!("Authorization: Bearer {token}").as_bytes(),
            b"X-Request-Id: trace-me-1",
        ],
    );
    assert_eq!(reply.status, 200);
    let event = app.request_log_event("trace-me-1").await;
    assert_eq!(event["fields"]["message"], "request");
    assert_eq!(event["fields"]["status"], 200);
    assert!(event["fields"]["latency_ms"].as_f64().is_some(), "{event}");
    assert_eq!(event["span"]["method"], "GET");
    assert_eq!(event["span"]["route"], "/api/users/{id}");
    assert_eq!(event["span"]["token_id"], id);
    assert!(!app.logs().contains(&token), "the secret never reaches the log");
}

/// Issue #8 item 5: however many requests a token makes, its last-used time is written at
/// most once per flush interval.
#[tokio::test]
async fn last_used_is_written_at_most_once_per_token_per_flush() {
    let app = TestApp::spawn_with_env(&[("PORTCULLIS_TOKENS_LAST_USED_FLUSH_INTERVAL", "1s")]);
    let (_, busy) = app.create_token("read").await;
    let (_, other) = app.create_token("read").await;
    let writes = |text: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix("portcullis_last_used_writes_total "))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no last-used write counter in:\n{text}"))
    };
    let before = writes(&app.call("GET", "/metrics", None, None).await.body);
    let started = Instant::now();
    let mut requests = 0;
    while started.elapsed() < Duration::from_millis(2500) {
        for token in [&busy, &busy, &busy, &other] {
            app.get("/api/token", token).await.assert_status(200, "a valid token");
            requests += 1;
        }
    }
    // Let the last flush of the burst happen.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let written = writes(&app.call("GET", "/metrics", None, None).await.body) - before;
    let flushes = started.elapsed().as_secs_f64().ceil() + 1.0;
    assert!(requests > 100, "a burst of requests: {requests}");
    assert!(written >= 2.0, "both tokens' uses are written: {written}");
    assert!(
        written <= 2.0 * flushes,
        "{requests} requests by 2 tokens over {flushes} flushes wrote {written} last-used times"
    );
}

/// The server's own batched last-used and usage writes are not changes to a verification, so
/// they leave the verification cache alone; a revocation from another process still clears it.
#[tokio::test]
async fn flushing_last_used_times_keeps_the_cache_and_a_cli_revoke_clears_it() {
    let app = TestApp::spawn_with_env(&[("PORTCULLIS_TOKENS_LAST_USED_FLUSH_INTERVAL", "1s")]);
    let (id, token) = app.create_token("read").await;
    let misses = |text: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix("portcullis_cache_lookups_total{result=\"miss\"} "))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no cache miss counter in:\n{text}"))
    };
    let flushed = |text: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix("portcullis_last_used_writes_total "))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // The token's creation is itself a change, seen by the next change poll (every 100 ms):
    // use the token once that has passed, so it is cached for good.
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.get("/api/token", &token).await.assert_status(200, "first use");
    let metrics = app.call("GET", "/metrics", None, None).await.body;
    let (before, flushes_before) = (misses(&metrics), flushed(&metrics));
    let deadline = Instant::now() + Duration::from_secs(10);
    while flushed(&app.call("GET", "/metrics", None, None).await.body) <= flushes_before {
        assert!(Instant::now() < deadline, "the use is flushed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Two change polls later, the cache still holds the token.
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.get("/api/token", &token).await.assert_status(200, "used again");
    let after = misses(&app.call("GET", "/metrics", None, None).await.body);
    assert_eq!(after, before, "no cache miss after the flush");

    let out = app.cli(&["token", "revoke", &id.to_string()]);
    assert!(out.status.success(), "{}", crate::helpers::describe(&out));
    let deadline = Instant::now() + Duration::from_secs(2);
    while app.get("/api/token", &token).await.status != 401 {
        assert!(Instant::now() < deadline, "the CLI revoke reaches the running server");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `/auth/verify` is answered before the router (issue #8); it still gets everything the
/// router's requests get: the request id, the log line, the metrics sample and the head checks.
#[tokio::test]
async fn forward_auth_is_observed_and_checked_like_every_routed_request() {
    let app = TestApp::spawn_with_env(&[
        ("PORTCULLIS_LOG_FORMAT", "json"),
        ("PORTCULLIS_LOG", "info"),
        ("PORTCULLIS_LIMITS_MAX_HEADER_SIZE", "4096"),
    ]);
    let (id, token) = app.create_token("read").await;
    let authorization = format!("Authorization: Bearer {token}");
    let allowed = app.raw_request(
        "GET",
        "/auth/verify",
        &[
            authorization.as_bytes(),
            b"X-Original-Method: GET",
            b"X-Original-URI: /items",
            b"X-Request-Id: verify-me-1",
        ],
    );
    allowed.assert_status(204, "a read token reading");
    assert_eq!(allowed.header("x-request-id"), Some("verify-me-1"));
    assert_eq!(allowed.header("x-portcullis-token-id"), Some(id.to_string().as_str()));

    let refused = app.raw_request("GET", "/auth/verify", &[authorization.as_bytes()]);
    refused.assert_problem(400, None, "no original method");
    let generated = refused.header("x-request-id").expect("a generated request id");
    assert_eq!(generated.len(), 32, "{generated}");

    let padding = format!("X-Padding: {}", "p".repeat(5000));
    app.raw_request("GET", "/auth/verify", &[authorization.as_bytes(), padding.as_bytes()])
        .assert_problem(431, None, "headers over max_header_size");

    let smuggled = format!(
        "GET /auth/verify HTTP/1.1\r\nHost: x\r\n{authorization}\r\nX-Original-Method: GET\r\n\
         X-Original-URI: /items\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    );
    let (reply, closed) = crate::gateway_support::raw_exchange(app.addr, smuggled.as_bytes());
    reply.assert_problem(400, None, "both Content-Length and Transfer-Encoding");
    assert!(closed, "the connection is closed");

    let event = app.request_log_event("verify-me-1").await;
    assert_eq!(event["fields"]["status"], 204);
    assert_eq!(event["span"]["route"], "/auth/verify");
    assert_eq!(event["span"]["token_id"], id);
    assert!(!app.logs().contains(&token), "the secret never reaches the log");

    let metrics = app.call("GET", "/metrics", None, None).await.body;
    for status in ["204", "400", "431"] {
        let series =
            format!("portcullis_http_requests_total{{route=\"/auth/verify\",method=\"GET\",status=\"{status}\"}}");
        assert!(metrics.contains(&series), "{series} in:\n{metrics}");
    }
}
