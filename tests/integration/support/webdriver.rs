//! A minimal W3C WebDriver client (the few commands the browser tests use),
//! driving Debian's chromium through chromedriver over plain HTTP + JSON.

use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    client: awc::Client,
    _profile: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn find(binary: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| std::path::Path::new(dir).join(binary))
        .find(|p| p.is_file())
}

/// Chromium and chromedriver, or why not. In CI (CI set) their absence is a
/// test failure; elsewhere the browser tests say loudly that they did not run.
pub fn browser_binaries() -> Result<(std::path::PathBuf, std::path::PathBuf), String> {
    let chromium = find("chromium")
        .or_else(|| find("chromium-browser"))
        .or_else(|| find("google-chrome"));
    let driver = find("chromedriver");
    match (chromium, driver) {
        (Some(c), Some(d)) => Ok((c, d)),
        _ => Err("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)".into()),
    }
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless session.
    pub async fn start() -> Option<Browser> {
        let (chromium, chromedriver) = match browser_binaries() {
            Ok(b) => b,
            Err(why) => {
                if std::env::var_os("CI").is_some() {
                    panic!("browser tests need a browser in CI: {why}");
                }
                eprintln!("\n*** SKIPPING browser test: {why} ***\n");
                return None;
            }
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Its own process group, so that dropping the Browser (even when a test
        // panics) takes chromium down with chromedriver.
        let driver = Command::new(chromedriver)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        let start = Instant::now();
        loop {
            if let Ok(mut res) = client.get(format!("{base}/status")).send().await {
                if let Ok(v) = res.json::<Value>().await {
                    if v["value"]["ready"] == json!(true) {
                        break;
                    }
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        let profile =
            std::env::temp_dir().join(format!("ha-chromium-{}", uuid::Uuid::new_v4().simple()));
        // `implicit`: finding an element waits up to 10 s for it to appear,
        // so a step right after a navigation does not race the new page's
        // parsing (every `find` here expects its element to exist).
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "timeouts": {"implicit": 10_000},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1200,900",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        }}});
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
            client,
            _profile: TempDir(profile),
        };
        let v = browser.raw("POST", "/session", Some(caps)).await;
        browser.session = v["sessionId"].as_str().expect("session id").to_owned();
        Some(browser)
    }

    async fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{}", self.base, path);
        let req = match method {
            "GET" => self.client.get(url),
            "DELETE" => self.client.delete(url),
            _ => self.client.post(url),
        };
        let mut res = match body {
            Some(b) => req.send_json(&b).await,
            None if method == "POST" => req.send_json(&json!({})).await,
            None => req.send().await,
        }
        .expect("webdriver request");
        let v: Value = res
            .json()
            .limit(16 * 1024 * 1024)
            .await
            .expect("webdriver json");
        if !res.status().is_success() {
            panic!("webdriver {method} {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.raw(method, &format!("/session/{}{}", self.session, path), body)
            .await
    }

    pub async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).await;
    }

    pub async fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT_KEY].as_str().expect("element").to_owned()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.cmd(
            "POST",
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.cmd("POST", &format!("/element/{el}/click"), None)
            .await;
    }

    /// Deletes the cookies of the current page's site.
    pub async fn delete_cookies(&self) {
        self.cmd("DELETE", "/cookie", None).await;
    }

    /// Saves a PNG of the page to `$SCREENSHOT_DIR/{name}.png` when that
    /// variable is set (to look at pages by eye); otherwise does nothing.
    pub async fn screenshot(&self, name: &str) {
        let Ok(dir) = std::env::var("SCREENSHOT_DIR") else {
            return;
        };
        let v = self.cmd("GET", "/screenshot", None).await;
        let png = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            v.as_str().unwrap_or_default(),
        )
        .expect("a base64 PNG");
        std::fs::write(std::path::Path::new(&dir).join(format!("{name}.png")), png)
            .expect("screenshot written");
    }

    pub async fn eval(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    pub async fn new_window(&self) -> String {
        let v = self
            .cmd("POST", "/window/new", Some(json!({"type": "window"})))
            .await;
        v["handle"].as_str().expect("handle").to_owned()
    }

    pub async fn window(&self) -> String {
        self.cmd("GET", "/window", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn switch_to(&self, handle: &str) {
        self.cmd("POST", "/window", Some(json!({ "handle": handle })))
            .await;
    }

    /// Adds a WebDriver virtual authenticator (W3C WebAuthn "Automation"):
    /// CTAP2, internal, resident keys, user verification that succeeds.
    /// Returns its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let v = self
            .cmd(
                "POST",
                "/webauthn/authenticator",
                Some(json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                    "isUserConsenting": true,
                })),
            )
            .await;
        v.as_str().expect("authenticator id").to_owned()
    }

    /// The credentials the virtual authenticator holds.
    pub async fn authenticator_credentials(&self, authenticator: &str) -> Vec<Value> {
        self.cmd(
            "GET",
            &format!("/webauthn/authenticator/{authenticator}/credentials"),
            None,
        )
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
    }

    /// Polls `check` until it returns true (browser-side conditions).
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        check: impl AsyncFn(&Browser) -> bool,
    ) {
        let start = Instant::now();
        while !check(self).await {
            assert!(start.elapsed() < timeout, "timed out waiting for {what}");
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        self.eval("return document.body.innerText;")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> i64 {
        let css = serde_json::to_string(css).unwrap();
        self.eval(&format!("return document.querySelectorAll({css}).length;"))
            .await
            .as_i64()
            .unwrap_or(-1)
    }

    /// Waits until the browser's path and query are exactly `path` (not
    /// merely end with it: `/account/reauth?next=/account` is not
    /// `/account`) and that page has finished loading.
    pub async fn wait_for_url(&self, path: &str) {
        let start = Instant::now();
        loop {
            let url = self.url().await;
            let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
            let here = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
            if here == path && self.eval("return document.readyState;").await == "complete" {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "timed out waiting for {path}; the browser is at {url}: {}",
                self.text().await
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn counter(&self, name: &str) -> i64 {
        let v = self
            .eval(&format!("return document.body.dataset.{name} || '0';"))
            .await;
        v.as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    pub async fn quit(mut self) {
        let _ = self
            .raw("DELETE", &format!("/session/{}", self.session), None)
            .await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
