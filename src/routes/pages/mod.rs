//! Server-rendered pages (cookie sessions). Forms post back to the same path;
//! every form carries `csrf_token`, every page `<meta name="csrf-token">`
//! through its `page: PageContext` field (rendered by `templates/base.html`).
//!
//! A protected page is a template plus a handler that takes `CurrentUser`:
//! see `refresh_demo.rs` for the shortest example.

pub mod account;
pub mod email_verification;
pub mod home;
pub mod login;
pub mod login_mfa;
pub mod logout;
pub mod oidc;
pub mod passkeys;
pub mod password_reset;
pub mod refresh_demo;
pub mod register;
pub mod support;

use crate::auth::http::csrf;
use crate::auth::{AppState, CurrentUser};
use crate::error::AppError;
use crate::web::{safe_next, PageContext};
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

/// The page context for anyone: the signed-in user's, or an anonymous one
/// with the double-submit CSRF token (and its cookie, when the browser has
/// none yet).
pub fn page_context(
    req: &HttpRequest,
    state: &AppState,
    user: Option<&CurrentUser>,
) -> Result<(PageContext, Option<Cookie<'static>>), AppError> {
    match user {
        Some(u) => Ok((u.page().with_notice(req), None)),
        None => {
            let (csrf_token, cookie) = csrf::anon_token(req, state)?;
            let page = PageContext {
                csrf_token,
                signed_in_as: None,
                notice: None,
            };
            Ok((page.with_notice(req), cookie))
        }
    }
}

/// The guard of a sensitive action: unless `user`'s session authenticated
/// recently (within REAUTH_WINDOW, and with its second factor if the user
/// has one), the request stops here with 303 to `/account/reauth?next=`,
/// having done nothing. One line at the top of a handler:
///
/// ```ignore
/// require_recent_auth(&state, &user, "/account").await?;
/// ```
pub async fn require_recent_auth(
    state: &AppState,
    user: &CurrentUser,
    next: &str,
) -> Result<(), AppError> {
    if crate::auth::account::may_act(state, user).await? {
        Ok(())
    } else {
        Err(AppError::ReauthRequired {
            next: next.to_owned(),
        })
    }
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

#[derive(Template)]
#[template(path = "link_invalid.html")]
struct LinkInvalidPage {
    page: PageContext,
    what: &'static str,
    retry_href: &'static str,
    retry_text: &'static str,
}

/// The 400 page for a mailed link that is unknown, spent or expired.
pub fn link_invalid(
    page: PageContext,
    what: &'static str,
    retry_href: &'static str,
    retry_text: &'static str,
) -> Result<HttpResponse, AppError> {
    let body = LinkInvalidPage {
        page,
        what,
        retry_href,
        retry_text,
    };
    render(StatusCode::BAD_REQUEST, &body, None)
}

/// Counts the start of an anonymous ceremony (`kind`: "passkey", "oidc")
/// from this client: `Some(seconds)` when it must wait first (past 30 a
/// minute per address), so anonymous starts cannot fill the tables.
pub async fn ceremony_wait(
    state: &AppState,
    kind: &str,
    client: &crate::auth::ClientInfo,
) -> Result<Option<u64>, AppError> {
    let mut conn = crate::db::conn(&state.pool).await?;
    let now = state.clock.now();
    let counted =
        crate::auth::credentials::throttle::ceremony_attempt(&mut conn, kind, &client.ip, now)
            .await?;
    Ok(counted.err())
}
