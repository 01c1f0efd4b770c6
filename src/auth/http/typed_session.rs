//! A typed view of the actix-session state, so handlers never touch raw keys.
//! A signed-in browser's state holds the `sessions.id` it belongs to and the
//! synchronizer CSRF token for its forms, while an authenticator app is
//! being set up, its secret (sealed: never in clear, not even here), and
//! after a re-authentication at an OpenID provider that still needs the
//! second factor, when the provider confirmed it.

use crate::auth::http::session_store::SID_KEY;
use actix_session::{Session, SessionExt};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use std::future::{ready, Ready};
use uuid::Uuid;

const CSRF_KEY: &str = "csrf";
const TOTP_SETUP_KEY: &str = "totp_setup";
const PROVIDER_REAUTH_KEY: &str = "provider_reauth";

pub struct TypedSession(Session);

impl TypedSession {
    /// The `sessions.id` this cookie is bound to, if any.
    pub fn session_id(&self) -> Option<Uuid> {
        self.0.get::<Uuid>(SID_KEY).ok().flatten()
    }

    pub fn csrf_token(&self) -> Option<String> {
        self.0.get::<String>(CSRF_KEY).ok().flatten()
    }

    /// Binds this browser to a fresh session row under a NEW cookie key
    /// (no fixation: whatever key the browser had before is discarded).
    pub fn log_in(&self, session_id: Uuid, csrf_token: &str) -> anyhow::Result<()> {
        self.0.renew();
        self.0.clear();
        self.0.insert(SID_KEY, session_id)?;
        self.0.insert(CSRF_KEY, csrf_token)?;
        Ok(())
    }

    /// Moves this browser's state to a NEW cookie key, keeping what it holds:
    /// every change of the session's assurance (re-authentication, a new
    /// factor) gets a new cookie value, and the old one stops working.
    pub fn renew_key(&self) {
        self.0.renew();
    }

    /// The sealed TOTP secret being set up, if any.
    pub fn totp_setup(&self) -> Option<Vec<u8>> {
        let text = self.0.get::<String>(TOTP_SETUP_KEY).ok().flatten()?;
        crate::auth::crypto::b64_decode(&text)
    }

    pub fn set_totp_setup(&self, sealed: &[u8]) -> anyhow::Result<()> {
        self.0
            .insert(TOTP_SETUP_KEY, crate::auth::crypto::b64(sealed))?;
        Ok(())
    }

    pub fn clear_totp_setup(&self) {
        self.0.remove(TOTP_SETUP_KEY);
    }

    /// When (unix seconds) an OpenID provider re-authenticated this
    /// session's user, if the second factor is still to come.
    pub fn provider_reauth(&self) -> Option<i64> {
        self.0.get::<i64>(PROVIDER_REAUTH_KEY).ok().flatten()
    }

    pub fn set_provider_reauth(&self, at: i64) -> anyhow::Result<()> {
        self.0.insert(PROVIDER_REAUTH_KEY, at)?;
        Ok(())
    }

    pub fn clear_provider_reauth(&self) {
        self.0.remove(PROVIDER_REAUTH_KEY);
    }

    /// Forgets the state server-side and expires the cookie.
    pub fn purge(&self) {
        self.0.purge();
    }
}

impl FromRequest for TypedSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(TypedSession(req.get_session())))
    }
}
