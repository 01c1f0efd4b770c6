//! Service accounts and suspended users from outside: the CLI makes a
//! client and prints its secret once; `client_credentials` with Basic or
//! form authentication gives an access token only, `sub` = the client id;
//! a wrong secret is 401 `invalid_client` with a Basic challenge, throttled
//! like sign-ins; routes for people refuse a client's token; disabling a
//! client, or suspending a user, stops their tokens and keys on every
//! instance within a second, and a suspended user's sign-in answers exactly
//! like a wrong password.

use crate::api_keys::key_with;
use crate::operations::app_cli;
use crate::support::*;
use awc::http::StatusCode;
use base64::Engine;
use std::time::{Duration, Instant};

/// A client made with the CLI: (client_id, client_secret).
async fn client(app: &TestApp, scopes: &[&str]) -> (String, String) {
    let mut args = vec!["client", "create", "--name", "billing job", "--scopes"];
    args.extend_from_slice(scopes);
    let run = app_cli(app, &args, "").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let line = |name: &str| {
        run.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {}", run.stdout))
            .to_owned()
    };
    (line("client_id"), line("client_secret"))
}

fn basic(id: &str, secret: &str) -> String {
    let raw = format!("{id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

async fn grant_basic(app: &TestApp, id: &str, secret: &str, scope: Option<&str>) -> Response {
    let mut fields = vec![("grant_type", "client_credentials")];
    if let Some(s) = scope {
        fields.push(("scope", s));
    }
    app.post("/api/v1/auth/token")
        .no_cookies()
        .header("Authorization", &basic(id, secret))
        .form(&fields)
        .send()
        .await
}

async fn grant_post(app: &TestApp, id: &str, secret: &str) -> Response {
    app.post("/api/v1/auth/token")
        .no_cookies()
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ])
        .send()
        .await
}

