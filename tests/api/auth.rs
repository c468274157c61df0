//! DESIGN §3: what each kind of presented credential gets, byte for byte on the wire.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;

use crate::helpers::*;

/// `GET /api/users` over a raw connection with the given header lines.
fn get_users_raw(app: &TestApp, headers: &[&[u8]]) -> Reply {
    app.raw_request("GET", "/api/users", headers)
}

fn bearer_line(value: &str) -> Vec<u8> {
    format!("Authorization: Bearer {value}").into_bytes()
}

#[tokio::test]
async fn a_request_without_a_bearer_credential_gets_401_without_an_error_attribute() {
    let app = TestApp::spawn();
    let cases: &[(&str, &[&[u8]])] = &[
        ("no Authorization header", &[]),
        ("the Basic scheme", &[b"Authorization: Basic dXNlcjpwYXNz"]),
        ("the Digest scheme", &[b"Authorization: Digest username=\"admin\""]),
        ("a bare token without a scheme", &[b"Authorization: Token abc"]),
    ];
    for (what, headers) in cases {
        let reply = get_users_raw(&app, headers);
        assert_problem(reply.status, &reply.headers, &reply.body, 401, Some(WWW_NO_ERROR));
        reply.assert_problem(401, Some(WWW_NO_ERROR), what);
    }
}

#[tokio::test]
async fn an_ill_formed_bearer_credential_gets_400_invalid_request() {
    let app = TestApp::spawn();
    let (_, token) = app.create_token("read").await;
    let long = "a".repeat(1025);
    let mut non_ascii = format!("Authorization: Bearer {}", &token[..20]).into_bytes();
    non_ascii.extend_from_slice("é".as_bytes());
    non_ascii.extend_from_slice(&token.as_bytes()[20..]);
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("`Bearer` with no value", vec![b"Authorization: Bearer".to_vec()]),
        ("`Bearer` and only spaces", vec![b"Authorization: Bearer    ".to_vec()]),
        (
            "`Bearer` followed by a tab",
            vec![format!("Authorization: Bearer\t{token}").into_bytes()],
        ),
        (
            "a space inside the value",
            vec![bearer_line(&format!("{} {}", &token[..20], &token[20..]))],
        ),
        (
            "a tab inside the value",
            vec![bearer_line(&format!("{}\t{}", &token[..20], &token[20..]))],
        ),
        ("a quoted value", vec![bearer_line(&format!("\"{token}\""))]),
        ("non-ASCII bytes in the value", vec![non_ascii]),
        (
            "a comma-separated list",
            vec![bearer_line(&format!("{token}, {token}"))],
        ),
        ("a value longer than 1024 characters", vec![bearer_line(&long)]),
        (
            "two Authorization headers",
            vec![bearer_line(&token), bearer_line(&token)],
        ),
        (
            "two Authorization headers, one of them Basic",
            vec![bearer_line(&token), b"Authorization: Basic dXNlcjpwYXNz".to_vec()],
        ),
    ];
    for (what, headers) in &cases {
        let headers: Vec<&[u8]> = headers.iter().map(Vec::as_slice).collect();
        let reply = get_users_raw(&app, &headers);
        reply.assert_problem(400, Some(WWW_INVALID_REQUEST), what);
        assert!(
            !reply.body.contains(&token),
            "{what}: the error body must not echo the token: {}",
            reply.body
        );
        assert!(
            !reply.body.contains(&long),
            "{what}: the error body must not echo the value: {}",
            reply.body
        );
    }
}

/// HTTP strips whitespace around a field value (RFC 9110 §5.5) before the application sees
/// it, so a trailing space after the token is not part of the credential: the token works.
/// (Inner spaces and tabs are refused, above; the parser's own unit tests cover the rest.)
#[tokio::test]
async fn trailing_whitespace_around_the_header_value_is_not_part_of_the_token() {
    let app = TestApp::spawn();
    let (_, token) = app.create_token("read").await;
    let reply = get_users_raw(&app, &[&bearer_line(&format!("{token} "))]);
    assert_eq!(
        reply.status, 200,
        "a trailing space is field whitespace: {}",
        reply.body
    );
}

