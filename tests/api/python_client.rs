//! DESIGN §7: the Quable client example must keep working, unchanged but for URL and token.
//! Skipped (with the reason printed) when `python3` or `requests` is missing, unless
//! `PORTCULLIS_TEST_STRICT=1`.

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::helpers::*;

/// The example of DESIGN §7, verbatim but for the URL and the token.
fn client_example(url: &str, token: &str) -> String {
    format!(
        r#"import requests
bearer_token = "{token}"
headers = {{"Authorization": f"Bearer {{bearer_token}}"}}
response = requests.get("{url}", headers=headers)
if response.status_code == 200:
    users = response.json()
else:
    print(response.content)
"#
    )
}

/// Why the Python client cannot run here, if it cannot.
fn python_missing() -> Option<String> {
    let probe = Command::new("python3")
        .args(["-c", "import requests"])
        .stdin(Stdio::null())
        .output();
    match probe {
        Err(e) => Some(format!("python3 cannot be run: {e}")),
        Ok(out) if !out.status.success() => Some(format!(
            "python3 has no `requests` module: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(_) => None,
    }
}

/// Returns true when the test should go on; prints the reason and returns false to skip.
fn python_available() -> bool {
    match python_missing() {
        None => true,
        Some(reason) if std::env::var("PORTCULLIS_TEST_STRICT").as_deref() == Ok("1") => {
            panic!("PORTCULLIS_TEST_STRICT=1 and {reason}")
        }
        Some(reason) => {
            println!("skipped: {reason}");
            false
        }
    }
}

fn run_python(script: &str) -> std::process::Output {
    Command::new("python3")
        .args(["-c", script])
        .env("NO_PROXY", "*")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .stdin(Stdio::null())
        .output()
        .expect("run python3")
}

#[tokio::test]
async fn the_python_client_example_lists_users_with_a_read_token() {
    if !python_available() {
        return;
    }
    let app = TestApp::spawn();
    let (_, token) = app.create_token("read").await;
    let script = client_example(&app.url("/api/users"), &token)
        + "print(response.status_code)\nimport json\nprint(json.dumps(users))\n";
    let out = run_python(&script);
    assert!(out.status.success(), "the client example runs: {}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("200"), "the example gets 200: {text}");
    let users: Value = serde_json::from_str(lines.next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("the example's `users` is JSON ({e}): {text}"));
    let members = users["hydra:member"]
        .as_array()
        .unwrap_or_else(|| panic!("a Hydra collection: {users}"));
    assert_eq!(members[0]["username"], "admin", "{users}");
}

#[tokio::test]
async fn the_python_client_example_prints_the_error_for_a_revoked_token() {
    if !python_available() {
        return;
    }
    let app = TestApp::spawn();
    let session = app.admin_session().await;
    let (id, token) = app.create_token_with(&session, "read").await;
    app.call("DELETE", &format!("/api/tokens/{id}"), Some(&session), None)
        .await
        .assert_status(204, "revoke");
    let script = client_example(&app.url("/api/users"), &token) + "print(response.status_code)\n";
    let out = run_python(&script);
    assert!(out.status.success(), "the client example runs: {}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "the error body, then the status: {text}");
    assert!(
        lines[0].starts_with("b'{") || lines[0].starts_with("b\"{"),
        "the example prints the body bytes: {text}"
    );
    assert!(
        lines[0].contains("\"status\""),
        "the printed body is the problem document: {text}"
    );
    assert!(
        !lines[0].contains(&token),
        "the printed body never echoes the token: {text}"
    );
    assert_eq!(lines[1], "401", "a revoked token gets 401: {text}");
}

#[tokio::test]
async fn a_python_post_with_a_read_token_gets_403() {
    if !python_available() {
        return;
    }
    let app = TestApp::spawn();
    let (_, token) = app.create_token("read").await;
    let script = client_example(&app.url("/api/users"), &token)
        + &format!(
            "response = requests.post(\"{}\", headers=headers, json={{\"username\": \"py\", \"email\": \"py@example.com\"}})\n\
             print(response.status_code)\nprint(response.headers.get(\"WWW-Authenticate\"))\n",
            app.url("/api/users")
        );
    let out = run_python(&script);
    assert!(out.status.success(), "the script runs: {}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, vec!["403", WWW_SCOPE_FULL], "a read token cannot POST: {text}");
}
