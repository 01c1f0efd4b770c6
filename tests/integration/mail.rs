//! The outbox keeps no secret and gives up on what cannot be delivered: a
//! delivered (or given-up) mail's body is blanked so no link token stays in
//! the database, a permanently failing mail stops being retried and is
//! counted, and the mail-sending forms do the same work on the request path
//! for real and unknown addresses.

use crate::support::smtp::{link, SmtpReceiver};
use crate::support::*;
use awc::http::StatusCode;
use diesel_async::RunQueryDsl;
use hybrid_auth::mail::sender::{deliver_due, MAX_ATTEMPTS};
use time::Duration;

async fn forgot(app: &TestApp, email: &str) -> Response {
    let token = app.csrf_for("/password/forgot").await;
    app.post("/password/forgot")
        .form(&[("csrf_token", &token), ("email", email)])
        .send()
        .await
}

/// The app with its mail going to a real SMTP receiver.
async fn app_with_smtp() -> (TestApp, SmtpReceiver) {
    let smtp = SmtpReceiver::start().await;
    let port = smtp.port;
    let app =
        spawn_app_with(|s| s.mail_url = Some(format!("smtp://127.0.0.1:{port}").into())).await;
    (app, smtp)
}

/// Every body stored in the outbox, text and HTML, as one string.
async fn stored_bodies(app: &TestApp) -> String {
    #[derive(diesel::QueryableByName)]
    struct Body {
        #[diesel(sql_type = diesel::sql_types::Text)]
        body: String,
    }
    let mut conn = app.conn().await;
    let rows: Vec<Body> =
        diesel::sql_query("SELECT body_text || body_html AS body FROM mail_outbox")
            .load(&mut conn)
            .await
            .unwrap();
    rows.into_iter().map(|r| r.body).collect()
}

