//! Everything about who is calling: passwords, the session store, sessions
//! (the revocation unit), CSRF, throttling, extractors, and (for the API)
//! tokens, scopes and the bearer extractor.

pub mod bearer;
pub mod client;
pub mod crypto;
pub mod csrf;
pub mod email;
pub mod extractors;
pub mod keys;
pub mod login;
pub mod password;
pub mod refresh;
pub mod revocation;
pub mod scopes;
pub mod session_store;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod typed_session;
