//! `GET /api/v1/stats` (scope `stats:read`): how many users and live
//! sessions there are. The example of a route behind a scope that only some
//! users get: `stats:read` is in the catalogue (`Scope::ALL`) but not in the
//! default grant, so a token carries it only for a user an operator granted
//! it to.

use crate::routes::prelude::*;

pub async fn stats(state: web::Data<AppState>, auth: Bearer) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::StatsRead)?;
    let mut conn = db::conn(&state.pool).await?;
    let users = db::users::count(&mut conn).await?;
    let live_sessions = db::sessions::count_live(&mut conn, state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "users": users,
        "live_sessions": live_sessions,
    })))
}
