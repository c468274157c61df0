//! DESIGN §4: `/api/tokens` and `/api/token` — issue, list, change, revoke, regenerate, expire.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

const TOKEN_FIELDS: [&str; 11] = [
    "id",
    "name",
    "description",
    "access",
    "hint",
    "status",
    "createdAt",
    "createdBy",
    "expiresAt",
    "lastUsedAt",
    "revokedAt",
];

#[track_caller]
fn assert_token_shape(token: &Value) {
    for field in TOKEN_FIELDS {
        assert!(token.get(field).is_some(), "a token carries `{field}`: {token}");
    }
    assert!(token["id"].is_i64(), "`id` is an integer: {token}");
    parse_rfc3339(&token["createdAt"]);
    assert_no_secret_fields(token);
}

#[tokio::test]
async fn an_admin_creates_a_token_and_sees_its_secret_only_in_that_response() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let body = json!({"name": "ci", "description": "CI pipeline", "access": "full"});
    let reply = app.call("POST", "/api/tokens", Some(&session), Some(&body)).await;
    reply.assert_status(201, "POST /api/tokens with an admin session");
    let created = reply.json();
    assert_token_shape(&created);
    let id = created["id"].as_i64().unwrap();
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/tokens/{id}").as_str()),
        "Location of the new token"
    );
    let secret = created["token"]
        .as_str()
        .unwrap_or_else(|| panic!("the secret is in `token`: {created}"))
        .to_owned();
    assert_token_format(&secret, "pcl");
    let expected = [
        ("name", json!("ci")),
        ("description", json!("CI pipeline")),
        ("access", json!("full")),
        ("hint", json!(format!("pcl_…{}", &secret[secret.len() - 4..]))),
        ("status", json!("active")),
        ("createdBy", json!({"id": 1, "username": "admin"})),
        ("expiresAt", Value::Null),
        ("lastUsedAt", Value::Null),
        ("revokedAt", Value::Null),
    ];
    for (field, value) in &expected {
        assert_eq!(&created[field], value, "`{field}` of the created token: {created}");
    }

    let fetched = app.get(&format!("/api/tokens/{id}"), &session).await;
    fetched.assert_status(200, "GET /api/tokens/{id}");
    assert!(
        fetched.json().get("token").is_none(),
        "GET never returns the secret: {}",
        fetched.body
    );
    assert!(!fetched.body.contains(&secret), "GET never returns the secret");
    assert!(
        !fetched.body.contains(&secret[4..]),
        "GET never returns the secret, even without its prefix"
    );
    for (field, value) in &expected {
        assert_eq!(&fetched.json()[field], value, "`{field}` of the fetched token");
    }
    let listed = app.get("/api/tokens", &session).await;
    assert!(
        !listed.body.contains(&secret[4..]),
        "the list never returns the secret: {}",
        listed.body
    );

    let described = app.get("/api/token", &secret).await;
    described.assert_status(200, "the new secret authenticates");
}

#[tokio::test]
async fn a_token_is_read_access_without_expiry_by_default() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    for body in [
        json!({"name": "defaults"}),
        json!({"name": "explicit null", "expiresAt": null}),
    ] {
        let reply = app.call("POST", "/api/tokens", Some(&session), Some(&body)).await;
        reply.assert_status(201, &format!("POST /api/tokens {body}"));
        let token = reply.json();
        assert_eq!(token["access"], "read", "Read Access is the default: {token}");
        assert_eq!(token["expiresAt"], Value::Null, "no expiry by default: {token}");
        let secret = token["token"].as_str().unwrap();
        let write = app
            .call(
                "POST",
                "/api/users",
                Some(secret),
                Some(&json!({"username": "nope", "email": "nope@example.com"})),
            )
            .await;
        write.assert_problem(403, Some(WWW_SCOPE_FULL), "a default token writing");
    }
}