#[tokio::test]
async fn a_token_in_the_query_string_is_refused_even_with_a_valid_header() {
    let app = TestApp::spawn();
    let (_, token) = app.create_token("read").await;
    let header = bearer_line(&token);
    let cases: Vec<(&str, String, Vec<&[u8]>)> = vec![
        (
            "access_token with a valid header",
            format!("/api/users?access_token={token}"),
            vec![&header],
        ),
        ("access_token alone", format!("/api/users?access_token={token}"), vec![]),
        (
            "access_token after another parameter",
            format!("/api/users?page=1&access_token={token}"),
            vec![&header],
        ),
        (
            "an empty access_token",
            "/api/users?access_token=".to_owned(),
            vec![&header],
        ),
        (
            "access_token on /api/token",
            format!("/api/token?access_token={token}"),
            vec![&header],
        ),
    ];
    for (what, path, headers) in &cases {
        let reply = app.raw_request("GET", path, headers);
        reply.assert_problem(400, Some(WWW_INVALID_REQUEST), what);
        assert!(
            !reply.body.contains(&token),
            "{what}: the error body must not echo the token: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn a_form_encoded_body_is_refused_and_creates_nothing() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let (_, token) = app.create_token_with(&session, "full").await;
    let before = app.total_items("/api/users", &session).await;
    let form = b"Content-Type: application/x-www-form-urlencoded";
    let form_charset = b"Content-Type: application/x-www-form-urlencoded; charset=UTF-8";
    let header = bearer_line(&token);
    let token_body = format!("access_token={token}");
    let user_body = b"username=formuser&email=formuser%40example.com".as_slice();
    type Case<'a> = (&'a str, Vec<&'a [u8]>, &'a [u8]);
    let cases: Vec<Case> = vec![
        ("the token in a form body", vec![form.as_slice()], token_body.as_bytes()),
        (
            "a form body with a valid header",
            vec![&header, form.as_slice()],
            user_body,
        ),
        (
            "a form body with a charset",
            vec![&header, form_charset.as_slice()],
            user_body,
        ),
    ];
    for (what, headers, body) in &cases {
        let reply = app.raw_with_body("POST", "/api/users", headers, body);
        reply.assert_problem(400, Some(WWW_INVALID_REQUEST), what);
        assert!(
            !reply.body.contains(&token),
            "{what}: the error body must not echo the token: {}",
            reply.body
        );
    }
    assert_eq!(
        app.total_items("/api/users", &session).await,
        before,
        "a refused form post must create no user"
    );
}

#[tokio::test]
async fn an_unknown_or_foreign_token_gets_401_invalid_token() {
    let app = TestApp::spawn();
    let (_, token) = app.create_token("read").await;
    let session = app.admin_session().await;
    let cases: Vec<(&str, String)> = vec![
        (
            "a well-formed API token nobody issued",
            forge_token("pcl", "unknownButWellFormed"),
        ),
        (
            "a well-formed session token nobody issued",
            forge_token("pcs", "unknownSession"),
        ),
        (
            "a well-formed token with another prefix",
            forge_token("acme", "otherInstallation"),
        ),
        (
            "a real API token with one character changed (bad checksum)",
            with_bad_checksum(&token),
        ),
        (
            "a real session token with one character changed (bad checksum)",
            with_bad_checksum(&session),
        ),
        ("pcl_ and 49 zeros (wrong checksum)", format!("pcl_{}", "0".repeat(49))),
        ("a b64token that is not our format", "abc".to_owned()),
        ("a b64token with padding", "abc==".to_owned()),
        (
            "a JWT-looking value",
            "eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo".to_owned(),
        ),
        ("exactly 1024 characters", "a".repeat(1024)),
        ("an uppercase prefix", token.replacen("pcl_", "PCL_", 1)),
    ];
    for (what, value) in &cases {
        let reply = get_users_raw(&app, &[&bearer_line(value)]);
        reply.assert_problem(401, Some(WWW_INVALID_TOKEN), what);
        assert!(
            !reply.body.contains(value.as_str()),
            "{what}: the error body must not echo the token: {}",
            reply.body
        );
    }
    // The genuine credentials still work, so the 401s above are about the values alone.
    app.get("/api/users", &token)
        .await
        .assert_status(200, "the genuine read token");
    app.get("/api/users", &session)
        .await
        .assert_status(200, "the genuine session");
    let ready = app.call("GET", "/readyz", None, None).await;
    ready.assert_status(200, "the store answers while bad-checksum tokens are refused");
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_and_takes_one_or_more_spaces() {
    let app = TestApp::spawn();
    let (_, token) = app.create_token("read").await;
    for (what, line) in [
        ("Bearer", format!("Authorization: Bearer {token}")),
        ("bearer", format!("Authorization: bearer {token}")),
        ("BEARER", format!("Authorization: BEARER {token}")),
        ("BeArEr", format!("Authorization: BeArEr {token}")),
        ("two spaces", format!("Authorization: Bearer  {token}")),
        ("five spaces", format!("Authorization: Bearer     {token}")),
        ("lowercase header name", format!("authorization: Bearer {token}")),
    ] {
        let reply = get_users_raw(&app, &[line.as_bytes()]);
        reply.assert_status(200, what);
    }
}

#[tokio::test]
async fn a_read_token_may_get_and_head_but_not_write() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let (_, read) = app.create_token_with(&session, "read").await;
    let victim = app.create_user_api(&session, "victim").await;
    let before = app.total_items("/api/users", &session).await;

    app.get("/api/users", &read)
        .await
        .assert_status(200, "GET with a read token");
    let head = app
        .client()
        .head(app.url("/api/users"))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 200, "HEAD with a read token is a read");

    let user = format!("/api/users/{victim}");
    let body = json!({"username": "victim2", "email": "victim2@example.com", "firstName": "V", "lastName": "W", "active": true, "admin": false});
    for (method, path, body) in [
        (
            "POST",
            "/api/users",
            Some(json!({"username": "newbie", "email": "newbie@example.com"})),
        ),
        ("PUT", user.as_str(), Some(body)),
        ("PATCH", user.as_str(), Some(json!({"firstName": "Changed"}))),
        ("DELETE", user.as_str(), None),
    ] {
        let reply = app.call(method, path, Some(&read), body.as_ref()).await;
        reply.assert_problem(403, Some(WWW_SCOPE_FULL), &format!("{method} {path} with a read token"));
        assert!(
            !reply.body.contains(&read),
            "a 403 body must not echo the token: {}",
            reply.body
        );
    }
    assert_eq!(
        app.total_items("/api/users", &session).await,
        before,
        "nothing was created or deleted"
    );
    let victim_now = app.get(&user, &session).await;
    victim_now.assert_status(200, "the victim still exists");
    assert_eq!(victim_now.json()["username"], "victim", "the victim is unchanged");
    assert_ne!(victim_now.json()["firstName"], "Changed", "the victim is unchanged");
}

