//! The in-process revocation view: no database round trip per API request,
//! revocations reach every instance in well under a second, and a lost
//! listener falls back to the database (never fails open).

use crate::helpers::*;
use awc::http::StatusCode;
use diesel_async::RunQueryDsl;
use std::time::{Duration as StdDuration, Instant};

#[actix_web::test]
async fn api_requests_are_checked_against_memory_not_the_database() {
    let app = spawn_app().await;
    let (access, _) = app.api_tokens().await;
    let view = &app.state.revocations;
    assert!(view.is_fresh());
    let before = view.db_checks();
    for _ in 0..10 {
        assert_eq!(
            app.api_get("/api/v1/ping", &access).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        view.db_checks(),
        before,
        "no database round trip while the view is fresh"
    );
    // A logout on this instance is effective on the very next request.
    app.api_logout(&access).await;
    let res = app.api_get("/api/v1/ping", &access).await;
    assert_eq!(res.json()["error_description"], "access token revoked");
    assert_eq!(view.db_checks(), before);
}

#[actix_web::test]
async fn another_instance_learns_of_a_revocation_in_well_under_a_second() {
    let a = spawn_app().await;
    let mut settings = a.state.settings.clone();
    settings.bind_addr = "127.0.0.1:0".into();
    let b = spawn_app_on(settings).await;
    let (access, _) = a.api_tokens().await;
    assert_eq!(
        b.api_get("/api/v1/ping", &access).await.status,
        StatusCode::OK
    );

    let start = Instant::now();
    let res = a.api_logout(&access).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    loop {
        if b.api_get("/api/v1/ping", &access).await.status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            start.elapsed() < StdDuration::from_secs(1),
            "instance B still accepts the token"
        );
        actix_web::rt::time::sleep(StdDuration::from_millis(5)).await;
    }
    println!(
        "revocation reached the other instance in {:?}",
        start.elapsed()
    );
    assert_eq!(
        b.state.revocations.db_checks(),
        0,
        "B learned it from NOTIFY, not by asking"
    );
}

#[actix_web::test]
async fn a_lost_listener_falls_back_to_the_database_until_it_has_reloaded() {
    let app = spawn_app().await;
    let (live, _) = app.api_tokens().await;
    let (doomed, _) = app.api_tokens().await;
    let sid = jwt_part(&doomed, 1)["sid"].as_str().unwrap().to_owned();
    let view = app.state.revocations.clone();

    // Kill the listener's backend, and revoke behind its back (no NOTIFY).
    let mut conn = app.conn().await;
    diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{}' AND datname = current_database()",
        hybrid_auth::auth::revocation::LISTENER_APP_NAME
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let v = view.clone();
    wait_until("the view to go stale", move || !v.is_fresh()).await;
    diesel::sql_query(format!(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = 'test' WHERE id = '{sid}'"
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    drop(conn);

    // Whether answered by the fallback or by the reloaded view: never a yes.
    assert_eq!(
        app.api_get("/api/v1/ping", &doomed).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.api_get("/api/v1/ping", &live).await.status,
        StatusCode::OK
    );
    let v = view.clone();
    wait_until("the listener to reconnect", move || v.is_fresh()).await;
    assert_eq!(
        app.api_get("/api/v1/ping", &doomed).await.status,
        StatusCode::UNAUTHORIZED,
        "reload saw it"
    );
    let checks = view.db_checks();
    assert_eq!(
        app.api_get("/api/v1/ping", &live).await.status,
        StatusCode::OK
    );
    assert_eq!(view.db_checks(), checks, "back to memory");
}

#[actix_web::test]
async fn with_the_database_gone_tokens_get_503_not_access() {
    let (app, proxy) = spawn_app_behind_proxy().await;
    let (access, _) = app.api_tokens().await;
    proxy.cut();
    let view = app.state.revocations.clone();
    wait_until("the view to go stale", move || !view.is_fresh()).await;
    let res = app.api_get("/api/v1/ping", &access).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.header("retry-after").is_some());
    proxy.restore();
    let view = app.state.revocations.clone();
    wait_until("the listener to come back", move || view.is_fresh()).await;
    assert_eq!(
        app.api_get("/api/v1/ping", &access).await.status,
        StatusCode::OK
    );
}
