//! "Continue with …" against a real OpenID Provider (`support::oidc`):
//! sign-up and sign-in, linking only after the owner signs in, every
//! callback guard (state, code, `aud`, `nonce`, unknown key), a provider
//! that says no or is down, unlinking, the second factor at sign-in.
//! Re-authentication at the provider is in `oidc_reauth`, the page flows
//! clicked through in Chromium in `oidc_browser`, the attacks between
//! provider sign-in and the other features in `oidc_seams`.

use crate::oidc_reauth::make_stale;
use crate::support::factors::{code_now, enable_totp, second_step};
use crate::support::oidc::*;
use crate::support::*;
use awc::http::StatusCode;
use diesel_async::RunQueryDsl;

pub(crate) async fn exec(app: &TestApp, sql: &str) {
    let mut conn = app.conn().await;
    diesel::sql_query(sql).execute(&mut conn).await.expect(sql);
}

pub(crate) async fn count(app: &TestApp, sql: &str) -> i64 {
    app.scalar_i64(sql).await
}

pub(crate) async fn event_count(app: &TestApp, kind: &str) -> i64 {
    count(
        app,
        &format!("SELECT count(*) AS n FROM auth_events WHERE kind = '{kind}'"),
    )
    .await
}

/// Posts the link confirmation with `csrf`.
async fn post_link(app: &TestApp, csrf: &str) -> Response {
    app.post("/login/oidc/link")
        .form(&[("csrf_token", csrf)])
        .send()
        .await
}

/// Posts the unlink form of identity `id` with `csrf`.
async fn post_unlink(app: &TestApp, id: uuid::Uuid, csrf: &str) -> Response {
    app.post(&format!("/account/identities/{id}/delete"))
        .form(&[("csrf_token", csrf)])
        .send()
        .await
}

pub(crate) fn assert_refused(res: &Response) {
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(res.body.contains("Sign-in did not work"), "{}", res.body);
}

#[actix_web::test]
async fn a_new_identity_makes_an_account_without_a_password_and_signs_it_in() {
    let (app, _op) = spawn_with_provider(|_| {}).await;
    let login_page = app.get("/login").await;
    assert!(
        login_page.body.contains("Continue with Test ID"),
        "{}",
        login_page.body
    );
    assert!(app
        .get("/register")
        .await
        .body
        .contains("Continue with Test ID"));

    let res = sign_in(&app, "nora").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/account?notice=welcome-provider");
    let account = app.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.body.contains("nora@example.com"));
    assert!(account.body.contains("id=\"identities\""));
    assert!(account
        .body
        .contains("Signed in through a sign-in provider"));
    assert!(account.body.contains("id=\"no-password\""));

    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM users WHERE email = 'nora@example.com' AND password_hash = '' AND email_verified_at IS NOT NULL").await,
        1
    );
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM oidc_identities WHERE provider = 'test' AND subject = 'nora'").await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM sessions WHERE kind = 'web' AND amr = 'fed'"
        )
        .await,
        1
    );
    assert_eq!(event_count(&app, "oidc_sign_in").await, 1);
    assert_eq!(event_count(&app, "identity_linked").await, 1);

    // No password, not even the empty one, signs in to that account.
    let other = app.another_browser();
    for password in ["", "x", PASSWORD] {
        let res = other.login("nora@example.com", password).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{password:?}");
    }
}

#[actix_web::test]
async fn an_unverified_email_from_the_provider_stays_unverified() {
    let (app, op) = spawn_with_provider(|_| {}).await;
    op.profile("olga", "olga@example.com", false).await;
    let res = sign_in(&app, "olga").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM users WHERE email = 'olga@example.com' AND email_verified_at IS NULL").await,
        1
    );
}

