//! The JSON API: bearer tokens only (never the session cookie), RFC 6749 /
//! RFC 6750 errors. Add your own resources next to `notes.rs`.

pub mod api_keys;
pub mod jwks;
pub mod me;
pub mod notes;
pub mod openapi;
pub mod params;
pub mod responses;
pub mod revoke;
pub mod stats;
pub mod tokens;

use crate::error::ApiError;

/// JSON 404 for unknown API paths.
pub async fn not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
