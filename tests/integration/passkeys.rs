//! Passkeys over HTTP with a software authenticator (ES256, attestation
//! `none`): registration, sign-in with a passkey alone, the passkey as the
//! second step and for re-authentication, and every way an assertion must
//! fail. (Real Chromium with its virtual authenticator is in `page_flows`.)

use crate::support::authenticator::{SoftAuthenticator, Tamper};
use crate::support::factors::password_step;
use crate::support::*;
use awc::http::StatusCode;
use serde_json::{json, Value};

/// POSTs JSON with the CSRF token of the page at `token_page`.
pub(crate) async fn post_json(
    app: &TestApp,
    path: &str,
    token_page: &str,
    body: Value,
) -> Response {
    let csrf = app.csrf_for(token_page).await;
    app.post(path)
        .header("X-CSRF-Token", &csrf)
        .json(&body)
        .send()
        .await
}

/// Adds a passkey for the signed-in client: (the authenticator, the 201 body).
pub(crate) async fn add_passkey(app: &TestApp, name: &str) -> (SoftAuthenticator, Value) {
    app.prove_addresses().await;
    let mut key = SoftAuthenticator::new(&app.state.settings.public_url);
    let options = post_json(app, "/account/passkeys/options", "/account", json!({})).await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    let options = options.json();
    let credential = key.register(&options, &Tamper::default());
    let res = post_json(
        app,
        "/account/passkeys",
        "/account",
        json!({"name": name, "credential": credential}),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    (key, res.json())
}

#[actix_web::test]
async fn a_passkey_session_that_turns_totp_on_names_only_the_methods_it_used() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let (mut key, _) = add_passkey(&app, "Laptop").await;
    let browser = app.another_browser();
    let res = passkey_sign_in(&browser, &mut key, &Tamper::default()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    // This passkey session types the set-up code of an authenticator app
    // (not its first factor: no recovery codes, back to the account).
    let (secret, csrf) = crate::support::factors::setup_secret(&browser).await;
    let code = crate::support::factors::code_now(&browser, &secret);
    let res = browser
        .post("/account/mfa/totp")
        .form(&[("csrf_token", csrf.as_str()), ("code", &code)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/account?notice=mfa-enabled");
    let csrf = browser.csrf_for("/account").await;
    let token = browser
        .post("/auth/token")
        .header("X-CSRF-Token", &csrf)
        .send()
        .await;
    let claims = jwt_part(token.json()["access_token"].as_str().unwrap(), 1);
    assert_eq!(
        (claims["acr"].clone(), claims["amr"].clone()),
        (json!("aal2"), json!(["hwk", "otp", "mfa"])),
        "no `pwd`: this session never typed a password"
    );
}

/// The passkey sign-in: options, then the (possibly tampered) assertion.
pub(crate) async fn passkey_sign_in(
    app: &TestApp,
    key: &mut SoftAuthenticator,
    tamper: &Tamper,
) -> Response {
    let options = post_json(app, "/login/passkey/options", "/login", json!({})).await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    let options = options.json();
    assert_eq!(options["publicKey"]["allowCredentials"], json!([]));
    let credential = key.assert(&options, tamper);
    post_json(
        app,
        "/login/passkey",
        "/login",
        json!({ "credential": credential }),
    )
    .await
}

async fn live_sessions(app: &TestApp) -> i64 {
    app.scalar_i64("SELECT count(*) AS n FROM sessions WHERE revoked_at IS NULL")
        .await
}

#[actix_web::test]
async fn a_passkey_is_added_then_signs_in_alone_at_aal2() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let (mut key, added) = add_passkey(&app, "Laptop").await;
    assert_eq!(added["name"], "Laptop");
    assert_eq!(
        added["recovery_codes"].as_array().unwrap().len(),
        10,
        "first factor"
    );
    let account = app.get("/account").await;
    assert!(account.body.contains("Laptop"));
    assert!(account.body.contains("id=\"mfa-on\""));

    let browser = app.another_browser();
    let res = passkey_sign_in(&browser, &mut key, &Tamper::default()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["redirect"], "/account");
    let page = browser.get("/account").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&email));
    let hwk = app
        .scalar_i64("SELECT count(*) AS n FROM sessions WHERE aal = 2 AND amr = 'hwk' AND revoked_at IS NULL")
        .await;
    assert_eq!(hwk, 1);
    // Its tokens say so.
    let csrf = browser.csrf_for("/account").await;
    let token = browser
        .post("/auth/token")
        .header("X-CSRF-Token", &csrf)
        .send()
        .await;
    let claims = jwt_part(token.json()["access_token"].as_str().unwrap(), 1);
    assert_eq!(
        (claims["acr"].clone(), claims["amr"].clone()),
        (json!("aal2"), json!(["hwk"]))
    );
    // The passkey was used just now: the list says when, not "never".
    assert!(!app.get("/account").await.body.contains(">never<"));
}