#[tokio::test]
async fn get_api_token_describes_the_presented_credential() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let expires = rfc3339(time::OffsetDateTime::now_utc() + time::Duration::days(30));
    let body = json!({"name": "described", "access": "full", "expiresAt": expires});
    let created = app.call("POST", "/api/tokens", Some(&session), Some(&body)).await;
    created.assert_status(201, "create a token with an expiry");
    let created = created.json();
    let secret = created["token"].as_str().unwrap();

    let reply = app.get("/api/token", secret).await;
    reply.assert_status(200, "GET /api/token with an API token");
    let described = reply.json();
    assert_eq!(described["kind"], "token", "{described}");
    assert_eq!(described["id"], created["id"], "{described}");
    assert_eq!(described["name"], "described", "{described}");
    assert_eq!(described["access"], "full", "{described}");
    assert_eq!(
        parse_rfc3339(&described["expiresAt"]),
        parse_rfc3339(&json!(expires)),
        "{described}"
    );
    assert!(!reply.body.contains(secret), "the description never echoes the secret");

    let (_, read) = app.create_token_with(&session, "read").await;
    let described = app.get("/api/token", &read).await.json();
    assert_eq!(described["access"], "read", "{described}");
    assert_eq!(described["expiresAt"], Value::Null, "{described}");

    let reply = app.get("/api/token", &session).await;
    reply.assert_status(200, "GET /api/token with an admin session");
    let described = reply.json();
    assert_eq!(described["kind"], "session", "{described}");
    assert_eq!(described["user"], json!({"id": 1, "username": "admin"}), "{described}");
    assert_eq!(described["admin"], true, "{described}");
    parse_rfc3339(&described["expiresAt"]);

    let user = app.non_admin_session().await;
    let described = app.get("/api/token", &user).await.json();
    assert_eq!(described["kind"], "session", "{described}");
    assert_eq!(described["user"]["username"], "jane", "{described}");
    assert_eq!(described["admin"], false, "{described}");
}

#[tokio::test]
async fn invalid_token_input_gets_a_clear_error_and_creates_nothing() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let past = rfc3339(time::OffsetDateTime::now_utc() - time::Duration::hours(1));
    let json_type = Some("application/json");
    let cases: Vec<(&str, Option<&str>, String, u16)> = vec![
        (
            "an expiry in the past",
            json_type,
            json!({"name": "t", "expiresAt": past}).to_string(),
            422,
        ),
        (
            "an expiry that is not RFC 3339",
            json_type,
            json!({"name": "t", "expiresAt": "tomorrow"}).to_string(),
            422,
        ),
        ("a blank name", json_type, json!({"name": ""}).to_string(), 422),
        ("a name of spaces", json_type, json!({"name": "   "}).to_string(), 422),
        ("no name", json_type, json!({"access": "read"}).to_string(), 422),
        ("a number as name", json_type, json!({"name": 7}).to_string(), 422),
        (
            "an unknown field",
            json_type,
            json!({"name": "t", "scopes": ["all"]}).to_string(),
            422,
        ),
        (
            "a client-chosen secret",
            json_type,
            json!({"name": "t", "token": forge_token("pcl", "mine")}).to_string(),
            422,
        ),
        (
            "access admin",
            json_type,
            json!({"name": "t", "access": "admin"}).to_string(),
            422,
        ),
        (
            "access write",
            json_type,
            json!({"name": "t", "access": "write"}).to_string(),
            422,
        ),
        (
            "access in capitals",
            json_type,
            json!({"name": "t", "access": "FULL"}).to_string(),
            422,
        ),
        ("malformed JSON", json_type, r#"{"name": "#.to_owned(), 400),
        ("no Content-Type", None, json!({"name": "t"}).to_string(), 415),
        (
            "Content-Type text/plain",
            Some("text/plain"),
            json!({"name": "t"}).to_string(),
            415,
        ),
    ];
    let before = app.total_items("/api/tokens", &session).await;
    for (what, content_type, body, status) in &cases {
        let mut request = app
            .client()
            .post(app.url("/api/tokens"))
            .bearer_auth(&session)
            .body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", *content_type);
        }
        let reply = Reply::from(request.send().await.unwrap()).await;
        reply.assert_problem(*status, None, what);
        assert_eq!(
            app.total_items("/api/tokens", &session).await,
            before,
            "{what}: no token may be created"
        );
    }
}

#[tokio::test]
async fn tokens_are_listed_newest_first_without_secrets() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let mut made = Vec::new();
    for access in ["read", "full", "read"] {
        made.push(app.create_token_with(&session, access).await);
    }
    let reply = app.get("/api/tokens", &session).await;
    reply.assert_status(200, "GET /api/tokens");
    let collection = reply.json();
    assert_eq!(collection["@type"], "hydra:Collection", "{collection}");
    assert_eq!(collection["@id"], "/api/tokens", "{collection}");
    assert_eq!(collection["hydra:totalItems"], 3, "{collection}");
    let members = collection["hydra:member"].as_array().expect("hydra:member is an array");
    let ids: Vec<i64> = members.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    let mut newest_first: Vec<i64> = made.iter().map(|(id, _)| *id).collect();
    newest_first.reverse();
    assert_eq!(ids, newest_first, "newest first");
    for member in members {
        assert_token_shape(member);
        assert_eq!(member["@type"], "Token", "{member}");
        assert_eq!(member["@id"], format!("/api/tokens/{}", member["id"]), "{member}");
        assert!(
            member.get("token").is_none(),
            "a listed token never carries `token`: {member}"
        );
    }
    for (_, secret) in &made {
        assert!(!reply.body.contains(&secret[4..]), "the list leaks a secret");
    }

    let plain = Reply::from(
        app.client()
            .get(app.url("/api/tokens"))
            .bearer_auth(&session)
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    plain.assert_status(200, "GET /api/tokens as plain JSON");
    let array = plain.json();
    let array = array
        .as_array()
        .unwrap_or_else(|| panic!("a plain JSON array: {}", plain.body));
    let ids: Vec<i64> = array.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, newest_first, "plain JSON is newest first too");
    assert!(
        array.iter().all(|m| m.get("token").is_none() && m.get("@id").is_none()),
        "{}",
        plain.body
    );
}

