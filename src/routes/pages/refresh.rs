//! `GET /refresh`: the refresh demo page (its script is static/js/refresh-demo.js).

use super::render;
use crate::auth::extractors::CurrentUser;
use crate::error::AppError;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use askama::Template;

#[derive(Template)]
#[template(path = "refresh.html")]
struct RefreshPage {
    csrf_token: String,
    email: String,
}

pub async fn refresh(user: CurrentUser) -> Result<HttpResponse, AppError> {
    render(
        StatusCode::OK,
        &RefreshPage {
            csrf_token: user.csrf_token,
            email: user.user.email,
        },
        None,
    )
}
