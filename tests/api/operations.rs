//! Operations: shell completions, the manual page, bulk export/import of tokens' metadata,
//! and the deployment files under `deploy/`, which these tests read as they are shipped.

use std::path::Path;

use crate::helpers::{TestApp, describe, run_bare, run_cli};

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("read {}: {e}", full.display()))
}

#[test]
fn completions_are_generated_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef portcullis"),
        ("fish", "complete -c portcullis"),
    ] {
        let out = run_bare(&["completions", shell], None, &[]);
        assert!(out.status.success(), "{shell}: {}", describe(&out));
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell} script lacks {marker:?}");
        assert!(
            script.contains("regenerate") && script.contains("set-password"),
            "{shell} knows the subcommands"
        );
    }
    let out = run_bare(&["completions", "tcsh"], None, &[]);
    assert_eq!(out.status.code(), Some(2), "an unknown shell is a usage error");
}

#[test]
fn the_manual_page_is_generated_from_the_command_line_definition() {
    let out = run_bare(&["man"], None, &[]);
    assert!(out.status.success(), "{}", describe(&out));
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH portcullis 1"), "{page}");
    assert!(page.contains("\\-\\-data\\-dir"), "global options are documented");
}

#[test]
fn help_shows_examples() {
    let out = run_bare(&["--help"], None, &[]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Examples:") && help.contains("portcullis token create"),
        "{help}"
    );
    let out = run_bare(&["--help"], None, &[("NO_COLOR", "1")]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains('\u{1b}'),
        "no colour codes when not a terminal"
    );
}

