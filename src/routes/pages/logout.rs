//! `GET /logout` (a confirmation page) and `POST /logout` (revokes the
//! session: cookie state, access tokens, everything derived from it).

use super::{page_context, render, see_other};
use crate::auth::http::csrf::require_session_csrf;
use crate::auth::{sessions, AppState, ClientInfo, MaybeUser, RevokeReason, Target, TypedSession};
use crate::db;
use crate::error::AppError;
use crate::web::PageContext;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage {
    page: PageContext,
    signed_in: bool,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct LogoutForm {
    csrf_token: String,
}

pub async fn logout_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: MaybeUser,
) -> Result<HttpResponse, AppError> {
    let (page, cookie) = page_context(&req, &state, user.0.as_ref())?;
    let signed_in = user.0.is_some();
    render(StatusCode::OK, &LogoutPage { page, signed_in }, cookie)
}

pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: MaybeUser,
    form: web::Form<LogoutForm>,
    client: ClientInfo,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    let Some(user) = user.0 else {
        // Nothing to end; still drop whatever cookie state there is.
        session.purge();
        return Ok(see_other("/login"));
    };
    require_session_csrf(&req, &state, &user, &form.csrf_token)?;
    let mut conn = db::conn(&state.pool).await?;
    let target = Target::One(user.session.id);
    sessions::revoke(&state, &mut conn, target, RevokeReason::Logout, &client.ip).await?;
    session.purge();
    Ok(see_other("/login?notice=signed-out"))
}
