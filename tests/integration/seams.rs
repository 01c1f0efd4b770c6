//! Attacks that live between features (docs/security.md, "Attacks between
//! features"): someone who registered another person's address first keeps
//! nothing once the owner takes it back; nothing can be attached to an
//! address before it is proven; a sign-in racing a factor's enable leaves no
//! single-factor session; an account without a password costs a sign-in the
//! same hashing as an unknown address; anonymous ceremony starts are
//! bounded; and a re-authentication gives the browser a new cookie.

use crate::lifecycle::{app_with_smtp, nth_link, path_of, request_reset};
use crate::support::factors::{element_text, enable_totp};
use crate::support::*;
use awc::http::StatusCode;
use hybrid_auth::auth::sessions::{self, Assurance, Kind};
use hybrid_auth::auth::ClientInfo;

/// The owner of `email` sets `new_password` through the reset mail.
pub(crate) async fn owner_resets(
    app: &TestApp,
    smtp: &crate::support::smtp::SmtpReceiver,
    email: &str,
    new_password: &str,
) {
    app.clear_cookies();
    assert_eq!(request_reset(app, email).await.status, StatusCode::OK);
    let url = nth_link(
        app,
        smtp,
        email,
        "Reset your password",
        1,
        "/password/reset/",
    )
    .await;
    let form = app.get(&path_of(app, &url)).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let token = url.rsplit('/').next().unwrap().to_owned();
    let csrf = meta_csrf(&form.body);
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
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
}

#[actix_web::test]
async fn a_squatters_factors_end_when_the_owner_first_proves_the_address_by_reset() {
    let (app, smtp) = app_with_smtp(|_| {}).await;
    // The squatter registers the owner's address and attaches a factor
    // (here on an account from before the rule that now forbids it: the
    // address is marked unproven again afterwards).
    let email = app.signed_in_user().await;
    let squatter = app.cookies();
    enable_totp(&app).await;
    app.scalar_i64("WITH u AS (UPDATE users SET email_verified_at = NULL RETURNING 1) SELECT count(*) AS n FROM u")
        .await;
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM totp_factors")
            .await,
        1
    );

    owner_resets(&app, &smtp, &email, "the owner's own password").await;

    for table in [
        "totp_factors",
        "recovery_codes",
        "passkeys",
        "oidc_identities",
    ] {
        let n = app
            .scalar_i64(&format!("SELECT count(*) AS n FROM {table}"))
            .await;
        assert_eq!(n, 0, "{table} emptied by the first proof of the address");
    }
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM auth_events WHERE kind = 'address_proven'")
            .await,
        1
    );
    // The owner signs in with the new password alone; the squatter is out.
    let res = app.login(&email, "the owner's own password").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        res.location(),
        "/account",
        "no second step the owner never set up"
    );
    app.restore_cookies(squatter);
    assert_eq!(app.get("/account").await.status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn a_later_reset_of_a_proven_address_keeps_the_factors() {
    let (app, smtp) = app_with_smtp(|_| {}).await;
    let email = app.signed_in_user().await;
    enable_totp(&app).await; // proves the address first
    owner_resets(&app, &smtp, &email, "another fine password").await;
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM totp_factors")
            .await,
        1
    );
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM auth_events WHERE kind = 'address_proven'")
            .await,
        0
    );
}

#[actix_web::test]
async fn nothing_can_be_attached_to_an_address_before_it_is_proven() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let page = app.get("/account").await;
    assert!(
        page.body.contains("id=\"factors-need-address\""),
        "{}",
        page.body
    );

    // TOTP: the set-up page still shows a secret, but enabling is refused.
    let setup = app.get("/account/mfa/totp").await;
    assert_eq!(setup.status, StatusCode::OK);
    let secret = element_text(&setup.body, "totp-secret").expect("secret");
    let secret = hybrid_auth::auth::credentials::totp::from_base32(&secret).unwrap();
    let code = crate::support::factors::code_now(&app, &secret);
    let res = app
        .post("/account/mfa/totp")
        .form(&[
            ("csrf_token", meta_csrf(&setup.body).as_str()),
            ("code", &code),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert!(
        res.body.contains("Confirm your email address first"),
        "{}",
        res.body
    );
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM totp_factors")
            .await,
        0
    );

    // Passkeys: no creation options for an unproven address.
    let csrf = app.csrf_for("/account").await;
    let res = app
        .post("/account/passkeys/options")
        .header("X-CSRF-Token", &csrf)
        .json(&serde_json::json!({}))
        .send()
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert_eq!(res.json()["error"], "address_unconfirmed");
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM webauthn_challenges")
            .await,
        0
    );
}

