//! The browser half: register, login, logout, account, CSRF, expiry, outages.

use crate::helpers::*;
use awc::http::StatusCode;
use time::Duration;

fn contains_all(haystack: &str, needles: &[&str]) {
    for n in needles {
        assert!(haystack.contains(n), "missing {n:?} in {haystack}");
    }
}

#[actix_web::test]
async fn landing_page_links_to_login_register_and_account() {
    let app = spawn_app().await;
    let res = app.get("/").await;
    assert_eq!(res.status, StatusCode::OK);
    contains_all(
        &res.body,
        &[
            "href=\"/login\"",
            "href=\"/register\"",
            "href=\"/account\"",
            "name=\"csrf-token\"",
        ],
    );
}

#[actix_web::test]
async fn html_responses_carry_security_headers() {
    let app = spawn_app().await;
    for path in ["/", "/login", "/register", "/logout", "/nope"] {
        let res = app.get(path).await;
        let csp = res.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(
            res.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert!(res.header("referrer-policy").is_some(), "{path}");
        assert_eq!(
            res.header("cache-control").as_deref(),
            Some("no-store"),
            "{path}"
        );
    }
    assert_eq!(app.get("/nope").await.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn anonymous_page_views_write_nothing_to_the_database() {
    let app = spawn_app().await;
    for path in ["/", "/login", "/register", "/login", "/logout"] {
        app.get(path).await;
    }
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM session_state")
            .await,
        0
    );
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM sessions").await,
        0
    );
    assert!(app.cookie("session").is_none());
}

#[actix_web::test]
async fn registering_signs_in_and_lands_on_the_account_page() {
    let app = spawn_app().await;
    let res = app.register("  New.User@Example.COM ", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/account");
    let account = app.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(
        account.body.contains("new.user@example.com"),
        "email is normalized"
    );
    assert!(account.body.contains("(this session)"));
}

#[actix_web::test]
async fn session_cookie_is_httponly_lax_and_host_scoped() {
    let app = spawn_app().await;
    let res = app.register("flags@example.com", PASSWORD).await;
    let cookie = res
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("session="))
        .expect("session cookie");
    contains_all(&cookie, &["HttpOnly", "SameSite=Lax", "Path=/"]);
    assert!(!cookie.contains("Domain"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http by default: {cookie}"
    );
}

#[actix_web::test]
async fn secure_cookies_use_the_host_prefix() {
    let app = spawn_app_with(|s| s.cookie_secure = true).await;
    let res = app.get("/login").await;
    let csrf = res
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-csrf="))
        .expect("csrf cookie");
    contains_all(&csrf, &["Secure", "HttpOnly", "Path=/"]);
    // Drive the login by hand: our client keeps cookies regardless of Secure.
    let res = app.register("secure@example.com", PASSWORD).await;
    let cookie = res
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-session="))
        .expect("session cookie");
    contains_all(&cookie, &["Secure", "HttpOnly", "SameSite=Lax", "Path=/"]);
    assert!(!cookie.contains("Domain"));
}

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
async fn signed_in_forms_need_the_session_csrf_token() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let first = app.cookies();
    app.clear_cookies();
    app.login(&email, PASSWORD).await;
    let token = app.csrf_for("/account").await;
    for (name, fields, origin) in [
        ("missing", vec![], None),
        ("wrong", vec![("csrf_token", "nope")], None),
        (
            "foreign origin",
            vec![("csrf_token", token.as_str())],
            Some("https://evil.example"),
        ),
    ] {
        let mut req = app.post("/account/sessions/revoke-others").form(&fields);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        assert_eq!(req.send().await.status, StatusCode::FORBIDDEN, "{name}");
    }
    // Nothing changed: the first browser is still signed in.
    let second = app.cookies();
    app.restore_cookies(first.clone());
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
    app.restore_cookies(second);
    let res = app
        .post("/account/sessions/revoke-others")
        .form(&[("csrf_token", &token)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/account");
    app.restore_cookies(first);
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "other session logged out"
    );
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
async fn garbage_form_bodies_get_400() {
    let app = spawn_app().await;
    let res = app
        .post("/login")
        .raw("application/json", "{\"email\":1}")
        .send()
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app
        .post("/login")
        .raw(
            "application/x-www-form-urlencoded",
            vec![0xff, 0xfe, b'=', 0x80],
        )
        .send()
        .await;
    assert!(res.status.is_client_error(), "{}", res.status);
    let huge = format!("email={}", "a".repeat(100_000));
    let res = app
        .post("/login")
        .raw("application/x-www-form-urlencoded", huge)
        .send()
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
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
    assert_eq!(res.location(), "/login");
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
async fn idle_sessions_expire() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    app.clock.advance(Duration::minutes(119));
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::OK,
        "activity moves the idle expiry"
    );
    app.clock.advance(Duration::minutes(119));
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
    app.clock.advance(Duration::minutes(121));
    assert_eq!(app.get("/account").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "state purged, stays anonymous"
    );
}

#[actix_web::test]
async fn absolute_expiry_ends_even_an_active_session() {
    let app = spawn_app_with(|s| {
        s.session_idle_timeout = Duration::minutes(10);
        s.session_absolute_timeout = Duration::minutes(30);
    })
    .await;
    app.signed_in_user().await;
    for _ in 0..3 {
        app.clock.advance(Duration::minutes(9));
        assert_eq!(app.get("/account").await.status, StatusCode::OK);
    }
    app.clock.advance(Duration::minutes(4));
    assert_eq!(app.get("/account").await.status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn last_seen_is_written_at_most_once_a_minute() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let seen = || {
        app.scalar_i64(
            "SELECT (extract(epoch FROM last_seen_at) * 1000000)::int8 AS n FROM sessions",
        )
    };
    let first = seen().await;
    app.clock.advance(Duration::seconds(30));
    app.get("/account").await;
    assert_eq!(seen().await, first);
    app.clock.advance(Duration::seconds(31));
    app.get("/account").await;
    assert!(seen().await > first);
}

#[actix_web::test]
async fn revoking_a_session_from_another_browser_signs_it_out() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let laptop = app.cookies();
    app.clear_cookies();
    app.req(awc::http::Method::GET, "/")
        .header("user-agent", "Phone/1.0")
        .send()
        .await;
    let token = app.csrf_for("/login").await;
    app.post("/login")
        .header("user-agent", "Phone/1.0")
        .form(&[
            ("csrf_token", &token),
            ("email", &email),
            ("password", PASSWORD),
        ])
        .send()
        .await;
    let phone = app.cookies();
    // From the laptop: the account page lists both, and revokes the phone.
    app.restore_cookies(laptop.clone());
    let account = app.get("/account").await;
    assert!(account.body.contains("Phone/1.0"));
    assert_eq!(account.body.matches("/revoke\"").count(), 2);
    let row_id = app
        .uuid("SELECT id FROM sessions WHERE user_agent = 'Phone/1.0'")
        .await;
    let token = meta_csrf(&account.body);
    let res = app
        .post(&format!("/account/sessions/{}/revoke", row_id))
        .form(&[("csrf_token", &token)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/account");
    app.restore_cookies(phone);
    assert_eq!(app.get("/account").await.status, StatusCode::SEE_OTHER);
    app.restore_cookies(laptop);
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
}

#[actix_web::test]
async fn revoking_an_unknown_or_foreign_session_is_404() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let other_jar = app.cookies();
    app.clear_cookies();
    app.signed_in_user().await;
    let token = app.csrf_for("/account").await;
    let first_id = app
        .uuid("SELECT id FROM sessions ORDER BY created_at ASC LIMIT 1")
        .await;
    for id in [
        first_id.to_string(),
        uuid::Uuid::new_v4().to_string(),
        "not-a-uuid".into(),
    ] {
        let res = app
            .post(&format!("/account/sessions/{id}/revoke"))
            .form(&[("csrf_token", &token)])
            .send()
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{id}");
    }
    app.restore_cookies(other_jar);
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::OK,
        "the other user's session survived"
    );
}

#[actix_web::test]
async fn revoking_the_current_session_logs_out() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let token = app.csrf_for("/account").await;
    let id = app.scalar_i64("SELECT count(*) AS n FROM sessions").await;
    assert_eq!(id, 1);
    let row_id = app.uuid("SELECT id FROM sessions").await;
    let res = app
        .post(&format!("/account/sessions/{}/revoke", row_id))
        .form(&[("csrf_token", &token)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/account").await.status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn changing_the_password_ends_other_sessions() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let other = app.cookies();
    app.clear_cookies();
    app.login(&email, PASSWORD).await;
    let token = app.csrf_for("/account").await;

    let res = app
        .post("/account/password")
        .form(&[
            ("csrf_token", &token),
            ("current_password", "wrong password"),
            ("new_password", "a brand new password"),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("current password is not correct"));
    let res = app
        .post("/account/password")
        .form(&[
            ("csrf_token", &token),
            ("current_password", PASSWORD),
            ("new_password", "short"),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    let res = app
        .post("/account/password")
        .form(&[
            ("csrf_token", &token),
            ("current_password", PASSWORD),
            ("new_password", "a brand new password"),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::OK,
        "this session stays"
    );
    let here = app.cookies();
    app.restore_cookies(other);
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "others end"
    );
    app.restore_cookies(here);
    app.clear_cookies();
    assert_eq!(
        app.login(&email, PASSWORD).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.login(&email, "a brand new password").await.status,
        StatusCode::SEE_OTHER
    );
}

#[actix_web::test]
async fn repeated_failures_are_throttled_before_the_password_check() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    app.clear_cookies();
    for _ in 0..5 {
        assert_eq!(
            app.login(&email, "wrong password").await.status,
            StatusCode::BAD_REQUEST
        );
    }
    let res = app.login(&email.to_uppercase(), PASSWORD).await;
    assert_eq!(
        res.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let retry: i64 = res
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(retry > 800 && retry <= 900, "{retry}");
    // Unknown accounts are counted the same way.
    for _ in 0..5 {
        app.login("ghost@example.com", "wrong password").await;
    }
    assert_eq!(
        app.login("ghost@example.com", "x").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.clock.advance(Duration::minutes(15));
    assert_eq!(
        app.login(&email, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

#[actix_web::test]
async fn a_success_clears_the_failure_count() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    app.clear_cookies();
    for _ in 0..4 {
        app.login(&email, "wrong password").await;
    }
    assert_eq!(
        app.login(&email, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    app.clear_cookies();
    for _ in 0..4 {
        assert_eq!(
            app.login(&email, "wrong password").await.status,
            StatusCode::BAD_REQUEST
        );
    }
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
async fn database_outage_gives_503_never_anonymous_access() {
    let (app, proxy) = spawn_app_behind_proxy().await;
    app.signed_in_user().await;
    assert_eq!(app.get("/account").await.status, StatusCode::OK);

    proxy.cut();
    for path in ["/account", "/", "/readyz"] {
        let res = app.get(path).await;
        assert_eq!(
            res.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {}",
            res.body
        );
        assert!(res.header("retry-after").is_some(), "{path}");
        assert!(
            !res.body.contains("connection"),
            "no internals: {}",
            res.body
        );
    }
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    let token = app.csrf_for("/login").await;
    app.clear_cookies();
    let res = app.login("anyone@example.com", PASSWORD).await;
    let _ = token;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);

    proxy.restore();
    let mut ok = false;
    for _ in 0..20 {
        if app.get("/readyz").await.status == StatusCode::OK {
            ok = true;
            break;
        }
    }
    assert!(ok, "recovers once the database is back");
}

#[actix_web::test]
async fn parallel_guesses_cannot_slip_past_the_limit() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    let guesses = (0..12).map(|i| {
        let pw = format!("wrong password {i}");
        let email = email.clone();
        let app = &app;
        async move { app.password_grant(&email, &pw, None).await.status }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked, 5, "{statuses:?}");
    assert_eq!(throttled, 7);
}

#[actix_web::test]
async fn a_wrong_current_password_counts_toward_the_throttle() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let token = app.csrf_for("/account").await;
    let change = |current: &'static str| {
        app.post("/account/password")
            .form(&[
                ("csrf_token", token.as_str()),
                ("current_password", current),
                ("new_password", "a brand new password"),
            ])
            .send()
    };
    for _ in 0..5 {
        assert_eq!(
            change("wrong password").await.status,
            StatusCode::BAD_REQUEST
        );
    }
    let res = change(PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.header("retry-after").is_some());
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM auth_events WHERE kind = 'password_changed'")
            .await,
        0
    );
}

#[actix_web::test]
async fn the_per_ip_limit_is_ten_times_higher_and_trusts_only_configured_proxies() {
    let app = spawn_app_with(|s| {
        s.login_max_failures = 2;
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let attempt = |email: String, ip: &'static str| {
        let app = &app;
        async move {
            app.post("/api/v1/auth/token")
                .no_cookies()
                .header("x-forwarded-for", ip)
                .form(&[
                    ("grant_type", "password"),
                    ("username", &email),
                    ("password", "wrong password"),
                ])
                .send()
                .await
                .status
        }
    };
    // Twenty failures from one client, one per email: none of them hits the
    // per-email limit of 2; the twenty-first from that client is refused.
    for i in 0..20 {
        assert_eq!(
            attempt(format!("user{i}@example.com"), "203.0.113.7").await,
            StatusCode::BAD_REQUEST,
            "{i}"
        );
    }
    assert_eq!(
        attempt("fresh@example.com".into(), "203.0.113.7").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client behind the same proxy is not affected.
    assert_eq!(
        attempt("fresh@example.com".into(), "198.51.100.9").await,
        StatusCode::BAD_REQUEST
    );
}

#[actix_web::test]
async fn forwarded_for_is_ignored_from_untrusted_peers() {
    let app = spawn_app_with(|s| s.login_max_failures = 1).await;
    for i in 0..10 {
        // Spoofing a new X-Forwarded-For each time does not reset the per-IP count.
        let res = app
            .post("/api/v1/auth/token")
            .no_cookies()
            .header("x-forwarded-for", &format!("198.51.100.{i}"))
            .form(&[
                ("grant_type", "password"),
                ("username", &format!("u{i}@example.com")),
                ("password", "x"),
            ])
            .send()
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
    }
    let res = app
        .post("/api/v1/auth/token")
        .no_cookies()
        .header("x-forwarded-for", "192.0.2.1")
        .form(&[
            ("grant_type", "password"),
            ("username", "last@example.com"),
            ("password", "x"),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
}

#[actix_web::test]
async fn signing_in_over_an_expired_session_cookie_works() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let token = app.csrf_for("/login").await; // rendered while still signed in
    app.clock.advance(Duration::hours(3));
    let res = app.login_with_token(&token, &email, PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::OK,
        "signed in, not bounced to /login"
    );
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM sessions WHERE revoked_at IS NULL AND idle_expires_at > now() + interval '2 hours'").await,
        1,
        "exactly one live session"
    );
}

#[actix_web::test]
async fn static_scripts_are_served_as_javascript() {
    let app = spawn_app().await;
    for path in [
        "/static/js/auth-fetch.js",
        "/static/js/refresh-demo.js",
        "/static/js/logout.js",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert!(
            res.header("content-type")
                .unwrap()
                .starts_with("text/javascript"),
            "{path}"
        );
        assert!(
            !res.body.contains("localStorage.setItem"),
            "{path}: no tokens in storage"
        );
    }
    assert!(app
        .get("/static/js/auth-fetch.js")
        .await
        .body
        .contains("export async function authFetch"));
    assert!(app
        .get("/static/css/app.css")
        .await
        .header("content-type")
        .unwrap()
        .starts_with("text/css"));
    assert_eq!(
        app.get("/static/nope.js").await.status,
        StatusCode::NOT_FOUND
    );
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
    let client = hybrid_auth::auth::client::ClientInfo {
        ip: "127.0.0.1".into(),
        user_agent: "t".into(),
    };
    let created = hybrid_auth::auth::sessions::create(
        &mut conn,
        &app.state.settings,
        &app.clock,
        &user,
        hybrid_auth::auth::sessions::Kind::Web,
        "profile:read",
        &client,
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
