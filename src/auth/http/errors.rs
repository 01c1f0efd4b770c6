//! The one place a policy-layer `AuthError` becomes an HTTP error: the page
//! error (`AppError`, HTML) or the API error (`ApiError`, JSON). Exhaustive,
//! so a new kind of failure must say how each audience sees it.

use crate::auth::error::AuthError;
use crate::error::{ApiError, AppError};

const UNSTORABLE: &str = "The request contained characters that cannot be stored.";

impl From<AuthError> for AppError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unavailable(e) => AppError::Unavailable(e),
            AuthError::Overloaded => AppError::Overloaded,
            AuthError::BadInput => AppError::BadRequest(UNSTORABLE),
            AuthError::Unexpected(e) => AppError::Unexpected(e),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unavailable(e) => ApiError::Unavailable(e),
            AuthError::Overloaded => ApiError::Overloaded,
            AuthError::BadInput => ApiError::invalid_request(UNSTORABLE),
            AuthError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}
