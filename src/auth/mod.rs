//! The policy layer: who is calling and what they may do, grouped by
//! capability. It returns domain values and `AuthError` (never an
//! `HttpResponse`), and reaches the database only through `db/`. Routes
//! import through this facade: `use crate::auth::{CurrentUser, Bearer, Scope}`.
//!
//! | folder | owns |
//! |---|---|
//! | `sessions/` | a session's life: create, touch, `revoke` (THE one revocation path), the LISTEN/NOTIFY revocation view, the signed-in page cache |
//! | `tokens/` | access tokens (mint, THE verification path, claims, verified-token cache), refresh rotation, signing keys, scopes |
//! | `credentials/` | proving who you are: password check, the bounded hashing pool, throttling |
//! | `account/` | what a user does to their own account: password change, own sessions, reset and verification links and their mails |
//! | `oidc/` | signing in through OpenID providers: discovery, the code flow with PKCE, the ID token check, identities to accounts |
//! | `http/` | everything that touches actix-web: `CurrentUser`, `Bearer`, CSRF, client IP, the session store, the typed session, error mapping |
//!
//! Loose files are shared primitives: `state.rs` (`AppState`), `error.rs`
//! (`AuthError`), `events.rs` (`AuthEvent`, `RevokeReason`), `crypto.rs`,
//! `email.rs`, `secrets.rs`, `bounded_cache.rs`.

pub mod account;
pub mod bounded_cache;
pub mod credentials;
pub mod crypto;
pub mod email;
pub mod error;
pub mod events;
pub mod http;
pub mod keys;
pub mod oidc;
pub mod secrets;
pub mod sessions;
pub mod state;
pub mod tokens;

pub use bounded_cache::BoundedCache;
pub use credentials::{authenticate, AuthOutcome};
pub use email::Email;
pub use error::AuthError;
pub use events::{AuthEvent, RevokeReason};
pub use http::{Bearer, CurrentUser, MaybeUser, TypedSession};
pub use sessions::{Assurance, ClientInfo, Kind, Target};
pub use state::AppState;
pub use tokens::{Scope, ScopeError};
