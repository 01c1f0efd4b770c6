//! `AuthError`: how the policy layer fails, apart from the outcomes it
//! returns as values (a wrong password is `AuthOutcome::Failed`, not an
//! error). It says nothing about HTML or JSON: `auth::http::errors` maps it
//! to the page error or the API error, once.

use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The database cannot be reached: 503 with `Retry-After`.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Too much password hashing queued: 503, try again in a second.
    #[error("overloaded")]
    Overloaded,
    /// Input the database refuses to store (a NUL byte, invalid UTF-8): 400.
    #[error("input cannot be stored")]
    BadInput,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<DbError> for AuthError {
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            AuthError::Unavailable(e.into())
        } else if e.is_bad_input() {
            AuthError::BadInput
        } else {
            AuthError::Unexpected(e.into())
        }
    }
}

impl From<diesel::result::Error> for AuthError {
    fn from(e: diesel::result::Error) -> Self {
        DbError::from(e).into()
    }
}
