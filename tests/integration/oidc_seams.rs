//! Provider sign-in against the other features: an identity whose provider
//! did not verify the address keeps nothing once the address's owner proves
//! it by a reset, and anonymous starts of a provider sign-in are bounded.

use crate::support::oidc::*;
use crate::support::smtp::SmtpReceiver;
use awc::http::StatusCode;

#[actix_web::test]
async fn an_unverified_provider_account_loses_its_identity_when_the_owner_resets() {
    let smtp = SmtpReceiver::start().await;
    let port = smtp.port;
    let (app, op) =
        spawn_with_provider(|s| s.mail_url = Some(format!("smtp://127.0.0.1:{port}").into())).await;
    // The squatter's provider account claims the owner's address, unverified.
    op.profile("squatter", "owner@example.com", false).await;
    let squatter = app.another_browser();
    assert_eq!(
        sign_in(&squatter, "squatter").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM oidc_identities")
            .await,
        1
    );

    // The owner takes the address back with the reset mail.
    let owner = app.another_browser();
    crate::seams::owner_resets(&owner, &smtp, "owner@example.com", "the owner's password").await;

    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM oidc_identities")
            .await,
        0,
        "the squatter's identity is gone"
    );
    assert_eq!(squatter.get("/account").await.status, StatusCode::SEE_OTHER);
    // Coming back through the provider no longer signs the squatter in: the
    // address now belongs to a local account, which must sign in to link.
    let again = app.another_browser();
    let res = sign_in(&again, "squatter").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("id=\"sign-in-to-link\""), "{}", res.body);
    assert_eq!(again.get("/account").await.status, StatusCode::SEE_OTHER);
    // The owner signs in with the password alone.
    let res = owner
        .login("owner@example.com", "the owner's password")
        .await;
    assert_eq!(res.location(), "/account");
}

#[actix_web::test]
async fn anonymous_provider_starts_meet_429_past_thirty_a_minute() {
    let (app, _op) = spawn_with_provider(|_| {}).await;
    let start = format!("/login/oidc/{NAME}");
    for _ in 0..30 {
        assert_eq!(app.get(&start).await.status, StatusCode::SEE_OTHER);
    }
    let res = app.get(&start).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    assert!(res.header("retry-after").is_some());
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM oidc_requests")
            .await,
        30,
        "a refused start stores nothing"
    );
    app.clock.advance(time::Duration::seconds(61));
    assert_eq!(app.get(&start).await.status, StatusCode::SEE_OTHER);
}
