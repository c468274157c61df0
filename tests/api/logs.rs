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
