//! The in-process caches: verified access tokens and resolved web sessions.
//! What they must never do: accept a token they did not verify, outlive a
//! token's expiry, or hide a revocation.

use crate::support::*;
use awc::http::StatusCode;
use diesel_async::RunQueryDsl;
use time::Duration;

/// `token` with one character of its signature changed.
fn one_byte_off(token: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let i = bytes.len() - 10;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// A new active key, the key `kid` gone from the table, and the keys
/// reloaded (which prunes the token cache).
async fn key_leaves_the_ring(app: &TestApp, kid: &str) {
    let mut conn = app.conn().await;
    let retention =
        hybrid_auth::auth::tokens::keys::retention(Duration::minutes(15), Duration::seconds(30));
    hybrid_auth::auth::tokens::keys::rotate(&mut conn, app.clock.now(), retention, Duration::ZERO)
        .await
        .unwrap();
    diesel::sql_query(format!("DELETE FROM signing_keys WHERE kid = '{kid}'"))
        .execute(&mut conn)
        .await
        .unwrap();
    hybrid_auth::auth::tokens::access::reload_keys(&app.state, &mut conn)
        .await
        .unwrap();
}

#[actix_web::test]
async fn a_token_one_byte_off_a_cached_one_is_verified_afresh_and_refused() {
    let app = spawn_app().await;
    let (access, _) = app.api_tokens().await;
    assert_eq!(
        app.api_get("/api/v1/ping", &access).await.status,
        StatusCode::OK
    );
    assert_eq!(app.state.token_cache.len(), 1, "the valid token is cached");

    let forged = one_byte_off(&access);
    let res = app.api_get("/api/v1/ping", &forged).await;

    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["error"], "invalid_token");
    assert_eq!(app.state.token_cache.len(), 1, "failures are never cached");
}

#[actix_web::test]
async fn garbage_never_enters_the_token_cache() {
    let app = spawn_app().await;
    let (access, _) = app.api_tokens().await;
    for i in 0..50 {
        let junk = format!("{}{i}", one_byte_off(&access));
        assert_eq!(
            app.api_get("/api/v1/ping", &junk).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert!(app.state.token_cache.is_empty());
}

#[actix_web::test]
async fn a_cached_token_is_refused_once_it_expires() {
    let app = spawn_app().await;
    let (access, _) = app.api_tokens().await;
    assert_eq!(
        app.api_get("/api/v1/ping", &access).await.status,
        StatusCode::OK
    );
    assert_eq!(app.state.token_cache.len(), 1);

    // ACCESS_TOKEN_TTL (15 min) + CLOCK_SKEW_LEEWAY (30 s), and a second.
    app.clock
        .advance(Duration::minutes(15) + Duration::seconds(31));
    let res = app.api_get("/api/v1/ping", &access).await;

    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["error_description"], "access token expired");
}

#[actix_web::test]
async fn a_cached_token_of_a_revoked_session_is_refused() {
    let app = spawn_app().await;
    let (access, _) = app.api_tokens().await;
    assert_eq!(
        app.api_get("/api/v1/ping", &access).await.status,
        StatusCode::OK
    );

    app.api_logout(&access).await;
    let res = app.api_get("/api/v1/ping", &access).await;

    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["error_description"], "access token revoked");
}

#[actix_web::test]
async fn cached_tokens_of_a_key_that_leaves_the_ring_stop_working() {
    let app = spawn_app().await;
    let (access, _) = app.api_tokens().await;
    assert_eq!(
        app.api_get("/api/v1/ping", &access).await.status,
        StatusCode::OK
    );
    let kid = jwt_part(&access, 0)["kid"].as_str().unwrap().to_owned();

    // A new active key, and the old one gone from the table.
    key_leaves_the_ring(&app, &kid).await;

    assert!(app.state.token_cache.is_empty());
    let res = app.api_get("/api/v1/ping", &access).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_signed_in_page_is_served_from_the_session_cache() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
    let before = app.state.session_cache.hits();

    assert_eq!(app.get("/").await.status, StatusCode::OK);

    // The cookie state and the session + user rows: both from memory.
    assert_eq!(app.state.session_cache.hits(), before + 2);
}

