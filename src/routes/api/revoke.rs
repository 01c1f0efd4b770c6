//! Ending sessions from the API side.
//!
//! * `POST /api/v1/auth/revoke` (RFC 7009): `token=<refresh or access token>`
//!   revokes the session it belongs to. Always 200 with an empty body, also for
//!   unknown or invalid tokens, so it tells an attacker nothing.
//! * `POST /api/v1/auth/logout` (Bearer): revokes the caller's session; 204.

use super::body::{read_params, required};
use crate::auth::bearer::verify_with_reload;
use crate::auth::bearer::Bearer;
use crate::auth::client::ClientInfo;
use crate::auth::refresh;
use crate::auth::sessions::Target;
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};

pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let params = read_params(&req, payload).await?;
    let token = required(&params, "token")?;
    let mut conn = db::conn(&state.pool).await?;
    let session = if token.starts_with(refresh::PREFIX) {
        refresh::session_of(&mut conn, token).await?
    } else {
        match verify_with_reload(&state, token).await {
            Ok(claims) => Some(claims.sid),
            Err(ApiError::Unavailable(e)) => return Err(ApiError::Unavailable(e)),
            Err(_) => None,
        }
    };
    if let Some(sid) = session {
        state
            .revoke(&mut conn, Target::One(sid), "token_revoked", &client.ip)
            .await?;
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .finish())
}

pub async fn logout(
    state: web::Data<AppState>,
    auth: Bearer,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let mut conn = db::conn(&state.pool).await?;
    state
        .revoke(
            &mut conn,
            Target::One(auth.session_id()),
            "logout",
            &client.ip,
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
