//! One error type per audience, one mapping each. `AppError` is the error of
//! the HTML side (pages and the actix-web adapters in `auth::http`) and
//! renders an HTML page; `ApiError` renders the JSON bodies of RFC 6749 §5.2 /
//! RFC 6750 §3. Both log the whole cause chain of unexpected failures and show
//! a generic message; both turn a database outage into 503 with `Retry-After`.
//! This module imports nothing above `db/` (see docs/architecture.md).

use crate::db::DbError;
use crate::web::PageContext;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

/// Seconds a client should wait before retrying while Postgres is away.
pub const RETRY_AFTER_SECS: u64 = 5;
/// Seconds a client should wait when the password hashing queue is full.
pub const OVERLOADED_RETRY_AFTER_SECS: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Too much work queued (password hashing): 503, try again in a second.
    #[error("overloaded")]
    Overloaded,
    /// Too many attempts from this client: 429 with Retry-After (seconds).
    #[error("too many attempts")]
    Throttled(u64),
    #[error("page not found")]
    NotFound,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// A protected page without a live session: 303 to the login page.
    #[error("login required")]
    LoginRequired { next: String },
    /// A sensitive action on a session whose last authentication is too old
    /// (or too weak): 303 to the re-authentication page, nothing done.
    #[error("re-authentication required")]
    ReauthRequired { next: String },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            AppError::Unavailable(e.into())
        } else if e.is_bad_input() {
            AppError::BadRequest("The request contained characters that cannot be stored.")
        } else {
            AppError::Unexpected(e.into())
        }
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        DbError::from(e).into()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
    page: PageContext,
}

pub fn log_chain(context: &str, e: &(dyn std::error::Error + 'static)) {
    let mut chain = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    tracing::error!(error = %chain, "{context}");
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Unavailable(_) | AppError::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::LoginRequired { .. } | AppError::ReauthRequired { .. } => {
                StatusCode::SEE_OTHER
            }
            AppError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (title, message) = match self {
            AppError::LoginRequired { next } | AppError::ReauthRequired { next } => {
                let page = match self {
                    AppError::ReauthRequired { .. } => "/account/reauth",
                    _ => "/login",
                };
                let location = format!("{page}?next={}", crate::web::encode_query(next));
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, location))
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .finish();
            }
            AppError::Unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable");
                (
                    "Temporarily unavailable",
                    "The service is temporarily unavailable. Please try again in a moment.",
                )
            }
            AppError::Overloaded => {
                let mut res = html_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Busy",
                    "Too many sign-ins at once. Please try again in a moment.",
                );
                res.headers_mut().insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(OVERLOADED_RETRY_AFTER_SECS),
                );
                return res;
            }
            AppError::Throttled(secs) => {
                let mut res = html_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many attempts",
                    "Too many attempts from this network. Please wait a minute and try again.",
                );
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*secs));
                return res;
            }
            AppError::NotFound => ("Not found", "There is nothing here."),
            AppError::Forbidden(_) => (
                "Forbidden",
                "This request was refused. Reload the page and try again.",
            ),
            AppError::BadRequest(m) => ("Bad request", *m),
            AppError::Unexpected(e) => {
                log_chain("unexpected error", e.as_ref());
                ("Something went wrong", "Something went wrong on our side.")
            }
        };
        html_error(self.status_code(), title, message)
    }
}

/// An HTML error page with the given status (also used for 404 and 503 from
/// middleware). Without a page context its navigation suits visitors and
/// signed-in users alike.
pub fn html_error(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    html_error_for(status, title, message, PageContext::default())
}

/// `html_error` with the navigation of whoever is asking.
pub fn html_error_for(
    status: StatusCode,
    title: &str,
    message: &str,
    page: PageContext,
) -> HttpResponse {
    let body = ErrorPage {
        title,
        message,
        page,
    }
    .render()
    .unwrap_or_else(|_| message.to_owned());
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_SECURITY_POLICY, crate::web::CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.insert_header((header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS)));
    }
    res.body(body)
}