#[tokio::test]
async fn patch_changes_the_name_description_and_expiry_of_a_token() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let (id, secret) = app.create_token_with(&session, "full").await;
    let path = format!("/api/tokens/{id}");
    let before = app.get(&path, &session).await.json();
    let expires = rfc3339(time::OffsetDateTime::now_utc() + time::Duration::days(7));
    let body = json!({"name": "renamed", "description": "now described", "expiresAt": expires});
    let reply = app.call("PATCH", &path, Some(&session), Some(&body)).await;
    reply.assert_status(200, "PATCH a token");
    let patched = reply.json();
    assert_token_shape(&patched);
    assert!(
        patched.get("token").is_none(),
        "PATCH never returns the secret: {patched}"
    );
    assert_eq!(patched["name"], "renamed");
    assert_eq!(patched["description"], "now described");
    assert_eq!(parse_rfc3339(&patched["expiresAt"]), parse_rfc3339(&json!(expires)));
    for field in ["id", "access", "hint", "status", "createdAt", "createdBy"] {
        assert_eq!(patched[field], before[field], "PATCH leaves `{field}` alone");
    }
    let reply = app
        .call("PATCH", &path, Some(&session), Some(&json!({"description": "again"})))
        .await;
    reply.assert_status(200, "PATCH only the description");
    assert_eq!(reply.json()["name"], "renamed", "an absent field is left alone");
    app.get("/api/users", &secret)
        .await
        .assert_status(200, "the patched token still works");

    let reply = app
        .call("PATCH", &path, Some(&session), Some(&json!({"access": "read"})))
        .await;
    reply.assert_problem(422, None, "PATCH cannot change the access of a token");
    let reply = app
        .call("PATCH", &path, Some(&session), Some(&json!({"name": ""})))
        .await;
    reply.assert_problem(422, None, "PATCH a blank name");
    assert_eq!(
        app.get(&path, &session).await.json()["name"],
        "renamed",
        "the refused PATCHes changed nothing"
    );
}

#[tokio::test]
async fn a_revoked_token_is_refused_on_the_very_next_request() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let (id, secret) = app.create_token_with(&session, "full").await;
    // Use it first, so a cache holds it.
    app.get("/api/users", &secret)
        .await
        .assert_status(200, "the token works before revocation");
    app.get("/api/users", &secret)
        .await
        .assert_status(200, "the token works before revocation");

    let path = format!("/api/tokens/{id}");
    let reply = app.call("DELETE", &path, Some(&session), None).await;
    reply.assert_status(204, "DELETE /api/tokens/{id} revokes");
    assert!(reply.body.is_empty(), "204 has no body");
    let refused = app.get("/api/users", &secret).await;
    refused.assert_problem(
        401,
        Some(WWW_INVALID_TOKEN),
        "the very next request with the revoked token",
    );
    assert!(!refused.body.contains(&secret), "the 401 never echoes the token");

    let stored = app.get(&path, &session).await;
    stored.assert_status(200, "a revoked token can still be looked at");
    let stored = stored.json();
    assert_eq!(stored["status"], "revoked", "{stored}");
    parse_rfc3339(&stored["revokedAt"]);
    let listed = app.get("/api/tokens", &session).await.json();
    let member = listed["hydra:member"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .cloned();
    assert_eq!(
        member.map(|m| m["status"].clone()),
        Some(json!("revoked")),
        "the list shows it revoked: {listed}"
    );
}

