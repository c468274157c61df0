//! Token lifecycle (issue 6.3): disable/enable, per-token address allowlists, the maximum
//! lifetime policy, and disabling tokens that go unused.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::gateway_support::*;
use crate::helpers::*;

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(ip.parse::<std::net::IpAddr>().expect("an IP address"))
        .build()
        .expect("build a reqwest client")
}

async fn get_from(ip: &str, app: &TestApp, path: &str, token: &str) -> Reply {
    let response = client_from(ip)
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("the server answers");
    Reply::from(response).await
}

#[tokio::test]
async fn a_disabled_token_is_refused_until_enabled_and_keeps_its_secret() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let (id, token) = app.create_token("read").await;
    app.get("/api/token", &token).await.assert_status(200, "before");

    let disabled = app
        .call("POST", &format!("/api/tokens/{id}/disable"), Some(&session), None)
        .await;
    disabled.assert_status(200, "disabling");
    let body = disabled.json();
    assert_eq!(body["status"], "disabled", "{body}");
    assert!(body["disabledAt"].is_string(), "{body}");
    let refused = app.get("/api/token", &token).await;
    refused.assert_problem(401, Some(WWW_INVALID_TOKEN), "a disabled token");
    assert_eq!(refused.json()["detail"], "The token is disabled.");
    app.call("POST", &format!("/api/tokens/{id}/disable"), Some(&session), None)
        .await
        .assert_status(200, "disabling twice is harmless");

    let enabled = app
        .call("POST", &format!("/api/tokens/{id}/enable"), Some(&session), None)
        .await;
    enabled.assert_status(200, "enabling");
    assert_eq!(enabled.json()["status"], "active");
    assert_eq!(enabled.json()["disabledAt"], serde_json::Value::Null);
    app.get("/api/token", &token)
        .await
        .assert_status(200, "the same secret works again");

    let (_, full) = app.create_token("full").await;
    app.call("POST", &format!("/api/tokens/{id}/disable"), Some(&full), None)
        .await
        .assert_problem(403, Some(WWW_SCOPE_ADMIN), "tokens cannot disable tokens");
    app.call("DELETE", &format!("/api/tokens/{id}"), Some(&session), None)
        .await;
    app.call("POST", &format!("/api/tokens/{id}/enable"), Some(&session), None)
        .await
        .assert_problem(409, None, "a revoked token stays revoked");
    app.call("POST", "/api/tokens/999/disable", Some(&session), None)
        .await
        .assert_problem(404, None, "no such token");
}

