//! Webhook notifications (issue 6.4): endpoints managed by administrators receive signed
//! token events, from the API and the CLI alike, retried with backoff, logged per endpoint,
//! and never with a secret in them.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::StatusCode;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::*;

/// Fast polling and retries, so the tests wait for seconds, not minutes.
pub(crate) const FAST: &[(&str, &str)] = &[
    ("PORTCULLIS_WEBHOOKS_POLL_INTERVAL", "100ms"),
    ("PORTCULLIS_WEBHOOKS_RETRY_BASE", "1s"),
    ("PORTCULLIS_WEBHOOKS_RETRY_MAX_DELAY", "1s"),
    ("PORTCULLIS_WEBHOOKS_TIMEOUT", "2s"),
];

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("a JSON body ({e}): {}", self.body))
    }

    fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }
}

/// A webhook receiver on 127.0.0.1:0 that records every request and answers 500 to the first
/// `fail_first` of them, 204 afterwards.
pub(crate) struct Receiver {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    pub(crate) async fn start(fail_first: usize) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let answered = Arc::new(AtomicUsize::new(0));
        let record = Arc::clone(&received);
        let app = axum::Router::new().fallback(move |request: Request| {
            let (record, answered) = (Arc::clone(&record), Arc::clone(&answered));
            async move {
                let headers = request
                    .headers()
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.as_str().to_owned(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
                    .await
                    .unwrap_or_default();
                let body = String::from_utf8_lossy(&bytes).into_owned();
                record.lock().unwrap().push(Received { headers, body });
                if answered.fetch_add(1, Ordering::SeqCst) < fail_first {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Receiver {
            addr,
            received,
            stop: Some(stop),
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}/hooks?tenant=acme", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `count` requests arrived (at most `within`), then returns them all.
    pub(crate) async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() > deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Checks `Portcullis-Signature: t=…,v1=…` the way docs/webhooks.md tells receivers to:
/// HMAC-SHA256 with the secret over `<t>.<body>`, and a recent `t`.
#[track_caller]
pub(crate) fn assert_signed(received: &Received, secret: &str) {
    let header = received
        .header("portcullis-signature")
        .unwrap_or_else(|| panic!("a signature header: {received:?}"));
    let (t, v1) = header
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
        .unwrap_or_else(|| panic!("t=…,v1=… in {header:?}"));
    let timestamp: i64 = t.parse().expect("a unix timestamp");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((now - timestamp).abs() < 300, "a recent timestamp: {header}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", received.body).as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    assert_eq!(v1, expected, "the signature of {}", received.body);
}

/// Creates an endpoint through the API; returns its id and signing secret.
async fn create_webhook(app: &TestApp, session: &str, body: Value) -> (i64, String) {
    let reply = app.call("POST", "/api/webhooks", Some(session), Some(&body)).await;
    reply.assert_status(201, "creating a webhook");
    let created = reply.json();
    let secret = created["secret"].as_str().expect("the secret, once").to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() == 70, "{secret}");
    (created["id"].as_i64().expect("an id"), secret)
}

/// The delivery log of an endpoint, as plain JSON.
async fn deliveries(app: &TestApp, session: &str, id: i64) -> Vec<Value> {
    let reply = app
        .client()
        .get(app.url(&format!("/api/webhooks/{id}/deliveries")))
        .bearer_auth(session)
        .header("accept", "application/json")
        .send()
        .await
        .expect("the server answers");
    let reply = Reply::from(reply).await;
    reply.assert_status(200, "the delivery log");
    reply.json().as_array().cloned().expect("an array")
}

#[tokio::test]
async fn token_changes_by_api_and_cli_are_delivered_signed_and_without_secrets() {
    let app = TestApp::spawn_with_env(FAST);
    let receiver = Receiver::start(0).await;
    let session = app.admin_session().await;
    let (webhook, secret) = create_webhook(&app, &session, json!({"url": receiver.url(), "description": "all"})).await;

    let mut secrets = Vec::new();
    let (id, token) = app.create_token_with(&session, "full").await;
    secrets.push(token);
    let regenerated = app
        .call("POST", &format!("/api/tokens/{id}/regenerate"), Some(&session), None)
        .await;
    regenerated.assert_status(200, "regenerating");
    secrets.push(regenerated.json()["token"].as_str().unwrap().to_owned());
    app.call("POST", &format!("/api/tokens/{id}/disable"), Some(&session), None)
        .await
        .assert_status(200, "disabling");
    app.call("DELETE", &format!("/api/tokens/{id}"), Some(&session), None)
        .await
        .assert_status(204, "revoking");
    let by_cli = app.cli_json(&[
        "token",
        "create",
        "--name",
        "from the cli",
        "--access",
        "read",
        "--json",
    ]);
    secrets.push(by_cli["token"].as_str().unwrap().to_owned());
    let cli_id = by_cli["id"].as_i64().unwrap().to_string();
    let out = app.cli(&["token", "revoke", &cli_id]);
    assert!(out.status.success(), "{}", describe(&out));

    let received = receiver.wait_for(6, Duration::from_secs(15)).await;
    let mut types: Vec<String> = received.iter().map(Received::event_type).collect();
    types.sort();
    assert_eq!(
        types,
        [
            "token.created",
            "token.created",
            "token.disabled",
            "token.regenerated",
            "token.revoked",
            "token.revoked"
        ],
        "{received:#?}"
    );
    for delivery in &received {
        assert_signed(delivery, &secret);
        let body = delivery.json();
        assert_eq!(delivery.header("content-type"), Some("application/json"));
        assert_eq!(delivery.header("portcullis-event"), body["type"].as_str());
        assert!(
            delivery
                .header("portcullis-delivery")
                .is_some_and(|d| d.starts_with("dlv_"))
        );
        assert!(body["id"].as_str().is_some_and(|e| e.starts_with("evt_")), "{body}");
        assert!(body["createdAt"].is_string(), "{body}");
        assert!(body["data"]["token"]["hint"].is_string(), "{body}");
        assert!(body["data"]["actor"]["kind"].is_string(), "{body}");
        assert_no_secret_fields(&body);
        let everything = format!("{:?}{}", delivery.headers, delivery.body);
        for token in &secrets {
            assert!(!everything.contains(token.as_str()), "a token secret in {everything}");
        }
        assert!(
            !everything.contains(&secret),
            "the signing secret itself in {everything}"
        );
    }
    let from_cli = received
        .iter()
        .map(Received::json)
        .find(|b| b["type"] == "token.created" && b["data"]["token"]["name"] == "from the cli")
        .expect("the CLI's creation");
    assert_eq!(from_cli["data"]["actor"]["kind"], "cli");

    let log = deliveries(&app, &session, webhook).await;
    assert_eq!(log.len(), 6, "{log:#?}");
    for entry in &log {
        assert_eq!(entry["status"], "succeeded", "{entry}");
        assert_eq!(
            (entry["attempts"].as_i64(), entry["lastStatusCode"].as_i64()),
            (Some(1), Some(204))
        );
    }
}

#[tokio::test]
async fn endpoints_receive_only_the_events_they_subscribe_to_while_active() {
    let app = TestApp::spawn_with_env(FAST);
    let revocations = Receiver::start(0).await;
    let everything = Receiver::start(0).await;
    let session = app.admin_session().await;
    create_webhook(
        &app,
        &session,
        json!({"url": revocations.url(), "events": ["token.revoked"]}),
    )
    .await;
    let (paused, _) = create_webhook(&app, &session, json!({"url": everything.url(), "active": false})).await;

    let (id, _) = app.create_token_with(&session, "read").await;
    app.call("DELETE", &format!("/api/tokens/{id}"), Some(&session), None)
        .await
        .assert_status(204, "revoking");
    let received = revocations.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let types: Vec<String> = revocations.received().iter().map(Received::event_type).collect();
    assert_eq!(types, ["token.revoked"], "{received:#?}");
    assert!(
        everything.received().is_empty(),
        "an inactive endpoint receives nothing"
    );

    // Events while it was inactive are not kept for it; once active, it gets new ones.
    let reply = app
        .call(
            "PATCH",
            &format!("/api/webhooks/{paused}"),
            Some(&session),
            Some(&json!({"active": true})),
        )
        .await;
    reply.assert_status(200, "activating");
    assert_eq!(reply.json()["active"], true);
    assert!(
        reply.json().get("secret").is_none(),
        "the secret is shown once: {}",
        reply.body
    );
    app.create_token_with(&session, "read").await;
    let received = everything.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let types: Vec<String> = everything.received().iter().map(Received::event_type).collect();
    assert_eq!(types, ["token.created"], "{received:#?}");
    assert_eq!(revocations.received().len(), 1, "not subscribed to creations");
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_with_backoff_and_the_log_shows_the_attempts() {
    let mut env = FAST.to_vec();
    env.push(("PORTCULLIS_WEBHOOKS_MAX_ATTEMPTS", "3"));
    let app = TestApp::spawn_with_env(&env);
    let flaky = Receiver::start(2).await;
    let down = Receiver::start(usize::MAX).await;
    let session = app.admin_session().await;
    let (flaky_id, secret) = create_webhook(&app, &session, json!({"url": flaky.url()})).await;
    let (down_id, _) = create_webhook(&app, &session, json!({"url": down.url()})).await;

    let queued = app
        .call("POST", &format!("/api/webhooks/{flaky_id}/test"), Some(&session), None)
        .await;
    queued.assert_status(202, "queueing a ping");
    assert_eq!(queued.json()["status"], "pending");
    app.call("POST", &format!("/api/webhooks/{down_id}/test"), Some(&session), None)
        .await
        .assert_status(202, "queueing a ping");

    let received = flaky.wait_for(3, Duration::from_secs(15)).await;
    assert_eq!(received.len(), 3, "two failures, then success: {received:#?}");
    let delivery_ids: Vec<_> = received.iter().map(|r| r.header("portcullis-delivery")).collect();
    assert!(
        delivery_ids.windows(2).all(|w| w[0] == w[1]),
        "one delivery, retried: {delivery_ids:?}"
    );
    for attempt in &received {
        assert_eq!(attempt.event_type(), "ping");
        assert_signed(attempt, &secret);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = deliveries(&app, &session, flaky_id).await;
        if log[0]["status"] != "pending" || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(log[0]["status"], "succeeded", "{log:#?}");
    assert_eq!(log[0]["attempts"], 3);
    assert_eq!(log[0]["lastStatusCode"], 204);
    assert!(log[0]["deliveredAt"].is_string());

    // An endpoint that never answers 2xx gets max_attempts tries, then the delivery fails.
    let deadline = Instant::now() + Duration::from_secs(15);
    let log = loop {
        let log = deliveries(&app, &session, down_id).await;
        if log[0]["status"] == "failed" || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(log[0]["status"], "failed", "{log:#?}");
    assert_eq!(log[0]["attempts"], 3);
    assert_eq!(log[0]["lastStatusCode"], 500);
    assert!(
        log[0]["lastError"].as_str().is_some_and(|e| e.contains("500")),
        "{log:#?}"
    );
    assert_eq!(log[0]["nextAttemptAt"], Value::Null);
    assert_eq!(down.received().len(), 3);
}

#[tokio::test]
async fn expiring_and_expired_notices_are_sent_once_per_expiry() {
    let mut env = FAST.to_vec();
    env.push(("PORTCULLIS_WEBHOOKS_EXPIRING_BEFORE", "1h"));
    env.push(("PORTCULLIS_WEBHOOKS_EXPIRY_CHECK_INTERVAL", "200ms"));
    let app = TestApp::spawn_with_env(&env);
    let receiver = Receiver::start(0).await;
    let session = app.admin_session().await;
    create_webhook(
        &app,
        &session,
        json!({"url": receiver.url(), "events": ["token.expiring", "token.expired"]}),
    )
    .await;
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(3);
    let created = app
        .call(
            "POST",
            "/api/tokens",
            Some(&session),
            Some(&json!({"name": "short-lived", "expiresAt": rfc3339(soon)})),
        )
        .await;
    created.assert_status(201, "creating a token that expires soon");
    let id = created.json()["id"].as_i64().unwrap();

    let received = receiver.wait_for(2, Duration::from_secs(15)).await;
    let types: Vec<String> = received.iter().map(Received::event_type).collect();
    assert_eq!(types, ["token.expiring", "token.expired"], "{received:#?}");
    let expiring = received[0].json();
    assert_eq!(expiring["data"]["expiresAt"], rfc3339(soon), "{expiring}");
    assert_eq!(expiring["data"]["actor"]["kind"], "system");
    assert_eq!(received[1].json()["data"]["token"]["status"], "expired");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(receiver.received().len(), 2, "each notice once");

    // A new expiry is a new reason to warn.
    let later = time::OffsetDateTime::now_utc() + time::Duration::minutes(30);
    app.call(
        "PATCH",
        &format!("/api/tokens/{id}"),
        Some(&session),
        Some(&json!({"expiresAt": rfc3339(later)})),
    )
    .await
    .assert_status(200, "extending the expiry");
    let received = receiver.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(received.len(), 3, "{received:#?}");
    assert_eq!(received[2].event_type(), "token.expiring");
}

#[tokio::test]
async fn webhooks_are_managed_by_administrators_with_valid_input_only() {
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let (_, full) = app.create_token_with(&session, "full").await;
    let user = app.non_admin_session().await;

    for credential in [&full, &user] {
        app.call("GET", "/api/webhooks", Some(credential), None)
            .await
            .assert_problem(403, Some(WWW_SCOPE_ADMIN), "listing webhooks without an admin session");
        app.call(
            "POST",
            "/api/webhooks",
            Some(credential),
            Some(&json!({"url": "http://127.0.0.1:9/"})),
        )
        .await
        .assert_problem(
            403,
            Some(WWW_SCOPE_ADMIN),
            "creating a webhook without an admin session",
        );
    }

    for (body, what) in [
        (json!({"url": "not a url"}), "a bad URL"),
        (json!({"url": "/relative"}), "a relative URL"),
        (json!({"url": "ftp://127.0.0.1/"}), "another scheme"),
        (json!({"url": "https://127.0.0.1/"}), "https (no outgoing TLS yet)"),
        (json!({"url": "http://user:pw@127.0.0.1/"}), "credentials in the URL"),
        (
            json!({"url": "http://127.0.0.1/", "events": ["token.deleted"]}),
            "an unknown event",
        ),
        (
            json!({"url": "http://127.0.0.1/", "events": ["*", "token.created"]}),
            "all and more",
        ),
        (
            json!({"url": "http://127.0.0.1/", "secret": "mine"}),
            "an unknown field",
        ),
        (json!({"events": ["*"]}), "no URL"),
    ] {
        app.call("POST", "/api/webhooks", Some(&session), Some(&body))
            .await
            .assert_problem(422, None, what);
    }
    assert_eq!(
        app.total_items("/api/webhooks", &session).await,
        0,
        "nothing half-written"
    );

    let (id, secret) = create_webhook(&app, &session, json!({"url": "http://127.0.0.1:9/hooks"})).await;
    let shown = app.get(&format!("/api/webhooks/{id}"), &session).await;
    shown.assert_status(200, "showing");
    assert_eq!(shown.json()["events"], json!(["*"]));
    assert!(
        !shown.body.contains(&secret) && shown.json().get("secret").is_none(),
        "{}",
        shown.body
    );
    let listed = app.get("/api/webhooks", &session).await;
    assert!(!listed.body.contains(&secret), "{}", listed.body);
    assert_eq!(listed.json()["hydra:member"][0]["@id"], format!("/api/webhooks/{id}"));

    let rotated = app
        .call(
            "POST",
            &format!("/api/webhooks/{id}/rotate-secret"),
            Some(&session),
            None,
        )
        .await;
    rotated.assert_status(200, "rotating the secret");
    let new_secret = rotated.json()["secret"].as_str().unwrap().to_owned();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);

    app.call(
        "PATCH",
        &format!("/api/webhooks/{id}"),
        Some(&session),
        Some(&json!({"url": "https://example.test/"})),
    )
    .await
    .assert_problem(422, None, "changing to a bad URL");
    let log = app.get(&format!("/api/webhooks/{id}/deliveries"), &session).await;
    log.assert_status(200, "an empty delivery log");
    assert_eq!(log.json()["hydra:totalItems"], 0);
    assert_eq!(log.json()["@id"], format!("/api/webhooks/{id}/deliveries"));

    app.call("DELETE", &format!("/api/webhooks/{id}"), Some(&session), None)
        .await
        .assert_status(204, "deleting");
    for (method, path) in [
        ("GET", format!("/api/webhooks/{id}")),
        ("DELETE", format!("/api/webhooks/{id}")),
        ("GET", format!("/api/webhooks/{id}/deliveries")),
        ("POST", format!("/api/webhooks/{id}/test")),
        ("POST", format!("/api/webhooks/{id}/rotate-secret")),
        ("GET", "/api/webhooks/abc".to_owned()),
    ] {
        app.call(method, &path, Some(&session), None).await.assert_problem(
            404,
            None,
            &format!("{method} {path} after deletion"),
        );
    }
}

#[tokio::test]
async fn the_webhooks_pages_are_for_administrators_and_show_the_secret_once() {
    use crate::web_http::{csrf, get_page, post_form, sign_in};
    let app = TestApp::spawn();
    app.create_user_cli("reader", "reader-password-1", false);
    let (reader, _) = sign_in(&app, "reader", "reader-password-1").await;
    let tokens_page = get_page(&app, "/admin/tokens", Some(&reader))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !tokens_page.contains("/admin/webhooks"),
        "no Webhooks menu entry for a non-admin"
    );
    assert_eq!(get_page(&app, "/admin/webhooks", Some(&reader)).await.status(), 403);
    let reader_csrf = csrf(&app, &reader).await;
    let forged = post_form(
        &app,
        "/admin/webhooks",
        Some(&reader),
        &format!("csrf={reader_csrf}&url=http%3A%2F%2F127.0.0.1%3A9%2F"),
    )
    .await;
    assert_eq!(forged.status(), 403, "a non-admin cannot add a webhook");

    let (admin, _) = sign_in(&app, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    let token = csrf(&app, &admin).await;
    let refused = post_form(
        &app,
        "/admin/webhooks",
        Some(&admin),
        &format!("csrf={token}&url=https%3A%2F%2Fexample.test%2F"),
    )
    .await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("https"), "the form says why");
    let without_csrf = post_form(
        &app,
        "/admin/webhooks",
        Some(&admin),
        "url=http%3A%2F%2F127.0.0.1%3A9%2F",
    )
    .await;
    assert_eq!(without_csrf.status(), 403, "the CSRF guard covers the webhooks forms");

    let form = get_page(&app, "/admin/webhooks/new", Some(&admin))
        .await
        .text()
        .await
        .unwrap();
    let start = form.find("name=\"form_id\" value=\"").expect("a form id") + 22;
    let form_id = &form[start..start + 40];
    let fields = format!(
        "csrf={token}&form_id={form_id}&url=http%3A%2F%2F127.0.0.1%3A9%2Fh&description=&events=token.revoked&events=token.expired"
    );
    let created = post_form(&app, "/admin/webhooks", Some(&admin), &fields).await;
    assert_eq!(created.status(), 201);
    assert_eq!(
        created.headers().get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let page = created.text().await.unwrap();
    let start = page.find("whsec_").expect("the secret is shown");
    let secret = &page[start..start + 70];
    let again = post_form(&app, "/admin/webhooks", Some(&admin), &fields).await;
    assert_eq!(again.status(), 409, "sending the form twice creates one webhook");
    assert!(!again.text().await.unwrap().contains(secret));
    let session = app.admin_session().await;
    assert_eq!(app.total_items("/api/webhooks", &session).await, 1);
    let listed = app.get("/api/webhooks", &session).await.json();
    assert_eq!(
        listed["hydra:member"][0]["events"],
        json!(["token.revoked", "token.expired"])
    );
    let id = listed["hydra:member"][0]["id"].as_i64().unwrap();
    let shown = get_page(&app, &format!("/admin/webhooks/{id}"), Some(&admin))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        shown.contains("Delivery log") && !shown.contains(secret),
        "the secret is not shown again"
    );
    let list = get_page(&app, "/admin/webhooks", Some(&admin))
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("http://127.0.0.1:9/h") && !list.contains(secret));
}

/// A fenced code block of docs/webhooks.md, by its language.
fn doc_block(language: &str) -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/webhooks.md")).unwrap();
    let start = doc
        .find(&format!("```{language}\n"))
        .unwrap_or_else(|| panic!("a {language} block in docs/webhooks.md"))
        + language.len()
        + 4;
    let end = start + doc[start..].find("```").expect("the block ends");
    doc[start..end].to_owned()
}

/// Whether `program` runs here; without it the test is skipped, unless strict.
fn tool_available(program: &str, probe: &str) -> bool {
    let ok = std::process::Command::new(program)
        .arg(probe)
        .stdin(std::process::Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("PORTCULLIS_TEST_STRICT").as_deref() != Ok("1"),
            "PORTCULLIS_TEST_STRICT=1 and {program} cannot be run"
        );
        println!("skipped: {program} cannot be run");
    }
    ok
}

#[tokio::test]
async fn the_documented_verification_recipes_accept_a_real_delivery_and_refuse_a_forged_one() {
    if !tool_available("python3", "--version") || !tool_available("openssl", "version") {
        return;
    }
    let app = TestApp::spawn_with_env(FAST);
    let receiver = Receiver::start(0).await;
    let session = app.admin_session().await;
    let (id, secret) = create_webhook(&app, &session, json!({"url": receiver.url()})).await;
    app.call("POST", &format!("/api/webhooks/{id}/test"), Some(&session), None)
        .await
        .assert_status(202, "queueing a ping");
    let delivery = receiver.wait_for(1, Duration::from_secs(10)).await.remove(0);
    let header = delivery.header("portcullis-signature").unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let python = format!(
        "{}\nimport os, sys\nbody = open('body.json', 'rb').read()\nprint('valid' if verify(os.environ['SECRET'], os.environ['HEADER'], body) else 'INVALID')\n",
        doc_block("python")
    );
    let shell = doc_block("sh");
    for (body, expected) in [
        (delivery.body.clone(), "valid"),
        (delivery.body.replace("ping", "pong"), "INVALID"),
    ] {
        std::fs::write(dir.path().join("body.json"), &body).unwrap();
        for (program, flag, script) in [("python3", "-c", &python), ("bash", "-c", &shell)] {
            let out = std::process::Command::new(program)
                .args([flag, script.as_str()])
                .current_dir(dir.path())
                .env("SECRET", &secret)
                .env("HEADER", &header)
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout).trim(),
                expected,
                "the {program} recipe on {body}: {}",
                describe(&out)
            );
        }
    }
}

#[tokio::test]
async fn multi_instance_each_event_and_expiry_notice_is_delivered_once_by_several_instances() {
    use crate::multi_instance::{instance, shared_database};
    let Some(admin_url) = crate::backend::require_postgres("webhooks across instances") else {
        return;
    };
    let database = shared_database(&admin_url);
    let env = [
        ("PORTCULLIS_WEBHOOKS_POLL_INTERVAL", "50ms"),
        ("PORTCULLIS_WEBHOOKS_EXPIRING_BEFORE", "1h"),
        ("PORTCULLIS_WEBHOOKS_EXPIRY_CHECK_INTERVAL", "50ms"),
    ];
    let instances = [
        instance(&database, None, &env),
        instance(&database, None, &env),
        instance(&database, None, &env),
    ];
    let receiver = Receiver::start(0).await;
    let session = instances[0].admin_session().await;
    create_webhook(&instances[0], &session, json!({"url": receiver.url()})).await;

    const TOKENS: usize = 10;
    let expiry = rfc3339(time::OffsetDateTime::now_utc() + time::Duration::seconds(3));
    for i in 0..TOKENS {
        let app = &instances[i % 3];
        // Even ones are revoked at once and never expire; odd ones expire soon.
        let body = if i % 2 == 0 {
            json!({"name": format!("t{i}")})
        } else {
            json!({"name": format!("t{i}"), "expiresAt": expiry})
        };
        let created = app.call("POST", "/api/tokens", Some(&session), Some(&body)).await;
        created.assert_status(201, "creating a token");
        if i % 2 == 0 {
            let id = created.json()["id"].as_i64().unwrap();
            app.call("DELETE", &format!("/api/tokens/{id}"), Some(&session), None)
                .await
                .assert_status(204, "revoking");
        }
    }
    // Every token created; half revoked, the other half expiring, then expired.
    let expected = TOKENS + 3 * (TOKENS / 2);
    receiver.wait_for(expected, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = receiver.received();
    let mut events: Vec<String> = received
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    let mut deliveries: Vec<&str> = received
        .iter()
        .filter_map(|r| r.header("portcullis-delivery"))
        .collect();
    events.sort();
    events.dedup();
    deliveries.sort();
    deliveries.dedup();
    assert_eq!(
        (received.len(), events.len(), deliveries.len()),
        (expected, expected, expected),
        "each event once: {:#?}",
        received.iter().map(Received::event_type).collect::<Vec<_>>()
    );
    for (kind, count) in [
        ("token.created", TOKENS),
        ("token.revoked", TOKENS / 2),
        ("token.expiring", TOKENS / 2),
        ("token.expired", TOKENS / 2),
    ] {
        assert_eq!(
            received.iter().filter(|r| r.event_type() == kind).count(),
            count,
            "{kind}"
        );
    }
}

#[tokio::test]
async fn an_endpoint_that_never_answers_or_refuses_connections_fails_with_a_short_reason() {
    let app = TestApp::spawn_with_env(&[
        ("PORTCULLIS_WEBHOOKS_POLL_INTERVAL", "100ms"),
        ("PORTCULLIS_WEBHOOKS_TIMEOUT", "1s"),
        ("PORTCULLIS_WEBHOOKS_MAX_ATTEMPTS", "1"),
    ]);
    // Accepts connections (the kernel's backlog) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // Bound, then closed: connections are refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let session = app.admin_session().await;
    let mut ids = Vec::new();
    for addr in [silent.local_addr().unwrap(), closed] {
        let (id, _) = create_webhook(&app, &session, json!({"url": format!("http://{addr}/")})).await;
        app.call("POST", &format!("/api/webhooks/{id}/test"), Some(&session), None)
            .await
            .assert_status(202, "queueing a ping");
        ids.push(id);
    }
    for (id, reason) in ids.into_iter().zip(["no answer within 1s", "connecting"]) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let log = loop {
            let log = deliveries(&app, &session, id).await;
            if log[0]["status"] == "failed" || Instant::now() > deadline {
                break log;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(log[0]["status"], "failed", "{log:#?}");
        assert_eq!(log[0]["lastStatusCode"], Value::Null);
        let error = log[0]["lastError"].as_str().unwrap_or_default();
        assert!(error.contains(reason) && error.len() <= 200, "{error:?}");
    }
    let logs = app.logs();
    assert!(logs.contains("webhook delivery failed"), "attempts are logged");
    assert!(!logs.contains("whsec_"), "never the signing secret");
    assert!(
        !logs.contains(&closed.to_string()),
        "never the URL (it may carry a secret)"
    );
    drop(silent);
}

/// The web admin's rotate and delete buttons each lead to a confirmation naming the webhook,
/// for administrators only; confirming rotates (the new secret shown once) or deletes.
#[tokio::test]
async fn rotating_and_deleting_in_the_web_admin_ask_first_and_then_act() {
    use crate::web_http::{csrf, get_page, post_form, sign_in};
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let (id, first_secret) = create_webhook(&app, &session, json!({"url": "http://127.0.0.1:9/confirm-me"})).await;

    app.create_user_cli("reader", "reader-password-1", false);
    let (reader, _) = sign_in(&app, "reader", "reader-password-1").await;
    let (admin, _) = sign_in(&app, ADMIN_USERNAME, ADMIN_PASSWORD).await;
    let token = csrf(&app, &admin).await;
    for (action, question) in [
        ("rotate", "Rotate the signing secret?"),
        ("delete", "Delete this webhook?"),
    ] {
        let path = format!("/admin/webhooks/{id}/{action}");
        assert_eq!(get_page(&app, &path, Some(&reader)).await.status(), 403, "{action}");
        let page = get_page(&app, &path, Some(&admin)).await;
        assert_eq!(page.status(), 200, "{action}");
        let page = page.text().await.unwrap();
        assert!(
            page.contains(question) && page.contains("http://127.0.0.1:9/confirm-me"),
            "{action}: the confirmation names the webhook:\n{page}"
        );
        assert!(
            page.contains(&format!("action=\"{path}\"")),
            "{action}: the form posts back"
        );
    }

    let rotated = post_form(
        &app,
        &format!("/admin/webhooks/{id}/rotate"),
        Some(&admin),
        &format!("csrf={token}"),
    )
    .await;
    assert_eq!(rotated.status(), 200);
    let page = rotated.text().await.unwrap();
    let start = page.find("whsec_").expect("the new secret is shown");
    assert_ne!(&page[start..start + first_secret.len()], first_secret, "a new secret");

    let deleted = post_form(
        &app,
        &format!("/admin/webhooks/{id}/delete"),
        Some(&admin),
        &format!("csrf={token}"),
    )
    .await;
    assert_eq!(deleted.status(), 303);
    assert_eq!(
        app.total_items("/api/webhooks", &session).await,
        0,
        "the webhook is gone"
    );
}
