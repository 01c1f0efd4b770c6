//! In-process cache of what a signed-in page request needs: the cookie's
//! session state (normally one query per request in the session store) and
//! the resolved session + user rows (another query). With both cached, a
//! typical signed-in page costs no database round trip.
//!
//! Safe because every hit is checked against the revocation view: an entry is
//! used only while the view is fresh and does not list its session as revoked
//! (the view keeps a revoked id far longer than an entry lives). Revocations
//! on any instance reach the view through NOTIFY; with the view stale, every
//! lookup goes to the database. Only positive answers come from the cache: a
//! cached session that looks expired is re-read, never concluded dead, so an
//! idle-expiry moved forward by another instance is seen. Entries live at most
//! `ENTRY_TTL` (which bounds how stale the cached user's fields can be) and
//! the cache holds at most `CAPACITY` entries of each kind.

use crate::auth::bounded_cache::BoundedCache;
use crate::auth::sessions::revocation::RevocationView;
use crate::db::sessions::SessionRow;
use crate::db::users::User;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use uuid::Uuid;

pub const ENTRY_TTL: Duration = Duration::from_secs(30);
pub const CAPACITY: usize = 20_000;

pub struct CachedState {
    pub state: HashMap<String, String>,
    pub sid: Uuid,
    pub expires_at: OffsetDateTime,
    cached_at: Instant,
}

pub struct CachedSession {
    pub session: SessionRow,
    pub user: User,
    cached_at: Instant,
}

pub struct SessionCache {
    states: BoundedCache<[u8; 32], Arc<CachedState>>,
    sessions: BoundedCache<Uuid, Arc<CachedSession>>,
    revocations: RevocationView,
    hits: AtomicU64,
}

impl SessionCache {
    pub fn new(revocations: RevocationView) -> Self {
        SessionCache {
            states: BoundedCache::new(CAPACITY),
            sessions: BoundedCache::new(CAPACITY),
            revocations,
            hits: AtomicU64::new(0),
        }
    }

    /// Lookups answered from memory (state and session lookups both count).
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    fn count<T>(&self, found: Option<T>) -> Option<T> {
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// The cookie state stored under `key_hash`, if cached and still good.
    pub fn state(&self, key_hash: &[u8; 32], now: OffsetDateTime) -> Option<Arc<CachedState>> {
        self.count(self.states.get_if(key_hash, |c| {
            c.cached_at.elapsed() < ENTRY_TTL
                && c.expires_at > now
                && self.revocations.known_live(c.sid)
        }))
    }

    /// Caches a signed-in browser's state (states without a session id are
    /// not cached).
    pub fn put_state(
        &self,
        key_hash: [u8; 32],
        state: &HashMap<String, String>,
        sid: Option<Uuid>,
        expires_at: OffsetDateTime,
    ) {
        let Some(sid) = sid else { return };
        let entry = CachedState {
            state: state.clone(),
            sid,
            expires_at,
            cached_at: Instant::now(),
        };
        self.states.insert(key_hash, Arc::new(entry));
    }

    pub fn forget_state(&self, key_hash: &[u8; 32]) {
        self.states.remove(key_hash);
    }

    /// The session and its user, if cached, unrevoked and live at `now`.
    pub fn session(&self, sid: Uuid, now: OffsetDateTime) -> Option<Arc<CachedSession>> {
        self.count(self.sessions.get_if(&sid, |c| {
            c.cached_at.elapsed() < ENTRY_TTL
                && c.session.is_live(now)
                && self.revocations.known_live(sid)
        }))
    }

    pub fn put_session(&self, session: SessionRow, user: User) {
        let sid = session.id;
        let entry = CachedSession {
            session,
            user,
            cached_at: Instant::now(),
        };
        self.sessions.insert(sid, Arc::new(entry));
    }

    /// Whether an entry for `sid` is held at all, usable or not (a revocation
    /// drops it on the instance that made it).
    pub fn holds_session(&self, sid: Uuid) -> bool {
        self.sessions.get_if(&sid, |_| true).is_some()
    }

    pub fn forget_session(&self, sid: Uuid) {
        self.sessions.remove(&sid);
    }

    /// Drops every cached session of `user_id` (its user row changed, e.g.
    /// the address was just confirmed).
    pub fn forget_user(&self, user_id: Uuid) {
        self.sessions.retain(|c| c.user.id != user_id);
    }
}
