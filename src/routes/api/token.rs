//! Token endpoints.
//!
//! * `POST /auth/token`: the browser's refresh. The session cookie is the
//!   credential, `X-CSRF-Token` proves the page; answers an access token for
//!   the current web session (no refresh token: none ever reaches page JS).
//! * `POST /api/v1/auth/token`: OAuth2-style token endpoint for API clients
//!   (`password` and `refresh_token` grants).

use super::body::{read_params, required};
use crate::auth::client::ClientInfo;
use crate::auth::extractors::resolve;
use crate::auth::login::{authenticate, AuthOutcome};
use crate::auth::scopes::{self, ScopeError};
use crate::auth::sessions::{self, Kind};
use crate::auth::tokens::Minted;
use crate::auth::{csrf, refresh};
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel_async::AsyncConnection;
use std::collections::HashMap;

/// The RFC 6749 §5.1 success response.
pub fn token_response(minted: &Minted, scope: &str, refresh_token: Option<&str>) -> HttpResponse {
    let mut body = serde_json::json!({
        "access_token": minted.token,
        "token_type": "Bearer",
        "expires_in": minted.exp - minted.iat,
        "scope": scope,
    });
    if let Some(rt) = refresh_token {
        body["refresh_token"] = serde_json::Value::String(rt.to_owned());
    }
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(body)
}

pub fn scope_error(e: ScopeError) -> ApiError {
    ApiError::oauth("invalid_scope", e.to_string())
}

/// `POST /auth/token`. Checked in the contract's order: foreign origin → 403,
/// no live session → 401 `login_required`, bad CSRF header → 403, bad scope → 400.
pub async fn session_token(
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
    let params = read_params(&req, payload).await?;
    let scope = scopes::narrow(params.get("scope").map(String::as_str), &user.session.scope)
        .map_err(scope_error)?;
    let minted = state.mint_for_session(&user.session, &scope)?;
    Ok(token_response(&minted, &scope, None))
}

/// `POST /api/v1/auth/token`.
pub async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let params = read_params(&req, payload).await?;
    match required(&params, "grant_type")? {
        "password" => password_grant(&state, &params, &client).await,
        "refresh_token" => refresh::refresh_grant(&state, &params, &client).await,
        _ => Err(ApiError::oauth(
            "unsupported_grant_type",
            "supported: password, refresh_token",
        )),
    }
}

async fn password_grant(
    state: &AppState,
    params: &HashMap<String, String>,
    client: &ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let username = required(params, "username")?;
    let password = required(params, "password")?;
    // Syntax of the scope first: a malformed request is not a failed login.
    scopes::narrow(
        params.get("scope").map(String::as_str),
        &scopes::ALL.join(" "),
    )
    .map_err(scope_error)?;
    let user = match authenticate(state, username, password.to_owned(), client).await? {
        AuthOutcome::Ok(user) => user,
        AuthOutcome::Failed => return Err(ApiError::invalid_grant("invalid username or password")),
        AuthOutcome::Throttled(secs) => return Err(ApiError::Throttled { retry_after: secs }),
    };
    let scope = scopes::narrow(params.get("scope").map(String::as_str), &user.scopes)
        .map_err(scope_error)?;
    let mut conn = db::conn(&state.pool).await?;
    // The session and its first refresh token appear together or not at all.
    let created = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let session = sessions::create(
                conn,
                &state.settings,
                &state.clock,
                &user,
                Kind::Api,
                &scope,
                client,
            )
            .await?;
            let Some(session) = session else {
                return Ok(None);
            };
            let refresh_token = refresh::issue_first(conn, state, &session).await?;
            Ok(Some((session, refresh_token)))
        })
        .await?;
    let Some((session, refresh_token)) = created else {
        return Err(ApiError::invalid_grant("invalid username or password"));
    };
    let minted = state.mint_for_session(&session, &scope)?;
    Ok(token_response(&minted, &scope, Some(&refresh_token)))
}
