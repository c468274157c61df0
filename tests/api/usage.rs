//! Per-token usage counts (issue 6.6): allowed and denied requests per hour, counted alike on
//! the own API, forward-auth and proxy routes, read through `GET /api/tokens/{id}/usage` and
//! shown as a chart on the token's page. Hour bucketing and pruning are unit-tested with a
//! moved clock in `src/auth/usage.rs`.

use serde_json::{Value, json};

use crate::gateway_support::Upstream;
use crate::helpers::*;

async fn usage(app: &TestApp, id: i64, session: &str) -> Value {
    let reply = app.get(&format!("/api/tokens/{id}/usage"), session).await;
    reply.assert_status(200, "the usage of a token");
    reply.json()
}

#[tokio::test]
async fn allowed_and_denied_requests_are_counted_per_token_on_every_way_in() {
    let upstream = Upstream::start();
    let app = TestApp::spawn_with_config(&format!(
        "[[routes]]\nprefix = \"/app\"\nupstream = \"{}\"\n",
        upstream.url()
    ));
    let session = app.admin_session().await;
    let created = app
        .call(
            "POST",
            "/api/tokens",
            Some(&session),
            Some(&json!({"name": "reader", "access": "read", "rateLimit": {"short": 6, "long": 100}})),
        )
        .await
        .json();
    let (id, token) = (
        created["id"].as_i64().unwrap(),
        created["token"].as_str().unwrap().to_owned(),
    );
    let (other_id, other) = app.create_token("read").await;

    // Allowed: two reads of the own API, one forward-auth check, one proxied read.
    app.get("/api/token", &token).await.assert_status(200, "a read");
    app.get("/api/users", &token).await.assert_status(200, "another read");
    let verify = |method: &str| {
        app.raw_request(
            "GET",
            "/auth/verify",
            &[
                format!("Authorization: Bearer {token}").as_bytes(),
                format!("X-Original-Method: {method}").as_bytes(),
                b"X-Original-URI: /app/x",
            ],
        )
    };
    verify("GET").assert_status(204, "forward-auth allows a read");
    app.get("/app/x", &token)
        .await
        .assert_status(200, "the proxy forwards a read");
    // Denied: a write through the API and through forward-auth (403), then the limit (429).
    app.call("POST", "/api/users", Some(&token), Some(&json!({"username": "x"})))
        .await
        .assert_problem(403, Some(WWW_SCOPE_FULL), "a read token writing");
    verify("POST").assert_problem(403, Some(WWW_SCOPE_FULL), "forward-auth refuses a write");
    app.get("/api/token", &token)
        .await
        .assert_problem(429, None, "the seventh request is beyond the token's limit");
    app.get("/api/token", &other)
        .await
        .assert_status(200, "the other token's one read");
    // Unknown credentials and sessions are not counted anywhere.
    app.get("/api/token", &forge_token("pcl", "nobody"))
        .await
        .assert_problem(401, Some(WWW_INVALID_TOKEN), "an unknown token");

    let body = usage(&app, id, &session).await;
    assert_eq!(body["tokenId"], id, "{body}");
    assert_eq!(
        (body["allowed"].as_u64(), body["denied"].as_u64()),
        (Some(4), Some(3)),
        "{body}"
    );
    let hours = body["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 1, "all in the current hour: {body}");
    assert_eq!(
        (hours[0]["allowed"].as_u64(), hours[0]["denied"].as_u64()),
        (Some(4), Some(3))
    );
    let hour = parse_rfc3339(&hours[0]["hour"]);
    assert_eq!(
        (hour.minute(), hour.second()),
        (0, 0),
        "an hour starts on the hour: {body}"
    );
    let (from, to) = (parse_rfc3339(&body["from"]), parse_rfc3339(&body["to"]));
    assert_eq!(to - from, time::Duration::hours(720), "30 days by default: {body}");
    assert_eq!(
        to - hour,
        time::Duration::hours(1),
        "the window ends with the current hour"
    );

    let other_usage = usage(&app, other_id, &session).await;
    assert_eq!(
        (other_usage["allowed"].as_u64(), other_usage["denied"].as_u64()),
        (Some(1), Some(0)),
        "another token has its own counts: {other_usage}"
    );
    // A revoked token's requests are still its own, denied.
    app.call("DELETE", &format!("/api/tokens/{other_id}"), Some(&session), None)
        .await
        .assert_status(204, "revoking");
    app.get("/api/token", &other)
        .await
        .assert_problem(401, Some(WWW_INVALID_TOKEN), "revoked");
    let other_usage = usage(&app, other_id, &session).await;
    assert_eq!(
        other_usage["denied"], 1,
        "a revoked token's request is denied: {other_usage}"
    );

    let one = app.get(&format!("/api/tokens/{id}/usage?hours=1"), &session).await;
    one.assert_status(200, "the current hour only");
    let one = one.json();
    assert_eq!(one["allowed"], 4, "{one}");
    assert_eq!(
        parse_rfc3339(&one["to"]) - parse_rfc3339(&one["from"]),
        time::Duration::hours(1)
    );
    let plain = app
        .call(
            "GET",
            &format!("/api/tokens/{id}/usage?hours=720&page=1"),
            Some(&session),
            None,
        )
        .await;
    plain.assert_status(200, "the longest window, other parameters ignored");
}

#[tokio::test]
async fn usage_needs_an_admin_session_a_known_token_and_a_valid_window() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let (id, token) = app.create_token("full").await;
    for bad in ["0", "721", "-1", "abc", "1.5", ""] {
        app.get(&format!("/api/tokens/{id}/usage?hours={bad}"), &session)
            .await
            .assert_problem(400, None, &format!("hours={bad}"));
    }
    app.get("/api/tokens/999999/usage", &session)
        .await
        .assert_problem(404, None, "an unknown token");
    app.get("/api/tokens/abc/usage", &session)
        .await
        .assert_problem(404, None, "an id that is no number");
    app.get(&format!("/api/tokens/{id}/usage"), &token)
        .await
        .assert_problem(
            403,
            Some(WWW_SCOPE_ADMIN),
            "no token reads token usage, not even its own",
        );
    let user = app.non_admin_session().await;
    app.get(&format!("/api/tokens/{id}/usage"), &user).await.assert_problem(
        403,
        Some(WWW_SCOPE_ADMIN),
        "a non-admin session",
    );
    app.call("GET", &format!("/api/tokens/{id}/usage"), None, None)
        .await
        .assert_problem(401, Some(WWW_NO_ERROR), "no credential");
    // The refusal above was the token's own request, made with a valid token: denied.
    let body = usage(&app, id, &session).await;
    assert_eq!(
        (body["allowed"].as_u64(), body["denied"].as_u64()),
        (Some(0), Some(1)),
        "{body}"
    );
    assert_eq!(body["hours"].as_array().map(Vec::len), Some(1), "{body}");
}