#[actix_web::test]
async fn a_logout_on_another_instance_ends_a_cached_web_session() {
    let a = spawn_app().await;
    let mut settings = a.state.settings.clone();
    settings.bind_addr = "127.0.0.1:0".into();
    let b = spawn_app_on(settings).await;
    a.signed_in_user().await;
    assert_eq!(a.get("/account").await.status, StatusCode::OK);
    assert_eq!(a.get("/account").await.status, StatusCode::OK);
    assert!(
        a.state.session_cache.hits() > 0,
        "A serves the session from memory"
    );

    // The same browser signs out through instance B.
    b.restore_cookies(a.cookies());
    let token = b.csrf_for("/logout").await;
    let res = b
        .post("/logout")
        .form(&[("csrf_token", &token)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);

    // A learns of it through NOTIFY and stops trusting its cached copy.
    let mut signed_out = false;
    for _ in 0..200 {
        if a.get("/account").await.status == StatusCode::SEE_OTHER {
            signed_out = true;
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(signed_out, "instance A still serves the revoked session");
}

#[actix_web::test]
async fn an_idle_timeout_shorter_than_a_minute_holds_for_a_session_in_use() {
    let app = spawn_app_with(|s| s.session_idle_timeout = Duration::seconds(8)).await;
    app.signed_in_user().await;
    // A request every 3 s for 30 s: never idle for 8 s, so never signed out.
    for _ in 0..10 {
        app.clock.advance(Duration::seconds(3));
        assert_eq!(app.get("/account").await.status, StatusCode::OK);
    }
    // Then 9 s without a request: idle-expired.
    app.clock.advance(Duration::seconds(9));
    assert_eq!(app.get("/account").await.status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn a_copied_cookie_dies_with_a_password_change_however_short_the_token_ttl() {
    // Tokens live 2 s: the revocation view must still keep a revoked id as
    // long as a cached signed-in session can live (30 s).
    let a = spawn_app_with(|s| {
        s.access_token_ttl = Duration::seconds(2);
        s.clock_skew_leeway = Duration::ZERO;
    })
    .await;
    let mut settings = a.state.settings.clone();
    settings.bind_addr = "127.0.0.1:0".into();
    let b = spawn_app_on(settings).await;
    let email = a.signed_in_user().await;
    assert_eq!(a.get("/account").await.status, StatusCode::OK);
    assert_eq!(a.get("/account").await.status, StatusCode::OK);
    let copied = a.uuid("SELECT id FROM sessions").await;

    // The owner signs in elsewhere (instance B) and changes the password.
    assert_eq!(
        b.login(&email, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let token = b.csrf_for("/account").await;
    let res = b
        .post("/account/password")
        .form(&[
            ("csrf_token", token.as_str()),
            ("current_password", PASSWORD),
            ("new_password", "a brand new password"),
            ("password_confirm", "a brand new password"),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);

    // A hears of it, then 7 s pass and A prunes its view.
    for _ in 0..200 {
        if !a.state.revocations.known_live(copied) {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    a.clock.advance(Duration::seconds(7));
    a.state.revocations.prune();

    // The copied cookie opens nothing and mints nothing on A.
    assert_eq!(a.get("/account").await.status, StatusCode::SEE_OTHER);
    let res = a
        .post("/auth/token")
        .header("x-csrf-token", "whatever")
        .send()
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
}

#[actix_web::test]
async fn a_revocation_evicts_the_cached_session_on_the_instance_that_made_it() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
    let sid = app.uuid("SELECT id FROM sessions").await;
    assert!(app.state.session_cache.holds_session(sid));

    let mut conn = app.conn().await;
    hybrid_auth::auth::sessions::revoke(
        &app.state,
        &mut conn,
        hybrid_auth::auth::Target::One(sid),
        hybrid_auth::auth::RevokeReason::RevokedByAdmin,
        "",
    )
    .await
    .unwrap();
    assert!(!app.state.session_cache.holds_session(sid));
}

#[actix_web::test]
async fn a_token_cached_against_an_older_key_ring_is_refused() {
    let app = spawn_app().await;
    let (access, _) = app.api_tokens().await;
    assert_eq!(
        app.api_get("/api/v1/ping", &access).await.status,
        StatusCode::OK
    );
    let kid = jwt_part(&access, 0)["kid"].as_str().unwrap().to_owned();

    // The key leaves the ring, but (as when a verification against the old
    // ring snapshot finishes just after `reload_keys` pruned) the cache
    // holds the token again.
    let cache_key: [u8; 32] = hybrid_auth::auth::crypto::sha256(access.as_bytes())
        .try_into()
        .unwrap();
    let cached = app
        .state
        .token_cache
        .get_if(&cache_key, |_| true)
        .expect("the verified token is cached");
    key_leaves_the_ring(&app, &kid).await;
    app.state.token_cache.insert(cache_key, cached);

    let res = app.api_get("/api/v1/ping", &access).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}
