//! DESIGN §4: `/api/users` — create, read, replace, change, delete, and the rules that guard
//! administrators. Bad input changes nothing.

use serde_json::{Value, json};

use crate::helpers::*;

const USER_FIELDS: [&str; 10] = [
    "id",
    "username",
    "email",
    "firstName",
    "lastName",
    "active",
    "admin",
    "dateCreated",
    "dateModified",
    "dateLogged",
];

#[track_caller]
fn assert_user_shape(user: &Value) {
    for field in USER_FIELDS {
        assert!(user.get(field).is_some(), "a user carries `{field}`: {user}");
    }
    assert!(user["id"].is_i64(), "`id` is an integer: {user}");
    parse_rfc3339(&user["dateCreated"]);
    assert_no_secret_fields(user);
}

#[tokio::test]
async fn an_admin_session_creates_a_user_and_gets_its_location() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let body = json!({
        "username": "jdoe", "email": "jdoe@example.com", "firstName": "John", "lastName": "Doe",
        "active": true, "admin": false
    });
    let reply = app.call("POST", "/api/users", Some(&session), Some(&body)).await;
    reply.assert_status(201, "POST /api/users with an admin session");
    let user = reply.json();
    assert_user_shape(&user);
    let id = user["id"].as_i64().unwrap();
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/users/{id}").as_str()),
        "Location of the new user"
    );
    for (field, expected) in [
        ("username", json!("jdoe")),
        ("email", json!("jdoe@example.com")),
        ("firstName", json!("John")),
        ("lastName", json!("Doe")),
        ("active", json!(true)),
        ("admin", json!(false)),
    ] {
        assert_eq!(user[field], expected, "`{field}` of the created user: {user}");
    }

    let fetched = app.get(&format!("/api/users/{id}"), &session).await;
    fetched.assert_status(200, "GET the new user");
    assert_eq!(fetched.json()["username"], "jdoe");
    assert_eq!(fetched.json()["email"], "jdoe@example.com");
}

#[tokio::test]
async fn a_new_user_is_active_and_not_an_admin_by_default() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let reply = app
        .call(
            "POST",
            "/api/users",
            Some(&session),
            Some(&json!({"username": "plain", "email": "plain@example.com"})),
        )
        .await;
    reply.assert_status(201, "POST /api/users with only the required fields");
    let user = reply.json();
    assert_user_shape(&user);
    assert_eq!(user["active"], true, "active by default: {user}");
    assert_eq!(user["admin"], false, "not an admin by default: {user}");
    assert_eq!(
        user["dateLogged"],
        Value::Null,
        "a new user has never signed in: {user}"
    );
}

#[tokio::test]
async fn a_user_created_with_a_password_can_sign_in_and_the_password_is_never_returned() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let password = "a-long-enough-password-42";
    let body = json!({"username": "withpass", "email": "withpass@example.com", "password": password});
    let reply = app.call("POST", "/api/users", Some(&session), Some(&body)).await;
    reply.assert_status(201, "POST /api/users with a password");
    assert!(
        !reply.body.contains(password),
        "the password must not be echoed: {}",
        reply.body
    );
    assert_no_secret_fields(&reply.json());
    app.sign_in("withpass", password)
        .await
        .assert_status(201, "signing in with the password set at creation");
}

#[tokio::test]
async fn a_full_token_creates_users_but_cannot_create_an_admin() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let (_, full) = app.create_token_with(&session, "full").await;
    let reply = app
        .call(
            "POST",
            "/api/users",
            Some(&full),
            Some(&json!({"username": "byfull", "email": "byfull@example.com"})),
        )
        .await;
    reply.assert_status(201, "a Full Access token creates a plain user");

    let before = app.total_items("/api/users", &session).await;
    let admin_body = json!({"username": "mintedadmin", "email": "minted@example.com", "admin": true});
    let reply = app.call("POST", "/api/users", Some(&full), Some(&admin_body)).await;
    reply.assert_problem(403, Some(WWW_SCOPE_ADMIN), "a Full Access token creating an admin");
    assert_eq!(
        app.total_items("/api/users", &session).await,
        before,
        "the refused admin was not created"
    );
}

