//! Deleting an account through the API (`DELETE /api/v1/me`): a sensitive
//! action behind RFC 9470's step-up challenge. Everything derived from the
//! account ends first (its tokens answer `access token revoked`), then
//! everything that is the user's is gone, and the address can register again.

use crate::support::*;
use awc::http::{Method, StatusCode};
use hybrid_auth::auth::Scope;
use serde_json::json;
use time::Duration;

async fn delete_me(app: &TestApp, token: &str) -> Response {
    app.req(Method::DELETE, "/api/v1/me")
        .no_cookies()
        .bearer(token)
        .send()
        .await
}

#[actix_web::test]
async fn a_fresh_token_deletes_the_account_and_everything_that_is_theirs() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    let (access, refresh) = app.api_tokens_for(&email).await;
    let note = app
        .post("/api/v1/notes")
        .no_cookies()
        .bearer(&access)
        .json(&json!({"title": "mine"}))
        .send()
        .await;
    assert_eq!(note.status, StatusCode::CREATED);

    let res = delete_me(&app, &access).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);

    // Its tokens are revoked at once, its refresh token is dead.
    let after = app.api_get("/api/v1/ping", &access).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert!(after
        .header("www-authenticate")
        .unwrap()
        .contains("access token revoked"));
    assert_eq!(
        app.refresh_grant(&refresh, None).await.status,
        StatusCode::BAD_REQUEST
    );
    // Nothing of theirs is left, but the notice that tells them so (their
    // queued verification mail is gone).
    assert_eq!(
        app.scalar_i64(
            "SELECT count(*) AS n FROM mail_outbox WHERE subject <> 'Your account was deleted'"
        )
        .await,
        0
    );
    for table in [
        "users",
        "sessions",
        "notes",
        "auth_events",
        "refresh_tokens",
        "totp_factors",
        "recovery_codes",
    ] {
        assert_eq!(
            app.scalar_i64(&format!("SELECT count(*) AS n FROM {table}"))
                .await,
            0,
            "{table}"
        );
    }
    // The address can register again.
    assert_eq!(
        app.register(&email, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

#[actix_web::test]
async fn a_stale_sign_in_gets_the_step_up_challenge_and_nothing_is_deleted() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    let (_, refresh) = app.api_tokens_for(&email).await;
    // Eleven minutes later a refresh gives a fresh token, but its auth_time
    // is still the sign-in's.
    app.clock.advance(Duration::minutes(11));
    let res = app.refresh_grant(&refresh, None).await;
    let access = res.json()["access_token"].as_str().unwrap().to_owned();

    let res = delete_me(&app, &access).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let challenge = res.header("www-authenticate").unwrap();
    assert!(
        challenge.starts_with(&format!(
            "Bearer realm=\"{}\", error=\"insufficient_user_authentication\"",
            hybrid_auth::web::app_name()
        )),
        "{challenge}"
    );
    assert!(challenge.contains("max_age=\"600\""), "{challenge}");
    assert_eq!(res.json()["error"], "insufficient_user_authentication");
    assert_eq!(app.scalar_i64("SELECT count(*) AS n FROM users").await, 1);

    // Stepping up: a new password grant, then the deletion goes through.
    let (fresh, _) = app.api_tokens_for(&email).await;
    assert_eq!(delete_me(&app, &fresh).await.status, StatusCode::NO_CONTENT);
}

#[actix_web::test]
async fn deleting_needs_the_profile_write_scope() {
    let app = spawn_app().await;
    let token = app.bearer_with(&[Scope::ProfileRead]).await;
    let res = delete_me(&app, &token).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.json()["error"], "insufficient_scope");
    assert_eq!(app.scalar_i64("SELECT count(*) AS n FROM users").await, 1);
}

#[actix_web::test]
async fn another_instance_refuses_a_deleted_accounts_tokens_at_once() {
    let a = spawn_app().await;
    let mut settings = a.state.settings.clone();
    settings.bind_addr = "127.0.0.1:0".into();
    let b = spawn_app_on(settings).await;
    let email = a.api_user().await;
    let (access, _) = a.api_tokens_for(&email).await;
    let (other, _) = a.api_tokens_for(&email).await;
    assert_eq!(
        b.api_get("/api/v1/ping", &other).await.status,
        StatusCode::OK
    );

    assert_eq!(delete_me(&a, &access).await.status, StatusCode::NO_CONTENT);
    let mut refused = false;
    for _ in 0..200 {
        let res = b.api_get("/api/v1/ping", &other).await;
        if res.status == StatusCode::UNAUTHORIZED {
            assert!(res
                .header("www-authenticate")
                .unwrap()
                .contains("access token revoked"));
            refused = true;
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(
        refused,
        "instance B still accepts a deleted account's token"
    );
}
