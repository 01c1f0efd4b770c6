//! The actix-web side of auth: the only part of `auth/` that knows about
//! requests and responses. Extractors (`CurrentUser` and `MaybeUser` for
//! pages, `Bearer` for the API, `ClientInfo`, `TypedSession`), CSRF and
//! origin checks, the Postgres `SessionStore`, binding a browser to a new
//! session (`sign_in`), the outbound HTTP client (`outbound`), and the one mapping of `AuthError` to HTML or JSON
//! errors (`errors`).

pub mod bearer;
pub mod client;
pub mod csrf;
pub mod current_user;
mod errors;
pub mod outbound;
pub mod pending;
pub mod session_store;
pub mod sign_in;
pub mod typed_session;

pub use bearer::Bearer;
pub use current_user::{CurrentUser, MaybeUser};
pub use session_store::PgSessionStore;
pub use sign_in::start_web_session;
pub use typed_session::TypedSession;