#[tokio::test]
async fn invalid_user_input_gets_a_clear_error_and_creates_nothing() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let json_type = Some("application/json");
    let cases: &[(&str, Option<&str>, &str, u16)] = &[
        ("malformed JSON", json_type, r#"{"username": "x", "#, 400),
        ("an empty body", json_type, "", 400),
        (
            "a JSON array instead of an object",
            json_type,
            r#"[{"username": "x", "email": "x@example.com"}]"#,
            422,
        ),
        (
            "an unknown field",
            json_type,
            r#"{"username": "x1", "email": "x1@example.com", "role": "root"}"#,
            422,
        ),
        (
            "a number as username",
            json_type,
            r#"{"username": 5, "email": "x2@example.com"}"#,
            422,
        ),
        (
            "a string as active",
            json_type,
            r#"{"username": "x3", "email": "x3@example.com", "active": "yes"}"#,
            422,
        ),
        (
            "a string as admin",
            json_type,
            r#"{"username": "x4", "email": "x4@example.com", "admin": "no"}"#,
            422,
        ),
        ("no username", json_type, r#"{"email": "x5@example.com"}"#, 422),
        ("no email", json_type, r#"{"username": "x6"}"#, 422),
        (
            "null username",
            json_type,
            r#"{"username": null, "email": "x7@example.com"}"#,
            422,
        ),
        (
            "an invalid email",
            json_type,
            r#"{"username": "x8", "email": "not an email"}"#,
            422,
        ),
        (
            "an email without a domain",
            json_type,
            r#"{"username": "x9", "email": "x9@"}"#,
            422,
        ),
        (
            "a username with spaces",
            json_type,
            r#"{"username": "john smith", "email": "x10@example.com"}"#,
            422,
        ),
        (
            "an empty username",
            json_type,
            r#"{"username": "", "email": "x11@example.com"}"#,
            422,
        ),
        (
            "a duplicate username",
            json_type,
            r#"{"username": "admin", "email": "other@example.com"}"#,
            409,
        ),
        (
            "a duplicate username in capitals",
            json_type,
            r#"{"username": "ADMIN", "email": "other@example.com"}"#,
            409,
        ),
        (
            "a duplicate username in mixed case",
            json_type,
            r#"{"username": "Admin", "email": "other@example.com"}"#,
            409,
        ),
        (
            "no Content-Type",
            None,
            r#"{"username": "x12", "email": "x12@example.com"}"#,
            415,
        ),
        (
            "Content-Type text/plain",
            Some("text/plain"),
            r#"{"username": "x13", "email": "x13@example.com"}"#,
            415,
        ),
        (
            "Content-Type application/xml",
            Some("application/xml"),
            r#"<user/>"#,
            415,
        ),
    ];
    let before = app.total_items("/api/users", &session).await;
    for (what, content_type, body, status) in cases {
        let mut request = app
            .client()
            .post(app.url("/api/users"))
            .bearer_auth(&session)
            .body(body.to_string());
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", *content_type);
        }
        let reply = Reply::from(request.send().await.unwrap()).await;
        reply.assert_problem(*status, None, what);
        assert_eq!(
            app.total_items("/api/users", &session).await,
            before,
            "{what}: no user may be created"
        );
    }
}

#[tokio::test]
async fn put_replaces_a_user_and_patch_changes_only_the_given_fields() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let id = app.create_user_api(&session, "alice").await;
    let path = format!("/api/users/{id}");

    let replacement = json!({
        "username": "alice2", "email": "alice2@example.com", "firstName": "Alice", "lastName": "Liddell",
        "active": true, "admin": false
    });
    let reply = app.call("PUT", &path, Some(&session), Some(&replacement)).await;
    reply.assert_status(200, "PUT a user");
    let user = reply.json();
    assert_user_shape(&user);
    for field in ["username", "email", "firstName", "lastName", "active", "admin"] {
        assert_eq!(user[field], replacement[field], "PUT sets `{field}`: {user}");
    }
    assert_eq!(user["id"], id, "PUT keeps the id");

    let reply = app
        .call("PATCH", &path, Some(&session), Some(&json!({"lastName": "Pleasance"})))
        .await;
    reply.assert_status(200, "PATCH a user");
    let patched = reply.json();
    assert_eq!(
        patched["lastName"], "Pleasance",
        "PATCH sets the given field: {patched}"
    );
    for field in ["username", "email", "firstName", "active", "admin"] {
        assert_eq!(
            patched[field], replacement[field],
            "PATCH leaves `{field}` alone: {patched}"
        );
    }
    let fetched = app.get(&path, &session).await.json();
    assert_eq!(fetched["lastName"], "Pleasance", "the change is stored");
    assert_eq!(fetched["username"], "alice2", "the change is stored");

    // PUT is a full replacement: what it leaves out returns to the default, unlike PATCH.
    let minimal = json!({"username": "alice3", "email": "alice3@example.com"});
    let reply = app.call("PUT", &path, Some(&session), Some(&minimal)).await;
    reply.assert_status(200, "PUT with only the required fields");
    let replaced = reply.json();
    assert_eq!(replaced["username"], "alice3", "{replaced}");
    assert_eq!(replaced["firstName"], "", "PUT without firstName clears it: {replaced}");
    assert_eq!(replaced["lastName"], "", "PUT without lastName clears it: {replaced}");
    assert_eq!(replaced["active"], true, "{replaced}");
    assert_eq!(replaced["admin"], false, "{replaced}");
}

