//! Access tokens for API clients: the password grant, `/me` and `/ping`, JWKS
//! verification by an outside service, per-route scopes, time claims and
//! leeway, lifetime, revocation through the session, key rotation and reload.

use crate::support::forge::{active_key, assert_invalid, sign_ed, Forge};
use crate::support::*;
use awc::http::{Method, StatusCode};
use hybrid_auth::auth::tokens::keys;
use hybrid_auth::auth::tokens::scopes::{default_grant, Scope};
use serde_json::{json, Value};
use time::Duration;

/// The default JWT_AUDIENCE: `{APP_NAME}-api`, the package name's by default.
const AUDIENCE: &str = concat!(env!("CARGO_PKG_NAME"), "-api");

#[actix_web::test]
async fn password_grant_returns_a_token_response() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    let res = app.password_grant(&email, PASSWORD, None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(res.header("pragma").as_deref(), Some("no-cache"));
    let json = res.json();
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 900);
    assert_eq!(json["scope"], default_grant());
    assert!(json["refresh_token"].as_str().unwrap().starts_with("rt_"));
    let access = json["access_token"].as_str().unwrap();
    let header = jwt_part(access, 0);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "at+jwt");
    let claims = jwt_part(access, 1);
    for claim in [
        "iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp", "scope",
    ] {
        assert!(!claims[claim].is_null(), "claim {claim}");
    }
    assert_eq!(claims["iss"], "http://localhost:8080");
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    // The API session shows up as a session of kind `api`.
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM sessions WHERE kind = 'api'")
            .await,
        1
    );
}

#[actix_web::test]
async fn me_and_ping_answer_for_a_valid_token() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    let json = app.password_grant(&email, PASSWORD, None).await.json();
    let access = json["access_token"].as_str().unwrap();
    let claims = jwt_part(access, 1);
    let me = app.api_get("/api/v1/me", access).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let me = me.json();
    assert_eq!(me["email"], email.as_str());
    assert_eq!(me["id"], claims["sub"]);
    assert_eq!(me["session_id"], claims["sid"]);
    assert_eq!(me["scope"], claims["scope"]);
    let ping = app.api_get("/api/v1/ping", access).await.json();
    assert_eq!(ping["sub"], claims["sub"]);
    assert_eq!(ping["sid"], claims["sid"]);
    assert_eq!(ping["exp"], claims["exp"]);
}

#[actix_web::test]
async fn jwks_verifies_a_minted_token_like_an_outside_service() {
    let app = spawn_app().await;
    let (access, _) = app.api_tokens().await;
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_str(&app.get("/.well-known/jwks.json").await.body).unwrap();
    let kid = jwt_part(&access, 0)["kid"].as_str().unwrap().to_owned();
    let jwk = jwks.find(&kid).expect("kid published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&["http://localhost:8080"]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Value>(&access, &key, &validation)
        .expect("verifies with the JWK alone");
    assert_eq!(data.claims["aud"], AUDIENCE);
    let raw: Value = serde_json::from_str(&app.get("/.well-known/jwks.json").await.body).unwrap();
    let k = &raw["keys"][0];
    assert_eq!(
        (
            k["kty"].as_str(),
            k["crv"].as_str(),
            k["use"].as_str(),
            k["alg"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("sig"), Some("EdDSA"))
    );
    assert!(k.get("d").is_none(), "no private part");
}

#[actix_web::test]
async fn scopes_are_checked_per_route_and_requests_may_only_narrow() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    let notes_read = Scope::NotesRead.as_str();
    let res = app.password_grant(&email, PASSWORD, Some(notes_read)).await;
    assert_eq!(res.json()["scope"], notes_read);
    let access = res.json()["access_token"].as_str().unwrap().to_owned();
    let me = app.api_get("/api/v1/me", &access).await;
    assert_eq!(me.status, StatusCode::FORBIDDEN);
    assert_eq!(me.json()["error"], "insufficient_scope");
    let challenge = me.header("www-authenticate").unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains(&format!("scope=\"{}\"", Scope::ProfileRead.as_str())),
        "{challenge}"
    );
    assert_eq!(
        app.api_get("/api/v1/notes", &access).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.api_get("/api/v1/ping", &access).await.status,
        StatusCode::OK,
        "ping takes any scope"
    );
    for bad in [
        "admin".to_owned(),
        format!("{notes_read} admin"),
        "profile:admin".to_owned(),
        // Known, but not in the default grant.
        Scope::StatsRead.as_str().to_owned(),
    ] {
        let res = app
            .password_grant(&email, PASSWORD, Some(bad.as_str()))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(res.json()["error"], "invalid_scope", "{bad}");
    }
}

#[actix_web::test]
async fn wrong_credentials_get_invalid_grant_with_identical_bodies() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    let wrong = app.password_grant(&email, "wrong password", None).await;
    let unknown = app
        .password_grant("nobody@example.com", "wrong password", None)
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.json()["error"], "invalid_grant");
    assert_eq!(
        (wrong.status, wrong.body.clone()),
        (unknown.status, unknown.body)
    );
}

