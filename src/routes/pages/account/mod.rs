//! `GET /account` and its state changes: revoke one session, log out other
//! sessions, change password (which ends every other session).

use super::support::{throttled_message, CsrfForm};
use super::{render, require_recent_auth, see_other};
use crate::auth::account::mails::human_duration;
use crate::auth::account::{self, PasswordChange};
use crate::auth::credentials::{second_factor, Enrolled};
use crate::auth::http::csrf::require_session_csrf;
use crate::auth::{AppState, ClientInfo, CurrentUser, TypedSession};
use crate::db;
use crate::db::sessions as session_rows;
use crate::db::{auth_events, users};
use crate::error::AppError;
use crate::web::PageContext;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use uuid::Uuid;

pub mod api_keys;
pub(crate) mod display;
pub mod mfa;
pub mod reauth;

/// A time as people read it: "5 minutes ago", the exact time on hover.
pub struct When {
    relative: String,
    exact: String,
    iso: String,
}

impl When {
    pub fn new(now: time::OffsetDateTime, t: time::OffsetDateTime) -> Self {
        When {
            relative: display::relative_time(now, t),
            exact: display::exact_time(t),
            iso: t
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }
    }
}

struct SessionView {
    id: Uuid,
    kind: String,
    device: String,
    user_agent: String,
    ip: String,
    created: When,
    last_seen: When,
    current: bool,
}

struct PasskeyView {
    id: Uuid,
    name: String,
    created: When,
    last_used: Option<When>,
}

struct IdentityView {
    id: Uuid,
    label: String,
    email: String,
    created: When,
}

struct EventView {
    what: String,
    when: When,
    device: String,
    ip: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    page: PageContext,
    email: String,
    verified: bool,
    sessions: Vec<SessionView>,
    /// More live sessions exist than the page lists.
    more_sessions: bool,
    events: Vec<EventView>,
    message: Option<String>,
    factors: Enrolled,
    passkeys: Vec<PasskeyView>,
    /// REAUTH_WINDOW in words.
    reauth_window: String,
    /// Linked sign-in providers.
    identities: Vec<IdentityView>,
    /// Whether any sign-in provider is configured (else the section is
    /// left out, unless an identity is still linked).
    providers_configured: bool,
    has_password: bool,
    /// The user's live API keys.
    api_keys: Vec<api_keys::ApiKeyView>,
    /// The scopes a new key may carry (the user's grant), with what each
    /// allows.
    grantable: Vec<(&'static str, &'static str)>,
    /// The expiries the form offers, in days.
    expiry_days: Vec<i64>,
    /// A key just made: shown this once.
    new_key: Option<NewKeyView>,
}

/// A key just made, as the page shows it once.
pub struct NewKeyView {
    pub name: String,
    pub key: String,
    pub scope: String,
    pub expires: When,
}

/// How many live sessions the account page lists (newest first).
pub const SESSIONS_SHOWN: i64 = 100;

/// How many recent events the account page lists.
const RECENT_EVENTS: i64 = 20;

async fn account_page(
    req: &HttpRequest,
    state: &AppState,
    user: &CurrentUser,
    status: StatusCode,
    message: Option<String>,
) -> Result<HttpResponse, AppError> {
    account_page_with(req, state, user, status, message, None).await
}

