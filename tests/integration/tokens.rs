//! Access tokens: minting, verification, JWKS, the bearer extractor's errors,
//! an adversarial battery of forged tokens, the notes example API.

use crate::helpers::*;
use awc::http::{Method, StatusCode};
use diesel_async::RunQueryDsl;
use ed25519_dalek::Signer;
use hybrid_auth::auth::crypto::b64;
use serde_json::{json, Value};
use time::Duration;

#[derive(diesel::QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    kid: String,
    #[diesel(sql_type = diesel::sql_types::Bytea)]
    private_key: Vec<u8>,
    #[diesel(sql_type = diesel::sql_types::Bytea)]
    public_key: Vec<u8>,
}

async fn active_key(app: &TestApp) -> KeyRow {
    let mut conn = app.conn().await;
    diesel::sql_query(
        "SELECT kid, private_key, public_key FROM signing_keys WHERE state = 'active'",
    )
    .get_result(&mut conn)
    .await
    .expect("active key")
}

fn encode_part(v: &Value) -> String {
    b64(v.to_string().as_bytes())
}

/// A compact JWS with any header and claims, signed by `seed` (Ed25519).
fn sign_ed(seed: &[u8], header: &Value, claims: &Value) -> String {
    let key = ed25519_dalek::SigningKey::from_bytes(seed.try_into().expect("32-byte seed"));
    let input = format!("{}.{}", encode_part(header), encode_part(claims));
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

struct Forge {
    kid: String,
    seed: Vec<u8>,
    public: Vec<u8>,
    claims: Value,
}

impl Forge {
    async fn new(app: &TestApp) -> Forge {
        let (access, _) = app.api_tokens().await;
        let claims = jwt_part(&access, 1);
        let key = active_key(app).await;
        Forge {
            kid: key.kid,
            seed: key.private_key,
            public: key.public_key,
            claims,
        }
    }
    fn header(&self) -> Value {
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": self.kid})
    }
    fn token(&self, header: Value, claims: Value) -> String {
        sign_ed(&self.seed, &header, &claims)
    }
    fn with_claims(&self, f: impl FnOnce(&mut Value)) -> String {
        let mut c = self.claims.clone();
        f(&mut c);
        self.token(self.header(), c)
    }
    fn with_header(&self, f: impl FnOnce(&mut Value)) -> String {
        let mut h = self.header();
        f(&mut h);
        self.token(h, self.claims.clone())
    }
}

async fn assert_invalid(app: &TestApp, token: &str, case: &str) {
    let res = app.api_get("/api/v1/ping", token).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{case}: {}", res.body);
    let challenge = res.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.contains("error=\"invalid_token\""),
        "{case}: {challenge}"
    );
    assert_eq!(res.json()["error"], "invalid_token", "{case}");
}

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
    assert_eq!(json["scope"], "profile:read notes:read notes:write");
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
    assert_eq!(claims["aud"], "hybrid-auth-api");
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
    validation.set_audience(&["hybrid-auth-api"]);
    validation.set_issuer(&["http://localhost:8080"]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Value>(&access, &key, &validation)
        .expect("verifies with the JWK alone");
    assert_eq!(data.claims["aud"], "hybrid-auth-api");
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
    let res = app
        .password_grant(&email, PASSWORD, Some("notes:read"))
        .await;
    assert_eq!(res.json()["scope"], "notes:read");
    let access = res.json()["access_token"].as_str().unwrap().to_owned();
    let me = app.api_get("/api/v1/me", &access).await;
    assert_eq!(me.status, StatusCode::FORBIDDEN);
    assert_eq!(me.json()["error"], "insufficient_scope");
    let challenge = me.header("www-authenticate").unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"profile:read\""),
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
    for bad in ["admin", "notes:read admin", "profile:write"] {
        let res = app.password_grant(&email, PASSWORD, Some(bad)).await;
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
async fn the_password_grant_shares_the_login_throttle() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    for _ in 0..3 {
        app.password_grant(&email, "wrong password", None).await;
    }
    for _ in 0..2 {
        app.login(&email, "wrong password").await;
    }
    let res = app.password_grant(&email, PASSWORD, None).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.header("retry-after").is_some());
    assert_eq!(res.json()["error"], "too_many_attempts");
}

