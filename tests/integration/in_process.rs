//! Testing routes in-process, without a socket: `startup::build_state` and
//! `startup::app` under `actix_web::test::init_service`. Handy for a quick
//! test of one route; the other test files go through a real server.

use crate::database::fresh_database;
use crate::helpers::test_settings;
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
        me.headers().get("www-authenticate").unwrap(),
        "Bearer realm=\"hybrid-auth\""
    );
}
