//! Signing in through OpenID providers ("Continue with …"): the providers
//! and what discovery taught about them (`provider`), the code flow with
//! PKCE (`flow`), the ID token check (`id_token`), and from an identity to
//! an account (`accounts`).

pub mod accounts;
pub mod flow;
pub mod id_token;
pub mod provider;

pub use accounts::{Linked, Outcome, Unlinked};
pub use flow::{Callback, FlowError, Purpose};
pub use provider::{Provider, Providers};
