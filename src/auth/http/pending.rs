//! A sign-in between its password and its second factor. No session row
//! exists yet: the browser holds a signed cookie (HMAC under the factor key)
//! naming the user, a fingerprint of the password hash that was verified (a
//! password change or reset meanwhile voids it), where to go next, and when
//! it expires (MFA_PENDING_TTL, 5 minutes). It proves the password only; the
//! second step still needs a right code or passkey, and it is cleared once
//! used.

use crate::auth::crypto;
use crate::auth::error::AuthError;
use crate::auth::state::AppState;
use crate::db::users::User;
use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

pub const MFA_PENDING_TTL: Duration = Duration::minutes(5);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    #[serde(rename = "u")]
    pub user_id: Uuid,
    #[serde(rename = "h")]
    hash_fingerprint: String,
    #[serde(rename = "n")]
    pub next: String,
    #[serde(rename = "e")]
    expires_at: i64,
    /// How the first step was proven: `false` a password, `true` an OpenID
    /// provider's ID token (the hash fingerprint still binds the cookie to
    /// the stored hash, which is empty for a user without a password).
    #[serde(rename = "f", default)]
    pub via_provider: bool,
}

fn fingerprint(user: &User) -> String {
    crypto::b64(&crypto::sha256(user.password_hash.as_bytes())[..16])
}

fn mac(state: &AppState, payload: &str) -> String {
    crypto::b64(&crypto::hmac_sha256(
        state.secrets.factor_key.expose_secret(),
        &[b"mfa-pending", payload.as_bytes()],
    ))
}

impl Pending {
    /// Whether this pending sign-in still stands for `user` as stored now.
    pub fn matches(&self, user: &User) -> bool {
        // A password sign-in can never stand for a user without a password.
        if !self.via_provider && user.password_hash.is_empty() {
            return false;
        }
        self.user_id == user.id
            && crypto::constant_time_eq(
                self.hash_fingerprint.as_bytes(),
                fingerprint(user).as_bytes(),
            )
    }

    /// Where the sign-in goes once complete: `next`, else the account page.
    pub fn destination(&self) -> &str {
        if self.next.is_empty() {
            "/account"
        } else {
            &self.next
        }
    }

    /// The user this pending sign-in is for, as stored now: `None` when
    /// they are gone or their password changed since it was checked.
    pub async fn user(&self, state: &AppState) -> Result<Option<User>, AuthError> {
        let mut conn = crate::db::conn(&state.pool).await?;
        let user = crate::db::users::find(&mut conn, self.user_id).await?;
        Ok(user.filter(|u| self.matches(u)))
    }

    /// The session assurance once the second step gave `second`.
    pub fn assurance(
        &self,
        second: crate::auth::sessions::Assurance,
    ) -> crate::auth::sessions::Assurance {
        if self.via_provider {
            second.after_provider()
        } else {
            second
        }
    }
}

/// The cookie that starts the second step for `user` after their password.
pub fn start(
    state: &AppState,
    user: &User,
    next: &str,
    now: OffsetDateTime,
) -> anyhow::Result<Cookie<'static>> {
    start_after(state, user, next, now, false)
}

/// The cookie that starts the second step for `user` after an OpenID
/// provider's ID token (`via_provider`) or a password.
pub fn start_after(
    state: &AppState,
    user: &User,
    next: &str,
    now: OffsetDateTime,
    via_provider: bool,
) -> anyhow::Result<Cookie<'static>> {
    let pending = Pending {
        user_id: user.id,
        hash_fingerprint: fingerprint(user),
        next: next.to_owned(),
        expires_at: (now + MFA_PENDING_TTL).unix_timestamp(),
        via_provider,
    };
    let payload = crypto::b64(&serde_json::to_vec(&pending)?);
    let value = format!("{payload}.{}", mac(state, &payload));
    Ok(Cookie::build(state.settings.pending_cookie_name(), value)
        .path("/")
        .http_only(true)
        .secure(state.settings.cookie_secure)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(MFA_PENDING_TTL.whole_seconds()))
        .finish())
}

/// The browser's pending sign-in, if its cookie is genuine and unexpired.
pub fn read(req: &HttpRequest, state: &AppState) -> Option<Pending> {
    let cookie = req.cookie(state.settings.pending_cookie_name())?;
    let value = cookie.value();
    if value.len() > 2048 {
        return None;
    }
    let (payload, tag) = value.split_once('.')?;
    if !crypto::constant_time_eq(mac(state, payload).as_bytes(), tag.as_bytes()) {
        return None;
    }
    let pending: Pending = serde_json::from_slice(&crypto::b64_decode(payload)?).ok()?;
    (state.clock.now().unix_timestamp() < pending.expires_at).then_some(pending)
}

/// `res` with the pending cookie expired (the second step done, or abandoned).
pub fn cleared(mut res: HttpResponse, state: &AppState) -> anyhow::Result<HttpResponse> {
    res.add_cookie(&clear(state))
        .map_err(|e| anyhow::anyhow!("cookie: {e}"))?;
    Ok(res)
}

/// Expires the cookie (after the second step, or to abandon it).
pub fn clear(state: &AppState) -> Cookie<'static> {
    let mut cookie = Cookie::build(state.settings.pending_cookie_name(), "")
        .path("/")
        .http_only(true)
        .secure(state.settings.cookie_secure)
        .same_site(SameSite::Lax)
        .finish();
    cookie.make_removal();
    cookie
}
