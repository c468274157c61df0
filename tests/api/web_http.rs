//! The web admin over plain HTTP (no browser needed): security headers, the setup link's
//! rules, the session cookie's attributes, fresh sessions, idle expiry, sign-in throttling,
//! the last-admin rule and the audit log page.

use std::time::Duration;

use crate::helpers::{ADMIN_PASSWORD, ADMIN_USERNAME, TestApp};

/// A client that shows redirects instead of following them.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client")
}

fn origin(app: &TestApp) -> String {
    format!("http://{}", app.addr)
}

/// Posts a form from this site's origin, with an optional session cookie.
pub(crate) async fn post_form(app: &TestApp, path: &str, cookie: Option<&str>, body: &str) -> reqwest::Response {
    let mut request = client()
        .post(app.url(path))
        .header("Origin", origin(app))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.to_owned());
    if let Some(cookie) = cookie {
        request = request.header("Cookie", format!("portcullis_session={cookie}"));
    }
    request.send().await.expect("the server answers")
}

pub(crate) async fn get_page(app: &TestApp, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut request = client().get(app.url(path));
    if let Some(cookie) = cookie {
        request = request.header("Cookie", format!("portcullis_session={cookie}"));
    }
    request.send().await.expect("the server answers")
}

/// Signs in through the form and returns the session cookie's value and its `Set-Cookie`.
pub(crate) async fn sign_in(app: &TestApp, username: &str, password: &str) -> (String, String) {
    let reply = post_form(
        app,
        "/admin/login",
        None,
        &format!("username={username}&password={password}"),
    )
    .await;
    assert_eq!(reply.status(), 303, "signing in as {username} redirects");
    let set_cookie = reply
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("sign-in sets a cookie")
        .to_owned();
    let value = set_cookie
        .strip_prefix("portcullis_session=")
        .and_then(|rest| rest.split(';').next())
        .expect("the session cookie")
        .to_owned();
    (value, set_cookie)
}

/// The CSRF token in a page's forms.
pub(crate) async fn csrf(app: &TestApp, cookie: &str) -> String {
    let page = get_page(app, "/admin/tokens", Some(cookie)).await.text().await.unwrap();
    let start = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[start..start + 64].to_owned()
}

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let app = TestApp::spawn();
    let (cookie, _) = sign_in(&app, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    for path in [
        "/admin/login",
        "/setup?code=nope",
        "/admin/tokens",
        "/admin/users",
        "/admin/audit",
        "/admin/tokens/999",
    ] {
        let reply = get_page(&app, path, Some(&cookie)).await;
        let header = |name: &str| {
            reply
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: CSP {csp:?} lacks {directive:?}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: no inline script or style");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert!(!header("referrer-policy").is_empty(), "{path}: Referrer-Policy");
        assert_eq!(header("cache-control"), "no-store", "{path}: pages are not cached");
        let body = reply.text().await.unwrap();
        assert!(
            !body.contains("<script>") && !body.contains("style="),
            "{path}: no inline script or style"
        );
    }
    let css = get_page(&app, "/admin/assets/app.css", None).await;
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    let js = get_page(&app, "/admin/assets/app.js", None).await;
    assert_eq!(js.headers()["content-type"], "text/javascript; charset=utf-8");
}

#[tokio::test]
async fn the_setup_link_needs_its_code_works_once_and_never_once_a_user_exists() {
    let app = TestApp::spawn_without_users();
    let started = std::time::Instant::now();
    while !app.logs().contains("/setup?code=") && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let logs = app.logs();
    let code = logs
        .split("/setup?code=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a setup code is printed")
        .to_owned();
    for bad in ["", "code=", "code=setup_wrong", &format!("code={}x", code)] {
        let reply = get_page(&app, &format!("/setup?{bad}"), None).await;
        assert_eq!(reply.status(), 403, "GET /setup?{bad} is refused");
    }
    let form = |code: &str, name: &str| {
        format!("code={code}&username={name}&email={name}%40example.com&password=long-enough-1&confirm=long-enough-1")
    };
    let wrong = post_form(&app, "/setup", None, &form("setup_wrong", "eve")).await;
    assert_eq!(wrong.status(), 403, "a wrong code creates nobody");
    let cross = client()
        .post(app.url("/setup"))
        .header("Origin", "http://evil.example")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form(&code, "mallory"))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403, "a cross-origin setup is refused");
    let mismatch = post_form(
        &app,
        "/setup",
        None,
        &format!("code={code}&username=ada&email=ada%40example.com&password=long-enough-1&confirm=other-one-22"),
    )
    .await;
    assert_eq!(
        mismatch.status(),
        422,
        "different passwords are refused and keep the code"
    );
    assert_eq!(get_page(&app, &format!("/setup?code={code}"), None).await.status(), 200);
    let ok = post_form(&app, "/setup", None, &form(&code, "ada")).await;
    assert_eq!(ok.status(), 303, "the right code creates the administrator");
    let again = post_form(&app, "/setup", None, &form(&code, "bob")).await;
    assert_eq!(again.status(), 403, "the code dies once used");
    assert_eq!(get_page(&app, &format!("/setup?code={code}"), None).await.status(), 403);
    let session = app.session_for("ada", "long-enough-1").await;
    let users = app.get("/api/users", &session).await.json();
    assert_eq!(users["hydra:totalItems"], 1, "exactly one user: {users}");
    assert_eq!(
        users["hydra:member"][0]["admin"], true,
        "the first user is an administrator"
    );
}

