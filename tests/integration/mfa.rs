//! Second factors over HTTP: TOTP set-up, the sign-in's second step, the
//! password grant's `otp`, recovery codes, the revocation of every other
//! session when factors change, and re-authentication for sensitive
//! actions. Each bypass test names the guard it holds. (The same flows in
//! Chromium are in `page_flows.rs`.)

use crate::support::factors::*;
use crate::support::*;
use awc::http::StatusCode;
use time::Duration;

async fn totp_user(app: &TestApp) -> (String, Vec<u8>, Vec<String>) {
    let email = app.signed_in_user().await;
    let (secret, codes) = enable_totp(app).await;
    (email, secret, codes)
}

async fn sessions_of(app: &TestApp, email: &str) -> i64 {
    app.scalar_i64(&format!(
        "SELECT count(*) AS n FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE u.email = '{email}' AND s.revoked_at IS NULL"
    ))
    .await
}

async fn subjects_to(app: &TestApp, email: &str, subject: &str) -> i64 {
    app.scalar_i64(&format!(
        "SELECT count(*) AS n FROM mail_outbox WHERE recipient = '{email}' AND subject = '{subject}'"
    ))
    .await
}

#[actix_web::test]
async fn setting_up_totp_needs_a_right_code_and_shows_ten_recovery_codes_once() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let page = app.get("/account/mfa/totp").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<svg"), "a QR code drawn locally");
    assert!(page.body.contains("otpauth://totp/"));
    let (secret, csrf) = setup_secret(&app).await;
    assert!(secret.len() >= 20, "at least 160 bits");

    // A wrong code: 400, the form again, nothing enabled.
    let wrong = app
        .post("/account/mfa/totp")
        .form(&[("csrf_token", &csrf), ("code", "000000")])
        .send()
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("id=\"totp-secret\""));
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM totp_factors")
            .await,
        0
    );

    let right = app
        .post("/account/mfa/totp")
        .form(&[("csrf_token", &csrf), ("code", &code_now(&app, &secret))])
        .send()
        .await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.body);
    assert_eq!(recovery_codes(&right.body).len(), 10);
    assert!(right.body.contains("href=\"/account\""));
    let account = app.get("/account").await;
    assert!(account.body.contains("id=\"mfa-on\""));
    assert!(account
        .body
        .contains("Recovery codes left: <strong>10</strong>"));
    assert!(account.body.contains("Two-factor authentication turned on"));
    // Stored sealed, never as the secret itself or its base32.
    let stored = app
        .scalar_i64(&format!(
            "SELECT count(*) AS n FROM totp_factors WHERE position(decode('{}', 'hex') in secret_sealed) > 0",
            secret.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ))
        .await;
    assert_eq!(stored, 0, "the secret is not stored in clear");
    assert_eq!(
        subjects_to(&app, &email, "Two-factor authentication was turned on").await,
        1
    );
}