#[tokio::test]
async fn the_cli_disables_and_enables_tokens_and_the_server_follows() {
    let app = TestApp::spawn();
    let (id, token) = app.create_token("read").await;
    let id = id.to_string();
    let out = app.cli(&["token", "disable", &id]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(app.cli_json(&["token", "show", &id, "--json"])["status"], "disabled");
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.get("/api/token", &token).await.status != 401 {
        assert!(Instant::now() < deadline, "the server sees the CLI's disable");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let out = app.cli(&["token", "enable", &id]);
    assert!(out.status.success(), "{}", describe(&out));
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.get("/api/token", &token).await.status != 200 {
        assert!(Instant::now() < deadline, "and the enable");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_allowlisted_token_is_refused_from_other_addresses() {
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
            Some(&json!({"name": "office", "allowedIps": ["127.0.0.2", "10.0.0.0/8"]})),
        )
        .await;
    created.assert_status(201, "a token with an allowlist");
    let body = created.json();
    assert_eq!(body["allowedIps"], json!(["127.0.0.2/32", "10.0.0.0/8"]));
    let (id, token) = (body["id"].as_i64().unwrap(), body["token"].as_str().unwrap().to_owned());

    get_from("127.0.0.2", &app, "/api/token", &token)
        .await
        .assert_status(200, "from an allowed address");
    get_from("127.0.0.2", &app, "/app/x", &token)
        .await
        .assert_status(200, "through the proxy from an allowed address");
    let refused = get_from("127.0.0.3", &app, "/api/token", &token).await;
    refused.assert_problem(403, None, "from another address");
    assert_eq!(refused.json()["type"], "urn:portcullis:problem:address-not-allowed");
    upstream.clear();
    get_from("127.0.0.3", &app, "/app/x", &token)
        .await
        .assert_problem(403, None, "the proxy too");
    upstream.assert_nothing("a refused request never reaches the upstream");
    let verify = app.raw_request(
        "GET",
        "/auth/verify",
        &[
            format!("Authorization: Bearer {token}").as_bytes(),
            b"X-Original-Method: GET",
            b"X-Original-URI: /app/x",
        ],
    );
    verify.assert_problem(403, None, "forward-auth cannot know the client's address: fail closed");

    let path = format!("/api/tokens/{id}");
    for bad in [
        json!([]),
        json!(["10.0.0.1/8"]),
        json!(["nowhere"]),
        json!("10.0.0.0/8"),
    ] {
        app.call("PATCH", &path, Some(&session), Some(&json!({ "allowedIps": bad })))
            .await
            .assert_problem(422, None, &format!("allowedIps {bad}"));
    }
    let anywhere = app
        .call("PATCH", &path, Some(&session), Some(&json!({"allowedIps": null})))
        .await;
    assert_eq!(anywhere.json()["allowedIps"], serde_json::Value::Null);
    get_from("127.0.0.3", &app, "/api/token", &token)
        .await
        .assert_status(200, "without an allowlist, from anywhere");

    let out = app.cli(&["token", "allow-ips", &id.to_string(), "127.0.0.9"]);
    assert!(out.status.success(), "{}", describe(&out));
    let out = app.cli(&["token", "allow-ips", &id.to_string(), "300.0.0.1"]);
    assert!(!out.status.success(), "a bad network is refused: {}", describe(&out));
    assert_eq!(
        app.cli_json(&["token", "show", &id.to_string(), "--json"])["allowedIps"],
        json!(["127.0.0.9/32"])
    );
}

#[tokio::test]
async fn tokens_beyond_the_maximum_lifetime_are_refused() {
    let app = TestApp::spawn_with_env(&[("PORTCULLIS_TOKENS_MAX_LIFETIME", "30d")]);
    let session = app.admin_session().await;
    let in_days = |days: i64| rfc3339(time::OffsetDateTime::now_utc() + time::Duration::days(days));
    for (body, what) in [
        (json!({"name": "forever"}), "no expiry"),
        (json!({"name": "long", "expiresAt": in_days(45)}), "45 days"),
    ] {
        let reply = app.call("POST", "/api/tokens", Some(&session), Some(&body)).await;
        reply.assert_problem(422, None, what);
        assert!(
            reply.json()["detail"].as_str().unwrap().contains("30 days"),
            "{reply:?}"
        );
    }
    let ok = app
        .call(
            "POST",
            "/api/tokens",
            Some(&session),
            Some(&json!({"name": "short", "expiresAt": in_days(10)})),
        )
        .await;
    ok.assert_status(201, "within the policy");
    let path = format!("/api/tokens/{}", ok.json()["id"]);
    app.call("PATCH", &path, Some(&session), Some(&json!({"expiresAt": null})))
        .await
        .assert_problem(422, None, "removing the expiry");
    app.call("PATCH", &path, Some(&session), Some(&json!({"expiresAt": in_days(40)})))
        .await
        .assert_problem(422, None, "extending beyond the policy");
    app.call("PATCH", &path, Some(&session), Some(&json!({"expiresAt": in_days(20)})))
        .await
        .assert_status(200, "within it");
    // The CLI reads the same setting from its own environment.
    let cli = |args: &[&str]| {
        run_cli(
            app.data_dir.path(),
            &crate::backend::with_database(app.database.as_deref(), args),
            None,
            &[("PORTCULLIS_TOKENS_MAX_LIFETIME", "30d")],
        )
    };
    let out = cli(&["token", "create", "--name", "cli", "--access", "read"]);
    assert!(!out.status.success(), "the CLI follows the policy: {}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("30 days"),
        "{}",
        describe(&out)
    );
    let out = cli(&[
        "token",
        "create",
        "--name",
        "cli",
        "--access",
        "read",
        "--expires",
        "7d",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
}

#[tokio::test]
async fn tokens_left_unused_are_disabled_and_tokens_in_use_are_not() {
    let app = TestApp::spawn_with_env(&[
        ("PORTCULLIS_TOKENS_DISABLE_UNUSED_AFTER", "3s"),
        ("PORTCULLIS_TOKENS_UNUSED_CHECK_INTERVAL", "1s"),
        ("PORTCULLIS_TOKENS_LAST_USED_FLUSH_INTERVAL", "1s"),
    ]);
    let session = app.admin_session().await;
    let (idle_id, idle) = app.create_token("read").await;
    let (busy_id, busy) = app.create_token("read").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        app.get("/api/token", &busy)
            .await
            .assert_status(200, "the busy token keeps working");
        let status = app.get(&format!("/api/tokens/{idle_id}"), &session).await.json()["status"].clone();
        if status == "disabled" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the idle token is disabled within the deadline"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    app.get("/api/token", &idle)
        .await
        .assert_problem(401, Some(WWW_INVALID_TOKEN), "the idle token is refused");
    assert_eq!(
        app.get(&format!("/api/tokens/{busy_id}"), &session).await.json()["status"],
        "active"
    );
    assert!(app.logs().contains("disabled tokens unused for"), "the sweep is logged");
}

#[tokio::test]
async fn a_regenerated_tokens_old_secret_works_through_its_grace_period_and_its_use_shows() {
    let app = TestApp::spawn_with_env(&[("PORTCULLIS_TOKENS_LAST_USED_FLUSH_INTERVAL", "1s")]);
    let session = app.admin_session().await;
    let (id, old) = app.create_token("read").await;
    let path = format!("/api/tokens/{id}");

    let regenerated = app
        .call(
            "POST",
            &format!("{path}/regenerate"),
            Some(&session),
            Some(&json!({"gracePeriod": "1h"})),
        )
        .await;
    regenerated.assert_status(200, "regenerating with a grace period");
    let body = regenerated.json();
    let new = body["token"].as_str().unwrap().to_owned();
    assert!(body["oldSecretValidUntil"].is_string(), "{body}");
    assert_eq!(body["oldSecretStillInUse"], false, "{body}");

    app.get("/api/token", &new).await.assert_status(200, "the new secret");
    app.get("/api/token", &old)
        .await
        .assert_status(200, "the old secret, in its grace period");
    let shown = app.get(&path, &session).await.json();
    assert_eq!(shown["oldSecretStillInUse"], true, "{shown}");
    assert!(shown["oldSecretLastUsedAt"].is_string(), "{shown}");
    // Written to the store too, so another process (the CLI) sees it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.cli_json(&["token", "show", &id.to_string(), "--json"])["oldSecretStillInUse"] != true {
        assert!(Instant::now() < deadline, "the old secret's use reaches the store");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Regenerating again without a grace period: both earlier secrets stop at once.
    let again = app
        .call("POST", &format!("{path}/regenerate"), Some(&session), None)
        .await;
    again.assert_status(200, "regenerating without a body");
    assert_eq!(again.json()["oldSecretValidUntil"], serde_json::Value::Null);
    for (secret, what) in [(&old, "the first secret"), (&new, "the second secret")] {
        app.get("/api/token", secret)
            .await
            .assert_problem(401, Some(WWW_INVALID_TOKEN), what);
    }

    // A short grace period runs out.
    let short = app
        .call(
            "POST",
            &format!("{path}/regenerate"),
            Some(&session),
            Some(&json!({"gracePeriod": "2s"})),
        )
        .await
        .json();
    let current = again.json()["token"].as_str().unwrap().to_owned();
    app.get("/api/token", &current).await.assert_status(200, "within 2 s");
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        let reply = app.get("/api/token", &current).await;
        if reply.status == 401 {
            assert!(
                reply.json()["detail"].as_str().unwrap().contains("regenerated"),
                "{reply:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "the grace period ends");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    app.get("/api/token", short["token"].as_str().unwrap())
        .await
        .assert_status(200, "the newest secret");

    for (body, what) in [
        (json!({"gracePeriod": "soon"}), "not a duration"),
        (json!({"gracePeriod": "31d"}), "beyond 30 days"),
        (json!({"grace": "1h"}), "an unknown field"),
    ] {
        app.call("POST", &format!("{path}/regenerate"), Some(&session), Some(&body))
            .await
            .assert_problem(422, None, what);
    }
    let out = app.cli(&["token", "regenerate", &id.to_string(), "--grace", "1h", "--json"]);
    assert!(out.status.success(), "{}", describe(&out));
    let out = app.cli(&["token", "regenerate", &id.to_string(), "--grace", "60d"]);
    assert!(!out.status.success(), "{}", describe(&out));
}
