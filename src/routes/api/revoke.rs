//! Ending sessions from the API side.
//!
//! * `POST /api/v1/auth/revoke` (RFC 7009): `token=<refresh or access token>`
//!   revokes the session it belongs to. Always 200 with an empty body, also for
//!   unknown or invalid tokens, so it tells an attacker nothing.
//! * `POST /api/v1/auth/logout` (Bearer): revokes the caller's session; 204.

use super::params::{read_params, required};
use crate::auth::tokens::{access::verify_with_reload, refresh, Rejected};
use crate::auth::{sessions, AppState, Bearer, ClientInfo, RevokeReason, Target};
use crate::db;
use crate::error::ApiError;
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
            Ok(verified) => Some(verified.claims.sid),
            Err(Rejected::Db(e)) => return Err(e.into()),
            Err(_) => None,
        }
    };
    if let Some(sid) = session {
        let target = Target::One(sid);
        sessions::revoke(
            &state,
            &mut conn,
            target,
            RevokeReason::TokenRevoked,
            &client.ip,
        )
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
    let target = Target::One(auth.session_id());
    sessions::revoke(&state, &mut conn, target, RevokeReason::Logout, &client.ip).await?;
    Ok(HttpResponse::NoContent().finish())
}
