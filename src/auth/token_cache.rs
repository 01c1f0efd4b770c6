//! What the access-token cache holds: the claims of a verified token and
//! the key that signed it, keyed by the SHA-256 of the whole token. Kept apart
//! from `access_tokens` so that `AppState` can hold the cache without that
//! module and the state importing each other.

use super::bounded_cache::BoundedCache;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: Audience,
    pub sub: Uuid,
    pub sid: Uuid,
    pub jti: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub scope: String,
}

/// `aud` may be a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, wanted: &str) -> bool {
        match self {
            Audience::One(a) => a == wanted,
            Audience::Many(v) => v.iter().any(|a| a == wanted),
        }
    }
}

/// A token that passed signature and claim checks, and the key that signed it.
#[derive(Debug)]
pub struct Verified {
    pub claims: AccessClaims,
    pub kid: String,
}

/// Verified tokens by SHA-256 of the whole token string. Only successful
/// verifications are cached (garbage cannot fill it); an entry is used only
/// until its token's `exp` + leeway; entries of a key that leaves the ring are
/// dropped (`reload_keys`). Revocation is never cached: it is checked on every
/// request. Bounded by `TOKEN_CACHE_CAPACITY` entries (about 0.5 KiB each).
pub type TokenCache = BoundedCache<[u8; 32], Arc<Verified>>;

pub const TOKEN_CACHE_CAPACITY: usize = 20_000;
