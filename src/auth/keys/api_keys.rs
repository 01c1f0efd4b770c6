//! API keys (personal access tokens). A key is shown once, as
//! `<prefix>_<43 base62 characters>` (256 random bits; the prefix names the
//! app, so secret scanners can find leaked keys); only its SHA-256 is kept.
//! Each key is a `sessions` row of kind `key`: its revocation goes through
//! `sessions::revoke` like any session's, and reaches every instance through
//! the revocation view.
//!
//! Using a key costs no database round trip once this instance knows it:
//! `authenticate` answers from a cache, checking the expiry against the clock
//! and the revocation in the view (in memory while it is fresh). A cached
//! entry is read again from the database after `recheck` (at most a minute,
//! and at most half the view's window, so no revocation can slip between the
//! two), and that read
//! also records the key's last use (kept to the minute).

use crate::auth::account::mails::Notice;
use crate::auth::account::notices;
use crate::auth::bounded_cache::BoundedCache;
use crate::auth::crypto;
use crate::auth::events::{AuthEvent, RevokeReason};
use crate::auth::sessions::{self, ClientInfo, Kind, Target};
use crate::auth::state::AppState;
use crate::auth::tokens::claims::{AccessClaims, Audience, Verified};
use crate::auth::tokens::scopes;
use crate::auth::AuthError;
use crate::db::api_keys::{self as rows, ApiKeyRow, NewApiKey};
use crate::db::auth_events::{self, NewEvent};
use crate::db::sessions::NewSession;
use crate::db::users::User;
use crate::db::{self, DbError};
use diesel_async::AsyncConnection;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// Random characters after the prefix.
pub const RANDOM_CHARS: usize = 43;
/// How long a key lives when the request names no expiry.
pub const DEFAULT_TTL: Duration = Duration::days(30);
/// The longest name.
pub const NAME_MAX: usize = 64;
/// How long a cached key is trusted before it is read again, at most; never
/// more than half the revocation view's window (`recheck`), so a revocation
/// is in the view for as long as a cached copy may say otherwise.
pub const RECHECK: Duration = Duration::seconds(60);

/// RECHECK, or half the view's window if that is shorter.
pub fn recheck(state: &AppState) -> Duration {
    RECHECK.min(state.revocations.window() / 2)
}

/// The prefix of this app's keys: the initials of APP_NAME's words and `k`
/// (`hybrid-auth` → `hak`, `my-app` → `mak`).
pub fn prefix() -> String {
    let mut out: String = crate::web::app_name()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter_map(|word| word.chars().next())
        .filter(|c| c.is_ascii_alphabetic())
        .map(|c| c.to_ascii_lowercase())
        .take(8)
        .collect();
    out.push('k');
    out
}

/// Whether `token` has a key's shape (some lower-case letters, `_`, 43
/// base62 characters): such a bearer token is looked up as a key, anything
/// else is verified as a JWT.
pub fn looks_like_key(token: &str) -> bool {
    let Some((prefix, random)) = token.split_once('_') else {
        return false;
    };
    (1..=16).contains(&prefix.len())
        && prefix.bytes().all(|b| b.is_ascii_lowercase())
        && random.len() == RANDOM_CHARS
        && random.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A new key: (the key, its first characters as listed, its hash).
fn new_key() -> anyhow::Result<(String, String, Vec<u8>)> {
    let random = crypto::random_base62(RANDOM_CHARS)?;
    let prefix = prefix();
    let key = format!("{prefix}_{random}");
    let start = format!("{prefix}_{}", &random[..4]);
    let hash = crypto::sha256(key.as_bytes());
    Ok((key, start, hash))
}

/// What `create` was asked for.
pub struct NewKey<'a> {
    pub name: &'a str,
    /// Space-separated, within the user's grant; at least one.
    pub scope: &'a str,
    /// Seconds; `None` for DEFAULT_TTL.
    pub expires_in: Option<i64>,
}

/// A key just made: the only time `key` exists outside its holder.
pub struct Created {
    pub id: Uuid,
    pub name: String,
    pub key: String,
    pub scope: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug)]
pub enum CreateError {
    /// The name, expiry or scope is not acceptable; the message says why.
    Invalid(String),
    /// A scope outside the user's grant, or unknown.
    Scope(String),
    /// The address is not proven yet: nothing is attached to it until it is.
    AddressUnconfirmed,
}

