//! DESIGN §5: the command line, run as a separate process on the data directory of a running
//! server, as an operator would.

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A runtime error: non-zero exit and exactly one line on stderr.
#[track_caller]
fn assert_one_line_error(out: &Output, what: &str) {
    assert!(!out.status.success(), "{what}: should fail; {}", describe(out));
    let err = stderr(out);
    assert_eq!(
        err.trim().lines().count(),
        1,
        "{what}: the error is one line on stderr; {}",
        describe(out)
    );
}

/// The ids of `token list [--all] --json`.
fn listed_ids(app: &TestApp, all: bool) -> Vec<i64> {
    let mut args = vec!["token", "list", "--json"];
    if all {
        args.push("--all");
    }
    let list = app.cli_json(&args);
    let items = list
        .as_array()
        .unwrap_or_else(|| panic!("`token list --json` prints an array: {list}"));
    items
        .iter()
        .map(|t| {
            t["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("a listed token has an id: {t}"))
        })
        .collect()
}

fn create_json(app: &TestApp, args: &[&str]) -> Value {
    let mut full = vec!["token", "create"];
    full.extend_from_slice(args);
    full.push("--json");
    app.cli_json(&full)
}

#[tokio::test]
async fn token_create_json_prints_the_token_fields_and_its_secret() {
    let app = TestApp::spawn();
    let created = create_json(
        &app,
        &["--name", "deploy", "--access", "full", "--description", "Deploy bot"],
    );
    assert!(created.is_object(), "one JSON object: {created}");
    for field in [
        "id",
        "name",
        "description",
        "access",
        "hint",
        "status",
        "createdAt",
        "expiresAt",
        "lastUsedAt",
        "revokedAt",
    ] {
        assert!(
            created.get(field).is_some(),
            "`token create --json` prints `{field}`: {created}"
        );
    }
    assert_eq!(created["name"], "deploy");
    assert_eq!(created["description"], "Deploy bot");
    assert_eq!(created["access"], "full");
    assert_eq!(created["status"], "active");
    assert_eq!(
        created["expiresAt"],
        Value::Null,
        "no --expires means no expiry: {created}"
    );
    let secret = created["token"]
        .as_str()
        .unwrap_or_else(|| panic!("the secret is in `token`: {created}"));
    assert_token_format(secret, "pcl");
    assert_eq!(created["hint"], format!("pcl_…{}", &secret[secret.len() - 4..]));

    let described = app.get("/api/token", secret).await;
    described.assert_status(200, "the CLI-made secret authenticates against the running server");
    assert_eq!(described.json()["id"], created["id"]);
    assert_eq!(described.json()["access"], "full");

    let id = created["id"].to_string();
    let shown = app.cli_json(&["token", "show", &id, "--json"]);
    assert_eq!(shown["id"], created["id"]);
    assert!(
        shown.get("token").is_none(),
        "`token show` never prints the secret: {shown}"
    );
    let out = app.cli(&["token", "show", &id]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        !stdout(&out).contains(&secret[4..]),
        "human `token show` never prints the secret"
    );
}

#[tokio::test]
async fn token_create_prints_the_secret_once_and_says_it_will_not_be_shown_again() {
    let app = TestApp::spawn();
    let out = app.cli(&["token", "create", "--name", "human", "--access", "read"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout(&out);
    let found = find_tokens(&text, "pcl");
    assert_eq!(found.len(), 1, "the secret appears exactly once: {text}");
    assert_eq!(
        text.matches(&found[0][4..]).count(),
        1,
        "the secret appears exactly once: {text}"
    );
    assert_token_format(&found[0], "pcl");
    assert!(
        text.to_lowercase().contains("will not be shown again"),
        "the output says the secret will not be shown again: {text}"
    );
    let described = app.get("/api/token", &found[0]).await;
    described.assert_status(200, "the printed secret authenticates");
    assert_eq!(described.json()["access"], "read");
}

#[tokio::test]
async fn token_create_understands_every_expiry_form() {
    let app = TestApp::spawn();
    let in_30_days = create_json(&app, &["--name", "month", "--access", "read", "--expires", "30d"]);
    let expected = time::OffsetDateTime::now_utc() + time::Duration::days(30);
    let actual = parse_rfc3339(&in_30_days["expiresAt"]);
    assert!(
        (actual - expected).abs() < time::Duration::minutes(5),
        "--expires 30d: {in_30_days}"
    );

    let dated = create_json(
        &app,
        &["--name", "dated", "--access", "read", "--expires", "2027-06-01"],
    );
    let at = parse_rfc3339(&dated["expiresAt"]);
    assert_eq!(
        at.date(),
        time::macros::date!(2027 - 06 - 01),
        "--expires 2027-06-01: {dated}"
    );

    let never = create_json(&app, &["--name", "forever", "--access", "full", "--expires", "never"]);
    assert_eq!(never["expiresAt"], Value::Null, "--expires never: {never}");
}

#[tokio::test]
async fn token_create_with_a_bad_value_fails_and_creates_nothing() {
    let app = TestApp::spawn();
    let cases: &[(&str, &[&str])] = &[
        ("--access admin", &["--name", "x", "--access", "admin"]),
        ("--access write", &["--name", "x", "--access", "write"]),
        ("--access with no value", &["--name", "x", "--access"]),
        (
            "--expires yesterday",
            &["--name", "x", "--access", "read", "--expires", "yesterday"],
        ),
        (
            "--expires 30x",
            &["--name", "x", "--access", "read", "--expires", "30x"],
        ),
        (
            "--expires -5d",
            &["--name", "x", "--access", "read", "--expires", "-5d"],
        ),
        (
            "--expires 2027-13-45",
            &["--name", "x", "--access", "read", "--expires", "2027-13-45"],
        ),
        (
            "--expires in the past",
            &["--name", "x", "--access", "read", "--expires", "2020-01-01"],
        ),
        ("a blank --name", &["--name", "", "--access", "read"]),
        ("no --name", &["--access", "read"]),
    ];
    for (what, args) in cases {
        let mut full = vec!["token", "create"];
        full.extend_from_slice(args);
        let out = app.cli(&full);
        assert!(!out.status.success(), "{what}: should fail; {}", describe(&out));
        assert!(
            !stderr(&out).trim().is_empty(),
            "{what}: says why on stderr; {}",
            describe(&out)
        );
        assert!(
            find_tokens(&stdout(&out), "pcl").is_empty(),
            "{what}: prints no secret; {}",
            describe(&out)
        );
        assert_eq!(listed_ids(&app, true), Vec::<i64>::new(), "{what}: nothing is created");
    }
}

#[tokio::test]
async fn usage_errors_exit_with_status_2() {
    let app = TestApp::spawn();
    let cases: &[(&str, &[&str])] = &[
        ("a missing --name", &["token", "create", "--access", "read"]),
        ("an unknown subcommand", &["token", "frobnicate"]),
        ("an unknown top-level command", &["launch-missiles"]),
        ("an unknown flag", &["token", "list", "--no-such-flag"]),
        ("a missing token id", &["token", "show"]),
        ("a missing --email", &["user", "create", "--username", "x"]),
    ];
    for (what, args) in cases {
        let out = app.cli(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{what} (`portcullis {}`) exits 2; {}",
            args.join(" "),
            describe(&out)
        );
        assert!(!stderr(&out).trim().is_empty(), "{what}: says why on stderr");
    }
}

#[tokio::test]
async fn token_list_shows_active_tokens_by_default_and_every_token_with_all() {
    let app = TestApp::spawn();
    assert_eq!(listed_ids(&app, false), Vec::<i64>::new(), "no token yet");
    let keep = create_json(&app, &["--name", "keeper", "--access", "read"])["id"]
        .as_i64()
        .unwrap();
    let gone = create_json(&app, &["--name", "goner", "--access", "full"])["id"]
        .as_i64()
        .unwrap();
    let out = app.cli(&["token", "revoke", &gone.to_string()]);
    assert!(out.status.success(), "token revoke: {}", describe(&out));

    assert_eq!(listed_ids(&app, false), vec![keep], "only active tokens by default");
    let mut all = listed_ids(&app, true);
    all.sort();
    assert_eq!(all, vec![keep, gone], "--all includes revoked tokens");
    let list = app.cli_json(&["token", "list", "--all", "--json"]);
    let revoked = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == gone)
        .cloned()
        .unwrap();
    assert_eq!(revoked["status"], "revoked", "{revoked}");
    assert!(
        list.as_array().unwrap().iter().all(|t| t.get("token").is_none()),
        "a list never prints secrets: {list}"
    );

    let out = app.cli(&["token", "list"]);
    assert!(out.status.success(), "{}", describe(&out));
    let table = stdout(&out);
    let header = table
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        header.contains("id") && header.contains("name"),
        "a table with a header row: {table}"
    );
    assert!(table.contains("keeper"), "the active token is listed: {table}");
    assert!(
        !table.contains("goner"),
        "the revoked token is not listed by default: {table}"
    );
    let out = app.cli(&["token", "list", "--all"]);
    assert!(
        stdout(&out).contains("goner"),
        "--all lists the revoked token: {}",
        describe(&out)
    );
}

#[tokio::test]
async fn token_show_revoke_and_regenerate_act_on_the_running_server_data() {
    let app = TestApp::spawn();
    let (id, old) = app.create_token("full").await;
    let id_text = id.to_string();
    let shown = app.cli_json(&["token", "show", &id_text, "--json"]);
    assert_eq!(shown["id"], id, "the CLI sees the token created over HTTP: {shown}");
    assert_eq!(shown["access"], "full");
    assert_eq!(shown["createdBy"]["username"], "admin", "{shown}");

    let regenerated = app.cli_json(&["token", "regenerate", &id_text, "--json"]);
    let new = regenerated["token"]
        .as_str()
        .unwrap_or_else(|| panic!("the new secret is in `token`: {regenerated}"));
    assert_token_format(new, "pcl");
    assert_ne!(new, old);
    assert_eq!(regenerated["id"], id);
    assert_eq!(regenerated["access"], "full");

    let started = Instant::now();
    loop {
        let reply = app.get("/api/users", &old).await;
        if reply.status == 401 {
            reply.assert_problem(401, Some(WWW_INVALID_TOKEN), "the old secret after `token regenerate`");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the old secret still works 3 s after regeneration"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    app.get("/api/users", new)
        .await
        .assert_status(200, "the regenerated secret works");

    let out = app.cli(&["token", "revoke", &id_text]);
    assert!(out.status.success(), "token revoke: {}", describe(&out));
    assert_eq!(
        app.cli_json(&["token", "show", &id_text, "--json"])["status"],
        "revoked"
    );
    let out = app.cli(&["token", "regenerate", &id_text]);
    assert_one_line_error(&out, "regenerating a revoked token");
}

#[tokio::test]
async fn an_unknown_token_id_fails_with_not_found() {
    let app = TestApp::spawn();
    for args in [
        &["token", "show", "424242"][..],
        &["token", "show", "424242", "--json"],
        &["token", "revoke", "424242"],
        &["token", "regenerate", "424242"],
        &["token", "regenerate", "424242", "--json"],
    ] {
        let out = app.cli(args);
        let what = format!("`portcullis {}`", args.join(" "));
        assert_one_line_error(&out, &what);
        assert!(
            stderr(&out).to_lowercase().contains("not found"),
            "{what}: says not found; {}",
            describe(&out)
        );
        assert!(
            stdout(&out).trim().is_empty(),
            "{what}: prints nothing on stdout; {}",
            describe(&out)
        );
    }
}

#[tokio::test]
async fn a_revoke_by_the_cli_is_refused_by_the_running_server_within_a_second() {
    let app = TestApp::spawn();
    let (id, secret) = app.create_token("full").await;
    // Warm whatever cache the server has.
    for _ in 0..3 {
        app.get("/api/users", &secret)
            .await
            .assert_status(200, "the token works before revocation");
    }
    let out = app.cli(&["token", "revoke", &id.to_string()]);
    assert!(out.status.success(), "token revoke: {}", describe(&out));
    let cli_exited = Instant::now();
    let refused_after = loop {
        let reply = app.get("/api/users", &secret).await;
        if reply.status == 401 {
            reply.assert_problem(401, Some(WWW_INVALID_TOKEN), "the token revoked by the CLI");
            break cli_exited.elapsed();
        }
        reply.assert_status(200, "until the revocation is seen the token works as before");
        assert!(
            cli_exited.elapsed() < Duration::from_secs(3),
            "the server still accepts the token 3 s after the CLI revoked it"
        );
        std::thread::sleep(Duration::from_millis(25));
    };
    assert!(
        refused_after <= Duration::from_secs(1),
        "the server refused the CLI-revoked token only after {refused_after:?}; the contract says within 1 s"
    );
}

#[tokio::test]
async fn user_create_and_list_work_and_a_duplicate_username_fails() {
    let app = TestApp::spawn();
    let out = app.cli_with_stdin(
        &[
            "user",
            "create",
            "--username",
            "bob",
            "--email",
            "bob@example.com",
            "--first-name",
            "Bob",
            "--last-name",
            "Builder",
            "--password-stdin",
            "--json",
        ],
        "bob-the-builder-pw",
    );
    assert!(out.status.success(), "user create: {}", describe(&out));
    let bob: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("one JSON object ({e}): {}", describe(&out)));
    assert_eq!(bob["username"], "bob", "{bob}");
    assert_eq!(bob["email"], "bob@example.com", "{bob}");
    assert_eq!(bob["firstName"], "Bob", "{bob}");
    assert_eq!(bob["lastName"], "Builder", "{bob}");
    assert_eq!(bob["admin"], false, "{bob}");
    assert_eq!(bob["active"], true, "{bob}");
    assert_no_secret_fields(&bob);
    assert!(
        !stdout(&out).contains("bob-the-builder-pw"),
        "the password is never printed"
    );

    let users = app.cli_json(&["user", "list", "--json"]);
    let names: Vec<&str> = users
        .as_array()
        .unwrap_or_else(|| panic!("an array: {users}"))
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, vec!["admin", "bob"], "{users}");
    assert_no_secret_fields(&users);
    let out = app.cli(&["user", "list"]);
    assert!(
        out.status.success() && stdout(&out).contains("bob"),
        "human user list: {}",
        describe(&out)
    );

    app.session_for("bob", "bob-the-builder-pw").await;
    let api = app.get("/api/users?limit=100", &app.admin_session().await).await.json();
    assert_eq!(api["hydra:totalItems"], 2, "the server sees the CLI-made user: {api}");

    for (what, username) in [("the same username", "bob"), ("the same username in capitals", "BOB")] {
        let out = app.cli_with_stdin(
            &[
                "user",
                "create",
                "--username",
                username,
                "--email",
                "bob2@example.com",
                "--password-stdin",
            ],
            "another-password-1",
        );
        assert_one_line_error(&out, what);
    }
    let out = app.cli(&["user", "create", "--username", "bad name", "--email", "x@example.com"]);
    assert!(
        !out.status.success(),
        "a username with a space is refused: {}",
        describe(&out)
    );
    let out = app.cli(&["user", "create", "--username", "okname", "--email", "not an email"]);
    assert!(!out.status.success(), "an invalid email is refused: {}", describe(&out));
    assert_eq!(
        app.cli_json(&["user", "list", "--json"]).as_array().map(Vec::len),
        Some(2),
        "nothing was created"
    );
}

#[tokio::test]
async fn set_password_replaces_the_password() {
    let app = TestApp::spawn();
    let new_password = "a-brand-new-password-99";
    let out = app.cli_with_stdin(&["user", "set-password", "admin", "--password-stdin"], new_password);
    assert!(out.status.success(), "set-password: {}", describe(&out));
    assert!(
        !stdout(&out).contains(new_password) && !stderr(&out).contains(new_password),
        "the password is never printed"
    );
    app.sign_in("admin", new_password)
        .await
        .assert_status(201, "sign-in with the new password");
    app.sign_in("admin", ADMIN_PASSWORD)
        .await
        .assert_problem(401, Some(WWW_NO_ERROR), "sign-in with the old password");

    let out = app.cli_with_stdin(&["user", "set-password", "nobody", "--password-stdin"], new_password);
    assert_one_line_error(&out, "set-password for an unknown user");
    assert!(stderr(&out).to_lowercase().contains("not found"), "{}", describe(&out));
}

#[tokio::test]
async fn migrate_and_check_succeed_on_a_good_setup() {
    let app = TestApp::spawn();
    for args in [&["migrate"][..], &["migrate"], &["check"]] {
        let out = app.cli(args);
        assert!(
            out.status.success(),
            "`portcullis {}`: {}",
            args.join(" "),
            describe(&out)
        );
    }
    let fresh = tempfile::TempDir::new().unwrap();
    let out = run_cli(fresh.path(), &["migrate"], None, &[]);
    assert!(out.status.success(), "migrate on an empty data dir: {}", describe(&out));
    let out = run_cli(fresh.path(), &["user", "list", "--json"], None, &[]);
    assert!(out.status.success(), "user list after migrate: {}", describe(&out));
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).ok(),
        Some(Value::Array(vec![])),
        "{}",
        describe(&out)
    );
}