#[tokio::test]
async fn an_invalid_change_to_a_user_changes_nothing() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let id = app.create_user_api(&session, "bob").await;
    let path = format!("/api/users/{id}");
    let before = app.get(&path, &session).await.json();
    let cases: &[(&str, &str, Value, u16)] = &[
        ("PATCH an invalid email", "PATCH", json!({"email": "not an email"}), 422),
        (
            "PATCH a username with spaces",
            "PATCH",
            json!({"username": "bob smith"}),
            422,
        ),
        ("PATCH an unknown field", "PATCH", json!({"nickname": "bobby"}), 422),
        ("PATCH a wrong type", "PATCH", json!({"active": "no"}), 422),
        ("PATCH a duplicate username", "PATCH", json!({"username": "ADMIN"}), 409),
        (
            "PUT a duplicate username",
            "PUT",
            json!({"username": "admin", "email": "bob@example.com", "firstName": "", "lastName": "", "active": true, "admin": false}),
            409,
        ),
        ("PUT without the other fields", "PUT", json!({"username": "bob"}), 422),
        (
            "PUT an invalid email",
            "PUT",
            json!({"username": "bob", "email": "nope", "firstName": "", "lastName": "", "active": true, "admin": false}),
            422,
        ),
    ];
    for (what, method, body, status) in cases {
        let reply = app.call(method, &path, Some(&session), Some(body)).await;
        reply.assert_problem(*status, None, what);
        assert_eq!(
            app.get(&path, &session).await.json(),
            before,
            "{what}: the user must be unchanged"
        );
    }
}

#[tokio::test]
async fn delete_removes_a_user() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let id = app.create_user_api(&session, "carol").await;
    let path = format!("/api/users/{id}");
    let reply = app.call("DELETE", &path, Some(&session), None).await;
    reply.assert_status(204, "DELETE a user");
    assert!(reply.body.is_empty(), "204 has no body: {:?}", reply.body);
    app.get(&path, &session)
        .await
        .assert_problem(404, None, "GET a deleted user");
    app.call("DELETE", &path, Some(&session), None)
        .await
        .assert_problem(404, None, "DELETE a deleted user");
}

