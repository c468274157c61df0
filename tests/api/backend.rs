//! Which store the suite runs on. SQLite (a file in each test's data directory) by default;
//! with `PORTCULLIS_TEST_BACKEND=postgres`, every test gets its own fresh PostgreSQL database,
//! created through `PORTCULLIS_TEST_POSTGRES_URL` (a role with CREATEDB) and dropped at the end.
//!
//! `PORTCULLIS_TEST_POSTGRES_URL` alone does not switch the suite: it also enables the
//! multi-instance tests, which need PostgreSQL whatever the suite's backend is.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// The environment variable naming a PostgreSQL URL whose role may create databases.
pub const POSTGRES_URL_VAR: &str = "PORTCULLIS_TEST_POSTGRES_URL";
/// The environment variable choosing the suite's backend: `sqlite` (default) or `postgres`.
pub const BACKEND_VAR: &str = "PORTCULLIS_TEST_BACKEND";

/// The configured PostgreSQL URL, if any.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var(POSTGRES_URL_VAR).ok().filter(|url| !url.is_empty())
}

/// Whether a missing external tool is a failure (CI) rather than a skip.
pub fn strict() -> bool {
    std::env::var("PORTCULLIS_TEST_STRICT").is_ok_and(|v| v == "1")
}

/// The PostgreSQL URL for a test that cannot run without one: `None` (after printing why)
/// when none is configured, a panic instead under `PORTCULLIS_TEST_STRICT=1`.
pub fn require_postgres(test: &str) -> Option<String> {
    let url = postgres_admin_url();
    if url.is_none() {
        let reason = format!(
            "{test}: needs PostgreSQL; set {POSTGRES_URL_VAR}=postgres://USER:PASSWORD@127.0.0.1:5432/postgres (a role with CREATEDB)"
        );
        assert!(!strict(), "{reason} (PORTCULLIS_TEST_STRICT=1 forbids skipping)");
        eprintln!("SKIPPED {reason}");
    }
    url
}

/// A fresh database for one test when the suite runs on PostgreSQL, `None` on SQLite.
pub fn fresh_database() -> Option<Arc<TestDatabase>> {
    match std::env::var(BACKEND_VAR).as_deref() {
        Ok("postgres") => {
            let admin_url = postgres_admin_url()
                .unwrap_or_else(|| panic!("{BACKEND_VAR}=postgres needs {POSTGRES_URL_VAR} to be set"));
            Some(Arc::new(TestDatabase::create(&admin_url)))
        }
        Ok("sqlite") | Ok("") | Err(_) => None,
        Ok(other) => panic!("{BACKEND_VAR} must be `sqlite` or `postgres`, not `{other}`"),
    }
}

/// `args` preceded by `--database URL` when there is a database.
pub fn with_database<'a>(database: Option<&'a TestDatabase>, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = Vec::with_capacity(args.len() + 2);
    if let Some(database) = database {
        all.extend(["--database", database.url.as_str()]);
    }
    all.extend_from_slice(args);
    all
}

/// A database created for one test (or one group of servers), dropped when this is dropped.
pub struct TestDatabase {
    /// The URL to reach it directly.
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// Creates `pcl_test_<pid>_<n>_<nanos>` through `admin_url`.
    pub fn create(admin_url: &str) -> TestDatabase {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "pcl_test_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        execute(admin_url, &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("creating the test database {name} through {POSTGRES_URL_VAR}: {e}"));
        TestDatabase {
            url: replace_database(admin_url, &name),
            admin_url: admin_url.to_owned(),
            name,
        }
    }

    /// The URL of this database with its host and port replaced by `addr` (e.g. a proxy).
    pub fn url_at(&self, addr: SocketAddr) -> String {
        let scheme_end = self.url.find("://").expect("a URL with a scheme") + 3;
        let authority_end = self.url[scheme_end..]
            .find('/')
            .map_or(self.url.len(), |i| scheme_end + i);
        let host_start = self.url[scheme_end..authority_end]
            .rfind('@')
            .map_or(scheme_end, |i| scheme_end + i + 1);
        format!("{}{addr}{}", &self.url[..host_start], &self.url[authority_end..])
    }
}

impl TestDatabase {
    /// Runs SQL (one or more statements) in this database, as an operator with `psql` would.
    pub fn execute(&self, sql: &str) -> Result<(), String> {
        execute(&self.url, sql)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Best effort: a leftover database is only litter, named so it can be found.
        if let Err(e) = execute(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        ) {
            eprintln!("could not drop the test database {}: {e}", self.name);
        }
    }
}

/// `url` with its database name (the path) replaced, query string kept.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// Runs one statement on a connection of its own, from sync code (a test's set-up or `Drop`),
/// on a thread with its own runtime so it works inside and outside a tokio runtime.
fn execute(url: &str, sql: &str) -> Result<(), String> {
    let url = url.to_owned();
    let sql = sql.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&url).await.map_err(|e| e.to_string())?;
            sqlx::raw_sql(&sql)
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            conn.close().await.map_err(|e| e.to_string())
        })
    })
    .join()
    .map_err(|_| "the database thread panicked".to_owned())?
}

#[test]
fn database_urls_are_rewritten_keeping_credentials_and_options() {
    assert_eq!(
        replace_database("postgres://u:p@127.0.0.1:5432/postgres?sslmode=disable", "x"),
        "postgres://u:p@127.0.0.1:5432/x?sslmode=disable"
    );
    assert_eq!(replace_database("postgres://u@h", "x"), "postgres://u@h/x");
    let db = TestDatabase {
        url: "postgres://u:p@127.0.0.1:5432/x".into(),
        admin_url: String::new(),
        name: String::new(),
    };
    assert_eq!(
        db.url_at("127.0.0.1:6000".parse().unwrap()),
        "postgres://u:p@127.0.0.1:6000/x"
    );
    std::mem::forget(db);
}