#[actix_web::test]
async fn the_api_ignores_cookies_and_query_tokens() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    assert_eq!(
        app.get("/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED,
        "session cookie is not an API credential"
    );
    app.clear_cookies();
    let (access, _) = app.api_tokens().await;
    let res = app
        .req(Method::GET, &format!("/api/v1/ping?access_token={access}"))
        .no_cookies()
        .send()
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn time_claims_honour_the_leeway() {
    let app = spawn_app().await;
    let forge = Forge::new(&app).await;
    let now = app.clock.unix();
    let at = |iat: i64, nbf: i64, exp: i64| {
        forge.with_claims(|c| {
            c["iat"] = json!(iat);
            c["nbf"] = json!(nbf);
            c["exp"] = json!(exp);
        })
    };
    let app = &app;
    let ok = |t: String| async move { app.api_get("/api/v1/ping", &t).await.status };
    assert_eq!(
        ok(at(now - 900, now - 900, now - 25)).await,
        StatusCode::OK,
        "expired inside the leeway"
    );
    let res = app
        .api_get("/api/v1/ping", &at(now - 900, now - 900, now - 35))
        .await;
    assert_eq!(
        res.status,
        StatusCode::UNAUTHORIZED,
        "expired outside the leeway"
    );
    assert!(res
        .header("www-authenticate")
        .unwrap()
        .contains("error_description=\"access token expired\""));
    assert_eq!(res.json()["error_description"], "access token expired");
    assert_eq!(
        ok(at(now + 25, now + 25, now + 900)).await,
        StatusCode::OK,
        "a verifier whose clock is behind"
    );
    assert_invalid(app, &at(now, now + 120, now + 900), "nbf in the future").await;
    assert_invalid(app, &at(now + 120, now, now + 900), "iat in the future").await;
    assert_invalid(app, &at(now, now, now - 1), "exp before iat").await;
}

#[actix_web::test]
async fn an_expired_token_is_reported_as_expired() {
    let app = spawn_app().await;
    let (access, _) = app.api_tokens().await;
    app.clock.advance(Duration::seconds(900 + 29));
    assert_eq!(
        app.api_get("/api/v1/ping", &access).await.status,
        StatusCode::OK
    );
    app.clock.advance(Duration::seconds(2));
    let res = app.api_get("/api/v1/ping", &access).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["error_description"], "access token expired");
}

#[actix_web::test]
async fn a_revoked_session_revokes_its_tokens() {
    let app = spawn_app().await;
    let (access, _) = app.api_tokens().await;
    let res = app.api_logout(&access).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let res = app.api_get("/api/v1/ping", &access).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res
        .header("www-authenticate")
        .unwrap()
        .contains("error_description=\"access token revoked\""));
    assert_eq!(res.json()["error_description"], "access token revoked");
    // Revoked and expired: expired wins.
    app.clock.advance(Duration::minutes(16));
    assert_eq!(
        app.api_get("/api/v1/ping", &access).await.json()["error_description"],
        "access token expired"
    );
}

#[actix_web::test]
async fn token_lifetime_never_passes_the_session_absolute_expiry() {
    let app = spawn_app_with(|s| s.session_absolute_timeout = Duration::minutes(10)).await;
    let email = app.api_user().await;
    let json = app.password_grant(&email, PASSWORD, None).await.json();
    assert_eq!(json["expires_in"], 600);
    let access = json["access_token"].as_str().unwrap();
    let claims = jwt_part(access, 1);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
}

#[actix_web::test]
async fn key_rotation_keeps_old_tokens_valid_until_they_expire() {
    let app = spawn_app().await;
    let (old_token, _) = app.api_tokens().await;
    let old_kid = jwt_part(&old_token, 0)["kid"].as_str().unwrap().to_owned();
    let retention = keys::retention(Duration::minutes(15), Duration::seconds(30));

    // Rotate as the CLI does, from "another process": this app has not reloaded.
    let mut conn = app.conn().await;
    let new_kid = keys::rotate(&mut conn, app.clock.now(), retention, Duration::ZERO)
        .await
        .unwrap()
        .0;
    drop(conn);
    assert_ne!(new_kid, old_kid);
    // A token signed with the new key (by another instance) is accepted: the
    // unknown kid makes this instance reload (at most once per 10 seconds).
    app.clock.advance(Duration::seconds(11));
    let key = active_key(&app).await;
    assert_eq!(key.kid, new_kid);
    let mut header = jwt_part(&old_token, 0);
    header["kid"] = json!(new_kid);
    let foreign = sign_ed(&key.private_key, &header, &jwt_part(&old_token, 1));
    assert_eq!(
        app.api_get("/api/v1/ping", &foreign).await.status,
        StatusCode::OK
    );
    // Old tokens still verify; new tokens use the new key; JWKS has both.
    assert_eq!(
        app.api_get("/api/v1/ping", &old_token).await.status,
        StatusCode::OK
    );
    let (new_token, _) = app.api_tokens().await;
    assert_eq!(jwt_part(&new_token, 0)["kid"], new_kid.as_str());
    let jwks = app.get("/.well-known/jwks.json").await.json();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()),
        "{kids:?}"
    );
    // Once every token of the old key has expired, it drops out.
    app.clock.advance(retention + Duration::seconds(1));
    let mut conn = app.conn().await;
    app.state
        .keys
        .reload(&mut conn, app.clock.now())
        .await
        .unwrap();
    drop(conn);
    let jwks = app.get("/.well-known/jwks.json").await.json();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, vec![new_kid.as_str()]);
}