#[actix_web::test]
async fn token_endpoint_refuses_bad_requests_with_400() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    let post = || app.post("/api/v1/auth/token").no_cookies();
    let cases: Vec<(&str, Response, &str)> = vec![
        ("no body", post().send().await, "invalid_request"),
        (
            "text/plain",
            post().raw("text/plain", "grant_type=password").send().await,
            "invalid_request",
        ),
        (
            "garbage json",
            post().raw("application/json", "{not json").send().await,
            "invalid_request",
        ),
        (
            "json array",
            post().raw("application/json", "[1,2]").send().await,
            "invalid_request",
        ),
        (
            "json number",
            post()
                .json(&json!({"grant_type": "password", "username": email, "password": 5}))
                .send()
                .await,
            "invalid_request",
        ),
        (
            "no grant_type",
            post().form(&[("username", "a")]).send().await,
            "invalid_request",
        ),
        (
            "repeated",
            post()
                .raw(
                    "application/x-www-form-urlencoded",
                    "grant_type=password&grant_type=password&username=a&password=b",
                )
                .send()
                .await,
            "invalid_request",
        ),
        (
            "unknown grant",
            post()
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await,
            "unsupported_grant_type",
        ),
        (
            "missing password",
            post()
                .form(&[("grant_type", "password"), ("username", &email)])
                .send()
                .await,
            "invalid_request",
        ),
        (
            "missing refresh_token",
            post().form(&[("grant_type", "refresh_token")]).send().await,
            "invalid_request",
        ),
    ];
    for (name, res, code) in cases {
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{name}: {}", res.body);
        assert_eq!(res.json()["error"], code, "{name}");
        assert!(res.json()["error_description"].is_string(), "{name}");
    }
    let huge = format!("grant_type=password&username={}", "a".repeat(20_000));
    let res = post()
        .raw("application/x-www-form-urlencoded", huge)
        .send()
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    // JSON bodies work too.
    let res = post()
        .json(&json!({"grant_type": "password", "username": email, "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM sessions WHERE kind = 'api'")
            .await,
        1,
        "refusals changed nothing"
    );
}

