//! Secrets every instance of a deployment must share: the session-cookie
//! signing key, the anonymous-CSRF key and the refresh-token MAC key. Each is
//! taken from its environment override if set, else from `app_secrets`
//! (generated at first start). They are wrapped so `Debug` never prints them.

use crate::auth::crypto;
use crate::config::Settings;
use crate::db::app_secrets;
use crate::db::DbConn;
use secrecy::{ExposeSecret, SecretSlice};
use time::OffsetDateTime;

#[derive(Clone, Debug)]
pub struct Secrets {
    /// Signs the session cookie (64 bytes).
    pub session_cookie_key: SecretSlice<u8>,
    /// Keys the anonymous double-submit CSRF tokens.
    pub csrf_key: SecretSlice<u8>,
    /// Derives refresh-token successors.
    pub refresh_mac_key: SecretSlice<u8>,
    /// Seals second-factor secrets (TOTP) at rest and keys the pending
    /// second-step cookie (32 bytes).
    pub factor_key: SecretSlice<u8>,
}

impl Secrets {
    pub async fn load(
        conn: &mut DbConn,
        settings: &Settings,
        now: OffsetDateTime,
    ) -> anyhow::Result<Self> {
        Ok(Secrets {
            session_cookie_key: shared(
                conn,
                &settings.session_cookie_key,
                "session_cookie_key",
                64,
                now,
            )
            .await?,
            csrf_key: shared(conn, &settings.csrf_key, "csrf_key", 32, now).await?,
            refresh_mac_key: shared(conn, &settings.refresh_mac_key, "refresh_mac_key", 32, now)
                .await?,
            factor_key: shared(conn, &None, "factor_key", 32, now).await?,
        })
    }
}

/// The environment override if set, else the instance-shared secret `name`
/// (generated with `len` random bytes on first start).
async fn shared(
    conn: &mut DbConn,
    overridden: &Option<SecretSlice<u8>>,
    name: &str,
    len: usize,
    now: OffsetDateTime,
) -> anyhow::Result<SecretSlice<u8>> {
    if let Some(k) = overridden {
        return Ok(SecretSlice::from(k.expose_secret().to_vec()));
    }
    let fresh = crypto::random_vec(len)?;
    Ok(SecretSlice::from(
        app_secrets::get_or_create(conn, name, &fresh, now).await?,
    ))
}