#[actix_web::test]
async fn the_password_alone_makes_no_session_and_the_code_makes_an_aal2_one() {
    let app = spawn_app().await;
    let (email, secret, _) = totp_user(&app).await;
    let other = app.another_browser();
    let before = sessions_of(&app, &email).await;

    password_step(&other, &email).await;
    assert_eq!(
        sessions_of(&app, &email).await,
        before,
        "no session row yet"
    );
    // Guard: pages during the pending state are still anonymous.
    let account = other.get("/account").await;
    assert_eq!(account.status, StatusCode::SEE_OTHER);
    assert!(account.location().starts_with("/login"));
    let token = other
        .post("/auth/token")
        .header("X-CSRF-Token", "x")
        .send()
        .await;
    assert_ne!(
        token.status,
        StatusCode::OK,
        "no token before the second step"
    );

    let res = second_step(&other, &code_now(&app, &secret)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/account");
    assert_eq!(sessions_of(&app, &email).await, before + 1);
    let (aal, amr) = (
        app.scalar_i64("SELECT aal::int8 AS n FROM sessions ORDER BY created_at DESC LIMIT 1")
            .await,
        app.scalar_i64(
            "SELECT count(*) AS n FROM sessions WHERE amr = 'pwd otp mfa' AND revoked_at IS NULL",
        )
        .await,
    );
    assert_eq!((aal, amr), (2, 2), "both live sessions are aal2");
    assert_eq!(other.get("/account").await.status, StatusCode::OK);
}

#[actix_web::test]
async fn no_pending_state_or_an_expired_one_goes_back_to_the_password() {
    let app = spawn_app().await;
    let (email, secret, _) = totp_user(&app).await;
    let other = app.another_browser();
    let res = other.get("/login/mfa").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/login");

    password_step(&other, &email).await;
    app.clock
        .advance(Duration::minutes(5) + Duration::seconds(1));
    let res = second_step(&other, &code_now(&app, &secret)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/login", "the pending state expired");
    assert_eq!(other.get("/account").await.status, StatusCode::SEE_OTHER);

    // A forged pending cookie is no pending state either.
    let forged = app.another_browser();
    forged.set_cookie("mfa-pending", "eyJ1IjoiYSJ9.AAAA");
    assert_eq!(forged.get("/login/mfa").await.location(), "/login");
}

#[actix_web::test]
async fn a_totp_step_is_accepted_once_the_set_up_code_included() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let (secret, csrf) = setup_secret(&app).await;
    let setup_code = code_now(&app, &secret);
    let res = app
        .post("/account/mfa/totp")
        .form(&[("csrf_token", &csrf), ("code", &setup_code)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK);

    // Guard: the code typed at set-up does not sign in.
    let other = app.another_browser();
    password_step(&other, &email).await;
    assert_eq!(
        second_step(&other, &setup_code).await.status,
        StatusCode::BAD_REQUEST
    );
    // The next step's code does, once.
    app.clock.advance(Duration::seconds(30));
    let code = code_now(&app, &secret);
    assert_eq!(
        second_step(&other, &code).await.status,
        StatusCode::SEE_OTHER
    );
    let third = app.another_browser();
    password_step(&third, &email).await;
    let replay = second_step(&third, &code).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST, "a replayed code");
    assert!(replay.body.contains("not right"));
}

#[actix_web::test]
async fn wrong_codes_count_as_failed_sign_ins_and_the_password_does_not_reset_them() {
    let app = spawn_app().await;
    let (email, secret, _) = totp_user(&app).await;
    let max = app.state.settings.login_max_failures;
    let other = app.another_browser();
    for i in 0..max {
        // Guard: a right password between guesses keeps the count.
        password_step(&other, &email).await;
        let res = second_step(&other, "111111").await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "guess {i}");
    }
    let res = other.login(&email, PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.header("retry-after").is_some());
    let _ = secret;
    assert!(
        app.scalar_i64("SELECT count(*) AS n FROM auth_events WHERE kind = 'mfa_failed'")
            .await
            >= i64::from(max)
    );
}

#[actix_web::test]
async fn one_recovery_code_used_twice_at_once_signs_in_exactly_once() {
    let app = spawn_app().await;
    let (email, _, codes) = totp_user(&app).await;
    let (a, b) = (app.another_browser(), app.another_browser());
    password_step(&a, &email).await;
    password_step(&b, &email).await;
    // Typed loosely: lower case, spaces for dashes.
    let code = codes[0].to_lowercase().replace('-', " ");
    let (ra, rb) = tokio::join!(second_step(&a, &code), second_step(&b, &code));
    let wins = [ra.status, rb.status]
        .iter()
        .filter(|s| **s == StatusCode::SEE_OTHER)
        .count();
    assert_eq!(wins, 1, "{} / {}", ra.status, rb.status);
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM recovery_codes WHERE used_at IS NOT NULL")
            .await,
        1
    );
    assert!(app
        .get("/account")
        .await
        .body
        .contains("Recovery codes left: <strong>9</strong>"));
    assert_eq!(
        subjects_to(&app, &email, "A recovery code was used").await,
        1
    );
}