#[actix_web::test]
async fn assertions_that_do_not_verify_are_refused_and_create_nothing() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let (mut key, _) = add_passkey(&app, "Phone").await;
    let browser = app.another_browser();
    let before = live_sessions(&app).await;
    let cases = [
        (
            "bad signature",
            Tamper {
                bad_signature: true,
                ..Tamper::default()
            },
        ),
        (
            "foreign origin",
            Tamper {
                origin: Some("https://evil.example".into()),
                ..Tamper::default()
            },
        ),
        (
            "wrong RP ID",
            Tamper {
                rp_id: Some("evil.example".into()),
                ..Tamper::default()
            },
        ),
    ];
    for (case, tamper) in cases {
        let res = passkey_sign_in(&browser, &mut key, &tamper).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{case}");
        assert_eq!(res.json(), json!({"error": "invalid_credential"}), "{case}");
    }
    // An unknown credential: another authenticator that never registered.
    let mut stranger = SoftAuthenticator::new(&app.state.settings.public_url);
    stranger.user_handle = key.user_handle.clone();
    let res = passkey_sign_in(&browser, &mut stranger, &Tamper::default()).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "unknown credential");

    // A reused challenge: the first answer signs in, the same one again does not.
    let options = post_json(&browser, "/login/passkey/options", "/login", json!({}))
        .await
        .json();
    let credential = key.assert(&options, &Tamper::default());
    let body = json!({ "credential": credential });
    let first = post_json(&browser, "/login/passkey", "/login", body.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let other = app.another_browser();
    let again = post_json(&other, "/login/passkey", "/login", body).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "a reused challenge");
    assert_eq!(
        live_sessions(&app).await,
        before + 1,
        "only the one good sign-in"
    );
}

#[actix_web::test]
async fn a_registration_that_does_not_verify_stores_nothing() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    app.prove_addresses().await;
    for tamper in [
        Tamper {
            origin: Some("https://evil.example".into()),
            ..Tamper::default()
        },
        Tamper {
            rp_id: Some("evil.example".into()),
            ..Tamper::default()
        },
    ] {
        let mut key = SoftAuthenticator::new(&app.state.settings.public_url);
        let options = post_json(&app, "/account/passkeys/options", "/account", json!({}))
            .await
            .json();
        let credential = key.register(&options, &tamper);
        let res = post_json(
            &app,
            "/account/passkeys",
            "/account",
            json!({"name": "x", "credential": credential}),
        )
        .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert_eq!(res.json()["error"], "invalid_credential");
    }
    // Garbage, and a name that is no name.
    let res = post_json(
        &app,
        "/account/passkeys",
        "/account",
        json!({"name": "x", "credential": {"id": 1}}),
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = post_json(
        &app,
        "/account/passkeys",
        "/account",
        json!({"name": " ", "credential": {}}),
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM passkeys").await,
        0
    );
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM recovery_codes")
            .await,
        0
    );
}

