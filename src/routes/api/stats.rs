//! `GET /api/v1/stats` (scope `stats:read`): how many users and live
//! sessions there are. The example of a route behind a scope that only some
//! users get: `stats:read` is in the catalogue (`Scope::ALL`) but not in the
//! default grant, so a token carries it only for a user an operator granted
//! it to.

use crate::routes::prelude::*;

/// The body of `GET /api/v1/stats`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// Live sessions, web and API.
    live_sessions: i64,
    users: i64,
}

#[utoipa::path(
    get,
    path = "/api/v1/stats",
    tag = "stats",
    summary = "How many users and live sessions there are",
    responses((status = 200, description = "The counts.", body = Stats)),
)]
pub async fn stats(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut conn = db::conn(&state.pool).await?;
    let users = db::users::count(&mut conn).await?;
    let live_sessions = db::sessions::count_live(&mut conn, state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(Stats {
        live_sessions,
        users,
    }))
}