#[tokio::test]
async fn a_read_token_request_with_a_method_override_is_refused_even_on_get() {
    let app = TestApp::spawn();
    let (_, read) = app.create_token("read").await;
    let auth = bearer_line(&read);
    let cases: Vec<(&str, &str, Vec<&[u8]>)> = vec![
        (
            "X-HTTP-Method-Override",
            "/api/users",
            vec![b"X-HTTP-Method-Override: DELETE"],
        ),
        ("X-HTTP-Method", "/api/users", vec![b"X-HTTP-Method: POST"]),
        ("X-Method-Override", "/api/users", vec![b"X-Method-Override: PUT"]),
        (
            "X-HTTP-Method-Override naming GET",
            "/api/users",
            vec![b"X-HTTP-Method-Override: GET"],
        ),
        (
            "lowercase override header",
            "/api/users",
            vec![b"x-http-method-override: PATCH"],
        ),
        ("_method query parameter", "/api/users?_method=DELETE", vec![]),
        (
            "_method after another parameter",
            "/api/users?page=1&_method=POST",
            vec![],
        ),
        ("_method on an item", "/api/users/1?_method=DELETE", vec![]),
    ];
    for (what, path, extra) in &cases {
        let mut headers: Vec<&[u8]> = vec![&auth];
        headers.extend(extra.iter().copied());
        let reply = app.raw_request("GET", path, &headers);
        reply.assert_problem(
            403,
            Some(WWW_SCOPE_FULL),
            &format!("GET {path} with a read token and {what}"),
        );
    }
    let user = app.get("/api/users/1", &read).await;
    user.assert_status(200, "the administrator still exists after the refused overrides");
}