/// Errors of the JSON API and the token endpoints.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// RFC 6749 §5.2 token-endpoint error (400).
    #[error("{code}: {description}")]
    OAuth {
        code: &'static str,
        description: String,
    },
    /// No credentials at all: 401 with a bare `Bearer` challenge.
    #[error("missing bearer token")]
    NoToken,
    /// Malformed Authorization header: 400 `invalid_request`.
    #[error("malformed bearer header: {0}")]
    BadHeader(&'static str),
    /// 401 `invalid_token`.
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    /// 403 `insufficient_scope`.
    #[error("insufficient scope, needs {0}")]
    InsufficientScope(&'static str),
    /// 401 `insufficient_user_authentication` (RFC 9470): the token's
    /// authentication is older than `max_age` seconds (or, with `acr`, of a
    /// lower level than `acr`).
    #[error("insufficient user authentication")]
    InsufficientUserAuthentication {
        max_age: i64,
        acr: Option<&'static str>,
    },
    /// 400 `invalid_request` for bad JSON API input.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// 401 `invalid_client` (RFC 6749 §5.2) with a `Basic` challenge: the
    /// client credentials of the token endpoint did not authenticate.
    #[error("invalid client")]
    InvalidClient,
    /// 401 `login_required` from `POST /auth/token`.
    #[error("login required")]
    LoginRequired,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("not found")]
    NotFound,
    #[error("payload too large")]
    TooLarge,
    /// 429 with `Retry-After`.
    #[error("too many attempts")]
    Throttled { retry_after: u64 },
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// 503: too much password hashing queued.
    #[error("overloaded")]
    Overloaded,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl ApiError {
    pub fn oauth(code: &'static str, description: impl Into<String>) -> Self {
        ApiError::OAuth {
            code,
            description: description.into(),
        }
    }
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::oauth("invalid_request", description)
    }
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::oauth("invalid_grant", description)
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            ApiError::Unavailable(e.into())
        } else if e.is_bad_input() {
            ApiError::invalid_request("the request contained characters that cannot be stored")
        } else {
            ApiError::Unexpected(e.into())
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Unavailable(e) => ApiError::Unavailable(e),
            AppError::Overloaded => ApiError::Overloaded,
            AppError::BadRequest(d) => ApiError::invalid_request(d),
            AppError::Unexpected(e) => ApiError::Unexpected(e),
            AppError::NotFound => ApiError::NotFound,
            AppError::Forbidden(d) => ApiError::Forbidden(d),
            AppError::LoginRequired { .. } => ApiError::LoginRequired,
            AppError::ReauthRequired { .. } => ApiError::LoginRequired,
            AppError::Throttled(secs) => ApiError::Throttled { retry_after: secs },
        }
    }
}

impl From<actix_web::Error> for AppError {
    fn from(e: actix_web::Error) -> Self {
        AppError::Unexpected(anyhow::anyhow!("{e}"))
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        DbError::from(e).into()
    }
}

/// The `realm` of every `WWW-Authenticate: Bearer` challenge: APP_NAME.
pub fn realm() -> &'static str {
    crate::web::app_name()
}

