//! Health checks, routing errors, the first-start setup link and graceful shutdown.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn health_and_readiness_answer_without_a_credential() {
    let app = TestApp::spawn();
    for path in ["/healthz", "/readyz"] {
        app.call("GET", path, None, None)
            .await
            .assert_status(200, &format!("GET {path} without a credential"));
    }
}

#[tokio::test]
async fn an_unknown_route_gets_a_404_problem() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    for path in [
        "/api/nope",
        "/api/users/1/friends",
        "/api/tokens/1/rotate",
        "/api/userz",
    ] {
        let reply = app.get(path, &session).await;
        reply.assert_problem(404, None, &format!("GET {path}"));
    }
}

#[tokio::test]
async fn a_wrong_method_on_a_known_route_gets_a_405_problem() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    for (method, path) in [
        ("DELETE", "/api/users"),
        ("PUT", "/api/tokens"),
        ("GET", "/api/tokens/1/regenerate"),
        ("POST", "/api/token"),
        ("GET", "/api/sessions"),
        ("POST", "/healthz"),
        ("DELETE", "/readyz"),
    ] {
        let reply = app.call(method, path, Some(&session), None).await;
        reply.assert_problem(405, None, &format!("{method} {path}"));
    }
}

#[tokio::test]
async fn the_first_start_without_users_prints_a_setup_link() {
    let app = TestApp::spawn_without_users();
    let started = Instant::now();
    while !app.logs().contains("/setup?code=") && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let logs = app.logs();
    let line = logs.lines().find(|l| l.contains("/setup?code=")).unwrap_or_else(|| {
        panic!("a first start with no user prints a setup link containing /setup?code=; output:\n{logs}")
    });
    assert!(line.contains("http://"), "the setup link is a full URL: {line}");
}

#[tokio::test]
async fn a_start_with_a_user_prints_no_setup_link() {
    let app = TestApp::spawn();
    app.call("GET", "/healthz", None, None)
        .await
        .assert_status(200, "the server is up");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !app.logs().contains("/setup?code="),
        "no setup link once a user exists:\n{}",
        app.logs()
    );
}

#[tokio::test]
async fn sigterm_stops_the_server_gracefully_and_flushes_last_used_times() {
    let mut app = TestApp::spawn();
    let session = app.admin_session().await;
    let (id, secret) = app.create_token_with(&session, "read").await;
    let fresh = app.get(&format!("/api/tokens/{id}"), &session).await.json();
    assert_eq!(
        fresh["lastUsedAt"],
        Value::Null,
        "a fresh token was never used: {fresh}"
    );
    app.get("/api/users", &secret).await.assert_status(200, "use the token");

    let (status, took) = app.stop();
    assert!(
        status.success(),
        "SIGTERM ends the server with exit status 0, got {status}; output:\n{}",
        app.logs()
    );
    assert!(took <= Duration::from_secs(10), "the server took {took:?} to stop");

    let shown = app.cli_json(&["token", "show", &id.to_string(), "--json"]);
    assert!(
        !shown["lastUsedAt"].is_null(),
        "lastUsedAt is flushed on graceful shutdown: {shown}"
    );
    let used = parse_rfc3339(&shown["lastUsedAt"]);
    assert!(
        used >= parse_rfc3339(&shown["createdAt"]),
        "lastUsedAt comes after createdAt: {shown}"
    );
}
