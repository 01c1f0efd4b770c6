//! The pool cannot starve itself: no handler holds one pooled connection
//! while it (or a callee) waits for another, so bursts of several times
//! DATABASE_POOL_SIZE parallel requests against each endpoint leave
//! `/readyz` fast and get every request a 2xx or 4xx answer.

use crate::passkeys::{add_passkey, post_json};
use crate::support::authenticator::Tamper;
use crate::support::factors::password_step;
use crate::support::*;
use awc::http::StatusCode;
use serde_json::json;
use std::time::{Duration as StdDuration, Instant};

const POOL: usize = 4;
const BURST: usize = POOL * 8;

/// Runs `burst` while `/readyz` is asked once in the middle of it: every
/// answer must be 2xx/4xx and `/readyz` must answer 200 within a second.
async fn under_burst<F>(app: &TestApp, what: &str, burst: Vec<F>)
where
    F: std::future::Future<Output = Response>,
{
    let probe = async {
        actix_web::rt::time::sleep(StdDuration::from_millis(30)).await;
        let start = Instant::now();
        let res = app.get("/readyz").await;
        (res.status, start.elapsed())
    };
    let (answers, (ready, took)) =
        futures_util::future::join(futures_util::future::join_all(burst), probe).await;
    for res in &answers {
        assert!(
            res.status.is_success() || res.status.is_client_error() || res.status.is_redirection(),
            "{what}: {} {}",
            res.status,
            res.body
        );
    }
    assert_eq!(ready, StatusCode::OK, "{what}: /readyz");
    assert!(
        took < StdDuration::from_secs(1),
        "{what}: /readyz took {took:?}"
    );
}

#[actix_web::test]
async fn junk_passkey_second_steps_beyond_the_pool_leave_readyz_fast() {
    let app = spawn_app_with(|s| {
        s.database_pool_size = POOL;
        s.workers = 2;
    })
    .await;
    let email = app.signed_in_user().await;
    let (mut key, _) = add_passkey(&app, "mine").await;
    let attacker = app.another_browser();
    password_step(&attacker, &email).await;
    let options = post_json(&attacker, "/login/mfa/passkey/options", "/login", json!({}))
        .await
        .json();
    // One assertion, sent BURST times: it parses, and all but (at most) one
    // find no ceremony left to answer.
    let assertion = key.assert(&options, &Tamper::default());
    let csrf = attacker.csrf_for("/login").await;
    let body = json!({ "credential": assertion });
    let burst = (0..BURST)
        .map(|_| {
            attacker
                .post("/login/mfa/passkey")
                .header("X-CSRF-Token", &csrf)
                .json(&body)
                .send()
        })
        .collect();
    under_burst(&app, "POST /login/mfa/passkey", burst).await;
}

