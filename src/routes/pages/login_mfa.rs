//! `GET,POST /login/mfa`: the second step of a sign-in for a user with a
//! second factor. The password was proven by `POST /login`, which left a
//! pending cookie (`auth::http::pending`) and no session; a right code
//! creates the session (aal2), a wrong one counts as a failed sign-in.

use super::support::throttled_message;
use super::{render, see_other};
use crate::auth::credentials::{check_code, CodeOutcome};
use crate::auth::http::{csrf, pending, start_web_session};
use crate::auth::{AppState, ClientInfo, TypedSession};
use crate::db;
use crate::error::AppError;
use crate::web::PageContext;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "login_mfa.html")]
struct MfaPage {
    page: PageContext,
    error: Option<String>,
    /// The user has a passkey: offer it.
    passkey: bool,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct MfaForm {
    csrf_token: String,
    code: String,
}

async fn page(
    req: &HttpRequest,
    state: &AppState,
    user_id: uuid::Uuid,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let (csrf_token, cookie) = csrf::anon_token(req, state)?;
    let passkey = {
        let mut conn = db::conn(&state.pool).await?;
        db::passkeys::count_for_user(&mut conn, user_id).await? > 0
    };
    let body = MfaPage {
        page: PageContext {
            csrf_token,
            signed_in_as: None,
            notice: None,
        },
        error,
        passkey,
    };
    render(status, &body, cookie)
}

/// Back to the password form, forgetting the pending sign-in.
fn restart(state: &AppState) -> Result<HttpResponse, AppError> {
    Ok(pending::cleared(see_other("/login"), state)?)
}

pub async fn mfa_form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let Some(pending) = pending::read(&req, &state) else {
        return restart(&state);
    };
    page(&req, &state, pending.user_id, StatusCode::OK, None).await
}

pub async fn mfa(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<MfaForm>,
    client: ClientInfo,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    csrf::require_anon_csrf(&req, &state, &form.csrf_token)?;
    let Some(pending) = pending::read(&req, &state) else {
        return restart(&state);
    };
    // The user is gone, or the password changed since it was checked.
    let Some(user) = pending.user(&state).await? else {
        return restart(&state);
    };
    let outcome = check_code(&state, &user, &form.code, &client).await?;
    let assurance = match outcome {
        CodeOutcome::Throttled(secs) => {
            let mut res = page(
                &req,
                &state,
                user.id,
                StatusCode::TOO_MANY_REQUESTS,
                Some(throttled_message(secs)),
            )
            .await?;
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
            return Ok(res);
        }
        CodeOutcome::Failed => {
            let message =
                "That code is not right. Try the current code from your app, or a recovery code.";
            return page(
                &req,
                &state,
                user.id,
                StatusCode::BAD_REQUEST,
                Some(message.into()),
            )
            .await;
        }
        ok => pending.assurance(
            ok.assurance()
                .ok_or_else(|| anyhow::anyhow!("no assurance"))?,
        ),
    };
    let mut conn = db::conn(&state.pool).await?;
    if !start_web_session(&state, &mut conn, &user, &client, &session, assurance).await? {
        return restart(&state);
    }
    Ok(pending::cleared(see_other(pending.destination()), &state)?)
}
