//! The in-process revocation view: no database round trip per API request,
//! revocations reach every instance in well under a second, and a lost
//! listener falls back to the database (never fails open). Noting many
//! revocations is one batch, pruned on the heartbeat; a reconnect keeps what
//! was noted; a listener that hears nothing goes stale (requests then ask the
//! database) and one whose heartbeat comes back stays fresh.

use crate::support::database::{fresh_database, server_url};
use crate::support::*;
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
        hybrid_auth::auth::sessions::revocation::LISTENER_APP_NAME
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
        s.listener_database_url = Some(format!("{}/{elsewhere}", server_url()).into());
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
