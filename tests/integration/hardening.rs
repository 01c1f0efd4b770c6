//! Hostile input and races: NUL bytes, CSRF failures that must be 403, the
//! revocation view under load and with notifications that never arrive,
//! password change and "log out others" racing a revocation, per-IP
//! registration throttling, request ids and HSTS.

use crate::database::{fresh_database, server_url};
use crate::helpers::*;
use awc::http::StatusCode;
use hybrid_auth::auth::account;
use hybrid_auth::auth::client::ClientInfo;
use hybrid_auth::auth::current_user::CurrentUser;
use hybrid_auth::auth::sessions::{self, Target};
use std::time::Duration as StdDuration;

#[actix_web::test]
async fn nul_bytes_are_bad_requests_not_server_errors() {
    let app = spawn_app().await;
    // The login form: re-rendered with 400.
    let token = app.csrf_for("/login").await;
    let res = app
        .post("/login")
        .form(&[
            ("csrf_token", &token),
            ("email", "a\0@example.com"),
            ("password", "x"),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    // The password grant: 400 invalid_request.
    let res = app.password_grant("a\0@example.com", "x", None).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["error"], "invalid_request");
    // A note's title: 400 invalid_request, nothing stored.
    let (access, _) = app.api_tokens().await;
    let res = app
        .post("/api/v1/notes")
        .no_cookies()
        .bearer(&access)
        .json(&serde_json::json!({ "title": "a\u{0}b", "body": "" }))
        .send()
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["error"], "invalid_request");
    assert_eq!(app.scalar_i64("SELECT count(*) AS n FROM notes").await, 0);
}

#[actix_web::test]
async fn cookie_posts_without_a_readable_csrf_token_are_403() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    for path in [
        "/logout",
        "/account/sessions/revoke-others",
        "/account/password",
    ] {
        // No body at all, and a body that is not a form.
        let empty = app.post(path).send().await;
        assert_eq!(empty.status, StatusCode::FORBIDDEN, "{path} without a body");
        let junk = app.post(path).raw("application/json", "{}").send().await;
        assert_eq!(junk.status, StatusCode::FORBIDDEN, "{path} with JSON");
    }
    // Still signed in: nothing was changed.
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
}

/// The signed-in user as the account handlers see it at request start.
async fn current_user(app: &TestApp) -> CurrentUser {
    let email = app.signed_in_user().await;
    let mut conn = app.conn().await;
    let user = hybrid_auth::db::users::find_by_email(&mut conn, &email)
        .await
        .unwrap()
        .unwrap();
    let session = hybrid_auth::db::sessions::live_for_user(&mut conn, user.id, app.clock.now())
        .await
        .unwrap()
        .remove(0);
    CurrentUser {
        user,
        session,
        csrf_token: String::new(),
    }
}

fn client() -> ClientInfo {
    ClientInfo {
        ip: "127.0.0.1".into(),
        user_agent: "test".into(),
    }
}

#[actix_web::test]
async fn a_password_change_racing_a_revocation_of_its_session_changes_nothing() {
    // Arrange: the attacker's session passed the extractor, then the victim
    // revoked it before the change ran.
    let app = spawn_app().await;
    let attacker = current_user(&app).await;
    let mut conn = app.conn().await;
    sessions::revoke(
        &app.state,
        &mut conn,
        Target::One(attacker.session.id),
        "revoked_by_user",
        "127.0.0.1",
    )
    .await
    .unwrap();
    let hash_before = attacker.user.password_hash.clone();

    // Act
    let outcome = account::change_password(
        &app.state,
        &attacker,
        PASSWORD.into(),
        "attacker's new password".into(),
        &client(),
    )
    .await
    .unwrap();

    // Assert
    assert!(matches!(outcome, account::PasswordChange::Conflict));
    let hash_after = hybrid_auth::db::users::find(&mut conn, attacker.user.id)
        .await
        .unwrap()
        .unwrap()
        .password_hash;
    assert_eq!(hash_after, hash_before);
}

