//! Re-authentication at the OpenID provider (`prompt=login`, `max_age=0`):
//! for a user without a password it is the re-authentication; for a user
//! with a second factor it is the first factor only, and the code follows.

use crate::oidc::{assert_refused, count, event_count, exec};
use crate::support::factors::{code_now, enable_totp};
use crate::support::oidc::*;
use crate::support::*;
use awc::http::StatusCode;

#[actix_web::test]
async fn a_user_without_a_password_reauthenticates_at_the_provider() {
    let (app, _op) = spawn_with_provider(|_| {}).await;
    assert_eq!(sign_in(&app, "dina").await.status, StatusCode::SEE_OTHER);
    exec(
        &app,
        "UPDATE sessions SET auth_time = auth_time - interval '1 hour'",
    )
    .await;
    let page = app.get("/account/reauth?next=/account").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Confirm with Test ID"), "{}", page.body);
    assert!(!page.body.contains("name=\"password\""), "{}", page.body);
    let res = app
        .get(&format!("/login/oidc/{NAME}?purpose=reauth&next=/account"))
        .await;
    assert!(
        res.location().contains("prompt=login"),
        "{}",
        res.location()
    );
    assert!(res.location().contains("max_age=0"), "{}", res.location());
    let op = OpBrowser::default();
    let back = op
        .authorize(&res.location(), "dina", &app.address, false)
        .await;
    let res = app.get(&back[app.address.len()..]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/account");
    assert_eq!(event_count(&app, "reauthenticated").await, 1);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM sessions WHERE auth_time > now() - interval '5 minutes'"
        )
        .await,
        1
    );
    // Someone else's identity does not re-authenticate this session.
    exec(
        &app,
        "UPDATE sessions SET auth_time = auth_time - interval '1 hour'",
    )
    .await;
    let res = app
        .get(&format!("/login/oidc/{NAME}?purpose=reauth&next=/account"))
        .await;
    let back = OpBrowser::default()
        .authorize(&res.location(), "someone-else", &app.address, false)
        .await;
    assert_refused(&app.get(&back[app.address.len()..]).await);
}

/// Moves the sessions' last sign-in an hour back, past REAUTH_WINDOW.
pub(crate) async fn make_stale(app: &TestApp) {
    exec(
        app,
        "UPDATE sessions SET auth_time = auth_time - interval '1 hour'",
    )
    .await;
}

/// How many sessions signed in (or re-authenticated) in the last minutes.
pub(crate) async fn fresh_sessions(app: &TestApp) -> i64 {
    count(
        app,
        "SELECT count(*) AS n FROM sessions WHERE auth_time > now() - interval '5 minutes'",
    )
    .await
}

/// Posts `/account/reauth` with a code and no password.
pub(crate) async fn code_alone(app: &TestApp, code: &str) -> Response {
    let page = app.get("/account/reauth?next=/account").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = meta_csrf(&page.body);
    app.post("/account/reauth")
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("code", code),
            ("next", "/account"),
        ])
        .send()
        .await
}

/// A re-authentication at the provider as `login`: the callback's answer.
pub(crate) async fn reauth_at_provider(app: &TestApp, login: &str) -> Response {
    let op = OpBrowser::default();
    let start = format!("/login/oidc/{NAME}?purpose=reauth&next=/account");
    let callback = through_provider(app, &op, &start, login).await;
    app.get(&callback).await
}

#[actix_web::test]
async fn a_user_with_totp_confirms_at_the_provider_then_with_the_code_alone() {
    let (app, _op) = spawn_with_provider(|_| {}).await;
    assert_eq!(sign_in(&app, "gina").await.status, StatusCode::SEE_OTHER);
    let (secret, codes) = enable_totp(&app).await;
    // Back to the step of the set-up code (spent), so that the provider's
    // `auth_time` is not older than the request by the app's clock.
    app.clock.advance(time::Duration::seconds(-30));
    make_stale(&app).await;

    // The code alone does nothing without the provider first, even a right
    // recovery code (which stays unspent).
    let res = code_alone(&app, &codes[0]).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert_eq!(fresh_sessions(&app).await, 0);

    // The provider alone is the first factor only: nothing renewed yet.
    let res = reauth_at_provider(&app, "gina").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(
        res.location().starts_with("/account/reauth?next="),
        "{}",
        res.location()
    );
    assert_eq!(fresh_sessions(&app).await, 0);
    assert_eq!(event_count(&app, "reauthenticated").await, 0);
    let page = app.get("/account/reauth?next=/account").await;
    assert!(page.body.contains("One more step"), "{}", page.body);
    assert!(!page.body.contains("name=\"password\""), "{}", page.body);
    assert!(!page.body.contains("Confirm with Test ID"), "{}", page.body);
    assert_eq!(
        app.get("/account/mfa/totp").await.status,
        StatusCode::SEE_OTHER,
        "still not allowed to act"
    );

    // A wrong code is refused; the next step's code completes it at aal2.
    let res = code_alone(&app, "000000").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert_eq!(fresh_sessions(&app).await, 0);
    app.clock.advance(time::Duration::seconds(30));
    let res = code_alone(&app, &code_now(&app, &secret)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/account");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM sessions WHERE amr = 'fed otp mfa' AND aal = 2 \
             AND auth_time > now() - interval '5 minutes'"
        )
        .await,
        1
    );
    assert_eq!(event_count(&app, "reauthenticated").await, 1);

    // The provider's confirmation is spent with it.
    make_stale(&app).await;
    let res = code_alone(&app, &codes[0]).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert_eq!(fresh_sessions(&app).await, 0);

    // And it lasts five minutes.
    app.clock.advance(time::Duration::seconds(-30));
    let res = reauth_at_provider(&app, "gina").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    app.clock.advance(time::Duration::minutes(6));
    let res = code_alone(&app, &codes[0]).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    // (The app's clock is now six minutes ahead of the database's.)
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM sessions WHERE auth_time > now() + interval '5 minutes'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM recovery_codes WHERE used_at IS NOT NULL"
        )
        .await,
        0,
        "no recovery code was spent by a refused attempt"
    );
}
