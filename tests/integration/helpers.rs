//! `spawn_app()` and `TestApp`: the app on a random port against its own fresh
//! database (cloned from a migrated template), a clock the test can move, and
//! an HTTP client with a cookie jar.

use awc::http::header::HeaderMap;
use awc::http::{Method, StatusCode};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use hybrid_auth::clock::Clock;
use hybrid_auth::config::Settings;
use hybrid_auth::db::PgPool;
use hybrid_auth::startup::Application;
use hybrid_auth::state::AppState;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

pub const SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432";
pub const PASSWORD: &str = "correct horse battery staple";

fn server_url() -> String {
    std::env::var("TEST_DATABASE_SERVER").unwrap_or_else(|_| SERVER_URL.to_owned())
}

fn admin_url() -> String {
    format!("{}/postgres", server_url())
}

/// Name of the migrated template database, keyed by the migrations' content so
/// a changed schema gets a new template.
fn template_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let mut files: Vec<_> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
                .expect("migrations dir")
                .flatten()
                .map(|e| e.path())
                .collect();
        files.sort();
        let mut text = String::new();
        for dir in files {
            text.push_str(&dir.display().to_string());
            text.push_str(&std::fs::read_to_string(dir.join("up.sql")).unwrap_or_default());
        }
        let digest = hybrid_auth::auth::crypto::sha256(text.as_bytes());
        let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        format!("ha_tpl_{hex}")
    })
}

/// Runs `f` on a fresh thread with its own runtime (test set-up that must not
/// block or re-enter the actix runtime).
fn on_thread<T: Send + 'static>(f: impl std::future::Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f)
    })
    .join()
    .expect("set-up thread")
}

async fn admin() -> AsyncPgConnection {
    AsyncPgConnection::establish(&admin_url())
        .await
        .expect("Postgres must be running on 127.0.0.1:5432 (see README)")
}

fn ensure_template() -> &'static str {
    static READY: OnceLock<()> = OnceLock::new();
    let name = template_name();
    READY.get_or_init(|| {
        let name = name.to_owned();
        on_thread(async move {
            let mut conn = admin().await;
            // Drop databases left behind by earlier runs whose process is gone.
            #[derive(diesel::QueryableByName)]
            struct Db {
                #[diesel(sql_type = diesel::sql_types::Text)]
                datname: String,
            }
            let dbs: Vec<Db> = diesel::sql_query(
                "SELECT datname FROM pg_database WHERE datname LIKE 'ha\\_t\\_%'",
            )
            .load(&mut conn)
            .await
            .expect("list databases");
            for db in dbs {
                let pid = db
                    .datname
                    .split('_')
                    .nth(2)
                    .and_then(|p| p.parse::<u32>().ok());
                let alive =
                    pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
                if !alive {
                    let _ = diesel::sql_query(format!(
                        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                        db.datname
                    ))
                    .execute(&mut conn)
                    .await;
                }
            }
            let exists: Vec<Db> = diesel::sql_query(format!(
                "SELECT datname FROM pg_database WHERE datname = '{name}'"
            ))
            .load(&mut conn)
            .await
            .expect("query template");
            if exists.is_empty() {
                let building = format!("{name}_b{}", std::process::id());
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{building}\""))
                    .execute(&mut conn)
                    .await;
                diesel::sql_query(format!("CREATE DATABASE \"{building}\""))
                    .execute(&mut conn)
                    .await
                    .expect("create template");
                hybrid_auth::db::run_migrations(&format!("{}/{building}", server_url()))
                    .await
                    .expect("migrate template");
                let renamed = diesel::sql_query(format!(
                    "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
                ))
                .execute(&mut conn)
                .await;
                if renamed.is_err() {
                    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{building}\""))
                        .execute(&mut conn)
                        .await;
                }
            }
        })
    });
    name
}

/// Creates a fresh database for one test, cloned from the template.
pub fn fresh_database() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let template = ensure_template().to_owned();
    let name = format!(
        "ha_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .get(..8)
            .unwrap_or("x")
    );
    let db = name.clone();
    on_thread(async move {
        let mut conn = admin().await;
        let mut tries = 0;
        loop {
            let r = diesel::sql_query(format!("CREATE DATABASE \"{db}\" TEMPLATE \"{template}\""))
                .execute(&mut conn)
                .await;
            match r {
                Ok(_) => break,
                // Concurrent clones of one template can collide briefly.
                Err(e) if tries < 20 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("create test database: {e}"),
            }
        }
    });
    name
}

pub fn test_settings(database: &str) -> Settings {
    let mut vars: HashMap<&str, String> = HashMap::new();
    vars.insert("DATABASE_URL", format!("{}/{database}", server_url()));
    vars.insert("BIND_ADDR", "127.0.0.1:0".into());
    vars.insert("WORKERS", "1".into());
    Settings::from_lookup(|k| vars.get(k).cloned()).expect("test settings")
}

