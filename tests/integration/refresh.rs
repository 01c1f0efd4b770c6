//! Refresh tokens for API clients: rotation, grace, theft detection,
//! concurrency, revocation, expiry.

use crate::support::*;
use awc::http::StatusCode;
use hybrid_auth::auth::tokens::scopes::{default_grant, Scope};
use serde_json::Value;
use time::Duration;

/// The access and refresh tokens of a 200 token response.
pub(crate) fn tokens(res: &Response) -> (String, String) {
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let json = res.json();
    (
        json["access_token"].as_str().unwrap().to_owned(),
        json["refresh_token"].as_str().unwrap().to_owned(),
    )
}

#[actix_web::test]
async fn refreshing_rotates_the_token_and_keeps_the_session() {
    let app = spawn_app().await;
    let (access, refresh) = app.api_tokens().await;
    let res = app.refresh_grant(&refresh, None).await;
    assert_eq!(res.header("cache-control").as_deref(), Some("no-store"));
    let (access2, refresh2) = tokens(&res);
    assert_ne!(refresh, refresh2);
    assert!(refresh2.starts_with("rt_") && refresh2.len() >= 46);
    assert_eq!(
        jwt_part(&access, 1)["sid"],
        jwt_part(&access2, 1)["sid"],
        "same session"
    );
    assert_eq!(res.json()["scope"], default_grant());
    assert_eq!(
        app.api_get("/api/v1/me", &access2).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.api_get("/api/v1/me", &access).await.status,
        StatusCode::OK,
        "old access token lives to its exp"
    );
    let (_, refresh3) = tokens(&app.refresh_grant(&refresh2, None).await);
    assert_ne!(refresh3, refresh2);
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM refresh_tokens WHERE spent_at IS NULL")
            .await,
        1
    );
}

#[actix_web::test]
async fn refresh_tokens_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    let (_, refresh) = app.api_tokens().await;
    let (_, successor) = tokens(&app.refresh_grant(&refresh, None).await);
    for t in [&refresh, &successor] {
        let sql = format!(
            "SELECT count(*) AS n FROM refresh_tokens WHERE token_hash = convert_to('{t}', 'UTF8') \
             OR encode(token_hash, 'hex') = encode(convert_to('{t}', 'UTF8'), 'hex')"
        );
        assert_eq!(app.scalar_i64(&sql).await, 0);
        let sql = format!("SELECT count(*) AS n FROM refresh_tokens WHERE token_hash = sha256(convert_to('{t}', 'UTF8'))");
        assert_eq!(app.scalar_i64(&sql).await, 1, "found by its SHA-256");
    }
}

#[actix_web::test]
async fn a_replay_inside_the_grace_window_returns_the_same_successor() {
    let app = spawn_app().await;
    let (_, refresh) = app.api_tokens().await;
    let (_, first) = tokens(&app.refresh_grant(&refresh, None).await);
    app.clock.advance(Duration::seconds(9));
    let (access, again) = tokens(&app.refresh_grant(&refresh, None).await);
    assert_eq!(
        first, again,
        "the client that lost the response keeps its chain"
    );
    assert_eq!(
        app.api_get("/api/v1/me", &access).await.status,
        StatusCode::OK
    );
    let (_, next) = tokens(&app.refresh_grant(&first, None).await);
    assert_ne!(next, first);
}

#[actix_web::test]
async fn a_replay_after_the_grace_window_revokes_the_session() {
    let app = spawn_app().await;
    let (access, refresh) = app.api_tokens().await;
    let (access2, successor) = tokens(&app.refresh_grant(&refresh, None).await);
    app.clock.advance(Duration::seconds(11));

    let res = app.refresh_grant(&refresh, None).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["error"], "invalid_grant");

    let res = app.refresh_grant(&successor, None).await;
    assert_eq!(
        res.status,
        StatusCode::BAD_REQUEST,
        "the successor dies with the family"
    );
    assert_eq!(res.json()["error"], "invalid_grant");
    for token in [&access, &access2] {
        let res = app.api_get("/api/v1/me", token).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert_eq!(res.json()["error_description"], "access token revoked");
    }
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM auth_events WHERE kind = 'refresh_token_reuse'")
            .await,
        1
    );
    assert_eq!(
        app.scalar_i64(
            "SELECT count(*) AS n FROM sessions WHERE revoked_reason = 'refresh_token_reuse'"
        )
        .await,
        1
    );
}

