//! DESIGN §4: `/api/sessions` — signing in and out with a username and password.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn signing_in_returns_a_session_token_with_an_expiry() {
    let app = TestApp::spawn();
    let reply = app.sign_in(ADMIN_USERNAME, ADMIN_PASSWORD).await;
    reply.assert_status(201, "POST /api/sessions with the right password");
    let session = reply.json();
    let token = session["token"]
        .as_str()
        .unwrap_or_else(|| panic!("a `token`: {session}"));
    assert_token_format(token, "pcs");
    let expires = parse_rfc3339(&session["expiresAt"]);
    assert!(
        expires > time::OffsetDateTime::now_utc(),
        "the session expires in the future: {session}"
    );
    assert!(!reply.body.contains(ADMIN_PASSWORD), "the password is never echoed");
    app.get("/api/users", token)
        .await
        .assert_status(200, "the session authenticates");

    let again = app.admin_session().await;
    assert_ne!(again, token, "every sign-in gets its own session token");
    let admin = app.get("/api/users/1", token).await.json();
    let logged = parse_rfc3339(&admin["dateLogged"]);
    assert!(
        logged >= parse_rfc3339(&admin["dateCreated"]),
        "dateLogged records the sign-in: {admin}"
    );
}

#[tokio::test]
async fn a_wrong_password_an_unknown_user_and_a_deactivated_user_get_the_same_401() {
    let app = TestApp::spawn();
    let admin = app.admin_session().await;
    let id = app.create_user_cli("frank", "frank-password-1", false);
    app.call(
        "PATCH",
        &format!("/api/users/{id}"),
        Some(&admin),
        Some(&json!({"active": false})),
    )
    .await
    .assert_status(200, "deactivate frank");

    let cases = [
        ("a wrong password", ADMIN_USERNAME, "wrong-horse-battery"),
        (
            "the right password in the wrong case",
            ADMIN_USERNAME,
            "CORRECT-HORSE-BATTERY",
        ),
        ("an empty password", ADMIN_USERNAME, ""),
        ("an unknown user", "nobody", ADMIN_PASSWORD),
        (
            "a deactivated user with the right password",
            "frank",
            "frank-password-1",
        ),
    ];
    let mut bodies = Vec::new();
    for (what, username, password) in cases {
        let reply = app.sign_in(username, password).await;
        reply.assert_problem(401, Some(WWW_NO_ERROR), what);
        if !password.is_empty() {
            assert!(!reply.body.contains(password), "{what}: the password is never echoed");
        }
        bodies.push((what, reply.body));
    }
    for (what, body) in &bodies[1..] {
        assert_eq!(
            body, &bodies[0].1,
            "{what} must get exactly the body of {}",
            bodies[0].0
        );
    }
}

#[tokio::test]
async fn malformed_sign_in_input_gets_a_clear_error() {
    let app = TestApp::spawn();
    let cases: &[(&str, Option<&str>, &str, u16)] = &[
        (
            "malformed JSON",
            Some("application/json"),
            r#"{"username": "admin""#,
            400,
        ),
        ("no password", Some("application/json"), r#"{"username": "admin"}"#, 422),
        (
            "a number as password",
            Some("application/json"),
            r#"{"username": "admin", "password": 1}"#,
            422,
        ),
        (
            "no Content-Type",
            None,
            r#"{"username": "admin", "password": "correct-horse-battery"}"#,
            415,
        ),
    ];
    for (what, content_type, body, status) in cases {
        let mut request = app.client().post(app.url("/api/sessions")).body(body.to_string());
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", *content_type);
        }
        let reply = Reply::from(request.send().await.unwrap()).await;
        reply.assert_problem(*status, None, what);
        assert!(
            !reply.body.contains(ADMIN_PASSWORD),
            "{what}: the password is never echoed"
        );
    }
}

#[tokio::test]
async fn ending_a_session_refuses_its_token_afterwards() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let other = app.admin_session().await;
    let reply = app.call("DELETE", "/api/sessions/current", Some(&session), None).await;
    reply.assert_status(204, "DELETE /api/sessions/current");
    assert!(reply.body.is_empty(), "204 has no body");
    app.get("/api/users", &session)
        .await
        .assert_problem(401, Some(WWW_INVALID_TOKEN), "the ended session");
    app.call("DELETE", "/api/sessions/current", Some(&session), None)
        .await
        .assert_problem(401, Some(WWW_INVALID_TOKEN), "ending the ended session again");
    app.get("/api/users", &other)
        .await
        .assert_status(200, "another session of the same user lives on");
}

#[tokio::test]
async fn an_api_token_cannot_end_a_session() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let (_, full) = app.create_token_with(&session, "full").await;
    let (_, read) = app.create_token_with(&session, "read").await;
    for (what, token) in [("a Full Access token", &full), ("a Read Access token", &read)] {
        let reply = app.call("DELETE", "/api/sessions/current", Some(token), None).await;
        reply.assert_problem(
            403,
            Some(WWW_SCOPE_SESSION),
            &format!("{what} on DELETE /api/sessions/current"),
        );
        app.get("/api/users", token)
            .await
            .assert_status(200, &format!("{what} still works"));
    }
    let reply = app.call("DELETE", "/api/sessions/current", None, None).await;
    reply.assert_problem(
        401,
        Some(WWW_NO_ERROR),
        "DELETE /api/sessions/current without a credential",
    );
    app.get("/api/users", &session)
        .await
        .assert_status(200, "the session still works");
}
