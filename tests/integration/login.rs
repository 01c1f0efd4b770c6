//! Signing in and out: a new session key at login (never a planted one),
//! identical failures, a safe `next`, CSRF on the login form, logout by POST
//! only, auth events, no session for a password that just changed.

use crate::support::*;
use awc::http::StatusCode;
use hybrid_auth::auth::tokens::scopes::Scope;

#[actix_web::test]
async fn login_renews_the_session_key() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let before = app.cookie("session").expect("cookie after register");
    let old_jar = app.cookies();
    let res = app.login(&email, PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let after = app.cookie("session").expect("cookie after login");
    assert_ne!(before, after, "login must issue a new key");
    // Signing in over a live session revoked the old one.
    app.restore_cookies(old_jar);
    assert_eq!(app.get("/account").await.status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn a_planted_session_cookie_is_not_adopted_at_login() {
    let app = spawn_app().await;
    app.register("victim@example.com", PASSWORD).await;
    app.clear_cookies();
    app.set_cookie("session", "attacker-chosen-value");
    let res = app.login("victim@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_ne!(
        app.cookie("session").as_deref(),
        Some("attacker-chosen-value")
    );
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
}

#[actix_web::test]
async fn login_failure_is_identical_for_unknown_email_and_wrong_password() {
    let app = spawn_app().await;
    app.register("known@example.com", PASSWORD).await;
    app.clear_cookies();
    let wrong = app.login("known@example.com", "not the password").await;
    let unknown = app.login("nobody@example.com", "not the password").await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let normalize = |body: &str, email: &str| body.replace(email, "EMAIL");
    assert_eq!(
        normalize(&wrong.body, "known@example.com"),
        normalize(&unknown.body, "nobody@example.com")
    );
    assert!(wrong.body.contains("Incorrect email or password."));
    assert!(app.cookie("session").is_none());
}

#[actix_web::test]
async fn login_redirects_to_a_safe_next_only() {
    let app = spawn_app().await;
    app.register("next@example.com", PASSWORD).await;
    for (next, expected) in [
        ("/refresh?x=1", "/refresh?x=1"),
        ("//evil.example/", "/account"),
        ("https://evil.example/", "/account"),
        ("/\\evil.example", "/account"),
        ("javascript:alert(1)", "/account"),
    ] {
        app.clear_cookies();
        let token = app.csrf_for("/login").await;
        let res = app
            .post("/login")
            .form(&[
                ("csrf_token", &token),
                ("email", "next@example.com"),
                ("password", PASSWORD),
                ("next", next),
            ])
            .send()
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{next}");
        assert_eq!(res.location(), expected, "{next}");
    }
    app.clear_cookies();
    let page = app.get("/login?next=%2F%2Fevil.example").await;
    assert!(
        page.body.contains("name=\"next\" value=\"\""),
        "unsafe next is not echoed"
    );
}

#[actix_web::test]
async fn protected_pages_redirect_to_login_with_next() {
    let app = spawn_app().await;
    let res = app.get("/account?tab=sessions").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/login?next=/account%3Ftab%3Dsessions");
    assert_eq!(app.get("/refresh").await.location(), "/login?next=/refresh");
}

#[actix_web::test]
async fn login_form_without_or_with_a_wrong_csrf_token_is_refused() {
    let app = spawn_app().await;
    app.register("csrf@example.com", PASSWORD).await;
    app.clear_cookies();
    let token = app.csrf_for("/login").await;
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        ("missing token", vec![], vec![]),
        ("wrong token", vec![("csrf_token", "forged")], vec![]),
        (
            "foreign origin",
            vec![("csrf_token", &token)],
            vec![("origin", "https://evil.example")],
        ),
        (
            "null origin",
            vec![("csrf_token", &token)],
            vec![("origin", "null")],
        ),
        (
            "cross-site fetch",
            vec![("csrf_token", &token)],
            vec![("sec-fetch-site", "cross-site")],
        ),
        (
            "same-site fetch",
            vec![("csrf_token", &token)],
            vec![("sec-fetch-site", "same-site")],
        ),
    ];
    for (name, extra, headers) in cases {
        let mut fields = vec![("email", "csrf@example.com"), ("password", PASSWORD)];
        fields.extend(extra);
        let mut req = app.post("/login").form(&fields);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let res = req.send().await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{name}");
    }
    // One session from registering, none from the refused logins.
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM sessions").await,
        1
    );
    // The right token with a same-origin Origin works.
    let res = app
        .post("/login")
        .header("origin", "http://localhost:8080")
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("csrf_token", &token),
            ("email", "csrf@example.com"),
            ("password", PASSWORD),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn a_token_from_another_browser_does_not_pass() {
    let app = spawn_app().await;
    let token = app.csrf_for("/login").await;
    app.clear_cookies();
    app.get("/login").await; // new nonce cookie
    let res = app
        .login_with_token(&token, "x@example.com", PASSWORD)
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn logout_needs_a_post_and_kills_the_old_cookie() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let page = app.get("/logout").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("method=\"post\" action=\"/logout\""));
    let jar = app.cookies();
    let token = meta_csrf(&page.body);
    let res = app
        .post("/logout")
        .form(&[("csrf_token", &token)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/login?notice=signed-out");
    assert!(res
        .set_cookies()
        .iter()
        .any(|c| c.starts_with("session=;") || c.contains("Max-Age=0")));
    // Replaying the old cookie gets nowhere.
    app.restore_cookies(jar);
    assert_eq!(app.get("/account").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM sessions WHERE revoked_reason = 'logout'")
            .await,
        1
    );
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM session_state")
            .await,
        0
    );
}

#[actix_web::test]
async fn logout_with_a_wrong_token_changes_nothing() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let res = app
        .post("/logout")
        .form(&[("csrf_token", "nope")])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
}

#[actix_web::test]
async fn auth_events_are_recorded() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    app.login(&email, "wrong password").await;
    let token = app.csrf_for("/logout").await;
    app.post("/logout")
        .form(&[("csrf_token", &token)])
        .send()
        .await;
    let kinds = app.scalar_i64("SELECT count(DISTINCT kind) AS n FROM auth_events WHERE kind IN ('login_ok','login_failed','session_revoked')").await;
    assert_eq!(kinds, 3);
}

#[actix_web::test]
async fn a_session_is_not_opened_with_a_password_that_just_changed() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    let mut conn = app.conn().await;
    let mut user = hybrid_auth::db::users::find_by_email(&mut conn, &email)
        .await
        .unwrap()
        .unwrap();
    // What the login verified…
    user.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$c29tZWhhc2g".into();
    // …is no longer the stored hash: no session.
    let client = hybrid_auth::auth::http::client::ClientInfo {
        ip: "127.0.0.1".into(),
        user_agent: "t".into(),
    };
    let created = hybrid_auth::auth::sessions::create(
        &app.state,
        &mut conn,
        &user,
        hybrid_auth::auth::sessions::Kind::Web,
        Scope::ProfileRead.as_str(),
        &client,
        hybrid_auth::auth::sessions::Assurance::PASSWORD,
    )
    .await
    .unwrap();
    assert!(created.is_none());
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM sessions").await,
        1,
        "only the registration's"
    );
}
