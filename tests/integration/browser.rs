//! The browser side. `POST /auth/token`: a signed-in browser gets a
//! short-lived access token with its session cookie and the CSRF header
//! (never a refresh token), and logging out kills the tokens minted for that
//! session. And the refresh flow in real headless Chromium: auth-fetch.js
//! keeps API calls working across token expiry without a login prompt, shares
//! one refresh among concurrent failures, and a logout elsewhere ends at
//! /login; a forgotten password is reset by mail in the browser.

use crate::support::webdriver::Browser;
use crate::support::*;
use awc::http::StatusCode;
use hybrid_auth::auth::tokens::scopes::Scope;
use serde_json::json;
use std::time::Duration;

/// The app on a port the browser's Origin will match (PUBLIC_URL must equal
/// the origin the pages are served from).
async fn browser_app() -> TestApp {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    spawn_app_with(|s| {
        s.bind_addr = format!("127.0.0.1:{port}");
        s.public_url = format!("http://127.0.0.1:{port}");
        s.access_token_ttl = time::Duration::seconds(5);
        s.clock_skew_leeway = time::Duration::ZERO;
    })
    .await
}

async fn register_in_browser(app: &TestApp, browser: &Browser) -> String {
    let email = format!("b-{}@example.com", uuid::Uuid::new_v4().simple());
    browser.goto(&format!("{}/register", app.address)).await;
    browser.type_into("#email", &email).await;
    browser.type_into("#password", PASSWORD).await;
    browser.type_into("#password_confirm", PASSWORD).await;
    browser.click("form[action='/register'] button").await;
    browser
        .wait_for("the account page", Duration::from_secs(10), async |b| {
            b.url().await.ends_with("/account?notice=welcome")
        })
        .await;
    email
}

/// A fresh app, a user registered through the form, and the refresh demo
/// open with its first API call done.
async fn signed_in_on_the_refresh_page(browser: &Browser) -> TestApp {
    let app = browser_app().await;
    register_in_browser(&app, browser).await;
    browser.goto(&format!("{}/refresh", app.address)).await;
    browser
        .wait_for("the first API call", Duration::from_secs(10), async |b| {
            b.counter("apiOk").await >= 1
        })
        .await;
    app
}

#[actix_web::test]
async fn api_calls_survive_token_expiry_and_a_logout_elsewhere_ends_at_login() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = signed_in_on_the_refresh_page(&browser).await;
    let refreshes = browser.counter("refreshes").await;
    assert!(refreshes >= 1);

    // The tokens expire: once for real (5 s lifetime, renewed ahead of time
    // by the helper) and once behind the helper's back by moving the server
    // clock, so the API answers 401 and the helper refreshes and retries.
    app.clock.advance(time::Duration::minutes(16));
    let ok_before = browser.counter("apiOk").await;
    browser
        .wait_for(
            "calls to continue past expiry",
            Duration::from_secs(20),
            async |b| {
                b.counter("apiOk").await >= ok_before + 3
                    && b.counter("refreshes").await >= refreshes + 2
            },
        )
        .await;
    assert_eq!(browser.counter("apiFail").await, 0, "no call failed");
    assert!(browser.url().await.ends_with("/refresh"), "no login prompt");
    let log = browser
        .eval("return document.getElementById('log').textContent;")
        .await;
    assert!(
        log.as_str().unwrap_or_default().contains("retry-after-401"),
        "the 401 path ran: {log}"
    );
    let expiry = browser
        .eval("return document.getElementById('expiry').textContent;")
        .await;
    let expiry = expiry.as_str().unwrap_or_default();
    assert!(
        expiry.ends_with('s') || expiry == "expired",
        "countdown shown: {expiry}"
    );

    // Log out in a second window; the first ends at the login page.
    let first = browser.window().await;
    let second = browser.new_window().await;
    browser.switch_to(&second).await;
    browser.goto(&format!("{}/logout", app.address)).await;
    browser.click("form[action='/logout'] button").await;
    browser
        .wait_for(
            "the second window at /login",
            Duration::from_secs(10),
            async |b| b.url().await.contains("/login"),
        )
        .await;
    browser.switch_to(&first).await;
    browser
        .wait_for(
            "the first window at /login",
            Duration::from_secs(10),
            async |b| b.url().await.contains("/login?next=%2Frefresh"),
        )
        .await;
    browser.quit().await;
}

#[actix_web::test]
async fn concurrent_failures_share_one_refresh() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = signed_in_on_the_refresh_page(&browser).await;
    // Stop the timer so only the burst talks to the server.
    browser.click("#toggle-auto").await;
    let expiry_ms = browser
        .eval("return import('/static/js/auth-fetch.js').then(m => m.getTokenExpiry());")
        .await;
    assert!(expiry_ms.as_f64().is_some(), "a token is held: {expiry_ms}");

    // Every token the page holds is now expired server-side while the page
    // still thinks it is good: all five calls get 401 at once.
    app.clock.advance(time::Duration::minutes(16));
    let (ok, refreshes) = (
        browser.counter("apiOk").await,
        browser.counter("refreshes").await,
    );
    browser.click("#burst").await;
    browser
        .wait_for("the burst to finish", Duration::from_secs(15), async |b| {
            b.counter("apiOk").await >= ok + 5
        })
        .await;
    assert_eq!(
        browser.counter("refreshes").await,
        refreshes + 1,
        "exactly one refresh for five failures"
    );
    assert_eq!(browser.counter("apiFail").await, 0);
    browser.quit().await;
}

#[actix_web::test]
async fn a_forgotten_password_is_reset_by_mail_in_the_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let smtp = crate::support::smtp::SmtpReceiver::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let smtp_port = smtp.port;
    let app = spawn_app_with(|s| {
        s.bind_addr = format!("127.0.0.1:{port}");
        s.public_url = format!("http://127.0.0.1:{port}");
        s.mail_url = Some(format!("smtp://127.0.0.1:{smtp_port}").into());
    })
    .await;
    let email = app.api_user().await;

    // Sign-in page → "Forgot your password?" → the form.
    browser.goto(&format!("{}/login", app.address)).await;
    browser.click("a[href='/password/forgot']").await;
    browser.type_into("#email", &email).await;
    browser
        .click("form[action='/password/forgot'] button")
        .await;
    browser
        .wait_for("the confirmation", Duration::from_secs(10), async |b| {
            b.eval("return !!document.getElementById('forgot-sent')")
                .await
                == true
        })
        .await;

    // The mail's link → a new password.
    let reset_mail = smtp
        .wait_for_mails(2)
        .await
        .into_iter()
        .find(|m| m.data.contains("Reset your password"))
        .expect("the reset mail");
    let link = crate::support::smtp::link(&reset_mail, &format!("{}/password/reset/", app.address))
        .expect("a reset link");
    browser.goto(&link).await;
    let new_password = "my new browser password";
    browser.type_into("#new_password", new_password).await;
    browser.type_into("#password_confirm", new_password).await;
    browser.click("form[action='/password/reset'] button").await;
    browser
        .wait_for("the sign-in page", Duration::from_secs(10), async |b| {
            b.url().await.contains("/login?notice=password-reset")
        })
        .await;

    // Sign in with the new password.
    browser.type_into("#email", &email).await;
    browser.type_into("#password", new_password).await;
    browser.click("form[action='/login'] button").await;
    browser
        .wait_for("the account page", Duration::from_secs(10), async |b| {
            b.url().await.ends_with("/account")
        })
        .await;
    browser.quit().await;
}

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
