//! `POST /auth/token`: a signed-in browser gets a short-lived access token
//! with its session cookie and the CSRF header (never a refresh token), and
//! logging out kills the tokens minted for that session.

use crate::helpers::*;
use awc::http::StatusCode;
use hybrid_auth::auth::scopes::Scope;
use serde_json::json;

#[actix_web::test]
async fn browsers_get_access_tokens_with_cookie_and_csrf_header() {
    let app = spawn_app().await;
    // Without a session: 401 login_required (after the origin check).
    let res = app.post("/auth/token").send().await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["error"], "login_required");
    let res = app
        .post("/auth/token")
        .header("origin", "https://evil.example")
        .send()
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    app.signed_in_user().await;
    let csrf = app.csrf_for("/account").await;
    assert_eq!(
        app.post("/auth/token").send().await.status,
        StatusCode::FORBIDDEN,
        "no CSRF header"
    );
    assert_eq!(
        app.post("/auth/token")
            .header("x-csrf-token", "nope")
            .send()
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let res = app
        .post("/auth/token")
        .header("x-csrf-token", &csrf)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .post("/auth/token")
        .header("x-csrf-token", &csrf)
        .form(&[("scope", "admin")])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["error"], "invalid_scope");

    let res = app
        .post("/auth/token")
        .header("x-csrf-token", &csrf)
        .header("origin", "http://localhost:8080")
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.header("cache-control").as_deref(), Some("no-store"));
    let json = res.json();
    assert!(
        json.get("refresh_token").is_none(),
        "browsers never get a refresh token"
    );
    let access = json["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.api_get("/api/v1/me", &access).await.status,
        StatusCode::OK
    );
    let narrowed = app
        .post("/auth/token")
        .header("x-csrf-token", &csrf)
        .json(&json!({"scope": Scope::NotesRead.as_str()}))
        .send()
        .await;
    assert_eq!(narrowed.json()["scope"], Scope::NotesRead.as_str());

    // Logging out in the browser kills the tokens minted for that session.
    let token = app.csrf_for("/logout").await;
    app.post("/logout")
        .form(&[("csrf_token", &token)])
        .send()
        .await;
    let res = app.api_get("/api/v1/me", &access).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["error_description"], "access token revoked");
}
