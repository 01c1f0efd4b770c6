//! Every page form a person clicks, clicked in real headless Chromium: the
//! browser sends what test clients do not (`Origin`, `Sec-Fetch-*`, the
//! referrer policy's effects), so a flow counts as working only when the
//! browser lands where it should and the page then says what it should.
//! (The reset-by-mail flow and the refresh demo are in `browser.rs`.)

use crate::support::factors::code_now;
use crate::support::smtp::{link, SmtpReceiver};
use crate::support::webdriver::Browser;
use crate::support::*;
use hybrid_auth::auth::credentials::totp;
use std::time::Duration;

/// An app whose PUBLIC_URL is the origin the browser loads it from, with
/// mail going to a real SMTP receiver.
async fn app_for_the_browser(
    configure: impl FnOnce(&mut hybrid_auth::config::Settings),
) -> (TestApp, SmtpReceiver) {
    app_for_the_browser_at("127.0.0.1", configure).await
}

/// The same, with PUBLIC_URL on `host` (passkeys need a domain:
/// `localhost`, never an IP address).
async fn app_for_the_browser_at(
    host: &str,
    configure: impl FnOnce(&mut hybrid_auth::config::Settings),
) -> (TestApp, SmtpReceiver) {
    let smtp = SmtpReceiver::start().await;
    let smtp_port = smtp.port;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn_app_with(|s| {
        s.bind_addr = format!("127.0.0.1:{port}");
        s.public_url = format!("http://{host}:{port}");
        s.mail_url = Some(format!("smtp://127.0.0.1:{smtp_port}").into());
        configure(s);
    })
    .await;
    let mut app = app;
    app.address = format!("http://{host}:{port}");
    (app, smtp)
}

async fn fill_register(app: &TestApp, browser: &Browser, email: &str, password: &str) {
    browser.goto(&format!("{}/register", app.address)).await;
    browser.type_into("#email", email).await;
    browser.type_into("#password", password).await;
    browser.type_into("#password_confirm", password).await;
    browser.click("form[action='/register'] button").await;
}

async fn sign_in(app: &TestApp, browser: &Browser, email: &str, password: &str) {
    browser.goto(&format!("{}/login", app.address)).await;
    browser.type_into("#email", email).await;
    browser.type_into("#password", password).await;
    browser.click("form[action='/login'] button").await;
}

/// The signed-in person confirms their address from the registration mail,
/// as they must before adding a second factor or a passkey.
async fn confirm_address(app: &TestApp, browser: &Browser, smtp: &SmtpReceiver, email: &str) {
    let url = confirmation_link(app, smtp, email, 1).await;
    browser.goto(&url).await;
    browser.click("form[action='/email/verify'] button").await;
    browser.wait_for_url("/account?notice=email-verified").await;
}

/// The confirmation link of the `n`-th verification mail to `to`.
async fn confirmation_link(app: &TestApp, smtp: &SmtpReceiver, to: &str, n: usize) -> String {
    let prefix = format!("{}/email/verify/", app.state.settings.public_url);
    for _ in 0..500 {
        let mine: Vec<_> = smtp
            .mails()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == to) && m.data.contains("Confirm your email"))
            .collect();
        if mine.len() >= n {
            return link(&mine[n - 1], &prefix).expect("a confirmation link");
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no confirmation mail {n} to {to}");
}