fn access_token(res: &Response) -> String {
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.json()["access_token"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn a_client_gets_an_access_token_only_and_reaches_only_the_routes_for_clients() {
    let app = spawn_app().await;
    let (id, secret) = client(&app, &["stats:read", "notes:read"]).await;
    let res = grant_basic(&app, &id, &secret, Some("stats:read")).await;
    let token = access_token(&res);
    let body = res.json();
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(body["scope"], "stats:read");
    let claims = jwt_part(&token, 1);
    assert_eq!(claims["sub"], id.as_str());
    assert_eq!(claims["client_id"], id.as_str());
    assert!(
        claims.get("amr").is_none() && claims.get("acr").is_none(),
        "{claims}"
    );

    let stats = app.api_get("/api/v1/stats", &token).await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.body);
    let ping = app.api_get("/api/v1/ping", &token).await.json();
    assert_eq!(ping["auth"], "client");
    assert_eq!(ping["client_id"], id.as_str());
    // Routes for people: 403 forbidden, whatever the scope.
    let posted = access_token(&grant_post(&app, &id, &secret).await);
    for path in ["/api/v1/me", "/api/v1/notes", "/api/v1/api-keys"] {
        let res = app.api_get(path, &posted).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{path}: {}", res.body);
        assert_eq!(res.json()["error"], "forbidden", "{path}");
    }
    let logout = app
        .post("/api/v1/auth/logout")
        .no_cookies()
        .bearer(&posted)
        .send()
        .await;
    assert_eq!(logout.status, StatusCode::FORBIDDEN);
    // A scope beyond the client's grant is refused.
    let wide = grant_basic(&app, &id, &secret, Some("profile:read")).await;
    assert_eq!(wide.status, StatusCode::BAD_REQUEST);
    assert_eq!(wide.json()["error"], "invalid_scope");
}

#[actix_web::test]
async fn a_wrong_secret_is_invalid_client_with_a_basic_challenge_and_is_throttled() {
    let app = spawn_app().await;
    let (id, secret) = client(&app, &["stats:read"]).await;
    for res in [
        grant_basic(&app, &id, "wrong", None).await,
        grant_post(&app, &id, "wrong").await,
        grant_post(&app, "not-a-client", &secret).await,
    ] {
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
        assert_eq!(res.json()["error"], "invalid_client");
        let challenge = res.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Basic realm="), "{challenge}");
    }
    let both = app
        .post("/api/v1/auth/token")
        .no_cookies()
        .header("Authorization", &basic(&id, &secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .send()
        .await;
    assert_eq!(both.status, StatusCode::BAD_REQUEST);
    // Two wrong secrets above; LOGIN_MAX_FAILURES (5) in all, then 429, even
    // for the right secret.
    for _ in 0..3 {
        assert_eq!(
            grant_post(&app, &id, "wrong").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let throttled = grant_post(&app, &id, &secret).await;
    assert_eq!(
        throttled.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        throttled.body
    );
    assert!(throttled.header("retry-after").is_some());
}

/// Polls `path` with `token` on `app` until it is refused with 401.
async fn refused_within(app: &TestApp, path: &str, token: &str, limit: Duration) {
    let start = Instant::now();
    loop {
        let res = app.api_get(path, token).await;
        if res.status == StatusCode::UNAUTHORIZED {
            return;
        }
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert!(start.elapsed() < limit, "still accepted after {limit:?}");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn a_disabled_clients_tokens_stop_on_every_instance_within_a_second() {
    let a = spawn_app().await;
    let mut settings = a.state.settings.clone();
    settings.bind_addr = "127.0.0.1:0".into();
    let b = spawn_app_on(settings).await;
    let (id, secret) = client(&a, &["stats:read"]).await;
    let token = access_token(&grant_basic(&a, &id, &secret, None).await);
    assert_eq!(
        b.api_get("/api/v1/stats", &token).await.status,
        StatusCode::OK
    );

    let run = app_cli(&a, &["client", "disable", "--client-id", &id], "").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    refused_within(&b, "/api/v1/stats", &token, Duration::from_secs(1)).await;
    let denied = grant_basic(&a, &id, &secret, None).await;
    assert_eq!(denied.json()["error"], "invalid_client");
    let listed = app_cli(&a, &["client", "list", "--json"], "").await;
    assert!(
        listed.stdout.contains("\"disabled\":true"),
        "{}",
        listed.stdout
    );

    // Enabled again: new tokens work, the old one stays refused.
    let run = app_cli(&a, &["client", "enable", "--client-id", &id], "").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let fresh = access_token(&grant_basic(&a, &id, &secret, None).await);
    assert_eq!(
        b.api_get("/api/v1/stats", &fresh).await.status,
        StatusCode::OK
    );
    assert_eq!(
        b.api_get("/api/v1/stats", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn a_rotated_secret_works_beside_the_old_one_until_it_is_retired() {
    let app = spawn_app().await;
    let (id, old) = client(&app, &["stats:read"]).await;
    let run = app_cli(&app, &["client", "rotate-secret", "--client-id", &id], "").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let new = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("client_secret: "))
        .unwrap()
        .to_owned();
    access_token(&grant_post(&app, &id, &old).await);
    access_token(&grant_post(&app, &id, &new).await);
    let run = app_cli(&app, &["client", "retire-secret", "--client-id", &id], "").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        grant_post(&app, &id, &old).await.status,
        StatusCode::UNAUTHORIZED
    );
    access_token(&grant_post(&app, &id, &new).await);
    // Secrets are kept as hashes only.
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT count(*) AS n FROM service_client_secrets t WHERE row_to_json(t)::text LIKE '%{new}%'"
        ))
        .await,
        0
    );
    let json = app_cli(
        &app,
        &[
            "client",
            "create",
            "--name",
            "x",
            "--scopes",
            "stats:read",
            "--json",
        ],
        "",
    )
    .await;
    let parsed: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert!(parsed["client_id"].is_string() && parsed["client_secret"].is_string());
}

#[actix_web::test]
async fn a_suspended_users_sessions_and_keys_stop_everywhere_and_sign_in_fails_as_a_wrong_password()
{
    let a = spawn_app().await;
    let mut settings = a.state.settings.clone();
    settings.bind_addr = "127.0.0.1:0".into();
    let b = spawn_app_on(settings).await;
    let (key, _, token) = key_with(&a, "notes:read").await;
    let email = a
        .scalar_text("SELECT u.email AS t FROM users u JOIN sessions s ON s.user_id = u.id WHERE s.kind = 'key'")
        .await;
    assert_eq!(b.api_get("/api/v1/ping", &key).await.status, StatusCode::OK);
    assert_eq!(
        b.api_get("/api/v1/ping", &token).await.status,
        StatusCode::OK
    );

    let run = app_cli(&a, &["user", "disable", "--email", &email], "").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    refused_within(&b, "/api/v1/ping", &key, Duration::from_secs(1)).await;
    refused_within(&b, "/api/v1/ping", &token, Duration::from_secs(1)).await;

    // The right password answers as a wrong one does, after a full hash.
    let before = a.state.hasher.verifications();
    let right = a.password_grant(&email, PASSWORD, None).await;
    assert_eq!(
        a.state.hasher.verifications(),
        before + 1,
        "no hashing shortcut"
    );
    let wrong = a.password_grant(&email, "not the password", None).await;
    assert_eq!(right.status, wrong.status);
    assert_eq!(right.body, wrong.body);
    let page = a.login(&email, PASSWORD).await;
    let wrong_page = a.login(&email, "not the password").await;
    assert_eq!(page.status, wrong_page.status);
    assert_eq!(page.location(), wrong_page.location());

    let run = app_cli(&a, &["user", "enable", "--email", &email], "").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    access_token(&a.password_grant(&email, PASSWORD, None).await);
    // The key stays ended.
    assert_eq!(
        a.api_get("/api/v1/ping", &key).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn a_suspended_user_cannot_sign_in_with_a_passkey_either() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let (mut key, _) = crate::passkeys::add_passkey(&app, "mine").await;
    let run = app_cli(&app, &["user", "disable", "--email", &email], "").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let visitor = app.another_browser();
    let res = crate::passkeys::passkey_sign_in(
        &visitor,
        &mut key,
        &crate::support::authenticator::Tamper::default(),
    )
    .await;
    assert!(!res.status.is_success(), "{}: {}", res.status, res.body);
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM sessions WHERE revoked_at IS NULL")
            .await,
        0,
        "no session for a suspended user"
    );
}
