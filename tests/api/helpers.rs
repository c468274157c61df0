//! The test harness: one real `portcullis serve` process per test, on port 0, with a fresh
//! data directory, driven over HTTP (reqwest, or raw bytes over a `TcpStream` where reqwest
//! would refuse the input) and through the command line.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::backend::{self, TestDatabase};

/// The password of the administrator that [`TestApp::spawn`] creates.
pub const ADMIN_PASSWORD: &str = "correct-horse-battery";
/// The username of that administrator.
pub const ADMIN_USERNAME: &str = "admin";
/// The `WWW-Authenticate` values of DESIGN §3, realm `portcullis`.
pub const WWW_NO_ERROR: &str = r#"Bearer realm="portcullis""#;
pub const WWW_INVALID_REQUEST: &str = r#"Bearer realm="portcullis", error="invalid_request""#;
pub const WWW_INVALID_TOKEN: &str = r#"Bearer realm="portcullis", error="invalid_token""#;
pub const WWW_SCOPE_FULL: &str = r#"Bearer realm="portcullis", error="insufficient_scope", scope="full""#;
pub const WWW_SCOPE_ADMIN: &str = r#"Bearer realm="portcullis", error="insufficient_scope", scope="admin""#;
pub const WWW_SCOPE_SESSION: &str = r#"Bearer realm="portcullis", error="insufficient_scope", scope="session""#;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The path of the binary under test, built by cargo for this test target.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_portcullis")
}

/// A running server with its own data directory. Dropping it stops the process.
pub struct TestApp {
    pub addr: SocketAddr,
    pub data_dir: TempDir,
    /// The PostgreSQL database of this test, when the suite runs on PostgreSQL.
    pub database: Option<Arc<TestDatabase>>,
    child: Option<Child>,
    output: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    client: reqwest::Client,
}

impl TestApp {
    /// A server whose store already holds the administrator `admin` / [`ADMIN_PASSWORD`].
    pub fn spawn() -> TestApp {
        Self::spawn_with_env(&[])
    }

    /// Like [`spawn`](Self::spawn), with extra environment variables for the server process
    /// (every setting has a `PORTCULLIS_*` variable).
    pub fn spawn_with_env(env: &[(&str, &str)]) -> TestApp {
        let (data_dir, database) = Self::data_dir_with_admin();
        Self::start_with(data_dir, database, None, env)
    }

    /// Like [`TestApp::spawn`], with `config` written to a TOML file passed as `--config`
    /// (through `PORTCULLIS_CONFIG`).
    pub fn spawn_with_config(config: &str) -> TestApp {
        let (data_dir, database) = Self::data_dir_with_admin();
        let path = data_dir.path().join("portcullis.toml");
        std::fs::write(&path, config).expect("write the config file");
        let path = path.to_str().expect("a UTF-8 temporary path").to_owned();
        Self::start_with(data_dir, database, None, &[("PORTCULLIS_CONFIG", &path)])
    }

