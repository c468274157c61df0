//! DESIGN §1.7 and §3: no secret reaches the server's output, at any log level.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn no_secret_appears_in_the_server_output_even_at_trace_level() {
    let mut app = TestApp::spawn();
    let mut secrets: Vec<String> = vec![ADMIN_PASSWORD.to_owned()];

    let wrong_password = "wrong-horse-battery-staple";
    secrets.push(wrong_password.to_owned());
    app.sign_in(ADMIN_USERNAME, wrong_password)
        .await
        .assert_status(401, "a wrong password");
    app.sign_in("ghost", "ghost-password-77")
        .await
        .assert_status(401, "an unknown user");
    secrets.push("ghost-password-77".to_owned());

    let session = app.admin_session().await;
    secrets.push(session.clone());

    let user_password = "grace-hopper-cobol-59";
    secrets.push(user_password.to_owned());
    let body = json!({"username": "grace", "email": "grace@example.com", "password": user_password});
    app.call("POST", "/api/users", Some(&session), Some(&body))
        .await
        .assert_status(201, "create grace");
    let grace = app.session_for("grace", user_password).await;
    secrets.push(grace.clone());

    let (read_id, read) = app.create_token_with(&session, "read").await;
    let (full_id, full) = app.create_token_with(&session, "full").await;
    secrets.extend([read.clone(), full.clone()]);
    app.get("/api/users", &read)
        .await
        .assert_status(200, "use the read token");
    app.get("/api/token", &full)
        .await
        .assert_status(200, "use the full token");
    app.call(
        "POST",
        "/api/users",
        Some(&read),
        Some(&json!({"username": "x", "email": "x@example.com"})),
    )
    .await
    .assert_status(403, "a read token writing");

    let regenerated = app
        .call(
            "POST",
            &format!("/api/tokens/{full_id}/regenerate"),
            Some(&session),
            None,
        )
        .await;
    regenerated.assert_status(200, "regenerate");
    let new_full = regenerated.json()["token"].as_str().unwrap().to_owned();
    secrets.push(new_full.clone());
    app.get("/api/users", &new_full)
        .await
        .assert_status(200, "use the regenerated token");
    app.get("/api/users", &full)
        .await
        .assert_status(401, "use the replaced token");

    let bad = with_bad_checksum(&read);
    secrets.push(bad.clone());
    app.get("/api/users", &bad)
        .await
        .assert_status(401, "a bad-checksum token");
    let unknown = forge_token("pcl", "neverIssuedButWellFormed");
    secrets.push(unknown.clone());
    app.get("/api/users", &unknown)
        .await
        .assert_status(401, "an unknown token");
    let query = app.raw_request("GET", &format!("/api/users?access_token={read}"), &[]);
    assert_eq!(query.status, 400, "a token in the query: {query:?}");

    app.call("DELETE", &format!("/api/tokens/{read_id}"), Some(&session), None)
        .await
        .assert_status(204, "revoke");
    app.get("/api/users", &read)
        .await
        .assert_status(401, "the revoked token");
    app.call("DELETE", "/api/sessions/current", Some(&grace), None)
        .await
        .assert_status(204, "sign grace out");
    app.get("/api/users", &grace)
        .await
        .assert_status(401, "the ended session");

    let (status, _) = app.stop();
    assert!(status.success(), "the server stops cleanly: {status}");
    let logs = app.logs();
    assert!(!logs.trim().is_empty(), "the server logged something at trace level");
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "the server output contains the secret {secret:?}:\n{logs}"
        );
        if let Some((_, body)) = secret.split_once('_').filter(|(_, b)| b.len() == 49) {
            assert!(
                !logs.contains(body),
                "the server output contains the token {secret:?} without its prefix"
            );
            assert!(
                !logs.contains(&body[..43]),
                "the server output contains the random part of {secret:?}"
            );
        }
    }
    for prefix in ["pcl", "pcs"] {
        let leaked = find_tokens(&logs, prefix);
        assert!(
            leaked.is_empty(),
            "the server output contains token-shaped strings: {leaked:?}"
        );
    }
}

