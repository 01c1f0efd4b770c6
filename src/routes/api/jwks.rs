//! `GET /.well-known/jwks.json`: the public keys (current and still-verifiable
//! retired ones) so other services can verify our tokens themselves.

use crate::auth::AppState;
use actix_web::{web, HttpResponse};

pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(state.keys.current().jwks())
}
