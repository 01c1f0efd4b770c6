//! Ending sessions from the API side.
//!
//! * `POST /api/v1/auth/revoke` (RFC 7009): `token=<refresh or access token>`
//!   revokes the session it belongs to. Always 200 with an empty body, also for
//!   unknown or invalid tokens, so it tells an attacker nothing.
//! * `POST /api/v1/auth/logout` (Bearer): revokes the caller's session; 204.

use super::params::{read_params, required};
use crate::auth::access_tokens::{verify_with_reload, Rejected};
use crate::auth::bearer::Bearer;
use crate::auth::client::ClientInfo;
use crate::auth::refresh_tokens;
use crate::auth::sessions::{self, Target};
use crate::auth::AppState;
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
    let session = if token.starts_with(refresh_tokens::PREFIX) {
        refresh_tokens::session_of(&mut conn, token).await?
    } else {
        match verify_with_reload(&state, token).await {
            Ok(verified) => Some(verified.claims.sid),
            Err(Rejected::Db(e)) => return Err(e.into()),
            Err(_) => None,
        }
    };
    if let Some(sid) = session {
        let target = Target::One(sid);
        sessions::revoke(&state, &mut conn, target, "token_revoked", &client.ip).await?;
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
    sessions::revoke(&state, &mut conn, target, "logout", &client.ip).await?;
    Ok(HttpResponse::NoContent().finish())
}