#[actix_web::test]
async fn a_returning_identity_signs_in_the_same_account_by_its_sub() {
    let (app, op) = spawn_with_provider(|_| {}).await;
    assert_eq!(sign_in(&app, "pia").await.status, StatusCode::SEE_OTHER);
    // Another browser; the provider now says another email for the same sub.
    op.profile("pia", "pia.new@example.com", true).await;
    let again = app.another_browser();
    let res = sign_in(&again, "pia").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/account");
    assert_eq!(again.get("/account").await.status, StatusCode::OK);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM users").await, 1);
    assert_eq!(event_count(&app, "oidc_sign_in").await, 2);
}

#[actix_web::test]
async fn registration_closed_refuses_a_new_identity() {
    let (app, _op) = spawn_with_provider(|s| s.registration_open = false).await;
    let res = sign_in(&app, "quinn").await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM users").await, 0);
}

#[actix_web::test]
async fn an_identity_with_a_local_accounts_email_is_linked_only_after_its_owner_signs_in() {
    let (app, op) = spawn_with_provider(|_| {}).await;
    op.profile("ann-at-provider", "ann@example.com", true).await;
    assert_eq!(
        app.register("ann@example.com", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let owner_user = app.uuid("SELECT id FROM users").await;
    let browser = app.another_browser();
    let res = sign_in(&browser, "ann-at-provider").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("id=\"sign-in-to-link\""), "{}", res.body);
    // Not signed in, nothing linked.
    assert_eq!(browser.get("/account").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM oidc_identities").await,
        0
    );
    // Someone else's session cannot take the link over either.
    let mallory = app.another_browser();
    mallory.signed_in_user().await;
    // Both addresses proven, so what is refused below is the ownership.
    app.prove_addresses().await;
    if let Some(link) = browser.cookie("oidc-link") {
        mallory.set_cookie("oidc-link", &link);
    }
    let csrf = mallory.csrf_for("/account").await;
    let res = post_link(&mallory, &csrf).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    // That attempt did not use up the owner's link.
    assert_eq!(count(&app, "SELECT count(*) AS n FROM oidc_links").await, 1);

    // The owner signs in with the password, then confirms.
    let res = browser.login("ann@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let confirm = browser.get("/login/oidc/link").await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    assert!(confirm.body.contains("id=\"link-identity\""));
    let csrf = meta_csrf(&confirm.body);
    let res = post_link(&browser, &csrf).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/account?notice=identity-linked");
    assert_eq!(
        app.uuid("SELECT user_id AS id FROM oidc_identities WHERE subject = 'ann-at-provider'")
            .await,
        owner_user
    );
    assert_eq!(event_count(&app, "identity_linked").await, 1);
    // Single use.
    browser.set_cookie("oidc-link", "a".repeat(43).as_str());
    let res = post_link(&browser, &csrf).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    // From now on the identity signs in to the owner's account.
    let later = app.another_browser();
    let res = sign_in(&later, "ann-at-provider").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let page = later.get("/account").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("ann@example.com"), "{}", page.body);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM users WHERE email = 'ann@example.com'"
        )
        .await,
        1
    );
}

#[actix_web::test]
async fn a_missing_forged_reused_foreign_or_expired_state_is_refused() {
    let (app, _op) = spawn_with_provider(|_| {}).await;
    let cb = format!("/login/oidc/{NAME}/callback");
    // Missing and forged.
    assert_refused(&app.get(&format!("{cb}?code=abc")).await);
    assert_refused(&app.get(&format!("{cb}?code=abc&state=forged-state")).await);

    // Reused: the same callback twice.
    let op = OpBrowser::default();
    let callback = through_provider(&app, &op, &format!("/login/oidc/{NAME}"), "rita").await;
    assert_eq!(app.get(&callback).await.status, StatusCode::SEE_OTHER);
    assert_refused(&app.get(&callback).await);

    // From another browser than the one that started it.
    let starter = app.another_browser();
    let callback = through_provider(&starter, &op, &format!("/login/oidc/{NAME}"), "sam").await;
    let thief = app.another_browser();
    assert_refused(&thief.get(&callback).await);
    // (and it is used up by that attempt)
    assert_refused(&starter.get(&callback).await);

    // Expired: more than 10 minutes at the provider.
    let slow = app.another_browser();
    let callback = through_provider(&slow, &op, &format!("/login/oidc/{NAME}"), "tom").await;
    app.clock.advance(time::Duration::minutes(11));
    assert_refused(&slow.get(&callback).await);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM users WHERE email <> 'rita@example.com'"
        )
        .await,
        0
    );
}