#[tokio::test]
async fn a_missing_user_gets_404_and_a_non_integer_id_400_or_404() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    app.get("/api/users/999999", &session)
        .await
        .assert_problem(404, None, "GET a missing user");
    app.call(
        "PATCH",
        "/api/users/999999",
        Some(&session),
        Some(&json!({"firstName": "X"})),
    )
    .await
    .assert_problem(404, None, "PATCH a missing user");
    for id in ["abc", "1.5", "-1", "99999999999999999999999"] {
        let reply = app.get(&format!("/api/users/{id}"), &session).await;
        let status = reply.status;
        assert!(
            status == 400 || status == 404,
            "GET /api/users/{id} should be 400 or 404: {reply:?}"
        );
        reply.assert_problem(status, None, &format!("GET /api/users/{id}"));
    }
}

#[tokio::test]
async fn a_full_token_cannot_touch_an_admin_user_or_the_admin_flag() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let (_, full) = app.create_token_with(&session, "full").await;
    let plain = app.create_user_api(&session, "dave").await;
    let admin_before = app.get("/api/users/1", &session).await.json();
    let plain_before = app.get(&format!("/api/users/{plain}"), &session).await.json();
    let replace = |admin: bool, name: &str| json!({"username": name, "email": format!("{name}@example.com"), "firstName": "", "lastName": "", "active": true, "admin": admin});
    let plain_path = format!("/api/users/{plain}");
    let cases: Vec<(&str, &str, &str, Option<Value>)> = vec![
        (
            "PATCH an admin user",
            "PATCH",
            "/api/users/1",
            Some(json!({"firstName": "Mallory"})),
        ),
        ("PUT an admin user", "PUT", "/api/users/1", Some(replace(true, "admin"))),
        ("DELETE an admin user", "DELETE", "/api/users/1", None),
        (
            "PATCH admin=false on an admin",
            "PATCH",
            "/api/users/1",
            Some(json!({"admin": false})),
        ),
        (
            "PATCH admin=true on a plain user",
            "PATCH",
            &plain_path,
            Some(json!({"admin": true})),
        ),
        (
            "PUT admin=true on a plain user",
            "PUT",
            &plain_path,
            Some(replace(true, "dave")),
        ),
    ];
    for (what, method, path, body) in &cases {
        let reply = app.call(method, path, Some(&full), body.as_ref()).await;
        reply.assert_problem(403, Some(WWW_SCOPE_ADMIN), &format!("a Full Access token: {what}"));
    }
    assert_eq!(
        app.get("/api/users/1", &session).await.json(),
        admin_before,
        "the admin is unchanged"
    );
    assert_eq!(
        app.get(&plain_path, &session).await.json(),
        plain_before,
        "the plain user is unchanged"
    );

    let reply = app
        .call("PATCH", &plain_path, Some(&full), Some(&json!({"firstName": "Dave"})))
        .await;
    reply.assert_status(200, "a Full Access token may still change a plain user's other fields");
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_demoted_deactivated_or_deleted() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    // An inactive administrator does not count.
    let body = json!({"username": "sleepy", "email": "sleepy@example.com", "admin": true, "active": false});
    app.call("POST", "/api/users", Some(&session), Some(&body))
        .await
        .assert_status(201, "create an inactive admin");
    let before = app.get("/api/users/1", &session).await.json();
    let cases: Vec<(&str, &str, Option<Value>)> = vec![
        ("demote by PATCH", "PATCH", Some(json!({"admin": false}))),
        ("deactivate by PATCH", "PATCH", Some(json!({"active": false}))),
        (
            "demote by PUT",
            "PUT",
            Some(
                json!({"username": "admin", "email": "admin@example.com", "firstName": "", "lastName": "", "active": true, "admin": false}),
            ),
        ),
        (
            "deactivate by PUT",
            "PUT",
            Some(
                json!({"username": "admin", "email": "admin@example.com", "firstName": "", "lastName": "", "active": false, "admin": true}),
            ),
        ),
        ("delete", "DELETE", None),
    ];
    for (what, method, body) in &cases {
        let reply = app.call(method, "/api/users/1", Some(&session), body.as_ref()).await;
        reply.assert_problem(409, None, &format!("the last active admin: {what}"));
    }
    assert_eq!(
        app.get("/api/users/1", &session).await.json(),
        before,
        "the last admin is unchanged"
    );

    let second = app.create_user_cli("second", "second-admin-password", true);
    let reply = app
        .call("PATCH", "/api/users/1", Some(&session), Some(&json!({"admin": false})))
        .await;
    reply.assert_status(200, "demoting an admin while another active admin exists");
    assert_eq!(reply.json()["admin"], false);
    let second_session = app.session_for("second", "second-admin-password").await;
    let reply = app
        .call("DELETE", &format!("/api/users/{second}"), Some(&second_session), None)
        .await;
    reply.assert_problem(409, None, "the new last active admin deleting itself");
}

