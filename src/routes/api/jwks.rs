//! `GET /.well-known/jwks.json`: the public keys (current and still-verifiable
//! retired ones) so other services can verify our tokens themselves.

use crate::auth::AppState;
use actix_web::{web, HttpResponse};

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
