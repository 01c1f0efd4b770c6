//! The app behind a real PgBouncer 1.18 in `pool_mode = transaction` (its
//! listener and migrations on the direct connection), over every kind of
//! database path: sign-up and pages, sign-in with a second factor, the
//! grants and refresh rotation under concurrency, revocation across three
//! instances, the outbox, the throttles, and a lost listener failing closed.
//! Without the per-transaction mode of `db::DbConn` each of these answers
//! 500 (`prepared statement "s5" does not exist` / `already exists`).

use crate::refresh::tokens;
use crate::support::factors::{code_now, enable_totp, otp_grant, password_step, second_step};
use crate::support::pgbouncer::{
    port, spawn_app_through_pgbouncer, spawn_instance, spawn_instance_with,
};
use crate::support::smtp::SmtpReceiver;
use crate::support::*;
use awc::http::StatusCode;
use std::time::{Duration as StdDuration, Instant};
use time::Duration;

#[actix_web::test]
async fn sign_up_pages_and_a_second_factor_work_through_a_transaction_pooler() {
    let Some(app) = spawn_app_through_pgbouncer().await else {
        return;
    };
    let email = app.signed_in_user().await;
    let page = app.get("/account").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(&email));
    let (secret, _codes) = enable_totp(&app).await;
    assert_eq!(app.get("/account").await.status, StatusCode::OK);

    app.clear_cookies();
    password_step(&app, &email).await;
    let res = second_step(&app, &code_now(&app, &secret)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/account");
    let page = app.get("/account").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Two-factor"), "{}", page.body);

    // The API grant with the code, through the same pooler.
    app.clock.advance(Duration::seconds(30));
    let res = otp_grant(&app, &email, &code_now(&app, &secret)).await;
    let (access, _) = tokens(&res);
    assert_eq!(
        app.api_get("/api/v1/me", &access).await.status,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn concurrent_refreshes_through_a_transaction_pooler_yield_one_successor() {
    let Some(app) = spawn_app_through_pgbouncer().await else {
        return;
    };
    let (_, refresh) = app.api_tokens().await;
    let requests = (0..16).map(|_| app.refresh_grant(&refresh, None));
    let responses = futures_util::future::join_all(requests).await;
    let successors: std::collections::HashSet<String> =
        responses.iter().map(|r| tokens(r).1).collect();
    assert_eq!(successors.len(), 1, "one chain, not {}", successors.len());
    let successor = successors.into_iter().next().unwrap();
    let (access, _) = tokens(&app.refresh_grant(&successor, None).await);
    // A replay after the grace window still ends the session.
    app.clock.advance(Duration::seconds(11));
    assert_eq!(
        app.refresh_grant(&refresh, None).await.status,
        StatusCode::BAD_REQUEST
    );
    let res = app.api_get("/api/v1/ping", &access).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
}

#[actix_web::test]
async fn three_instances_through_a_transaction_pooler_share_revocations() {
    let Some(a) = spawn_app_through_pgbouncer().await else {
        return;
    };
    let database = a.state.settings.listener_url().rsplit('/').next().unwrap();
    let port = port().unwrap();
    let b = spawn_instance(database, port).await;
    let c = spawn_instance(database, port).await;
    let (access, _) = a.api_tokens().await;
    for other in [&b, &c] {
        assert_eq!(
            other.api_get("/api/v1/ping", &access).await.status,
            StatusCode::OK
        );
    }
    let start = Instant::now();
    assert_eq!(b.api_logout(&access).await.status, StatusCode::NO_CONTENT);
    for other in [&a, &c] {
        loop {
            if other.api_get("/api/v1/ping", &access).await.status == StatusCode::UNAUTHORIZED {
                break;
            }
            assert!(
                start.elapsed() < StdDuration::from_secs(1),
                "another instance still accepts the token"
            );
            actix_web::rt::time::sleep(StdDuration::from_millis(5)).await;
        }
        assert_eq!(other.state.revocations.db_checks(), 0, "learned by NOTIFY");
    }
    println!("revocation reached both instances in {:?}", start.elapsed());
}

#[actix_web::test]
async fn the_outbox_and_the_throttles_work_through_a_transaction_pooler() {
    let smtp = SmtpReceiver::start().await;
    let Some(port) = port() else {
        return;
    };
    let database = crate::support::database::fresh_database();
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
    let app = spawn_instance_with(&database, port, |s| s.mail_url = Some(smtp_url.into())).await;
    let email = app.api_user().await;
    let token = app.csrf_for("/password/forgot").await;
    let res = app
        .post("/password/forgot")
        .form(&[("csrf_token", &token), ("email", &email)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let mails = smtp.wait_for_mails(2).await;
    assert!(mails.iter().any(|m| m.data.contains("Reset your password")));

    for _ in 0..5 {
        app.password_grant(&email, "wrong password", None).await;
    }
    let res = app.password_grant(&email, PASSWORD, None).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    assert!(res.header("retry-after").is_some());
}

#[actix_web::test]
async fn a_lost_listener_behind_a_transaction_pooler_fails_closed() {
    let Some(app) = spawn_app_through_pgbouncer().await else {
        return;
    };
    let (access, _) = app.api_tokens().await;
    let sid = jwt_part(&access, 1)["sid"].as_str().unwrap().to_owned();
    // The listener's own (direct) connection is killed from the server side.
    let killed = app
        .scalar_i64(&format!(
            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
             WHERE application_name = '{}' AND datname = current_database()",
            hybrid_auth::auth::sessions::revocation::LISTENER_APP_NAME
        ))
        .await;
    assert!(killed >= 1, "the listener's connection was found");
    wait_until("the view goes stale", || !app.state.revocations.is_fresh()).await;
    // Revoked behind the app's back (no NOTIFY reaches it): the fallback
    // asks the database through the pooler, and refuses.
    let revoked = app
        .scalar_i64(&format!(
            "WITH r AS (UPDATE sessions SET revoked_at = now(), revoked_reason = 'test' \
             WHERE id = '{sid}' RETURNING id) SELECT count(*) AS n FROM r"
        ))
        .await;
    assert_eq!(revoked, 1);
    let res = app.api_get("/api/v1/ping", &access).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
}

#[actix_web::test]
async fn no_prepared_statement_is_left_on_the_poolers_servers() {
    let Some(app) = spawn_app_through_pgbouncer().await else {
        return;
    };
    // Work of every kind: forms, grants (one failing inside its
    // transaction), pages, reads that return rows.
    let email = app.signed_in_user().await;
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
    app.api_tokens_for(&email).await;
    app.password_grant(&email, "wrong password", None).await;
    // A duplicate address: refused, nothing created.
    let again = app.another_browser().register(&email, PASSWORD).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    // Each sample runs on whichever server the pooler gives it; parallel
    // samples reach several. Each sees only its own statement.
    let samples = (0..8).map(|_| async {
        let mut conn = app.conn().await;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        use diesel_async::RunQueryDsl;
        let row: N =
            diesel::sql_query("SELECT count(*) AS n FROM pg_prepared_statements, pg_sleep(0.05)")
                .get_result(&mut conn)
                .await
                .unwrap();
        row.n
    });
    for n in futures_util::future::join_all(samples).await {
        assert_eq!(
            n, 1,
            "a server holds prepared statements of earlier transactions"
        );
    }
}
