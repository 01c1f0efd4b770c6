//! `GET /`: the landing page.

use super::{page_csrf, render};
use crate::auth::extractors::MaybeUser;
use crate::error::AppError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    csrf_token: String,
    email: Option<String>,
}

pub async fn home(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: MaybeUser,
) -> Result<HttpResponse, AppError> {
    let (csrf_token, cookie) = page_csrf(&req, &state, user.0.as_ref())?;
    let page = HomePage {
        csrf_token,
        email: user.0.map(|u| u.user.email),
    };
    render(StatusCode::OK, &page, cookie)
}
