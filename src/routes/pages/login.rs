//! `GET,POST /login`. One generic failure message for unknown email and wrong
//! password (the unknown case verifies a dummy hash, so timing matches too).

use super::{next_from_query, render, safe_next, see_other};
use crate::auth::client::ClientInfo;
use crate::auth::extractors::{resolve_with, CurrentUser, MaybeUser};
use crate::auth::login::{authenticate, AuthOutcome};
use crate::auth::sessions::{self, Kind, Target};
use crate::auth::typed_session::TypedSession;
use crate::auth::{crypto, csrf};
use crate::db;
use crate::db::users::User;
use crate::error::AppError;
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use diesel_async::AsyncPgConnection;

pub const GENERIC_FAILURE: &str = "Incorrect email or password.";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf_token: &'a str,
    next: &'a str,
    email: &'a str,
    error: Option<String>,
    signed_in_as: Option<&'a str>,
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
    let page = LoginPage {
        csrf_token: &csrf_token,
        next: &next,
        email: "",
        error: None,
        signed_in_as: user.0.as_ref().map(|u| u.user.email.as_str()),
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
    super::require_anon_csrf(&req, &state, &form.csrf_token)?;
    let form = form.into_inner();
    let next = safe_next(&form.next).unwrap_or("").to_owned();
    let (csrf_token, _) = csrf::anon_token(&req, &state)?;
    let fail = |status: StatusCode,
                message: String,
                retry_after: Option<u64>|
     -> Result<HttpResponse, AppError> {
        let page = LoginPage {
            csrf_token: &csrf_token,
            next: &next,
            email: form.email.trim(),
            error: Some(message),
            signed_in_as: None,
        };
        let mut res = render(status, &page, None)?;
        if let Some(secs) = retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        Ok(res)
    };

    match authenticate(&state, &form.email, form.password.clone(), &client).await? {
        AuthOutcome::Throttled(secs) => fail(
            StatusCode::TOO_MANY_REQUESTS,
            throttled_message(secs),
            Some(secs),
        ),
        AuthOutcome::Failed => fail(StatusCode::BAD_REQUEST, GENERIC_FAILURE.to_owned(), None),
        AuthOutcome::Ok(user) => {
            let current = resolve_with(&req, false).await?;
            let mut conn = db::conn(&state.pool).await?;
            if !start_web_session(
                &mut conn,
                &state,
                &user,
                &client,
                &session,
                current.as_ref(),
            )
            .await?
            {
                return fail(StatusCode::BAD_REQUEST, GENERIC_FAILURE.to_owned(), None);
            }
            Ok(see_other(if next.is_empty() { "/account" } else { &next }))
        }
    }
}

pub fn throttled_message(secs: u64) -> String {
    let minutes = secs.div_ceil(60);
    format!("Too many failed sign-in attempts. Try again in {minutes} minute(s).")
}

/// Creates a web session for `user` under a renewed cookie key. A live
/// session this browser already had is revoked first. `false` when the
/// password changed meanwhile (no session was created).
pub async fn start_web_session(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    user: &User,
    client: &ClientInfo,
    session: &TypedSession,
    previous: Option<&CurrentUser>,
) -> Result<bool, AppError> {
    if let Some(old) = previous {
        state
            .revoke(conn, Target::One(old.session.id), "superseded", &client.ip)
            .await?;
    }
    let row = sessions::create(
        conn,
        &state.settings,
        &state.clock,
        user,
        Kind::Web,
        &user.scopes,
        client,
    )
    .await?;
    // None: the password changed while this login was being checked.
    let Some(row) = row else { return Ok(false) };
    let csrf_token = crypto::random_token()?;
    session.log_in(row.id, &csrf_token)?;
    Ok(true)
}