#[actix_web::test]
async fn the_password_grant_needs_otp_and_refresh_keeps_the_level() {
    let app = spawn_app().await;
    let (email, secret, _) = totp_user(&app).await;
    app.clear_cookies();
    let api_sessions =
        "SELECT count(*) AS n FROM sessions WHERE kind = 'api' AND revoked_at IS NULL";

    // Guard: the password alone mints nothing.
    let res = app.password_grant(&email, PASSWORD, None).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["error"], "mfa_required");
    assert_eq!(app.scalar_i64(api_sessions).await, 0);

    let wrong = otp_grant(&app, &email, "123456").await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.json()["error"], "invalid_grant");
    assert_eq!(app.scalar_i64(api_sessions).await, 0);

    let ok = otp_grant(&app, &email, &code_now(&app, &secret)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let json = ok.json();
    let access = json["access_token"].as_str().unwrap();
    let claims = jwt_part(access, 1);
    assert_eq!(claims["acr"], "aal2");
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]));

    let refreshed = app
        .refresh_grant(json["refresh_token"].as_str().unwrap(), None)
        .await;
    assert_eq!(refreshed.status, StatusCode::OK);
    let again = jwt_part(refreshed.json()["access_token"].as_str().unwrap(), 1);
    assert_eq!(again["acr"], "aal2");
    assert_eq!(again["auth_time"], claims["auth_time"]);
}

