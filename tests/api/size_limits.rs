//! Request size limits (issue 6.7): 413 for bodies, 431 for header sections, as problems.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn oversized_bodies_and_headers_are_refused_as_problems() {
    let app = TestApp::spawn_with_env(&[
        ("PORTCULLIS_LIMITS_MAX_BODY_SIZE", "2048"),
        ("PORTCULLIS_LIMITS_MAX_HEADER_SIZE", "4096"),
    ]);
    let session = app.admin_session().await;
    let big = json!({"name": "big", "description": "x".repeat(3000)});
    let reply = app.call("POST", "/api/tokens", Some(&session), Some(&big)).await;
    reply.assert_problem(413, None, "a body over max_body_size");
    assert!(reply.json()["detail"].as_str().unwrap().contains("2048"), "{reply:?}");
    let small = json!({"name": "small", "description": "x".repeat(1000)});
    app.call("POST", "/api/tokens", Some(&session), Some(&small))
        .await
        .assert_status(201, "a body within the limit");

    let padding = format!("X-Padding: {}", "p".repeat(5000));
    let reply = app.raw_request("GET", "/healthz", &[padding.as_bytes()]);
    reply.assert_problem(431, None, "headers over max_header_size");
    let reply = app.raw_request("GET", &format!("/api/users?{}", "q".repeat(5000)), &[]);
    reply.assert_problem(431, None, "a request line over max_header_size");
    let padding = format!("X-Padding: {}", "p".repeat(1000));
    app.raw_request("GET", "/healthz", &[padding.as_bytes()])
        .assert_status(200, "headers within the limit");
}

#[tokio::test]
async fn the_default_limits_leave_room_for_ordinary_requests() {
    let app = TestApp::spawn();
    let padding = format!("Cookie: {}", "c".repeat(8000));
    app.raw_request("GET", "/healthz", &[padding.as_bytes()])
        .assert_status(200, "8 KB of headers");
    let padding = format!("Cookie: {}", "c".repeat(20_000));
    app.raw_request("GET", "/healthz", &[padding.as_bytes()])
        .assert_problem(431, None, "20 KB of headers (default limit 16 KiB)");
    let session = app.admin_session().await;
    let big = json!({"name": "big", "description": "x".repeat(70_000)});
    app.call("POST", "/api/tokens", Some(&session), Some(&big))
        .await
        .assert_problem(413, None, "70 KB of JSON (default limit 64 KiB)");
}