#[actix_web::test]
async fn bearer_header_errors_follow_rfc_6750() {
    let app = spawn_app().await;
    let (access, _) = app.api_tokens().await;
    let ping = |h: Option<String>| {
        let mut r = app.req(Method::GET, "/api/v1/ping").no_cookies();
        if let Some(h) = h {
            r = r.header("authorization", &h);
        }
        r.send()
    };
    let res = ping(None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.header("www-authenticate").as_deref(),
        Some("Bearer realm=\"hybrid-auth\"")
    );
    assert!(res.json()["error"].is_string());
    let res = ping(Some(format!("Basic {}", b64(b"a:b")))).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.header("www-authenticate").as_deref(),
        Some("Bearer realm=\"hybrid-auth\"")
    );
    for (name, header) in [
        ("empty", "Bearer ".to_owned()),
        ("bare scheme", "Bearer".to_owned()),
        ("two tokens", format!("Bearer {access} {access}")),
        ("bad characters", "Bearer abc$def.ghi".to_owned()),
        ("non-ascii", "Bearer é.é.é".to_owned()),
        ("oversized", format!("Bearer {}", "a".repeat(9000))),
    ] {
        let res = ping(Some(header)).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(res.json()["error"], "invalid_request", "{name}");
    }
    let res = app
        .req(Method::GET, "/api/v1/ping")
        .no_cookies()
        .bearer(&access)
        .header("authorization", &format!("Bearer {access}"))
        .send()
        .await;
    assert_eq!(
        res.status,
        StatusCode::BAD_REQUEST,
        "two Authorization headers"
    );
    assert_eq!(
        ping(Some(format!("bearer {access}"))).await.status,
        StatusCode::OK,
        "scheme is case-insensitive"
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
async fn forged_tokens_are_refused_and_never_5xx() {
    let app = spawn_app().await;
    let forge = Forge::new(&app).await;
    let valid = forge.token(forge.header(), forge.claims.clone());
    assert_eq!(
        app.api_get("/api/v1/ping", &valid).await.status,
        StatusCode::OK,
        "the forge itself works"
    );
    let (h, p, s) = {
        let mut it = valid.split('.');
        (
            it.next().unwrap().to_owned(),
            it.next().unwrap().to_owned(),
            it.next().unwrap().to_owned(),
        )
    };

    // alg none, every casing, with and without a signature.
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = encode_part(&json!({"alg": alg, "typ": "at+jwt", "kid": forge.kid}));
        assert_invalid(&app, &format!("{header}.{p}."), alg).await;
        assert_invalid(&app, &format!("{header}.{p}.{s}"), alg).await;
    }
    // HS256 keyed with the public key, and with an empty key.
    for (name, key) in [
        ("hs256 public key", forge.public.clone()),
        ("hs256 empty key", vec![]),
    ] {
        for key_bytes in [key.clone(), b64(&key).into_bytes()] {
            let header = encode_part(&json!({"alg": "HS256", "typ": "at+jwt", "kid": forge.kid}));
            let input = format!("{header}.{p}");
            let mac = hmac_sha256_raw(&key_bytes, input.as_bytes());
            assert_invalid(&app, &format!("{input}.{}", b64(&mac)), name).await;
        }
    }
    // Other algorithms in the header over a valid EdDSA signature.
    for alg in ["RS256", "ES256", "PS256", "HS512"] {
        let token = forge.with_header(|h| h["alg"] = json!(alg));
        assert_invalid(&app, &token, alg).await;
    }
    // Tampered payload, stripped and truncated signatures.
    let mut claims = forge.claims.clone();
    claims["scope"] = json!("profile:read notes:read notes:write admin");
    assert_invalid(
        &app,
        &format!("{h}.{}.{s}", encode_part(&claims)),
        "tampered payload",
    )
    .await;
    assert_invalid(&app, &format!("{h}.{p}."), "stripped signature").await;
    assert_invalid(&app, &format!("{h}.{p}"), "two parts").await;
    assert_invalid(
        &app,
        &format!("{h}.{p}.{}", &s[..s.len() - 4]),
        "truncated signature",
    )
    .await;
    assert_invalid(&app, &format!("{h}.{p}.{s}AAAA"), "extended signature").await;
    // Unknown and hostile kids.
    for kid in [
        "no-such-kid",
        "../../../../etc/passwd",
        "' OR '1'='1",
        "\u{0}",
        "",
    ] {
        let token = forge.with_header(|h| h["kid"] = json!(kid));
        assert_invalid(&app, &token, &format!("kid {kid:?}")).await;
    }
    assert_invalid(
        &app,
        &forge.with_header(|h| {
            h.as_object_mut().unwrap().remove("kid");
        }),
        "no kid",
    )
    .await;
    // Another Ed25519 key, with and without an embedded jwk, and a jku we watch.
    let attacker_seed = [7u8; 32];
    let attacker_pub = ed25519_dalek::SigningKey::from_bytes(&attacker_seed)
        .verifying_key()
        .to_bytes();
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&attacker_pub), "kid": forge.kid});
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let jku = format!(
        "http://127.0.0.1:{}/jwks.json",
        listener.local_addr().unwrap().port()
    );
    let x5u = format!(
        "http://127.0.0.1:{}/cert.pem",
        listener.local_addr().unwrap().port()
    );
    for (name, header) in [
        ("other key", forge.header()),
        (
            "embedded jwk",
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": forge.kid, "jwk": jwk}),
        ),
        (
            "jku",
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": forge.kid, "jku": jku}),
        ),
        (
            "x5u",
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": forge.kid, "x5u": x5u}),
        ),
        (
            "x5c",
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": forge.kid, "x5c": ["MIIB"]}),
        ),
    ] {
        assert_invalid(&app, &sign_ed(&attacker_seed, &header, &forge.claims), name).await;
    }
    assert!(
        listener.accept().is_err(),
        "the server never fetched the jku/x5u URL"
    );
    // Wrong issuer, audience, type; missing claims.
    assert_invalid(
        &app,
        &forge.with_claims(|c| c["iss"] = json!("https://evil.example")),
        "iss",
    )
    .await;
    assert_invalid(
        &app,
        &forge.with_claims(|c| c["aud"] = json!("another-api")),
        "aud",
    )
    .await;
    assert_invalid(
        &app,
        &forge.with_claims(|c| c["aud"] = json!(["another-api"])),
        "aud array",
    )
    .await;
    assert_invalid(
        &app,
        &forge.with_header(|h| h["typ"] = json!("JWT")),
        "typ JWT",
    )
    .await;
    assert_invalid(
        &app,
        &forge.with_header(|h| {
            h.as_object_mut().unwrap().remove("typ");
        }),
        "no typ",
    )
    .await;
    for claim in [
        "iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp", "scope",
    ] {
        let token = forge.with_claims(|c| {
            c.as_object_mut().unwrap().remove(claim);
        });
        assert_invalid(&app, &token, &format!("missing {claim}")).await;
    }
    assert_invalid(
        &app,
        &forge.with_claims(|c| c["sub"] = json!("not-a-uuid")),
        "sub not uuid",
    )
    .await;
    assert_invalid(
        &app,
        &forge.with_claims(|c| c["exp"] = json!("tomorrow")),
        "exp string",
    )
    .await;
    // Garbage shapes.
    for junk in [
        "a.b.c",
        "....",
        "x",
        &format!("{h}.{p}.{s}.{s}"),
        &format!("{h}..{s}"),
    ] {
        let res = app.api_get("/api/v1/ping", junk).await;
        assert!(
            res.status == StatusCode::UNAUTHORIZED || res.status == StatusCode::BAD_REQUEST,
            "{junk}: {}",
            res.status
        );
    }
}