pub struct TestApp {
    pub address: String,
    pub clock: Clock,
    pub state: actix_web::web::Data<AppState>,
    pub client: awc::Client,
    pub jar: RefCell<BTreeMap<String, String>>,
}

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap_or_default().to_owned())
    }
    pub fn location(&self) -> String {
        self.header("location").unwrap_or_default()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .map(|v| v.to_str().unwrap_or_default().to_owned())
            .collect()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let database = fresh_database();
    let mut settings = test_settings(&database);
    configure(&mut settings);
    spawn_app_on(settings).await
}

pub async fn spawn_app_on(settings: Settings) -> TestApp {
    let clock = Clock::system();
    let app = Application::build(settings, clock.clone())
        .await
        .expect("build app");
    let port = app.port();
    let state = app.state();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        clock,
        state,
        client: awc::Client::builder()
            .disable_redirects()
            .timeout(std::time::Duration::from_secs(30))
            .finish(),
        jar: RefCell::new(BTreeMap::new()),
    }
}

/// An app whose database connections go through a `DbProxy` the test can cut.
pub async fn spawn_app_behind_proxy() -> (TestApp, DbProxy) {
    let proxy = DbProxy::start().await;
    let db = fresh_database();
    let mut settings = test_settings(&db);
    settings.database_url = format!("postgres://postgres@127.0.0.1:{}/{db}", proxy.port);
    (spawn_app_on(settings).await, proxy)
}

pub struct Req<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
    cookies: bool,
}

impl<'a> Req<'a> {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }
    pub fn form(mut self, fields: &[(&str, &str)]) -> Self {
        let body = serde_urlencoded::to_string(fields).expect("form");
        self.body = Some((
            "application/x-www-form-urlencoded".into(),
            body.into_bytes(),
        ));
        self
    }
    pub fn json(mut self, value: &serde_json::Value) -> Self {
        self.body = Some(("application/json".into(), value.to_string().into_bytes()));
        self
    }
    pub fn raw(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some((content_type.into(), body.into()));
        self
    }
    /// Sends without the cookie jar (and does not update it).
    pub fn no_cookies(mut self) -> Self {
        self.cookies = false;
        self
    }
    pub async fn send(self) -> Response {
        let url = format!("{}{}", self.app.address, self.path);
        let mut req = self.app.client.request(self.method.clone(), url);
        if self.cookies {
            let jar = self.app.jar.borrow();
            if !jar.is_empty() {
                let cookie = jar
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                req = req.insert_header(("cookie", cookie));
            }
        }
        for (k, v) in &self.headers {
            req = req.append_header((k.as_str(), v.as_str()));
        }
        let result = match self.body {
            Some((ct, body)) => {
                req.insert_header(("content-type", ct))
                    .send_body(body)
                    .await
            }
            None => req.send().await,
        };
        let mut res = result.expect("request failed");
        let body = res.body().limit(10 * 1024 * 1024).await.expect("body");
        let response = Response {
            status: res.status(),
            headers: res.headers().clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        if self.cookies {
            self.app.store_cookies(&response);
        }
        response
    }
}

impl TestApp {
    pub fn req(&self, method: Method, path: &str) -> Req<'_> {
        Req {
            app: self,
            method,
            path: path.to_owned(),
            headers: vec![],
            body: None,
            cookies: true,
        }
    }
    pub async fn get(&self, path: &str) -> Response {
        self.req(Method::GET, path).send().await
    }
    pub fn post(&self, path: &str) -> Req<'_> {
        self.req(Method::POST, path)
    }

    fn store_cookies(&self, res: &Response) {
        let mut jar = self.jar.borrow_mut();
        for sc in res.set_cookies() {
            let first = sc.split(';').next().unwrap_or_default();
            let Some((name, value)) = first.split_once('=') else {
                continue;
            };
            let expired = sc.to_ascii_lowercase().contains("max-age=0") || value.is_empty();
            if expired {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.borrow().get(name).cloned()
    }
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar
            .borrow_mut()
            .insert(name.to_owned(), value.to_owned());
    }
    pub fn clear_cookies(&self) {
        self.jar.borrow_mut().clear();
    }
    /// Saves the jar (to act as another browser and come back).
    pub fn cookies(&self) -> BTreeMap<String, String> {
        self.jar.borrow().clone()
    }
    pub fn restore_cookies(&self, jar: BTreeMap<String, String>) {
        *self.jar.borrow_mut() = jar;
    }

    /// The CSRF token of the page at `path` (from its meta tag).
    pub async fn csrf_for(&self, path: &str) -> String {
        let page = self.get(path).await;
        meta_csrf(&page.body)
    }

    pub async fn register(&self, email: &str, password: &str) -> Response {
        let token = self.csrf_for("/register").await;
        self.post("/register")
            .form(&[
                ("csrf_token", &token),
                ("email", email),
                ("password", password),
                ("password_confirm", password),
            ])
            .send()
            .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        let token = self.csrf_for("/login").await;
        self.login_with_token(&token, email, password).await
    }

    /// Posts the login form with a given CSRF token.
    pub async fn login_with_token(&self, token: &str, email: &str, password: &str) -> Response {
        self.post("/login")
            .form(&[
                ("csrf_token", token),
                ("email", email),
                ("password", password),
            ])
            .send()
            .await
    }

    /// Registers a fresh user and leaves this client signed in. Returns the email.
    pub async fn signed_in_user(&self) -> String {
        let email = format!("user-{}@example.com", uuid::Uuid::new_v4().simple());
        let res = self.register(&email, PASSWORD).await;
        assert_eq!(
            res.status,
            StatusCode::SEE_OTHER,
            "register failed: {}",
            res.body
        );
        email
    }

    pub fn pool(&self) -> &PgPool {
        &self.state.pool
    }

    pub async fn conn(&self) -> hybrid_auth::db::PgConn {
        hybrid_auth::db::conn(self.pool()).await.expect("db conn")
    }

    /// The uuid in the first row of a query selecting `id`.
    pub async fn uuid(&self, sql: &str) -> uuid::Uuid {
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            id: uuid::Uuid,
        }
        let mut conn = self.conn().await;
        let row: Id = diesel::sql_query(sql)
            .get_result(&mut conn)
            .await
            .expect(sql);
        row.id
    }

    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.conn().await;
        let row: N = diesel::sql_query(sql)
            .get_result(&mut conn)
            .await
            .expect(sql);
        row.n
    }
}

