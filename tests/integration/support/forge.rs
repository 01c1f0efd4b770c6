//! Shared by the token tests: the active signing key read straight from the
//! database, a signer for any compact JWS, `Forge` (a real token's claims
//! re-signed with edits) and the `invalid_token` assertion.

use crate::support::app::*;
use awc::http::StatusCode;
use diesel_async::RunQueryDsl;
use ed25519_dalek::Signer;
use hybrid_auth::auth::crypto::b64;
use serde_json::{json, Value};

#[derive(diesel::QueryableByName)]
pub struct KeyRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub kid: String,
    #[diesel(sql_type = diesel::sql_types::Bytea)]
    pub private_key: Vec<u8>,
    #[diesel(sql_type = diesel::sql_types::Bytea)]
    pub public_key: Vec<u8>,
}

pub async fn active_key(app: &TestApp) -> KeyRow {
    let mut conn = app.conn().await;
    diesel::sql_query(
        "SELECT kid, private_key, public_key FROM signing_keys WHERE state = 'active'",
    )
    .get_result(&mut conn)
    .await
    .expect("active key")
}

pub fn encode_part(v: &Value) -> String {
    b64(v.to_string().as_bytes())
}

/// A compact JWS with any header and claims, signed by `seed` (Ed25519).
pub fn sign_ed(seed: &[u8], header: &Value, claims: &Value) -> String {
    let key = ed25519_dalek::SigningKey::from_bytes(seed.try_into().expect("32-byte seed"));
    let input = format!("{}.{}", encode_part(header), encode_part(claims));
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

/// A real token's claims and the active key, to re-sign with edits.
pub struct Forge {
    pub kid: String,
    pub seed: Vec<u8>,
    pub public: Vec<u8>,
    pub claims: Value,
}

impl Forge {
    pub async fn new(app: &TestApp) -> Forge {
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
    pub fn header(&self) -> Value {
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": self.kid})
    }
    pub fn token(&self, header: Value, claims: Value) -> String {
        sign_ed(&self.seed, &header, &claims)
    }
    pub fn with_claims(&self, f: impl FnOnce(&mut Value)) -> String {
        let mut c = self.claims.clone();
        f(&mut c);
        self.token(self.header(), c)
    }
    pub fn with_header(&self, f: impl FnOnce(&mut Value)) -> String {
        let mut h = self.header();
        f(&mut h);
        self.token(h, self.claims.clone())
    }
}

/// `token` is refused by the API as `invalid_token` (401, challenge, body).
pub async fn assert_invalid(app: &TestApp, token: &str, case: &str) {
    let res = app.api_get("/api/v1/ping", token).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{case}: {}", res.body);
    let challenge = res.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.contains("error=\"invalid_token\""),
        "{case}: {challenge}"
    );
    assert_eq!(res.json()["error"], "invalid_token", "{case}");
}