/// The account page, with a key just made shown once.
pub async fn account_page_with(
    req: &HttpRequest,
    state: &AppState,
    user: &CurrentUser,
    status: StatusCode,
    message: Option<String>,
    new_key: Option<NewKeyView>,
) -> Result<HttpResponse, AppError> {
    let mut conn = db::conn(&state.pool).await?;
    let now = state.clock.now();
    // Read fresh: the session cache may hold the user as it was a moment ago.
    let fresh = users::find(&mut conn, user.user.id).await?;
    let verified = fresh
        .as_ref()
        .is_some_and(|u| u.email_verified_at.is_some());
    let grant = fresh.as_ref().map(|u| u.scopes.clone()).unwrap_or_default();
    let grantable = crate::auth::Scope::ALL
        .iter()
        .filter(|s| crate::auth::tokens::scopes::contains(&grant, **s))
        .map(|s| (s.as_str(), s.description()))
        .collect();
    let keys = db::api_keys::live_for_user(&mut conn, user.user.id, now)
        .await?
        .into_iter()
        .map(|k| api_keys::ApiKeyView::new(now, k))
        .collect();
    let has_password = fresh.is_some_and(|u| !u.password_hash.is_empty());
    let identities = crate::auth::oidc::accounts::identities(&mut conn, user.user.id)
        .await?
        .into_iter()
        .map(|i| IdentityView {
            id: i.id,
            label: state
                .oidc
                .get(&i.provider)
                .map(|p| p.config.label.clone())
                .unwrap_or(i.provider),
            email: i.email,
            created: When::new(now, i.created_at),
        })
        .collect();
    // A bounded list (an API client in a loop can make thousands); the
    // current session is always shown.
    let mut live =
        session_rows::live_for_user_newest(&mut conn, user.user.id, now, SESSIONS_SHOWN + 1)
            .await?;
    let more_sessions = live.len() as i64 > SESSIONS_SHOWN;
    live.truncate(SESSIONS_SHOWN as usize);
    if !live.iter().any(|s| s.id == user.session.id) {
        live.pop();
        live.insert(0, user.session.clone());
    }
    let sessions = live
        .into_iter()
        .map(|s| SessionView {
            current: s.id == user.session.id,
            id: s.id,
            kind: s.kind,
            device: display::device_name(&s.user_agent),
            user_agent: s.user_agent,
            ip: s.ip,
            created: When::new(now, s.created_at),
            last_seen: When::new(now, s.last_seen_at),
        })
        .collect();
    let events = auth_events::recent_for_user(&mut conn, user.user.id, RECENT_EVENTS)
        .await?
        .into_iter()
        .map(|e| EventView {
            what: display::event_description(&e.kind, &e.detail),
            when: When::new(now, e.created_at),
            device: e
                .user_agent
                .map(|ua| display::device_name(&ua))
                .unwrap_or_default(),
            ip: e.ip,
        })
        .collect();
    let passkeys = crate::db::passkeys::for_user(&mut conn, user.user.id).await?;
    let count = i64::try_from(passkeys.len()).unwrap_or(i64::MAX);
    let factors = second_factor::enrolled_with(&mut conn, user.user.id, count).await?;
    let passkeys = passkeys
        .into_iter()
        .map(|p| PasskeyView {
            id: p.id,
            name: p.name,
            created: When::new(now, p.created_at),
            last_used: p.last_used_at.map(|t| When::new(now, t)),
        })
        .collect();
    let page = AccountPage {
        page: user.page().with_notice(req),
        email: user.user.email.clone(),
        verified,
        sessions,
        more_sessions,
        events,
        message,
        factors,
        passkeys,
        reauth_window: human_duration(state.settings.reauth_window),
        identities,
        providers_configured: !state.oidc.buttons().is_empty(),
        has_password,
        api_keys: keys,
        grantable,
        expiry_days: api_keys::expiry_choices(state),
        new_key,
    };
    render(status, &page, None)
}

pub async fn account(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    account_page(&req, &state, &user, StatusCode::OK, None).await
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
        return Ok(see_other("/login?notice=signed-out"));
    }
    Ok(see_other("/account?notice=session-revoked"))
}

pub async fn revoke_others(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<CsrfForm>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    require_session_csrf(&req, &state, &user, &form.csrf_token)?;
    match account::revoke_other_sessions(&state, &user, &client).await? {
        None => Err(AppError::LoginRequired {
            next: "/account".to_owned(),
        }),
        Some(0) => Ok(see_other("/account?notice=no-other-sessions")),
        Some(_) => Ok(see_other("/account?notice=others-signed-out")),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    csrf_token: String,
    current_password: String,
    new_password: String,
    password_confirm: String,
}

pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<PasswordForm>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    require_session_csrf(&req, &state, &user, &form.csrf_token)?;
    require_recent_auth(&state, &user, "/account").await?;
    let form = form.into_inner();
    if form.new_password != form.password_confirm {
        let message = Some("The two new passwords do not match.".to_owned());
        return account_page(&req, &state, &user, StatusCode::BAD_REQUEST, message).await;
    }
    let outcome = account::change_password(
        &state,
        &user,
        form.current_password,
        form.new_password,
        &client,
    )
    .await?;
    let (status, message) = match outcome {
        PasswordChange::Changed {
            others_signed_out: 0,
        } => return Ok(see_other("/account?notice=password-changed-alone")),
        PasswordChange::Changed { .. } => return Ok(see_other("/account?notice=password-changed")),
        PasswordChange::Throttled(secs) => {
            let message = Some(throttled_message(secs));
            let mut res =
                account_page(&req, &state, &user, StatusCode::TOO_MANY_REQUESTS, message).await?;
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
    account_page(&req, &state, &user, status, Some(message.to_owned())).await
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct DeleteForm {
    csrf_token: String,
    email: String,
}

/// `POST /account/delete`: the account's own address, typed again, confirms
/// it. Revokes every session, deletes everything that is the user's.
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<DeleteForm>,
    client: ClientInfo,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    require_session_csrf(&req, &state, &user, &form.csrf_token)?;
    require_recent_auth(&state, &user, "/account").await?;
    if !form.email.trim().eq_ignore_ascii_case(&user.user.email) {
        let message = Some("To delete the account, type its email address exactly.".to_owned());
        return account_page(&req, &state, &user, StatusCode::BAD_REQUEST, message).await;
    }
    account::delete_account(&state, user.user.id, &client.ip).await?;
    session.purge();
    Ok(see_other("/?notice=account-deleted"))
}
