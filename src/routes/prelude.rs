//! One `use` line for new handlers: `use crate::routes::prelude::*;` brings
//! the extractors, the error types, the page context and the usual actix
//! and askama names.

pub use crate::auth::http::csrf::require_session_csrf;
pub use crate::auth::{AppState, Bearer, CurrentUser, MaybeUser, Scope};
pub use crate::db;
pub use crate::error::{ApiError, AppError};
pub use crate::routes::pages::{require_recent_auth, see_other};
pub use crate::web::PageContext;
pub use actix_web::{web, HttpRequest, HttpResponse};
pub use askama::Template;
pub use askama_web::WebTemplate;