/// The JSON body of every API error: RFC 6749 §5.2 on the token endpoints,
/// RFC 6750 §3 for bearer requests (which also answer `WWW-Authenticate`).
/// The one type that `ApiError` renders and the API description shows.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error code: `invalid_request`, `invalid_grant`, `invalid_scope`,
    /// `unsupported_grant_type`, `mfa_required`, `unauthorized`, `invalid_token`,
    /// `insufficient_scope`, `insufficient_user_authentication`, `invalid_client`,
    /// `login_required`, `forbidden`, `not_found`, `too_many_attempts`,
    /// `temporarily_unavailable` or `server_error`.
    #[schema(example = "invalid_request")]
    pub error: &'static str,
    /// Human-readable text for the developer (never shown to end users as is).
    #[schema(example = "missing parameter `grant_type`")]
    pub error_description: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::OAuth { .. } | ApiError::BadHeader(_) | ApiError::InvalidRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::NoToken
            | ApiError::InvalidToken(_)
            | ApiError::InvalidClient
            | ApiError::LoginRequired
            | ApiError::InsufficientUserAuthentication { .. } => StatusCode::UNAUTHORIZED,
            ApiError::InsufficientScope(_) | ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (code, description): (&'static str, String) = match self {
            ApiError::OAuth { code, description } => (*code, description.clone()),
            ApiError::NoToken => ("unauthorized", "a bearer access token is required".into()),
            ApiError::BadHeader(d) => ("invalid_request", (*d).into()),
            ApiError::InvalidClient => ("invalid_client", "client authentication failed".into()),
            ApiError::InvalidToken(d) => ("invalid_token", (*d).into()),
            ApiError::InsufficientScope(s) => (
                "insufficient_scope",
                format!("this request needs the scope {s}"),
            ),
            ApiError::InsufficientUserAuthentication { .. } => (
                "insufficient_user_authentication",
                "a more recent authentication is required; sign in again".into(),
            ),
            ApiError::InvalidRequest(d) => ("invalid_request", d.clone()),
            ApiError::LoginRequired => ("login_required", "no live session; sign in again".into()),
            ApiError::Forbidden(d) => ("forbidden", (*d).into()),
            ApiError::NotFound => ("not_found", "no such resource".into()),
            ApiError::TooLarge => ("invalid_request", "request body too large".into()),
            ApiError::Throttled { .. } => (
                "too_many_attempts",
                "too many failed attempts; try again later".into(),
            ),
            ApiError::Unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable");
                (
                    "temporarily_unavailable",
                    "the service is temporarily unavailable".into(),
                )
            }
            ApiError::Overloaded => (
                "temporarily_unavailable",
                "too many sign-ins at once; try again in a moment".into(),
            ),
            ApiError::Unexpected(e) => {
                log_chain("unexpected error", e.as_ref());
                ("server_error", "something went wrong on our side".into())
            }
        };
        let mut res = HttpResponse::build(status);
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        let realm = realm();
        match self {
            ApiError::InvalidClient => {
                res.insert_header((header::WWW_AUTHENTICATE, format!("Basic realm=\"{realm}\"")));
            }
            ApiError::NoToken => {
                res.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!("Bearer realm=\"{realm}\""),
                ));
            }
            ApiError::BadHeader(d) => {
                res.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!("Bearer realm=\"{realm}\", error=\"invalid_request\", error_description=\"{d}\""),
                ));
            }
            ApiError::InvalidToken(d) => {
                res.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!("Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"{d}\""),
                ));
            }
            ApiError::InsufficientScope(s) => {
                res.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!(
                        "Bearer realm=\"{realm}\", error=\"insufficient_scope\", scope=\"{s}\""
                    ),
                ));
            }
            ApiError::InsufficientUserAuthentication { max_age, acr } => {
                let acr = acr
                    .map(|a| format!(", acr_values=\"{a}\""))
                    .unwrap_or_default();
                res.insert_header((
                    header::WWW_AUTHENTICATE,
                    format!(
                        "Bearer realm=\"{realm}\", error=\"insufficient_user_authentication\", \
                         error_description=\"{description}\", max_age=\"{max_age}\"{acr}"
                    ),
                ));
            }
            ApiError::Throttled { retry_after } => {
                res.insert_header((header::RETRY_AFTER, HeaderValue::from(*retry_after)));
            }
            ApiError::Unavailable(_) => {
                res.insert_header((header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS)));
            }
            ApiError::Overloaded => {
                res.insert_header((
                    header::RETRY_AFTER,
                    HeaderValue::from(OVERLOADED_RETRY_AFTER_SECS),
                ));
            }
            _ => {}
        }
        res.json(ErrorBody {
            error: code,
            error_description: description,
        })
    }
}