#[tokio::test]
async fn a_config_file_with_an_unknown_key_is_refused_and_the_key_named() {
    let app = TestApp::spawn();
    let dir = tempfile::TempDir::new().unwrap();
    let cases = [
        ("a top-level key", "bogus_option = true\n", "bogus_option"),
        ("a key inside [tokens]", "[tokens]\nprefixx = \"acme\"\n", "prefixx"),
    ];
    for (what, text, key) in cases {
        let file = dir.path().join(format!("{key}.toml"));
        std::fs::write(&file, text).unwrap();
        let path = file.to_str().unwrap();
        let out = app.cli(&["--config", path, "check"]);
        assert!(!out.status.success(), "{what}: `check` fails; {}", describe(&out));
        assert!(
            stderr(&out).contains(key),
            "{what}: stderr names `{key}`; {}",
            describe(&out)
        );

        let out = run_cli(app.data_dir.path(), &["check"], None, &[("PORTCULLIS_CONFIG", path)]);
        assert!(
            !out.status.success(),
            "{what} via PORTCULLIS_CONFIG: `check` fails; {}",
            describe(&out)
        );
        assert!(
            stderr(&out).contains(key),
            "{what} via PORTCULLIS_CONFIG: names `{key}`; {}",
            describe(&out)
        );
    }
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "").unwrap();
    let out = app.cli(&["--config", good.to_str().unwrap(), "check"]);
    assert!(out.status.success(), "an empty config file is fine: {}", describe(&out));
}

