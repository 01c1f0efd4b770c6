//! The verified-token cache: the claims of a verified token and the key that
//! signed it, keyed by the SHA-256 of the whole token. `AppState` holds it;
//! `access::authenticate_cached` fills and reads it.

use super::claims::Verified;
use crate::auth::bounded_cache::BoundedCache;
use std::sync::Arc;

/// Verified tokens by SHA-256 of the whole token string. Only successful
/// verifications are cached (garbage cannot fill it); an entry is used only
/// until its token's `exp` + leeway; entries of a key that leaves the ring are
/// dropped (`reload_keys`). Revocation is never cached: it is checked on every
/// request. Bounded by `TOKEN_CACHE_CAPACITY` entries (about 0.5 KiB each).
pub type TokenCache = BoundedCache<[u8; 32], Arc<Verified>>;

pub const TOKEN_CACHE_CAPACITY: usize = 20_000;
