//! The web admin in a real browser (headless Chromium through chromedriver): first-run setup
//! from the printed link, sign-in, creating a Read Access token and using it, revoking it,
//! CSRF and Origin defences, and what a non-administrator may see and do. When a scenario
//! fails, a screenshot of the page goes to `target/screenshots/`. With
//! `PORTCULLIS_SCREENSHOTS=1` the tokens page and the "token created" view are also saved
//! under `docs/screenshots/` for the README.
//!
//! Skipped with a printed reason when Chromium or chromedriver is missing, unless
//! `PORTCULLIS_TEST_STRICT=1`.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, ADMIN_USERNAME, TestApp};
use crate::web_driver::{Browser, missing_browser};

/// Returns early from a scenario with a message when a condition does not hold.
macro_rules! ensure {
    ($cond:expr, $($message:tt)+) => {
        if !$cond {
            return Err(format!($($message)+));
        }
    };
}

/// A browser for `test`, or `None` (after printing why) when none can run here.
async fn browser_for(test: &str) -> Option<Browser> {
    if let Some(reason) = missing_browser() {
        if std::env::var("PORTCULLIS_TEST_STRICT").as_deref() == Ok("1") {
            panic!("PORTCULLIS_TEST_STRICT=1 and {reason}");
        }
        println!("skipped {test}: {reason}");
        return None;
    }
    Some(
        Browser::start(1280, 900)
            .await
            .unwrap_or_else(|e| panic!("starting headless Chromium for {test}: {e}")),
    )
}

fn manifest_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Runs a scenario; on failure saves a screenshot of the page and panics with the reason.
async fn scenario(browser: &Browser, app: &TestApp, name: &str, steps: impl Future<Output = Result<(), String>>) {
    if let Err(why) = steps.await {
        let path = manifest_path(&format!("target/screenshots/{name}.png"));
        let shot = match browser.screenshot(&path).await {
            Ok(path) => format!("screenshot: {}", path.display()),
            Err(e) => format!("no screenshot: {e}"),
        };
        let url = browser.url().await.unwrap_or_default();
        panic!("{name}: {why}\npage: {url}\n{shot}\nserver output:\n{}", app.logs());
    }
}

/// Saves a screenshot for the documentation when `PORTCULLIS_SCREENSHOTS=1`.
async fn document(browser: &Browser, file: &str) -> Result<(), String> {
    if std::env::var("PORTCULLIS_SCREENSHOTS").as_deref() == Ok("1") {
        browser
            .screenshot(&manifest_path(&format!("docs/screenshots/{file}")))
            .await?;
    }
    Ok(())
}