#[actix_web::test]
async fn a_new_user_registers_confirms_from_the_mail_signs_in_and_out() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let (app, smtp) = app_for_the_browser(|s| s.email_verification_required = true).await;
    let email = format!("new-{}@example.com", uuid::Uuid::new_v4().simple());

    // Register: with verification required, the browser is asked to look
    // in its inbox.
    fill_register(&app, &browser, &email, PASSWORD).await;
    browser.wait_for_url("/login?notice=verify-email").await;
    assert!(browser.text().await.contains("We sent you a mail"));

    // Signing in before confirming is refused, with a resend button.
    sign_in(&app, &browser, &email, PASSWORD).await;
    browser
        .wait_for("the resend button", Duration::from_secs(10), async |b| {
            b.count("form[action='/email/resend'] button").await == 1
        })
        .await;
    browser.click("form[action='/email/resend'] button").await;
    browser
        .wait_for_url("/login?notice=verification-sent")
        .await;
    assert!(browser
        .text()
        .await
        .contains("A new confirmation mail is on its way."));

    // The newest mail's link, and the confirm button (a POST from a page
    // whose URL holds the token).
    let url = confirmation_link(&app, &smtp, &email, 2).await;
    browser.goto(&url).await;
    browser.click("form[action='/email/verify'] button").await;
    browser.wait_for_url("/login?notice=email-verified").await;
    assert!(browser
        .text()
        .await
        .contains("your email address is confirmed"));

    // Now the sign-in works.
    sign_in(&app, &browser, &email, PASSWORD).await;
    browser.wait_for_url("/account").await;
    let page = browser.text().await;
    assert!(
        page.contains(&email) && page.contains("Address confirmed"),
        "{page}"
    );

    // Sign out through the confirmation page.
    browser.goto(&format!("{}/logout", app.address)).await;
    browser.click("form[action='/logout'] button").await;
    browser.wait_for_url("/login?notice=signed-out").await;
    assert!(browser.text().await.contains("You are signed out."));
    browser.goto(&format!("{}/account", app.address)).await;
    browser.wait_for_url("/login?next=/account").await;
    browser.quit().await;
}

#[actix_web::test]
async fn a_signed_in_user_resends_the_mail_ends_sessions_and_changes_the_password() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let (app, smtp) = app_for_the_browser(|_| {}).await;
    let email = format!("me-{}@example.com", uuid::Uuid::new_v4().simple());
    fill_register(&app, &browser, &email, PASSWORD).await;
    browser.wait_for_url("/account?notice=welcome").await;
    let page = browser.text().await;
    assert!(page.contains("Welcome! Your account is ready."), "{page}");
    assert!(page.contains("Address not confirmed"), "{page}");

    // Resend the confirmation mail from the account page.
    browser
        .click("form[action='/account/email/resend'] button")
        .await;
    browser
        .wait_for_url("/account?notice=verification-sent")
        .await;
    assert!(browser
        .text()
        .await
        .contains("A new confirmation mail is on its way."));
    confirmation_link(&app, &smtp, &email, 2).await;

    // Two more sessions of the same user, elsewhere.
    for _ in 0..2 {
        app.clear_cookies();
        assert_eq!(app.login(&email, PASSWORD).await.status.as_u16(), 303);
    }
    browser.goto(&format!("{}/account", app.address)).await;
    assert_eq!(browser.count("tr[data-session-id]").await, 3);

    // Revoke one of the others with its own button.
    browser
        .click("tr[data-session-id]:not(.current) form button")
        .await;
    browser
        .wait_for_url("/account?notice=session-revoked")
        .await;
    assert!(browser.text().await.contains("Session revoked"));
    browser
        .wait_for("one session fewer", Duration::from_secs(10), async |b| {
            b.count("tr[data-session-id]").await == 2
        })
        .await;

    // Log out the rest.
    browser
        .click("form[action='/account/sessions/revoke-others'] button")
        .await;
    browser
        .wait_for_url("/account?notice=others-signed-out")
        .await;
    assert!(browser
        .text()
        .await
        .contains("Your other sessions were signed out."));
    browser
        .wait_for("only this session", Duration::from_secs(10), async |b| {
            b.count("tr[data-session-id]").await == 1
        })
        .await;
    assert!(browser.text().await.contains("(this session)"));
    // A second click finds no other session, and says so.
    browser
        .click("form[action='/account/sessions/revoke-others'] button")
        .await;
    browser
        .wait_for_url("/account?notice=no-other-sessions")
        .await;
    assert!(browser
        .text()
        .await
        .contains("There were no other sessions to sign out."));

    // Change the password; the old one stops working, the new one signs in.
    let new_password = "a new password from the page";
    browser.type_into("#current_password", PASSWORD).await;
    browser.type_into("#new_password", new_password).await;
    browser.type_into("#password_confirm", new_password).await;
    browser
        .click("form[action='/account/password'] button")
        .await;
    // Only this session was left: the page says nothing of others.
    browser
        .wait_for_url("/account?notice=password-changed-alone")
        .await;
    let text = browser.text().await;
    assert!(text.contains("Password changed."), "{text}");
    assert!(!text.contains("other sessions were signed out"), "{text}");
    let newest = browser
        .eval("return document.querySelector('#security-activity tbody tr td:nth-child(2)').innerText;")
        .await;
    assert_eq!(newest, "Password changed", "the newest security event");
    app.clear_cookies();
    assert_eq!(app.login(&email, PASSWORD).await.status.as_u16(), 400);
    browser.goto(&format!("{}/logout", app.address)).await;
    browser.click("form[action='/logout'] button").await;
    browser.wait_for_url("/login?notice=signed-out").await;
    sign_in(&app, &browser, &email, new_password).await;
    browser.wait_for_url("/account").await;
    browser.quit().await;
}