#[tokio::test]
async fn global_options_read_portcullis_environment_variables() {
    let app = TestApp::spawn();
    let dir = app.data_dir.path().to_str().unwrap();
    let mut env = vec![("PORTCULLIS_DATA_DIR", dir)];
    // On PostgreSQL the data directory holds no store; the URL comes from the environment too.
    if let Some(database) = &app.database {
        env.push(("PORTCULLIS_DATABASE", database.url.as_str()));
    }
    let out = run_bare(&["user", "list", "--json"], None, &env);
    assert!(
        out.status.success(),
        "user list with PORTCULLIS_DATA_DIR: {}",
        describe(&out)
    );
    let users: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("JSON ({e}): {}", describe(&out)));
    assert_eq!(
        users[0]["username"], "admin",
        "PORTCULLIS_DATA_DIR points at this app's data: {users}"
    );
}

#[tokio::test]
async fn the_database_option_and_its_environment_variable_choose_the_store() {
    let app = TestApp::spawn();
    let url = match &app.database {
        Some(database) => database.url.clone(),
        None => sqlite_file_url(&app),
    };
    let elsewhere = tempfile::TempDir::new().unwrap();

    let by_flag = run_cli(
        elsewhere.path(),
        &["--database", &url, "user", "list", "--json"],
        None,
        &[],
    );
    assert!(by_flag.status.success(), "--database {url}: {}", describe(&by_flag));
    let users: Value =
        serde_json::from_slice(&by_flag.stdout).unwrap_or_else(|e| panic!("JSON ({e}): {}", describe(&by_flag)));
    assert_eq!(
        users[0]["username"], "admin",
        "--database points at this app's store: {users}"
    );

    let by_env = run_cli(
        elsewhere.path(),
        &["user", "list", "--json"],
        None,
        &[("PORTCULLIS_DATABASE", &url)],
    );
    assert!(
        by_env.status.success(),
        "PORTCULLIS_DATABASE={url}: {}",
        describe(&by_env)
    );
    let users: Value =
        serde_json::from_slice(&by_env.stdout).unwrap_or_else(|e| panic!("JSON ({e}): {}", describe(&by_env)));
    assert_eq!(
        users[0]["username"], "admin",
        "PORTCULLIS_DATABASE points at this app's store: {users}"
    );
}

/// The `sqlite://` URL of an app's embedded database: the one file in its data dir that is
/// not a SQLite side file.
fn sqlite_file_url(app: &TestApp) -> String {
    let database = std::fs::read_dir(app.data_dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            !name.ends_with("-wal") && !name.ends_with("-shm") && !name.ends_with("-journal")
        })
        .collect::<Vec<_>>();
    assert_eq!(database.len(), 1, "one database file in the data dir: {database:?}");
    format!("sqlite://{}", database[0].display())
}
