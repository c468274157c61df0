//! Per-token rate limits (issue 6.1): two sliding windows, configurable globally and per
//! token, counted alike on the own API, `/auth/verify` and proxy routes. How the windows slide
//! is tested with a moved clock in `src/auth/rate_limit.rs`; here the limits are small.

use serde_json::json;

use crate::gateway_support::*;
use crate::helpers::*;

/// At most three requests per 10 minutes, 100 per day, unless a token says otherwise.
const SMALL: &[(&str, &str)] = &[
    ("PORTCULLIS_RATE_LIMITS_SHORT_LIMIT", "3"),
    ("PORTCULLIS_RATE_LIMITS_LONG_LIMIT", "100"),
];

#[track_caller]
fn assert_quota(reply: &Reply, limit: &str, remaining: &str, what: &str) {
    assert_eq!(reply.header("ratelimit-limit"), Some(limit), "{what}: {reply:?}");
    assert_eq!(
        reply.header("ratelimit-remaining"),
        Some(remaining),
        "{what}: {reply:?}"
    );
    let reset: u64 = reply
        .header("ratelimit-reset")
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("{what}: a RateLimit-Reset in seconds: {reply:?}"));
    assert!(reset <= 2 * 86_400, "{what}: reset {reset}");
}

#[track_caller]
fn assert_limited(reply: &Reply, limit: &str, what: &str) {
    reply.assert_problem(429, None, what);
    assert_eq!(reply.json()["type"], "urn:portcullis:problem:rate-limited", "{what}");
    let retry: u64 = reply
        .header("retry-after")
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("{what}: a Retry-After in seconds: {reply:?}"));
    assert!(
        (1..=1200).contains(&retry),
        "{what}: Retry-After {retry} within two short windows"
    );
    assert_quota(reply, limit, "0", what);
}

#[tokio::test]
async fn a_token_beyond_its_limit_gets_429_with_retry_after_and_every_answer_shows_the_quota() {
    let app = TestApp::spawn_with_env(SMALL);
    let (_, token) = app.create_token("read").await;
    let (_, other) = app.create_token("read").await;
    for remaining in ["2", "1", "0"] {
        let reply = app.get("/api/token", &token).await;
        reply.assert_status(200, "within the limit");
        assert_quota(&reply, "3", remaining, "within the limit");
        assert_eq!(
            reply.header("ratelimit-policy"),
            Some("3;w=600, 100;w=86400"),
            "both windows are announced"
        );
    }
    assert_limited(&app.get("/api/token", &token).await, "3", "the fourth request");
    assert_limited(&app.get("/api/token", &token).await, "3", "and the fifth");
    // A refused request with insufficient scope is an authenticated answer too.
    let (_, full) = app.create_token("full").await;
    let reply = app.get("/api/tokens", &full).await;
    reply.assert_problem(403, Some(WWW_SCOPE_ADMIN), "tokens cannot manage tokens");
    assert_quota(&reply, "3", "2", "a refusal by the access rules still shows the quota");

    let reply = app.get("/api/token", &other).await;
    reply.assert_status(200, "another token has its own count");
    assert_quota(&reply, "3", "2", "another token");
    let session = app.admin_session().await;
    for _ in 0..5 {
        let reply = app.get("/api/tokens", &session).await;
        reply.assert_status(200, "user sessions are not rate limited");
        assert_eq!(reply.header("ratelimit-limit"), None, "no quota for sessions");
    }
    let metrics = app.call("GET", "/metrics", None, None).await.body;
    assert!(
        metrics.contains("portcullis_verifications_total{outcome=\"rate_limited\"} 2"),
        "refusals are counted: {metrics}"
    );
}

