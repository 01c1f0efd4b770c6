//! `GET /`: the landing page.

use super::{page_context, render};
use crate::auth::{AppState, MaybeUser};
use crate::error::AppError;
use crate::web::PageContext;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    page: PageContext,
    email: Option<String>,
}

pub async fn home(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: MaybeUser,
) -> Result<HttpResponse, AppError> {
    let (page, cookie) = page_context(&req, &state, user.0.as_ref())?;
    let page = HomePage {
        page,
        email: user.0.map(|u| u.user.email),
    };
    render(StatusCode::OK, &page, cookie)
}
