//! Server-rendered pages. Forms post back to the same path; every form carries
//! `csrf_token`, every page `<meta name="csrf-token">`.

pub mod account;
pub mod home;
pub mod login;
pub mod logout;
pub mod refresh;
pub mod register;

use crate::auth::csrf;
use crate::auth::extractors::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;
use actix_web::cookie::Cookie;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

/// Renders `page` with `status`, setting `cookie` when given.
pub fn render(
    status: StatusCode,
    page: &impl Template,
    cookie: Option<Cookie<'static>>,
) -> Result<HttpResponse, AppError> {
    let body = page
        .render()
        .map_err(|e| anyhow::anyhow!("template: {e}"))?;
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"));
    if let Some(c) = cookie {
        res.cookie(c);
    }
    Ok(res.body(body))
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// The page's CSRF token: the session's synchronizer token when signed in,
/// otherwise the anonymous double-submit token (and its cookie, if new).
pub fn page_csrf(
    req: &HttpRequest,
    state: &AppState,
    user: Option<&CurrentUser>,
) -> Result<(String, Option<Cookie<'static>>), AppError> {
    match user {
        Some(u) => Ok((u.csrf_token.clone(), None)),
        None => Ok(csrf::anon_token(req, state)?),
    }
}

/// Refuses cross-site state changes and checks the signed-in form token.
pub fn require_session_csrf(
    req: &HttpRequest,
    state: &AppState,
    user: &CurrentUser,
    submitted: &str,
) -> Result<(), AppError> {
    if !csrf::origin_allowed(req, &state.settings.public_url) {
        return Err(AppError::Forbidden("cross-origin request"));
    }
    if !csrf::tokens_match(&user.csrf_token, submitted) {
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
    if !csrf::origin_allowed(req, &state.settings.public_url) {
        return Err(AppError::Forbidden("cross-origin request"));
    }
    if !csrf::verify_anon(req, state, submitted) {
        return Err(AppError::Forbidden("bad csrf token"));
    }
    Ok(())
}

/// Accepts only same-origin relative paths (`/x?y`), refusing `//host`,
/// `/\host`, schemes and control characters: no open redirects.
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 2048
        && !next
            .chars()
            .any(|c| c.is_control() || c == '\\' || c.is_whitespace());
    ok.then_some(next)
}

/// Percent-encodes a query value.
pub fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `next` from the query string, if it is safe.
pub fn next_from_query(req: &HttpRequest) -> String {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Q {
        next: String,
    }
    let q: Q = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    safe_next(&q.next).unwrap_or("").to_owned()
}

pub fn format_time(t: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    t.format(&f).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_accepts_only_local_paths() {
        assert_eq!(safe_next("/account"), Some("/account"));
        assert_eq!(safe_next("/notes?x=1"), Some("/notes?x=1"));
        for bad in [
            "",
            "account",
            "//evil.com",
            "/\\evil.com",
            "https://evil.com",
            "/a\nb",
            "/a b",
            "/\\/x",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(bad), None, "{bad}");
        }
    }

    #[test]
    fn encode_query_escapes_separators() {
        assert_eq!(encode_query("/a?b=c&d"), "/a%3Fb%3Dc%26d");
    }
}
