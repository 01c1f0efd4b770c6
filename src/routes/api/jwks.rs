//! `GET /.well-known/jwks.json`: the public keys (current and still-verifiable
//! retired ones) so other services can verify our tokens themselves.

use crate::auth::AppState;
use actix_web::{web, HttpResponse};

/// The JWK Set (RFC 7517) as the API description shows it; the keys
/// render it themselves (`Keys::jwks`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Jwks {
    /// The key that signs now and every retired key whose tokens may still
    /// be valid.
    keys: Vec<Jwk>,
}

/// One Ed25519 public key.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Jwk {
    #[schema(example = "OKP")]
    kty: String,
    #[schema(example = "Ed25519")]
    crv: String,
    /// The public key, base64url.
    x: String,
    /// The key id, as in the tokens' `kid` header.
    kid: String,
    #[serde(rename = "use")]
    #[schema(example = "sig")]
    use_: String,
    #[schema(example = "EdDSA")]
    alg: String,
}

#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "keys",
    summary = "The public keys that verify access tokens",
    responses((status = 200, description = "The JWK Set.", body = Jwks,
        headers(("Cache-Control" = String, description = "`public, max-age=N`, N = min(300, KEY_ACTIVATION_DELAY in seconds)")))),
)]
/// Verifiers may cache the set for at most five minutes, and never longer
/// than KEY_ACTIVATION_DELAY: a new key is published that long before it
/// signs, so every cache knows it before it meets a token signed with it.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    let max_age = state
        .settings
        .key_activation_delay
        .whole_seconds()
        .clamp(0, 300);
    HttpResponse::Ok()
        .insert_header(("Cache-Control", format!("public, max-age={max_age}")))
        .json(state.keys.current().jwks())
}