#[actix_web::test]
async fn bursts_beyond_the_pool_on_every_form_and_json_endpoint_leave_readyz_fast() {
    let app = spawn_app_with(|s| {
        s.database_pool_size = POOL;
        s.workers = 2;
    })
    .await;
    let email = app.signed_in_user().await;
    let browser_csrf = app.csrf_for("/account").await;
    let (access, refresh) = app.api_tokens_for(&email).await;
    let anon = app.another_browser();
    let anon_csrf = anon.csrf_for("/login").await;

    // Signed in: pages, the browser's token endpoint, the API.
    let burst = (0..BURST).map(|_| app.get("/account")).collect();
    under_burst(&app, "GET /account", burst).await;
    let burst = (0..BURST)
        .map(|_| {
            app.post("/auth/token")
                .header("X-CSRF-Token", &browser_csrf)
                .send()
        })
        .collect();
    under_burst(&app, "POST /auth/token", burst).await;
    let burst = (0..BURST)
        .map(|_| app.api_get("/api/v1/me", &access))
        .collect();
    under_burst(&app, "GET /api/v1/me", burst).await;
    let note = json!({"title": "t", "body": "b"});
    let burst = (0..BURST)
        .map(|_| {
            app.post("/api/v1/notes")
                .no_cookies()
                .bearer(&access)
                .json(&note)
                .send()
        })
        .collect();
    under_burst(&app, "POST /api/v1/notes", burst).await;

    // Anonymous forms and grants, with wrong or junk credentials.
    let burst = (0..BURST)
        .map(|_| {
            anon.post("/login")
                .form(&[
                    ("csrf_token", &anon_csrf),
                    ("email", &email),
                    ("password", "wrong"),
                ])
                .send()
        })
        .collect();
    under_burst(&app, "POST /login", burst).await;
    let burst = (0..BURST)
        .map(|_| {
            anon.post("/password/forgot")
                .form(&[("csrf_token", &anon_csrf), ("email", "nobody@example.com")])
                .send()
        })
        .collect();
    under_burst(&app, "POST /password/forgot", burst).await;
    let burst = (0..BURST)
        .map(|_| {
            anon.post("/api/v1/auth/token")
                .no_cookies()
                .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
                .send()
        })
        .collect();
    under_burst(&app, "POST /api/v1/auth/token (refresh)", burst).await;
    let burst = (0..BURST)
        .map(|_| {
            anon.post("/api/v1/auth/revoke")
                .no_cookies()
                .form(&[("token", "eyJhbGciOiJFZERTQSIsImtpZCI6Im5vcGUifQ.e30.c2ln")])
                .send()
        })
        .collect();
    under_burst(&app, "POST /api/v1/auth/revoke", burst).await;
    let burst = (0..BURST)
        .map(|_| {
            anon.post("/login/passkey")
                .header("X-CSRF-Token", &anon_csrf)
                .json(&json!({"credential": {"id": "AAAA", "rawId": "AAAA", "type": "public-key",
                    "response": {"clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA"}}}))
                .send()
        })
        .collect();
    under_burst(&app, "POST /login/passkey", burst).await;
    let burst = (0..BURST)
        .map(|_| {
            anon.post("/login/passkey/options")
                .header("X-CSRF-Token", &anon_csrf)
                .json(&json!({}))
                .send()
        })
        .collect();
    under_burst(&app, "POST /login/passkey/options", burst).await;
}

#[actix_web::test]
async fn bursts_beyond_the_pool_on_keys_and_client_grants_leave_readyz_fast() {
    let app = spawn_app_with(|s| {
        s.database_pool_size = POOL;
        s.workers = 2;
    })
    .await;
    let email = app.signed_in_user().await;
    app.prove_addresses().await;
    let (access, _) = app.api_tokens_for(&email).await;
    let body = json!({"name": "burst", "scope": "notes:read"});
    let burst = (0..BURST)
        .map(|_| {
            app.post("/api/v1/api-keys")
                .no_cookies()
                .bearer(&access)
                .json(&body)
                .send()
        })
        .collect();
    under_burst(&app, "POST /api/v1/api-keys", burst).await;
    let burst = (0..BURST)
        .map(|_| app.api_get("/api/v1/api-keys", &access))
        .collect();
    under_burst(&app, "GET /api/v1/api-keys", burst).await;
    // Unknown keys: each one a database read.
    let junk: Vec<String> = (0..BURST)
        .map(|i| format!("{}_{:0>43}", hybrid_auth::auth::keys::api_keys::prefix(), i))
        .collect();
    let burst = junk
        .iter()
        .map(|k| app.api_get("/api/v1/ping", k))
        .collect();
    under_burst(&app, "GET /api/v1/ping (unknown keys)", burst).await;
    let client = uuid::Uuid::new_v4().to_string();
    let burst = (0..BURST)
        .map(|_| {
            app.post("/api/v1/auth/token")
                .no_cookies()
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", &client),
                    ("client_secret", "wrong"),
                ])
                .send()
        })
        .collect();
    under_burst(&app, "POST /api/v1/auth/token (client_credentials)", burst).await;
    let csrf = app.csrf_for("/account").await;
    let burst = (0..BURST)
        .map(|_| {
            app.post("/account/api-keys")
                .form(&[
                    ("csrf_token", csrf.as_str()),
                    ("name", "from the page"),
                    ("scope", "notes:read"),
                    ("expires_days", "30"),
                ])
                .send()
        })
        .collect();
    under_burst(&app, "POST /account/api-keys", burst).await;
}