#[actix_web::test]
async fn revoking_an_access_token_signed_by_a_freshly_rotated_key_works() {
    let app = spawn_app().await;
    let (access, refresh) = app.api_tokens().await;
    let retention = keys::retention(Duration::minutes(15), Duration::seconds(30));
    let mut conn = app.conn().await;
    let new_kid = keys::rotate(&mut conn, app.clock.now(), retention, Duration::ZERO)
        .await
        .unwrap()
        .0;
    drop(conn);
    app.clock.advance(Duration::seconds(11));
    let key = active_key(&app).await;
    let mut header = jwt_part(&access, 0);
    header["kid"] = json!(new_kid);
    let foreign = sign_ed(&key.private_key, &header, &jwt_part(&access, 1));
    let res = app
        .post("/api/v1/auth/revoke")
        .no_cookies()
        .form(&[("token", &foreign)])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(
        app.refresh_grant(&refresh, None).await.json()["error"],
        "invalid_grant",
        "the session is gone"
    );
}

#[actix_web::test]
async fn garbage_kids_trigger_at_most_one_key_reload() {
    let app = spawn_app().await;
    let forge = Forge::new(&app).await;
    app.clock.advance(Duration::seconds(11));
    let tokens: Vec<String> = (0..20)
        .map(|i| forge.with_header(|h| h["kid"] = json!(format!("junk-{i}"))))
        .collect();
    let results =
        futures_util::future::join_all(tokens.iter().map(|t| app.api_get("/api/v1/ping", t))).await;
    for res in results {
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    assert!(
        !app.state
            .keys
            .try_claim_reload(app.clock.now(), Duration::seconds(10)),
        "the slot was claimed once"
    );
}

#[actix_web::test]
async fn tokens_say_how_their_session_was_authenticated_and_refresh_keeps_it() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    let before = app.clock.unix();
    let res = app.password_grant(&email, PASSWORD, None).await;
    let after = app.clock.unix();
    let json = res.json();
    let access = json["access_token"].as_str().unwrap().to_owned();
    let refresh = json["refresh_token"].as_str().unwrap().to_owned();
    let claims = jwt_part(&access, 1);
    assert_eq!(claims["acr"], "aal1");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    let auth_time = claims["auth_time"].as_i64().unwrap();
    // The sign-in happened during the grant, however slow the machine.
    assert!(
        (before..=after).contains(&auth_time),
        "{auth_time} not in {before}..={after}"
    );

    // /api/v1/ping shows them too.
    let ping = app.api_get("/api/v1/ping", &access).await.json();
    assert_eq!(ping["acr"], "aal1");
    assert_eq!(ping["amr"], serde_json::json!(["pwd"]));
    assert_eq!(ping["auth_time"], auth_time);

    // A refresh an hour later copies them: signing in is what sets auth_time.
    app.clock.advance(Duration::hours(1));
    let res = app.refresh_grant(&refresh, None).await;
    let refreshed = res.json()["access_token"].as_str().unwrap().to_owned();
    let claims = jwt_part(&refreshed, 1);
    assert_eq!(claims["auth_time"], auth_time);
    assert_eq!(claims["acr"], "aal1");
    assert!(claims["iat"].as_i64().unwrap() >= auth_time + 3600);
}

#[actix_web::test]
async fn a_browser_token_carries_its_web_session_assurance() {
    let app = spawn_app().await;
    let before = app.clock.unix();
    app.signed_in_user().await;
    let after = app.clock.unix();
    app.clock.advance(Duration::minutes(5));
    let csrf = app.csrf_for("/account").await;
    let res = app
        .post("/auth/token")
        .header("x-csrf-token", &csrf)
        .send()
        .await;
    let token = res.json()["access_token"].as_str().unwrap().to_owned();
    let claims = jwt_part(&token, 1);
    assert_eq!(claims["acr"], "aal1");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    let auth_time = claims["auth_time"].as_i64().unwrap();
    assert!(
        (before..=after).contains(&auth_time),
        "the sign-in's time, not the token's: {auth_time} not in {before}..={after}"
    );
}
