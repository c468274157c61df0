//! Every kind of credential against every endpoint and method of the REST API (DESIGN §3, §4).

use serde_json::{Value, json};

use crate::helpers::*;

/// The four kinds of credential, in the column order of the matrix.
const WHO: [&str; 4] = ["read token", "full token", "admin session", "non-admin session"];

/// What one cell of the matrix expects.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Success with this status.
    Success(u16),
    /// 403 problem with this `WWW-Authenticate`.
    Forbidden(&'static str),
    /// The route exists but not with this method: 405 problem.
    NotAllowed,
    /// A method the route lacks, with a credential that would lack the scope anyway: the
    /// contract does not say whether routing (405) or the scope check (403) answers first.
    NotAllowedOrForbidden,
}

use Expect::*;

const F: Expect = Forbidden(WWW_SCOPE_FULL);
const A: Expect = Forbidden(WWW_SCOPE_ADMIN);
const M: Expect = NotAllowed;
const X: Expect = NotAllowedOrForbidden;

/// A route of the matrix; `{u}`, `{t}` and `{w}` stand for a fresh user, token and webhook id.
struct Row {
    route: &'static str,
    method: &'static str,
    expect: [Expect; 4],
}

fn rows() -> Vec<Row> {
    let row = |route, method, expect| Row { route, method, expect };
    vec![
        row(
            "/api/users",
            "GET",
            [Success(200), Success(200), Success(200), Success(200)],
        ),
        row("/api/users", "POST", [F, Success(201), Success(201), A]),
        row("/api/users", "PUT", [X, X, M, X]),
        row("/api/users", "PATCH", [X, X, M, X]),
        row("/api/users", "DELETE", [X, X, M, X]),
        row(
            "/api/users/{u}",
            "GET",
            [Success(200), Success(200), Success(200), Success(200)],
        ),
        row("/api/users/{u}", "POST", [X, X, M, X]),
        row("/api/users/{u}", "PUT", [F, Success(200), Success(200), A]),
        row("/api/users/{u}", "PATCH", [F, Success(200), Success(200), A]),
        row("/api/users/{u}", "DELETE", [F, Success(204), Success(204), A]),
        // No token manages tokens: any API token gets scope="admin", whatever the method.
        row("/api/tokens", "GET", [A, A, Success(200), A]),
        row("/api/tokens", "POST", [A, A, Success(201), A]),
        row("/api/tokens", "PUT", [X, X, M, X]),
        row("/api/tokens", "PATCH", [X, X, M, X]),
        row("/api/tokens", "DELETE", [X, X, M, X]),
        row("/api/tokens/{t}", "GET", [A, A, Success(200), A]),
        row("/api/tokens/{t}", "POST", [X, X, M, X]),
        row("/api/tokens/{t}", "PUT", [X, X, M, X]),
        row("/api/tokens/{t}", "PATCH", [A, A, Success(200), A]),
        row("/api/tokens/{t}", "DELETE", [A, A, Success(204), A]),
        row("/api/tokens/{t}/regenerate", "GET", [X, X, M, X]),
        row("/api/tokens/{t}/regenerate", "POST", [A, A, Success(200), A]),
        row("/api/tokens/{t}/regenerate", "PUT", [X, X, M, X]),
        row("/api/tokens/{t}/regenerate", "PATCH", [X, X, M, X]),
        row("/api/tokens/{t}/regenerate", "DELETE", [X, X, M, X]),
        row(
            "/api/token",
            "GET",
            [Success(200), Success(200), Success(200), Success(200)],
        ),
        row("/api/token", "POST", [X, X, M, X]),
        row("/api/token", "PUT", [X, X, M, X]),
        row("/api/token", "PATCH", [X, X, M, X]),
        row("/api/token", "DELETE", [X, X, M, X]),
        // Webhooks see every token change: managed like tokens.
        row("/api/webhooks", "GET", [A, A, Success(200), A]),
        row("/api/webhooks", "POST", [A, A, Success(201), A]),
        row("/api/webhooks", "DELETE", [X, X, M, X]),
        row("/api/webhooks/{w}", "GET", [A, A, Success(200), A]),
        row("/api/webhooks/{w}", "PATCH", [A, A, Success(200), A]),
        row("/api/webhooks/{w}", "DELETE", [A, A, Success(204), A]),
        row("/api/webhooks/{w}", "POST", [X, X, M, X]),
        row("/api/webhooks/{w}/rotate-secret", "POST", [A, A, Success(200), A]),
        row("/api/webhooks/{w}/deliveries", "GET", [A, A, Success(200), A]),
        row("/api/webhooks/{w}/test", "POST", [A, A, Success(202), A]),
    ]
}

