//! Service accounts: callers that are not people, authenticated with OAuth
//! 2.0 client credentials (RFC 6749 §4.4). The operator manages them with the
//! CLI; a secret is shown once and only its SHA-256 is kept; a client may
//! hold two secrets while one replaces the other (`rotate_secret`, then
//! `retire_old_secrets`).
//!
//! A client's access tokens carry `sub` = the client id and `sid` = the
//! client's revocation unit. Disabling the client retires that unit in the
//! same transaction that announces it (NOTIFY, like a revoked session), so
//! every instance refuses its tokens at once; enabling it starts a new unit,
//! and the tokens of before stay refused.

use crate::auth::credentials::throttle;
use crate::auth::crypto;
use crate::auth::state::AppState;
use crate::auth::tokens::access::{self, Minted, SessionFacts};
use crate::auth::tokens::scopes::{self, Scope, ScopeError};
use crate::auth::AuthError;
use crate::db;
use crate::db::service_clients::{self as rows, ServiceClient};
use crate::db::{sessions, DbConn};
use diesel::QueryResult;
use diesel_async::AsyncConnection;
use time::OffsetDateTime;
use uuid::Uuid;

/// A new secret (256 random bits, base62) and its hash.
fn new_secret() -> anyhow::Result<(String, Vec<u8>)> {
    let secret = crypto::random_base62(43)?;
    let hash = crypto::sha256(secret.as_bytes());
    Ok((secret, hash))
}

/// A client just made: the only time its secret is seen.
pub struct Created {
    pub client_id: Uuid,
    pub secret: String,
}

/// Creates a client with `scopes` (its grant; a token may narrow it).
pub async fn create(
    conn: &mut DbConn,
    name: &str,
    scopes: &[Scope],
    now: OffsetDateTime,
) -> anyhow::Result<Created> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        anyhow::bail!("--name: 1 to 64 characters, no control characters");
    }
    let client = ServiceClient {
        id: Uuid::new_v4(),
        name: name.to_owned(),
        scopes: scopes::with("", scopes),
        unit_id: Uuid::new_v4(),
        disabled_at: None,
        created_at: now,
    };
    let (secret, hash) = new_secret()?;
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        rows::insert(conn, &client).await?;
        rows::add_secret(conn, client.id, &hash, now).await
    })
    .await?;
    Ok(Created {
        client_id: client.id,
        secret,
    })
}

/// Adds a second secret (both work until `retire_old_secrets`).
pub async fn rotate_secret(
    conn: &mut DbConn,
    id: Uuid,
    now: OffsetDateTime,
) -> anyhow::Result<Option<String>> {
    if rows::find(conn, id).await?.is_none() {
        return Ok(None);
    }
    let (secret, hash) = new_secret()?;
    rows::add_secret(conn, id, &hash, now).await?;
    Ok(Some(secret))
}

/// Keeps only the newest secret; how many were retired (`None`: no client).
pub async fn retire_old_secrets(conn: &mut DbConn, id: Uuid) -> QueryResult<Option<usize>> {
    if rows::find(conn, id).await?.is_none() {
        return Ok(None);
    }
    Ok(Some(rows::retire_older_secrets(conn, id).await?))
}

/// Disables the client: its unit is retired and announced to every
/// instance in one transaction. `false` for an unknown client; disabling a
/// disabled one changes nothing.
pub async fn disable(conn: &mut DbConn, id: Uuid, now: OffsetDateTime) -> QueryResult<bool> {
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        let Some(client) = rows::find_for_update(conn, id).await? else {
            return Ok(false);
        };
        if client.disabled_at.is_none() {
            rows::retire_unit(conn, client.unit_id, now).await?;
            rows::set_state(conn, id, Some(now), client.unit_id).await?;
            sessions::notify_revoked(conn, client.unit_id).await?;
        }
        Ok(true)
    })
    .await
}

/// Enables the client again, with a new unit (its old tokens stay refused).
pub async fn enable(conn: &mut DbConn, id: Uuid) -> QueryResult<bool> {
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        let Some(client) = rows::find_for_update(conn, id).await? else {
            return Ok(false);
        };
        if client.disabled_at.is_some() {
            rows::set_state(conn, id, None, Uuid::new_v4()).await?;
        }
        Ok(true)
    })
    .await
}

/// The enabled client whose id and secret these are (`None` for a wrong
/// secret, an unknown or disabled client, or an id that is no UUID).
pub async fn authenticate(
    conn: &mut DbConn,
    client_id: &str,
    secret: &str,
) -> QueryResult<Option<ServiceClient>> {
    let Ok(id) = Uuid::try_parse(client_id) else {
        return Ok(None);
    };
    let hash = crypto::sha256(secret.as_bytes());
    Ok(rows::find_by_secret(conn, id, &hash)
        .await?
        .filter(|c| c.disabled_at.is_none()))
}

/// What the client-credentials grant comes to.
pub enum Grant {
    /// An access token (no refresh token) and its scope.
    Issued(Minted, String),
    /// Wrong or unknown credentials, or a disabled client.
    InvalidClient,
    /// Too many failures for this client or address: retry after this many
    /// seconds.
    Throttled(u64),
    BadScope(ScopeError),
}

/// `grant_type=client_credentials`: the client's id and secret, throttled
/// like sign-ins (per client id and per address), then an access token with
/// `sub` = the client id, `sid` = its unit, claim `client_id`, no `amr`.
pub async fn grant(
    state: &AppState,
    client_id: &str,
    secret: &str,
    scope: Option<&str>,
    ip: &str,
) -> Result<Grant, AuthError> {
    let now = state.clock.now();
    let throttle_key = format!("client:{}", client_id.trim().to_ascii_lowercase());
    let mut conn = db::conn(&state.pool).await?;
    let attempt = match throttle::begin_attempt(
        &mut conn,
        state.settings.login_max_failures,
        &throttle_key,
        ip,
        now,
    )
    .await?
    {
        Ok(attempt) => attempt,
        Err(secs) => return Ok(Grant::Throttled(secs)),
    };
    let Some(client) = authenticate(&mut conn, client_id, secret).await? else {
        // The attempt stays counted: a failure.
        return Ok(Grant::InvalidClient);
    };
    throttle::succeed(&mut conn, &throttle_key, attempt).await?;
    drop(conn);
    let scope = match scopes::narrow(scope, &client.scopes) {
        Ok(s) => s,
        Err(e) => return Ok(Grant::BadScope(e)),
    };
    let minted = access::mint(
        &state.keys.current(),
        &state.settings,
        state.clock.unix(),
        client.id,
        client.unit_id,
        &scope,
        SessionFacts {
            absolute_expiry: i64::MAX,
            acr: String::new(),
            amr: Vec::new(),
            auth_time: state.clock.unix(),
            client_id: Some(client.id.to_string()),
        },
    )?;
    Ok(Grant::Issued(minted, scope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_256_random_bits_and_differ() {
        let (a, hash) = new_secret().unwrap();
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(hash, crypto::sha256(a.as_bytes()));
        assert_ne!(new_secret().unwrap().0, a);
    }
}
