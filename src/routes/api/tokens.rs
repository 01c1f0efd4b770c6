//! `POST /api/v1/auth/token`: the OAuth2-style token endpoint for API clients
//! (`password` and `refresh_token` grants) and service accounts
//! (`client_credentials`), and the RFC 6749 §5.1 response
//! shared with the browser's `POST /auth/token`.

use super::params::{read_params, required};
use crate::auth::account::links;
use crate::auth::credentials::{check_code, second_factor, CodeOutcome};
use crate::auth::keys::service_clients::{self, Grant};
use crate::auth::tokens::{mint_for_session, refresh, scopes, Minted, Rotation};
use crate::auth::{
    authenticate, sessions, AppState, Assurance, AuthOutcome, ClientInfo, Kind, ScopeError,
};
use crate::db;
use crate::error::ApiError;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel_async::AsyncConnection;
use std::collections::HashMap;

use super::responses::{InvalidClient, OAuthError, Throttled, TokenIssued, TooLarge, Unavailable};

/// The RFC 6749 §5.1 success response body.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TokenResponse<'a> {
    /// The access token: a JWT (`typ` `at+jwt`, EdDSA).
    access_token: &'a str,
    /// Seconds until the access token expires (`exp` − `iat`).
    #[schema(example = 900)]
    expires_in: i64,
    /// The successor refresh token (`rt_` + 43 base64url characters); only
    /// from the password and refresh_token grants, never from
    /// `POST /auth/token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^rt_[A-Za-z0-9_-]{43}$")]
    refresh_token: Option<&'a str>,
    /// The token's scopes, space-separated, in canonical order.
    #[schema(example = "profile:read notes:read notes:write")]
    scope: &'a str,
    #[schema(inline)]
    token_type: TokenType,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub enum TokenType {
    Bearer,
}

/// The RFC 6749 §5.1 success response.
pub fn token_response(minted: &Minted, scope: &str, refresh_token: Option<&str>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(TokenResponse {
            access_token: &minted.token,
            expires_in: minted.exp - minted.iat,
            refresh_token,
            scope,
            token_type: TokenType::Bearer,
        })
}

/// The parameters of `POST /api/v1/auth/token` (form-encoded or a JSON
/// object of strings; `read_params` reads them). Described here, parsed
/// there: a JSON value that is not a string is `invalid_request`.
#[derive(utoipa::ToSchema)]
#[serde(tag = "grant_type", rename_all = "snake_case")]
#[schema(example = json!({
    "grant_type": "password",
    "username": "user@example.com",
    "password": "correct horse battery staple",
    "scope": "notes:read notes:write",
}))]
#[allow(dead_code)]
pub enum TokenRequest {
    /// Sign in with the account's email and password: a new API session.
    Password {
        /// The email address (trimmed and lower-cased).
        #[schema(min_length = 1)]
        username: String,
        #[schema(min_length = 1, format = Password)]
        password: String,
        /// Space-separated scopes narrowing the user's grant.
        #[serde(default)]
        scope: String,
        /// For a user with a second factor: a current TOTP code or an
        /// unused recovery code (without it: 400 `mfa_required`).
        #[serde(default)]
        otp: String,
        #[serde(flatten)]
        other: HashMap<String, String>,
    },
    /// A service account's access token (RFC 6749 §4.4; no refresh token):
    /// the client authenticated with HTTP Basic (`client_secret_basic`) or
    /// with `client_id` and `client_secret` here (`client_secret_post`).
    ClientCredentials {
        /// With `client_secret`, instead of HTTP Basic.
        #[serde(default)]
        client_id: String,
        #[serde(default, rename = "client_secret")]
        #[schema(format = Password)]
        client_secret: String,
        /// Space-separated scopes narrowing the client's grant.
        #[serde(default)]
        scope: String,
        #[serde(flatten)]
        other: HashMap<String, String>,
    },
    /// Rotate a refresh token: its successor and a new access token.
    RefreshToken {
        #[schema(min_length = 1)]
        refresh_token: String,
        /// Space-separated scopes narrowing this access token only.
        #[serde(default)]
        scope: String,
        #[serde(flatten)]
        other: HashMap<String, String>,
    },
}

pub fn scope_error(e: ScopeError) -> ApiError {
    ApiError::oauth("invalid_scope", e.to_string())
}

/// Refuses unknown scope names before anything else is looked at: a
/// malformed request is neither a failed login nor a spent refresh token.
fn check_scope_syntax(params: &HashMap<String, String>) -> Result<(), ApiError> {
    let requested = params.get("scope").map(String::as_str);
    scopes::narrow(requested, &scopes::catalogue()).map_err(scope_error)?;
    Ok(())
}

