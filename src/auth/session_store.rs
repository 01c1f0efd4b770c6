//! actix-session's `SessionStore` on Postgres. Rows are keyed by SHA-256 of the
//! cookie's session key (256 random bits); the key itself is never stored.
//! Expired rows are never loaded. The `sid` entry of the state is copied into a
//! column so that revoking a session also drops its cookie state.

use crate::auth::crypto;
use crate::clock::Clock;
use crate::db::schema::session_state;
use crate::db::PgPool;
use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

type State = HashMap<String, String>;

/// Session-state key holding the `sessions.id` of a signed-in browser.
pub const SID_KEY: &str = "sid";

#[derive(Clone)]
pub struct PgSessionStore {
    pool: PgPool,
    clock: Clock,
}

impl PgSessionStore {
    pub fn new(pool: PgPool, clock: Clock) -> Self {
        Self { pool, clock }
    }

    fn expiry(&self, ttl: &CookieDuration) -> OffsetDateTime {
        let secs = ttl.whole_seconds();
        self.clock.now() + time::Duration::seconds(secs)
    }
}

fn key_hash(key: &SessionKey) -> Vec<u8> {
    crypto::sha256(key.as_ref().as_bytes())
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
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| LoadError::Other(e.into()))?;
        let row: Option<String> = session_state::table
            .filter(session_state::key_hash.eq(key_hash(key)))
            .filter(session_state::expires_at.gt(self.clock.now()))
            .select(session_state::state)
            .first(&mut conn)
            .await
            .optional()
            .map_err(|e| LoadError::Other(e.into()))?;
        // A state we cannot read is treated as no state: the visitor is anonymous.
        Ok(row.and_then(|text| serde_json::from_str(&text).ok()))
    }

    async fn save(&self, state: State, ttl: &CookieDuration) -> Result<SessionKey, SaveError> {
        let text = serde_json::to_string(&state).map_err(|e| SaveError::Serialization(e.into()))?;
        let key = new_key().map_err(SaveError::Other)?;
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| SaveError::Other(e.into()))?;
        diesel::insert_into(session_state::table)
            .values((
                session_state::key_hash.eq(key_hash(&key)),
                session_state::session_id.eq(session_id_of(&state)),
                session_state::state.eq(text),
                session_state::expires_at.eq(self.expiry(ttl)),
            ))
            .execute(&mut conn)
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
        let updated = {
            let mut conn = self
                .pool
                .get()
                .await
                .map_err(|e| UpdateError::Other(e.into()))?;
            diesel::update(
                session_state::table
                    .filter(session_state::key_hash.eq(key_hash(&key)))
                    .filter(session_state::expires_at.gt(self.clock.now())),
            )
            .set((
                session_state::session_id.eq(session_id_of(&state)),
                session_state::state.eq(text),
                session_state::expires_at.eq(self.expiry(ttl)),
            ))
            .execute(&mut conn)
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
        let mut conn = self.pool.get().await?;
        diesel::update(session_state::table.filter(session_state::key_hash.eq(key_hash(key))))
            .set(session_state::expires_at.eq(self.expiry(ttl)))
            .execute(&mut conn)
            .await?;
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        let mut conn = self.pool.get().await?;
        diesel::delete(session_state::table.filter(session_state::key_hash.eq(key_hash(key))))
            .execute(&mut conn)
            .await?;
        Ok(())
    }
}

/// Deletes the cookie state of the given sessions (part of revocation).
pub async fn delete_for_sessions(
    conn: &mut diesel_async::AsyncPgConnection,
    ids: &[Uuid],
) -> QueryResult<usize> {
    diesel::delete(session_state::table.filter(session_state::session_id.eq_any(ids)))
        .execute(conn)
        .await
}

/// Deletes expired state rows (periodic purge).
pub async fn purge_expired(
    conn: &mut diesel_async::AsyncPgConnection,
    now: OffsetDateTime,
) -> QueryResult<usize> {
    diesel::delete(session_state::table.filter(session_state::expires_at.le(now)))
        .execute(conn)
        .await
}
