//! Middleware of the HTTP layer: request ids, panics as generic 500s, the
//! 503 for session-store outages, and the form-body rules.

use crate::auth::AppState;
use crate::error::{html_error, log_chain, ApiError, AppError};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, ResponseError};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request (also in the `request` span of every log
/// line written while it is handled).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// A fresh request id: a random per-process prefix and a counter. Unique and
/// cheap (no system call per request); it correlates log lines, it is not a
/// secret.
fn next_request_id() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_owned());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{n:x}")
}

/// Gives every request an id: the `X-Request-Id` a trusted proxy sent (if
/// well-formed), else a fresh one. It is echoed on the response and carried
/// by a tracing span, so every log line of the request names it.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let from_proxy = req
        .app_data::<web::Data<AppState>>()
        .and_then(|state| {
            let peer = req.peer_addr()?.ip();
            state.settings.trusted_proxies.contains(&peer).then_some(())
        })
        .and_then(|()| req.headers().get(&REQUEST_ID)?.to_str().ok())
        .filter(|v| acceptable_id(v))
        .map(str::to_owned);
    let id = from_proxy.unwrap_or_else(next_request_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id);
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let mut res = next.call(req).instrument(span.clone()).await?;
    let elapsed = started.elapsed();
    // The route pattern, never the raw path or query (they may carry tokens).
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    let status = res.status().as_u16();
    crate::metrics::observe_http(&route, status, elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            method = %method,
            route = %route,
            status,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        )
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(res)
}

/// A panic in a handler becomes a generic 500 (JSON under `/api/`, else an
/// HTML page) instead of a dropped connection, and the worker keeps serving.
pub async fn catch_panics(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // The request cannot be kept (routing needs it unshared), so the 500 is
    // attached to a stand-in request; the outer middleware only reads the
    // response.
    let api = req.path().starts_with("/api/");
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(res) => res.map(ServiceResponse::map_into_boxed_body),
        Err(_) => {
            let cause = anyhow::anyhow!("a request handler panicked");
            let res = if api {
                ApiError::Unexpected(cause).error_response()
            } else {
                AppError::Unexpected(cause).error_response()
            };
            let stand_in = actix_web::test::TestRequest::default().to_http_request();
            Ok(ServiceResponse::new(stand_in, res))
        }
    }
}

/// JSON bodies of the page scripts' endpoints (the passkey buttons): 64 KiB
/// at most (413 past it); a body that is not the expected JSON object is 400
/// `invalid_request`, as JSON like the endpoints' other answers.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(64 * 1024)
        .error_handler(|e, _req| {
            let (status, description) = match &e {
                actix_web::error::JsonPayloadError::Overflow { .. }
                | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
                    (StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
                }
                actix_web::error::JsonPayloadError::ContentType => {
                    (StatusCode::BAD_REQUEST, "the body must be application/json")
                }
                _ => (
                    StatusCode::BAD_REQUEST,
                    "the body is not the expected JSON object",
                ),
            };
            let body = serde_json::json!({
                "error": "invalid_request",
                "error_description": description,
            });
            actix_web::error::InternalError::from_response(
                e,
                actix_web::HttpResponse::build(status).json(body),
            )
            .into()
        })
}

/// Form bodies: 64 KiB at most (413 past it). A body that cannot be read is
/// 400, except on a request that carries the session cookie: there it is a
/// state change without a readable `csrf_token`, so a CSRF failure (403).
pub fn form_config(session_cookie: &'static str) -> web::FormConfig {
    web::FormConfig::default()
        .limit(64 * 1024)
        .error_handler(move |e, req| match e {
            actix_web::error::UrlencodedError::Overflow { .. } => {
                actix_web::error::InternalError::from_response(
                    e,
                    html_error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "Too large",
                        "The form was too large.",
                    ),
                )
                .into()
            }
            _ if req.cookie(session_cookie).is_some() => {
                AppError::Forbidden("no readable csrf token").into()
            }
            _ => AppError::BadRequest("The form could not be read.").into(),
        })
}

/// The session store's only failure mode is the database: answer 503 with
/// Retry-After instead of actix-session's bare 500.
pub async fn session_store_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    next.call(req).await.map_err(|e| {
        let cause = anyhow::anyhow!("{e}");
        log_chain("session store failed", cause.as_ref());
        let res = html_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "The service is temporarily unavailable. Please try again in a moment.",
        );
        actix_web::error::InternalError::from_response("session store unavailable", res).into()
    })
}
