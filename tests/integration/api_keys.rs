//! API keys from outside: made through the API (step-up) and used as
//! `Bearer` with their own scopes; never a step-up, never a token grant;
//! listed without the key; revoked by the owner or by anyone holding it, and
//! then refused on every instance within a second; expired at their expiry;
//! stored only as a hash.

use crate::support::*;
use awc::http::StatusCode;
use diesel_async::RunQueryDsl;
use hybrid_auth::auth::keys::api_keys;
use hybrid_auth::auth::{RevokeReason, Scope, Target};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A user with a fresh token that may make keys: (token, email).
async fn owner(app: &TestApp) -> (String, String) {
    let email = app.api_user().await;
    app.prove_addresses().await;
    let res = app.password_grant(&email, PASSWORD, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let token = res.json()["access_token"].as_str().unwrap().to_owned();
    (token, email)
}

pub(crate) async fn make_key(app: &TestApp, token: &str, body: Value) -> Response {
    app.post("/api/v1/api-keys")
        .no_cookies()
        .bearer(token)
        .json(&body)
        .send()
        .await
}

/// A key with `scope` for a new user: (the key, its id, the user's token).
pub(crate) async fn key_with(app: &TestApp, scope: &str) -> (String, String, String) {
    let (token, _) = owner(app).await;
    let res = make_key(app, &token, json!({"name": "ci job", "scope": scope})).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let body = res.json();
    (
        body["key"].as_str().unwrap().to_owned(),
        body["id"].as_str().unwrap().to_owned(),
        token,
    )
}

#[actix_web::test]
async fn a_key_with_notes_read_reads_notes_and_nothing_else() {
    let app = spawn_app().await;
    let (token, _) = owner(&app).await;
    let res = make_key(
        &app,
        &token,
        json!({"name": "backup script", "scope": Scope::NotesRead.as_str()}),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.header("cache-control").as_deref(), Some("no-store"));
    let created = res.json();
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(
        key.starts_with(&format!("{}_", api_keys::prefix())),
        "{key}"
    );
    assert_eq!(created["scope"], "notes:read");
    assert!(created["expires_at"].is_string() && created["created_at"].is_string());

    let notes = app.api_get("/api/v1/notes", &key).await;
    assert_eq!(notes.status, StatusCode::OK, "{}", notes.body);
    let write = app
        .post("/api/v1/notes")
        .no_cookies()
        .bearer(&key)
        .json(&json!({"title": "t"}))
        .send()
        .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert_eq!(write.json()["error"], "insufficient_scope");
    let ping = app.api_get("/api/v1/ping", &key).await.json();
    assert_eq!(ping["auth"], "api_key");
    assert_eq!(ping["api_key_id"], created["id"]);

    // Listed with its first characters, its last use, never the key.
    let listed = app.api_get("/api/v1/api-keys", &token).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(!listed.body.contains(&key));
    let entry = &listed.json()["api_keys"][0];
    assert_eq!(entry["id"], created["id"]);
    assert_eq!(entry["name"], "backup script");
    assert!(key.starts_with(entry["start"].as_str().unwrap()));
    assert!(entry["last_used_at"].is_string(), "{entry}");
    // The owner heard of it.
    assert_eq!(
        app.scalar_i64(
            "SELECT count(*) AS n FROM mail_outbox WHERE subject = 'An API key was created'"
        )
        .await,
        1
    );
}

#[actix_web::test]
async fn the_key_is_nowhere_in_the_database_in_clear() {
    let app = spawn_app().await;
    let (key, _, _) = key_with(&app, "notes:read").await;
    assert_eq!(
        app.api_get("/api/v1/ping", &key).await.status,
        StatusCode::OK
    );
    let random = key.split_once('_').unwrap().1.to_owned();
    #[derive(diesel::QueryableByName)]
    struct Table {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let mut conn = app.conn().await;
    let tables: Vec<Table> = diesel::sql_query(
        "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert!(tables.len() > 10);
    for t in tables {
        let hits = app
            .scalar_i64(&format!(
                "SELECT count(*) AS n FROM \"{}\" t WHERE row_to_json(t)::text LIKE '%{random}%'",
                t.name
            ))
            .await;
        assert_eq!(hits, 0, "the key is in {}", t.name);
    }
}

#[actix_web::test]
async fn a_key_is_never_a_step_up_never_a_grant_and_never_a_page() {
    let app = spawn_app().await;
    let grant = hybrid_auth::auth::tokens::scopes::default_grant();
    let (key, _, _) = key_with(&app, &grant).await;
    let delete = app.api_delete("/api/v1/me", &key).await;
    assert_eq!(delete.status, StatusCode::UNAUTHORIZED, "{}", delete.body);
    assert_eq!(delete.json()["error"], "insufficient_user_authentication");
    let another = make_key(&app, &key, json!({"name": "b", "scope": "notes:read"})).await;
    assert_eq!(another.status, StatusCode::UNAUTHORIZED);
    assert_eq!(another.json()["error"], "insufficient_user_authentication");
    let refresh = app
        .post("/api/v1/auth/token")
        .no_cookies()
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &key)])
        .send()
        .await;
    assert_eq!(refresh.status, StatusCode::BAD_REQUEST);
    assert_eq!(refresh.json()["error"], "invalid_grant");
    let page = app
        .req(awc::http::Method::GET, "/account")
        .no_cookies()
        .bearer(&key)
        .send()
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "a page wants a sign-in");
}