/// Makes a key for `user`, records `api_key_created` and mails the owner.
pub async fn create(
    state: &AppState,
    user: &User,
    request: NewKey<'_>,
    client: &ClientInfo,
) -> Result<Result<Created, CreateError>, AuthError> {
    if user.email_verified_at.is_none() {
        return Ok(Err(CreateError::AddressUnconfirmed));
    }
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Ok(Err(CreateError::Invalid(format!(
            "name: 1 to {NAME_MAX} characters, no control characters"
        ))));
    }
    if request.scope.trim().is_empty() {
        return Ok(Err(CreateError::Scope("name at least one scope".into())));
    }
    let scope = match scopes::narrow(Some(request.scope), &user.scopes) {
        Ok(s) => s,
        Err(e) => return Ok(Err(CreateError::Scope(e.to_string()))),
    };
    let max = state.settings.api_key_max_ttl;
    let ttl = match request.expires_in {
        None => DEFAULT_TTL.min(max),
        Some(secs) if secs >= 60 && Duration::seconds(secs) <= max => Duration::seconds(secs),
        Some(_) => {
            return Ok(Err(CreateError::Invalid(format!(
                "expires_in: 60 to {} seconds",
                max.whole_seconds()
            ))))
        }
    };
    let (key, start, hash) = new_key()?;
    let now = state.clock.now();
    let id = Uuid::now_v7();
    let expires_at = now + ttl;
    let mut conn = db::conn(&state.pool).await?;
    conn.transaction::<_, AuthError, _>(async |conn| {
        let session = NewSession {
            id,
            user_id: user.id,
            kind: Kind::Key.as_str(),
            scope: &scope,
            created_at: now,
            last_seen_at: now,
            idle_expires_at: expires_at,
            absolute_expires_at: expires_at,
            user_agent: &client.user_agent,
            ip: &client.ip,
            aal: 1,
            amr: "",
            auth_time: now,
        };
        db::sessions::insert(conn, &session).await?;
        let row = NewApiKey {
            id,
            name,
            key_hash: &hash,
            start: &start,
        };
        rows::insert(conn, &row).await?;
        auth_events::record(
            conn,
            NewEvent {
                kind: AuthEvent::ApiKeyCreated.as_str(),
                user_id: Some(user.id),
                session_id: Some(id),
                ip: &client.ip,
                detail: name,
                created_at: now,
            },
        )
        .await?;
        let notice = Notice::ApiKeyCreated(name.to_owned());
        notices::queue(state, conn, &user.email, notice, &client.ip).await?;
        Ok(())
    })
    .await?;
    state.mailer.wakeup.notify_one();
    Ok(Ok(Created {
        id,
        name: name.to_owned(),
        key,
        scope,
        created_at: now,
        expires_at,
    }))
}

/// The user's live keys, newest first.
pub async fn list(state: &AppState, user_id: Uuid) -> Result<Vec<ApiKeyRow>, AuthError> {
    let mut conn = db::conn(&state.pool).await?;
    Ok(rows::live_for_user(&mut conn, user_id, state.clock.now()).await?)
}

/// Revokes one of the user's keys; `false` when it is not theirs (unknown,
/// another user's, or ended already).
pub async fn revoke(
    state: &AppState,
    user_id: Uuid,
    id: Uuid,
    ip: &str,
) -> Result<bool, AuthError> {
    let mut conn = db::conn(&state.pool).await?;
    let Some(key) = rows::find_for_user(&mut conn, user_id, id).await? else {
        return Ok(false);
    };
    if key.revoked_at.is_some() || key.expires_at <= state.clock.now() {
        return Ok(false);
    }
    let ended = sessions::revoke(
        state,
        &mut conn,
        Target::One(id),
        RevokeReason::ApiKeyRevoked,
        ip,
    )
    .await?;
    forget(state, id);
    Ok(!ended.is_empty())
}

/// What the cache knows of a key.
#[derive(Clone)]
pub struct CachedKey {
    /// `None`: unknown, revoked or expired for good.
    known: Option<Arc<KeyUse>>,
    read_at: OffsetDateTime,
}

/// A live key as a bearer token: its id, and claims as a token of it would
/// carry (`sid` = the key's id; `auth_time` 0, so it never passes a step-up).
pub struct KeyUse {
    pub id: Uuid,
    pub verified: Arc<Verified>,
    pub expires_at: OffsetDateTime,
}