#[tokio::test]
async fn error_bodies_never_echo_the_presented_token() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let (read_id, read) = app.create_token_with(&session, "read").await;
    let (_, full) = app.create_token_with(&session, "full").await;
    let cases: Vec<(&str, &str, &str)> = vec![
        ("read token writing", "POST", &read),
        ("read token on /api/tokens", "GET", &read),
        ("full token on /api/tokens", "GET", &full),
    ];
    for (what, method, token) in cases {
        let path = if what.contains("/api/tokens") {
            "/api/tokens"
        } else {
            "/api/users"
        };
        let body = json!({"username": "echo", "email": "echo@example.com"});
        let reply = app
            .call(method, path, Some(token), Some(&body).filter(|_| method == "POST"))
            .await;
        assert_eq!(reply.status, 403, "{what}: {reply:?}");
        assert!(
            !reply.body.contains(token),
            "{what}: the body echoes the token: {}",
            reply.body
        );
        assert!(
            !reply.body.contains(&token[token.len() - 12..]),
            "{what}: the body echoes part of the token"
        );
    }
    let revoke = app
        .call("DELETE", &format!("/api/tokens/{read_id}"), Some(&session), None)
        .await;
    revoke.assert_status(204, "revoking the read token");
    let reply = app.get("/api/users", &read).await;
    reply.assert_problem(401, Some(WWW_INVALID_TOKEN), "a revoked token");
    assert!(
        !reply.body.contains(&read),
        "the 401 body echoes the revoked token: {}",
        reply.body
    );
}

#[tokio::test]
async fn arbitrary_authorization_values_get_400_or_401_and_never_crash_the_server() {
    let app = TestApp::spawn();
    // Header value bytes that HTTP/1.1 carries: visible ASCII, space, tab and obs-text.
    let byte = prop_oneof![0x20u8..=0x7e, Just(b'\t'), 0x80u8..=0xff];
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(byte, 0..80), |value| {
            let mut line = b"Authorization: ".to_vec();
            line.extend_from_slice(&value);
            let reply = get_users_raw(&app, &[&line]);
            prop_assert!(
                reply.status == 400 || reply.status == 401,
                "Authorization {:?} got {:?}",
                String::from_utf8_lossy(&value),
                reply
            );
            Ok(())
        })
        .unwrap();
    let b64 = "[A-Za-z0-9._~+/-]{1,200}=*";
    runner
        .run(&b64, |value| {
            let reply = get_users_raw(&app, &[&bearer_line(&value)]);
            prop_assert_eq!(reply.status, 401, "Bearer {} got {:?}", value, reply);
            prop_assert_eq!(reply.header("www-authenticate"), Some(WWW_INVALID_TOKEN));
            Ok(())
        })
        .unwrap();
    app.call("GET", "/healthz", None, None)
        .await
        .assert_status(200, "the server is still up");
}
