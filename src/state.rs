//! Shared application state, handed to handlers as `web::Data<AppState>`.

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::PgPool;

pub struct AppState {
    pub settings: Settings,
    pub pool: PgPool,
    pub clock: Clock,
    /// HMAC key for anonymous (double-submit) CSRF tokens.
    pub csrf_key: Vec<u8>,
}
