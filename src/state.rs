//! Shared application state, handed to handlers as `web::Data<AppState>`.

use crate::auth::keys::Keys;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::PgPool;

pub struct AppState {
    pub settings: Settings,
    pub pool: PgPool,
    pub clock: Clock,
    /// HMAC key for anonymous (double-submit) CSRF tokens.
    pub csrf_key: Vec<u8>,
    /// HMAC key deriving refresh-token successors.
    pub refresh_key: Vec<u8>,
    /// Signing and verification keys (reloadable).
    pub keys: Keys,
}
