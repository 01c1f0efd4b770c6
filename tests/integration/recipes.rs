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

    // ...until an operator grants it: `hybrid-auth user grant-scope`.
    let mut conn = app.conn().await;
    let user = hybrid_auth::db::users::find_by_email(&mut conn, &email)
        .await
        .unwrap()
        .unwrap();
    let grant = hybrid_auth::auth::tokens::scopes::with(&user.scopes, &[Scope::StatsRead]);
    hybrid_auth::db::users::set_scopes(&mut conn, user.id, &grant, app.clock.now())
        .await
        .unwrap();
    let res = app
        .password_grant(&email, PASSWORD, Some(Scope::StatsRead.as_str()))
        .await;
    let token = res.json()["access_token"].as_str().unwrap().to_owned();
    let stats = app.api_get("/api/v1/stats", &token).await;
    assert_eq!(stats.status, StatusCode::OK);
    assert!(stats.json()["users"].as_i64().unwrap() >= 1);
}

#[actix_web::test]
async fn a_route_tested_in_process() {
    let app = InProcess::with_user(&[Scope::NotesRead]).await;
    let res = app.get("/api/v1/notes").await;
    assert_eq!(res.status(), actix_web::http::StatusCode::OK);
    let body: serde_json::Value = actix_web::test::read_body_json(res).await;
    assert_eq!(body["notes"], serde_json::json!([]));
}
