//! actix-session's `SessionStore` on Postgres. Rows are keyed by SHA-256 of the
//! cookie's session key (256 random bits); the key itself is never stored.
//! Expired rows are never loaded. The `sid` entry of the state is copied into a
//! column so that revoking a session also drops its cookie state.

use crate::auth::crypto;
use crate::auth::sessions::cache::SessionCache;
use crate::clock::Clock;
use crate::db::{session_state, PgPool};
use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

type State = HashMap<String, String>;

/// Session-state key holding the `sessions.id` of a signed-in browser.
pub const SID_KEY: &str = "sid";

#[derive(Clone)]
pub struct PgSessionStore {
    pool: PgPool,
    clock: Clock,
    cache: Option<Arc<SessionCache>>,
}

impl PgSessionStore {
    pub fn new(pool: PgPool, clock: Clock) -> Self {
        Self {
            pool,
            clock,
            cache: None,
        }
    }

    /// Answers loads from the in-process cache when it can (see
    /// `auth::sessions::cache`), and keeps it current on every write.
    pub fn with_cache(mut self, cache: Arc<SessionCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Every write drops the cached copy; the next load reads the row again.
    fn forget(&self, hash: &[u8; 32]) {
        if let Some(cache) = &self.cache {
            cache.forget_state(hash);
        }
    }

    fn expiry(&self, ttl: &CookieDuration) -> OffsetDateTime {
        let secs = ttl.whole_seconds();
        self.clock.now() + time::Duration::seconds(secs)
    }
}

fn key_hash(key: &SessionKey) -> [u8; 32] {
    Sha256::digest(key.as_ref().as_bytes()).into()
}

fn session_id_of(state: &State) -> Option<Uuid> {
    let raw = state.get(SID_KEY)?;
    serde_json::from_str::<Uuid>(raw).ok()
}

fn new_key() -> anyhow::Result<SessionKey> {
    SessionKey::try_from(crypto::random_token()?).map_err(anyhow::Error::new)
}

impl SessionStore for PgSessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<State>, LoadError> {
        let hash = key_hash(key);
        let now = self.clock.now();
        if let Some(hit) = self.cache.as_ref().and_then(|c| c.state(&hash, now)) {
            return Ok(Some(hit.state.clone()));
        }
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| LoadError::Other(e.into()))?;
        let row = session_state::load(&mut conn, &hash, now)
            .await
            .map_err(|e| LoadError::Other(e.into()))?;
        // A state we cannot read is treated as no state: the visitor is anonymous.
        let Some((text, expires_at)) = row else {
            return Ok(None);
        };
        let state: Option<State> = serde_json::from_str(&text).ok();
        if let (Some(cache), Some(state)) = (&self.cache, &state) {
            cache.put_state(hash, state, session_id_of(state), expires_at);
        }
        Ok(state)
    }

    async fn save(&self, state: State, ttl: &CookieDuration) -> Result<SessionKey, SaveError> {
        let text = serde_json::to_string(&state).map_err(|e| SaveError::Serialization(e.into()))?;
        let key = new_key().map_err(SaveError::Other)?;
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| SaveError::Other(e.into()))?;
        session_state::insert(
            &mut conn,
            &key_hash(&key),
            session_id_of(&state),
            &text,
            self.expiry(ttl),
        )
        .await
        .map_err(|e| SaveError::Other(e.into()))?;
        Ok(key)
    }

    async fn update(
        &self,
        key: SessionKey,
        state: State,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        let text =
            serde_json::to_string(&state).map_err(|e| UpdateError::Serialization(e.into()))?;
        self.forget(&key_hash(&key));
        let updated = {
            let mut conn = self
                .pool
                .get()
                .await
                .map_err(|e| UpdateError::Other(e.into()))?;
            session_state::update(
                &mut conn,
                &key_hash(&key),
                session_id_of(&state),
                &text,
                self.expiry(ttl),
                self.clock.now(),
            )
            .await
            .map_err(|e| UpdateError::Other(e.into()))?
        };
        if updated == 1 {
            Ok(key)
        } else {
            // The row expired or was deleted meanwhile: start a new one under a new key.
            self.save(state, ttl).await.map_err(|e| match e {
                SaveError::Serialization(e) => UpdateError::Serialization(e),
                SaveError::Other(e) => UpdateError::Other(e),
            })
        }
    }

    async fn update_ttl(
        &self,
        key: &SessionKey,
        ttl: &CookieDuration,
    ) -> Result<(), anyhow::Error> {
        self.forget(&key_hash(key));
        let mut conn = self.pool.get().await?;
        session_state::set_expiry(&mut conn, &key_hash(key), self.expiry(ttl)).await?;
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        self.forget(&key_hash(key));
        let mut conn = self.pool.get().await?;
        session_state::delete(&mut conn, &key_hash(key)).await?;
        Ok(())
    }
}