pub fn meta_csrf(html: &str) -> String {
    let marker = "<meta name=\"csrf-token\" content=\"";
    let start = html
        .find(marker)
        .map(|i| i + marker.len())
        .expect("page has a csrf meta tag");
    let end = html[start..].find('"').expect("meta end") + start;
    html[start..end].to_owned()
}

/// A TCP proxy in front of Postgres that a test can cut, to simulate the
/// database going away mid-flight.
pub struct DbProxy {
    pub port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl DbProxy {
    pub async fn start() -> DbProxy {
        use std::sync::atomic::AtomicBool;
        use std::sync::{Arc, Mutex};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let cut = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::new(Mutex::new(vec![]));
        let (c2, conns2) = (cut.clone(), conns.clone());
        actix_web::rt::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if AtomicBool::load(&c2, Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let task = actix_web::rt::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect("127.0.0.1:5432").await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns2.lock().expect("lock").push(task.abort_handle());
            }
        });
        DbProxy { port, cut, conns }
    }

    /// Drops every proxied connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for c in self.conns.lock().expect("lock").drain(..) {
            c.abort();
        }
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl TestApp {
    /// Registers a user through the web form, then forgets the browser.
    pub async fn api_user(&self) -> String {
        let email = self.signed_in_user().await;
        self.clear_cookies();
        email
    }

    /// The password grant.
    pub async fn password_grant(
        &self,
        email: &str,
        password: &str,
        scope: Option<&str>,
    ) -> Response {
        let mut fields = vec![
            ("grant_type", "password"),
            ("username", email),
            ("password", password),
        ];
        if let Some(s) = scope {
            fields.push(("scope", s));
        }
        self.post("/api/v1/auth/token")
            .no_cookies()
            .form(&fields)
            .send()
            .await
    }

    /// A fresh API session: (access token, refresh token).
    pub async fn api_tokens(&self) -> (String, String) {
        let email = self.api_user().await;
        let res = self.password_grant(&email, PASSWORD, None).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let json = res.json();
        (
            json["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            json["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
        )
    }

    /// The refresh grant.
    pub async fn refresh_grant(&self, refresh_token: &str, scope: Option<&str>) -> Response {
        let mut fields = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        if let Some(s) = scope {
            fields.push(("scope", s));
        }
        self.post("/api/v1/auth/token")
            .no_cookies()
            .form(&fields)
            .send()
            .await
    }

    /// `POST /api/v1/auth/logout` with a bearer token.
    pub async fn api_logout(&self, token: &str) -> Response {
        self.post("/api/v1/auth/logout")
            .no_cookies()
            .bearer(token)
            .send()
            .await
    }

    /// `GET path` with a bearer token and no cookies.
    pub async fn api_get(&self, path: &str, token: &str) -> Response {
        self.req(Method::GET, path)
            .no_cookies()
            .bearer(token)
            .send()
            .await
    }
}

/// Decodes a JWT part without verifying anything (to inspect what we minted).
pub fn jwt_part(token: &str, index: usize) -> serde_json::Value {
    let part = token.split('.').nth(index).expect("jwt part");
    let bytes = hybrid_auth::auth::crypto::b64_decode(part).expect("base64url");
    serde_json::from_slice(&bytes).expect("json")
}

/// Polls `check` (every 10 ms, for at most 10 s) until it holds.
pub async fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !check() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
