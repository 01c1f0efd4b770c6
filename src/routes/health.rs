//! `/healthz` (liveness, no I/O) and `/readyz` (database reachable).

use crate::auth::AppState;
use crate::db;
use crate::error::RETRY_AFTER_SECS;
use actix_web::{web, HttpResponse};

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match db::ping(&state.pool).await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .insert_header(("Retry-After", RETRY_AFTER_SECS.to_string()))
                .json(serde_json::json!({ "status": "unavailable" }))
        }
    }
}