/// The JSON body a method sends to a route, unique per call where uniqueness matters.
fn body_for(route: &str, method: &str, n: usize) -> Option<Value> {
    match (route, method) {
        ("/api/users", "POST") => {
            Some(json!({"username": format!("made{n}"), "email": format!("made{n}@example.com")}))
        }
        ("/api/users/{u}", "PUT") => Some(json!({
            "username": format!("put{n}"), "email": format!("put{n}@example.com"),
            "firstName": "Put", "lastName": "Replaced", "active": true, "admin": false
        })),
        ("/api/users/{u}", "PATCH") => Some(json!({"lastName": "Patched"})),
        ("/api/tokens", "POST") => Some(json!({"name": format!("matrix {n}")})),
        ("/api/tokens/{t}", "PATCH") => Some(json!({"description": "patched"})),
        ("/api/webhooks", "POST") => Some(json!({"url": format!("http://127.0.0.1:9/{n}")})),
        ("/api/webhooks/{w}", "PATCH") => Some(json!({"active": false})),
        _ => None,
    }
}

#[tokio::test]
async fn every_credential_gets_exactly_its_rights_on_every_endpoint() {
    let app = TestApp::spawn();
    let admin = app.admin_session().await;
    let (_, read) = app.create_token_with(&admin, "read").await;
    let (_, full) = app.create_token_with(&admin, "full").await;
    let user = app.non_admin_session().await;
    let credentials = [read.as_str(), full.as_str(), admin.as_str(), user.as_str()];

    let mut n = 0;
    let mut failures = Vec::new();
    for row in rows() {
        for (column, credential) in credentials.iter().enumerate() {
            n += 1;
            // A fresh target per cell, so a DELETE or a regenerate never affects another cell.
            let path = if row.route.contains("{u}") {
                let id = app.create_user_api(&admin, &format!("target{n}")).await;
                row.route.replace("{u}", &id.to_string())
            } else if row.route.contains("{t}") {
                let (id, _) = app.create_token_with(&admin, "read").await;
                row.route.replace("{t}", &id.to_string())
            } else if row.route.contains("{w}") {
                let body = json!({"url": "http://127.0.0.1:9/matrix", "active": false});
                let created = app.call("POST", "/api/webhooks", Some(&admin), Some(&body)).await;
                created.assert_status(201, "creating a webhook for the matrix");
                row.route.replace("{w}", &created.json()["id"].to_string())
            } else {
                row.route.to_owned()
            };
            let body = body_for(row.route, row.method, n);
            let reply = app.call(row.method, &path, Some(credential), body.as_ref()).await;
            let what = format!("{} {} {}", WHO[column], row.method, path);
            if let Err(message) = check(&reply, row.expect[column]) {
                failures.push(format!("{what}: {message}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} cells of the access matrix are wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Checks one cell; returns why it is wrong.
fn check(reply: &Reply, expect: Expect) -> Result<(), String> {
    match expect {
        Success(status) if reply.status == status => Ok(()),
        Success(status) => Err(format!("expected {status}, got {} {}", reply.status, reply.body)),
        Forbidden(www) => reply.check_problem(403, Some(www)),
        NotAllowed => reply.check_problem(405, None),
        NotAllowedOrForbidden => match reply.status {
            405 => reply.check_problem(405, None),
            403 => {
                let www = reply.header("www-authenticate").unwrap_or_default();
                if www.contains(r#"error="insufficient_scope""#) {
                    reply.check_problem(403, Some(www))
                } else {
                    Err(format!("a 403 without insufficient_scope: {reply:?}"))
                }
            }
            other => Err(format!(
                "expected 405 (or 403 insufficient_scope), got {other} {}",
                reply.body
            )),
        },
    }
}
