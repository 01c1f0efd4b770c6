//! CSRF defences for cookie-authenticated requests.
//!
//! * Origin checks: a state-changing request is refused when `Sec-Fetch-Site`
//!   is present and not `same-origin`/`none`, or when `Origin` is present
//!   (including `null`) and differs from PUBLIC_URL.
//! * Signed-in forms: a synchronizer token kept in the session state.
//! * Anonymous forms (login, register): a signed double-submit token. The
//!   HttpOnly cookie holds a random nonce; the form carries HMAC(key, nonce).
//!   Anonymous visitors therefore never cause a database write.

use crate::auth::crypto;
use crate::auth::http::current_user::CurrentUser;
use crate::auth::state::AppState;
use crate::error::AppError;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;
use secrecy::ExposeSecret;

pub fn origin_allowed(req: &HttpRequest, public_url: &str) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("");
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    if let Some(origin) = headers.get(actix_web::http::header::ORIGIN) {
        if origin.to_str().map(|o| o != public_url).unwrap_or(true) {
            return false;
        }
    }
    true
}

/// Compares a submitted token with the expected one in constant time.
pub fn tokens_match(expected: &str, submitted: &str) -> bool {
    !expected.is_empty() && crypto::constant_time_eq(expected.as_bytes(), submitted.as_bytes())
}

fn anon_token_for(key: &[u8], nonce: &str) -> String {
    crypto::b64(&crypto::hmac_sha256(key, &[b"anon-csrf", nonce.as_bytes()]))
}

fn nonce_cookie(req: &HttpRequest, state: &AppState) -> Option<String> {
    req.cookie(state.settings.csrf_cookie_name())
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() >= 32 && v.len() <= 64)
}

/// The anonymous form token for this browser, and the cookie to set when the
/// browser has no nonce yet.
pub fn anon_token(
    req: &HttpRequest,
    state: &AppState,
) -> anyhow::Result<(String, Option<Cookie<'static>>)> {
    if let Some(nonce) = nonce_cookie(req, state) {
        return Ok((
            anon_token_for(state.secrets.csrf_key.expose_secret(), &nonce),
            None,
        ));
    }
    let nonce = crypto::random_token()?;
    let token = anon_token_for(state.secrets.csrf_key.expose_secret(), &nonce);
    let cookie = Cookie::build(state.settings.csrf_cookie_name(), nonce)
        .path("/")
        .http_only(true)
        .secure(state.settings.cookie_secure)
        .same_site(SameSite::Lax)
        .finish();
    Ok((token, Some(cookie)))
}

/// Verifies a submitted anonymous form token against the nonce cookie.
pub fn verify_anon(req: &HttpRequest, state: &AppState, submitted: &str) -> bool {
    match nonce_cookie(req, state) {
        Some(nonce) => tokens_match(
            &anon_token_for(state.secrets.csrf_key.expose_secret(), &nonce),
            submitted,
        ),
        None => false,
    }
}

/// Refuses cross-site state changes and checks the signed-in form token.
pub fn require_session_csrf(
    req: &HttpRequest,
    state: &AppState,
    user: &CurrentUser,
    submitted: &str,
) -> Result<(), AppError> {
    if !origin_allowed(req, &state.settings.public_url) {
        return Err(AppError::Forbidden("cross-origin request"));
    }
    if !tokens_match(&user.csrf_token, submitted) {
        return Err(AppError::Forbidden("bad csrf token"));
    }
    Ok(())
}

/// Refuses cross-site posts of the anonymous forms (login, register) and
/// checks their double-submit token.
pub fn require_anon_csrf(
    req: &HttpRequest,
    state: &AppState,
    submitted: &str,
) -> Result<(), AppError> {
    if !origin_allowed(req, &state.settings.public_url) {
        return Err(AppError::Forbidden("cross-origin request"));
    }
    if !verify_anon(req, state, submitted) {
        return Err(AppError::Forbidden("bad csrf token"));
    }
    Ok(())
}
