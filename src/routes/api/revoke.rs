//! Ending sessions from the API side.
//!
//! * `POST /api/v1/auth/revoke` (RFC 7009): `token=<refresh or access token>`
//!   revokes the session it belongs to. Always 200 with an empty body, also for
//!   unknown or invalid tokens, so it tells an attacker nothing.
//! * `POST /api/v1/auth/logout` (Bearer): revokes the caller's session; 204.

use super::params::{read_params, required};
use crate::auth::keys::api_keys;
use crate::auth::tokens::{access::verify_with_reload, refresh, Rejected};
use crate::auth::{sessions, AppState, Bearer, ClientInfo, RevokeReason, Target};
use crate::db;
use crate::error::ApiError;
use actix_web::{web, HttpRequest, HttpResponse};
use std::collections::HashMap;

use super::responses::{InvalidRequest, TooLarge, Unavailable};

/// The parameters of `POST /api/v1/auth/revoke` (form-encoded or a JSON
/// object of strings, read by `read_params`).
#[derive(utoipa::ToSchema)]
#[schema(example = json!({"token": "rt_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"}))]
#[allow(dead_code)]
pub struct RevokeRequest {
    /// A refresh token (any of its family, spent or not), an access token,
    /// or an API key.
    #[schema(min_length = 1, pattern = "^[^\\u0000]+$")]
    token: String,
    /// Other parameters (such as `token_type_hint`) are ignored.
    #[serde(flatten)]
    other: HashMap<String, String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/revoke",
    tag = "tokens",
    summary = "Revoke the session (or API key) a token belongs to (RFC 7009)",
    request_body(content = RevokeRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke (unknown, malformed, expired or already revoked tokens alike): an empty body.",
            headers(("Cache-Control" = String, description = "`no-store`"), ("Pragma" = String, description = "`no-cache`"))),
        (status = 400, response = InvalidRequest),
        (status = 413, response = TooLarge),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let params = read_params(&req, payload).await?;
    let token = required(&params, "token")?;
    // Each step takes its own connection: verifying an access token may
    // reload the signing keys from the pool.
    let session = if token.starts_with(refresh::PREFIX) {
        let mut conn = db::conn(&state.pool).await?;
        refresh::session_of(&mut conn, token).await?
    } else if api_keys::looks_like_key(token) {
        // Anyone holding a leaked key can end it.
        match api_keys::authenticate(&state, token).await {
            Ok(key) => Some(key.id),
            Err(api_keys::KeyRefused::Db(e)) => return Err(e.into()),
            Err(_) => None,
        }
    } else {
        match verify_with_reload(&state, token).await {
            Ok(verified) => Some(verified.claims.sid),
            Err(Rejected::Db(e)) => return Err(e.into()),
            Err(_) => None,
        }
    };
    if let Some(sid) = session {
        let mut conn = db::conn(&state.pool).await?;
        let target = Target::One(sid);
        sessions::revoke(
            &state,
            &mut conn,
            target,
            RevokeReason::TokenRevoked,
            &client.ip,
        )
        .await?;
        api_keys::forget(&state, sid);
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .finish())
}

#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "tokens",
    summary = "Revoke the bearer token's own session",
    responses((status = 204, description = "The session is revoked: its access and refresh tokens no longer work.")),
)]
pub async fn logout(
    state: web::Data<AppState>,
    auth: Bearer,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let mut conn = db::conn(&state.pool).await?;
    let target = Target::One(auth.session_id());
    sessions::revoke(&state, &mut conn, target, RevokeReason::Logout, &client.ip).await?;
    // Logging out with an API key ends the key.
    api_keys::forget(&state, auth.session_id());
    Ok(HttpResponse::NoContent().finish())
}
