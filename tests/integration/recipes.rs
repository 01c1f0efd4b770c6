//! The README's "Extending it" recipes, as real tests: the README shows
//! excerpts of this file (and of the code it tests), and `readme.rs` checks
//! that every Rust block in the README is code that exists, so what people
//! copy compiles, passes and is formatted.

use crate::support::in_process::InProcess;
use crate::support::*;
use awc::http::StatusCode;
use hybrid_auth::auth::Scope;

#[actix_web::test]
async fn a_protected_page_sends_visitors_to_sign_in() {
    let app = spawn_app().await;
    let visitor = app.get("/refresh").await;
    assert_eq!(visitor.status, StatusCode::SEE_OTHER);
    assert_eq!(visitor.location(), "/login?next=/refresh");

    let (browser, email) = app.signed_in_browser().await;
    let page = browser.get("/refresh").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&email));
}

#[actix_web::test]
async fn a_form_needs_its_csrf_token() {
    let app = spawn_app().await;
    let (browser, _) = app.signed_in_browser().await;
    let refused = browser.post("/account/sessions/revoke-others").send().await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let token = browser.csrf_for("/account").await;
    let done = browser
        .post("/account/sessions/revoke-others")
        .form(&[("csrf_token", &token)])
        .send()
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn a_scoped_route_needs_its_scope() {
    let app = spawn_app().await;
    let token = app.bearer_with(&[Scope::ProfileRead]).await;
    assert_eq!(
        app.api_get("/api/v1/me", &token).await.status,
        StatusCode::OK
    );

    let token = app.bearer_with(&[Scope::NotesRead]).await;
    let refused = app.api_get("/api/v1/me", &token).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn a_scope_only_some_users_get() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    // Not in the default grant: a request for it is refused...
    let res = app
        .password_grant(&email, PASSWORD, Some(Scope::StatsRead.as_str()))
        .await;
    assert_eq!(res.json()["error"], "invalid_scope");

    // ...but a user an operator granted it to (`user grant-scope`) has it.
    let token = app.bearer_with(&[Scope::StatsRead]).await;
    let stats = app.api_get("/api/v1/stats", &token).await;
    assert_eq!(stats.status, StatusCode::OK);
    assert!(stats.json()["users"].as_i64().unwrap() >= 1);
}

#[actix_web::test]
async fn a_sensitive_api_route_needs_a_recent_sign_in() {
    let app = spawn_app().await;
    let token = app.bearer_with(&[Scope::ProfileWrite]).await;
    // Past REAUTH_WINDOW (10 minutes) the token still works, but not here:
    app.clock.advance(time::Duration::minutes(11));
    let refused = app.api_delete("/api/v1/me", &token).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json()["error"], "insufficient_user_authentication");
    let challenge = refused.header("www-authenticate").unwrap_or_default();
    assert!(challenge.contains("max_age=\"600\""), "{challenge}");

    // A fresh sign-in steps up, and the route runs.
    let token = app.bearer_with(&[Scope::ProfileWrite]).await;
    let done = app.api_delete("/api/v1/me", &token).await;
    assert_eq!(done.status, StatusCode::NO_CONTENT);
}

#[actix_web::test]
async fn a_route_tested_in_process() {
    let app = InProcess::with_user(&[Scope::NotesRead]).await;
    let res = app.get("/api/v1/notes").await;
    assert_eq!(res.status(), actix_web::http::StatusCode::OK);
    let body: serde_json::Value = actix_web::test::read_body_json(res).await;
    assert_eq!(body["notes"], serde_json::json!([]));
}
