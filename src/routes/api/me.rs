//! `GET /api/v1/me` (scope `profile:read`) and `GET /api/v1/ping` (any scope,
//! answered from the verified token alone, how the session was authenticated
//! included).

use crate::auth::credentials::second_factor;
use crate::auth::{account, AppState, Bearer, ClientInfo, Scope};
use crate::db::{self, users};
use crate::error::ApiError;
use actix_web::{web, HttpResponse};

pub async fn me(state: web::Data<AppState>, auth: Bearer) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::ProfileRead)?;
    let mut conn = db::conn(&state.pool).await?;
    let user = users::find(&mut conn, auth.user_id())
        .await?
        .ok_or(ApiError::InvalidToken("access token revoked"))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "id": user.id,
        "email": user.email,
        "session_id": auth.session_id(),
        "scope": auth.claims().scope,
    })))
}

/// `DELETE /api/v1/me` (scope `profile:write`): deletes the account, 204.
/// A sensitive action: the token's `auth_time` must be within REAUTH_WINDOW,
/// else RFC 9470's `insufficient_user_authentication` challenge with
/// `max_age` (and `acr_values="aal2"` when the user has a second factor but
/// the token is aal1), and the client signs in again (password grant, with
/// `otp`) to step up.
pub async fn delete_me(
    state: web::Data<AppState>,
    auth: Bearer,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::ProfileWrite)?;
    let has_factor = {
        let mut conn = db::conn(&state.pool).await?;
        second_factor::required(&mut conn, auth.user_id()).await?
    };
    // For a user with a second factor, a password-only token falls short
    // however recent it is.
    let acr = has_factor.then_some("aal2");
    auth.require_authentication(state.clock.now(), state.settings.reauth_window, acr)?;
    account::delete_account(&state, auth.user_id(), &client.ip).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(serde::Serialize)]
struct Ping<'a> {
    sub: uuid::Uuid,
    sid: uuid::Uuid,
    scope: &'a str,
    exp: i64,
    acr: &'a str,
    amr: &'a [String],
    auth_time: i64,
}

pub async fn ping(auth: Bearer) -> HttpResponse {
    let c = auth.claims();
    HttpResponse::Ok().json(Ping {
        sub: c.sub,
        sid: c.sid,
        scope: &c.scope,
        exp: c.exp,
        acr: &c.acr,
        amr: &c.amr,
        auth_time: c.auth_time,
    })
}
