//! Several instances on one PostgreSQL database (DESIGN §1.5, §1.6): a revocation on one
//! instance is refused by the other within the propagation bound, sessions work everywhere,
//! instances starting together migrate safely, and when PostgreSQL becomes unreachable every
//! instance fails closed (503, never a 200 for a revoked token) and recovers by itself.
//!
//! These tests need `PORTCULLIS_TEST_POSTGRES_URL` (see `backend`); without it they print why
//! and pass, except under `PORTCULLIS_TEST_STRICT=1`. The outage is made by a TCP proxy in
//! this file between the instances and PostgreSQL, so the shared cluster is never stopped.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::backend::{TestDatabase, require_postgres, with_database};
use crate::helpers::{ADMIN_PASSWORD, ADMIN_USERNAME, TestApp, binary, describe, run_cli};

/// Longest accepted delay between a revocation on one instance and its refusal on another.
const PROPAGATION_LIMIT: Duration = Duration::from_secs(1);

/// A fresh database holding the administrator, shared by the instances of one test.
pub(crate) fn shared_database(admin_url: &str) -> Arc<TestDatabase> {
    let database = Arc::new(TestDatabase::create(admin_url));
    let dir = TempDir::new().unwrap();
    let out = run_cli(
        dir.path(),
        &with_database(
            Some(&database),
            &[
                "user",
                "create",
                "--username",
                ADMIN_USERNAME,
                "--email",
                "admin@example.com",
                "--admin",
                "--password-stdin",
            ],
        ),
        Some(ADMIN_PASSWORD),
        &[],
    );
    assert!(out.status.success(), "creating the administrator: {}", describe(&out));
    database
}

/// One more instance on `database`, reached at `url` (default: directly).
pub(crate) fn instance(database: &Arc<TestDatabase>, url: Option<&str>, env: &[(&str, &str)]) -> TestApp {
    TestApp::start_with(TempDir::new().unwrap(), Some(database.clone()), url, env)
}

/// The `n`-th of sorted `values` at quantile `q`.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index]
}

#[tokio::test]
async fn a_token_revoked_on_one_instance_is_refused_by_another_within_a_second() {
    let Some(admin_url) = require_postgres("multi_instance::revocation propagation") else {
        return;
    };
    let database = shared_database(&admin_url);
    let a = instance(&database, None, &[]);
    let b = instance(&database, None, &[]);
    let session = a.admin_session().await;

    const TOKENS: usize = 100;
    let mut delays = Vec::with_capacity(TOKENS);
    let mut after_commit = Vec::with_capacity(TOKENS);
    for i in 0..TOKENS {
        let (id, token) = a
            .create_token_with(&session, if i % 2 == 0 { "read" } else { "full" })
            .await;
        // B verifies it first, so B holds an "allow" in its cache.
        b.get("/api/token", &token)
            .await
            .assert_status(200, "a fresh token is accepted by the other instance");
        b.get("/api/token", &token)
            .await
            .assert_status(200, "and again, from its cache");

        // Timed from sending the revocation: an upper bound of commit → refusal.
        let started = Instant::now();
        a.call("DELETE", &format!("/api/tokens/{id}"), Some(&session), None)
            .await
            .assert_status(204, "revoking on instance A");
        let committed = Instant::now();
        loop {
            let reply = b.get("/api/token", &token).await;
            if reply.status == 401 {
                break;
            }
            assert_eq!(
                reply.status, 200,
                "B answers 200 or 401 while the revocation travels: {reply:?}"
            );
            // The limit counts from the commit (A's answer): how long A takes to answer under a
            // loaded machine is not propagation.
            assert!(
                committed.elapsed() < PROPAGATION_LIMIT,
                "token {i}: B still accepted the token {:?} after A committed the revoke",
                committed.elapsed()
            );
        }
        delays.push(started.elapsed());
        after_commit.push(committed.elapsed());
    }
    delays.sort();
    after_commit.sort();
    let (p50, p99, max) = (quantile(&delays, 0.50), quantile(&delays, 0.99), delays[TOKENS - 1]);
    println!("revocation A → refused by B over {TOKENS} tokens: p50 {p50:?}, p99 {p99:?}, max {max:?}");
    println!(
        "  of which after A answered the revoke: p50 {:?}, p99 {:?}, max {:?}",
        quantile(&after_commit, 0.50),
        quantile(&after_commit, 0.99),
        after_commit[TOKENS - 1]
    );
    let slowest = after_commit[TOKENS - 1];
    assert!(
        slowest < PROPAGATION_LIMIT,
        "slowest propagation after commit {slowest:?} (from sending: {max:?})"
    );
}

