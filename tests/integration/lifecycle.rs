//! The account lifecycle over real SMTP (a receiver inside the test):
//! verification at registration, password reset end to end, links that are
//! single use, expire and die when a newer one is sent or the password
//! changes, no mail and the same answer for unknown addresses, mail that
//! survives an SMTP outage, and EMAIL_VERIFICATION=required.

use crate::support::smtp::{free_port, link, Mail, SmtpReceiver};
use crate::support::*;
use awc::http::StatusCode;
use time::Duration;

pub(crate) async fn app_with_smtp(
    configure: impl FnOnce(&mut hybrid_auth::config::Settings),
) -> (TestApp, SmtpReceiver) {
    let smtp = SmtpReceiver::start().await;
    let port = smtp.port;
    let app = spawn_app_with(|s| {
        s.mail_url = Some(format!("smtp://127.0.0.1:{port}").into());
        configure(s);
    })
    .await;
    (app, smtp)
}

fn mails_to<'a>(mails: &'a [Mail], to: &str, subject: &str) -> Vec<&'a Mail> {
    mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t == to) && m.data.contains(subject))
        .collect()
}

/// Waits until `to` has `n` mails with `subject`; returns the newest's link.
pub(crate) async fn nth_link(
    app: &TestApp,
    smtp: &SmtpReceiver,
    to: &str,
    subject: &str,
    n: usize,
    path: &str,
) -> String {
    let since = std::time::Instant::now();
    loop {
        let all = smtp.mails();
        let mine = mails_to(&all, to, subject);
        if mine.len() >= n {
            let prefix = format!("{}{path}", app.state.settings.public_url);
            return link(mine[n - 1], &prefix).expect("a link in the mail");
        }
        assert!(
            since.elapsed() < std::time::Duration::from_secs(10),
            "no mail `{subject}` to {to}"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The path of an absolute link into the app.
pub(crate) fn path_of(app: &TestApp, url: &str) -> String {
    url.strip_prefix(&app.state.settings.public_url)
        .unwrap()
        .to_owned()
}

pub(crate) async fn request_reset(app: &TestApp, email: &str) -> Response {
    let token = app.csrf_for("/password/forgot").await;
    app.post("/password/forgot")
        .form(&[("csrf_token", &token), ("email", email)])
        .send()
        .await
}

#[actix_web::test]
async fn registration_mails_a_link_that_verifies_only_when_the_button_is_pressed() {
    let (app, smtp) = app_with_smtp(|_| {}).await;
    let email = app.signed_in_user().await;
    let url = nth_link(
        &app,
        &smtp,
        &email,
        "Confirm your email address",
        1,
        "/email/verify/",
    )
    .await;

    // Fetching the link (as a mail scanner would) verifies nothing.
    let page = app.get(&path_of(&app, &url)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Confirm my address"));
    assert!(app.get("/account").await.body.contains("email-unverified"));

    let token = url.rsplit('/').next().unwrap().to_owned();
    let csrf = app.csrf_for("/account").await;
    let res = app
        .post("/email/verify")
        .form(&[("csrf_token", csrf.as_str()), ("token", &token)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/account?notice=email-verified");
    let account = app.get("/account").await;
    assert!(account.body.contains("email-verified"));
    assert!(
        account.body.contains("Email address verified"),
        "in the security activity"
    );

    // Single use.
    let again = app
        .post("/email/verify")
        .form(&[("csrf_token", csrf.as_str()), ("token", &token)])
        .send()
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn forgot_answers_the_same_for_unknown_addresses_and_mails_only_real_accounts() {
    let (app, smtp) = app_with_smtp(|_| {}).await;
    let email = app.api_user().await;
    let unknown = request_reset(&app, "nobody@example.com").await;
    let known = request_reset(&app, &email).await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert_eq!(known.status, StatusCode::OK);
    assert_eq!(unknown.body, known.body, "the same page either way");
    assert!(known.body.contains("If an account exists"));

    nth_link(
        &app,
        &smtp,
        &email,
        "Reset your password",
        1,
        "/password/reset/",
    )
    .await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        mails_to(&smtp.mails(), "nobody@example.com", "").is_empty(),
        "no mail for unknown addresses"
    );
}

#[actix_web::test]
async fn a_password_reset_sets_the_password_and_ends_every_session_and_token() {
    let (app, smtp) = app_with_smtp(|_| {}).await;
    // A signed-in browser, and an API client with access and refresh tokens.
    let email = app.signed_in_user().await;
    let browser = app.cookies();
    let res = app.password_grant(&email, PASSWORD, None).await;
    let access = res.json()["access_token"].as_str().unwrap().to_owned();
    let refresh = res.json()["refresh_token"].as_str().unwrap().to_owned();

    // Someone (on another device) resets the password by mail.
    app.clear_cookies();
    assert_eq!(request_reset(&app, &email).await.status, StatusCode::OK);
    let url = nth_link(
        &app,
        &smtp,
        &email,
        "Reset your password",
        1,
        "/password/reset/",
    )
    .await;
    let form_page = app.get(&path_of(&app, &url)).await;
    assert_eq!(form_page.status, StatusCode::OK);
    let token = url.rsplit('/').next().unwrap().to_owned();
    let csrf = meta_csrf(&form_page.body);
    let new_password = "a brand new password";
    let res = app
        .post("/password/reset")
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("token", &token),
            ("new_password", new_password),
            ("password_confirm", new_password),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/login?notice=password-reset");
    assert!(app
        .get("/login?notice=password-reset")
        .await
        .body
        .contains("Sign in with the new password"));

    // Everything of the old password is dead: the cookie, the access token,
    // the refresh family.
    app.restore_cookies(browser);
    assert_eq!(app.get("/account").await.status, StatusCode::SEE_OTHER);
    let ping = app.api_get("/api/v1/ping", &access).await;
    assert_eq!(ping.json()["error_description"], "access token revoked");
    let refreshed = app.refresh_grant(&refresh, None).await;
    assert_eq!(refreshed.json()["error"], "invalid_grant");
    // The old password is refused, the new one works; the link is spent.
    app.clear_cookies();
    assert_eq!(
        app.password_grant(&email, PASSWORD, None).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.password_grant(&email, new_password, None).await.status,
        StatusCode::OK
    );
    let spent = app.get(&path_of(&app, &url)).await;
    assert_eq!(spent.status, StatusCode::BAD_REQUEST);
    assert!(spent.body.contains("invalid or has expired"));
    assert!(spent.body.contains("/password/forgot"));
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM auth_events WHERE kind = 'password_reset'")
            .await,
        1
    );
    // A reset proves the address.
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM users WHERE email_verified_at IS NOT NULL")
            .await,
        1
    );
}

#[actix_web::test]
async fn reset_links_expire_and_a_newer_link_kills_the_older() {
    let (app, smtp) = app_with_smtp(|_| {}).await;
    let email = app.api_user().await;
    request_reset(&app, &email).await;
    let first = nth_link(
        &app,
        &smtp,
        &email,
        "Reset your password",
        1,
        "/password/reset/",
    )
    .await;
    request_reset(&app, &email).await;
    let second = nth_link(
        &app,
        &smtp,
        &email,
        "Reset your password",
        2,
        "/password/reset/",
    )
    .await;
    assert_ne!(first, second);

    assert_eq!(
        app.get(&path_of(&app, &first)).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get(&path_of(&app, &second)).await.status,
        StatusCode::OK
    );
    // PASSWORD_RESET_TTL is 30 minutes.
    app.clock.advance(Duration::minutes(31));
    assert_eq!(
        app.get(&path_of(&app, &second)).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[actix_web::test]
async fn changing_the_password_kills_reset_links() {
    let (app, smtp) = app_with_smtp(|_| {}).await;
    let email = app.signed_in_user().await;
    let jar = app.cookies();
    app.clear_cookies();
    request_reset(&app, &email).await;
    let url = nth_link(
        &app,
        &smtp,
        &email,
        "Reset your password",
        1,
        "/password/reset/",
    )
    .await;

    app.restore_cookies(jar);
    let csrf = app.csrf_for("/account").await;
    let res = app
        .post("/account/password")
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("current_password", PASSWORD),
            ("new_password", "another new password"),
            ("password_confirm", "another new password"),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&path_of(&app, &url)).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[actix_web::test]
async fn forgot_is_throttled_per_address() {
    let (app, _smtp) = app_with_smtp(|_| {}).await;
    for _ in 0..3 {
        assert_eq!(
            request_reset(&app, "someone@example.com").await.status,
            StatusCode::OK
        );
    }
    let res = request_reset(&app, "someone@example.com").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.header("retry-after").is_some());
}

#[actix_web::test]
async fn mail_queued_during_an_smtp_outage_arrives_when_it_is_back_and_nobody_waited() {
    let port = free_port();
    let app =
        spawn_app_with(|s| s.mail_url = Some(format!("smtp://127.0.0.1:{port}").into())).await;
    let email = app.api_user().await;

    // SMTP is down: the request answers at once, the mail waits in the outbox.
    let started = std::time::Instant::now();
    assert_eq!(request_reset(&app, &email).await.status, StatusCode::OK);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let pool = app.state.pool.clone();
    let failed = || {
        let pool = pool.clone();
        async move {
            let mut conn = hybrid_auth::db::conn(&pool).await.unwrap();
            #[derive(diesel::QueryableByName)]
            struct N {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let n: N = diesel_async::RunQueryDsl::get_result(
                diesel::sql_query(
                    "SELECT count(*) AS n FROM mail_outbox WHERE sent_at IS NULL AND attempts > 0 \
                     AND subject = 'Reset your password'",
                ),
                &mut conn,
            )
            .await
            .unwrap();
            n.n
        }
    };
    let since = std::time::Instant::now();
    while failed().await == 0 {
        assert!(
            since.elapsed() < std::time::Duration::from_secs(10),
            "no failed attempt recorded"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // SMTP comes back; the retry (after its backoff) delivers the mail.
    let smtp = SmtpReceiver::start_on(port).await;
    app.clock.advance(Duration::minutes(5));
    let url = nth_link(
        &app,
        &smtp,
        &email,
        "Reset your password",
        1,
        "/password/reset/",
    )
    .await;
    assert_eq!(app.get(&path_of(&app, &url)).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn required_verification_blocks_sign_in_and_tokens_until_the_address_is_confirmed() {
    let (app, smtp) = app_with_smtp(|s| s.email_verification_required = true).await;
    let email = format!("req-{}@example.com", uuid::Uuid::new_v4().simple());
    let res = app.register(&email, PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/login?notice=verify-email");
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "no session yet"
    );

    let login = app.login(&email, PASSWORD).await;
    assert_eq!(login.status, StatusCode::FORBIDDEN);
    assert!(
        login.body.contains("action=\"/email/resend\""),
        "a resend button"
    );
    let grant = app.password_grant(&email, PASSWORD, None).await;
    assert_eq!(grant.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        grant.json()["error_description"],
        "email address not verified"
    );

    // The button sends a new link; the newest one works, anonymously.
    let token = meta_csrf(&login.body);
    let resend = app
        .post("/email/resend")
        .form(&[("csrf_token", token.as_str()), ("email", email.as_str())])
        .send()
        .await;
    assert_eq!(resend.location(), "/login?notice=verification-sent");
    let url = nth_link(
        &app,
        &smtp,
        &email,
        "Confirm your email address",
        2,
        "/email/verify/",
    )
    .await;
    let confirm = app.get(&path_of(&app, &url)).await;
    let verify = app
        .post("/email/verify")
        .form(&[
            ("csrf_token", meta_csrf(&confirm.body).as_str()),
            ("token", url.rsplit('/').next().unwrap()),
        ])
        .send()
        .await;
    assert_eq!(verify.location(), "/login?notice=email-verified");
    assert_eq!(
        app.login(&email, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.password_grant(&email, PASSWORD, None).await.status,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn the_purge_drops_expired_links_and_old_delivered_mail() {
    let (app, smtp) = app_with_smtp(|_| {}).await;
    let email = app.api_user().await;
    request_reset(&app, &email).await;
    nth_link(
        &app,
        &smtp,
        &email,
        "Reset your password",
        1,
        "/password/reset/",
    )
    .await;
    let unsent = || app.scalar_i64("SELECT count(*) AS n FROM mail_outbox WHERE sent_at IS NULL");
    let since = std::time::Instant::now();
    while unsent().await > 0 {
        assert!(
            since.elapsed() < std::time::Duration::from_secs(10),
            "mail not marked sent"
        );
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    // Nothing is due yet: the links are live and the mail is recent.
    let mut conn = app.conn().await;
    let grace = Duration::seconds(10);
    let early = hybrid_auth::maintenance::purge(&mut conn, app.clock.now(), grace)
        .await
        .unwrap();
    assert_eq!((early.account_tokens, early.mails), (0, 0));

    // Eight days on: the links have expired, the delivered mail is old.
    app.clock.advance(Duration::days(8));
    let later = hybrid_auth::maintenance::purge(&mut conn, app.clock.now(), grace)
        .await
        .unwrap();
    assert_eq!(
        later.account_tokens, 2,
        "the verification and the reset link"
    );
    assert_eq!(later.mails, 2);
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM account_tokens")
            .await,
        0
    );
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM mail_outbox")
            .await,
        0
    );
}