#[actix_web::test]
async fn a_replayed_code_is_refused() {
    let (app, _op) = spawn_with_provider(|_| {}).await;
    let op = OpBrowser::default();
    let first = through_provider(&app, &op, &format!("/login/oidc/{NAME}"), "uma").await;
    assert_eq!(app.get(&first).await.status, StatusCode::SEE_OTHER);
    let code = first
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("code="))
        .expect("code")
        .to_owned();
    // A fresh, valid state of this browser with the spent code.
    let fresh = through_provider(&app, &op, &format!("/login/oidc/{NAME}"), "uma").await;
    let state = fresh
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("state="))
        .expect("state");
    let replay = format!("/login/oidc/{NAME}/callback?code={code}&state={state}");
    assert_refused(&app.get(&replay).await);
}

#[actix_web::test]
async fn an_id_token_for_another_client_is_refused() {
    let (app, op) = spawn_with_provider(|_| {}).await;
    op.tamper("aud").await;
    assert_refused(&sign_in(&app, "vera").await);
    // Also for us, but authorized for another party (`azp`).
    op.tamper("azp").await;
    assert_refused(&sign_in(&app, "vera").await);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM users").await, 0);
    op.tamper("none").await;
    assert_eq!(sign_in(&app, "vera").await.status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn an_id_token_with_another_nonce_is_refused() {
    let (app, _op) = spawn_with_provider(|_| {}).await;
    let op = OpBrowser::default();
    let callback = through_provider(&app, &op, &format!("/login/oidc/{NAME}"), "walt").await;
    exec(
        &app,
        "UPDATE oidc_requests SET nonce = 'not-the-nonce-sent'",
    )
    .await;
    assert_refused(&app.get(&callback).await);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM users").await, 0);
}

#[actix_web::test]
async fn an_id_token_signed_by_an_unknown_key_is_refused_and_the_jwks_refetched_at_most_once_a_minute(
) {
    let (app, op) = spawn_with_provider(|_| {}).await;
    op.tamper("key").await;
    let hits = op.jwks_hits().await;
    // Fetched at start-up a moment ago: within the floor, no new fetch.
    assert_refused(&sign_in(&app, "xena").await);
    assert_eq!(op.jwks_hits().await, hits);
    // A minute on: one fetch for the unknown kid, then none again.
    app.clock.advance(time::Duration::seconds(61));
    assert_refused(&sign_in(&app, "xena").await);
    assert_eq!(op.jwks_hits().await, hits + 1);
    assert_refused(&sign_in(&app, "xena").await);
    assert_eq!(op.jwks_hits().await, hits + 1);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM users").await, 0);
}

#[actix_web::test]
async fn access_denied_at_the_provider_returns_to_login_with_a_notice() {
    let (app, _op) = spawn_with_provider(|_| {}).await;
    let res = app.get(&format!("/login/oidc/{NAME}")).await;
    let op = OpBrowser::default();
    let back = op
        .authorize(&res.location(), "yan", &app.address, true)
        .await;
    let res = app.get(&back[app.address.len()..]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/login?notice=oidc-denied");
    let page = app.get(&res.location()).await;
    assert!(page.body.contains("cancelled"), "{}", page.body);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM users").await, 0);
}

#[actix_web::test]
async fn an_unknown_provider_is_404() {
    let (app, _op) = spawn_with_provider(|_| {}).await;
    assert_eq!(
        app.get("/login/oidc/nope").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/login/oidc/nope/callback?state=x&code=y")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn a_provider_down_answers_503_the_rest_works_and_it_is_retried() {
    let port = free_port();
    let app_port = free_port();
    let public_url = format!("http://127.0.0.1:{app_port}");
    let issuer = format!("http://127.0.0.1:{port}");
    let app = spawn_app_with(|s| {
        s.bind_addr = format!("127.0.0.1:{app_port}");
        s.public_url = public_url.clone();
        s.oidc_providers = vec![provider_settings(&issuer)];
    })
    .await;
    let res = app.get(&format!("/login/oidc/{NAME}")).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.body);
    assert!(res.header("retry-after").is_some());
    assert!(
        res.body.contains("Sign-in provider unavailable"),
        "{}",
        res.body
    );
    // A visitor's way on: sign in another way, or register.
    assert!(res.body.contains("href=\"/login\""), "{}", res.body);
    assert!(res.body.contains("href=\"/register\""), "{}", res.body);
    // The rest of the app is unaffected.
    let login = app.get("/login").await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("Continue with Test ID"));
    app.signed_in_user().await;
    assert_eq!(app.get("/account").await.status, StatusCode::OK);

    // The provider comes up: a later press discovers it.
    let _op = Op::start(port, &format!("{public_url}/login/oidc/{NAME}/callback")).await;
    app.clock.advance(time::Duration::seconds(6));
    let browser = app.another_browser();
    let res = sign_in(&browser, "zoe").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
}

#[actix_web::test]
async fn the_provider_unreachable_at_the_callback_is_503() {
    let (app, op) = spawn_with_provider(|_| {}).await;
    let browser = OpBrowser::default();
    let callback = through_provider(&app, &browser, &format!("/login/oidc/{NAME}"), "ada").await;
    drop(op);
    let res = app.get(&callback).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{}", res.body);
    assert!(res.header("retry-after").is_some());
    assert_eq!(count(&app, "SELECT count(*) AS n FROM users").await, 0);
}

#[actix_web::test]
async fn unlinking_is_refused_for_the_last_way_in_and_allowed_with_a_password() {
    let (app, _op) = spawn_with_provider(|_| {}).await;
    assert_eq!(sign_in(&app, "bea").await.status, StatusCode::SEE_OTHER);
    let id = app.uuid("SELECT id FROM oidc_identities").await;
    let csrf = app.csrf_for("/account").await;
    let res = post_unlink(&app, id, &csrf).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM oidc_identities").await,
        1
    );
    // Without the form token: refused too.
    let res = post_unlink(&app, id, "wrong").await;
    assert!(res.status.is_client_error(), "{}", res.status);

    // With a password it may go, but not from a stale session: that one is
    // sent to confirm it is you first, and nothing is unlinked.
    exec(&app, "UPDATE users SET password_hash = 'x'").await;
    make_stale(&app).await;
    let res = post_unlink(&app, id, &csrf).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(
        res.location().starts_with("/account/reauth?next="),
        "{}",
        res.location()
    );
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM oidc_identities").await,
        1
    );
    exec(&app, "UPDATE sessions SET auth_time = now()").await;
    let res = post_unlink(&app, id, &csrf).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/account?notice=identity-unlinked");
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM oidc_identities").await,
        0
    );
    assert_eq!(event_count(&app, "identity_unlinked").await, 1);
    let page = app.get("/account").await;
    assert!(
        page.body.contains("Sign-in provider unlinked"),
        "{}",
        page.body
    );
}