#[actix_web::test]
async fn what_a_key_asks_for_is_checked() {
    let app = spawn_app().await;
    let (token, _) = owner(&app).await;
    let cases = [
        (json!({"name": "x", "scope": "stats:read"}), "invalid_scope"),
        (json!({"name": "x", "scope": "no:such"}), "invalid_scope"),
        (json!({"name": "x", "scope": ""}), "invalid_scope"),
        (
            json!({"name": "", "scope": "notes:read"}),
            "invalid_request",
        ),
        (
            json!({"name": "x".repeat(65), "scope": "notes:read"}),
            "invalid_request",
        ),
        (
            json!({"name": "x", "scope": "notes:read", "expires_in": 366 * 86_400}),
            "invalid_request",
        ),
        (
            json!({"name": "x", "scope": "notes:read", "expires_in": 59}),
            "invalid_request",
        ),
    ];
    for (body, error) in cases {
        let res = make_key(&app, &token, body.clone()).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{body}: {}", res.body);
        assert_eq!(res.json()["error"], error, "{body}");
    }
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM api_keys").await,
        0
    );

    // An old sign-in must step up first.
    app.clock.advance(time::Duration::minutes(11));
    let stale = make_key(&app, &token, json!({"name": "x", "scope": "notes:read"})).await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    assert_eq!(stale.json()["error"], "insufficient_user_authentication");

    // An address not proven yet gets no key.
    let unproven = app.api_user().await;
    let res = app.password_grant(&unproven, PASSWORD, None).await;
    let fresh = res.json()["access_token"].as_str().unwrap().to_owned();
    let refused = make_key(&app, &fresh, json!({"name": "x", "scope": "notes:read"})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
}

