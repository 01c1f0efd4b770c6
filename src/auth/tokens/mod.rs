//! Tokens: access JWTs (`access`: minting and THE verification path, with
//! their `claims` and the verified-token `cache`), refresh tokens and their
//! rotation (`refresh`), the Ed25519 signing keys (`keys`) and the scopes a
//! token may carry (`scopes`).

pub mod access;
pub mod cache;
pub mod claims;
pub mod keys;
pub mod refresh;
pub mod scopes;

pub use access::{authenticate, mint_for_session, Minted, Rejected};
pub use claims::{AccessClaims, Verified};
pub use refresh::Rotation;
pub use scopes::{Scope, ScopeError};