#[actix_web::test]
async fn a_user_with_totp_goes_through_login_mfa_after_the_provider() {
    let (app, _op) = spawn_with_provider(|_| {}).await;
    assert_eq!(sign_in(&app, "cleo").await.status, StatusCode::SEE_OTHER);
    let (secret, _codes) = enable_totp(&app).await;

    let browser = app.another_browser();
    let res = sign_in(&browser, "cleo").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/login/mfa");
    // No session before the second step.
    assert_eq!(browser.get("/account").await.status, StatusCode::SEE_OTHER);
    // A wrong code is refused; the right one signs in (aal2, via the provider).
    assert_eq!(
        second_step(&browser, "000000").await.status,
        StatusCode::BAD_REQUEST
    );
    let res = second_step(&browser, &code_now(&app, &secret)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/account");
    assert_eq!(browser.get("/account").await.status, StatusCode::OK);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM sessions WHERE amr = 'fed otp mfa' AND aal = 2"
        )
        .await,
        2,
        "this sign-in, and the first browser's provider session that turned TOTP on"
    );
}

#[actix_web::test]
async fn a_user_without_a_password_sets_one_through_the_reset_mail() {
    let smtp = crate::support::smtp::SmtpReceiver::start().await;
    let smtp_port = smtp.port;
    let (app, _op) = spawn_with_provider(|s| {
        s.mail_url = Some(format!("smtp://127.0.0.1:{smtp_port}").into());
    })
    .await;
    assert_eq!(sign_in(&app, "hana").await.status, StatusCode::SEE_OTHER);
    let browser = app.another_browser();
    let csrf = browser.csrf_for("/password/forgot").await;
    let res = browser
        .post("/password/forgot")
        .form(&[("csrf_token", &csrf), ("email", "hana@example.com")])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let prefix = format!("{}/password/reset/", app.state.settings.public_url);
    let mut url = None;
    for _ in 0..500 {
        url = smtp
            .mails()
            .iter()
            .filter(|m| m.data.contains("Reset your password"))
            .find_map(|m| crate::support::smtp::link(m, &prefix));
        if url.is_some() {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let url = url.expect("a reset mail");
    let page = browser
        .get(&url[app.state.settings.public_url.len()..])
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let token = url.rsplit('/').next().expect("token").to_owned();
    let res = browser
        .post("/password/reset")
        .form(&[
            ("csrf_token", meta_csrf(&page.body).as_str()),
            ("token", &token),
            ("new_password", PASSWORD),
            ("password_confirm", PASSWORD),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let res = browser.login("hana@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
}

#[actix_web::test]
async fn an_authorization_response_naming_another_issuer_is_refused() {
    let (app, op) = spawn_with_provider(|_| {}).await;
    let browser = OpBrowser::default();
    let callback = through_provider(&app, &browser, &format!("/login/oidc/{NAME}"), "ivy").await;
    let issuer_param = format!("iss={}", encode(&op.issuer));
    assert!(callback.contains(&issuer_param), "{callback}");
    let forged = callback.replace(&issuer_param, "iss=https%3A%2F%2Fevil.example");
    assert_refused(&app.get(&forged).await);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM users").await, 0);
}

fn encode(value: &str) -> String {
    serde_urlencoded::to_string([("v", value)]).expect("encode")[2..].to_owned()
}

#[actix_web::test]
async fn the_last_passkey_of_a_user_without_password_or_identity_cannot_be_removed() {
    let (app, _op) = spawn_with_provider(|_| {}).await;
    assert_eq!(sign_in(&app, "kira").await.status, StatusCode::SEE_OTHER);
    // A passkey (its record is never used here), so the identity may go.
    exec(
        &app,
        "INSERT INTO passkeys (id, user_id, name, credential_id, passkey, created_at) \
         SELECT gen_random_uuid(), id, 'laptop', '\\x01', '{}', now() FROM users",
    )
    .await;
    // (A passkey is a second factor: unlinking and removing one ask for an
    // aal2 session; say this one is.)
    exec(&app, "UPDATE sessions SET aal = 2").await;
    let identity = app.uuid("SELECT id FROM oidc_identities").await;
    let csrf = app.csrf_for("/account").await;
    let res = post_unlink(&app, identity, &csrf).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/account?notice=identity-unlinked");
    // Now the passkey is the only way in.
    let passkey = app.uuid("SELECT id FROM passkeys").await;
    let res = app
        .post(&format!("/account/passkeys/{passkey}/delete"))
        .form(&[("csrf_token", &csrf)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM passkeys").await, 1);
}