#[actix_web::test]
async fn the_passkey_as_second_step_must_be_the_users_own() {
    let app = spawn_app().await;
    let alice = app.signed_in_user().await;
    let (mut alice_key, _) = add_passkey(&app, "Alice's").await;
    let bob_browser = app.another_browser();
    bob_browser.signed_in_user().await;
    let (mut bob_key, _) = add_passkey(&bob_browser, "Bob's").await;

    let browser = app.another_browser();
    password_step(&browser, &alice).await;
    let options = post_json(&browser, "/login/mfa/passkey/options", "/login", json!({})).await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    let options = options.json();
    let allowed = options["publicKey"]["allowCredentials"].as_array().unwrap();
    assert_eq!(allowed.len(), 1, "only Alice's passkeys are asked for");

    // Guard: Bob's passkey does not finish Alice's sign-in.
    let bobs = bob_key.assert(&options, &Tamper::default());
    let res = post_json(
        &browser,
        "/login/mfa/passkey",
        "/login",
        json!({"credential": bobs}),
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(browser.get("/account").await.status, StatusCode::SEE_OTHER);

    // Her own does (a fresh ceremony: the first one is spent).
    let options = post_json(&browser, "/login/mfa/passkey/options", "/login", json!({}))
        .await
        .json();
    let hers = alice_key.assert(&options, &Tamper::default());
    let res = post_json(
        &browser,
        "/login/mfa/passkey",
        "/login",
        json!({"credential": hers}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["redirect"], "/account");
    assert_eq!(browser.get("/account").await.status, StatusCode::OK);
    // Hers: the one that added the passkey (raised) and this one.
    let hers = app
        .scalar_i64(&format!(
            "SELECT count(*) AS n FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE u.email = '{alice}' AND s.amr = 'pwd hwk mfa' AND s.revoked_at IS NULL"
        ))
        .await;
    assert_eq!(hers, 2);
}

#[actix_web::test]
async fn a_passkey_reauthenticates_a_stale_session_and_removing_it_revokes_the_rest() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let (mut key, added) = add_passkey(&app, "Key").await;
    let other = app.another_browser();
    assert_eq!(
        passkey_sign_in(&other, &mut key, &Tamper::default())
            .await
            .status,
        StatusCode::OK
    );

    app.clock
        .advance(app.state.settings.reauth_window + time::Duration::seconds(1));
    let id = added["id"].as_str().unwrap();
    let csrf = app.csrf_for("/account").await;
    let remove = format!("/account/passkeys/{id}/delete");
    let res = app
        .post(&remove)
        .form(&[("csrf_token", &csrf)])
        .send()
        .await;
    assert_eq!(res.location(), "/account/reauth?next=/account");

    let options = post_json(
        &app,
        "/account/reauth/passkey/options",
        "/account",
        json!({}),
    )
    .await
    .json();
    let credential = key.assert(&options, &Tamper::default());
    let res = post_json(
        &app,
        "/account/reauth/passkey",
        "/account",
        json!({"credential": credential, "next": "/account"}),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.json()["redirect"], "/account");

    // Someone else's id, or none: 404.
    let res = app
        .post(&format!(
            "/account/passkeys/{}/delete",
            uuid::Uuid::now_v7()
        ))
        .form(&[("csrf_token", &csrf)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app
        .post(&remove)
        .form(&[("csrf_token", &csrf)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/account?notice=passkey-removed");
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM passkeys").await,
        0
    );
    assert_eq!(
        other.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "mfa_changed"
    );
    let subjects = app
        .scalar_i64(&format!(
            "SELECT count(*) AS n FROM mail_outbox WHERE recipient = '{email}' AND subject IN ('A passkey was added', 'A passkey was removed')"
        ))
        .await;
    assert_eq!(subjects, 2);
}

#[actix_web::test]
async fn a_ceremony_lives_five_minutes_and_only_for_its_own_purpose() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let (mut key, _) = add_passkey(&app, "Key").await;
    let browser = app.another_browser();

    // Options for the sign-in, answered too late.
    let options = post_json(&browser, "/login/passkey/options", "/login", json!({}))
        .await
        .json();
    app.clock
        .advance(time::Duration::minutes(5) + time::Duration::seconds(1));
    let late = key.assert(&options, &Tamper::default());
    let res = post_json(
        &browser,
        "/login/passkey",
        "/login",
        json!({ "credential": late }),
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "an expired challenge");

    // A re-authentication ceremony does not finish a sign-in.
    let options = post_json(
        &app,
        "/account/reauth/passkey/options",
        "/account",
        json!({}),
    )
    .await
    .json();
    let answer = key.assert(&options, &Tamper::default());
    let res = post_json(
        &browser,
        "/login/passkey",
        "/login",
        json!({ "credential": answer }),
    )
    .await;
    assert_eq!(
        res.status,
        StatusCode::BAD_REQUEST,
        "another purpose's challenge"
    );
    assert_eq!(browser.get("/account").await.status, StatusCode::SEE_OTHER);
    let _ = email;
}
