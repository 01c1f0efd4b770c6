//! Requiring login is a handler parameter.
//!
//! * `CurrentUser`: pages. Without a live web session the request is answered
//!   with 303 to `/login?next=<path+query>`.
//! * `MaybeUser`: pages that render for everyone but differ when signed in.
//!
//! A cookie whose session row is revoked, idle-expired or past its absolute
//! expiry is anonymous, and its state is purged. The API's `Bearer` extractor
//! lives in `auth::http::bearer`.

use crate::auth::http::typed_session::TypedSession;
use crate::auth::sessions::{touch, touch_due, Kind};
use crate::auth::state::AppState;
use crate::db;
use crate::db::sessions::{self as rows, SessionRow};
use crate::db::users::User;
use crate::error::AppError;
use crate::web::{path_and_query, PageContext};
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use std::future::Future;
use std::pin::Pin;

/// The signed-in user of a page request. `Debug` leaves the CSRF token out.
#[derive(Clone)]
pub struct CurrentUser {
    pub user: User,
    pub session: SessionRow,
    /// Synchronizer token for this session's forms.
    pub csrf_token: String,
}

impl std::fmt::Debug for CurrentUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentUser")
            .field("user", &self.user)
            .field("session", &self.session.id)
            .field("csrf_token", &"[REDACTED]")
            .finish()
    }
}

impl CurrentUser {
    /// The base template's context for a page shown to this user.
    pub fn page(&self) -> PageContext {
        PageContext {
            csrf_token: self.csrf_token.clone(),
            signed_in_as: Some(self.user.email.clone()),
            notice: None,
        }
    }
}

/// Resolved once per request and cached in its extensions.
#[derive(Clone)]
struct Resolved(Option<CurrentUser>);

pub async fn resolve(req: &HttpRequest) -> Result<Option<CurrentUser>, AppError> {
    resolve_with(req, true).await
}

/// Like `resolve`; with `purge_dead` false a dead cookie's state is left for
/// the handler (login renews the key, and a purged session could not be
/// logged into in the same response).
pub async fn resolve_with(
    req: &HttpRequest,
    purge_dead: bool,
) -> Result<Option<CurrentUser>, AppError> {
    if let Some(Resolved(found)) = req.extensions().get::<Resolved>() {
        return Ok(found.clone());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| anyhow::anyhow!("AppState missing"))?;
    let typed = TypedSession::extract(req).await?;
    let found = match typed.session_id() {
        None => None,
        Some(sid) => match live_web_session(state, sid).await? {
            Some((session, user)) => Some(CurrentUser {
                user,
                session,
                csrf_token: typed.csrf_token().unwrap_or_default(),
            }),
            None => {
                if purge_dead {
                    typed.purge();
                }
                None
            }
        },
    };
    req.extensions_mut().insert(Resolved(found.clone()));
    Ok(found)
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match resolve(&req).await? {
                Some(user) => Ok(user),
                None => {
                    let next = if req.method() == actix_web::http::Method::GET {
                        path_and_query(&req)
                    } else {
                        "/account".to_owned()
                    };
                    Err(AppError::LoginRequired { next })
                }
            }
        })
    }
}

pub struct MaybeUser(pub Option<CurrentUser>);

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(MaybeUser(resolve(&req).await?)) })
    }
}

/// The live web session `sid` and its user: from the session cache when it
/// can vouch (no database round trip), else from the database. Moves
/// last-seen when due (the only write, throttled by `sessions::touch_due`).
async fn live_web_session(
    state: &AppState,
    sid: uuid::Uuid,
) -> Result<Option<(SessionRow, User)>, AppError> {
    let now = state.clock.now();
    let cached = state
        .session_cache
        .session(sid, now)
        .map(|c| (c.session.clone(), c.user.clone()));
    let from_cache = cached.is_some();
    let (mut session, user) = match cached {
        Some(found) => found,
        None => {
            let mut conn = db::conn(&state.pool).await?;
            match rows::find_with_user(&mut conn, sid).await? {
                Some((session, user))
                    if session.kind == Kind::Web.as_str() && session.is_live(now) =>
                {
                    (session, user)
                }
                _ => return Ok(None),
            }
        }
    };
    let touched = touch_due(&state.settings, &session, now);
    if touched {
        let mut conn = db::conn(&state.pool).await?;
        touch(&state.settings, &mut conn, &mut session, now).await?;
    }
    if touched || !from_cache {
        state
            .session_cache
            .put_session(session.clone(), user.clone());
    }
    Ok(Some((session, user)))
}
