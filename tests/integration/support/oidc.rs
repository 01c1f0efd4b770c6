//! A real OpenID Provider for the tests: panva's `oidc-provider` (npm) run by
//! `node tests/oidc-provider/server.mjs` on a free loopback port, killed on
//! drop; and `OpBrowser`, a cookie-keeping HTTP client that goes through its
//! development interactions (login form, consent) as a person would.

use super::app::{spawn_app_with, Response, TestApp};
use awc::http::{Method, StatusCode};
use hybrid_auth::config::{OidcProvider, Settings};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CLIENT_ID: &str = "hybrid-auth-test";
pub const CLIENT_SECRET: &str = "test-client-secret";
pub const NAME: &str = "test";
pub const LABEL: &str = "Test ID";

/// A free port on loopback (bound, then let go).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn provider_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider")
}

/// Installs the provider's npm packages (from its lock file, as `npm ci`)
/// the first time a test needs them, once per test process: a fresh clone
/// needs nothing but Node, as the README says.
fn install(dir: &std::path::Path) {
    static INSTALLED: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut done = INSTALLED.lock().unwrap_or_else(|p| p.into_inner());
    if *done || dir.join("node_modules/oidc-provider").is_dir() {
        *done = true;
        return;
    }
    eprintln!("installing the test OpenID provider: npm ci --prefix tests/oidc-provider");
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .expect("`npm` runs: the OpenID tests need Node 20 or later (see README)");
    assert!(
        status.success(),
        "`npm ci --prefix tests/oidc-provider` failed ({status})"
    );
    *done = true;
}

/// The running provider; killed when dropped.
pub struct Op {
    pub issuer: String,
    child: Child,
}

