//! `POST /auth/token`: the browser's refresh. The session cookie is the
//! credential and `X-CSRF-Token` proves the page; the answer is an access
//! token for the current web session and never a refresh token (none ever
//! reaches page JS). It lives beside the pages, not under `/api/v1`, because
//! the cookie authenticates it.

use super::api::params::read_params;
use super::api::tokens::{scope_error, token_response};
use crate::auth::account::links;
use crate::auth::http::{csrf, current_user::resolve};
use crate::auth::tokens::{mint_for_session, scopes};
use crate::auth::AppState;
use crate::db::{self, users};
use crate::error::ApiError;
use actix_web::{web, HttpRequest, HttpResponse};
use std::collections::HashMap;

use super::api::responses::{
    Forbidden, LoginRequired, OAuthError, SessionUnavailable, TokenIssued, TooLarge,
};

/// The optional body of `POST /auth/token` (form-encoded or a JSON object of
/// strings, read by `read_params`).
#[derive(utoipa::ToSchema)]
#[schema(example = json!({"scope": "notes:read"}))]
#[allow(dead_code)]
pub struct BrowserTokenRequest {
    /// Space-separated scopes narrowing the session's grant.
    #[serde(default)]
    scope: String,
    #[serde(flatten)]
    other: HashMap<String, String>,
}

#[utoipa::path(
    post,
    path = "/auth/token",
    tag = "tokens",
    summary = "The browser's refresh: an access token for the current web session",
    description = "The session cookie is the credential and `X-CSRF-Token` (the page's `<meta name=\"csrf-token\">`) proves the page. Never a refresh token; nothing rotates.",
    request_body(
        content = BrowserTokenRequest,
        content_type = "application/x-www-form-urlencoded",
        description = "Optional: may be left out.",
    ),
    responses(
        (status = 200, response = TokenIssued),
        (status = 400, response = OAuthError),
        (status = 401, response = LoginRequired),
        (status = 403, response = Forbidden),
        (status = 413, response = TooLarge),
        (status = 503, response = SessionUnavailable),
    ),
    security(("session_cookie" = [], "csrf_header" = [])),
)]
/// Checked in the contract's order: foreign origin → 403, no live session →
/// 401 `login_required`, bad CSRF header → 403, bad scope → 400.
pub async fn browser_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if !csrf::origin_allowed(&req, &state.settings.public_url) {
        return Err(ApiError::Forbidden("cross-origin request"));
    }
    let Some(user) = resolve(&req).await? else {
        return Err(ApiError::LoginRequired);
    };
    let header = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !csrf::tokens_match(&user.csrf_token, header) {
        return Err(ApiError::Forbidden("missing or wrong X-CSRF-Token header"));
    }
    if links::verification_pending(&state.settings, &user.user) {
        // The cached user may predate the confirmation: ask the database.
        let mut conn = db::conn(&state.pool).await?;
        let fresh = users::find(&mut conn, user.user.id).await?;
        if fresh.is_none_or(|u| links::verification_pending(&state.settings, &u)) {
            return Err(ApiError::Forbidden("email address not verified"));
        }
    }
    let params = read_params(&req, payload).await?;
    let scope = scopes::narrow(params.get("scope").map(String::as_str), &user.session.scope)
        .map_err(scope_error)?;
    let minted = mint_for_session(&state, &user.session, &scope)?;
    Ok(token_response(&minted, &scope, None))
}
