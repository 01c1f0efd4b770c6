//! `GET /account` and its state changes: revoke one session, log out other
//! sessions, change password (which ends every other session).

use super::login::throttled_message;
use super::{format_time, render, require_session_csrf, see_other};
use crate::auth::client::ClientInfo;
use crate::auth::extractors::CurrentUser;
use crate::auth::login::{check_password, AuthOutcome};
use crate::auth::password;
use crate::auth::sessions;
use crate::auth::sessions::Target;
use crate::auth::typed_session::TypedSession;
use crate::db;
use crate::db::events::{self, NewEvent};
use crate::db::sessions as rows;
use crate::db::users;
use crate::error::AppError;
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use diesel_async::AsyncConnection;
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
    csrf_token: String,
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
    let live = rows::live_for_user(&mut conn, user.user.id, state.clock.now()).await?;
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
        csrf_token: user.csrf_token.clone(),
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
    let mut conn = db::conn(&state.pool).await?;
    match rows::find(&mut conn, id).await? {
        Some(s) if s.user_id == user.user.id => {
            state
                .revoke(&mut conn, Target::One(id), "revoked_by_user", &client.ip)
                .await?;
            if id == user.session.id {
                session.purge();
            }
            Ok(see_other("/account"))
        }
        _ => Err(AppError::NotFound),
    }
}

pub async fn revoke_others(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<CsrfForm>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    require_session_csrf(&req, &state, &user, &form.csrf_token)?;
    let mut conn = db::conn(&state.pool).await?;
    let target = Target::AllOfUser {
        user_id: user.user.id,
        keep: Some(user.session.id),
    };
    state
        .revoke(&mut conn, target, "other_sessions_logged_out", &client.ip)
        .await?;
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
    let email = user.user.email.clone();
    let outcome = check_password(
        &state,
        &email,
        Some(user.user.clone()),
        form.current_password,
        &client,
        "password_change_failed",
    )
    .await?;
    match outcome {
        AuthOutcome::Ok(_) => {}
        AuthOutcome::Throttled(secs) => {
            let message = Some(throttled_message(secs));
            let mut res =
                account_page(&state, &user, StatusCode::TOO_MANY_REQUESTS, message).await?;
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
            return Ok(res);
        }
        AuthOutcome::Failed => {
            let message = Some("Your current password is not correct.".into());
            return account_page(&state, &user, StatusCode::BAD_REQUEST, message).await;
        }
    }
    if let Err(m) = password::check_new(&form.new_password) {
        return account_page(&state, &user, StatusCode::BAD_REQUEST, Some(m.into())).await;
    }
    let hash = password::hash(form.new_password).await?;
    let now = state.clock.now();
    let (user_id, session_id, ip) = (user.user.id, user.session.id, client.ip.clone());
    let mut conn = db::conn(&state.pool).await?;
    // New hash, audit event and the end of every other session: all or nothing.
    let revoked = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            users::set_password_hash(conn, user_id, &hash, now).await?;
            let event = NewEvent {
                kind: "password_changed",
                user_id: Some(user_id),
                session_id: Some(session_id),
                ip: &ip,
                detail: "",
                created_at: now,
            };
            events::record(conn, event).await?;
            let target = Target::AllOfUser {
                user_id,
                keep: Some(session_id),
            };
            sessions::revoke(conn, target, "password_change", now, &ip).await
        })
        .await?;
    state.revocations.note(&revoked);
    Ok(see_other("/account"))
}