#[actix_web::test]
async fn enabling_a_factor_ends_every_other_session_on_every_instance() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let (access, refresh) = app.api_tokens_for(&email).await;
    let mut settings = app.state.settings.clone();
    settings.bind_addr = "127.0.0.1:0".into();
    let second = spawn_app_on(settings).await;
    assert_eq!(
        second.api_get("/api/v1/me", &access).await.status,
        StatusCode::OK
    );
    let other_browser = app.another_browser();
    assert_eq!(
        other_browser.login(&email, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );

    enable_totp(&app).await;

    // Guard: tokens and refresh of a session from before MFA are dead.
    for instance in [&app, &second] {
        let mut status = StatusCode::OK;
        for _ in 0..100 {
            status = instance.api_get("/api/v1/me", &access).await.status;
            if status == StatusCode::UNAUTHORIZED {
                break;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let res = app.refresh_grant(&refresh, None).await;
    assert_eq!(res.json()["error"], "invalid_grant");
    assert_eq!(
        other_browser.get("/account").await.status,
        StatusCode::SEE_OTHER
    );
    assert!(
        app.scalar_i64("SELECT count(*) AS n FROM sessions WHERE revoked_reason = 'mfa_changed'")
            .await
            >= 2
    );
    // The session that enabled it stays, raised to aal2: its browser token says so.
    let csrf = app.csrf_for("/account").await;
    let token = app
        .post("/auth/token")
        .header("X-CSRF-Token", &csrf)
        .send()
        .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.body);
    let claims = jwt_part(token.json()["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["acr"], "aal2");
}

#[actix_web::test]
async fn removing_the_factor_ends_other_sessions_holding_aal2_tokens() {
    let app = spawn_app().await;
    let (email, secret, _) = totp_user(&app).await;
    let api = app.another_browser();
    let res = otp_grant(&api, &email, &code_now(&app, &secret)).await;
    let access = res.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_part(&access, 1)["acr"], "aal2");

    let csrf = app.csrf_for("/account").await;
    let res = app
        .post("/account/mfa/totp/delete")
        .form(&[("csrf_token", &csrf)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/account?notice=mfa-disabled");
    // Guard: the other aal2 session is revoked, its tokens refused at once.
    let me = app.api_get("/api/v1/me", &access).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM recovery_codes")
            .await,
        0
    );
    // This session is password-only again.
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM sessions WHERE revoked_at IS NULL AND aal = 2")
            .await,
        0
    );
    assert!(app.get("/account").await.body.contains("id=\"mfa-off\""));
    // Signing in needs the password only now.
    let other = app.another_browser();
    let res = other.login(&email, PASSWORD).await;
    assert_eq!(res.location(), "/account");
    assert_eq!(
        subjects_to(&app, &email, "An authenticator app was removed").await,
        1
    );
}

#[actix_web::test]
async fn sensitive_actions_on_a_stale_session_ask_to_reauthenticate_first() {
    let app = spawn_app().await;
    let (_email, secret, _) = totp_user(&app).await;
    app.clock
        .advance(app.state.settings.reauth_window + Duration::seconds(1));
    let csrf = app.csrf_for("/account").await;

    for (path, fields) in [
        ("/account/mfa/totp/delete", vec![]),
        ("/account/mfa/recovery-codes", vec![]),
        (
            "/account/password",
            vec![
                ("current_password", PASSWORD),
                ("new_password", "another long password"),
                ("password_confirm", "another long password"),
            ],
        ),
        ("/account/delete", vec![("email", "x@example.com")]),
    ] {
        let mut form = vec![("csrf_token", csrf.as_str())];
        form.extend(fields);
        let res = app.post(path).form(&form).send().await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(res.location(), "/account/reauth?next=/account", "{path}");
    }
    let setup = app.get("/account/mfa/totp").await;
    assert_eq!(setup.location(), "/account/reauth?next=/account/mfa/totp");
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM totp_factors")
            .await,
        1
    );
    assert_eq!(app.scalar_i64("SELECT count(*) AS n FROM users").await, 1);

    // The password alone is not enough for a user with a second factor.
    let page = app.get("/account/reauth?next=/account").await;
    assert!(page.body.contains("name=\"code\""));
    let reauth = |code: String| {
        let app = &app;
        let csrf = csrf.clone();
        async move {
            app.post("/account/reauth")
                .form(&[
                    ("csrf_token", csrf.as_str()),
                    ("password", PASSWORD),
                    ("code", &code),
                    ("next", "/account"),
                ])
                .send()
                .await
        }
    };
    assert_eq!(reauth(String::new()).await.status, StatusCode::BAD_REQUEST);
    let res = reauth(code_now(&app, &secret)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/account");
    let res = app
        .post("/account/mfa/recovery-codes")
        .form(&[("csrf_token", &csrf)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(recovery_codes(&res.body).len(), 10);
    assert!(
        app.scalar_i64("SELECT count(*) AS n FROM auth_events WHERE kind = 'reauthenticated'")
            .await
            == 1
    );
}

#[actix_web::test]
async fn the_api_delete_needs_aal2_from_a_user_with_a_second_factor() {
    let app = spawn_app().await;
    let (_email, _, _) = totp_user(&app).await;
    // A password-only token of this user (its session lowered by hand: no
    // sign-in can make one any more).
    let sid = app
        .uuid("UPDATE sessions SET aal = 1, amr = 'pwd' WHERE revoked_at IS NULL RETURNING id")
        .await;
    app.state.session_cache.forget_session(sid);
    let csrf = app.csrf_for("/account").await;
    let token = app
        .post("/auth/token")
        .header("X-CSRF-Token", &csrf)
        .send()
        .await;
    let access = token.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_part(&access, 1)["acr"], "aal1");
    let res = app
        .req(awc::http::Method::DELETE, "/api/v1/me")
        .bearer(&access)
        .send()
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let challenge = res.header("www-authenticate").unwrap();
    assert!(challenge.contains("error=\"insufficient_user_authentication\""));
    assert!(challenge.contains("acr_values=\"aal2\""), "{challenge}");
    assert_eq!(app.scalar_i64("SELECT count(*) AS n FROM users").await, 1);
}

#[actix_web::test]
async fn the_account_page_deletes_the_account_when_its_address_is_typed() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let (access, _) = app.api_tokens_for(&email).await;
    let csrf = app.csrf_for("/account").await;
    let wrong = app
        .post("/account/delete")
        .form(&[("csrf_token", &csrf), ("email", "someone@example.com")])
        .send()
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.scalar_i64("SELECT count(*) AS n FROM users").await, 1);

    let res = app
        .post("/account/delete")
        .form(&[("csrf_token", &csrf), ("email", &email.to_uppercase())])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/?notice=account-deleted");
    assert_eq!(app.scalar_i64("SELECT count(*) AS n FROM users").await, 0);
    assert_eq!(
        app.api_get("/api/v1/me", &access).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/account").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        subjects_to(&app, &email, "Your account was deleted").await,
        1
    );
    // The address can register again.
    assert_eq!(
        app.register(&email, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}
