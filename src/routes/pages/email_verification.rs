//! `GET /email/verify/{token}` (a page with a confirm button: a mail
//! scanner that fetches the link verifies nothing), `POST /email/verify`,
//! `POST /account/email/resend` (signed in) and `POST /email/resend` (the
//! login page's button while EMAIL_VERIFICATION=required).

use super::{page_context, render, see_other};
use crate::auth::account::links::{self, VERIFY};
use crate::auth::http::csrf;
use crate::auth::{AppState, ClientInfo, CurrentUser, MaybeUser};
use crate::error::AppError;
use crate::web::PageContext;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "email_verify.html")]
struct ConfirmPage<'a> {
    page: PageContext,
    token: &'a str,
}

fn link_invalid(page: PageContext) -> Result<HttpResponse, AppError> {
    super::link_invalid(
        page,
        "This confirmation link is invalid or has expired.",
        "/account",
        "Send a new one from your account page",
    )
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct VerifyForm {
    csrf_token: String,
    token: String,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct ResendForm {
    csrf_token: String,
    email: String,
}

pub async fn confirm_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: MaybeUser,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (page, cookie) = page_context(&req, &state, user.0.as_ref())?;
    if !links::is_live(&state, &token, VERIFY).await? {
        return link_invalid(page);
    }
    // The token is in the URL; the app-wide `Referrer-Policy: same-origin`
    // keeps it from other sites. `no-referrer` would make the browser send
    // `Origin: null` on the confirm button's POST, which the origin check
    // refuses.
    render(
        StatusCode::OK,
        &ConfirmPage {
            page,
            token: &token,
        },
        cookie,
    )
}

/// The token is the credential; a signed-in browser must also send its
/// session's CSRF token. Cross-site posts are refused either way.
pub async fn verify(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: MaybeUser,
    form: web::Form<VerifyForm>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    match &user.0 {
        Some(u) => csrf::require_session_csrf(&req, &state, u, &form.csrf_token)?,
        None => {
            if !csrf::origin_allowed(&req, &state.settings.public_url) {
                return Err(AppError::Forbidden("cross-origin request"));
            }
        }
    }
    match links::verify_email(&state, &form.token, &client).await? {
        Some(_) if user.0.is_some() => Ok(see_other("/account?notice=email-verified")),
        Some(_) => Ok(see_other("/login?notice=email-verified")),
        None => {
            let (page, _) = page_context(&req, &state, user.0.as_ref())?;
            link_invalid(page)
        }
    }
}

fn throttled(secs: u64) -> HttpResponse {
    let mut res = crate::error::html_error(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many requests",
        "Too many confirmation mails for this address. Try again later.",
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    res
}

pub async fn resend_signed_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<ResendForm>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    csrf::require_session_csrf(&req, &state, &user, &form.csrf_token)?;
    match links::resend_verification(state.clone().into_inner(), &user.user.email, &client).await? {
        Ok(()) => Ok(see_other("/account?notice=verification-sent")),
        Err(secs) => Ok(throttled(secs)),
    }
}

/// The same answer whether or not the address exists or is verified.
pub async fn resend_anonymous(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<ResendForm>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    csrf::require_anon_csrf(&req, &state, &form.csrf_token)?;
    match links::resend_verification(state.clone().into_inner(), &form.email, &client).await? {
        Ok(()) => Ok(see_other("/login?notice=verification-sent")),
        Err(secs) => Ok(throttled(secs)),
    }
}
