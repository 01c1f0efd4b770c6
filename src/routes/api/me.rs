//! `GET /api/v1/me` (scope `profile:read`) and `GET /api/v1/ping` (any scope,
//! answered from the verified token alone, how the session was authenticated
//! included).

use crate::auth::http::bearer::{AnyBearer, Via};
use crate::auth::{account, AppState, Bearer, ClientInfo};
use crate::db::{self, users};
use crate::error::ApiError;
use actix_web::{web, HttpResponse};

use super::responses::StepUpOrUnauthorized;

/// The body of `GET /api/v1/me`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Profile {
    email: String,
    /// The user's id (the `sub` claim).
    id: uuid::Uuid,
    /// The token's scopes.
    scope: String,
    /// The token's session (the `sid` claim).
    session_id: uuid::Uuid,
}

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "profile",
    summary = "The token's user",
    responses((status = 200, description = "The profile.", body = Profile)),
)]
pub async fn me(state: web::Data<AppState>, auth: Bearer) -> Result<HttpResponse, ApiError> {
    let mut conn = db::conn(&state.pool).await?;
    let user = users::find(&mut conn, auth.user_id())
        .await?
        .ok_or(ApiError::InvalidToken("access token revoked"))?;
    Ok(HttpResponse::Ok().json(Profile {
        email: user.email,
        id: user.id,
        scope: auth.claims().scope.clone(),
        session_id: auth.session_id(),
    }))
}

/// `DELETE /api/v1/me` (scope `profile:write`): deletes the account, 204.
/// A sensitive action: the token's `auth_time` must be within REAUTH_WINDOW,
/// else RFC 9470's `insufficient_user_authentication` challenge with
/// `max_age` (and `acr_values="aal2"` when the user has a second factor but
/// the token is aal1), and the client signs in again (password grant, with
/// `otp`) to step up.
#[utoipa::path(
    delete,
    path = "/api/v1/me",
    tag = "profile",
    summary = "Delete the account (needs a recent sign-in)",
    responses(
        (status = 204, description = "The account and all that is the user's are deleted; every session was revoked first."),
        (status = 401, response = StepUpOrUnauthorized),
    ),
)]
pub async fn delete_me(
    state: web::Data<AppState>,
    auth: Bearer,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    auth.require_recent_sign_in(&state).await?;
    account::delete_account(&state, auth.user_id(), &client.ip).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The body of `GET /api/v1/ping`: the verified token's claims.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Ping<'a> {
    /// How the call authenticated: `session` (an access token of a
    /// sign-in), `api_key`, or `client` (a service account's token).
    #[schema(example = "session")]
    auth: &'static str,
    /// The API key's id, for `api_key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key_id: Option<uuid::Uuid>,
    /// The service account's id, for `client`.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    /// The user's id (a service account's id for `client`).
    sub: uuid::Uuid,
    /// The revocation unit: the session's (or key's, or client's) id.
    sid: uuid::Uuid,
    scope: &'a str,
    /// Expiry, unix seconds.
    exp: i64,
    /// How the session was authenticated: `aal1` (a password) or `aal2`;
    /// empty for a key or a client.
    #[schema(example = "aal1")]
    acr: &'a str,
    /// RFC 8176 authentication methods, e.g. `["pwd"]`; empty for a key or
    /// a client.
    amr: &'a [String],
    /// When the session last signed in, unix seconds.
    auth_time: i64,
}

#[utoipa::path(
    get,
    path = "/api/v1/ping",
    tag = "profile",
    summary = "Echo of the verified token (any scope)",
    responses((status = 200, description = "The token's claims.", body = Ping)),
)]
pub async fn ping(AnyBearer(auth): AnyBearer) -> HttpResponse {
    let c = auth.claims();
    let (kind, api_key_id) = match auth.via() {
        Via::Session => ("session", None),
        Via::ApiKey(id) => ("api_key", Some(id)),
        Via::Client => ("client", None),
    };
    HttpResponse::Ok().json(Ping {
        auth: kind,
        api_key_id,
        client_id: c.client_id.as_deref(),
        sub: c.sub,
        sid: c.sid,
        scope: &c.scope,
        exp: c.exp,
        acr: &c.acr,
        amr: &c.amr,
        auth_time: c.auth_time,
    })
}