#[actix_web::test]
async fn concurrent_refreshes_of_one_token_yield_one_successor() {
    let app = spawn_app_with(|s| s.workers = 2).await;
    let (_, refresh) = app.api_tokens().await;
    let requests = (0..16).map(|_| app.refresh_grant(&refresh, None));
    let responses = futures_util::future::join_all(requests).await;
    let successors: std::collections::HashSet<String> =
        responses.iter().map(|r| tokens(r).1).collect();
    assert_eq!(successors.len(), 1, "one chain, not {}", successors.len());
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM refresh_tokens")
            .await,
        2
    );
    let successor = successors.into_iter().next().unwrap();
    assert_eq!(
        app.refresh_grant(&successor, None).await.status,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn scope_on_refresh_narrows_the_access_token_only() {
    let app = spawn_app().await;
    let (_, refresh) = app.api_tokens().await;
    let notes_read = Scope::NotesRead.as_str();
    let res = app.refresh_grant(&refresh, Some(notes_read)).await;
    assert_eq!(res.json()["scope"], notes_read);
    let (narrow_access, next) = tokens(&res);
    assert_eq!(jwt_part(&narrow_access, 1)["scope"], notes_read);
    let res = app.refresh_grant(&next, None).await;
    assert_eq!(
        res.json()["scope"],
        default_grant(),
        "the family keeps its grant"
    );

    // A family granted less cannot widen.
    let email = app.api_user().await;
    let json = app
        .password_grant(&email, PASSWORD, Some(notes_read))
        .await
        .json();
    let rt = json["refresh_token"].as_str().unwrap();
    let res = app
        .refresh_grant(rt, Some(Scope::NotesWrite.as_str()))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["error"], "invalid_scope");
}