/// Asserts that none of `secrets` (nor a token's random part) and no token-shaped string is in
/// `logs`.
fn assert_no_secrets(logs: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "the server output contains the secret {secret:?}"
        );
        if let Some((_, body)) = secret.split_once('_').filter(|(_, b)| b.len() == 49) {
            assert!(
                !logs.contains(&body[..43]),
                "the server output contains the random part of {secret:?}"
            );
        }
    }
    for prefix in ["pcl", "pcs"] {
        let leaked = find_tokens(logs, prefix);
        assert!(
            leaked.is_empty(),
            "the server output contains token-shaped strings: {leaked:?}"
        );
    }
}

/// Issue 6: rate limits, failed-authentication blocks, leak reports, disable/enable,
/// allowlists and regeneration with a grace period log no secret either.
#[tokio::test]
async fn no_secret_appears_in_the_output_of_the_limits_and_lifecycle_features() {
    let mut app = TestApp::spawn_with_env(&[
        ("PORTCULLIS_RATE_LIMITS_SHORT_LIMIT", "2"),
        ("PORTCULLIS_FAILED_AUTH_TOKEN_BURST", "2"),
        ("PORTCULLIS_FAILED_AUTH_SIGN_IN_BURST", "1"),
        ("PORTCULLIS_TOKENS_LAST_USED_FLUSH_INTERVAL", "1s"),
    ]);
    let session = app.admin_session().await;
    let mut secrets = vec![ADMIN_PASSWORD.to_owned(), session.clone()];
    let guesser = reqwest::Client::builder()
        .no_proxy()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();

    // Rate limits.
    let (id, token) = app.create_token_with(&session, "full").await;
    secrets.push(token.clone());
    for _ in 0..3 {
        app.get("/api/token", &token).await;
    }
    app.get("/api/token", &token)
        .await
        .assert_status(429, "beyond the limit");

    // Failed authentications, tokens and sign-ins, until blocked.
    for n in 0..4 {
        let guess = forge_token("pcl", &format!("guess{n}"));
        secrets.push(guess.clone());
        guesser
            .get(app.url("/api/token"))
            .bearer_auth(&guess)
            .send()
            .await
            .unwrap();
    }
    let blocked = guesser
        .get(app.url("/api/token"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), 429, "the guesser is blocked");
    for password in ["guess-one-password", "guess-two-password", ADMIN_PASSWORD] {
        secrets.push(password.to_owned());
        guesser
            .post(app.url("/api/sessions"))
            .json(&json!({"username": ADMIN_USERNAME, "password": password}))
            .send()
            .await
            .unwrap();
    }

    // Lifecycle.
    let item = format!("/api/tokens/{id}");
    app.call(
        "PATCH",
        &item,
        Some(&session),
        Some(&json!({"rateLimit": "off", "allowedIps": ["127.0.0.9"]})),
    )
    .await
    .assert_status(200, "limits off, an allowlist");
    app.get("/api/token", &token).await.assert_status(403, "from elsewhere");
    app.call("PATCH", &item, Some(&session), Some(&json!({"allowedIps": null})))
        .await
        .assert_status(200, "anywhere");
    app.call("POST", &format!("{item}/disable"), Some(&session), None)
        .await
        .assert_status(200, "disable");
    app.get("/api/token", &token).await.assert_status(401, "disabled");
    app.call("POST", &format!("{item}/enable"), Some(&session), None)
        .await
        .assert_status(200, "enable");
    let regenerated = app
        .call(
            "POST",
            &format!("{item}/regenerate"),
            Some(&session),
            Some(&json!({"gracePeriod": "1h"})),
        )
        .await;
    let new = regenerated.json()["token"].as_str().unwrap().to_owned();
    secrets.push(new.clone());
    app.get("/api/token", &token)
        .await
        .assert_status(200, "the old secret in its grace period");
    app.get("/api/token", &new).await.assert_status(200, "the new secret");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    // A leak report revokes the new secret's token.
    app.call(
        "POST",
        "/api/tokens/revoke-leaked",
        None,
        Some(&json!({"tokens": [new, with_bad_checksum(&token)], "reporter": "scanner"})),
    )
    .await
    .assert_status(202, "a leak report");
    secrets.push(with_bad_checksum(&token));
    app.get("/api/token", &new)
        .await
        .assert_status(401, "revoked by the report");

    let (status, _) = app.stop();
    assert!(status.success(), "the server stops cleanly: {status}");
    let logs = app.logs();
    assert!(
        logs.contains("leaked tokens reported and revoked"),
        "the report is logged"
    );
    assert_no_secrets(&logs, &secrets);
}
