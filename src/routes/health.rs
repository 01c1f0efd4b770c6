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

/// Prometheus text metrics (served on METRICS_BIND_ADDR only).
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let view = &state.revocations;
    let gauges = [
        (
            concat!(env!("METRICS_PREFIX"), "_revocation_view_fresh"),
            "1 while the revocation view vouches (listener up, heartbeat echoed), else 0.",
            if view.is_fresh() { 1.0 } else { 0.0 },
        ),
        (
            concat!(env!("METRICS_PREFIX"), "_revocation_view_size"),
            "Session ids in the revocation view.",
            view.len() as f64,
        ),
        (
            concat!(env!("METRICS_PREFIX"), "_revocation_db_checks"),
            "Revocation checks that had to ask the database (view stale), since start.",
            view.db_checks() as f64,
        ),
        (
            concat!(env!("METRICS_PREFIX"), "_token_cache_entries"),
            "Verified access tokens in the in-process cache.",
            state.token_cache.len() as f64,
        ),
        (
            concat!(env!("METRICS_PREFIX"), "_password_hash_slots_free"),
            "Password hashing slots free right now.",
            state.hasher.available() as f64,
        ),
    ];
    HttpResponse::Ok()
        .insert_header(("Content-Type", "text/plain; version=0.0.4; charset=utf-8"))
        .body(crate::metrics::render(&gauges))
}