#[tokio::test]
async fn regenerate_replaces_the_secret_at_once() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let body = json!({"name": "rotating", "description": "rotates", "access": "full"});
    let created = app
        .call("POST", "/api/tokens", Some(&session), Some(&body))
        .await
        .json();
    let id = created["id"].as_i64().unwrap();
    let old = created["token"].as_str().unwrap().to_owned();
    app.get("/api/users", &old)
        .await
        .assert_status(200, "the old secret works before regeneration");

    let reply = app
        .call("POST", &format!("/api/tokens/{id}/regenerate"), Some(&session), None)
        .await;
    reply.assert_status(200, "POST /api/tokens/{id}/regenerate");
    let regenerated = reply.json();
    let new = regenerated["token"]
        .as_str()
        .unwrap_or_else(|| panic!("the new secret is in `token`: {regenerated}"));
    assert_token_format(new, "pcl");
    assert_ne!(new, old, "a new secret");
    for field in ["id", "name", "description", "access", "createdAt", "createdBy"] {
        assert_eq!(regenerated[field], created[field], "regeneration keeps `{field}`");
    }
    assert_eq!(
        regenerated["hint"],
        format!("pcl_…{}", &new[new.len() - 4..]),
        "the hint follows the new secret"
    );
    assert_eq!(regenerated["status"], "active");

    app.get("/api/users", &old)
        .await
        .assert_problem(401, Some(WWW_INVALID_TOKEN), "the old secret after regeneration");
    let described = app.get("/api/token", new).await;
    described.assert_status(200, "the new secret works");
    assert_eq!(described.json()["id"], id);
    assert_eq!(described.json()["access"], "full");
    let fetched = app.get(&format!("/api/tokens/{id}"), &session).await;
    assert!(
        fetched.json().get("token").is_none() && !fetched.body.contains(&new[4..]),
        "GET never shows the new secret"
    );
}

#[tokio::test]
async fn regenerating_a_revoked_token_is_a_conflict() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let (id, secret) = app.create_token_with(&session, "read").await;
    app.call("DELETE", &format!("/api/tokens/{id}"), Some(&session), None)
        .await
        .assert_status(204, "revoke");
    let reply = app
        .call("POST", &format!("/api/tokens/{id}/regenerate"), Some(&session), None)
        .await;
    reply.assert_problem(409, None, "regenerating a revoked token");
    app.get("/api/users", &secret).await.assert_problem(
        401,
        Some(WWW_INVALID_TOKEN),
        "the revoked secret stays refused",
    );
    assert_eq!(
        app.get(&format!("/api/tokens/{id}"), &session).await.json()["status"],
        "revoked"
    );
}

#[tokio::test]
async fn an_expired_token_is_refused_and_shown_as_expired() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let expires_at = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let body = json!({"name": "short-lived", "access": "read", "expiresAt": rfc3339(expires_at)});
    let created = app.call("POST", "/api/tokens", Some(&session), Some(&body)).await;
    created.assert_status(201, "create a token that expires in 2 s");
    let created = created.json();
    let id = created["id"].as_i64().unwrap();
    let secret = created["token"].as_str().unwrap();
    app.get("/api/users", secret)
        .await
        .assert_status(200, "the token works before it expires");

    let wait = (expires_at.replace_nanosecond(0).unwrap() - time::OffsetDateTime::now_utc()).whole_milliseconds() + 300;
    tokio::time::sleep(Duration::from_millis(wait.max(0) as u64)).await;
    let refused = app.get("/api/users", secret).await;
    refused.assert_problem(401, Some(WWW_INVALID_TOKEN), "the token after its expiry");
    let stored = app.get(&format!("/api/tokens/{id}"), &session).await.json();
    assert_eq!(stored["status"], "expired", "{stored}");
}

#[tokio::test]
async fn a_missing_token_gets_404() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    for (method, path, body) in [
        ("GET", "/api/tokens/999999", None),
        ("PATCH", "/api/tokens/999999", Some(json!({"name": "x"}))),
        ("DELETE", "/api/tokens/999999", None),
        ("POST", "/api/tokens/999999/regenerate", None),
    ] {
        let reply = app.call(method, path, Some(&session), body.as_ref()).await;
        reply.assert_problem(404, None, &format!("{method} {path}"));
    }
}

#[tokio::test]
async fn last_used_at_is_null_for_a_fresh_token_and_set_once_it_is_used() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let (id, secret) = app.create_token_with(&session, "read").await;
    let path = format!("/api/tokens/{id}");
    assert_eq!(
        app.get(&path, &session).await.json()["lastUsedAt"],
        Value::Null,
        "a fresh token was never used"
    );
    app.get("/api/users", &secret).await.assert_status(200, "use the token");
    // Last-used times are written in batches: the value shows up at the latest on shutdown
    // (see lifecycle::sigterm_stops_the_server_gracefully_and_flushes_last_used_times).
    let shown = app.get(&path, &session).await.json();
    if !shown["lastUsedAt"].is_null() {
        let used = parse_rfc3339(&shown["lastUsedAt"]);
        assert!(
            used >= parse_rfc3339(&shown["createdAt"]),
            "lastUsedAt comes after createdAt: {shown}"
        );
    }
}