    /// A fresh data directory (and, on PostgreSQL, database) whose store holds the
    /// administrator, created through the CLI.
    fn data_dir_with_admin() -> (TempDir, Option<Arc<TestDatabase>>) {
        let data_dir = TempDir::new().expect("create a temporary data directory");
        let database = backend::fresh_database();
        let out = run_cli(
            data_dir.path(),
            &backend::with_database(
                database.as_deref(),
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
        assert!(
            out.status.success(),
            "`portcullis user create --admin` should succeed on a fresh data dir, got {:?}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (data_dir, database)
    }

    /// A server on an empty store: no user at all, so it prints the setup link.
    pub fn spawn_without_users() -> TestApp {
        let data_dir = TempDir::new().expect("create a temporary data directory");
        Self::start_with(data_dir, backend::fresh_database(), None, &[])
    }

    /// Starts a server on `data_dir` and, if given, a PostgreSQL database, reached at
    /// `server_database_url` when given (e.g. through a proxy) or at the database's own URL.
    pub fn start_with(
        data_dir: TempDir,
        database: Option<Arc<TestDatabase>>,
        server_database_url: Option<&str>,
        env: &[(&str, &str)],
    ) -> TestApp {
        let mut command = Command::new(binary());
        command.arg("--data-dir").arg(data_dir.path());
        if let Some(url) = server_database_url.or(database.as_ref().map(|d| d.url.as_str())) {
            command.args(["--database", url]);
        }
        let mut child = command
            .env_remove("PORTCULLIS_DATABASE")
            .envs(env.iter().copied())
            .args(["--log", "trace", "serve", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start `portcullis serve`");
        let output = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect(child.stdout.take().expect("piped stdout"), Arc::clone(&output)),
            collect(child.stderr.take().expect("piped stderr"), Arc::clone(&output)),
        ];
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("build a reqwest client");

        let started = Instant::now();
        let addr = loop {
            if let Some(addr) = listening_address(&output.lock().unwrap()) {
                break addr;
            }
            if let Ok(Some(status)) = child.try_wait() {
                // Give the readers a moment to drain what the process said before it died.
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "`portcullis serve` exited with {status} before listening; output:\n{}",
                    output.lock().unwrap()
                );
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                let _ = child.kill();
                panic!(
                    "`portcullis serve` printed no `listening on http://…` line within {STARTUP_TIMEOUT:?}; output:\n{}",
                    output.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        TestApp {
            addr,
            data_dir,
            database,
            child: Some(child),
            output,
            readers,
            client,
        }
    }

    /// The server's process id, to send it signals.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server is running").id()
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A reqwest client (no proxy, 30 s timeout).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Everything the server printed so far, stdout and stderr interleaved.
    pub fn logs(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// The JSON `request` log event of the request with id `request_id` (a server started
    /// with the JSON log format). The line is written after the response, so this waits up to
    /// a second for the reader thread to capture it.
    pub async fn request_log_event(&self, request_id: &str) -> Value {
        for _ in 0..50 {
            let line = self
                .logs()
                .lines()
                .find(|l| l.contains(request_id) && l.contains("\"message\":\"request\""))
                .map(str::to_owned);
            if let Some(line) = line {
                return serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no request log line with the request id {request_id}:\n{}", self.logs());
    }

    /// Sends SIGTERM and waits (at most 10 s) for the server to exit; returns its exit status
    /// and how long it took. Panics if it does not exit in time.
    pub fn stop(&mut self) -> (ExitStatus, Duration) {
        let mut child = self.child.take().expect("the server is still running");
        let started = Instant::now();
        sigterm(child.id());
        let status = wait_timeout(&mut child, STOP_TIMEOUT);
        let elapsed = started.elapsed();
        let status = match status {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the server did not exit within {STOP_TIMEOUT:?} of SIGTERM; output:\n{}",
                    self.logs()
                );
            }
        };
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        (status, elapsed)
    }

    /// Runs the command line on this app's data directory: `portcullis --data-dir DIR args…`.
    pub fn cli(&self, args: &[&str]) -> Output {
        run_cli(
            self.data_dir.path(),
            &backend::with_database(self.database.as_deref(), args),
            None,
            &[],
        )
    }

    /// Like [`TestApp::cli`], with `stdin` written to the process' standard input.
    pub fn cli_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        run_cli(
            self.data_dir.path(),
            &backend::with_database(self.database.as_deref(), args),
            Some(stdin),
            &[],
        )
    }

    /// Runs the command line and parses its stdout as one JSON document; panics with the
    /// output if the command fails or prints something else.
    pub fn cli_json(&self, args: &[&str]) -> Value {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "`portcullis {}` failed: {}",
            args.join(" "),
            describe(&out)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "`portcullis {}` should print one JSON document ({e}): {}",
                args.join(" "),
                describe(&out)
            )
        })
    }

    /// Sends one request with reqwest: `credential` goes in `Authorization: Bearer …`, `body`
    /// as JSON.
    pub async fn call(&self, method: &str, path: &str, credential: Option<&str>, body: Option<&Value>) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a valid method");
        let mut request = self.client.request(method, self.url(path));
        if let Some(credential) = credential {
            request = request.header("Authorization", format!("Bearer {credential}"));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        Reply::from(request.send().await.expect("the server answers")).await
    }

    /// `GET path` with a bearer credential.
    pub async fn get(&self, path: &str, credential: &str) -> Reply {
        self.call("GET", path, Some(credential), None).await
    }

    /// `POST /api/sessions`.
    pub async fn sign_in(&self, username: &str, password: &str) -> Reply {
        self.call(
            "POST",
            "/api/sessions",
            None,
            Some(&json!({"username": username, "password": password})),
        )
        .await
    }

    /// A session token of the administrator.
    pub async fn admin_session(&self) -> String {
        self.session_for(ADMIN_USERNAME, ADMIN_PASSWORD).await
    }

    /// A session token for the given user; panics unless sign-in answers 201.
    pub async fn session_for(&self, username: &str, password: &str) -> String {
        let reply = self.sign_in(username, password).await;
        assert_eq!(reply.status, 201, "signing in as {username} should succeed: {reply:?}");
        reply.json()["token"].as_str().expect("`token` is a string").to_owned()
    }

    /// Creates a user with a password through the command line (`user create --json`) and
    /// returns its id.
    pub fn create_user_cli(&self, username: &str, password: &str, admin: bool) -> i64 {
        let email = format!("{username}@example.com");
        let mut args = vec![
            "user",
            "create",
            "--username",
            username,
            "--email",
            &email,
            "--password-stdin",
            "--json",
        ];
        if admin {
            args.push("--admin");
        }
        let out = self.cli_with_stdin(&args, password);
        assert!(
            out.status.success(),
            "`portcullis {}` failed: {}",
            args.join(" "),
            describe(&out)
        );
        let user: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("`user create --json` should print JSON ({e}): {}", describe(&out)));
        user["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("`user create --json` prints the user with an id: {user}"))
    }

    /// A session of a fresh non-admin user (created with `user create`, no `--admin`).
    pub async fn non_admin_session(&self) -> String {
        self.create_user_cli("jane", "jane-password-1234", false);
        self.session_for("jane", "jane-password-1234").await
    }

    /// Creates a user through the API with the admin session `session`; returns its id.
    pub async fn create_user_api(&self, session: &str, username: &str) -> i64 {
        let body = json!({"username": username, "email": format!("{username}@example.com")});
        let reply = self.call("POST", "/api/users", Some(session), Some(&body)).await;
        assert_eq!(reply.status, 201, "creating user {username} should succeed: {reply:?}");
        reply.json()["id"].as_i64().expect("the created user has an integer id")
    }

    /// Creates an API token (`access` = `read` or `full`) with a fresh admin session; returns
    /// its id and secret.
    pub async fn create_token(&self, access: &str) -> (i64, String) {
        let session = self.admin_session().await;
        self.create_token_with(&session, access).await
    }

    /// Creates an API token with the given admin session.
    pub async fn create_token_with(&self, session: &str, access: &str) -> (i64, String) {
        let body = json!({"name": format!("{access} token"), "access": access});
        let reply = self.call("POST", "/api/tokens", Some(session), Some(&body)).await;
        assert_eq!(reply.status, 201, "creating a {access} token should succeed: {reply:?}");
        let token = reply.json();
        (
            token["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("the token has an integer id: {token}")),
            token["token"]
                .as_str()
                .unwrap_or_else(|| panic!("the response carries the secret: {token}"))
                .to_owned(),
        )
    }

    /// `hydra:totalItems` of a collection, read with `credential`.
    pub async fn total_items(&self, path: &str, credential: &str) -> i64 {
        let reply = self.get(path, credential).await;
        assert_eq!(reply.status, 200, "GET {path} should succeed: {reply:?}");
        reply.json()["hydra:totalItems"]
            .as_i64()
            .unwrap_or_else(|| panic!("GET {path} is a Hydra collection with hydra:totalItems: {}", reply.body))
    }

    /// Sends `request` as is over a fresh TCP connection and reads the whole answer.
    /// The request should carry `Connection: close`.
    pub fn raw(&self, request: &[u8]) -> Reply {
        let mut stream = TcpStream::connect(self.addr).expect("connect to the server");
        stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        stream.write_all(request).expect("send the raw request");
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).unwrap_or_else(|e| {
            panic!(
                "read the raw answer ({e}); got so far: {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        parse_http_response(&bytes)
    }

    /// A raw `METHOD path` request with `Host` and `Connection: close` and the given extra
    /// header lines (each without the CRLF), no body.
    pub fn raw_request(&self, method: &str, path: &str, headers: &[&[u8]]) -> Reply {
        self.raw_with_body(method, path, headers, b"")
    }

    /// A raw request with a body (Content-Length is added).
    pub fn raw_with_body(&self, method: &str, path: &str, headers: &[&[u8]], body: &[u8]) -> Reply {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        )
        .into_bytes();
        for header in headers {
            request.extend_from_slice(header);
            request.extend_from_slice(b"\r\n");
        }
        if !body.is_empty() || method != "GET" {
            request.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(body);
        self.raw(&request)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            sigterm(child.id());
            if wait_timeout(&mut child, Duration::from_secs(5)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            let logs = self.logs();
            let tail: Vec<&str> = logs.lines().rev().take(150).collect();
            eprintln!("---- last lines of the server output ----");
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// Runs `portcullis --data-dir DIR args…` with optional stdin and extra environment.
pub fn run_cli(data_dir: &Path, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(binary());
    command.arg("--data-dir").arg(data_dir).args(args);
    run_command(command, stdin, env)
}

/// Runs `portcullis args…` exactly as given (no `--data-dir`).
pub fn run_bare(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(binary());
    command.args(args);
    run_command(command, stdin, env)
}

fn run_command(mut command: Command, stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    command
        .env_remove("PORTCULLIS_DATA_DIR")
        .env_remove("PORTCULLIS_CONFIG")
        .env_remove("PORTCULLIS_DATABASE")
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("run the portcullis binary");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("piped stdin");
        pipe.write_all(input.as_bytes()).expect("write to stdin");
        pipe.write_all(b"\n").expect("write to stdin");
    }
    child.wait_with_output().expect("wait for the portcullis binary")
}

/// Exit status, stdout and stderr of a finished command, for failure messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn collect(stream: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => into.lock().unwrap().push_str(&String::from_utf8_lossy(&line)),
            }
        }
    })
}

fn listening_address(output: &str) -> Option<SocketAddr> {
    let marker = "listening on http";
    let start = output.find(marker)? + marker.len();
    let start = start + output[start..].find("://")? + 3;
    let rest = &output[start..];
    // Only the line up to its end counts, so a half-written address is never parsed.
    let line = &rest[..rest.find('\n')?];
    let address: String = line
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || ".:[]".contains(*c))
        .collect();
    address.parse().ok()
}

fn sigterm(pid: u32) {
    let _ = Command::new("kill")
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if started.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An HTTP answer, read either by reqwest or from raw bytes.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub async fn from(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response.text().await.expect("read the response body");
        Reply { status, headers, body }
    }

    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON; panics with the body if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the body should be JSON ({e}); status {}: {:?}", self.status, self.body))
    }

    /// Asserts the status, with the whole reply in the message.
    #[track_caller]
    pub fn assert_status(&self, expected: u16, what: &str) {
        assert_eq!(
            self.status, expected,
            "{what}: expected status {expected}, got {self:?}"
        );
    }

    /// Asserts an RFC 9457 problem with this status and `WWW-Authenticate` value (or none).
    #[track_caller]
    pub fn assert_problem(&self, expected_status: u16, www_authenticate: Option<&str>, what: &str) {
        assert_problem_parts(
            self.status,
            &self.headers,
            &self.body,
            expected_status,
            www_authenticate,
            what,
        );
    }

    /// The non-panicking form of [`Reply::assert_problem`].
    pub fn check_problem(&self, expected_status: u16, www_authenticate: Option<&str>) -> Result<(), String> {
        check_problem(
            self.status,
            &self.headers,
            &self.body,
            expected_status,
            www_authenticate,
        )
    }
}

/// Checks an error answer: status, `Content-Type: application/problem+json`, a JSON body with
/// `type`, `title`, `status` (= the HTTP status) and `detail`, and exactly the given
/// `WWW-Authenticate` value (or its absence).
#[track_caller]
pub fn assert_problem(
    status: u16,
    headers: &[(String, String)],
    body: &str,
    expected_status: u16,
    expected_www_authenticate: Option<&str>,
) {
    assert_problem_parts(
        status,
        headers,
        body,
        expected_status,
        expected_www_authenticate,
        "request",
    );
}

#[track_caller]
fn assert_problem_parts(
    status: u16,
    headers: &[(String, String)],
    body: &str,
    expected_status: u16,
    expected_www_authenticate: Option<&str>,
    what: &str,
) {
    if let Err(message) = check_problem(status, headers, body, expected_status, expected_www_authenticate) {
        panic!("{what}: {message}");
    }
}

/// The non-panicking form of [`assert_problem`]: says what is wrong, if anything.
pub fn check_problem(
    status: u16,
    headers: &[(String, String)],
    body: &str,
    expected_status: u16,
    expected_www_authenticate: Option<&str>,
) -> Result<(), String> {
    let context = format!("status {status}, headers {headers:?}, body {body:?}");
    if status != expected_status {
        return Err(format!("expected status {expected_status}; {context}"));
    }
    let header = |name: &str| -> Vec<&str> {
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let content_type = header("content-type");
    if !(content_type.len() == 1
        && content_type[0]
            .to_ascii_lowercase()
            .starts_with("application/problem+json"))
    {
        return Err(format!("expected Content-Type application/problem+json; {context}"));
    }
    let problem: Value =
        serde_json::from_str(body).map_err(|e| format!("the problem body should be JSON ({e}); {context}"))?;
    for field in ["type", "title", "detail"] {
        if !problem[field].is_string() {
            return Err(format!("the problem needs a string `{field}`; {context}"));
        }
    }
    if problem["status"].as_u64() != Some(u64::from(expected_status)) {
        return Err(format!(
            "the problem's `status` should equal the HTTP status; {context}"
        ));
    }
    let www = header("www-authenticate");
    match expected_www_authenticate {
        Some(expected) if www != vec![expected] => {
            Err(format!("expected exactly one WWW-Authenticate: {expected}; {context}"))
        }
        None if !www.is_empty() => Err(format!("expected no WWW-Authenticate header; {context}")),
        _ => Ok(()),
    }
}

/// Parses a complete HTTP/1.1 response (the connection was closed by the server).
fn parse_http_response(bytes: &[u8]) -> Reply {
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in the answer: {:?}", String::from_utf8_lossy(bytes)));
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut body = bytes[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        body = decode_chunked(&body);
    }
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn decode_chunked(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        data = &data[line_end + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The checksum of DESIGN §2: CRC32 (IEEE) of `<prefix>_<random>` in base62, padded to 6.
pub fn checksum(prefix_and_random: &str) -> String {
    let mut n = u64::from(crc32fast::hash(prefix_and_random.as_bytes()));
    let mut digits = [b'0'; 6];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(digits.to_vec()).expect("base62 is ASCII")
}

/// A token in our format with a correct checksum that no server has issued.
pub fn forge_token(prefix: &str, seed: &str) -> String {
    // A leading `0` keeps the number below 2^256 whatever the rest is.
    let mut random: String = std::iter::once('0')
        .chain(seed.chars().filter(|c| c.is_ascii_alphanumeric()).cycle())
        .take(43)
        .collect();
    while random.len() < 43 {
        random.push('0');
    }
    let head = format!("{prefix}_{random}");
    let sum = checksum(&head);
    format!("{head}{sum}")
}

/// The same token with one character of the random part changed: a bad checksum.
pub fn with_bad_checksum(token: &str) -> String {
    let (prefix, rest) = token.split_once('_').expect("a token has an underscore");
    let mut chars: Vec<char> = rest.chars().collect();
    chars[10] = if chars[10] == 'a' { 'b' } else { 'a' };
    format!("{prefix}_{}", chars.into_iter().collect::<String>())
}

/// Asserts that `token` has the shape of DESIGN §2 with the given prefix and a correct checksum.
#[track_caller]
pub fn assert_token_format(token: &str, prefix: &str) {
    let (head, rest) = token
        .split_once('_')
        .unwrap_or_else(|| panic!("token {token:?} has no underscore"));
    assert_eq!(head, prefix, "token {token:?} should start with {prefix}_");
    assert!(
        rest.len() == 49 && rest.bytes().all(|b| b.is_ascii_alphanumeric()),
        "token {token:?} should have 49 base62 characters after the prefix"
    );
    let (body, sum) = token.split_at(token.len() - 6);
    assert_eq!(
        checksum(body),
        sum,
        "token {token:?} should end with the base62 CRC32 of {body:?}"
    );
}

/// Finds every substring shaped like one of our tokens (`pcl_…` or `pcs_…`) in `text`.
pub fn find_tokens(text: &str, prefix: &str) -> Vec<String> {
    let needle = format!("{prefix}_");
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(&needle) {
        let start = from + at;
        let candidate: String = text[start + needle.len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if candidate.len() == 49 {
            found.push(format!("{needle}{candidate}"));
        }
        from = start + needle.len();
    }
    found
}

/// Parses an RFC 3339 timestamp; panics with the value if it is not one.
#[track_caller]
pub fn parse_rfc3339(value: &Value) -> time::OffsetDateTime {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("expected an RFC 3339 string, got {value}"));
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
}

/// Formats a time as RFC 3339 with whole seconds.
pub fn rfc3339(at: time::OffsetDateTime) -> String {
    at.replace_nanosecond(0)
        .expect("zero nanoseconds is valid")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format RFC 3339")
}

/// Asserts that a JSON document nowhere carries a password or a hash field.
#[track_caller]
pub fn assert_no_secret_fields(value: &Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let lower = key.to_ascii_lowercase();
                assert!(
                    !lower.contains("password") && !lower.contains("hash") && !lower.contains("digest"),
                    "field {key:?} must not be exposed: {value}"
                );
                assert_no_secret_fields(inner);
            }
        }
        Value::Array(items) => items.iter().for_each(assert_no_secret_fields),
        _ => {}
    }
}
