//! A small W3C WebDriver client over reqwest, driving Debian's `chromedriver` and headless
//! `chromium`: enough to open pages, fill forms, click, read text and take screenshots.
//! Every call returns `Result<_, String>` so that a scenario can stop at the first failure,
//! save a screenshot and then panic with the reason.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tempfile::TempDir;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Why the browser tests cannot run here, if they cannot.
pub fn missing_browser() -> Option<String> {
    for tool in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(tool).exists() {
            return Some(format!(
                "{tool} is not installed (apt-get install chromium chromium-driver)"
            ));
        }
    }
    None
}

/// A headless Chromium session behind its own chromedriver process.
pub struct Browser {
    http: reqwest::Client,
    port: u16,
    session: String,
    driver: Child,
    _profile: TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

impl Browser {
    /// Starts chromedriver on a free port and a fresh browser profile, with a window of
    /// `width`×`height`.
    pub async fn start(width: u32, height: u32) -> Result<Browser, String> {
        let port = free_port();
        let mut driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting chromedriver: {e}"))?;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        let profile = TempDir::new().map_err(|e| e.to_string())?;
        let started = Instant::now();
        loop {
            let ready = http
                .get(format!("http://127.0.0.1:{port}/status"))
                .send()
                .await
                .ok()
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                break;
            }
            if started.elapsed() > Duration::from_secs(20) {
                let _ = driver.kill();
                let _ = driver.wait();
                return Err("chromedriver did not answer /status within 20 s".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        } } });
        let mut browser = Browser {
            http,
            port,
            session: String::new(),
            driver,
            _profile: profile,
        };
        let reply = browser.raw("POST", "/session", Some(capabilities)).await?;
        browser.session = reply["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session id in {reply}"))?
            .to_owned();
        Ok(browser)
    }

    async fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body.unwrap_or_else(|| json!({}))),
        };
        let response = request.send().await.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status();
        let value: Value = response.json().await.map_err(|e| format!("{method} {path}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{method} {path}: {status} {}", value["value"]));
        }
        Ok(value.get("value").cloned().unwrap_or(value))
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        self.raw(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) -> Result<(), String> {
        self.call("POST", "/url", Some(json!({ "url": url }))).await.map(drop)
    }

    /// The address of the current page.
    pub async fn url(&self) -> Result<String, String> {
        Ok(self
            .call("GET", "/url", None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The HTML of the current page.
    pub async fn source(&self) -> Result<String, String> {
        Ok(self
            .call("GET", "/source", None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The elements matching a CSS selector (possibly none).
    pub async fn find_all(&self, css: &str) -> Result<Vec<String>, String> {
        let found = self
            .call(
                "POST",
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await?;
        Ok(found
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The one element matching a CSS selector, waiting up to 5 s for it to appear.
    pub async fn find(&self, css: &str) -> Result<String, String> {
        let started = Instant::now();
        loop {
            if let Some(first) = self.find_all(css).await?.into_iter().next() {
                return Ok(first);
            }
            if started.elapsed() > Duration::from_secs(5) {
                let url = self.url().await.unwrap_or_default();
                return Err(format!("no element matches `{css}` on {url}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Finds the element matching `css` and sends it one command. When the page changes
    /// between the two (a "stale element"), finds it again, for up to 5 s.
    async fn on_element(&self, css: &str, method: &str, command: &str, body: Option<Value>) -> Result<Value, String> {
        let started = Instant::now();
        loop {
            let id = self.find(css).await?;
            match self
                .call(method, &format!("/element/{id}/{command}"), body.clone())
                .await
            {
                Err(e) if e.contains("stale element") && started.elapsed() < Duration::from_secs(5) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(format!("`{css}` {command}: {e}")),
                Ok(value) => return Ok(value),
            }
        }
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) -> Result<(), String> {
        self.on_element(css, "POST", "click", None).await.map(drop)
    }

    /// Replaces the text of the input matching `css`.
    pub async fn fill(&self, css: &str, text: &str) -> Result<(), String> {
        self.on_element(css, "POST", "clear", None).await?;
        self.on_element(css, "POST", "value", Some(json!({ "text": text })))
            .await
            .map(drop)
    }

    /// The visible text of the element matching `css`.
    pub async fn text(&self, css: &str) -> Result<String, String> {
        let text = self.on_element(css, "GET", "text", None).await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// Waits up to 5 s for the element matching `css` to show `expected` (for text that a
    /// script sets after a promise settles); answers the last text seen.
    pub async fn wait_for_text(&self, css: &str, expected: &str) -> Result<String, String> {
        let started = Instant::now();
        loop {
            let text = self.text(css).await?;
            if text == expected || started.elapsed() > Duration::from_secs(5) {
                return Ok(text);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Whether the checkbox, radio button or option matching `css` is selected.
    pub async fn selected(&self, css: &str) -> Result<bool, String> {
        Ok(self
            .on_element(css, "GET", "selected", None)
            .await?
            .as_bool()
            .unwrap_or(false))
    }

    /// The `value` property of the input matching `css`.
    pub async fn value(&self, css: &str) -> Result<String, String> {
        let value = self.on_element(css, "GET", "property/value", None).await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// Runs a script in the page (WebDriver scripts are not subject to the page's CSP).
    pub async fn execute(&self, script: &str, args: Value) -> Result<Value, String> {
        self.call(
            "POST",
            "/execute/async",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// The browser's cookies for the current page.
    pub async fn cookies(&self) -> Result<Vec<Value>, String> {
        Ok(self
            .call("GET", "/cookie", None)
            .await?
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// Resizes the window.
    pub async fn resize(&self, width: u32, height: u32) -> Result<(), String> {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await
        .map(drop)
    }

    /// Saves a PNG of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) -> Result<PathBuf, String> {
        let data = self.call("GET", "/screenshot", None).await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .map_err(|e| e.to_string())?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::write(path, png).map_err(|e| e.to_string())?;
        Ok(path.to_owned())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session makes chromedriver close Chromium; this runs outside async code,
        // so it is one plain HTTP request.
        if !self.session.is_empty() {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let request = format!(
                    "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                    self.session, self.port
                );
                if stream.write_all(request.as_bytes()).is_ok() {
                    let mut sink = Vec::new();
                    let _ = stream.read_to_end(&mut sink);
                }
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