/// The per-instance cache of keys, by the hash of the key.
pub type KeyCache = BoundedCache<[u8; 32], CachedKey>;

fn cache_key(key: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&crypto::sha256(key.as_bytes()));
    out
}

/// Drops every cached entry of key `id` on this instance.
pub fn forget(state: &AppState, id: Uuid) {
    state
        .key_cache
        .retain(|c| c.known.as_ref().is_none_or(|k| k.id != id));
}

/// Why a key may not be used.
#[derive(Debug)]
pub enum KeyRefused {
    /// Unknown, revoked, or its user suspended.
    Invalid,
    Expired,
    Db(DbError),
}

impl From<DbError> for KeyRefused {
    fn from(e: DbError) -> Self {
        KeyRefused::Db(e)
    }
}

/// The key `key` as a bearer credential, or why not. From the cache (no
/// database) while the entry is younger than RECHECK; the revocation check
/// is the view's, like an access token's.
pub async fn authenticate(state: &AppState, key: &str) -> Result<Arc<KeyUse>, KeyRefused> {
    let now = state.clock.now();
    let hash = cache_key(key);
    let recheck = recheck(state);
    let cached = state.key_cache.get_if(&hash, |c| now - c.read_at < recheck);
    let known = match cached {
        Some(entry) => entry.known,
        None => {
            let known = read(state, &hash, now).await?;
            state.key_cache.insert(
                hash,
                CachedKey {
                    known: known.clone(),
                    read_at: now,
                },
            );
            known
        }
    };
    let Some(known) = known else {
        return Err(KeyRefused::Invalid);
    };
    if known.expires_at <= now {
        return Err(KeyRefused::Expired);
    }
    if state.revocations.is_revoked(&state.pool, known.id).await? {
        return Err(KeyRefused::Invalid);
    }
    Ok(known)
}

/// Reads the key from the database and records its use.
async fn read(
    state: &AppState,
    hash: &[u8; 32],
    now: OffsetDateTime,
) -> Result<Option<Arc<KeyUse>>, KeyRefused> {
    let mut conn = db::conn(&state.pool).await?;
    let Some(row) = rows::find_by_hash(&mut conn, hash)
        .await
        .map_err(DbError::from)?
    else {
        return Ok(None);
    };
    if row.revoked_at.is_some() {
        return Ok(None);
    }
    // An expired key stays known (and is answered as expired), unused.
    if row.expires_at > now {
        rows::touch(&mut conn, row.id, now)
            .await
            .map_err(DbError::from)?;
    }
    let claims = AccessClaims {
        iss: state.settings.public_url.clone(),
        aud: Audience::One(state.settings.jwt_audience.clone()),
        sub: row.user_id,
        sid: row.id,
        jti: row.id.to_string(),
        iat: row.created_at.unix_timestamp(),
        nbf: row.created_at.unix_timestamp(),
        exp: row.expires_at.unix_timestamp(),
        scope: row.scope,
        acr: String::new(),
        amr: Vec::new(),
        auth_time: 0,
        client_id: None,
    };
    Ok(Some(Arc::new(KeyUse {
        id: row.id,
        verified: Arc::new(Verified {
            claims,
            kid: String::new(),
        }),
        expires_at: row.expires_at,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_has_the_apps_prefix_and_256_random_bits() {
        let (key, start, hash) = new_key().unwrap();
        assert!(looks_like_key(&key), "{key}");
        assert!(key.starts_with(&format!("{}_", prefix())));
        assert!(key.starts_with(&start) && start.len() == prefix().len() + 5);
        assert_eq!(hash, crypto::sha256(key.as_bytes()));
        // 43 characters of 62: 256 bits.
        assert!(RANDOM_CHARS as f64 * 62f64.log2() >= 256.0);
        assert_ne!(new_key().unwrap().0, key);
    }

    #[test]
    fn only_a_keys_shape_is_taken_for_a_key() {
        let (key, _, _) = new_key().unwrap();
        assert!(!looks_like_key(&key[..key.len() - 1]));
        assert!(!looks_like_key(&key.to_uppercase()));
        assert!(!looks_like_key("eyJhbGciOiJFZERTQSJ9.eyJ9.c2ln"));
        assert!(!looks_like_key(&key.replace('_', "-")));
    }
}