fn hmac_sha256_raw(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
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
    let retention =
        hybrid_auth::auth::keys::retention(Duration::minutes(15), Duration::seconds(30));

    // Rotate as the CLI does, from "another process": this app has not reloaded.
    let mut conn = app.conn().await;
    let new_kid = hybrid_auth::auth::keys::rotate(&mut conn, app.clock.now(), retention)
        .await
        .unwrap();
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
async fn browsers_get_access_tokens_with_cookie_and_csrf_header() {
    let app = spawn_app().await;
    // Without a session: 401 login_required (after the origin check).
    let res = app.post("/auth/token").send().await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["error"], "login_required");
    let res = app
        .post("/auth/token")
        .header("origin", "https://evil.example")
        .send()
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);

    app.signed_in_user().await;
    let csrf = app.csrf_for("/account").await;
    assert_eq!(
        app.post("/auth/token").send().await.status,
        StatusCode::FORBIDDEN,
        "no CSRF header"
    );
    assert_eq!(
        app.post("/auth/token")
            .header("x-csrf-token", "nope")
            .send()
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let res = app
        .post("/auth/token")
        .header("x-csrf-token", &csrf)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = app
        .post("/auth/token")
        .header("x-csrf-token", &csrf)
        .form(&[("scope", "admin")])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["error"], "invalid_scope");

    let res = app
        .post("/auth/token")
        .header("x-csrf-token", &csrf)
        .header("origin", "http://localhost:8080")
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.header("cache-control").as_deref(), Some("no-store"));
    let json = res.json();
    assert!(
        json.get("refresh_token").is_none(),
        "browsers never get a refresh token"
    );
    let access = json["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.api_get("/api/v1/me", &access).await.status,
        StatusCode::OK
    );
    let narrowed = app
        .post("/auth/token")
        .header("x-csrf-token", &csrf)
        .json(&json!({"scope": "notes:read"}))
        .send()
        .await;
    assert_eq!(narrowed.json()["scope"], "notes:read");

    // Logging out in the browser kills the tokens minted for that session.
    let token = app.csrf_for("/logout").await;
    app.post("/logout")
        .form(&[("csrf_token", &token)])
        .send()
        .await;
    let res = app.api_get("/api/v1/me", &access).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.json()["error_description"], "access token revoked");
}

