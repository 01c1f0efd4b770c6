//! The account page's actions: every form needs the session's CSRF token,
//! sessions are listed and revocable (another browser's, never another
//! user's), and a password change ends the other sessions. Racing a
//! revocation, a password change or "log out others" from the revoked
//! session changes nothing.

use crate::support::*;
use awc::http::StatusCode;
use hybrid_auth::auth::account;
use hybrid_auth::auth::http::client::ClientInfo;
use hybrid_auth::auth::http::current_user::CurrentUser;
use hybrid_auth::auth::sessions::{self, Target};

#[actix_web::test]
async fn signed_in_forms_need_the_session_csrf_token() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let first = app.cookies();
    app.clear_cookies();
    app.login(&email, PASSWORD).await;
    let token = app.csrf_for("/account").await;
    for (name, fields, origin) in [
        ("missing", vec![], None),
        ("wrong", vec![("csrf_token", "nope")], None),
        (
            "foreign origin",
            vec![("csrf_token", token.as_str())],
            Some("https://evil.example"),
        ),
    ] {
        let mut req = app.post("/account/sessions/revoke-others").form(&fields);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        assert_eq!(req.send().await.status, StatusCode::FORBIDDEN, "{name}");
    }
    // Nothing changed: the first browser is still signed in.
    let second = app.cookies();
    app.restore_cookies(first.clone());
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
    app.restore_cookies(second);
    let res = app
        .post("/account/sessions/revoke-others")
        .form(&[("csrf_token", &token)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/account?notice=others-signed-out");
    app.restore_cookies(first);
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "other session logged out"
    );
}

#[actix_web::test]
async fn revoking_a_session_from_another_browser_signs_it_out() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let laptop = app.cookies();
    app.clear_cookies();
    app.req(awc::http::Method::GET, "/")
        .header("user-agent", "Phone/1.0")
        .send()
        .await;
    let token = app.csrf_for("/login").await;
    app.post("/login")
        .header("user-agent", "Phone/1.0")
        .form(&[
            ("csrf_token", &token),
            ("email", &email),
            ("password", PASSWORD),
        ])
        .send()
        .await;
    let phone = app.cookies();
    // From the laptop: the account page lists both, and revokes the phone.
    app.restore_cookies(laptop.clone());
    let account = app.get("/account").await;
    assert!(account.body.contains("Phone/1.0"));
    assert_eq!(account.body.matches("/revoke\"").count(), 2);
    let row_id = app
        .uuid("SELECT id FROM sessions WHERE user_agent = 'Phone/1.0'")
        .await;
    let token = meta_csrf(&account.body);
    let res = app
        .post(&format!("/account/sessions/{}/revoke", row_id))
        .form(&[("csrf_token", &token)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/account?notice=session-revoked");
    app.restore_cookies(phone);
    assert_eq!(app.get("/account").await.status, StatusCode::SEE_OTHER);
    app.restore_cookies(laptop);
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
}

#[actix_web::test]
async fn revoking_an_unknown_or_foreign_session_is_404() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let other_jar = app.cookies();
    app.clear_cookies();
    app.signed_in_user().await;
    let token = app.csrf_for("/account").await;
    let first_id = app
        .uuid("SELECT id FROM sessions ORDER BY created_at ASC LIMIT 1")
        .await;
    for id in [
        first_id.to_string(),
        uuid::Uuid::new_v4().to_string(),
        "not-a-uuid".into(),
    ] {
        let res = app
            .post(&format!("/account/sessions/{id}/revoke"))
            .form(&[("csrf_token", &token)])
            .send()
            .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{id}");
    }
    app.restore_cookies(other_jar);
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::OK,
        "the other user's session survived"
    );
}

