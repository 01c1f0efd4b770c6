//! "Continue with …" clicked through in Chromium against the real OpenID
//! Provider: a new account, the refused unlink of the only way in, linking an
//! existing account after its owner signs in, and a re-authentication at the
//! provider followed by the code.

use crate::oidc::count;
use crate::oidc_reauth::{fresh_sessions, make_stale};
use crate::support::factors::code_now;
use crate::support::oidc::*;
use crate::support::webdriver::Browser;
use crate::support::*;
use awc::http::StatusCode;

async fn wait_css(browser: &Browser, what: &str, css: &str) {
    browser
        .wait_for(what, std::time::Duration::from_secs(15), async |b| {
            b.count(css).await > 0
        })
        .await;
}

/// The provider's login form: sign in as `login`.
async fn provider_login(browser: &Browser, login: &str) {
    wait_css(browser, "the provider's login form", "input[name='login']").await;
    browser.type_into("input[name='login']", login).await;
    browser
        .type_into("input[name='password']", "anything")
        .await;
    browser.click("button[type='submit']").await;
}

/// At the provider's pages: sign in as `login`, then consent.
async fn at_the_provider(browser: &Browser, login: &str) {
    provider_login(browser, login).await;
    wait_css(browser, "the consent form", "input[value='consent']").await;
    browser.click("button[type='submit']").await;
}

/// From the app's sign-in page through the provider's pages as `login`, a
/// new account: the browser lands on the account page's welcome.
async fn sign_up_at_the_provider(browser: &Browser, app: &TestApp, login: &str) {
    browser.goto(&format!("{}/login", app.address)).await;
    browser.screenshot("oidc-login").await;
    browser.click("#oidc-providers a").await;
    at_the_provider(browser, login).await;
    browser
        .wait_for_url("/account?notice=welcome-provider")
        .await;
}

