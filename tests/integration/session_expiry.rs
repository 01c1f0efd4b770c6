//! Web session lifetime: the idle timeout moves with activity, the absolute
//! timeout does not, `last_seen_at` is written at most once a minute, and an
//! expired cookie does not get in the way of signing in again.

use crate::support::*;
use awc::http::StatusCode;
use time::Duration;

#[actix_web::test]
async fn idle_sessions_expire() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    app.clock.advance(Duration::minutes(119));
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::OK,
        "activity moves the idle expiry"
    );
    app.clock.advance(Duration::minutes(119));
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
    app.clock.advance(Duration::minutes(121));
    assert_eq!(app.get("/account").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "state purged, stays anonymous"
    );
}

#[actix_web::test]
async fn absolute_expiry_ends_even_an_active_session() {
    let app = spawn_app_with(|s| {
        s.session_idle_timeout = Duration::minutes(10);
        s.session_absolute_timeout = Duration::minutes(30);
    })
    .await;
    app.signed_in_user().await;
    for _ in 0..3 {
        app.clock.advance(Duration::minutes(9));
        assert_eq!(app.get("/account").await.status, StatusCode::OK);
    }
    app.clock.advance(Duration::minutes(4));
    assert_eq!(app.get("/account").await.status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn last_seen_is_written_at_most_once_a_minute() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let seen = || {
        app.scalar_i64(
            "SELECT (extract(epoch FROM last_seen_at) * 1000000)::int8 AS n FROM sessions",
        )
    };
    let first = seen().await;
    app.clock.advance(Duration::seconds(30));
    app.get("/account").await;
    assert_eq!(seen().await, first);
    app.clock.advance(Duration::seconds(31));
    app.get("/account").await;
    assert!(seen().await > first);
}

#[actix_web::test]
async fn signing_in_over_an_expired_session_cookie_works() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let token = app.csrf_for("/login").await; // rendered while still signed in
    app.clock.advance(Duration::hours(3));
    let res = app.login_with_token(&token, &email, PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::OK,
        "signed in, not bounced to /login"
    );
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM sessions WHERE revoked_at IS NULL AND idle_expires_at > now() + interval '2 hours'").await,
        1,
        "exactly one live session"
    );
}