#[actix_web::test]
async fn bad_refresh_tokens_get_invalid_grant() {
    let app = spawn_app().await;
    let (access, refresh) = app.api_tokens().await;
    let unknown = format!("rt_{}", "A".repeat(43));
    let mut flipped = refresh.clone();
    flipped.pop();
    flipped.push(if refresh.ends_with('A') { 'B' } else { 'A' });
    for (name, token) in [
        ("unknown", unknown.as_str()),
        ("altered", flipped.as_str()),
        ("access token", access.as_str()),
        ("malformed", "rt_!!!"),
        ("truncated", &refresh[..20]),
        ("huge", &"r".repeat(5000)),
    ] {
        let res = app.refresh_grant(token, None).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(res.json()["error"], "invalid_grant", "{name}");
    }
    // And a refresh token is not an access token.
    assert_eq!(
        app.api_get("/api/v1/ping", &refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
    // None of that hurt the real family.
    assert_eq!(
        app.refresh_grant(&refresh, None).await.status,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn revoke_endpoint_kills_the_family_and_always_answers_200() {
    let app = spawn_app().await;
    let (access, refresh) = app.api_tokens().await;
    let revoke = |token: &str| {
        app.post("/api/v1/auth/revoke")
            .no_cookies()
            .form(&[("token", token)])
            .send()
    };
    let res = revoke(&refresh).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.is_empty());
    assert_eq!(
        app.refresh_grant(&refresh, None).await.json()["error"],
        "invalid_grant"
    );
    assert_eq!(
        app.api_get("/api/v1/me", &access).await.json()["error_description"],
        "access token revoked"
    );

    // An access token revokes its session too.
    let (access, refresh) = app.api_tokens().await;
    assert_eq!(revoke(&access).await.status, StatusCode::OK);
    assert_eq!(
        app.refresh_grant(&refresh, None).await.status,
        StatusCode::BAD_REQUEST
    );

    for junk in ["rt_unknown", "not-a-token", "a.b.c"] {
        let res = revoke(junk).await;
        assert_eq!(res.status, StatusCode::OK, "{junk}");
        assert!(res.body.is_empty());
    }
    let res = app
        .post("/api/v1/auth/revoke")
        .no_cookies()
        .form(&[("nothing", "here")])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["error"], "invalid_request");
}

#[actix_web::test]
async fn bearer_logout_ends_the_refresh_family() {
    let app = spawn_app().await;
    let (access, refresh) = app.api_tokens().await;
    let res = app.api_logout(&access).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.refresh_grant(&refresh, None).await.json()["error"],
        "invalid_grant"
    );
    assert_eq!(
        app.post("/api/v1/auth/logout")
            .no_cookies()
            .send()
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn an_idle_family_expires_after_the_refresh_ttl() {
    let app = spawn_app_with(|s| s.refresh_token_ttl = Duration::hours(1)).await;
    let (_, refresh) = app.api_tokens().await;
    app.clock.advance(Duration::minutes(59));
    let (_, refresh) = tokens(&app.refresh_grant(&refresh, None).await);
    app.clock.advance(Duration::minutes(59));
    let (_, refresh) = tokens(&app.refresh_grant(&refresh, None).await);
    app.clock.advance(Duration::minutes(61));
    let res = app.refresh_grant(&refresh, None).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["error"], "invalid_grant");
}

#[actix_web::test]
async fn a_family_ends_at_the_absolute_timeout_however_active() {
    let app = spawn_app_with(|s| {
        s.refresh_token_ttl = Duration::hours(1);
        s.session_absolute_timeout = Duration::hours(2);
    })
    .await;
    let (_, mut refresh) = app.api_tokens().await;
    for _ in 0..2 {
        app.clock.advance(Duration::minutes(50));
        let res = app.refresh_grant(&refresh, None).await;
        let json: Value = res.json();
        assert!(json["expires_in"].as_i64().unwrap() <= 900);
        refresh = tokens(&res).1;
    }
    app.clock.advance(Duration::minutes(21));
    assert_eq!(
        app.refresh_grant(&refresh, None).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[actix_web::test]
async fn api_sessions_are_listed_and_revocable_on_the_account_page() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let res = app
        .post("/api/v1/auth/token")
        .no_cookies()
        .header("user-agent", "notes-cli/2.0")
        .form(&[
            ("grant_type", "password"),
            ("username", &email),
            ("password", PASSWORD),
        ])
        .send()
        .await;
    let (_, refresh) = tokens(&res);
    let account = app.get("/account").await;
    assert!(account.body.contains("notes-cli/2.0"));
    let start = account.body.find("notes-cli/2.0").unwrap();
    let id_start =
        account.body[..start].rfind("data-session-id=\"").unwrap() + "data-session-id=\"".len();
    let id = &account.body[id_start..id_start + 36];
    let token = meta_csrf(&account.body);
    let res = app
        .post(&format!("/account/sessions/{id}/revoke"))
        .form(&[("csrf_token", &token)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.refresh_grant(&refresh, None).await.json()["error"],
        "invalid_grant"
    );
}

#[actix_web::test]
async fn purge_removes_dead_rows_only() {
    let app = spawn_app().await;
    let (_, live) = app.api_tokens().await;
    let (access, _dead) = app.api_tokens().await;
    app.api_logout(&access).await;
    let mut conn = app.conn().await;
    let purged =
        hybrid_auth::maintenance::purge(&mut conn, app.clock.now(), time::Duration::seconds(10))
            .await
            .unwrap();
    drop(conn);
    assert_eq!(purged.refresh_tokens, 1);
    assert_eq!(app.refresh_grant(&live, None).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn a_refused_scope_spends_nothing() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    let json = app
        .password_grant(&email, PASSWORD, Some(Scope::NotesRead.as_str()))
        .await
        .json();
    let rt = json["refresh_token"].as_str().unwrap().to_owned();
    for scope in [Scope::NotesWrite.as_str(), "admin"] {
        let res = app.refresh_grant(&rt, Some(scope)).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert_eq!(res.json()["error"], "invalid_scope");
    }
    app.clock.advance(Duration::seconds(60));
    assert_eq!(
        app.refresh_grant(&rt, None).await.status,
        StatusCode::OK,
        "still the live token"
    );
}

#[actix_web::test]
async fn successor_nonces_are_cleared_after_the_grace_window() {
    let app = spawn_app().await;
    let (_, refresh) = app.api_tokens().await;
    tokens(&app.refresh_grant(&refresh, None).await);
    let nonces = "SELECT count(*) AS n FROM refresh_tokens WHERE successor_nonce IS NOT NULL";
    assert_eq!(app.scalar_i64(nonces).await, 1);
    let mut conn = app.conn().await;
    let grace = app.state.settings.refresh_reuse_grace;
    hybrid_auth::auth::tokens::refresh::scrub_nonces(&mut conn, app.clock.now(), grace)
        .await
        .unwrap();
    assert_eq!(
        app.scalar_i64(nonces).await,
        1,
        "kept during the grace window"
    );
    app.clock.advance(Duration::seconds(11));
    hybrid_auth::auth::tokens::refresh::scrub_nonces(&mut conn, app.clock.now(), grace)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(app.scalar_i64(nonces).await, 0);
    // The spent token is now simply a reused one.
    assert_eq!(
        app.refresh_grant(&refresh, None).await.json()["error"],
        "invalid_grant"
    );
}