#[tokio::test]
async fn deactivating_a_user_ends_their_sessions_and_stops_their_sign_in() {
    let app = TestApp::spawn();
    let admin = app.admin_session().await;
    let id = app.create_user_cli("erin", "erin-password-123", false);
    let erin = app.session_for("erin", "erin-password-123").await;
    app.get("/api/users", &erin)
        .await
        .assert_status(200, "erin's session works");

    let reply = app
        .call(
            "PATCH",
            &format!("/api/users/{id}"),
            Some(&admin),
            Some(&json!({"active": false})),
        )
        .await;
    reply.assert_status(200, "deactivate erin");
    assert_eq!(reply.json()["active"], false);
    app.get("/api/users", &erin).await.assert_problem(
        401,
        Some(WWW_INVALID_TOKEN),
        "erin's session after deactivation",
    );

    let refused = app.sign_in("erin", "erin-password-123").await;
    refused.assert_problem(401, Some(WWW_NO_ERROR), "a deactivated user signing in");
    let wrong = app.sign_in("erin", "not-erins-password").await;
    assert_eq!(
        refused.body, wrong.body,
        "a deactivated user gets the same answer as a wrong password"
    );
}

#[tokio::test]
async fn deactivating_or_deleting_the_creator_of_a_token_leaves_the_token_working() {
    let app = TestApp::spawn();
    let admin = app.admin_session().await;
    let creator_id = app.create_user_cli("creator", "creator-password-1", true);
    let creator = app.session_for("creator", "creator-password-1").await;
    let (token_id, token) = app.create_token_with(&creator, "full").await;
    let token_path = format!("/api/tokens/{token_id}");
    let expected_creator = json!({"id": creator_id, "username": "creator"});
    assert_eq!(
        app.get(&token_path, &admin).await.json()["createdBy"],
        expected_creator,
        "createdBy names the creator"
    );

    let user_path = format!("/api/users/{creator_id}");
    let reply = app
        .call("PATCH", &user_path, Some(&admin), Some(&json!({"active": false})))
        .await;
    reply.assert_status(200, "deactivate the creator");
    app.get("/api/users", &token)
        .await
        .assert_status(200, "the token after its creator was deactivated");

    app.call("DELETE", &user_path, Some(&admin), None)
        .await
        .assert_status(204, "delete the creator");
    app.get("/api/users", &token)
        .await
        .assert_status(200, "the token after its creator was deleted");
    let described = app.get("/api/token", &token).await;
    described.assert_status(200, "GET /api/token after the creator was deleted");
    let stored = app.get(&token_path, &admin).await;
    stored.assert_status(200, "GET the token after its creator was deleted");
    assert_eq!(
        stored.json()["status"],
        "active",
        "the token is still active: {}",
        stored.body
    );
    assert_eq!(
        stored.json()["createdBy"],
        expected_creator,
        "createdBy still shows the deleted creator"
    );
}