#[actix_web::test]
async fn log_out_others_from_a_session_revoked_meanwhile_changes_nothing() {
    let app = spawn_app().await;
    let attacker = current_user(&app).await;
    // The victim signs in elsewhere (a second session of the same user)...
    let email = attacker.user.email.clone();
    app.clear_cookies();
    assert_eq!(
        app.login(&email, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    // ...and revokes the attacker's session.
    let mut conn = app.conn().await;
    sessions::revoke(
        &app.state,
        &mut conn,
        Target::One(attacker.session.id),
        "revoked_by_user",
        "127.0.0.1",
    )
    .await
    .unwrap();

    let done = account::revoke_other_sessions(&app.state, &attacker, &client())
        .await
        .unwrap();

    assert!(!done, "a revoked session may not log out the others");
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::OK,
        "the victim is still in"
    );
}

#[actix_web::test]
async fn noting_many_revocations_is_one_batch_and_pruning_waits_for_the_heartbeat() {
    let app = spawn_app().await;
    let view = &app.state.revocations;
    let ids: Vec<uuid::Uuid> = (0..10_000).map(|_| uuid::Uuid::new_v4()).collect();
    view.note(&ids);
    assert_eq!(view.len(), 10_000);
    // Past the window, entries stay until a prune (run on the heartbeat), not
    // on every insert.
    app.clock.advance(time::Duration::minutes(16));
    view.note(&[uuid::Uuid::new_v4()]);
    assert_eq!(view.len(), 10_001);
    view.prune();
    assert_eq!(view.len(), 1);
}

#[actix_web::test]
async fn a_reconnect_merges_what_it_loads_with_what_was_noted() {
    let app = spawn_app().await;
    let view = app.state.revocations.clone();
    let noted = uuid::Uuid::new_v4(); // revoked here; the database knows nothing of it
    view.note(&[noted]);

    let conn = view
        .connect(app.state.settings.listener_url())
        .await
        .unwrap();
    drop(conn);

    assert!(
        !view.known_live(noted),
        "the reload must not drop a noted revocation"
    );
}

#[actix_web::test]
async fn a_listener_that_receives_nothing_goes_stale_and_requests_ask_the_database() {
    // The listener connects to another database: the connection is alive, but
    // NOTIFYs sent through the pool never reach it (as behind PgBouncer).
    let elsewhere = fresh_database();
    let app = spawn_app_with(|s| {
        s.listener_database_url = Some(format!("{}/{elsewhere}", server_url()));
        s.listener_heartbeat.heartbeat = StdDuration::from_millis(50);
        s.listener_heartbeat.alive_window = StdDuration::from_millis(300);
    })
    .await;
    let (access, _) = app.api_tokens().await;
    let view = app.state.revocations.clone();
    wait_until("the view goes stale", || !view.is_fresh()).await;

    let before = view.db_checks();
    assert_eq!(
        app.api_get("/api/v1/ping", &access).await.status,
        StatusCode::OK
    );
    assert!(
        view.db_checks() > before,
        "checked in the database, not in memory"
    );
    // And a revocation is seen at once, through that database check.
    app.api_logout(&access).await;
    let res = app.api_get("/api/v1/ping", &access).await;
    assert_eq!(res.json()["error_description"], "access token revoked");
}

#[actix_web::test]
async fn a_listener_whose_heartbeat_comes_back_stays_fresh() {
    let app = spawn_app_with(|s| {
        s.listener_heartbeat.heartbeat = StdDuration::from_millis(50);
        s.listener_heartbeat.alive_window = StdDuration::from_millis(300);
    })
    .await;
    actix_web::rt::time::sleep(StdDuration::from_millis(600)).await;
    assert!(app.state.revocations.is_fresh());
}

#[actix_web::test]
async fn registration_is_throttled_per_ip() {
    // LOGIN_MAX_FAILURES=1: ten registrations per IP per 15 minutes.
    let app = spawn_app_with(|s| s.login_max_failures = 1).await;
    for i in 0..10 {
        let res = app.register(&format!("r{i}@example.com"), PASSWORD).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "registration {i}");
        app.clear_cookies();
    }
    let res = app.register("one-more@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.header("retry-after").is_some());
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM users WHERE email = 'one-more@example.com'")
            .await,
        0
    );
}

#[actix_web::test]
async fn every_response_carries_a_request_id_and_only_trusted_proxies_choose_it() {
    let app = spawn_app().await;
    let a = app.get("/healthz").await.header("x-request-id").unwrap();
    let b = app.get("/healthz").await.header("x-request-id").unwrap();
    assert_ne!(a, b);
    let res = app
        .req(awc::http::Method::GET, "/nope")
        .header("x-request-id", "abc-123")
        .send()
        .await;
    assert_ne!(
        res.header("x-request-id").as_deref(),
        Some("abc-123"),
        "not from an untrusted peer"
    );

    let proxied = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    let res = proxied
        .req(awc::http::Method::GET, "/healthz")
        .header("x-request-id", "abc-123")
        .send()
        .await;
    assert_eq!(res.header("x-request-id").as_deref(), Some("abc-123"));
    let res = proxied
        .req(awc::http::Method::GET, "/healthz")
        .header("x-request-id", "bad id\"")
        .send()
        .await;
    assert_ne!(res.header("x-request-id").as_deref(), Some("bad id\""));
}

#[actix_web::test]
async fn hsts_is_sent_only_when_the_public_url_is_https() {
    let plain = spawn_app().await;
    assert!(plain
        .get("/")
        .await
        .header("strict-transport-security")
        .is_none());
    let tls = spawn_app_with(|s| s.public_url = "https://auth.example.com".into()).await;
    let hsts = tls
        .get("/healthz")
        .await
        .header("strict-transport-security");
    assert_eq!(hsts.as_deref(), Some("max-age=31536000; includeSubDomains"));
}
