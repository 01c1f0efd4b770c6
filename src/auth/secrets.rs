//! Secrets every instance of a deployment must share: the session-cookie
//! signing key, the anonymous-CSRF key and the refresh-token MAC key. Each is
//! taken from its environment override if set, else from `app_secrets`
//! (generated at first start). They are wrapped so `Debug` never prints them.

use crate::auth::credentials::totp;
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
            factor_key: match &settings.factor_key {
                None => shared(conn, &None, "factor_key", 32, now).await?,
                Some(key) => {
                    reseal_under(conn, key.expose_secret()).await?;
                    SecretSlice::from(key.expose_secret().to_vec())
                }
            },
        })
    }
}

/// FACTOR_KEY is set: TOTP secrets still sealed under the key kept in the
/// database are sealed again under `key`, and the database's key is
/// deleted, so a copy of the database alone opens none of them. One
/// transaction holding the old key's row: instances starting together
/// re-seal once.
async fn reseal_under(conn: &mut DbConn, key: &[u8]) -> anyhow::Result<()> {
    use diesel_async::AsyncConnection;
    let key = key.to_vec();
    conn.transaction::<_, anyhow::Error, _>(async move |conn| {
        let Some(old) = app_secrets::find_for_update(conn, "factor_key").await? else {
            return Ok(());
        };
        let mut moved = 0usize;
        for (user_id, sealed) in crate::db::factors::all_sealed(conn).await? {
            let Some(secret) = totp::open(&old, user_id, &sealed)? else {
                continue; // already under the new key, or unreadable either way
            };
            let resealed = totp::seal(&key, user_id, &secret)?;
            crate::db::factors::set_sealed(conn, user_id, &resealed).await?;
            moved += 1;
        }
        app_secrets::delete(conn, "factor_key").await?;
        tracing::info!(
            secrets = moved,
            "TOTP secrets re-sealed under FACTOR_KEY; the database's factor key is deleted"
        );
        Ok(())
    })
    .await
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