/// Turns on the authenticator app from the account page, as a person does:
/// the key read off the page, the code typed. Returns the secret.
pub(crate) async fn enable_totp_in_browser(app: &TestApp, browser: &Browser) -> Vec<u8> {
    browser.goto(&format!("{}/account", app.address)).await;
    assert!(browser.text().await.contains("Two-factor authentication"));
    browser.click("#setup-totp").await;
    browser.wait_for_url("/account/mfa/totp").await;
    assert_eq!(browser.count(".qr svg").await, 1, "the QR code is drawn");
    let key = browser
        .eval("return document.getElementById('totp-secret').innerText;")
        .await;
    let secret = totp::from_base32(key.as_str().unwrap()).expect("the key on the page");
    browser.type_into("#code", &code_now(app, &secret)).await;
    browser
        .click("form[action='/account/mfa/totp'] button")
        .await;
    browser
        .wait_for("the recovery codes", Duration::from_secs(10), async |b| {
            b.count("code.recovery-code").await == 10
        })
        .await;
    assert!(browser
        .text()
        .await
        .contains("Two-factor authentication is on"));
    browser.click("a.button[href='/account']").await;
    browser.wait_for_url("/account").await;
    assert_eq!(browser.count("#mfa-on").await, 1);
    // The set-up code's step is spent; the next sign-in uses the next one.
    app.clock.advance(time::Duration::seconds(30));
    secret
}

/// Removes the authenticator app from the account page (a session that
/// may act), and lands back there with two-factor off.
pub(crate) async fn remove_totp_in_browser(browser: &Browser) {
    browser
        .click("form[action='/account/mfa/totp/delete'] button")
        .await;
    browser.wait_for_url("/account?notice=mfa-disabled").await;
    assert!(browser
        .text()
        .await
        .contains("The authenticator app was removed."));
    assert_eq!(browser.count("#mfa-off").await, 1);
}

#[actix_web::test]
async fn a_user_turns_on_an_authenticator_app_and_signs_in_with_its_code() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let (app, smtp) = app_for_the_browser(|_| {}).await;
    let email = format!("totp-{}@example.com", uuid::Uuid::new_v4().simple());
    fill_register(&app, &browser, &email, PASSWORD).await;
    browser.wait_for_url("/account?notice=welcome").await;
    confirm_address(&app, &browser, &smtp, &email).await;
    let secret = enable_totp_in_browser(&app, &browser).await;

    browser.goto(&format!("{}/logout", app.address)).await;
    browser.click("form[action='/logout'] button").await;
    browser.wait_for_url("/login?notice=signed-out").await;

    // The password leads to the second step, not to the account.
    sign_in(&app, &browser, &email, PASSWORD).await;
    browser.wait_for_url("/login/mfa").await;
    assert!(browser.text().await.contains("enter the 6-digit code"));
    browser.goto(&format!("{}/account", app.address)).await;
    browser.wait_for_url("/login?next=/account").await;
    browser.goto(&format!("{}/login/mfa", app.address)).await;
    browser.type_into("#code", "000000").await;
    browser.click("form[action='/login/mfa'] button").await;
    browser
        .wait_for(
            "the wrong-code message",
            Duration::from_secs(10),
            async |b| b.text().await.contains("That code is not right"),
        )
        .await;
    browser.type_into("#code", &code_now(&app, &secret)).await;
    browser.click("form[action='/login/mfa'] button").await;
    browser.wait_for_url("/account").await;
    let page = browser.text().await;
    assert!(page.contains(&email), "{page}");
    assert!(page.contains("Recovery codes left: 10 of 10"), "{page}");
    browser.quit().await;
}

