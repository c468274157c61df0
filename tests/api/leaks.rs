//! `POST /api/tokens/revoke-leaked` (issue 6.5): no authentication, the same answer for live
//! and dead strings, live tokens revoked, every report in the audit log, limited per address.

use serde_json::{Value, json};

use crate::helpers::*;

/// The `token.leak_reported` audit events, read from the store the way an operator would.
async fn leak_reports(app: &TestApp) -> Vec<(Value, Option<String>, String)> {
    const QUERY: &str =
        "SELECT details, client_ip, actor_kind FROM audit_events WHERE kind = 'token.leak_reported' ORDER BY id";
    let rows: Vec<(String, Option<String>, String)> = match &app.database {
        Some(database) => {
            let pool = sqlx::PgPool::connect(&database.url)
                .await
                .expect("connect to PostgreSQL");
            sqlx::query_as(&QUERY.replace("details,", "details::text,"))
                .fetch_all(&pool)
                .await
                .expect("read the audit log")
        }
        None => {
            let url = format!("sqlite://{}", app.data_dir.path().join("portcullis.db").display());
            let pool = sqlx::SqlitePool::connect(&url).await.expect("open the SQLite database");
            sqlx::query_as(QUERY)
                .fetch_all(&pool)
                .await
                .expect("read the audit log")
        }
    };
    rows.into_iter()
        .map(|(details, ip, actor)| (serde_json::from_str(&details).expect("JSON details"), ip, actor))
        .collect()
}

async fn report(app: &TestApp, body: &Value) -> Reply {
    app.call("POST", "/api/tokens/revoke-leaked", None, Some(body)).await
}

#[tokio::test]
async fn reported_live_tokens_are_revoked_and_the_answer_never_tells_which() {
    let app = TestApp::spawn();
    let (leaked_id, leaked) = app.create_token("full").await;
    let (_, kept) = app.create_token("read").await;
    let unknown = forge_token("pcl", "never-issued");
    let session = app.admin_session().await;

    let live = report(
        &app,
        &json!({"tokens": [format!("  {leaked}\n"), "not a token", with_bad_checksum(&kept), unknown, session],
                "reporter": "scanner@example.com"}),
    )
    .await;
    live.assert_status(202, "a report with a live token");
    let dead = report(&app, &json!({"tokens": [forge_token("pcl", "other")]})).await;
    dead.assert_status(202, "a report without one");
    assert_eq!(live.body, dead.body, "the same answer either way");
    assert_no_secret_fields(&live.json());

    app.get("/api/token", &leaked)
        .await
        .assert_problem(401, Some(WWW_INVALID_TOKEN), "the leaked token is revoked");
    let shown = app
        .get(&format!("/api/tokens/{leaked_id}"), &app.admin_session().await)
        .await;
    assert_eq!(shown.json()["status"], "revoked");
    app.get("/api/token", &kept)
        .await
        .assert_status(200, "a mistyped copy revokes nothing");
    app.get("/api/tokens", &app.admin_session().await)
        .await
        .assert_status(200, "sessions are not ended by a report");
    let again = report(&app, &json!({"tokens": [leaked]})).await;
    assert_eq!(again.body, dead.body, "reporting a revoked token answers the same");

    let reports = leak_reports(&app).await;
    assert_eq!(reports.len(), 3, "every report is recorded: {reports:?}");
    let (details, ip, actor) = &reports[0];
    assert_eq!(details["reporter"], "scanner@example.com");
    assert_eq!(details["submitted"], 5);
    assert_eq!(details["revoked"], json!([leaked_id]));
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(actor, "anonymous");
    assert_eq!(reports[1].0["revoked"], json!([]));
    assert!(!app.logs().contains(&leaked), "the reported secret is not logged");
}

#[tokio::test]
async fn bad_reports_are_refused_and_reports_are_limited_per_address() {
    let app = TestApp::spawn();
    for (body, what) in [
        (json!({"tokens": []}), "no strings"),
        (json!({"tokens": vec!["x"; 101]}), "too many strings"),
        (json!({"tokens": ["x".repeat(300)]}), "a string too long"),
        (json!({"tokens": "pcl_x"}), "not a list"),
        (json!({"tokens": ["x"], "extra": 1}), "an unknown field"),
    ] {
        report(&app, &body).await.assert_problem(422, None, what);
    }
    // Three reports reached the handler (malformed JSON does not); the budget is ten a
    // minute per address, then five minutes of 429.
    for n in 4..=10 {
        report(&app, &json!({"tokens": ["x"]}))
            .await
            .assert_status(202, &format!("report {n}"));
    }
    let limited = report(&app, &json!({"tokens": ["x"]})).await;
    limited.assert_problem(429, None, "the eleventh report within a minute");
    assert_eq!(limited.header("retry-after"), Some("300"), "{limited:?}");
    report(&app, &json!({"tokens": ["x"]}))
        .await
        .assert_problem(429, None, "and the next");
}
