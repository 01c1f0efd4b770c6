//! A project started with `rename` shows its own name everywhere people see
//! one: page titles and navigation, the API description and its docs page,
//! the `WWW-Authenticate` realm, the token audience, the mail sender and the
//! TOTP issuer all say APP_NAME (the package name by default), and nothing
//! says the template's name. In the template itself the second half checks
//! nothing; CI runs the whole suite in a renamed copy, where it does.

use crate::support::smtp::{decoded, SmtpReceiver};
use crate::support::*;
use awc::http::StatusCode;

/// The template's name, which a renamed project must not show.
const TEMPLATE: &str = "hybrid-auth";

fn shows_only_its_own_name(what: &str, text: &str) {
    let name = hybrid_auth::web::app_name();
    assert_eq!(
        name,
        env!("CARGO_PKG_NAME"),
        "APP_NAME defaults to the package"
    );
    if name != TEMPLATE {
        assert!(
            !text.contains(TEMPLATE),
            "{what} still says {TEMPLATE}:\n{text}"
        );
    }
}

#[actix_web::test]
async fn every_name_people_see_is_the_apps() {
    let smtp = SmtpReceiver::start().await;
    let port = smtp.port;
    let app =
        spawn_app_with(|s| s.mail_url = Some(format!("smtp://127.0.0.1:{port}").into())).await;
    let name = hybrid_auth::web::app_name();

    for path in ["/", "/login", "/register", "/password/forgot", "/api/docs"] {
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.body.contains(name), "{path}: {}", page.body);
        shows_only_its_own_name(path, &page.body);
    }
    let doc = app.get("/api/openapi.json").await;
    assert_eq!(doc.json()["info"]["title"], format!("{name} API"));
    shows_only_its_own_name("the API description", &doc.body);

    let refused = app.api_get("/api/v1/me", "not-a-token").await;
    let challenge = refused.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with(&format!("Bearer realm=\"{name}\"")),
        "{challenge}"
    );

    // Signed in: the account page, a token's audience, the TOTP issuer.
    let email = app.signed_in_user().await;
    let account = app.get("/account").await;
    shows_only_its_own_name("the account page", &account.body);
    let setup = app.get("/account/mfa/totp").await;
    let issuer = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    assert!(
        setup.body.contains(&format!("issuer={issuer}")),
        "{}",
        setup.body
    );
    shows_only_its_own_name("the TOTP set-up page", &setup.body);
    app.clear_cookies();
    let grant = app.password_grant(&email, PASSWORD, None).await;
    let access = grant.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_part(&access, 1)["aud"], format!("{name}-api"));

    // The welcome mail comes from the app, by name.
    let mail = smtp.wait_for_mails(1).await.remove(0);
    assert!(
        mail.data
            .contains(&format!("From: {name} <no-reply@localhost>")),
        "{}",
        mail.data
    );
    shows_only_its_own_name("a mail", &mail.data);
    shows_only_its_own_name("a mail", &decoded(&mail));
}