#[tokio::test]
async fn the_session_cookie_is_strict_and_a_new_sign_in_replaces_the_old_session() {
    let app = TestApp::spawn();
    let (first, set_cookie) = sign_in(&app, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(set_cookie.contains(attribute), "{set_cookie:?} lacks {attribute}");
    }
    assert!(
        !set_cookie.contains("Secure"),
        "no Secure flag on a plain-http public URL"
    );
    assert_eq!(get_page(&app, "/admin/tokens", Some(&first)).await.status(), 200);

    let reply = client()
        .post(app.url("/admin/login"))
        .header("Origin", origin(&app))
        .header("Cookie", format!("portcullis_session={first}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("username={ADMIN_USERNAME}&password={ADMIN_PASSWORD}"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 303);
    let second = reply.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(!second.contains(&first), "a fresh session id at sign-in");
    let old = get_page(&app, "/admin/tokens", Some(&first)).await;
    assert_eq!(old.status(), 303, "the session the browser had before is ended");
    assert_eq!(old.headers()["location"], "/admin/login");

    let token = csrf(
        &app,
        second
            .split(';')
            .next()
            .unwrap()
            .trim_start_matches("portcullis_session="),
    )
    .await;
    let second = second
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("portcullis_session=")
        .to_owned();
    let out = post_form(&app, "/admin/logout", Some(&second), &format!("csrf={token}")).await;
    assert_eq!(out.status(), 303);
    assert!(
        out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"),
        "sign-out clears the cookie"
    );
    assert_eq!(
        get_page(&app, "/admin/tokens", Some(&second)).await.status(),
        303,
        "signed out"
    );
    let api = app.get("/api/users", &second).await;
    assert_eq!(api.status, 401, "the ended session is refused by the API too");
}

#[tokio::test]
async fn an_idle_session_ends_while_the_absolute_expiry_is_kept() {
    let app = TestApp::spawn_with_env(&[
        ("PORTCULLIS_SESSIONS_IDLE_TIMEOUT", "1s"),
        ("PORTCULLIS_SESSIONS_TTL", "1h"),
    ]);
    let (cookie, set_cookie) = sign_in(&app, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    assert!(
        set_cookie.contains("Max-Age=3600"),
        "the cookie lives as long as the session: {set_cookie}"
    );
    assert_eq!(get_page(&app, "/admin/tokens", Some(&cookie)).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let idle = get_page(&app, "/admin/tokens", Some(&cookie)).await;
    assert_eq!(idle.status(), 303, "a session idle past the timeout is ended");
    assert_eq!(
        get_page(&app, "/admin/tokens", Some(&cookie)).await.status(),
        303,
        "and stays ended"
    );
}

#[tokio::test]
async fn failed_sign_ins_are_slowed_down_per_account() {
    let app = TestApp::spawn();
    for attempt in 1..=4 {
        let reply = post_form(&app, "/admin/login", None, "username=admin&password=wrong-password").await;
        assert_eq!(reply.status(), 401, "attempt {attempt} with a wrong password");
        assert!(reply.text().await.unwrap().contains("username or password is wrong"));
    }
    let locked = post_form(
        &app,
        "/admin/login",
        None,
        &format!("username=admin&password={ADMIN_PASSWORD}"),
    )
    .await;
    assert_eq!(
        locked.status(),
        429,
        "after four failures even the right password waits"
    );
    assert!(
        locked.headers().contains_key("retry-after"),
        "429 says how long to wait"
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let after = post_form(
        &app,
        "/admin/login",
        None,
        &format!("username=admin&password={ADMIN_PASSWORD}"),
    )
    .await;
    assert_eq!(after.status(), 303, "after the wait the right password works");
}

#[tokio::test]
async fn the_last_administrator_cannot_remove_their_own_admin_role_or_deactivate() {
    let app = TestApp::spawn();
    let (cookie, _) = sign_in(&app, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    let token = csrf(&app, &cookie).await;
    let demote = post_form(
        &app,
        "/admin/users/1/admin",
        Some(&cookie),
        &format!("csrf={token}&admin=false"),
    )
    .await;
    assert_eq!(demote.status(), 409, "the last admin keeps the role");
    assert!(demote.text().await.unwrap().contains("last active administrator"));
    let deactivate = post_form(
        &app,
        "/admin/users/1/active",
        Some(&cookie),
        &format!("csrf={token}&active=false"),
    )
    .await;
    assert_eq!(deactivate.status(), 409, "the last admin stays active");

    // With a second administrator, the first may step down.
    let create = post_form(
        &app,
        "/admin/users",
        Some(&cookie),
        &format!("csrf={token}&username=grace&email=grace%40example.com&password=another-long-one&admin=on"),
    )
    .await;
    assert_eq!(create.status(), 303, "an admin creates another admin");
    let demote = post_form(
        &app,
        "/admin/users/1/admin",
        Some(&cookie),
        &format!("csrf={token}&admin=false"),
    )
    .await;
    assert_eq!(demote.status(), 303, "with another admin the role can go");
    let grace = app.session_for("grace", "another-long-one").await;
    let me = app.get("/api/users/1", &grace).await.json();
    assert_eq!(me["admin"], false, "{me}");
}

#[tokio::test]
async fn the_audit_log_shows_events_newest_first_filtered_by_kind() {
    let app = TestApp::spawn();
    let _ = post_form(&app, "/admin/login", None, "username=admin&password=wrong-password").await;
    let (cookie, _) = sign_in(&app, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    let token = csrf(&app, &cookie).await;
    let created = post_form(
        &app,
        "/admin/tokens",
        Some(&cookie),
        &format!("csrf={token}&name=Audited&access=read&expiry=never"),
    )
    .await;
    assert_eq!(created.status(), 201);
    assert_eq!(
        created.headers()["cache-control"],
        "no-store",
        "the secret page is never cached"
    );
    let page = get_page(&app, "/admin/audit", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    let page = &page[page.find("<table").expect("a table of events")..];
    let (token_at, login_at, failed_at) = (
        page.find("token.created").expect("token.created listed"),
        page.rfind("login.succeeded").expect("login.succeeded listed"),
        page.rfind("login.failed").expect("login.failed listed"),
    );
    assert!(token_at < login_at && login_at < failed_at, "newest first");
    let filtered = get_page(&app, "/admin/audit?kind=login.failed", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    let table = &filtered[filtered.find("<table").expect("a table")..];
    assert!(
        table.contains("login.failed") && !table.contains("token.created"),
        "filtered by kind"
    );
    // The lifecycle and webhook kinds can be chosen too.
    for kind in [
        "token.disabled",
        "token.leak_reported",
        "token.expiring",
        "webhook.created",
    ] {
        assert!(
            filtered.contains(&format!("<option value=\"{kind}\"")),
            "the filter offers {kind}"
        );
    }
}

#[tokio::test]
async fn tokens_are_edited_and_regenerated_through_the_forms_with_the_api_rules() {
    let app = TestApp::spawn();
    let (id, old_secret) = app.create_token("read").await;
    let (cookie, _) = sign_in(&app, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    let token = csrf(&app, &cookie).await;

    let edit = post_form(
        &app,
        &format!("/admin/tokens/{id}"),
        Some(&cookie),
        &format!("csrf={token}&name=Renamed+export&description=Now+documented"),
    )
    .await;
    assert_eq!(edit.status(), 303, "saving the edit form redirects");
    let blank = post_form(
        &app,
        &format!("/admin/tokens/{id}"),
        Some(&cookie),
        &format!("csrf={token}&name=+&description="),
    )
    .await;
    assert_eq!(blank.status(), 422, "a blank name is refused");
    let session = app.admin_session().await;
    let shown = app.get(&format!("/api/tokens/{id}"), &session).await.json();
    assert_eq!(shown["name"], "Renamed export");
    assert_eq!(shown["description"], "Now documented");

    let regenerated = post_form(
        &app,
        &format!("/admin/tokens/{id}/regenerate"),
        Some(&cookie),
        &format!("csrf={token}"),
    )
    .await;
    assert_eq!(regenerated.status(), 200);
    assert_eq!(regenerated.headers()["cache-control"], "no-store");
    let page = regenerated.text().await.unwrap();
    let start = page.find("id=\"token-secret\"").expect("the new secret is shown");
    let value_at = page[start..].find("value=\"").unwrap() + start + 7;
    let new_secret = &page[value_at..value_at + 53];
    assert!(new_secret.starts_with("pcl_"), "{new_secret}");
    assert_eq!(
        app.get("/api/users", &old_secret).await.status,
        401,
        "the old secret stops working"
    );
    assert_eq!(
        app.get("/api/users", new_secret).await.status,
        200,
        "the new secret works"
    );

    let page = get_page(
        &app,
        "/admin/tokens?status=active&access=read&q=renamed&sort=name&dir=asc",
        Some(&cookie),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(page.contains("Renamed export"), "filters find the token");
    assert!(!page.contains(new_secret), "the list never shows a secret");
    let none = get_page(&app, "/admin/tokens?status=revoked", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert!(none.contains("No token matches"), "an empty filter result says so");
}

#[tokio::test]
async fn users_are_deactivated_and_their_password_reset_by_an_admin() {
    let app = TestApp::spawn();
    let id = app.create_user_cli("reader", "reader-password-1", false);
    let (cookie, _) = sign_in(&app, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    let token = csrf(&app, &cookie).await;
    let (reader, _) = sign_in(&app, "reader", "reader-password-1").await;

    let reset = post_form(
        &app,
        &format!("/admin/users/{id}/password"),
        Some(&cookie),
        &format!("csrf={token}&password=brand-new-secret"),
    )
    .await;
    assert_eq!(reset.status(), 303);
    assert_eq!(
        get_page(&app, "/admin/tokens", Some(&reader)).await.status(),
        303,
        "a reset ends the user's sessions"
    );
    assert_eq!(
        app.sign_in("reader", "reader-password-1").await.status,
        401,
        "the old password is gone"
    );
    assert_eq!(
        app.sign_in("reader", "brand-new-secret").await.status,
        201,
        "the new password works"
    );
    let short = post_form(
        &app,
        &format!("/admin/users/{id}/password"),
        Some(&cookie),
        &format!("csrf={token}&password=short"),
    )
    .await;
    assert_eq!(short.status(), 422, "a short password is refused");

    let off = post_form(
        &app,
        &format!("/admin/users/{id}/active"),
        Some(&cookie),
        &format!("csrf={token}&active=false"),
    )
    .await;
    assert_eq!(off.status(), 303);
    assert_eq!(
        app.sign_in("reader", "brand-new-secret").await.status,
        401,
        "a deactivated user cannot sign in"
    );
    let on = post_form(
        &app,
        &format!("/admin/users/{id}/active"),
        Some(&cookie),
        &format!("csrf={token}&active=true"),
    )
    .await;
    assert_eq!(on.status(), 303);
    assert_eq!(
        app.sign_in("reader", "brand-new-secret").await.status,
        201,
        "reactivated"
    );

    let page = get_page(&app, "/admin/users", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("reader@example.com") && page.contains("id=\"new-user\""),
        "the list and its create button"
    );
}

#[tokio::test]
async fn the_audit_log_is_paginated() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    for _ in 0..26 {
        app.create_token_with(&session, "read").await;
    }
    let (cookie, _) = sign_in(&app, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    let first = get_page(&app, "/admin/audit?kind=token.created", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        first.matches("<tr>").count() - 1,
        25,
        "25 events a page (plus the header row)"
    );
    assert!(
        first.contains("Page 1 of 2") && first.contains("rel=\"next\""),
        "a link to older events"
    );
    let second = get_page(&app, "/admin/audit?kind=token.created&page=2", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(second.matches("<tr>").count() - 1, 1, "the oldest event on page 2");
    assert!(second.contains("token:1<"), "page 2 ends with the first token");
    let junk = get_page(&app, "/admin/audit?page=abc&kind=nonsense", Some(&cookie)).await;
    assert_eq!(
        junk.status(),
        200,
        "unreadable paging falls back to the first page of every kind"
    );
}

#[tokio::test]
async fn sending_the_new_token_form_twice_creates_one_token() {
    let app = TestApp::spawn();
    let (cookie, _) = sign_in(&app, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    let csrf = csrf(&app, &cookie).await;
    let page = get_page(&app, "/admin/tokens/new", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    let start = page.find("name=\"form_id\" value=\"").expect("a form id") + 22;
    let form_id = &page[start..start + 32];
    let body = format!("csrf={csrf}&form_id={form_id}&name=reload&description=&access=read&expiry=30d&expires_on=");

    let first = post_form(&app, "/admin/tokens", Some(&cookie), &body).await;
    assert_eq!(first.status(), 201, "the first send creates the token");
    assert!(
        first.text().await.unwrap().contains("won't see it again"),
        "the secret is shown once"
    );
    let again = post_form(&app, "/admin/tokens", Some(&cookie), &body).await;
    assert_eq!(
        again.status(),
        409,
        "a reload of the 'token created' page creates nothing"
    );
    let text = again.text().await.unwrap();
    assert!(
        text.contains("already sent") && text.contains("/admin/tokens/1"),
        "{text}"
    );
    assert!(!text.contains("won't see it again"), "no second secret: {text}");

    let session = app.admin_session().await;
    assert_eq!(app.total_items("/api/tokens", &session).await, 1, "one token");
}