#[actix_web::test]
async fn a_stale_session_confirms_it_is_you_then_removes_the_app_and_deletes_the_account() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let (app, smtp) = app_for_the_browser(|_| {}).await;
    let email = format!("stale-{}@example.com", uuid::Uuid::new_v4().simple());
    fill_register(&app, &browser, &email, PASSWORD).await;
    browser.wait_for_url("/account?notice=welcome").await;
    confirm_address(&app, &browser, &smtp, &email).await;
    let secret = enable_totp_in_browser(&app, &browser).await;

    app.clock
        .advance(app.state.settings.reauth_window + time::Duration::seconds(1));
    browser
        .click("form[action='/account/mfa/totp/delete'] button")
        .await;
    browser.wait_for_url("/account/reauth?next=/account").await;
    assert!(browser.text().await.contains("Confirm it's you"));
    browser.type_into("#password", PASSWORD).await;
    browser.type_into("#code", &code_now(&app, &secret)).await;
    browser.click("form[action='/account/reauth'] button").await;
    browser.wait_for_url("/account").await;

    remove_totp_in_browser(&browser).await;

    browser.type_into("#delete_email", &email).await;
    browser.click("form[action='/account/delete'] button").await;
    browser.wait_for_url("/?notice=account-deleted").await;
    assert!(browser
        .text()
        .await
        .contains("Your account and everything in it was deleted."));
    assert_eq!(app.scalar_i64("SELECT count(*) AS n FROM users").await, 0);
    // The owner heard of each change by mail.
    let notices = [
        "Two-factor authentication was turned on",
        "An authenticator app was removed",
        "Your account was deleted",
    ];
    let mut missing = Vec::new();
    for _ in 0..500 {
        let mails = smtp.mails();
        missing = notices
            .iter()
            .filter(|s| {
                !mails
                    .iter()
                    .any(|m| m.data.contains(&format!("Subject: {s}")))
            })
            .collect();
        if missing.is_empty() {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(missing.is_empty(), "notice mails missing: {missing:?}");
    browser.quit().await;
}

#[actix_web::test]
async fn a_passkey_added_from_the_account_page_signs_in_alone_and_as_the_second_step() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let authenticator = browser.add_virtual_authenticator().await;
    let (app, smtp) = app_for_the_browser_at("localhost", |_| {}).await;
    let email = format!("passkey-{}@example.com", uuid::Uuid::new_v4().simple());
    fill_register(&app, &browser, &email, PASSWORD).await;
    browser.wait_for_url("/account?notice=welcome").await;
    confirm_address(&app, &browser, &smtp, &email).await;

    // No name typed: the passkey is named after the browser.
    browser.click("#add-passkey").await;
    browser
        .wait_for("the recovery codes", Duration::from_secs(10), async |b| {
            b.count("#passkey-recovery-codes code.recovery-code").await == 10
        })
        .await;
    let text = browser.text().await;
    assert!(text.contains("on Linux\" added"), "{text}");
    let held = browser.authenticator_credentials(&authenticator).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        held[0]["isResidentCredential"], true,
        "a discoverable passkey"
    );
    browser.click("#passkey-recovery-codes a.button").await;
    browser.wait_for_url("/account").await;
    let page = browser.text().await;
    assert!(page.contains("on Linux"), "{page}");

    // Signed out, the passkey alone signs in.
    browser.goto(&format!("{}/logout", app.address)).await;
    browser.click("form[action='/logout'] button").await;
    browser.wait_for_url("/login?notice=signed-out").await;
    browser.click("#passkey-sign-in").await;
    browser.wait_for_url("/account").await;
    assert!(browser.text().await.contains(&email));

    // And after the password, it is the second step.
    browser.goto(&format!("{}/logout", app.address)).await;
    browser.click("form[action='/logout'] button").await;
    browser.wait_for_url("/login?notice=signed-out").await;
    sign_in(&app, &browser, &email, PASSWORD).await;
    browser.wait_for_url("/login/mfa").await;
    browser.click("#passkey-second-step").await;
    browser.wait_for_url("/account").await;
    let last_used = browser
        .eval("return document.querySelector('#passkeys tbody tr td:nth-child(3)').innerText;")
        .await;
    assert_ne!(last_used, "never");
    let amr = app
        .scalar_i64(
            "SELECT count(*) AS n FROM sessions WHERE amr = 'pwd hwk mfa' AND revoked_at IS NULL",
        )
        .await;
    assert_eq!(amr, 1);
    browser.quit().await;
}

