//! `GET,POST /login`. One generic failure message for unknown email and wrong
//! password (the unknown case verifies a dummy hash, so timing matches too).

use super::support::throttled_message;
use super::{next_from_query, render, see_other};
use crate::auth::account::links;
use crate::auth::credentials::second_factor;
use crate::auth::http::{csrf, pending, start_web_session};
use crate::auth::{
    authenticate, AppState, Assurance, AuthOutcome, ClientInfo, MaybeUser, TypedSession,
};
use crate::db;
use crate::error::AppError;
use crate::web::{encode_query, safe_next, PageContext};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

pub const GENERIC_FAILURE: &str = "Incorrect email or password.";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    page: PageContext,
    next: &'a str,
    email: &'a str,
    error: Option<String>,
    signed_in_as: Option<&'a str>,
    /// EMAIL_VERIFICATION=required and this address is not confirmed yet:
    /// offer to resend the mail.
    unverified: bool,
    /// "Continue with …" buttons.
    providers: Vec<super::support::ProviderButton>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    csrf_token: String,
    email: String,
    password: String,
    next: String,
}

pub async fn login_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: MaybeUser,
) -> Result<HttpResponse, AppError> {
    let (csrf_token, cookie) = csrf::anon_token(&req, &state)?;
    let next = next_from_query(&req);
    let signed_in_as = user.0.as_ref().map(|u| u.user.email.clone());
    let page = LoginPage {
        page: PageContext {
            csrf_token,
            signed_in_as: signed_in_as.clone(),
            notice: None,
        }
        .with_notice(&req),
        next: &next,
        email: "",
        error: None,
        signed_in_as: signed_in_as.as_deref(),
        unverified: false,
        providers: super::support::buttons(&state, &next),
    };
    render(StatusCode::OK, &page, cookie)
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
    client: ClientInfo,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    csrf::require_anon_csrf(&req, &state, &form.csrf_token)?;
    let form = form.into_inner();
    let next = safe_next(&form.next).unwrap_or("").to_owned();
    let (csrf_token, _) = csrf::anon_token(&req, &state)?;
    let fail_page = |status: StatusCode,
                     message: String,
                     retry_after: Option<u64>,
                     unverified: bool|
     -> Result<HttpResponse, AppError> {
        let page = LoginPage {
            page: PageContext {
                csrf_token: csrf_token.clone(),
                signed_in_as: None,
                notice: None,
            },
            next: &next,
            email: form.email.trim(),
            error: Some(message),
            signed_in_as: None,
            unverified,
            providers: super::support::buttons(&state, &next),
        };
        let mut res = render(status, &page, None)?;
        if let Some(secs) = retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        Ok(res)
    };
    let fail = |status: StatusCode, message: String, retry_after: Option<u64>| {
        fail_page(status, message, retry_after, false)
    };

    if form.email.contains('\0') || form.password.contains('\0') {
        return fail(StatusCode::BAD_REQUEST, GENERIC_FAILURE.to_owned(), None);
    }
    match authenticate(&state, &form.email, form.password.clone(), &client).await? {
        AuthOutcome::Throttled(secs) => fail(
            StatusCode::TOO_MANY_REQUESTS,
            throttled_message(secs),
            Some(secs),
        ),
        AuthOutcome::Failed => fail(StatusCode::BAD_REQUEST, GENERIC_FAILURE.to_owned(), None),
        AuthOutcome::Ok(user) if links::verification_pending(&state.settings, &user) => fail_page(
            StatusCode::FORBIDDEN,
            "Confirm your email address first: follow the link in the mail we sent you.".to_owned(),
            None,
            true,
        ),
        AuthOutcome::Ok(user) => {
            let mut conn = db::conn(&state.pool).await?;
            if second_factor::required(&mut conn, user.id).await? {
                // The password is right, but no session yet: the second
                // step comes first.
                let cookie = pending::start(&state, &user, &next, state.clock.now())?;
                let location = if next.is_empty() {
                    "/login/mfa".to_owned()
                } else {
                    format!("/login/mfa?next={}", encode_query(&next))
                };
                let mut res = see_other(&location);
                res.add_cookie(&cookie)
                    .map_err(|e| anyhow::anyhow!("cookie: {e}"))?;
                return Ok(res);
            }
            if !start_web_session(
                &state,
                &mut conn,
                &user,
                &client,
                &session,
                Assurance::PASSWORD,
            )
            .await?
            {
                return fail(StatusCode::BAD_REQUEST, GENERIC_FAILURE.to_owned(), None);
            }
            Ok(see_other(if next.is_empty() { "/account" } else { &next }))
        }
    }
}