#[tokio::test]
async fn a_session_started_on_one_instance_works_and_ends_on_every_instance() {
    let Some(admin_url) = require_postgres("multi_instance::shared sessions") else {
        return;
    };
    let database = shared_database(&admin_url);
    let a = instance(&database, None, &[]);
    let b = instance(&database, None, &[]);

    let session = a.admin_session().await;
    b.get("/api/users", &session)
        .await
        .assert_status(200, "a session from A is accepted by B");
    let (_, token) = b.create_token_with(&session, "read").await;
    a.get("/api/token", &token)
        .await
        .assert_status(200, "a token created on B through A's session is accepted by A");

    // Signing out on B ends the session on A too (A had it cached).
    a.get("/api/users", &session).await.assert_status(200, "cached on A");
    b.call("DELETE", "/api/sessions/current", Some(&session), None)
        .await
        .assert_status(204, "signing out on B");
    let started = Instant::now();
    while a.get("/api/users", &session).await.status != 401 {
        assert!(
            started.elapsed() < PROPAGATION_LIMIT,
            "A still accepts a session ended on B"
        );
    }

    // A password change on A ends the user's sessions on B.
    let jane = a.create_user_cli("jane", "jane-password-1234", false);
    let jane_session = b.session_for("jane", "jane-password-1234").await;
    b.get("/api/users", &jane_session).await.assert_status(200, "jane on B");
    let admin = a.admin_session().await;
    a.call(
        "PATCH",
        &format!("/api/users/{jane}"),
        Some(&admin),
        Some(&json!({"active": false})),
    )
    .await
    .assert_status(200, "deactivating jane on A");
    let started = Instant::now();
    while b.get("/api/users", &jane_session).await.status != 401 {
        assert!(
            started.elapsed() < PROPAGATION_LIMIT,
            "B still accepts the session of a user deactivated on A"
        );
    }
}

#[tokio::test]
async fn an_instance_that_lost_its_listener_clears_its_cache_before_trusting_it_again() {
    let Some(admin_url) = require_postgres("multi_instance::listener loss") else {
        return;
    };
    let database = shared_database(&admin_url);
    let a = instance(&database, None, &[]);
    let b = instance(&database, None, &[]);
    let session = a.admin_session().await;
    let (id, token) = a.create_token_with(&session, "read").await;
    for app in [&a, &b] {
        app.get("/api/token", &token).await.assert_status(200, "cached before");
    }
    // One transaction ends every listener connection (waiting until they are gone), then
    // revokes: its notification reaches no instance. Only resubscribing and clearing the cache
    // makes the instances see the revoke.
    database
        .execute(&format!(
            "BEGIN;
             SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
              WHERE datname = current_database() AND application_name = 'portcullis-listener';
             UPDATE api_tokens SET revoked_at = 1 WHERE id = {id};
             COMMIT;"
        ))
        .expect("terminate the listeners and revoke");
    for (name, app) in [("A", &a), ("B", &b)] {
        let started = Instant::now();
        loop {
            let reply = app.get("/api/token", &token).await;
            if reply.status == 401 {
                break;
            }
            assert!(
                started.elapsed() < PROPAGATION_LIMIT * 3,
                "{name} still answers {} for a token revoked while its listener was down",
                reply.status
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            app.logs().contains("change detection failed"),
            "{name} logged the lost listener"
        );
    }
}

#[tokio::test]
async fn a_statement_that_runs_past_the_timeout_answers_503_and_changes_nothing() {
    let Some(admin_url) = require_postgres("multi_instance::statement timeout") else {
        return;
    };
    let database = shared_database(&admin_url);
    let app = instance(&database, None, &[("PORTCULLIS_POSTGRES_STATEMENT_TIMEOUT", "300ms")]);
    let session = app.admin_session().await;
    let (id, token) = app.create_token_with(&session, "read").await;

    // Another client holds the token's row locked, so the revoke's UPDATE waits: past the
    // statement timeout PostgreSQL cancels it.
    use sqlx::Connection;
    let mut blocker = sqlx::PgConnection::connect(&database.url).await.unwrap();
    sqlx::raw_sql(&format!("BEGIN; SELECT 1 FROM api_tokens WHERE id = {id} FOR UPDATE;"))
        .execute(&mut blocker)
        .await
        .unwrap();
    let started = Instant::now();
    let reply = app
        .call("DELETE", &format!("/api/tokens/{id}"), Some(&session), None)
        .await;
    reply.assert_problem(503, None, "a revoke cancelled by the statement timeout");
    // DESIGN §3: 5xx bodies are opaque; the cause goes to the log.
    assert_eq!(
        reply.json()["detail"],
        "The service is temporarily unavailable.",
        "{}",
        reply.body
    );
    assert!(
        !reply.body.to_lowercase().contains("statement"),
        "no cause in the body: {}",
        reply.body
    );
    let logged = (0..50).any(|_| {
        let found = app.logs().contains("canceling statement due to statement timeout");
        if !found {
            std::thread::sleep(Duration::from_millis(20));
        }
        found
    });
    assert!(logged, "the cause is logged:\n{}", app.logs());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered in {:?}",
        started.elapsed()
    );
    sqlx::raw_sql("ROLLBACK").execute(&mut blocker).await.unwrap();

    app.get("/api/token", &token)
        .await
        .assert_status(200, "the cancelled revoke changed nothing");
    app.call("DELETE", &format!("/api/tokens/{id}"), Some(&session), None)
        .await
        .assert_status(204, "the revoke works once the lock is gone");
    app.get("/api/token", &token)
        .await
        .assert_status(401, "and the token is refused");
}