#[tokio::test]
async fn the_tokens_page_shows_a_chart_of_its_usage() {
    let app = TestApp::spawn();
    let (id, token) = app.create_token("read").await;
    for _ in 0..3 {
        app.get("/api/token", &token).await.assert_status(200, "a read");
    }
    app.call("DELETE", "/api/users/1", Some(&token), None)
        .await
        .assert_problem(403, Some(WWW_SCOPE_FULL), "a write");
    let (cookie, _) = crate::web_http::sign_in(&app, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    let page = crate::web_http::get_page(&app, &format!("/admin/tokens/{id}"), Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    let chart = page
        .find("<svg")
        .map(|at| &page[at..])
        .expect("a chart on the token's page");
    assert!(
        chart.contains("<title") && chart.contains("3 allowed, 1 denied"),
        "the chart has an accessible title with the totals: {chart}"
    );
    assert!(
        page.contains("3 allowed") && page.contains("1 denied"),
        "the totals as text"
    );
    assert!(!page.contains("style="), "no inline styles (CSP)");
}

#[tokio::test]
async fn the_cli_prints_a_tokens_usage_as_a_table_or_json() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let (id, token) = app.create_token("read").await;
    app.get("/api/token", &token).await.assert_status(200, "a read");
    app.get("/api/token", &token).await.assert_status(200, "a read");
    app.call("DELETE", "/api/users/1", Some(&token), None)
        .await
        .assert_problem(403, Some(WWW_SCOPE_FULL), "a write");
    // Reading through the API writes the server's pending counts for the CLI to see.
    let from_api = usage(&app, id, &session).await;
    let id_text = id.to_string();
    let from_cli = app.cli_json(&["token", "usage", &id_text, "--json"]);
    assert_eq!(from_cli["hours"], from_api["hours"], "the same hours: {from_cli}");
    assert_eq!(
        (from_cli["allowed"].as_u64(), from_cli["denied"].as_u64()),
        (Some(2), Some(1))
    );

    let out = app.cli(&["token", "usage", &id_text, "--hours", "24"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let total = text.lines().last().unwrap_or_default();
    assert_eq!(
        total.split_whitespace().collect::<Vec<_>>(),
        ["total", "(24", "h)", "2", "1"],
        "{text}"
    );
    for bad in [
        vec!["token", "usage", "999"],
        vec!["token", "usage", &id_text, "--hours", "0"],
    ] {
        let out = app.cli(&bad);
        assert!(!out.status.success(), "{bad:?} fails: {}", describe(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "",
            "nothing on stdout for {bad:?}"
        );
    }
}

#[tokio::test]
async fn two_instances_on_one_postgresql_database_add_up_their_counts() {
    let Some(admin_url) = crate::backend::require_postgres("usage::two instances") else {
        return;
    };
    let database = crate::multi_instance::shared_database(&admin_url);
    // No periodic flush during the test: only the usage reads write counts.
    let slow = [("PORTCULLIS_TOKENS_LAST_USED_FLUSH_INTERVAL", "1h")];
    let a = crate::multi_instance::instance(&database, None, &slow);
    let b = crate::multi_instance::instance(&database, None, &slow);
    let session = a.admin_session().await;
    let (id, token) = a.create_token_with(&session, "read").await;
    for _ in 0..3 {
        a.get("/api/token", &token)
            .await
            .assert_status(200, "a read on instance a");
    }
    for _ in 0..2 {
        b.get("/api/token", &token)
            .await
            .assert_status(200, "a read on instance b");
    }
    b.call("DELETE", "/api/users/1", Some(&token), None)
        .await
        .assert_problem(403, Some(WWW_SCOPE_FULL), "a write on instance b");
    // Each answer writes its own instance's pending counts first: b's, then a's on top.
    let from_b = usage(&b, id, &session).await;
    assert_eq!(
        (from_b["allowed"].as_u64(), from_b["denied"].as_u64()),
        (Some(2), Some(1)),
        "{from_b}"
    );
    let from_a = usage(&a, id, &session).await;
    assert_eq!(
        (from_a["allowed"].as_u64(), from_a["denied"].as_u64()),
        (Some(5), Some(1)),
        "both instances' counts in the same hour row: {from_a}"
    );
    assert_eq!(from_a["hours"].as_array().map(Vec::len), Some(1), "{from_a}");
}