/// Polls `path` with `key` on `app` until it is refused (at most `limit`).
async fn refused_within(app: &TestApp, key: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let res = app.api_get("/api/v1/ping", key).await;
        if res.status == StatusCode::UNAUTHORIZED {
            assert_eq!(res.json()["error"], "invalid_token");
            return start.elapsed();
        }
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert!(start.elapsed() < limit, "still accepted after {limit:?}");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

#[actix_web::test]
async fn a_revoked_key_is_refused_on_another_instance_within_a_second() {
    let a = spawn_app().await;
    let mut settings = a.state.settings.clone();
    settings.bind_addr = "127.0.0.1:0".into();
    let b = spawn_app_on(settings).await;
    let (key, id, token) = key_with(&a, "notes:read").await;
    // B knows the key (cached: no database round trip from here on).
    assert_eq!(b.api_get("/api/v1/ping", &key).await.status, StatusCode::OK);
    assert_eq!(b.api_get("/api/v1/ping", &key).await.status, StatusCode::OK);

    let res = a
        .api_delete(&format!("/api/v1/api-keys/{id}"), &token)
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    refused_within(&b, &key, Duration::from_secs(1)).await;
    assert_eq!(
        a.api_get("/api/v1/ping", &key).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Gone from the list; a second revoke (or another user's) is 404.
    let listed = a.api_get("/api/v1/api-keys", &token).await.json();
    assert_eq!(listed["api_keys"], json!([]));
    let again = a
        .api_delete(&format!("/api/v1/api-keys/{id}"), &token)
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let junk = a.api_delete("/api/v1/api-keys/not-an-id", &token).await;
    assert_eq!(junk.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn anyone_holding_a_leaked_key_can_end_it_and_another_user_cannot_touch_it() {
    let a = spawn_app().await;
    let mut settings = a.state.settings.clone();
    settings.bind_addr = "127.0.0.1:0".into();
    let b = spawn_app_on(settings).await;
    let (key, id, _) = key_with(&a, "notes:read").await;
    let (stranger, _) = owner(&a).await;
    let res = a
        .api_delete(&format!("/api/v1/api-keys/{id}"), &stranger)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "another user's key");
    assert_eq!(b.api_get("/api/v1/ping", &key).await.status, StatusCode::OK);

    let revoke = a
        .post("/api/v1/auth/revoke")
        .no_cookies()
        .form(&[("token", &key)])
        .send()
        .await;
    assert_eq!(revoke.status, StatusCode::OK);
    refused_within(&b, &key, Duration::from_secs(1)).await;
}

#[actix_web::test]
async fn a_key_ends_at_its_expiry() {
    let app = spawn_app().await;
    let (token, _) = owner(&app).await;
    let res = make_key(
        &app,
        &token,
        json!({"name": "short", "scope": "notes:read", "expires_in": 120}),
    )
    .await;
    let key = res.json()["key"].as_str().unwrap().to_owned();
    assert_eq!(
        app.api_get("/api/v1/ping", &key).await.status,
        StatusCode::OK
    );
    app.clock.advance(time::Duration::seconds(121));
    let expired = app.api_get("/api/v1/ping", &key).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert!(
        expired.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{}",
        expired.body
    );
}

#[actix_web::test]
async fn a_password_change_keeps_keys_and_a_reset_or_deletion_ends_them() {
    let app = spawn_app().await;
    let (key, _, _) = key_with(&app, "notes:read").await;
    let user_id = app
        .scalar_uuid("SELECT user_id AS id FROM sessions WHERE kind = 'key'")
        .await;
    let end = async |target, reason| {
        let mut conn = app.conn().await;
        hybrid_auth::auth::sessions::revoke(&app.state, &mut conn, target, reason, "")
            .await
            .unwrap();
    };
    // Ending the user's sign-ins (a password change, "log out other
    // sessions") leaves the key.
    end(
        Target::AllOfUser {
            user_id,
            keep: None,
        },
        RevokeReason::PasswordChange,
    )
    .await;
    assert_eq!(
        app.api_get("/api/v1/ping", &key).await.status,
        StatusCode::OK
    );
    // A reset (the owner taking the account back) ends it.
    end(Target::Everything { user_id }, RevokeReason::PasswordReset).await;
    assert_eq!(
        app.api_get("/api/v1/ping", &key).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn a_cached_key_is_read_again_before_the_view_forgets_a_revocation() {
    // Short-lived access tokens make a short revocation window.
    let a = spawn_app_with(|s| {
        s.access_token_ttl = time::Duration::seconds(20);
        s.clock_skew_leeway = time::Duration::ZERO;
    })
    .await;
    let mut settings = a.state.settings.clone();
    settings.bind_addr = "127.0.0.1:0".into();
    let b = spawn_app_on(settings).await;
    let window = b.state.revocations.window();
    let recheck = api_keys::recheck(&b.state);
    assert!(
        recheck * 2 <= window,
        "{recheck} against a window of {window}"
    );
    let (key, id, token) = key_with(&a, "notes:read").await;
    assert_eq!(b.api_get("/api/v1/ping", &key).await.status, StatusCode::OK);
    let res = a
        .api_delete(&format!("/api/v1/api-keys/{id}"), &token)
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    refused_within(&b, &key, Duration::from_secs(1)).await;
    // Past the window B's view has forgotten the revocation; B's cached copy
    // of the key is older than the recheck by then, so B asks again.
    b.clock.advance(window + time::Duration::seconds(1));
    b.state.revocations.prune();
    assert_eq!(
        b.api_get("/api/v1/ping", &key).await.status,
        StatusCode::UNAUTHORIZED
    );
}