#[actix_web::test]
async fn notes_are_private_to_their_owner() {
    let app = spawn_app().await;
    let (alice, _) = app.api_tokens().await;
    let (bob, _) = app.api_tokens().await;
    let post = |token: &str, body: Value| {
        app.post("/api/v1/notes")
            .no_cookies()
            .bearer(token)
            .json(&body)
            .send()
    };

    let first = post(&alice, json!({"title": "first", "body": "hello"})).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let note = first.json();
    assert_eq!(
        first.location(),
        format!("/api/v1/notes/{}", note["id"].as_str().unwrap())
    );
    for field in ["id", "title", "body", "created_at"] {
        assert!(!note[field].is_null(), "{field}");
    }
    app.clock.advance(Duration::seconds(1));
    let second = post(&alice, json!({"title": "second"})).await.json();
    assert_eq!(second["body"], "");

    let list = app.api_get("/api/v1/notes", &alice).await.json();
    let titles: Vec<&str> = list["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["second", "first"], "newest first");
    let path = format!("/api/v1/notes/{}", note["id"].as_str().unwrap());
    assert_eq!(app.api_get(&path, &alice).await.json()["title"], "first");

    // Bob sees none of it and cannot delete it.
    assert_eq!(
        app.api_get("/api/v1/notes", &bob).await.json()["notes"],
        json!([])
    );
    assert_eq!(app.api_get(&path, &bob).await.status, StatusCode::NOT_FOUND);
    let del = app
        .req(Method::DELETE, &path)
        .no_cookies()
        .bearer(&bob)
        .send()
        .await;
    assert_eq!(del.status, StatusCode::NOT_FOUND);

    let del = app
        .req(Method::DELETE, &path)
        .no_cookies()
        .bearer(&alice)
        .send()
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.api_get(&path, &alice).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.api_get("/api/v1/notes/not-a-uuid", &alice).await.status,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn invalid_notes_get_400_and_change_nothing() {
    let app = spawn_app().await;
    let (token, _) = app.api_tokens().await;
    let send = |ct: &str, body: String| {
        app.post("/api/v1/notes")
            .no_cookies()
            .bearer(&token)
            .raw(ct, body)
            .send()
    };
    let cases = [
        ("garbage", send("application/json", "{title".into()).await),
        (
            "no title",
            send("application/json", json!({"body": "x"}).to_string()).await,
        ),
        (
            "empty title",
            send("application/json", json!({"title": ""}).to_string()).await,
        ),
        (
            "long title",
            send(
                "application/json",
                json!({"title": "t".repeat(201)}).to_string(),
            )
            .await,
        ),
        (
            "long body",
            send(
                "application/json",
                json!({"title": "t", "body": "b".repeat(10_001)}).to_string(),
            )
            .await,
        ),
        (
            "title number",
            send("application/json", json!({"title": 5}).to_string()).await,
        ),
        (
            "form body",
            send("application/x-www-form-urlencoded", "title=x".into()).await,
        ),
    ];
    for (name, res) in cases {
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{name}: {}", res.body);
        assert_eq!(res.json()["error"], "invalid_request", "{name}");
        assert!(res.json()["error_description"].is_string());
    }
    let ok = send(
        "application/json",
        json!({"title": "t".repeat(200), "body": "b".repeat(10_000)}).to_string(),
    )
    .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    assert_eq!(app.scalar_i64("SELECT count(*) AS n FROM notes").await, 1);
}

#[actix_web::test]
async fn notes_need_their_scopes() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    let read_only = app
        .password_grant(&email, PASSWORD, Some("notes:read"))
        .await
        .json();
    let token = read_only["access_token"].as_str().unwrap();
    let res = app
        .post("/api/v1/notes")
        .no_cookies()
        .bearer(token)
        .json(&json!({"title": "x"}))
        .send()
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res
        .header("www-authenticate")
        .unwrap()
        .contains("scope=\"notes:write\""));
    let profile = app
        .password_grant(&email, PASSWORD, Some("profile:read"))
        .await
        .json();
    let res = app
        .api_get("/api/v1/notes", profile["access_token"].as_str().unwrap())
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn api_answers_503_when_the_database_is_down() {
    let (app, proxy) = spawn_app_behind_proxy().await;
    let (access, refresh) = app.api_tokens().await;
    proxy.cut();
    let view = app.state.revocations.clone();
    wait_until("the listener to notice the outage", move || {
        !view.is_fresh()
    })
    .await;
    let res = app.api_get("/api/v1/ping", &access).await;
    assert_eq!(
        res.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "never a stale yes: {}",
        res.body
    );
    assert!(res.header("retry-after").is_some());
    let res = app.refresh_grant(&refresh, None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    let res = app.password_grant("a@example.com", PASSWORD, None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.json()["error"], "temporarily_unavailable");
}

#[actix_web::test]
async fn revoking_an_access_token_signed_by_a_freshly_rotated_key_works() {
    let app = spawn_app().await;
    let (access, refresh) = app.api_tokens().await;
    let retention =
        hybrid_auth::auth::keys::retention(Duration::minutes(15), Duration::seconds(30));
    let mut conn = app.conn().await;
    let new_kid = hybrid_auth::auth::keys::rotate(&mut conn, app.clock.now(), retention)
        .await
        .unwrap();
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