#[tokio::test]
async fn instances_starting_together_on_a_fresh_database_migrate_it_once() {
    let Some(admin_url) = require_postgres("multi_instance::concurrent migrations") else {
        return;
    };
    let database = Arc::new(TestDatabase::create(&admin_url));
    let dir = TempDir::new().unwrap();
    // Four `migrate` processes at once: the advisory lock serialises them.
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(binary())
                .arg("--data-dir")
                .arg(dir.path())
                .args(["--database", &database.url, "migrate"])
                .env_remove("PORTCULLIS_DATABASE")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start `portcullis migrate`")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "a concurrent `migrate`: {}", describe(&out));
    }
    // Two servers starting at once on the migrated database, then one more `migrate`.
    let a = std::thread::spawn({
        let database = database.clone();
        move || instance(&database, None, &[])
    });
    let b = instance(&database, None, &[]);
    let a = a.join().expect("instance A starts");
    for app in [&a, &b] {
        let reply = app.client().get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(reply.status(), 200, "both instances are ready");
    }
    let out = run_cli(dir.path(), &with_database(Some(&database), &["migrate"]), None, &[]);
    assert!(out.status.success(), "migrate once more: {}", describe(&out));
}

#[tokio::test]
async fn when_postgresql_is_unreachable_instances_fail_closed_and_recover_by_themselves() {
    let Some(admin_url) = require_postgres("multi_instance::store outage") else {
        return;
    };
    let database = shared_database(&admin_url);
    let proxy = PgProxy::start(postgres_address(&admin_url));
    let through_proxy = database.url_at(proxy.addr);
    let env = [
        ("PORTCULLIS_POSTGRES_ACQUIRE_TIMEOUT", "1s"),
        ("PORTCULLIS_TOKENS_LAST_USED_FLUSH_INTERVAL", "200ms"),
    ];
    let a = instance(&database, Some(&through_proxy), &env);
    let b = instance(&database, Some(&through_proxy), &env);
    let apps = [("A", &a), ("B", &b)];

    let session = a.admin_session().await;
    let (valid_id, valid) = a.create_token_with(&session, "read").await;
    let (revoked_id, revoked) = a.create_token_with(&session, "full").await;
    for (name, app) in apps {
        for token in [&valid, &revoked] {
            app.get("/api/token", token)
                .await
                .assert_status(200, &format!("{name} accepts both tokens before the outage"));
        }
    }

    // Revoke, and cut PostgreSQL off right after the revoke committed.
    a.call("DELETE", &format!("/api/tokens/{revoked_id}"), Some(&session), None)
        .await
        .assert_status(204, "revoking on A");
    proxy.cut();

    let outage = Instant::now();
    let mut answers_for_valid = Vec::new();
    while outage.elapsed() < Duration::from_secs(3) {
        for (name, app) in apps {
            let reply = app.get("/api/token", &revoked).await;
            assert!(
                reply.status == 401 || reply.status == 503,
                "{name} must refuse the revoked token during the outage (401 or 503), got {reply:?}"
            );
            let reply = app.get("/api/token", &valid).await;
            assert!(
                reply.status == 200 || reply.status == 503,
                "{name}: a valid token gets 200 or 503, got {reply:?}"
            );
            answers_for_valid.push((name, outage.elapsed(), reply.status));
        }
    }
    for (name, _) in apps {
        let first_503 = answers_for_valid
            .iter()
            .find(|(n, _, status)| *n == name && *status == 503);
        println!(
            "{name}: first 503 for a valid token {:?} after the cut",
            first_503.map(|(_, at, _)| at)
        );
    }
    // Once the loss is noticed (a heartbeat at most), nothing is served from the cache.
    let late: Vec<_> = answers_for_valid
        .iter()
        .filter(|(_, at, _)| *at > Duration::from_secs(2))
        .collect();
    assert!(!late.is_empty(), "requests were made late in the outage");
    assert!(
        late.iter().all(|(_, _, status)| *status == 503),
        "late in the outage every verification is 503: {late:?}"
    );
    for (name, app) in apps {
        let reply = app.client().get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(
            reply.status(),
            503,
            "{name}: /readyz reports not ready during the outage"
        );
        let reply = app.client().get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(reply.status(), 200, "{name}: the process itself is alive");
    }
    let reply = a
        .call(
            "POST",
            "/api/tokens",
            Some(&session),
            Some(&json!({"name": "x", "access": "read"})),
        )
        .await;
    reply.assert_problem(503, None, "creating a token during the outage");

    proxy.restore();
    for (name, app) in apps {
        let started = Instant::now();
        loop {
            let reply = app.get("/api/token", &valid).await;
            if reply.status == 200 {
                break;
            }
            assert_eq!(reply.status, 503, "{name}: 503 until recovered, got {reply:?}");
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{name} did not recover within 15 s of PostgreSQL coming back"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        app.get("/api/token", &revoked).await.assert_problem(
            401,
            Some(crate::helpers::WWW_INVALID_TOKEN),
            &format!("{name}: the revoke that committed before the outage holds"),
        );
        let reply = app.client().get(app.url("/readyz")).send().await.unwrap();
        assert_eq!(reply.status(), 200, "{name}: /readyz is ready again");
    }
    // Nothing accepted before the outage is lost: both tokens exist as they were, with their
    // last use recorded.
    let session = b.admin_session().await;
    let started = Instant::now();
    loop {
        let shown = b.get(&format!("/api/tokens/{valid_id}"), &session).await;
        shown.assert_status(200, "the valid token after the outage");
        assert_eq!(shown.json()["status"], "active");
        if !shown.json()["lastUsedAt"].is_null() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "last use written after recovery: {shown:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shown = b.get(&format!("/api/tokens/{revoked_id}"), &session).await;
    assert_eq!(shown.json()["status"], "revoked", "{shown:?}");
}

/// The PostgreSQL server's address in a URL (`host[:port]`, default port 5432).
fn postgres_address(url: &str) -> SocketAddr {
    let rest = &url[url.find("://").expect("a URL") + 3..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let with_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .unwrap_or_else(|| panic!("cannot resolve the PostgreSQL address {with_port}"))
}

/// A TCP proxy on 127.0.0.1 in front of PostgreSQL that the test can cut and restore. A cut
/// closes every connection (after passing on what was already read, like a server that
/// goes away) and refuses new ones until restored. It runs on its own runtime, so blocking
/// test code cannot stall it.
struct PgProxy {
    addr: SocketAddr,
    blocked: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl PgProxy {
    fn start(upstream: SocketAddr) -> PgProxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        // Bound here, adopted by the runtime below: `block_on` is not allowed inside a test's runtime.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let blocked = Arc::new(AtomicBool::new(false));
        let (cut, cut_rx) = watch::channel(0u64);
        runtime.spawn({
            let blocked = blocked.clone();
            async move {
                let listener = TcpListener::from_std(listener).expect("adopt the proxy's socket");
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    // The generation is read before `blocked`, and `cut` sets `blocked` before it
                    // raises the generation: a connection accepted while a cut is under way is
                    // either refused here or belongs to the generation being cut, never lives on.
                    let generation = *cut_rx.borrow();
                    if blocked.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let cut_rx = cut_rx.clone();
                    tokio::spawn(async move {
                        let Ok(server) = TcpStream::connect(upstream).await else {
                            return;
                        };
                        let (client_read, client_write) = client.into_split();
                        let (server_read, server_write) = server.into_split();
                        tokio::join!(
                            pump(client_read, server_write, cut_rx.clone(), generation),
                            pump(server_read, client_write, cut_rx, generation),
                        );
                    });
                }
            }
        });
        PgProxy {
            addr,
            blocked,
            cut,
            runtime: Some(runtime),
        }
    }

    /// PostgreSQL becomes unreachable: connections close, new ones are refused.
    fn cut(&self) {
        self.blocked.store(true, Ordering::SeqCst);
        self.cut.send_modify(|generation| *generation += 1);
    }

    /// PostgreSQL is reachable again.
    fn restore(&self) {
        self.blocked.store(false, Ordering::SeqCst);
    }
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Copies bytes one way until end of stream, an error, or a cut of the connection's
/// `generation` (also one that happened before the pump started). Bytes already read are
/// always written before stopping.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut cut: watch::Receiver<u64>,
    generation: u64,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buffer) => read,
            _ = cut.wait_for(|current| *current != generation) => break,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}