impl Drop for Op {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Op {
    /// Starts the provider on `port` with one client whose redirect URI is
    /// `redirect_uri`.
    pub async fn start(port: u16, redirect_uri: &str) -> Op {
        let dir = provider_dir();
        install(&dir);
        let clients = serde_json::json!([{
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        }]);
        let mut child = Command::new("node")
            .arg(dir.join("server.mjs"))
            .arg(port.to_string())
            .env("OIDC_TEST_CLIENTS", clients.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("`node` runs (Node 20 or later)");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if line.trim() == "ready" {
                    let _ = tx.send(());
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if rx.try_recv().is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the test OpenID provider exited: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "the test OpenID provider did not start"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        Op {
            issuer: format!("http://127.0.0.1:{port}"),
            child,
        }
    }

    /// Makes the provider's next ID tokens wrong: `aud` (another client),
    /// `azp` (for us too, but authorized for another party), `key` (signed
    /// by a key its JWKS lacks) or `none` (right again).
    pub async fn tamper(&self, what: &str) {
        let res = awc::Client::default()
            .post(format!("{}/test/tamper?what={what}", self.issuer))
            .send()
            .await
            .expect("tamper");
        assert_eq!(res.status(), StatusCode::OK);
    }

    /// What the provider says of `sub` from now on: its email, verified or not.
    pub async fn profile(&self, sub: &str, email: &str, verified: bool) {
        let res = awc::Client::default()
            .post(format!(
                "{}/test/profile?sub={sub}&email={email}&verified={verified}",
                self.issuer
            ))
            .send()
            .await
            .expect("profile");
        assert_eq!(res.status(), StatusCode::OK);
    }

    /// How many times the JWKS was fetched.
    pub async fn jwks_hits(&self) -> i64 {
        let mut res = awc::Client::default()
            .get(format!("{}/test/jwks-hits", self.issuer))
            .send()
            .await
            .expect("jwks hits");
        let v: serde_json::Value = res.json().await.expect("json");
        v["hits"].as_i64().expect("hits")
    }
}

/// The app's settings for the provider at `issuer`.
pub fn provider_settings(issuer: &str) -> OidcProvider {
    OidcProvider {
        name: NAME.into(),
        issuer: issuer.into(),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.to_owned().into(),
        label: LABEL.into(),
    }
}

/// The app on a port chosen first (its redirect URI must be registered at
/// the provider), with the provider running and configured as `test`.
pub async fn spawn_with_provider(configure: impl FnOnce(&mut Settings)) -> (TestApp, Op) {
    let app_port = free_port();
    let public_url = format!("http://127.0.0.1:{app_port}");
    let op = Op::start(
        free_port(),
        &format!("{public_url}/login/oidc/{NAME}/callback"),
    )
    .await;
    let issuer = op.issuer.clone();
    let app = spawn_app_with(|s| {
        s.bind_addr = format!("127.0.0.1:{app_port}");
        s.public_url = public_url;
        s.oidc_providers = vec![provider_settings(&issuer)];
        configure(s);
    })
    .await;
    // The app discovers the provider in the background at start.
    let provider = app.state.oidc.get(NAME).expect("provider");
    super::app::wait_until("the provider is discovered", || provider.jwks().is_some()).await;
    (app, op)
}

/// A browser at the provider: its own cookie jar, redirects by hand.
#[derive(Default)]
pub struct OpBrowser {
    jar: RefCell<BTreeMap<String, String>>,
}

impl OpBrowser {
    async fn send(&self, method: Method, url: &str, form: Option<&[(&str, &str)]>) -> Response {
        let client = awc::Client::builder()
            .disable_redirects()
            .timeout(Duration::from_secs(30))
            .finish();
        let mut req = client.request(method, url);
        let cookie = self
            .jar
            .borrow()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        if !cookie.is_empty() {
            req = req.insert_header(("cookie", cookie));
        }
        let mut res = match form {
            Some(fields) => req.send_form(&fields).await,
            None => req.send().await,
        }
        .expect("request to the provider");
        let body = res.body().limit(1 << 20).await.expect("body");
        let response = Response {
            status: res.status(),
            headers: res.headers().clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        let mut jar = self.jar.borrow_mut();
        for sc in response.set_cookies() {
            let first = sc.split(';').next().unwrap_or_default();
            if let Some((name, value)) = first.split_once('=') {
                let gone = value.is_empty() || sc.contains("expires=Thu, 01 Jan 1970");
                if gone {
                    jar.remove(name.trim());
                } else {
                    jar.insert(name.trim().to_owned(), value.trim().to_owned());
                }
            }
        }
        response
    }

    /// Follows `url` (the app's redirect to the provider) through login as
    /// `login` and consent, up to the redirect back to `back_to`; returns
    /// that URL. With `deny`, the person cancels at the login form instead.
    pub async fn authorize(&self, url: &str, login: &str, back_to: &str, deny: bool) -> String {
        let origin = url.split("/auth").next().unwrap_or_default().to_owned();
        let absolute = |l: &str| {
            if l.starts_with('/') {
                format!("{origin}{l}")
            } else {
                l.to_owned()
            }
        };
        let mut res = self.send(Method::GET, url, None).await;
        for _ in 0..12 {
            assert!(res.status.is_redirection(), "{}: {}", res.status, res.body);
            let next = absolute(&res.location());
            if next.starts_with(back_to) {
                return next;
            }
            if next.contains("/interaction/") {
                let page = self.send(Method::GET, &next, None).await;
                assert_eq!(page.status, StatusCode::OK, "{}", page.body);
                res = if page.body.contains("value=\"login\"") {
                    if deny {
                        self.send(Method::GET, &format!("{next}/abort"), None).await
                    } else {
                        let fields = [("prompt", "login"), ("login", login), ("password", "x")];
                        self.send(Method::POST, &next, Some(&fields)).await
                    }
                } else {
                    let fields = [("prompt", "consent")];
                    self.send(Method::POST, &next, Some(&fields)).await
                };
            } else {
                res = self.send(Method::GET, &next, None).await;
            }
        }
        panic!("no way back from the provider");
    }
}

/// `app` starts a sign-in at `start` (a path); the person signs in at the
/// provider as `login`. Returns the callback path (with its query) the
/// provider sent the browser back to, not yet followed.
pub async fn through_provider(app: &TestApp, op: &OpBrowser, start: &str, login: &str) -> String {
    let res = app.get(start).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let back = op
        .authorize(&res.location(), login, &app.address, false)
        .await;
    back[app.address.len()..].to_owned()
}

/// A whole sign-in as `login` from `/login/oidc/test`: the callback's answer.
pub async fn sign_in(app: &TestApp, login: &str) -> Response {
    let op = OpBrowser::default();
    let callback = through_provider(app, &op, &format!("/login/oidc/{NAME}"), login).await;
    app.get(&callback).await
}
