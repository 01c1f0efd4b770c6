//! `GET,POST /password/forgot`, `GET /password/reset/{token}`,
//! `POST /password/reset`: resetting a forgotten password by mail. The forgot
//! form answers the same page whether or not the account exists.

use super::{page_context, render, see_other};
use crate::auth::account::links::{self, RESET};
use crate::auth::account::Reset;
use crate::auth::http::csrf;
use crate::auth::{AppState, ClientInfo, MaybeUser};
use crate::error::AppError;
use crate::web::PageContext;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "password_forgot.html")]
struct ForgotPage {
    page: PageContext,
    sent: bool,
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "password_reset.html")]
struct ResetPage<'a> {
    page: PageContext,
    token: &'a str,
    error: Option<&'static str>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct ForgotForm {
    csrf_token: String,
    email: String,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct ResetForm {
    csrf_token: String,
    token: String,
    new_password: String,
    password_confirm: String,
}

/// The CSRF check of a form anyone may post: the session's token when the
/// browser is signed in, else the anonymous one.
fn require_any_csrf(
    req: &HttpRequest,
    state: &AppState,
    user: &MaybeUser,
    submitted: &str,
) -> Result<(), AppError> {
    match &user.0 {
        Some(u) => csrf::require_session_csrf(req, state, u, submitted),
        None => csrf::require_anon_csrf(req, state, submitted),
    }
}

pub async fn forgot_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: MaybeUser,
) -> Result<HttpResponse, AppError> {
    let (page, cookie) = page_context(&req, &state, user.0.as_ref())?;
    let body = ForgotPage {
        page,
        sent: false,
        error: None,
    };
    render(StatusCode::OK, &body, cookie)
}

pub async fn forgot(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: MaybeUser,
    form: web::Form<ForgotForm>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    require_any_csrf(&req, &state, &user, &form.csrf_token)?;
    let (page, _) = page_context(&req, &state, user.0.as_ref())?;
    match links::request_reset(state.clone().into_inner(), &form.email, &client).await? {
        Ok(()) => {
            let body = ForgotPage {
                page,
                sent: true,
                error: None,
            };
            render(StatusCode::OK, &body, None)
        }
        Err(secs) => {
            let body = ForgotPage {
                page,
                sent: false,
                error: Some("Too many requests for this address or network. Try again later."),
            };
            let mut res = render(StatusCode::TOO_MANY_REQUESTS, &body, None)?;
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
            Ok(res)
        }
    }
}

fn link_invalid(page: PageContext) -> Result<HttpResponse, AppError> {
    super::link_invalid(
        page,
        "This password reset link is invalid or has expired.",
        "/password/forgot",
        "Ask for a new link",
    )
}

pub async fn reset_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: MaybeUser,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let (page, cookie) = page_context(&req, &state, user.0.as_ref())?;
    if !links::is_live(&state, &token, RESET).await? {
        return link_invalid(page);
    }
    let body = ResetPage {
        page,
        token: &token,
        error: None,
    };
    // The token is in the URL; the app-wide `Referrer-Policy: same-origin`
    // keeps it from other sites. (`no-referrer` would make browsers send
    // `Origin: null` with the form, which the CSRF check refuses.)
    render(StatusCode::OK, &body, cookie)
}

pub async fn reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: MaybeUser,
    form: web::Form<ResetForm>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    require_any_csrf(&req, &state, &user, &form.csrf_token)?;
    let form = form.into_inner();
    let (page, _) = page_context(&req, &state, user.0.as_ref())?;
    if form.new_password != form.password_confirm {
        let body = ResetPage {
            page,
            token: &form.token,
            error: Some("The two passwords do not match."),
        };
        return render(StatusCode::BAD_REQUEST, &body, None);
    }
    match links::reset_password(&state, &form.token, form.new_password, &client).await? {
        Reset::Done => Ok(see_other("/login?notice=password-reset")),
        Reset::DeadLink => link_invalid(page),
        Reset::Rejected(message) => {
            let body = ResetPage {
                page,
                token: &form.token,
                error: Some(message),
            };
            render(StatusCode::BAD_REQUEST, &body, None)
        }
    }
}
