//! The web admin's token lifecycle controls over plain HTTP (issue 6 in the web admin): rate
//! limits and allowlists on create and edit, disable/enable, regeneration with a grace period,
//! leak reports, and the read-only view of non-administrators. Each change is checked through
//! the API it must match.

use serde_json::json;

use crate::helpers::*;
use crate::web_http::{csrf, get_page, post_form, sign_in};

async fn page(app: &TestApp, path: &str, cookie: &str) -> String {
    let reply = get_page(app, path, Some(cookie)).await;
    assert_eq!(reply.status(), 200, "GET {path}");
    reply.text().await.unwrap()
}

/// The secret shown on a "token created/regenerated" page.
fn secret_in(page: &str) -> String {
    let start = page.find("id=\"token-secret\"").expect("the secret is shown");
    let value_at = page[start..].find("value=\"").unwrap() + start + 7;
    page[value_at..value_at + 53].to_owned()
}

#[tokio::test]
async fn rate_limits_and_allowlists_are_set_through_the_forms_with_the_apis_rules() {
    let app = TestApp::spawn();
    let (cookie, _) = sign_in(&app, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    let csrf = csrf(&app, &cookie).await;
    let session = app.admin_session().await;
    let new_form = page(&app, "/admin/tokens/new", &cookie).await;
    for field in ["name=\"rate_limit\"", "name=\"rate_short\"", "name=\"allowed_ips\""] {
        assert!(new_form.contains(field), "the new-token form has {field}");
    }
    let base = format!("csrf={csrf}&name=limited&description=&access=read&expiry=never&expires_on=");

    for (fields, error) in [
        ("&rate_limit=custom&rate_short=0&rate_long=10", "Rate limit:"),
        ("&rate_limit=custom&rate_short=&rate_long=10", "Rate limit:"),
        ("&rate_limit=default&allowed_ips=10.0.0.0%2F33", "Allowed addresses:"),
    ] {
        let reply = post_form(&app, "/admin/tokens", Some(&cookie), &format!("{base}{fields}")).await;
        assert_eq!(reply.status(), 422, "{fields} is refused");
        let text = reply.text().await.unwrap();
        assert!(text.contains(error), "the form names the field for {fields}: {text}");
    }
    assert_eq!(
        app.total_items("/api/tokens", &session).await,
        0,
        "nothing half-created"
    );

    let created = post_form(
        &app,
        "/admin/tokens",
        Some(&cookie),
        &format!("{base}&rate_limit=custom&rate_short=2&rate_long=10&allowed_ips=127.0.0.1%0D%0A10.0.0.0%2F8"),
    )
    .await;
    assert_eq!(created.status(), 201);
    let secret = secret_in(&created.text().await.unwrap());
    let id = 1;
    let shown = app.get(&format!("/api/tokens/{id}"), &session).await.json();
    assert_eq!(shown["rateLimit"], json!({"short": 2, "long": 10}), "{shown}");
    assert_eq!(shown["allowedIps"], json!(["127.0.0.1/32", "10.0.0.0/8"]), "{shown}");
    app.get("/api/token", &secret)
        .await
        .assert_status(200, "from an allowed address");
    app.get("/api/token", &secret)
        .await
        .assert_status(200, "the second request");
    app.get("/api/token", &secret)
        .await
        .assert_problem(429, None, "the limit set in the form applies");

    let details = page(&app, &format!("/admin/tokens/{id}"), &cookie).await;
    assert!(
        details.contains("2 per 10 min, 10 per 24 h"),
        "the page shows the limit"
    );
    assert!(details.contains("10.0.0.0/8"), "and the allowlist");

    let edit = |fields: &str| {
        let body = format!("csrf={csrf}&name=limited&description={fields}");
        let (app, cookie) = (&app, cookie.clone());
        async move { post_form(app, "/admin/tokens/1", Some(&cookie), &body).await }
    };
    let bad = edit("&rate_limit=off&allowed_ips=not-an-address").await;
    assert_eq!(bad.status(), 422, "a bad allowlist is refused in the edit form");
    let text = bad.text().await.unwrap();
    assert!(
        text.contains("Allowed addresses:") && text.contains("not-an-address"),
        "{text}"
    );
    assert_eq!(
        app.get("/api/tokens/1", &session).await.json()["rateLimit"],
        json!({"short": 2, "long": 10}),
        "nothing changed"
    );
    let moved = edit("&rate_limit=off&allowed_ips=10.0.0.0%2F8").await;
    assert_eq!(moved.status(), 303);
    let shown = app.get("/api/tokens/1", &session).await.json();
    assert_eq!(
        (shown["rateLimit"].clone(), shown["allowedIps"].clone()),
        (json!("off"), json!(["10.0.0.0/8"]))
    );
    assert_eq!(
        app.get("/api/token", &secret).await.status,
        403,
        "127.0.0.1 is no longer allowed"
    );
    let anywhere = edit("&rate_limit=default&allowed_ips=").await;
    assert_eq!(anywhere.status(), 303);
    assert_eq!(
        app.get("/api/tokens/1", &session).await.json()["allowedIps"],
        json!(null)
    );
    app.get("/api/token", &secret)
        .await
        .assert_status(200, "anywhere again");
}

#[tokio::test]
async fn disabling_enabling_and_regenerating_with_a_grace_period_work_through_the_forms() {
    let app = TestApp::spawn();
    let (id, secret) = app.create_token("read").await;
    let (cookie, _) = sign_in(&app, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    let csrf = csrf(&app, &cookie).await;
    let session = app.admin_session().await;
    let name = app.get(&format!("/api/tokens/{id}"), &session).await.json()["name"]
        .as_str()
        .unwrap()
        .to_owned();

    let confirm = page(&app, &format!("/admin/tokens/{id}/disable"), &cookie).await;
    assert!(
        confirm.contains(&format!("Disable “{name}”?")),
        "the confirmation names the token"
    );
    let disabled = post_form(
        &app,
        &format!("/admin/tokens/{id}/disable"),
        Some(&cookie),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(disabled.status(), 303);
    app.get("/api/token", &secret)
        .await
        .assert_problem(401, Some(WWW_INVALID_TOKEN), "a disabled token is refused");
    let details = page(&app, &format!("/admin/tokens/{id}?done=disabled"), &cookie).await;
    assert!(
        details.contains("status-disabled") && details.contains("id=\"enable\""),
        "badge and Enable"
    );
    let list = page(&app, "/admin/tokens?status=disabled", &cookie).await;
    assert!(list.contains(&name), "the Disabled filter finds it");

    let confirm = page(&app, &format!("/admin/tokens/{id}/enable"), &cookie).await;
    assert!(confirm.contains(&format!("Enable “{name}”?")));
    let enabled = post_form(
        &app,
        &format!("/admin/tokens/{id}/enable"),
        Some(&cookie),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(enabled.status(), 303);
    app.get("/api/token", &secret).await.assert_status(200, "enabled again");

    let confirm = page(&app, &format!("/admin/tokens/{id}/regenerate"), &cookie).await;
    assert!(
        confirm.contains("name=\"grace\"") && confirm.contains("24 hours"),
        "a grace period choice"
    );
    let bad = post_form(
        &app,
        &format!("/admin/tokens/{id}/regenerate"),
        Some(&cookie),
        &format!("csrf={csrf}&grace=90d"),
    )
    .await;
    assert_eq!(bad.status(), 422, "more than 30 days is refused");
    app.get("/api/token", &secret)
        .await
        .assert_status(200, "nothing regenerated");
    let regenerated = post_form(
        &app,
        &format!("/admin/tokens/{id}/regenerate"),
        Some(&cookie),
        &format!("csrf={csrf}&grace=24h"),
    )
    .await;
    assert_eq!(regenerated.status(), 200);
    let new_secret = secret_in(&regenerated.text().await.unwrap());
    app.get("/api/token", &new_secret)
        .await
        .assert_status(200, "the new secret");
    app.get("/api/token", &secret)
        .await
        .assert_status(200, "the old one, in its grace period");
    let shown = app.get(&format!("/api/tokens/{id}"), &session).await.json();
    assert_eq!(shown["oldSecretStillInUse"], true, "{shown}");
    let details = page(&app, &format!("/admin/tokens/{id}"), &cookie).await;
    assert!(details.contains("old secret still in use"), "the token's page says so");
    let list = page(&app, "/admin/tokens", &cookie).await;
    assert!(list.contains("old secret still in use"), "and the list");
}

#[tokio::test]
async fn a_leaked_token_shows_as_reported_and_non_admins_see_the_settings_read_only() {
    let app = TestApp::spawn();
    let (id, secret) = app.create_token("read").await;
    let reported = app
        .call(
            "POST",
            "/api/tokens/revoke-leaked",
            None,
            Some(&json!({"tokens": [secret], "reporter": "scanner@example.com"})),
        )
        .await;
    reported.assert_status(202, "the report");
    let (cookie, _) = sign_in(&app, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    let details = page(&app, &format!("/admin/tokens/{id}"), &cookie).await;
    assert!(
        details.contains("Reported as leaked") && details.contains("scanner@example.com"),
        "the token's page names the report and its reporter"
    );
    assert!(details.contains("status-revoked"), "and shows the token revoked");
    let list = page(&app, "/admin/tokens", &cookie).await;
    assert!(list.contains("reported as leaked"), "the list marks it");

    let (other, _) = app.create_token("full").await;
    app.create_user_cli("jane", "jane-password-1234", false);
    let (jane, _) = sign_in(&app, "jane", "jane-password-1234").await;
    let view = page(&app, &format!("/admin/tokens/{other}"), &jane).await;
    assert!(
        view.contains("Rate limit") && view.contains("Anywhere"),
        "settings shown read-only"
    );
    for control in ["name=\"rate_limit\"", "name=\"allowed_ips\"", "id=\"disable\""] {
        assert!(!view.contains(control), "no {control} for a non-admin");
    }
    let jane_csrf = crate::web_http::csrf(&app, &jane).await;
    let refused = post_form(
        &app,
        &format!("/admin/tokens/{other}/disable"),
        Some(&jane),
        &format!("csrf={jane_csrf}"),
    )
    .await;
    assert_eq!(refused.status(), 403, "a non-admin cannot disable");
    let confirm = get_page(&app, &format!("/admin/tokens/{other}/disable"), Some(&jane)).await;
    assert_eq!(confirm.status(), 403, "nor see the confirmation");
}