/// Waits until the current page's address contains `part` and the page has loaded.
async fn wait_for_url(browser: &Browser, part: &str) -> Result<String, String> {
    let started = Instant::now();
    loop {
        let url = browser.url().await?;
        if url.contains(part) {
            let state = browser.execute("arguments[0](document.readyState)", json!([])).await?;
            if state == "complete" {
                return Ok(url);
            }
        }
        if started.elapsed() > Duration::from_secs(5) {
            return Err(format!("expected to reach a page at …{part}…, still at {url}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sign_in(browser: &Browser, app: &TestApp, username: &str, password: &str) -> Result<(), String> {
    browser.goto(&app.url("/admin/login")).await?;
    browser.fill("#username", username).await?;
    browser.fill("#password", password).await?;
    browser.click("main form button[type=submit]").await?;
    wait_for_url(browser, "/admin/tokens").await.map(drop)
}

/// Status of `GET`/`POST /api/users` with a bearer token.
async fn api_status(app: &TestApp, method: &str, token: &str) -> u16 {
    let body = json!({ "username": "from-token", "email": "from-token@example.com" });
    let body = (method == "POST").then_some(&body);
    app.call(method, "/api/users", Some(token), body).await.status
}

/// Submits a form built inside the page (same origin, the browser's cookies, as a forged
/// page of this site would) and returns the heading of the page that answers.
async fn post_from_page(browser: &Browser, path: &str, form: &[(&str, &str)]) -> Result<String, String> {
    let fields: Value = form.iter().map(|(k, v)| json!([k, v])).collect();
    let script = "const [path, fields, done] = arguments;
        const f = document.createElement('form');
        f.method = 'post'; f.action = path;
        for (const [k, v] of fields) {
            const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
        }
        document.body.appendChild(f);
        document.title = 'submitting';
        f.submit(); done(true);";
    browser.execute(script, json!([path, fields])).await?;
    let started = Instant::now();
    loop {
        let title = browser
            .execute("arguments[0](document.readyState + ' ' + document.title)", json!([]))
            .await?;
        let title = title.as_str().unwrap_or_default();
        if title.starts_with("complete") && !title.ends_with("submitting") {
            return browser.text("h1").await;
        }
        if started.elapsed() > Duration::from_secs(5) {
            return Err(format!("the form post to {path} did not load a page ({title})"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A few tokens made with the command line, so the documentation's screenshots look lived-in.
fn add_example_tokens(app: &TestApp) {
    let examples: [&[&str]; 4] = [
        &["--name", "Old CI runner", "--access", "full", "--expires", "never"],
        &[
            "--name",
            "Grafana dashboard",
            "--access",
            "read",
            "--expires",
            "90d",
            "--description",
            "Read-only metrics panel",
        ],
        &[
            "--name",
            "Deploy bot",
            "--access",
            "full",
            "--expires",
            "30d",
            "--description",
            "Pushes product updates from CI",
        ],
        &["--name", "Partner feed", "--access", "read", "--expires", "never"],
    ];
    for args in examples {
        let out = app.cli(&[&["token", "create"], args].concat());
        assert!(out.status.success(), "{}", crate::helpers::describe(&out));
    }
    let out = app.cli(&["token", "revoke", "1"]);
    assert!(out.status.success(), "{}", crate::helpers::describe(&out));
}

fn forbidden(heading: &str) -> bool {
    heading.starts_with("403")
}

#[tokio::test]
async fn the_first_admin_is_set_up_in_the_browser_and_a_read_token_works_until_revoked() {
    let Some(browser) = browser_for("the browser scenario").await else {
        return;
    };
    let app = TestApp::spawn_without_users();
    let steps = async {
        let started = Instant::now();
        while !app.logs().contains("/setup?code=") && started.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let logs = app.logs();
        let link = logs
            .split_whitespace()
            .find(|w| w.contains("/setup?code="))
            .ok_or_else(|| format!("no setup link printed:\n{logs}"))?
            .to_owned();

        // First-run setup from the printed link.
        browser.goto(&link).await?;
        browser.fill("#username", "ada").await?;
        browser.fill("#email", "ada@example.com").await?;
        browser.fill("#password", "correct-horse-battery").await?;
        browser.fill("#confirm", "correct-horse-battery").await?;
        browser.click("main form button[type=submit]").await?;
        wait_for_url(&browser, "/admin/login").await?;
        let notice = browser.text(".notice").await?;
        ensure!(
            notice.contains("administrator was created"),
            "setup should confirm: {notice:?}"
        );

        // The link is dead once used.
        browser.goto(&link).await?;
        let refused = browser.text("h1").await?;
        ensure!(
            refused.contains("not valid"),
            "a used setup link is refused, got {refused:?}"
        );

        // Sign in; the empty tokens page offers to create one.
        sign_in(&browser, &app, "ada", "correct-horse-battery").await?;
        let empty = browser.text(".empty").await?;
        ensure!(empty.contains("No API tokens yet"), "empty state: {empty:?}");

        if std::env::var("PORTCULLIS_SCREENSHOTS").as_deref() == Ok("1") {
            add_example_tokens(&app);
            browser.goto(&app.url("/admin/tokens")).await?;
        }

        // Create a Read Access token (preselected) that expires in 7 days.
        browser.click("#new-token").await?;
        wait_for_url(&browser, "/admin/tokens/new").await?;
        ensure!(
            browser.selected("input[name=access][value=read]").await?,
            "Read Access is preselected"
        );
        browser.fill("#name", "Nightly export").await?;
        browser
            .fill("#description", "Reads users for the data warehouse")
            .await?;
        browser.click("#expiry option[value='7d']").await?;
        browser.click("main form button[type=submit]").await?;
        browser.find("#token-created").await?;
        let heading = browser.text("h1").await?;
        ensure!(heading == "Token created", "after creation: {heading:?}");
        let token = browser.value("#token-secret").await?;
        ensure!(
            token.starts_with("pcl_") && token.len() == 53,
            "the page shows a pcl_ token: {token:?}"
        );
        let warning = browser.text(".notice.warning").await?;
        ensure!(
            warning.contains("won't see it again"),
            "the once-only notice: {warning:?}"
        );
        let curl = browser.text("#curl-snippet").await?;
        let python = browser.text("#python-snippet").await?;
        ensure!(
            curl.contains(&format!("Authorization: Bearer {token}")) && curl.contains("/api/users"),
            "curl snippet holds the token: {curl}"
        );
        ensure!(
            python.contains(&format!("bearer_token = \"{token}\"")) && python.contains("requests.get("),
            "python snippet holds the token: {python}"
        );
        ensure!(
            browser.find_all("button[data-copy=token-secret]").await?.len() == 1,
            "a copy button for the token"
        );
        browser.click("button[data-copy=token-secret]").await?;
        let copied = browser
            .wait_for_text("button[data-copy=token-secret]", "Copied")
            .await?;
        ensure!(
            copied == "Copied",
            "the copy button (app.js, allowed by the CSP) answers: {copied:?}"
        );
        document(&browser, "token-created.png").await?;

        // The token reads but cannot write.
        ensure!(
            api_status(&app, "GET", &token).await == 200,
            "GET /api/users with the new read token"
        );
        ensure!(
            api_status(&app, "POST", &token).await == 403,
            "POST /api/users with a read token"
        );

        // The list shows it as an active Read Access token created by ada.
        browser.click("#done").await?;
        wait_for_url(&browser, "/admin/tokens").await?;
        let row = browser.text("#tokens tbody tr").await?;
        for expected in [
            "Nightly export",
            "Read Access",
            "ada",
            "active",
            &token[token.len() - 4..],
        ] {
            ensure!(row.contains(expected), "the token's row shows {expected:?}: {row:?}");
        }
        ensure!(
            !browser.source().await?.contains(&token),
            "the list never shows the secret"
        );
        document(&browser, "tokens.png").await?;

        // Revoke it, after a confirmation that names it.
        browser.click("#tokens tbody tr a.danger").await?;
        wait_for_url(&browser, "/revoke").await?;
        let confirm = browser.text("h1").await?;
        ensure!(
            confirm.contains("Nightly export"),
            "the confirmation names the token: {confirm:?}"
        );
        browser.click("#confirm").await?;
        wait_for_url(&browser, "done=revoked").await?;
        let row = browser.text("#tokens tbody tr").await?;
        ensure!(row.contains("revoked"), "the row shows the revocation: {row:?}");
        ensure!(
            api_status(&app, "GET", &token).await == 401,
            "the revoked token is refused at once"
        );

        // Sign out ends the session.
        browser.click(".me button").await?;
        wait_for_url(&browser, "/admin/login").await?;
        browser.goto(&app.url("/admin/tokens")).await?;
        wait_for_url(&browser, "/admin/login").await?;
        Ok(())
    };
    scenario(&browser, &app, "setup_and_token_lifecycle", steps).await;
}

#[tokio::test]
async fn forms_without_the_csrf_token_or_from_another_site_are_refused_and_the_cookie_is_no_api_credential() {
    let Some(browser) = browser_for("the CSRF scenario").await else {
        return;
    };
    let app = TestApp::spawn();
    let steps = async {
        sign_in(&browser, &app, ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        browser.goto(&app.url("/admin/tokens/new")).await?;
        let csrf = browser.value("input[name=csrf]").await?;
        ensure!(csrf.len() == 64, "forms carry a CSRF token: {csrf:?}");

        // A real form without the token, submitted by the browser, is refused; the same
        // form with the token goes through (the control).
        let form = [
            ("csrf", csrf.as_str()),
            ("name", "with token"),
            ("access", "read"),
            ("expiry", "never"),
        ];
        let without = post_from_page(&browser, "/admin/tokens", &form[1..]).await?;
        ensure!(forbidden(&without), "a CSRF-less form post is refused: {without:?}");
        let page = browser.text("main").await?;
        ensure!(page.contains("security token"), "the refusal says why: {page:?}");
        let wrong = [("csrf", "0".repeat(64)), ("name", "x".into())];
        let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let heading = post_from_page(&browser, "/admin/tokens", &wrong).await?;
        ensure!(forbidden(&heading), "a wrong CSRF token is refused: {heading:?}");
        let with = post_from_page(&browser, "/admin/tokens", &form).await?;
        ensure!(
            with == "Token created",
            "a form with the CSRF token creates the token: {with:?}"
        );

        // Another origin, or none at all, is refused even with the right token and cookie.
        let cookie = browser
            .cookies()
            .await?
            .into_iter()
            .find(|c| c["name"] == "portcullis_session")
            .and_then(|c| c["value"].as_str().map(str::to_owned))
            .ok_or("the session cookie is set")?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        let post = |origin: Option<&'static str>| {
            let mut request = http
                .post(app.url("/admin/tokens"))
                .header("Cookie", format!("portcullis_session={cookie}"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(format!("csrf={csrf}&name=cross&access=full&expiry=never"));
            if let Some(origin) = origin {
                request = request.header("Origin", origin);
            }
            request.send()
        };
        let evil = post(Some("http://evil.example")).await.map_err(|e| e.to_string())?;
        ensure!(
            evil.status() == 403,
            "a cross-origin POST is refused: {}",
            evil.status()
        );
        let none = post(None).await.map_err(|e| e.to_string())?;
        ensure!(
            none.status() == 403,
            "a POST without Origin or Referer is refused: {}",
            none.status()
        );

        // The cookie alone never authenticates the API.
        for path in ["/api/users", "/api/tokens", "/api/token"] {
            let reply = http
                .get(app.url(path))
                .header("Cookie", format!("portcullis_session={cookie}"))
                .send()
                .await
                .map_err(|e| e.to_string())?;
            ensure!(
                reply.status() == 401,
                "GET {path} with only the cookie: {}",
                reply.status()
            );
        }

        let session = app.admin_session().await;
        let names: Vec<String> = app.get("/api/tokens", &session).await.json()["hydra:member"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|t| t["name"].as_str().unwrap_or_default().to_owned())
            .collect();
        ensure!(
            names == ["with token"],
            "only the legitimate form created a token: {names:?}"
        );
        Ok(())
    };
    scenario(&browser, &app, "csrf_and_origin", steps).await;
}

#[tokio::test]
async fn a_non_admin_sees_tokens_but_no_controls_and_forged_changes_get_403() {
    let Some(browser) = browser_for("the non-admin scenario").await else {
        return;
    };
    let app = TestApp::spawn();
    let (id, token) = app.create_token("full").await;
    app.create_user_cli("reader", "reader-password-1", false);
    let steps = async {
        sign_in(&browser, &app, "reader", "reader-password-1").await?;
        let row = browser.text("#tokens tbody tr").await?;
        ensure!(
            row.contains("Full Access"),
            "a non-admin sees the tokens' metadata: {row:?}"
        );
        ensure!(browser.find_all("#new-token").await?.is_empty(), "no New token button");
        ensure!(
            browser.find_all("#tokens a.danger, .row-actions").await?.is_empty(),
            "no revoke or edit controls"
        );
        let csrf = browser.value("input[name=csrf]").await?;
        let create = [
            ("csrf", csrf.as_str()),
            ("name", "mine"),
            ("access", "full"),
            ("expiry", "never"),
        ];
        let heading = post_from_page(&browser, "/admin/tokens", &create).await?;
        ensure!(forbidden(&heading), "a forged create by a non-admin: {heading:?}");
        let revoke = post_from_page(&browser, &format!("/admin/tokens/{id}/revoke"), &[("csrf", &csrf)]).await?;
        ensure!(forbidden(&revoke), "a forged revoke by a non-admin: {revoke:?}");
        let promote = post_from_page(&browser, "/admin/users/2/admin", &[("csrf", &csrf), ("admin", "true")]).await?;
        ensure!(
            forbidden(&promote),
            "a non-admin cannot make themselves admin: {promote:?}"
        );
        browser.goto(&app.url("/admin/tokens/new")).await?;
        let page = browser.text("main").await?;
        ensure!(page.contains("403"), "the New token form is refused: {page:?}");
        ensure!(api_status(&app, "GET", &token).await == 200, "the token still works");
        Ok(())
    };
    scenario(&browser, &app, "non_admin", steps).await;
}

#[tokio::test]
async fn the_pages_work_at_phone_width() {
    let Some(browser) = browser_for("the phone-width scenario").await else {
        return;
    };
    let app = TestApp::spawn();
    app.create_token("read").await;
    if std::env::var("PORTCULLIS_SCREENSHOTS").as_deref() == Ok("1") {
        add_example_tokens(&app);
    }
    let steps = async {
        browser.resize(390, 844).await?;
        sign_in(&browser, &app, ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        let wide = browser
            .execute(
                "const done = arguments[0]; const w = document.documentElement.clientWidth;
                 done([document.documentElement.scrollWidth, ...[...document.querySelectorAll('body *')]
                     .filter(e => e.getBoundingClientRect().right > w + 1 && !e.closest('.table-wrap'))
                     .slice(0, 5).map(e => e.tagName + '.' + e.className)]);",
                json!([]),
            )
            .await?;
        ensure!(
            wide[0].as_u64().is_some_and(|w| w <= 400),
            "no page-wide horizontal scroll: {wide}"
        );
        browser.click(".dropdown summary").await?;
        browser.click(".dropdown a[href='/admin/users']").await?;
        wait_for_url(&browser, "/admin/users").await?;
        let table = browser.text("#users").await?;
        ensure!(table.contains(ADMIN_USERNAME), "users list: {table:?}");
        if std::env::var("PORTCULLIS_SCREENSHOTS").as_deref() == Ok("1") {
            browser.goto(&app.url("/admin/tokens")).await?;
            document(&browser, "tokens-phone.png").await?;
        }
        Ok(())
    };
    scenario(&browser, &app, "phone_width", steps).await;
}

#[tokio::test]
async fn an_admin_disables_enables_and_limits_a_token_through_the_forms() {
    let Some(browser) = browser_for("the token controls scenario").await else {
        return;
    };
    let app = TestApp::spawn();
    let (id, token) = app.create_token("read").await;
    let steps = async {
        sign_in(&browser, &app, ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        browser.goto(&app.url(&format!("/admin/tokens/{id}"))).await?;
        browser.click("#disable").await?;
        wait_for_url(&browser, "/disable").await?;
        let confirm = browser.text("h1").await?;
        ensure!(
            confirm.starts_with("Disable “"),
            "the confirmation names the token: {confirm:?}"
        );
        browser.click("#confirm").await?;
        wait_for_url(&browser, "done=disabled").await?;
        ensure!(
            api_status(&app, "GET", &token).await == 401,
            "a disabled token is refused"
        );
        let status = browser.text(".meta .badge[class*=status-]").await?;
        ensure!(status == "disabled", "the status badge: {status:?}");

        browser.click("#enable").await?;
        wait_for_url(&browser, "/enable").await?;
        browser.click("#confirm").await?;
        wait_for_url(&browser, "done=enabled").await?;
        ensure!(api_status(&app, "GET", &token).await == 200, "enabled again");

        // A custom limit and an allowlist that leaves out 127.0.0.1.
        browser.click("input[name=rate_limit][value=custom]").await?;
        browser.fill("#rate_short", "2").await?;
        browser.fill("#rate_long", "10").await?;
        browser.fill("#allowed_ips", "10.0.0.0/8").await?;
        browser.click("form.stack button.primary[type=submit]").await?;
        wait_for_url(&browser, "done=updated").await?;
        let limit = browser.text("#rate-limit").await?;
        ensure!(limit.starts_with("2 per"), "the page shows the limit: {limit:?}");
        ensure!(api_status(&app, "GET", &token).await == 403, "127.0.0.1 is not allowed");

        browser.fill("#allowed_ips", "").await?;
        browser.click("form.stack button.primary[type=submit]").await?;
        wait_for_url(&browser, "done=updated").await?;
        let allowed = browser.text("#allowed-ips").await?;
        ensure!(allowed == "Anywhere", "the allowlist is gone: {allowed:?}");
        let mut statuses = Vec::new();
        for _ in 0..3 {
            statuses.push(api_status(&app, "GET", &token).await);
        }
        ensure!(
            statuses[0] == 200 && statuses.contains(&429),
            "the custom limit of 2 applies: {statuses:?}"
        );
        browser.goto(&app.url(&format!("/admin/tokens/{id}"))).await?;
        let usage = browser.text(".usage-legend").await?;
        ensure!(usage.contains("denied"), "the usage chart's totals: {usage:?}");
        document(&browser, "token-detail.png").await?;
        Ok(())
    };
    scenario(&browser, &app, "token_controls", steps).await;
}

/// Not a check: screenshots of every page at desktop and phone width into
/// `target/screenshots/gallery/`, to look at after changing the pages
/// (`cargo test --test api gallery -- --ignored`).
#[tokio::test]
#[ignore = "a tool for looking at the pages, not a check: run with -- --ignored"]
async fn gallery() {
    let Some(browser) = browser_for("the gallery").await else {
        return;
    };
    let app = TestApp::spawn();
    add_example_tokens(&app);
    app.create_user_cli("reader", "reader-password-1", false);
    let steps = async {
        let dir = manifest_path("target/screenshots/gallery");
        browser.goto(&app.url("/admin/login")).await?;
        browser.screenshot(&dir.join("login.png")).await?;
        sign_in(&browser, &app, ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        let pages = [
            ("tokens", "/admin/tokens"),
            ("tokens-filtered", "/admin/tokens?q=zzz"),
            ("token-new", "/admin/tokens/new"),
            ("token-detail", "/admin/tokens/3"),
            ("token-revoke", "/admin/tokens/3/revoke"),
            ("token-disable", "/admin/tokens/3/disable"),
            ("token-regenerate", "/admin/tokens/3/regenerate"),
            ("users", "/admin/users"),
            ("user-detail", "/admin/users/2"),
            ("user-new", "/admin/users/new"),
            ("audit", "/admin/audit"),
            ("not-found", "/admin/tokens/999"),
        ];
        for (width, suffix) in [(1280, ""), (390, "-phone")] {
            browser.resize(width, 900).await?;
            for (name, path) in pages {
                browser.goto(&app.url(path)).await?;
                browser.screenshot(&dir.join(format!("{name}{suffix}.png"))).await?;
            }
        }
        browser.resize(1280, 900).await?;
        browser.goto(&app.url("/admin/tokens")).await?;
        browser.click(".dropdown summary").await?;
        browser.screenshot(&dir.join("menu-open.png")).await?;
        Ok(())
    };
    scenario(&browser, &app, "gallery", steps).await;
}

/// Waits until the text of `css` is non-empty, and returns it.
async fn wait_for_text(browser: &Browser, css: &str) -> Result<String, String> {
    let started = Instant::now();
    loop {
        let text = browser.text(css).await?;
        if !text.trim().is_empty() && !text.contains("Sending") {
            return Ok(text);
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!("`{css}` stayed empty"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_api_reference_page_authorizes_with_a_token_and_tries_requests_from_the_browser() {
    let Some(browser) = browser_for("api reference page").await else {
        return;
    };
    let app = TestApp::spawn();
    let (_, read) = app.create_token("read").await;
    scenario(&browser, &app, "api-docs", async {
        // The web admin links to the reference.
        sign_in(&browser, &app, ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        browser.click("a.navlink[href='/api/docs']").await?;
        wait_for_url(&browser, "/api/docs").await?;
        browser.find("details#get-api-users").await?;
        ensure!(
            browser.text("details#post-api-tokens .access").await? == "Admin session",
            "token management is labelled as needing an administrator's session"
        );

        // Without a token, "try it" gets the 401 challenge.
        browser.click("details#get-api-users > summary").await?;
        browser.click("details#get-api-users button[type=submit]").await?;
        let status = wait_for_text(&browser, "details#get-api-users .output p").await?;
        ensure!(status.starts_with("401"), "unauthorized try-it: {status}");

        // Authorize with a Read Access token: reads work, writes are refused.
        browser.click("#authorize").await?;
        browser.fill("#auth-token", &read).await?;
        browser.click("#auth-save").await?;
        ensure!(
            browser.text("#auth-state").await?.starts_with("Authorized"),
            "the page says it is authorized"
        );
        browser.click("details#get-api-users button[type=submit]").await?;
        let status = wait_for_text(&browser, "details#get-api-users .output p").await?;
        ensure!(status.starts_with("200"), "GET /api/users with a read token: {status}");
        let body = browser.text("details#get-api-users .response-body").await?;
        ensure!(
            body.contains("\"username\": \"admin\""),
            "the response body is shown: {body}"
        );

        browser.click("details#post-api-users > summary").await?;
        browser.click("details#post-api-users button[type=submit]").await?;
        let status = wait_for_text(&browser, "details#post-api-users .output p").await?;
        ensure!(status.starts_with("403"), "POST /api/users with a read token: {status}");
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn an_admin_adds_a_webhook_copies_its_secret_once_and_watches_the_delivery_log() {
    let Some(browser) = browser_for("the webhooks scenario").await else {
        return;
    };
    let app = TestApp::spawn_with_env(crate::webhooks::FAST);
    let receiver = crate::webhooks::Receiver::start(0).await;
    let steps = async {
        sign_in(&browser, &app, ADMIN_USERNAME, ADMIN_PASSWORD).await?;
        browser.click("details.dropdown summary").await?;
        browser.click("a[href='/admin/webhooks']").await?;
        wait_for_url(&browser, "/admin/webhooks").await?;
        browser.click("#new-webhook").await?;
        wait_for_url(&browser, "/admin/webhooks/new").await?;
        browser.fill("#url", &receiver.url()).await?;
        browser.fill("#description", "audit relay").await?;
        browser.click("#create-webhook").await?;
        browser.wait_for_text("h1", "Webhook created").await?;
        let secret = browser.value("#webhook-secret").await?;
        ensure!(secret.starts_with("whsec_"), "the signing secret is shown: {secret:?}");
        browser.click("[data-copy=webhook-secret]").await?;
        browser.wait_for_text("[data-copy=webhook-secret]", "Copied").await?;
        browser.click("#done").await?;
        wait_for_url(&browser, "/admin/webhooks/1").await?;
        ensure!(!browser.source().await?.contains(&secret), "the secret is shown once");

        let out = app.cli(&["token", "create", "--name", "nightly", "--access", "read"]);
        ensure!(out.status.success(), "creating a token with the CLI");
        browser.click("#send-test").await?;
        wait_for_url(&browser, "done=test").await?;
        let received = receiver.wait_for(2, Duration::from_secs(15)).await;
        ensure!(
            received.len() == 2,
            "the receiver got the event and the ping: {received:?}"
        );
        for delivery in &received {
            crate::webhooks::assert_signed(delivery, &secret);
        }
        let started = Instant::now();
        loop {
            browser.goto(&app.url("/admin/webhooks/1")).await?;
            let log = browser.text("main").await?;
            if log.matches("succeeded").count() == 2 {
                ensure!(log.contains("token.created") && log.contains("ping"), "{log}");
                ensure!(log.contains("HTTP 204"), "the response code is logged: {log}");
                document(&browser, "webhook.png").await?;
                break;
            }
            ensure!(
                started.elapsed() < Duration::from_secs(10),
                "the delivery log shows both: {log}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(())
    };
    scenario(&browser, &app, "webhooks", steps).await;
}