#[tokio::test]
async fn a_token_can_have_its_own_limits_or_none_set_through_the_api() {
    let app = TestApp::spawn_with_env(SMALL);
    let session = app.admin_session().await;
    let created = app
        .call(
            "POST",
            "/api/tokens",
            Some(&session),
            Some(&json!({"name": "batch", "access": "read", "rateLimit": {"short": 5, "long": 50}})),
        )
        .await;
    created.assert_status(201, "a token with its own limits");
    let body = created.json();
    assert_eq!(body["rateLimit"], json!({"short": 5, "long": 50}), "{body}");
    let (id, token) = (body["id"].as_i64().unwrap(), body["token"].as_str().unwrap().to_owned());
    for remaining in ["4", "3", "2", "1", "0"] {
        assert_quota(&app.get("/api/token", &token).await, "5", remaining, "its own limit");
    }
    assert_limited(&app.get("/api/token", &token).await, "5", "beyond its own limit");

    let path = format!("/api/tokens/{id}");
    let off = app
        .call("PATCH", &path, Some(&session), Some(&json!({"rateLimit": "off"})))
        .await;
    off.assert_status(200, "turning its limit off");
    assert_eq!(off.json()["rateLimit"], "off");
    for _ in 0..10 {
        let reply = app.get("/api/token", &token).await;
        reply.assert_status(200, "no limit");
        assert_eq!(
            reply.header("ratelimit-limit"),
            None,
            "no quota headers without a limit"
        );
    }
    let back = app
        .call("PATCH", &path, Some(&session), Some(&json!({"rateLimit": "default"})))
        .await;
    assert_eq!(back.json()["rateLimit"], "default");
    assert_eq!(app.get(&path, &session).await.json()["rateLimit"], "default");

    for bad in [
        json!("none"),
        json!({"short": 0, "long": 5}),
        json!({"short": 5}),
        json!(7),
    ] {
        let reply = app
            .call("PATCH", &path, Some(&session), Some(&json!({ "rateLimit": bad })))
            .await;
        reply.assert_problem(422, None, &format!("rateLimit {bad}"));
        assert!(
            reply.json()["detail"].as_str().unwrap().contains("rateLimit"),
            "{reply:?}"
        );
    }
}

