//! The policy layer: who is calling and what they may do. It returns domain
//! values and errors (never an `HttpResponse`), and reaches the database only
//! through `db/`. Where to look:
//!
//! | question | file |
//! |---|---|
//! | where is a password checked, a browser signed in? | `login.rs`, `password.rs`, `throttle.rs` |
//! | where does a session start, end, get revoked? | `sessions.rs` (`revoke`: the one revocation path) |
//! | how do other instances learn of a revocation? | `revocation.rs` (LISTEN/NOTIFY view) |
//! | where is an access token minted or verified? | `access_tokens.rs`, keys in `signing_keys.rs` |
//! | how do refresh tokens rotate? | `refresh_tokens.rs` |
//! | how does a handler require a signed-in user? | `current_user.rs` (`CurrentUser`, pages) and `bearer.rs` (`Bearer`, API) |
//! | scopes | `scopes.rs` (`Scope`) |
//! | CSRF, cookies | `csrf.rs`, `typed_session.rs`, `session_store.rs` |
//! | password change, revoking own sessions | `account.rs` |

pub mod access_tokens;
pub mod account;
pub mod bearer;
pub mod bounded_cache;
pub mod client;
pub mod crypto;
pub mod csrf;
pub mod current_user;
pub mod email;
pub mod links;
pub mod login;
pub mod mail;
pub mod password;
pub mod refresh_tokens;
pub mod revocation;
pub mod scopes;
pub mod secrets;
pub mod session_cache;
pub mod session_store;
pub mod sessions;
pub mod signing_keys;
pub mod state;
pub mod throttle;
pub mod token_cache;
pub mod typed_session;

pub use state::AppState;
