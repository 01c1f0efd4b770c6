//! `spawn_app()` and `TestApp`: the app on a random port against its own fresh
//! database (cloned from a migrated template, see `database.rs`), a clock the
//! test can move, and an HTTP client with a cookie jar.

use crate::support::database::{fresh_database, server_url, DbProxy};
use awc::http::header::HeaderMap;
use awc::http::{Method, StatusCode};
use diesel_async::RunQueryDsl;
use hybrid_auth::auth::AppState;
use hybrid_auth::clock::Clock;
use hybrid_auth::config::Settings;
use hybrid_auth::db::PgPool;
use hybrid_auth::startup::Application;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

pub const PASSWORD: &str = "correct horse battery staple";

pub fn test_settings(database: &str) -> Settings {
    let mut vars: HashMap<&str, String> = HashMap::new();
    vars.insert("DATABASE_URL", format!("{}/{database}", server_url()));
    vars.insert("BIND_ADDR", "127.0.0.1:0".into());
    vars.insert("WORKERS", "1".into());
    // Mails of tests that set no MAIL_URL go to a scratch directory.
    let outbox = std::env::temp_dir().join("hybrid-auth-test-mail");
    vars.insert("MAIL_OUTBOX_DIR", outbox.to_string_lossy().into_owned());
    Settings::from_lookup(|k| vars.get(k).cloned()).expect("test settings")
}

pub struct TestApp {
    /// The metrics listener's port, when METRICS_BIND_ADDR was set.
    pub metrics_port: Option<u16>,
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
    // TEST_THROUGH_PGBOUNCER=1 runs the suite's apps through the pooler
    // tests' PgBouncer (transaction mode), listener and migrations direct.
    if std::env::var_os("TEST_THROUGH_PGBOUNCER").is_some() {
        if let Some(port) = super::pgbouncer::port() {
            return super::pgbouncer::spawn_instance_with(&database, port, configure).await;
        }
    }
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
    let metrics_port = app.metrics_port();
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
        metrics_port,
    }
}

/// An app whose database connections go through a `DbProxy` the test can cut.
pub async fn spawn_app_behind_proxy() -> (TestApp, DbProxy) {
    let proxy = DbProxy::start().await;
    let db = fresh_database();
    let mut settings = test_settings(&db);
    settings.database_url = format!("postgres://postgres@127.0.0.1:{}/{db}", proxy.port).into();
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

    /// Marks every address in this test's database proven (as the
    /// confirmation link would), and drops the cached sessions that still
    /// say otherwise: factors and passkeys can only be added after that.
    pub async fn prove_addresses(&self) {
        let mut conn = self.conn().await;
        diesel::sql_query(
            "UPDATE users SET email_verified_at = now() WHERE email_verified_at IS NULL",
        )
        .execute(&mut conn)
        .await
        .expect("prove addresses");
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            id: uuid::Uuid,
        }
        let ids: Vec<Id> = diesel::sql_query("SELECT id FROM sessions")
            .load(&mut conn)
            .await
            .expect("sessions");
        for id in ids {
            self.state.session_cache.forget_session(id.id);
        }
    }

    /// A query answering one text column `t`.
    pub async fn scalar_text(&self, sql: &str) -> String {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            t: String,
        }
        let mut conn = self.conn().await;
        let row: Row = diesel::sql_query(sql)
            .get_result(&mut conn)
            .await
            .expect("one text");
        row.t
    }

    /// A query answering one uuid column `id`.
    pub async fn scalar_uuid(&self, sql: &str) -> uuid::Uuid {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            id: uuid::Uuid,
        }
        let mut conn = self.conn().await;
        let row: Row = diesel::sql_query(sql)
            .get_result(&mut conn)
            .await
            .expect("one uuid");
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

impl TestApp {
    /// Registers a user through the web form, then forgets the browser.
    pub async fn api_user(&self) -> String {
        let email = self.signed_in_user().await;
        self.clear_cookies();
        email
    }

    /// A user (no cookies kept, password `PASSWORD`) granted `scopes` on top
    /// of the default grant, as `user grant-scope` would: for a scope that
    /// only some users get. Returns the address.
    pub async fn user_with_scopes(&self, scopes: &[hybrid_auth::auth::Scope]) -> String {
        use hybrid_auth::{auth::tokens::scopes as grants, db::users};
        let email = self.api_user().await;
        let mut conn = self.conn().await;
        let user = users::find_by_email(&mut conn, &email)
            .await
            .expect("db")
            .expect("the user");
        let grant = grants::with(&user.scopes, scopes);
        users::set_scopes(&mut conn, user.id, &grant, self.clock.now())
            .await
            .expect("grant");
        email
    }

    /// The password grant.
    pub async fn password_grant(
        &self,
        email: &str,
        password: &str,
        scope: Option<&str>,
    ) -> Response {
        self.token_grant(
            vec![
                ("grant_type", "password"),
                ("username", email),
                ("password", password),
            ],
            scope,
        )
        .await
    }

    /// `POST /api/v1/auth/token` with `fields` (and `scope`, if given).
    async fn token_grant(&self, mut fields: Vec<(&str, &str)>, scope: Option<&str>) -> Response {
        if let Some(s) = scope {
            fields.push(("scope", s));
        }
        self.post("/api/v1/auth/token")
            .no_cookies()
            .form(&fields)
            .send()
            .await
    }

    /// A new user's access token carrying exactly `scopes` (the grant may be
    /// wider; the token is narrowed to these).
    pub async fn bearer_with(&self, scopes: &[hybrid_auth::auth::Scope]) -> String {
        let email = self.user_with_scopes(scopes).await;
        let wanted: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        let res = self
            .password_grant(&email, PASSWORD, Some(&wanted.join(" ")))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        res.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// A second browser on the same server: its own empty cookie jar, the
    /// same database, state and clock.
    pub fn another_browser(&self) -> TestApp {
        TestApp {
            metrics_port: self.metrics_port,
            address: self.address.clone(),
            clock: self.clock.clone(),
            state: self.state.clone(),
            client: self.client.clone(),
            jar: RefCell::new(BTreeMap::new()),
        }
    }

    /// A new browser, signed in as a new user: (the browser, its email).
    pub async fn signed_in_browser(&self) -> (TestApp, String) {
        let browser = self.another_browser();
        let email = browser.signed_in_user().await;
        (browser, email)
    }

    /// A fresh API session: (access token, refresh token).
    pub async fn api_tokens(&self) -> (String, String) {
        let email = self.api_user().await;
        self.api_tokens_for(&email).await
    }

    /// A fresh API session of an existing user (password `PASSWORD`).
    pub async fn api_tokens_for(&self, email: &str) -> (String, String) {
        let res = self.password_grant(email, PASSWORD, None).await;
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
        self.token_grant(
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
            scope,
        )
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

    /// `DELETE path` with a bearer token and no cookies.
    pub async fn api_delete(&self, path: &str, token: &str) -> Response {
        self.req(Method::DELETE, path)
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