#[actix_web::test]
async fn an_api_key_made_on_the_account_page_is_shown_once_works_and_is_revoked() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let (app, smtp) = app_for_the_browser(|_| {}).await;
    let email = format!("keys-{}@example.com", uuid::Uuid::new_v4().simple());
    fill_register(&app, &browser, &email, PASSWORD).await;
    browser.wait_for_url("/account?notice=welcome").await;
    confirm_address(&app, &browser, &smtp, &email).await;

    browser.type_into("#api-key-name", "nightly backup").await;
    browser
        .click("#api-keys input[name='scope'][value='notes:read']")
        .await;
    browser
        .click("form[action='/account/api-keys'] button")
        .await;
    browser
        .wait_for("the new key", Duration::from_secs(10), async |b| {
            b.count("#new-api-key-value").await == 1
        })
        .await;
    browser
        .eval("document.getElementById('api-keys').scrollIntoView(); return 0;")
        .await;
    browser.screenshot("account-api-key-created").await;
    let key = browser
        .eval("return document.querySelector('#new-api-key-value').textContent;")
        .await
        .as_str()
        .unwrap()
        .to_owned();
    assert!(browser.text().await.contains("shown this once"));

    // Used like curl would: a bearer header, no cookie.
    let notes = app.api_get("/api/v1/notes", &key).await;
    assert_eq!(notes.status.as_u16(), 200, "{}", notes.body);
    let write = app
        .post("/api/v1/notes")
        .no_cookies()
        .bearer(&key)
        .json(&serde_json::json!({"title": "x"}))
        .send()
        .await;
    assert_eq!(write.status.as_u16(), 403, "only notes:read");

    // Shown once: the page again lists it by its first characters only.
    browser.goto(&format!("{}/account", app.address)).await;
    assert_eq!(browser.count("#new-api-key-value").await, 0);
    let page = browser.text().await;
    assert!(
        page.contains("nightly backup") && !page.contains(&key),
        "{page}"
    );
    browser
        .click("#api-keys tr[data-api-key-id] form button")
        .await;
    browser
        .wait_for_url("/account?notice=api-key-revoked")
        .await;
    let page = browser.text().await;
    assert!(page.contains("The API key was revoked"), "{page}");
    // The security activity tells both in words.
    let activity = browser
        .eval("return document.querySelector('#security-activity').innerText;")
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        activity.contains("API key created") && activity.contains("API key revoked"),
        "{activity}"
    );
    assert_eq!(browser.count("#api-keys tr[data-api-key-id]").await, 0);
    let refused = app.api_get("/api/v1/notes", &key).await;
    assert_eq!(refused.status.as_u16(), 401);
    browser.quit().await;
}