#[actix_web::test]
async fn a_sign_in_that_checked_before_an_enable_creates_no_single_factor_session() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let mut conn = app.conn().await;
    // What the sign-in read before the enable: the user, no second factor.
    let user = hybrid_auth::db::users::find_by_email(&mut conn, &email)
        .await
        .unwrap()
        .unwrap();
    drop(conn);
    enable_totp(&app).await;
    // The enable has committed: the sign-in's own insert is refused.
    let client = ClientInfo {
        ip: "127.0.0.1".into(),
        user_agent: "racer".into(),
    };
    let mut conn = app.conn().await;
    let created = sessions::create(
        &app.state,
        &mut conn,
        &user,
        Kind::Api,
        &user.scopes,
        &client,
        Assurance::PASSWORD,
    )
    .await
    .unwrap();
    assert!(created.is_none(), "no aal1 session after the enable");
    drop(conn);
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM sessions WHERE revoked_at IS NULL AND aal = 1")
            .await,
        0
    );
}

#[actix_web::test]
async fn parallel_password_grants_during_a_totp_enable_leave_no_aal1_token_alive() {
    let app = spawn_app_with(|s| s.workers = 2).await;
    let email = app.signed_in_user().await;
    let api = app.another_browser();
    let grants = (0..12).map(|_| api.password_grant(&email, PASSWORD, None));
    let (responses, _) =
        futures_util::future::join(futures_util::future::join_all(grants), enable_totp(&app)).await;
    for res in responses.iter().filter(|r| r.status == StatusCode::OK) {
        let access = res.json()["access_token"].as_str().unwrap().to_owned();
        let ping = app.api_get("/api/v1/ping", &access).await;
        assert_eq!(
            ping.status,
            StatusCode::UNAUTHORIZED,
            "an aal1 token outlived the enable"
        );
    }
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM sessions WHERE revoked_at IS NULL AND aal = 1")
            .await,
        0
    );
}

#[actix_web::test]
async fn an_account_without_a_password_costs_a_sign_in_a_full_hash() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    // A provider-only account stores no password (an empty hash).
    app.scalar_i64(&format!(
        "WITH u AS (UPDATE users SET password_hash = '' WHERE email = '{email}' RETURNING 1) \
         SELECT count(*) AS n FROM u"
    ))
    .await;
    for who in [email.as_str(), "nobody@example.com"] {
        let before = app.state.hasher.verifications();
        let res = app.password_grant(who, PASSWORD, None).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert_eq!(res.json()["error"], "invalid_grant");
        assert_eq!(
            app.state.hasher.verifications(),
            before + 1,
            "{who}: one argon2 verification, like any other sign-in"
        );
    }
}

#[actix_web::test]
async fn anonymous_passkey_starts_meet_429_past_thirty_a_minute() {
    let app = spawn_app().await;
    let csrf = app.csrf_for("/login").await;
    let start = || {
        app.post("/login/passkey/options")
            .header("X-CSRF-Token", &csrf)
            .json(&serde_json::json!({}))
            .send()
    };
    for _ in 0..30 {
        assert_eq!(start().await.status, StatusCode::OK);
    }
    let res = start().await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    assert_eq!(res.json()["error"], "too_many_attempts");
    assert!(res.header("retry-after").is_some());
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM webauthn_challenges")
            .await,
        30,
        "a refused start stores nothing"
    );
    app.clock.advance(time::Duration::seconds(61));
    assert_eq!(start().await.status, StatusCode::OK);
}

#[actix_web::test]
async fn a_reauthentication_changes_the_cookie_and_the_old_one_is_dead() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let before = app.cookies();
    let csrf = app.csrf_for("/account/reauth").await;
    let res = app
        .post("/account/reauth")
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("password", PASSWORD),
            ("code", ""),
            ("next", "/account"),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/account");
    let after = app.cookies();
    assert_ne!(before, after, "a new session cookie value");
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
    app.restore_cookies(before);
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "the copy taken before no longer opens the account"
    );
}

