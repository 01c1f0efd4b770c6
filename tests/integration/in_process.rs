//! Testing routes in-process, without a socket: `startup::build_state` and
//! `startup::app` under `actix_web::test::init_service`. Handy for a quick
//! test of one route; the other test files go through a real server.

use crate::support::database::fresh_database;
use crate::support::test_settings;
use actix_web::http::StatusCode;
use actix_web::test;
use hybrid_auth::clock::Clock;
use hybrid_auth::startup::{app, build_state};

#[actix_web::test]
async fn routes_answer_in_process_through_init_service() {
    // Arrange
    let state = build_state(test_settings(&fresh_database()), Clock::system())
        .await
        .expect("state");
    let service = test::init_service(app(state)).await;

    // Act
    let health = test::call_service(
        &service,
        test::TestRequest::get().uri("/healthz").to_request(),
    )
    .await;
    let me = test::call_service(
        &service,
        test::TestRequest::get().uri("/api/v1/me").to_request(),
    )
    .await;

    // Assert
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        me.headers()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap(),
        format!("Bearer realm=\"{}\"", hybrid_auth::web::app_name())
    );
}

async fn boom() -> actix_web::HttpResponse {
    // The panic this test is about: not a failed test.
    crate::support::database::expecting_panics(|| panic!("a bug in a handler"))
}

#[actix_web::test]
async fn a_panicking_handler_is_a_generic_500_and_the_server_keeps_serving() {
    use actix_web::middleware::from_fn;
    use hybrid_auth::routes::middleware::catch_panics;
    let service = test::init_service(
        actix_web::App::new()
            .wrap(from_fn(catch_panics))
            .route("/boom", actix_web::web::get().to(boom))
            .route("/api/v1/boom", actix_web::web::get().to(boom))
            .route("/fine", actix_web::web::get().to(|| async { "fine" })),
    )
    .await;

    let page =
        test::call_service(&service, test::TestRequest::get().uri("/boom").to_request()).await;
    assert_eq!(page.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = test::read_body(page).await;
    assert!(
        !String::from_utf8_lossy(&body).contains("a bug"),
        "no internals"
    );

    let api = test::call_service(
        &service,
        test::TestRequest::get().uri("/api/v1/boom").to_request(),
    )
    .await;
    assert_eq!(api.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let json: serde_json::Value = test::read_body_json(api).await;
    assert_eq!(json["error"], "server_error");

    let fine =
        test::call_service(&service, test::TestRequest::get().uri("/fine").to_request()).await;
    assert_eq!(fine.status(), StatusCode::OK);
}

#[actix_web::test]
async fn the_in_process_helper_signs_its_user_in_with_the_scopes_asked_for() {
    use hybrid_auth::auth::Scope;
    let app = crate::support::in_process::InProcess::with_user(&[Scope::ProfileRead]).await;
    let me = app.get("/api/v1/me").await;
    assert_eq!(me.status(), StatusCode::OK);
    let body: serde_json::Value = test::read_body_json(me).await;
    assert_eq!(body["email"], app.email.as_str());
    assert_eq!(body["scope"], "profile:read");
    // One API session, in the app's own database.
    let mut conn = hybrid_auth::db::conn(&app.state.pool).await.unwrap();
    let user = hybrid_auth::db::users::find_by_email(&mut conn, &app.email)
        .await
        .unwrap()
        .unwrap();
    let live = hybrid_auth::db::sessions::live_for_user(&mut conn, user.id, app.state.clock.now())
        .await
        .unwrap();
    assert_eq!(live.len(), 1);
}
