//! `GET /logout` (a confirmation page) and `POST /logout` (revokes the
//! session: cookie state, access tokens, everything derived from it).

use super::{page_csrf, render, require_session_csrf, see_other};
use crate::auth::client::ClientInfo;
use crate::auth::extractors::MaybeUser;
use crate::auth::sessions::Target;
use crate::auth::typed_session::TypedSession;
use crate::db;
use crate::error::AppError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage {
    csrf_token: String,
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
    let (csrf_token, cookie) = page_csrf(&req, &state, user.0.as_ref())?;
    render(
        StatusCode::OK,
        &LogoutPage {
            csrf_token,
            signed_in: user.0.is_some(),
        },
        cookie,
    )
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
    state
        .revoke(
            &mut conn,
            Target::One(user.session.id),
            "logout",
            &client.ip,
        )
        .await?;
    session.purge();
    Ok(see_other("/login"))
}
