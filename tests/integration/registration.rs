//! Registration: it signs the new user in, validates its input, and can be
//! closed.

use crate::support::*;
use awc::http::StatusCode;

#[actix_web::test]
async fn registering_signs_in_and_lands_on_the_account_page() {
    let app = spawn_app().await;
    let res = app.register("  New.User@Example.COM ", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/account?notice=welcome");
    let account = app.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(
        account.body.contains("new.user@example.com"),
        "email is normalized"
    );
    assert!(account.body.contains("(this session)"));
}

#[actix_web::test]
async fn registration_validates_input() {
    let app = spawn_app().await;
    app.register("taken@example.com", PASSWORD).await;
    app.clear_cookies();
    for (email, pw, confirm, message) in [
        ("not-an-email", PASSWORD, PASSWORD, "valid email"),
        ("short@example.com", "short", "short", "at least 8"),
        (
            "mismatch@example.com",
            PASSWORD,
            "something else entirely",
            "do not match",
        ),
        (
            "TAKEN@example.com",
            PASSWORD,
            PASSWORD,
            "could not create an account",
        ),
    ] {
        let token = app.csrf_for("/register").await;
        let res = app
            .post("/register")
            .form(&[
                ("csrf_token", &token),
                ("email", email),
                ("password", pw),
                ("password_confirm", confirm),
            ])
            .send()
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{email}");
        assert!(res.body.contains(message), "{email}: {}", res.body);
    }
    let long = "x".repeat(1025);
    let token = app.csrf_for("/register").await;
    let res = app
        .post("/register")
        .form(&[
            ("csrf_token", &token),
            ("email", "long@example.com"),
            ("password", &long),
            ("password_confirm", &long),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.scalar_i64("SELECT count(*) AS n FROM users").await, 1);
    assert!(app.cookie("session").is_none());
}

#[actix_web::test]
async fn closed_registration_says_so_and_refuses_posts() {
    let app = spawn_app_with(|s| s.registration_open = false).await;
    let page = app.get("/register").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Registration is closed"));
    let token = meta_csrf(&page.body);
    let res = app
        .post("/register")
        .form(&[
            ("csrf_token", &token),
            ("email", "a@example.com"),
            ("password", PASSWORD),
            ("password_confirm", PASSWORD),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(app.scalar_i64("SELECT count(*) AS n FROM users").await, 0);
}

#[actix_web::test]
async fn an_address_no_mailer_can_send_to_is_refused_and_nothing_is_queued() {
    let app = spawn_app().await;
    let res = app.register("a,b@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("valid email"));
    assert_eq!(app.scalar_i64("SELECT count(*) AS n FROM users").await, 0);
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM mail_outbox")
            .await,
        0
    );
}

#[actix_web::test]
async fn sessions_from_before_verification_became_required_get_no_tokens() {
    // Optional verification: an unverified user signs in on the web and
    // through the password grant.
    let before = spawn_app().await;
    let email = before.signed_in_user().await;
    let (_, refresh) = before.api_tokens_for(&email).await;
    let browser = before.cookies();

    // The deployment switches to EMAIL_VERIFICATION=required.
    let mut settings = before.state.settings.clone();
    settings.bind_addr = "127.0.0.1:0".into();
    settings.email_verification_required = true;
    let after = spawn_app_on(settings).await;

    let res = after.refresh_grant(&refresh, None).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["error"], "invalid_grant");

    after.restore_cookies(browser);
    let csrf = after.csrf_for("/account").await;
    let res = after
        .post("/auth/token")
        .header("x-csrf-token", &csrf)
        .send()
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert!(!res.body.contains("access_token"));
}