#[tokio::test]
async fn the_cli_sets_a_tokens_rate_limit() {
    let app = TestApp::spawn_with_env(SMALL);
    let created = app.cli_json(&[
        "token",
        "create",
        "--name",
        "cli",
        "--access",
        "read",
        "--rate-limit",
        "1,10",
        "--json",
    ]);
    assert_eq!(created["rateLimit"], json!({"short": 1, "long": 10}), "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_i64().unwrap().to_string();
    app.get("/api/token", &token)
        .await
        .assert_status(200, "the one request");
    assert_limited(&app.get("/api/token", &token).await, "1", "the second request");

    let out = app.cli(&["token", "rate-limit", &id, "off"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(app.cli_json(&["token", "show", &id, "--json"])["rateLimit"], "off");
    // The running server sees the change made by another process.
    let mut passed = false;
    for _ in 0..50 {
        if app.get("/api/token", &token).await.status == 200 {
            passed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(passed, "the server picks up the CLI's change");

    for bad in ["0,5", "5", "lots"] {
        let out = app.cli(&["token", "rate-limit", &id, bad]);
        assert!(!out.status.success(), "`{bad}` is refused: {}", describe(&out));
    }
    let out = app.cli(&["token", "rate-limit", "999", "off"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not found"),
        "{}",
        describe(&out)
    );
}

#[tokio::test]
async fn the_own_api_forward_auth_and_proxy_routes_count_against_one_quota() {
    let upstream = Upstream::start();
    let app = TestApp::spawn_with_config(&format!(
        "[rate_limits]\nshort_limit = 4\nlong_limit = 100\n[[routes]]\nprefix = \"/app\"\nupstream = \"{}\"\n",
        upstream.url()
    ));
    let (_, token) = app.create_token("read").await;
    assert_quota(&app.get("/api/token", &token).await, "4", "3", "the own API");
    let verify = |app: &TestApp| {
        app.raw_request(
            "GET",
            "/auth/verify",
            &[
                format!("Authorization: Bearer {token}").as_bytes(),
                b"X-Original-Method: GET",
                b"X-Original-URI: /app/x",
            ],
        )
    };
    let reply = verify(&app);
    reply.assert_status(204, "forward-auth");
    assert_quota(&reply, "4", "2", "forward-auth");
    let reply = app.get("/app/x", &token).await;
    reply.assert_status(200, "the proxy");
    assert_quota(&reply, "4", "1", "the proxy's answer carries the quota");
    let reply = app.call("GET", "/auth/envoy/app/x", Some(&token), None).await;
    reply.assert_status(200, "envoy");
    assert_quota(&reply, "4", "0", "envoy");
    upstream.clear();
    assert_limited(&app.get("/app/x", &token).await, "4", "the proxy refuses");
    upstream.assert_nothing("a limited request never reaches the upstream");
    assert_limited(&verify(&app), "4", "forward-auth refuses");
    assert_limited(&app.get("/api/token", &token).await, "4", "the own API refuses");
}

#[tokio::test]
async fn limits_can_be_turned_off_for_the_installation() {
    let app = TestApp::spawn_with_env(&[
        ("PORTCULLIS_RATE_LIMITS_ENABLED", "false"),
        ("PORTCULLIS_RATE_LIMITS_SHORT_LIMIT", "1"),
    ]);
    let (_, token) = app.create_token("read").await;
    for _ in 0..5 {
        let reply = app.get("/api/token", &token).await;
        reply.assert_status(200, "no default limit");
        assert_eq!(reply.header("ratelimit-limit"), None);
    }
    let session = app.admin_session().await;
    let body = app
        .call(
            "POST",
            "/api/tokens",
            Some(&session),
            Some(&json!({"name": "own", "rateLimit": {"short": 1, "long": 2}})),
        )
        .await
        .json();
    let own = body["token"].as_str().unwrap();
    app.get("/api/token", own).await.assert_status(200, "its one request");
    assert_limited(
        &app.get("/api/token", own).await,
        "1",
        "a token's own limit still applies",
    );
}

/// A client whose connections come from `ip` (any 127.x.y.z reaches the server on 127.0.0.1).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(ip.parse::<std::net::IpAddr>().expect("an IP address"))
        .build()
        .expect("build a reqwest client")
}

async fn get_from(client: &reqwest::Client, app: &TestApp, path: &str, token: &str) -> Reply {
    let response = client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("the server answers");
    Reply::from(response).await
}

async fn sign_in_from(client: &reqwest::Client, app: &TestApp, username: &str, password: &str) -> Reply {
    let response = client
        .post(app.url("/api/sessions"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("the server answers");
    Reply::from(response).await
}

#[track_caller]
fn assert_blocked(reply: &Reply, what: &str) {
    reply.assert_problem(429, None, what);
    assert_eq!(
        reply.json()["type"],
        "urn:portcullis:problem:too-many-failures",
        "{what}"
    );
    let retry: u64 = reply.header("retry-after").and_then(|r| r.parse().ok()).unwrap_or(0);
    assert!((1..=300).contains(&retry), "{what}: Retry-After {retry}: {reply:?}");
}

#[tokio::test]
async fn a_burst_of_invalid_tokens_blocks_that_address_and_no_other() {
    let upstream = Upstream::start();
    let app = TestApp::spawn_with_config(&format!(
        "[failed_auth]\ntoken_burst = 3\n[[routes]]\nprefix = \"/app\"\nupstream = \"{}\"\n",
        upstream.url()
    ));
    let (_, valid) = app.create_token("read").await;
    let guesser = client_from("127.0.0.2");
    let bystander = client_from("127.0.0.3");
    for n in 0..4 {
        let guess = forge_token("pcl", &format!("guess-{n}"));
        get_from(&guesser, &app, "/api/token", &guess).await.assert_problem(
            401,
            Some(WWW_INVALID_TOKEN),
            "a wrong guess",
        );
    }
    assert_blocked(
        &get_from(&guesser, &app, "/api/token", &valid).await,
        "once blocked, even a valid token from that address",
    );
    assert_blocked(
        &get_from(&guesser, &app, "/app/x", &valid).await,
        "the proxy routes too",
    );
    upstream.assert_nothing("nothing from a blocked address reaches the upstream");
    get_from(&bystander, &app, "/api/token", &valid)
        .await
        .assert_status(200, "another address is not affected");
    get_from(&bystander, &app, "/api/token", &with_bad_checksum(&valid))
        .await
        .assert_problem(401, Some(WWW_INVALID_TOKEN), "another address has its own count");
    app.get("/api/token", &valid)
        .await
        .assert_status(200, "nor is 127.0.0.1");
    let logs = app.logs();
    assert!(
        logs.contains("too many invalid tokens: client blocked"),
        "the block is logged"
    );
    assert!(logs.contains("127.0.0.2"), "with the address");
}

#[tokio::test]
async fn failed_sign_ins_block_one_account_from_one_address() {
    let app = TestApp::spawn_with_env(&[("PORTCULLIS_FAILED_AUTH_SIGN_IN_BURST", "2")]);
    app.create_user_cli("grace", "another-long-password", false);
    let guesser = client_from("127.0.0.2");
    for _ in 0..3 {
        sign_in_from(&guesser, &app, ADMIN_USERNAME, "wrong password")
            .await
            .assert_problem(401, Some(WWW_NO_ERROR), "a wrong password");
    }
    assert_blocked(
        &sign_in_from(&guesser, &app, ADMIN_USERNAME, ADMIN_PASSWORD).await,
        "the right password from the guessing address, while blocked",
    );
    assert_blocked(
        &sign_in_from(&guesser, &app, "ADMIN", ADMIN_PASSWORD).await,
        "usernames are counted regardless of case",
    );
    sign_in_from(&guesser, &app, "grace", "another-long-password")
        .await
        .assert_status(201, "another account from that address");
    sign_in_from(&client_from("127.0.0.3"), &app, ADMIN_USERNAME, ADMIN_PASSWORD)
        .await
        .assert_status(201, "the account's owner elsewhere");
}
