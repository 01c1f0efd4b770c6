//! `AppState`: what every request may read, built once by `startup` and
//! handed to handlers as `web::Data<AppState>`. It holds data and handles,
//! not behaviour: the functions that act on it live in the `auth` modules.

use crate::auth::credentials::password::Hasher;
use crate::auth::secrets::Secrets;
use crate::auth::sessions::cache::SessionCache;
use crate::auth::sessions::revocation::RevocationView;
use crate::auth::tokens::cache::TokenCache;
use crate::auth::tokens::keys::Keys;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::PgPool;
use crate::mail::Mailer;
use std::sync::Arc;

pub struct AppState {
    pub settings: Settings,
    pub pool: PgPool,
    /// The app's notion of now (tests move it instead of sleeping).
    pub clock: Clock,
    /// Shared secrets (cookie, CSRF and refresh keys); `Debug` redacts them.
    pub secrets: Secrets,
    /// Signing and verification keys (reloadable).
    pub keys: Keys,
    /// Recently revoked sessions, kept current by LISTEN/NOTIFY.
    pub revocations: RevocationView,
    /// Verified access tokens (signature and claims; never revocation).
    pub token_cache: TokenCache,
    /// API keys this instance has read (never their revocation: the view's).
    pub key_cache: crate::auth::keys::api_keys::KeyCache,
    /// Resolved web sessions and their cookie state (checked against
    /// `revocations` at every hit).
    pub session_cache: Arc<SessionCache>,
    /// The bounded place where password hashes run.
    pub hasher: Hasher,
    /// Delivers queued mail (SMTP or the outbox directory).
    pub mailer: Arc<Mailer>,
    /// The WebAuthn relying party (PUBLIC_URL), for passkeys; `None` when
    /// PUBLIC_URL's host cannot be an RP ID (an IP address): passkeys off.
    pub webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    /// The OpenID providers of OIDC_PROVIDERS and their discovered metadata.
    pub oidc: Arc<crate::auth::oidc::Providers>,
}