#[actix_web::test]
async fn a_delivered_mail_leaves_no_link_token_in_the_database() {
    let (app, smtp) = app_with_smtp().await;
    let email = app.api_user().await;
    assert_eq!(forgot(&app, &email).await.status, StatusCode::OK);

    let mail = smtp
        .wait_for_mails(2)
        .await
        .into_iter()
        .find(|m| m.data.contains("Reset your password"))
        .expect("the reset mail");
    let url = link(
        &mail,
        &format!("{}/password/reset/", app.state.settings.public_url),
    )
    .unwrap();
    let token = url.rsplit('/').next().unwrap().to_owned();
    for _ in 0..200 {
        let unsent = app
            .scalar_i64("SELECT count(*) AS n FROM mail_outbox WHERE sent_at IS NULL")
            .await;
        if unsent == 0 {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    let bodies = stored_bodies(&app).await;
    assert!(
        !bodies.contains(&token),
        "the delivered mail's link token is still stored in clear"
    );
    // The mail itself arrived intact, and the link still works.
    let page = app.get(&format!("/password/reset/{token}")).await;
    assert_eq!(page.status, StatusCode::OK);
}

#[actix_web::test]
async fn a_mail_that_keeps_failing_is_given_up_blanked_and_counted() {
    // Nobody listens on this port: every attempt fails (a transient error).
    let dead_port = crate::support::smtp::free_port();
    let app = spawn_app_with(|s| {
        s.mail_url = Some(format!("smtp://127.0.0.1:{dead_port}").into());
        s.email_verify_ttl = Duration::days(30);
    })
    .await;
    app.signed_in_user().await;
    let state = &app.state;
    // Each pass is an hour later, so the backoff has always passed. The
    // app's own sender runs too and may be the one making an attempt, so
    // the passes go on until the mail is given up, and the row says how
    // many attempts there were.
    let mut given_up = 0;
    for _ in 0..MAX_ATTEMPTS * 3 {
        app.clock.advance(Duration::hours(1));
        deliver_due(&state.pool, &state.clock, &state.mailer)
            .await
            .unwrap();
        given_up = app
            .scalar_i64(&format!(
                "SELECT count(*) AS n FROM mail_outbox WHERE failed_at IS NOT NULL \
                 AND attempts = {MAX_ATTEMPTS} AND body_text = '' AND body_html = ''"
            ))
            .await;
        if given_up == 1 {
            break;
        }
    }
    assert_eq!(
        given_up, 1,
        "given up after {MAX_ATTEMPTS} attempts, body blanked"
    );
    // And never claimed again.
    app.clock.advance(Duration::hours(1));
    assert_eq!(
        deliver_due(&state.pool, &state.clock, &state.mailer)
            .await
            .unwrap(),
        0
    );
    let metrics = hybrid_auth::metrics::render(&[]);
    assert!(
        metrics.contains(&format!(
            "{}{{result=\"given_up\"}}",
            hybrid_auth::metrics::MAILS
        )),
        "{metrics}"
    );
}

#[actix_web::test]
async fn a_mail_to_an_address_the_mailer_refuses_is_given_up_at_once() {
    // The receiver is kept alive: the mailer sends to it.
    let (app, _smtp) = app_with_smtp().await;
    // A row as an older version could have queued it.
    let mut conn = app.conn().await;
    diesel::sql_query(
        "INSERT INTO mail_outbox (recipient, subject, body_text, body_html, created_at, next_attempt_at) \
         VALUES ('a,b@example.com', 'Hi', 'link', 'link', now(), now())",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let given_up = deliver_until(
        &app,
        "SELECT count(*) AS n FROM mail_outbox WHERE failed_at IS NOT NULL AND attempts = 1",
        1,
    )
    .await;
    assert_eq!(given_up, 1, "one attempt, then given up: no retry can help");
}

#[actix_web::test]
async fn a_mail_whose_link_died_before_delivery_is_not_sent() {
    let dead_port = crate::support::smtp::free_port();
    let app = spawn_app_with(|s| {
        s.mail_url = Some(format!("smtp://127.0.0.1:{dead_port}").into());
    })
    .await;
    let email = app.api_user().await;
    assert_eq!(forgot(&app, &email).await.status, StatusCode::OK);
    wait_for_outbox_rows(&app, 2).await;
    // Past every link's lifetime (EMAIL_VERIFY_TTL, 24 h, is the longest).
    app.clock.advance(Duration::hours(25));
    let expired = deliver_until(
        &app,
        "SELECT count(*) AS n FROM mail_outbox \
         WHERE failed_at IS NOT NULL AND last_error = 'expired before delivery' AND body_text = ''",
        2,
    )
    .await;
    assert_eq!(expired, 2, "the registration mail and the reset mail");
}

/// Runs the sender until `query` counts `n` (or two seconds have passed)
/// and returns the last count. One pass is not always enough: the app's
/// own sender may be holding a row (`SKIP LOCKED`) in an attempt it began
/// before the clock moved, and the row is due again once that attempt ends.
async fn deliver_until(app: &TestApp, query: &str, n: i64) -> i64 {
    let state = &app.state;
    let mut count = 0;
    for _ in 0..200 {
        deliver_due(&state.pool, &state.clock, &state.mailer)
            .await
            .unwrap();
        count = app.scalar_i64(query).await;
        if count == n {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    count
}

async fn wait_for_outbox_rows(app: &TestApp, n: i64) {
    for _ in 0..500 {
        if app
            .scalar_i64("SELECT count(*) AS n FROM mail_outbox")
            .await
            >= n
        {
            return;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no mail was queued");
}

#[actix_web::test]
async fn forgot_password_answers_before_any_account_work_is_done() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    // Another transaction holds the outbox: queueing a mail must wait.
    let mut blocker = app.conn().await;
    diesel::sql_query("BEGIN")
        .execute(&mut blocker)
        .await
        .unwrap();
    diesel::sql_query("LOCK TABLE mail_outbox IN EXCLUSIVE MODE")
        .execute(&mut blocker)
        .await
        .unwrap();

    // A real account's request answers while its mail cannot be queued:
    // the work that differs between real and unknown addresses is not on
    // the request path.
    let answered =
        actix_web::rt::time::timeout(std::time::Duration::from_secs(5), forgot(&app, &email))
            .await
            .expect("the request waited for the outbox");
    assert_eq!(answered.status, StatusCode::OK);

    diesel::sql_query("COMMIT")
        .execute(&mut blocker)
        .await
        .unwrap();
    // Then the mail is queued all the same.
    wait_for_outbox_rows(&app, 2).await;
}
