//! The account page's second factors: set up an authenticator app
//! (`GET,POST /account/mfa/totp`), remove it (`POST /account/mfa/totp/delete`)
//! and regenerate recovery codes (`POST /account/mfa/recovery-codes`). Each
//! is a sensitive action: a stale session is sent to re-authenticate first.

use super::super::support::CsrfForm;
use super::super::{render, require_recent_auth, see_other};
use crate::auth::account::mfa::{self, TotpEnable, TotpSetup};
use crate::auth::http::csrf::require_session_csrf;
use crate::auth::{AppState, ClientInfo, CurrentUser, TypedSession};
use crate::db::{self, factors};
use crate::error::AppError;
use crate::web::PageContext;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "totp_setup.html")]
struct SetupPage {
    page: PageContext,
    secret: String,
    uri: String,
    qr_svg: String,
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct CodesPage {
    page: PageContext,
    heading: &'static str,
    intro: &'static str,
    codes: Vec<String>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    csrf_token: String,
    code: String,
}

const SETUP: &str = "/account/mfa/totp";

fn setup_page(
    user: &CurrentUser,
    setup: TotpSetup,
    status: StatusCode,
    error: Option<&'static str>,
) -> Result<HttpResponse, AppError> {
    let page = SetupPage {
        page: user.page(),
        secret: setup.base32,
        uri: setup.uri,
        qr_svg: setup.qr_svg,
        error,
    };
    render(status, &page, None)
}

/// `GET /account/mfa/totp`: a new secret to scan, kept (sealed) in this
/// session until a code from it is typed.
pub async fn setup_form(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    require_recent_auth(&state, &user, SETUP).await?;
    {
        let mut conn = db::conn(&state.pool).await?;
        if factors::find_totp(&mut conn, user.user.id).await?.is_some() {
            return Ok(see_other("/account"));
        }
    }
    let setup = mfa::start_totp(&state, user.user.id, &user.user.email)?;
    session.set_totp_setup(&setup.sealed)?;
    setup_page(&user, setup, StatusCode::OK, None)
}

/// `POST /account/mfa/totp`: the code proves the app holds the secret.
pub async fn enable(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<CodeForm>,
    client: ClientInfo,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    require_session_csrf(&req, &state, &user, &form.csrf_token)?;
    require_recent_auth(&state, &user, SETUP).await?;
    let Some(sealed) = session.totp_setup() else {
        // No secret being set up (it expired with its session state): start over.
        return Ok(see_other(SETUP));
    };
    match mfa::enable_totp(&state, &user, &sealed, &form.code, &client).await? {
        TotpEnable::Enabled { recovery_codes } => {
            session.clear_totp_setup();
            session.renew_key();
            let Some(codes) = recovery_codes else {
                return Ok(see_other("/account?notice=mfa-enabled"));
            };
            let page = CodesPage {
                page: user.page(),
                heading: "Two-factor authentication is on",
                intro: "From now on, signing in asks for a code from your authenticator app. \
                        If you ever lose it, each of these recovery codes signs you in once.",
                codes,
            };
            render(StatusCode::OK, &page, None)
        }
        TotpEnable::WrongCode => {
            let setup = mfa::show_totp(&state, user.user.id, &user.user.email, &sealed)?.ok_or(
                AppError::BadRequest("That set-up has expired; start again."),
            )?;
            setup_page(
                &user,
                setup,
                StatusCode::BAD_REQUEST,
                Some("That code is not right. Check the clock of your phone and type the current code."),
            )
        }
        TotpEnable::AlreadyOn => {
            session.clear_totp_setup();
            Ok(see_other("/account"))
        }
        TotpEnable::Conflict => Err(AppError::LoginRequired {
            next: "/account".to_owned(),
        }),
        TotpEnable::AddressUnconfirmed => Ok(crate::error::html_error_for(
            StatusCode::FORBIDDEN,
            "Confirm your email address first",
            mfa::ADDRESS_UNCONFIRMED,
            user.page(),
        )),
    }
}

/// `POST /account/mfa/totp/delete`.
pub async fn disable(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<CsrfForm>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    require_session_csrf(&req, &state, &user, &form.csrf_token)?;
    require_recent_auth(&state, &user, "/account").await?;
    if mfa::disable_totp(&state, &user, &client).await? {
        return Ok(see_other("/account?notice=mfa-disabled"));
    }
    Ok(see_other("/account"))
}

/// `POST /account/mfa/recovery-codes`: a new set, the old ones void.
pub async fn regenerate_codes(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<CsrfForm>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    require_session_csrf(&req, &state, &user, &form.csrf_token)?;
    require_recent_auth(&state, &user, "/account").await?;
    let Some(codes) = mfa::regenerate_recovery_codes(&state, &user, &client).await? else {
        return Err(AppError::BadRequest(
            "Recovery codes need a second factor: set up an authenticator app first.",
        ));
    };
    let page = CodesPage {
        page: user.page(),
        heading: "New recovery codes",
        intro: "Your old recovery codes no longer work. Each of these signs you in once.",
        codes,
    };
    render(StatusCode::OK, &page, None)
}