#[tokio::test]
async fn exported_tokens_keep_working_after_import_into_another_installation() {
    let source = TestApp::spawn();
    let session = source.admin_session().await;
    let (_, kept) = source.create_token("read").await;
    let (revoked_id, revoked) = source.create_token("full").await;
    source
        .call("DELETE", &format!("/api/tokens/{revoked_id}"), Some(&session), None)
        .await
        .assert_status(204, "revoke");

    let export = source.cli(&["token", "export"]);
    assert!(export.status.success(), "{}", describe(&export));
    let lines = String::from_utf8_lossy(&export.stdout).to_string();
    assert_eq!(lines.lines().count(), 2, "one line per token: {lines}");
    assert!(
        !lines.contains(&kept) && !lines.contains(&revoked),
        "secrets never leave"
    );

    let target = tempfile::tempdir().unwrap();
    let file = target.path().join("tokens.jsonl");
    std::fs::write(&file, &lines).unwrap();
    let import = run_cli(
        target.path(),
        &["token", "import", "--input", file.to_str().unwrap()],
        None,
        &[],
    );
    assert!(import.status.success(), "{}", describe(&import));
    assert!(
        String::from_utf8_lossy(&import.stderr).contains("Imported 2 tokens"),
        "{}",
        describe(&import)
    );
    let again = run_cli(
        target.path(),
        &["token", "import", "--input", file.to_str().unwrap()],
        None,
        &[],
    );
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("skipped 2"),
        "a rerun skips: {}",
        describe(&again)
    );

    let listed = run_cli(target.path(), &["token", "list", "--all", "--json"], None, &[]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let statuses: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(
        statuses.contains(&"revoked") && statuses.contains(&"active"),
        "{statuses:?}"
    );

    // The imported installation accepts the old secret and still refuses the revoked one.
    let user = run_cli(
        target.path(),
        &[
            "user",
            "create",
            "--username",
            "ops",
            "--email",
            "ops@example.com",
            "--password-stdin",
        ],
        Some("ops-password-1"),
        &[],
    );
    assert!(user.status.success(), "{}", describe(&user));
    drop(source);
    let mut server = std::process::Command::new(crate::helpers::binary())
        .args([
            "--data-dir",
            target.path().to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let address = line.trim().rsplit("http://").next().unwrap().to_owned();
    let client = reqwest::Client::new();
    let status = |token: String| {
        let request = client.get(format!("http://{address}/api/users")).bearer_auth(token);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        status(kept).await,
        200,
        "an imported token works with its original secret"
    );
    assert_eq!(status(revoked).await, 401, "a revoked token stays revoked");
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn a_bad_import_line_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens.jsonl");
    let good = r#"{"name":"a","description":"","access":"read","hint":"pcl_…abcd","digest":"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff","createdAt":"2026-01-01T00:00:00Z","createdBy":null,"expiresAt":null,"revokedAt":null}"#;
    std::fs::write(&file, format!("{good}\n{{\"name\": 1}}\n")).unwrap();
    let out = run_cli(
        dir.path(),
        &["token", "import", "--input", file.to_str().unwrap()],
        None,
        &[],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 2"),
        "{}",
        describe(&out)
    );
    let listed = run_cli(dir.path(), &["token", "list", "--all", "--json"], None, &[]);
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "[]", "nothing imported");
}

#[test]
fn the_example_configuration_is_valid_and_documents_every_setting() {
    let dir = tempfile::tempdir().unwrap();
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/portcullis.toml");
    let database = format!("sqlite://{}/check.db", dir.path().display());
    let out = run_bare(
        &[
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--database",
            &database,
            "check",
        ],
        None,
        &[],
    );
    assert!(
        out.status.success(),
        "deploy/portcullis.toml must load: {}",
        describe(&out)
    );
    let example = repo_file("deploy/portcullis.toml");
    let readme = repo_file("README.md");
    // The README's configuration table: rows like "| `key` | `PORTCULLIS_…` | default | … |".
    let table_rows = readme.lines().filter(|l| l.starts_with("| `"));
    let variables: Vec<&str> = table_rows
        .flat_map(|row| row.split('`'))
        .filter(|w| w.starts_with("PORTCULLIS_") && w.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        .collect();
    assert!(
        variables.len() >= 10,
        "the README's configuration table lists the variables: {variables:?}"
    );
    for variable in variables {
        assert!(
            example.contains(variable),
            "deploy/portcullis.toml does not mention {variable}"
        );
    }
}

#[test]
fn the_systemd_unit_runs_the_server_hardened() {
    let unit = repo_file("deploy/portcullis.service");
    let has = |line: &str| unit.lines().any(|l| l.trim() == line);
    assert!(has(
        "ExecStart=/usr/local/bin/portcullis --config /etc/portcullis/portcullis.toml serve"
    ));
    assert!(
        has("ExecReload=/bin/kill -HUP $MAINPID"),
        "reload means SIGHUP: the TLS certificate is reloaded"
    );
    for option in [
        "NoNewPrivileges=yes",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=",
        "MemoryDenyWriteExecute=yes",
        "StateDirectory=portcullis",
    ] {
        assert!(has(option), "missing hardening option {option}");
    }
    if let Ok(out) = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/portcullis.service"))
        .output()
    {
        // Only the unit's own syntax matters here; the binary need not be installed.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("Unknown key") && !stderr.contains("Invalid"),
            "systemd-analyze: {stderr}"
        );
    }
}

#[test]
fn the_container_recipe_builds_the_binary_and_runs_it_unprivileged() {
    let recipe = repo_file("deploy/Containerfile");
    assert!(recipe.contains("cargo build --release --locked --bin portcullis"));
    assert!(recipe.contains("COPY --from=build /src/target/release/portcullis /usr/local/bin/portcullis"));
    assert!(
        recipe
            .lines()
            .any(|l| l.starts_with("USER ") && !l.contains("root") && l.trim() != "USER 0")
    );
    assert!(
        recipe.contains("COPY deploy/portcullis.toml"),
        "ships the documented example configuration"
    );
    assert!(recipe.contains("STOPSIGNAL SIGTERM"), "graceful shutdown");
}

/// `serve --threads 1` (issue #8) runs the whole server on one current-thread runtime: sign-in
/// (password hashing on the blocking pool), the API, forward-auth and many requests at once.
#[tokio::test]
async fn one_serving_thread_serves_everything() {
    let app = TestApp::spawn_with_env(&[("PORTCULLIS_THREADS", "1")]);
    // The line is logged around the time the server announces itself; give the log reader a moment.
    let said =
        |logs: String| logs.contains("threads=1 (current thread)") || logs.contains("threads=\"1 (current thread)\"");
    let mut logged = said(app.logs());
    for _ in 0..100 {
        if logged {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        logged = said(app.logs());
    }
    assert!(logged, "the server says how it runs:\n{}", app.logs());
    let session = app.admin_session().await;
    let (id, token) = app.create_token("read").await;
    let mut checks = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let request = app.client().get(app.url("/api/token")).bearer_auth(&token);
        checks.spawn(async move { request.send().await.map(|reply| reply.status()) });
    }
    while let Some(status) = checks.join_next().await {
        assert_eq!(status.unwrap().unwrap(), 200, "32 requests at once on one thread");
    }
    let authorization = format!("Authorization: Bearer {token}");
    let verify = [
        authorization.as_bytes(),
        b"X-Original-Method: GET".as_slice(),
        b"X-Original-URI: /items".as_slice(),
    ];
    let allowed = app.raw_request("GET", "/auth/verify", &verify);
    allowed.assert_status(204, "forward-auth");
    assert_eq!(allowed.header("x-portcullis-token-id"), Some(id.to_string().as_str()));
    app.call("DELETE", &format!("/api/tokens/{id}"), Some(&session), None)
        .await
        .assert_status(204, "revoke");
    app.raw_request("GET", "/auth/verify", &verify)
        .assert_status(401, "forward-auth after the revoke");

    for bad in ["0", "many", "5000"] {
        let out = run_bare(&["serve", "--threads", bad], None, &[]);
        assert_eq!(out.status.code(), Some(2), "--threads {bad}: {}", describe(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--threads"),
            "{}",
            describe(&out)
        );
    }
}