#[actix_web::test]
async fn revoking_the_current_session_logs_out() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let token = app.csrf_for("/account").await;
    let id = app.scalar_i64("SELECT count(*) AS n FROM sessions").await;
    assert_eq!(id, 1);
    let row_id = app.uuid("SELECT id FROM sessions").await;
    let res = app
        .post(&format!("/account/sessions/{}/revoke", row_id))
        .form(&[("csrf_token", &token)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/account").await.status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn changing_the_password_ends_other_sessions() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let other = app.cookies();
    app.clear_cookies();
    app.login(&email, PASSWORD).await;
    let token = app.csrf_for("/account").await;

    let res = app
        .post("/account/password")
        .form(&[
            ("csrf_token", &token),
            ("current_password", "wrong password"),
            ("new_password", "a brand new password"),
            ("password_confirm", "a brand new password"),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("current password is not correct"));
    let res = app
        .post("/account/password")
        .form(&[
            ("csrf_token", &token),
            ("current_password", PASSWORD),
            ("new_password", "short"),
            ("password_confirm", "short"),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);

    let res = app
        .post("/account/password")
        .form(&[
            ("csrf_token", &token),
            ("current_password", PASSWORD),
            ("new_password", "a brand new password"),
            ("password_confirm", "a brand new password"),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::OK,
        "this session stays"
    );
    let here = app.cookies();
    app.restore_cookies(other);
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "others end"
    );
    app.restore_cookies(here);
    app.clear_cookies();
    assert_eq!(
        app.login(&email, PASSWORD).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.login(&email, "a brand new password").await.status,
        StatusCode::SEE_OTHER
    );
}

/// The signed-in user as the account handlers see it at request start.
async fn current_user(app: &TestApp) -> CurrentUser {
    let email = app.signed_in_user().await;
    let mut conn = app.conn().await;
    let user = hybrid_auth::db::users::find_by_email(&mut conn, &email)
        .await
        .unwrap()
        .unwrap();
    let session = hybrid_auth::db::sessions::live_for_user(&mut conn, user.id, app.clock.now())
        .await
        .unwrap()
        .remove(0);
    CurrentUser {
        user,
        session,
        csrf_token: String::new(),
    }
}

fn client() -> ClientInfo {
    ClientInfo {
        ip: "127.0.0.1".into(),
        user_agent: "test".into(),
    }
}

#[actix_web::test]
async fn a_password_change_racing_a_revocation_of_its_session_changes_nothing() {
    // Arrange: the attacker's session passed the extractor, then the victim
    // revoked it before the change ran.
    let app = spawn_app().await;
    let attacker = current_user(&app).await;
    let mut conn = app.conn().await;
    sessions::revoke(
        &app.state,
        &mut conn,
        Target::One(attacker.session.id),
        hybrid_auth::auth::RevokeReason::RevokedByUser,
        "127.0.0.1",
    )
    .await
    .unwrap();
    let hash_before = attacker.user.password_hash.clone();

    // Act
    let outcome = account::change_password(
        &app.state,
        &attacker,
        PASSWORD.into(),
        "attacker's new password".into(),
        &client(),
    )
    .await
    .unwrap();

    // Assert
    assert!(matches!(outcome, account::PasswordChange::Conflict));
    let hash_after = hybrid_auth::db::users::find(&mut conn, attacker.user.id)
        .await
        .unwrap()
        .unwrap()
        .password_hash;
    assert_eq!(hash_after, hash_before);
}

#[actix_web::test]
async fn log_out_others_from_a_session_revoked_meanwhile_changes_nothing() {
    let app = spawn_app().await;
    let attacker = current_user(&app).await;
    // The victim signs in elsewhere (a second session of the same user)...
    let email = attacker.user.email.clone();
    app.clear_cookies();
    assert_eq!(
        app.login(&email, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    // ...and revokes the attacker's session.
    let mut conn = app.conn().await;
    sessions::revoke(
        &app.state,
        &mut conn,
        Target::One(attacker.session.id),
        hybrid_auth::auth::RevokeReason::RevokedByUser,
        "127.0.0.1",
    )
    .await
    .unwrap();

    let done = account::revoke_other_sessions(&app.state, &attacker, &client())
        .await
        .unwrap();

    assert!(
        done.is_none(),
        "a revoked session may not log out the others"
    );
    assert_eq!(
        app.get("/account").await.status,
        StatusCode::OK,
        "the victim is still in"
    );
}

async fn change_password_form(app: &TestApp, current: &str, new: &str) -> Response {
    let token = app.csrf_for("/account").await;
    app.post("/account/password")
        .form(&[
            ("csrf_token", token.as_str()),
            ("current_password", current),
            ("new_password", new),
            ("password_confirm", new),
        ])
        .send()
        .await
}

#[actix_web::test]
async fn a_second_password_change_through_another_instance_succeeds() {
    let a = spawn_app().await;
    let mut settings = a.state.settings.clone();
    settings.bind_addr = "127.0.0.1:0".into();
    let b = spawn_app_on(settings).await;
    a.signed_in_user().await;
    // The same browser, load-balanced: B has this session (and the user
    // with the old password hash) in its cache.
    b.restore_cookies(a.cookies());
    assert_eq!(b.get("/account").await.status, StatusCode::OK);

    let first = change_password_form(&a, PASSWORD, "second password!").await;
    // The only session (two instances share it): nobody else is signed out.
    assert_eq!(first.location(), "/account?notice=password-changed-alone");
    b.restore_cookies(a.cookies());
    let second = change_password_form(&b, "second password!", "third password!").await;
    assert_eq!(second.status, StatusCode::SEE_OTHER);
    assert_eq!(
        second.location(),
        "/account?notice=password-changed-alone",
        "spuriously refused"
    );
}

#[actix_web::test]
async fn a_reset_racing_a_password_change_never_fails_with_a_deadlock() {
    use diesel_async::RunQueryDsl;
    let app = spawn_app().await;
    let user = current_user(&app).await;
    // A live reset link for the same account.
    let token = hybrid_auth::auth::crypto::random_token().unwrap();
    let hash = hybrid_auth::auth::crypto::sha256(token.as_bytes());
    let now = app.clock.now();
    let mut conn = app.conn().await;
    hybrid_auth::db::account_tokens::replace(
        &mut conn,
        &hash,
        user.user.id,
        "password_reset",
        now,
        now + time::Duration::minutes(30),
    )
    .await
    .unwrap();

    // Hold the user row, so both requests queue up behind it with whatever
    // else they locked first; then let them go at once.
    let mut blocker = app.conn().await;
    diesel::sql_query("BEGIN")
        .execute(&mut blocker)
        .await
        .unwrap();
    diesel::sql_query(format!(
        "SELECT id FROM users WHERE id = '{}' FOR UPDATE",
        user.user.id
    ))
    .execute(&mut blocker)
    .await
    .unwrap();
    let (state, who) = (app.state.clone(), user.clone());
    let change = actix_web::rt::spawn(async move {
        account::change_password(
            &state,
            &who,
            PASSWORD.into(),
            "changed on the page".into(),
            &client(),
        )
        .await
        .map(|_| ())
    });
    let state = app.state.clone();
    let reset = actix_web::rt::spawn(async move {
        hybrid_auth::auth::account::links::reset_password(
            &state,
            &token,
            "reset by the link".into(),
            &client(),
        )
        .await
        .map(|_| ())
    });
    let waiting = "SELECT count(*) AS n FROM pg_stat_activity \
                   WHERE wait_event_type = 'Lock' AND datname = current_database()";
    // (Each first checks a password: on a loaded machine that takes a while.)
    let since = std::time::Instant::now();
    while app.scalar_i64(waiting).await < 2 && since.elapsed().as_secs() < 30 {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        app.scalar_i64(waiting).await,
        2,
        "both wait for the user row"
    );
    diesel::sql_query("COMMIT")
        .execute(&mut blocker)
        .await
        .unwrap();

    let changed = change.await.unwrap();
    let reset = reset.await.unwrap();
    assert!(changed.is_ok(), "{:?}", changed.err());
    assert!(reset.is_ok(), "{:?}", reset.err());
}

#[actix_web::test]
async fn the_account_page_lists_a_bounded_number_of_sessions() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let browser = app.cookies();
    let mut conn = app.conn().await;
    let user = hybrid_auth::db::users::find_by_email(&mut conn, &email)
        .await
        .unwrap()
        .unwrap();
    let shown = hybrid_auth::routes::pages::account::SESSIONS_SHOWN;
    for _ in 0..shown + 5 {
        hybrid_auth::auth::sessions::create(
            &app.state,
            &mut conn,
            &user,
            hybrid_auth::auth::Kind::Api,
            &user.scopes,
            &client(),
            hybrid_auth::auth::sessions::Assurance::PASSWORD,
        )
        .await
        .unwrap();
    }
    app.restore_cookies(browser);
    let page = app.get("/account").await;
    assert_eq!(page.status, StatusCode::OK);
    let rows = page.body.matches("data-session-id=").count() as i64;
    assert_eq!(rows, shown);
    assert!(page.body.contains("id=\"more-sessions\""));
    assert!(
        page.body.contains("(this session)"),
        "the current one is listed"
    );
}

#[actix_web::test]
async fn a_password_change_needs_a_matching_confirmation() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    let token = app.csrf_for("/account").await;
    let res = app
        .post("/account/password")
        .form(&[
            ("csrf_token", token.as_str()),
            ("current_password", PASSWORD),
            ("new_password", "a brand new password"),
            ("password_confirm", "a different one"),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("do not match"));
    app.clear_cookies();
    assert_eq!(
        app.login(&email, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}
