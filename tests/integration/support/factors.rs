//! Second factors from a test's side: the authenticator app (reading the
//! secret off the set-up page and computing codes at the app's clock) and
//! recovery codes read off their page.

use super::app::{meta_csrf, TestApp};
use awc::http::StatusCode;
use hybrid_auth::auth::credentials::totp;

/// The text of the element with `id`, from `html`.
pub fn element_text(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let from = start + html[start..].find('>')? + 1;
    let to = from + html[from..].find('<')?;
    Some(html[from..to].trim().to_owned())
}

/// Every recovery code on a page.
pub fn recovery_codes(html: &str) -> Vec<String> {
    html.split("<code class=\"recovery-code\">")
        .skip(1)
        .filter_map(|rest| rest.split('<').next())
        .map(str::to_owned)
        .collect()
}

/// The code an authenticator with `secret` shows at the app's clock.
pub fn code_now(app: &TestApp, secret: &[u8]) -> String {
    totp::code_at(secret, app.clock.unix()).expect("a code")
}

/// The secret on the set-up page this (signed-in) client is shown.
pub async fn setup_secret(app: &TestApp) -> (Vec<u8>, String) {
    app.prove_addresses().await;
    let page = app.get("/account/mfa/totp").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let text = element_text(&page.body, "totp-secret").expect("the secret on the page");
    (
        totp::from_base32(&text).expect("base32"),
        meta_csrf(&page.body),
    )
}

/// Turns on TOTP for the signed-in client: (the secret, the recovery codes).
/// The clock then moves to the next step, so the set-up code's step is past.
pub async fn enable_totp(app: &TestApp) -> (Vec<u8>, Vec<String>) {
    let (secret, csrf) = setup_secret(app).await;
    let res = app
        .post("/account/mfa/totp")
        .form(&[("csrf_token", &csrf), ("code", &code_now(app, &secret))])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let codes = recovery_codes(&res.body);
    assert_eq!(codes.len(), 10, "{}", res.body);
    app.clock.advance(time::Duration::seconds(30));
    (secret, codes)
}

/// The password step for a user with a second factor: 303 to /login/mfa.
pub async fn password_step(app: &TestApp, email: &str) {
    let res = app.login(email, super::app::PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(
        res.location().starts_with("/login/mfa"),
        "{}",
        res.location()
    );
}

/// Posts `code` to `/login/mfa`.
pub async fn second_step(app: &TestApp, code: &str) -> super::app::Response {
    // The anonymous form token (the same on every anonymous page).
    let csrf = app.csrf_for("/login").await;
    app.post("/login/mfa")
        .form(&[("csrf_token", &csrf), ("code", code)])
        .send()
        .await
}

/// The password grant with a second-factor `otp`.
pub async fn otp_grant(app: &TestApp, email: &str, otp: &str) -> super::app::Response {
    app.post("/api/v1/auth/token")
        .no_cookies()
        .form(&[
            ("grant_type", "password"),
            ("username", email),
            ("password", super::app::PASSWORD),
            ("otp", otp),
        ])
        .send()
        .await
}