#[actix_web::test]
async fn a_link_works_only_for_its_own_purpose() {
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
    let token = url.rsplit('/').next().unwrap().to_owned();
    // The confirmation link's token, taken to the password reset.
    app.clear_cookies();
    let page = app.get(&format!("/password/reset/{token}")).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let csrf = app.csrf_for("/password/forgot").await;
    let res = app
        .post("/password/reset")
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("token", &token),
            ("new_password", "a password of mine"),
            ("password_confirm", "a password of mine"),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert_eq!(
        app.login(&email, PASSWORD).await.status,
        StatusCode::SEE_OTHER,
        "the password is unchanged"
    );
}

#[actix_web::test]
async fn the_principal_comes_from_the_token_never_from_the_body() {
    let app = spawn_app().await;
    let (mine, _) = app.api_tokens().await;
    let (theirs, _) = app.api_tokens().await;
    let their_id = app.api_get("/api/v1/me", &theirs).await.json()["id"].clone();
    let res = app
        .post("/api/v1/notes")
        .no_cookies()
        .bearer(&mine)
        .json(&serde_json::json!({"title": "t", "body": "b", "user_id": their_id}))
        .send()
        .await;
    if res.status == StatusCode::CREATED {
        let listed = app.api_get("/api/v1/notes", &theirs).await.json();
        assert_eq!(
            listed["notes"],
            serde_json::json!([]),
            "not written as them"
        );
    } else {
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    }
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT count(*) AS n FROM notes WHERE user_id = '{}'",
            their_id.as_str().unwrap()
        ))
        .await,
        0
    );
}

#[actix_web::test]
async fn path_tricks_reach_no_handler_past_its_guard() {
    let app = spawn_app().await;
    for path in [
        "//api/v1/me",
        "/api/v1/me/",
        "/API/v1/me",
        "/api/v1/%6De",
        "/api/v1/./me",
        "/api/v1/x/../me",
        "/account/",
        "//account",
    ] {
        let res = app.get(path).await;
        assert!(
            matches!(res.status.as_u16(), 301 | 303 | 308 | 400 | 401 | 404),
            "{path}: {}",
            res.status
        );
        assert!(
            !res.body.contains("session_id"),
            "{path} answered as a signed-in route"
        );
    }
    // A throttle keys on the routed form: a trailing slash is no way round it.
    let email = app.api_user().await;
    let csrf = app.csrf_for("/login").await;
    for _ in 0..5 {
        app.login(&email, "wrong password").await;
    }
    let res = app
        .post("/login/")
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("email", &email),
            ("password", PASSWORD),
        ])
        .send()
        .await;
    assert_ne!(
        res.status,
        StatusCode::SEE_OTHER,
        "no sign-in past the throttle"
    );
}

#[actix_web::test]
async fn with_factor_key_set_a_copy_of_the_database_opens_no_totp_secret() {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Sealed {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        user_id: uuid::Uuid,
        #[diesel(sql_type = diesel::sql_types::Bytea)]
        secret_sealed: Vec<u8>,
    }
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let (secret, _) = enable_totp(&app).await;
    let db_key = app.state.secrets.factor_key.clone();

    // The same database, an instance started with FACTOR_KEY.
    let key = [7u8; 32];
    let mut settings = app.state.settings.clone();
    settings.factor_key = Some(secrecy::SecretSlice::from(key.to_vec()));
    let again = spawn_app_on(settings).await;
    assert_eq!(
        again
            .scalar_i64("SELECT count(*) AS n FROM app_secrets WHERE name = 'factor_key'")
            .await,
        0,
        "the database keeps no factor key"
    );
    let mut conn = again.conn().await;
    let row: Sealed = diesel::sql_query("SELECT user_id, secret_sealed FROM totp_factors")
        .get_result(&mut conn)
        .await
        .unwrap();
    drop(conn);
    use hybrid_auth::auth::credentials::totp;
    use secrecy::ExposeSecret;
    assert_eq!(
        totp::open(db_key.expose_secret(), row.user_id, &row.secret_sealed).unwrap(),
        None,
        "the old, database-kept key opens nothing now"
    );
    assert_eq!(
        totp::open(&key, row.user_id, &row.secret_sealed).unwrap(),
        Some(secret.clone())
    );
    // And the user signs in with the app's code as before.
    again.clock.advance(time::Duration::seconds(30));
    crate::support::factors::password_step(&again, &email).await;
    let res = crate::support::factors::second_step(
        &again,
        &crate::support::factors::code_now(&again, &secret),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/account");
}