/// `POST /api/v1/auth/token`.
#[utoipa::path(
    post,
    path = "/api/v1/auth/token",
    tag = "tokens",
    summary = "Token endpoint: the password, refresh_token and client_credentials grants (RFC 6749)",
    request_body(
        content = TokenRequest,
        content_type = "application/x-www-form-urlencoded",
        description = "Grant parameters; unknown ones are ignored.",
    ),
    responses(
        (status = 200, response = TokenIssued),
        (status = 400, response = OAuthError),
        (status = 401, response = InvalidClient),
        (status = 413, response = TooLarge),
        (status = 429, response = Throttled),
        (status = 503, response = Unavailable),
    ),
)]
pub async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
    client: ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let params = read_params(&req, payload).await?;
    match required(&params, "grant_type")? {
        "password" => password_grant(&state, &params, &client).await,
        "refresh_token" => refresh_grant(&state, &params, &client).await,
        "client_credentials" => client_grant(&state, &req, &params, &client).await,
        _ => Err(ApiError::oauth(
            "unsupported_grant_type",
            "supported: password, refresh_token, client_credentials",
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
    check_scope_syntax(params)?;
    let user = match authenticate(state, username, password.to_owned(), client).await? {
        AuthOutcome::Ok(user) if links::verification_pending(&state.settings, &user) => {
            return Err(ApiError::invalid_grant("email address not verified"))
        }
        AuthOutcome::Ok(user) => user,
        AuthOutcome::Failed => return Err(ApiError::invalid_grant("invalid username or password")),
        AuthOutcome::Throttled(secs) => return Err(ApiError::Throttled { retry_after: secs }),
    };
    let scope = scopes::narrow(params.get("scope").map(String::as_str), &user.scopes)
        .map_err(scope_error)?;
    let has_factor = {
        let mut conn = db::conn(&state.pool).await?;
        second_factor::required(&mut conn, user.id).await?
    };
    // `check_code` takes a connection of its own: none is held here.
    let assurance = if has_factor {
        let Some(otp) = params.get("otp") else {
            return Err(ApiError::oauth(
                "mfa_required",
                "this account has a second factor: send its code as otp",
            ));
        };
        match check_code(state, &user, otp, client).await? {
            CodeOutcome::Throttled(secs) => return Err(ApiError::Throttled { retry_after: secs }),
            CodeOutcome::Failed => return Err(ApiError::invalid_grant("invalid one-time code")),
            ok => ok
                .assurance()
                .ok_or_else(|| anyhow::anyhow!("no assurance"))?,
        }
    } else {
        Assurance::PASSWORD
    };
    // The session and its first refresh token appear together or not at all.
    let mut conn = db::conn(&state.pool).await?;
    let created = conn
        .transaction::<_, crate::error::AppError, _>(async |conn| {
            let session =
                sessions::create(state, conn, &user, Kind::Api, &scope, client, assurance).await?;
            let Some(session) = session else {
                return Ok(None);
            };
            let refresh_token = refresh::issue_first(state, conn, &session).await?;
            Ok(Some((session, refresh_token)))
        })
        .await?;
    let Some((session, refresh_token)) = created else {
        return Err(ApiError::invalid_grant("invalid username or password"));
    };
    let minted = mint_for_session(state, &session, &scope)?;
    Ok(token_response(&minted, &scope, Some(&refresh_token)))
}

/// The client's credentials: HTTP Basic (`client_secret_basic`, RFC 6749
/// §2.3.1: each part form-encoded) or `client_id` + `client_secret` in the
/// body (`client_secret_post`); both at once is `invalid_request`.
fn client_credentials(
    req: &HttpRequest,
    params: &HashMap<String, String>,
) -> Result<Option<(String, String)>, ApiError> {
    let basic = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then(|| rest.trim())
        })
        .map(|encoded| {
            use base64::Engine;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            decoded.and_then(|text| {
                let (id, secret) = text.split_once(':')?;
                let form = |s: &str| {
                    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
                        .ok()
                        .and_then(|mut v| v.pop())
                        .map(|(_, v)| v)
                };
                Some((form(id)?, form(secret)?))
            })
        });
    let posted = match (params.get("client_id"), params.get("client_secret")) {
        (Some(id), Some(secret)) => Some((id.clone(), secret.clone())),
        (None, None) => None,
        _ => return Err(ApiError::InvalidClient),
    };
    match (basic, posted) {
        (Some(_), Some(_)) => Err(ApiError::oauth(
            "invalid_request",
            "authenticate the client one way only (HTTP Basic or the form)",
        )),
        (Some(basic), None) => basic.map(Some).ok_or(ApiError::InvalidClient),
        (None, posted) => Ok(posted),
    }
}

async fn client_grant(
    state: &AppState,
    req: &HttpRequest,
    params: &HashMap<String, String>,
    client: &ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let Some((id, secret)) = client_credentials(req, params)? else {
        return Err(ApiError::InvalidClient);
    };
    check_scope_syntax(params)?;
    let scope = params.get("scope").map(String::as_str);
    match service_clients::grant(state, &id, &secret, scope, &client.ip).await? {
        Grant::Issued(minted, scope) => Ok(token_response(&minted, &scope, None)),
        Grant::InvalidClient => Err(ApiError::InvalidClient),
        Grant::Throttled(secs) => Err(ApiError::Throttled { retry_after: secs }),
        Grant::BadScope(e) => Err(scope_error(e)),
    }
}

async fn refresh_grant(
    state: &AppState,
    params: &HashMap<String, String>,
    client: &ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let presented = required(params, "refresh_token")?;
    if !refresh::well_formed(presented) {
        return Err(ApiError::invalid_grant("invalid refresh token"));
    }
    check_scope_syntax(params)?;
    let requested = params.get("scope").map(String::as_str);
    match refresh::rotate(state, presented, requested, &client.ip).await? {
        Rotation::Rotated {
            successor,
            session,
            scope,
        } => {
            let minted = mint_for_session(state, &session, &scope)?;
            Ok(token_response(&minted, &scope, Some(&successor)))
        }
        Rotation::BadScope(e) => Err(scope_error(e)),
        Rotation::Refused(why) => Err(ApiError::invalid_grant(why)),
        Rotation::Reused(_) => Err(ApiError::invalid_grant(
            "refresh token reused; the session has been revoked",
        )),
    }
}
