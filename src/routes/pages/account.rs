//! `GET /account` and its state changes: revoke one session, log out other
//! sessions, change password (which ends every other session).

use super::login::throttled_message;
use super::{format_time, render, see_other};
use crate::auth::account::{self, PasswordChange};
use crate::auth::client::ClientInfo;
use crate::auth::csrf::require_session_csrf;
use crate::auth::current_user::CurrentUser;
use crate::auth::typed_session::TypedSession;
use crate::auth::AppState;
use crate::db;
use crate::db::sessions as session_rows;
use crate::error::AppError;
use crate::web::PageContext;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use uuid::Uuid;

struct SessionView {
    id: Uuid,
    kind: String,
    user_agent: String,
    ip: String,
    created: String,
    last_seen: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    page: PageContext,
    email: String,
    sessions: Vec<SessionView>,
    message: Option<String>,
}

async fn account_page(
    state: &AppState,
    user: &CurrentUser,
    status: StatusCode,
    message: Option<String>,
) -> Result<HttpResponse, AppError> {
    let mut conn = db::conn(&state.pool).await?;
    let live = session_rows::live_for_user(&mut conn, user.user.id, state.clock.now()).await?;
    let sessions = live
        .into_iter()
        .map(|s| SessionView {
            current: s.id == user.session.id,
            id: s.id,
            kind: s.kind,
            user_agent: if s.user_agent.is_empty() {
                "Unknown device".into()
            } else {
                s.user_agent
            },
            ip: s.ip,
            created: format_time(s.created_at),
            last_seen: format_time(s.last_seen_at),
        })
        .collect();
    let page = AccountPage {
        page: user.page(),
        email: user.user.email.clone(),
        sessions,
        message,
    };
    render(status, &page, None)
}

pub async fn account(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    account_page(&state, &user, StatusCode::OK, None).await
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct CsrfForm {
    csrf_token: String,
}

pub async fn revoke_one(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
    client: ClientInfo,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    require_session_csrf(&req, &state, &user, &form.csrf_token)?;
    let id = Uuid::parse_str(&path.into_inner()).map_err(|_| AppError::NotFound)?;
    let done = account::revoke_own_session(&state, &user, id, &client)
        .await?
        .ok_or(AppError::NotFound)?;
    if !done {
        return Err(AppError::LoginRequired {
            next: "/account".to_owned(),
        });
    }
    if id == user.session.id {
        session.purge();
    }
    Ok(see_other("/account"))
}

pub async fn revoke_others(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<CsrfForm>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    require_session_csrf(&req, &state, &user, &form.csrf_token)?;
    if !account::revoke_other_sessions(&state, &user, &client).await? {
        return Err(AppError::LoginRequired {
            next: "/account".to_owned(),
        });
    }
    Ok(see_other("/account"))
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    csrf_token: String,
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<PasswordForm>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    require_session_csrf(&req, &state, &user, &form.csrf_token)?;
    let form = form.into_inner();
    let outcome = account::change_password(
        &state,
        &user,
        form.current_password,
        form.new_password,
        &client,
    )
    .await?;
    let (status, message) = match outcome {
        PasswordChange::Changed => return Ok(see_other("/account")),
        PasswordChange::Throttled(secs) => {
            let message = Some(throttled_message(secs));
            let mut res =
                account_page(&state, &user, StatusCode::TOO_MANY_REQUESTS, message).await?;
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
            return Ok(res);
        }
        PasswordChange::WrongCurrentPassword => (
            StatusCode::BAD_REQUEST,
            "Your current password is not correct.",
        ),
        PasswordChange::Rejected(m) => (StatusCode::BAD_REQUEST, m),
        PasswordChange::Conflict => {
            // The session ended, or the password changed elsewhere, meanwhile.
            return Err(AppError::LoginRequired {
                next: "/account".to_owned(),
            });
        }
    };
    account_page(&state, &user, status, Some(message.to_owned())).await
}