#[actix_web::test]
async fn a_person_continues_with_the_provider_links_an_existing_account_and_unlinks_in_chromium() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let (app, op) = spawn_with_provider(|_| {}).await;

    // A new account, clicked through the provider's pages.
    sign_up_at_the_provider(&browser, &app, "emma").await;
    let page = browser.text().await;
    assert!(page.contains("Welcome! Your account is ready."), "{page}");
    assert!(page.contains("emma@example.com"), "{page}");
    assert!(page.contains("Test ID"), "{page}");
    browser.screenshot("oidc-account").await;

    // The only way in: unlinking is refused.
    browser
        .click("form[action^='/account/identities/'] button")
        .await;
    // The account page has an `h1` too: wait for the refusal's own words,
    // not for an element the page being left already shows.
    let refusal = "This is your only way to sign in";
    browser
        .wait_for(
            "the refusal",
            std::time::Duration::from_secs(15),
            async |b| b.text().await.contains(refusal),
        )
        .await;
    let page = browser.text().await;
    assert!(page.contains(refusal), "{page}");
    assert!(
        browser.url().await.contains("/account/identities/"),
        "the refusal answers the unlink form itself"
    );
    browser.screenshot("oidc-unlink-refused").await;
    browser
        .goto(&format!("{}/account/reauth?next=/account", app.address))
        .await;
    let page = browser.text().await;
    assert!(page.contains("Confirm with Test ID"), "{page}");
    browser.screenshot("oidc-reauth").await;
    browser
        .goto(&format!(
            "{}/login/oidc/{NAME}/callback?state=forged",
            app.address
        ))
        .await;
    assert!(browser.text().await.contains("Sign-in did not work"));
    browser.screenshot("oidc-refused").await;

    // Signed out here and at the provider: an identity with the email of a
    // local account.
    let local = app.another_browser();
    assert_eq!(
        local.register("finn@example.com", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    // Finn has confirmed the address (the confirmation mail is lifecycle's).
    app.prove_addresses().await;
    op.profile("finn-elsewhere", "finn@example.com", true).await;
    browser.goto(&format!("{}/logout", app.address)).await;
    browser.click("form[action='/logout'] button").await;
    browser.wait_for_url("/login?notice=signed-out").await;
    browser
        .goto(&format!("{}/.well-known/openid-configuration", op.issuer))
        .await;
    browser.delete_cookies().await;
    browser.goto(&format!("{}/register", app.address)).await;
    browser.screenshot("oidc-register").await;
    browser.click("#oidc-providers a").await;
    at_the_provider(&browser, "finn-elsewhere").await;
    wait_css(&browser, "the link page", "#sign-in-to-link").await;
    browser.screenshot("oidc-link-needed").await;
    browser.click("#sign-in-to-link").await;
    wait_css(&browser, "the login form", "#email").await;
    browser.type_into("#email", "finn@example.com").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("form[action='/login'] button").await;
    wait_css(&browser, "the confirm button", "#link-identity").await;
    browser.screenshot("oidc-link-confirm").await;
    browser.click("#link-identity").await;
    browser
        .wait_for_url("/account?notice=identity-linked")
        .await;
    let page = browser.text().await;
    assert!(page.contains("Sign-in provider linked"), "{page}");
    assert!(page.contains("finn@example.com"), "{page}");
    browser
        .eval("document.getElementById('identities').scrollIntoView(); return 0;")
        .await;
    browser.screenshot("oidc-linked").await;
    browser.quit().await;
}

/// At the provider again (`prompt=login`): its login form, then its consent
/// form if it asks again (it may remember the grant).
async fn at_the_provider_again(browser: &Browser, app: &TestApp, login: &str) {
    provider_login(browser, login).await;
    let consent = "input[value='consent']";
    browser
        .wait_for(
            "the consent form or the way back",
            std::time::Duration::from_secs(15),
            async |b| {
                b.url().await.starts_with(&format!("{}/", app.address))
                    || b.count(consent).await > 0
            },
        )
        .await;
    if browser.count(consent).await > 0 {
        browser.click("button[type='submit']").await;
    }
}

#[actix_web::test]
async fn a_person_without_a_password_confirms_at_the_provider_then_with_a_code_in_chromium() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let (app, _op) = spawn_with_provider(|_| {}).await;
    sign_up_at_the_provider(&browser, &app, "ivy").await;
    let secret = crate::page_flows::enable_totp_in_browser(&app, &browser).await;
    // Back to the set-up code's (spent) step: the provider's `auth_time`
    // must not look older than the request by the app's clock.
    app.clock.advance(time::Duration::seconds(-30));
    make_stale(&app).await;

    // A sensitive action on a stale session: confirm at the provider first.
    browser
        .click("form[action='/account/mfa/totp/delete'] button")
        .await;
    browser.wait_for_url("/account/reauth?next=/account").await;
    let page = browser.text().await;
    assert!(page.contains("Sign in at your provider again"), "{page}");
    browser.click("a.button[href^='/login/oidc/']").await;
    at_the_provider_again(&browser, &app, "ivy").await;

    // Then the code alone, on this app's page.
    browser.wait_for_url("/account/reauth?next=/account").await;
    wait_css(&browser, "the code form", "#code").await;
    let page = browser.text().await;
    assert!(page.contains("One more step"), "{page}");
    assert_eq!(browser.count("#password").await, 0, "no password asked for");
    browser.screenshot("oidc-reauth-code").await;
    assert_eq!(fresh_sessions(&app).await, 0, "not yet re-authenticated");
    app.clock.advance(time::Duration::seconds(30));
    browser.type_into("#code", &code_now(&app, &secret)).await;
    browser.click("form[action='/account/reauth'] button").await;
    browser.wait_for_url("/account").await;

    // Now the sensitive action goes through.
    crate::page_flows::remove_totp_in_browser(&browser).await;
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM totp_factors").await,
        0,
        "the authenticator app was removed"
    );
    browser.quit().await;
}
