//! The in-process revocation view (docs/http-api.md#revocation-view).
//!
//! Access tokens are verified locally; the only question left is "was this
//! session revoked?". Each instance keeps the set of session ids revoked
//! within the last ACCESS_TOKEN_TTL + CLOCK_SKEW_LEEWAY (older revocations
//! need no entry: every token of theirs has expired). The set is loaded at
//! start-up and kept current by Postgres `LISTEN session_revoked`: every
//! revocation (`auth::sessions::revoke`) sends a NOTIFY in its transaction,
//! so all instances learn of it when it commits.
//!
//! If the listener connection is lost, the view is marked stale and every
//! check goes to the database until the listener has re-listened and
//! reloaded. A database failure then is an error (503), never a "not revoked".

use crate::clock::Clock;
use crate::db::signing_keys::KEYS_CHANNEL;
use crate::db::DbConn;
use crate::db::{self, sessions, DbError, PgPool};
use diesel_async::AsyncConnection;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration as StdDuration;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// `application_name` of the listener's connection (visible in pg_stat_activity).
pub const LISTENER_APP_NAME: &str = "hybrid-auth-revocation-listener";
const RECONNECT_BACKOFF: StdDuration = StdDuration::from_millis(500);

pub use crate::config::Heartbeat;

#[derive(Clone)]
pub struct RevocationView {
    revoked: Arc<RwLock<HashMap<Uuid, OffsetDateTime>>>,
    fresh: Arc<AtomicBool>,
    /// Milliseconds since `epoch` when a notification last arrived.
    alive_at: Arc<AtomicU64>,
    epoch: std::time::Instant,
    db_checks: Arc<AtomicU64>,
    window: Duration,
    clock: Clock,
    pool: PgPool,
    timing: Heartbeat,
    /// This instance's heartbeat channel.
    channel: Arc<str>,
    /// Woken when another process changed the signing keys.
    keys_changed: Arc<tokio::sync::Notify>,
}

impl RevocationView {
    pub fn new(window: Duration, clock: Clock, pool: PgPool, timing: Heartbeat) -> Self {
        RevocationView {
            revoked: Arc::default(),
            fresh: Arc::new(AtomicBool::new(false)),
            alive_at: Arc::new(AtomicU64::new(0)),
            epoch: std::time::Instant::now(),
            db_checks: Arc::new(AtomicU64::new(0)),
            window,
            clock,
            pool,
            timing,
            channel: format!("hybrid_auth_hb_{}", Uuid::new_v4().simple()).into(),
            keys_changed: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Notified whenever the signing keys changed (the same listener carries
    /// `signing_keys_changed`); the key reload job waits on it.
    pub fn keys_changed(&self) -> Arc<tokio::sync::Notify> {
        self.keys_changed.clone()
    }

    /// True while the listener is connected, its heartbeat came back within
    /// the alive window, and the set is complete.
    pub fn is_fresh(&self) -> bool {
        let alive_at = StdDuration::from_millis(AtomicU64::load(&self.alive_at, Ordering::SeqCst));
        AtomicBool::load(&self.fresh, Ordering::SeqCst)
            && self.epoch.elapsed() < alive_at + self.timing.alive_window
    }

    /// How long a revoked id stays in the set.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Entries in the set (revoked within the window, until the next prune).
    pub fn len(&self) -> usize {
        self.read_set().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn read_set(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Uuid, OffsetDateTime>> {
        match self.revoked.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn mark_alive(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.alive_at.store(ms, Ordering::SeqCst);
    }

    /// True only when the view is fresh and does not list `sid`: what the
    /// in-process caches require before they answer from memory.
    pub fn known_live(&self, sid: Uuid) -> bool {
        if !self.is_fresh() {
            return false;
        }
        let revoked = self.read_set().contains_key(&sid);
        !revoked && self.is_fresh()
    }

    /// How many checks had to ask the database (fallback mode).
    pub fn db_checks(&self) -> u64 {
        AtomicU64::load(&self.db_checks, Ordering::Relaxed)
    }

    /// `Ok(true)` when the session is revoked (or gone). Answered from memory
    /// while the view is fresh; from the database otherwise.
    pub async fn is_revoked(&self, pool: &PgPool, sid: Uuid) -> Result<bool, DbError> {
        if self.is_fresh() {
            let revoked = self.read_set().contains_key(&sid);
            // Re-check freshness: a listener that died mid-read must not vouch.
            if self.is_fresh() {
                return Ok(revoked);
            }
        }
        self.db_checks.fetch_add(1, Ordering::Relaxed);
        let mut conn = db::conn(pool).await?;
        Ok(sessions::is_revoked_or_gone(&mut conn, sid).await?)
    }

    /// Records revocations made by this instance at once (the NOTIFY will
    /// say the same a moment later), so a logout is effective immediately
    /// here. One lock for the whole batch, and no pruning: that happens on
    /// the heartbeat, so noting N ids costs O(N), not O(N × set size).
    pub fn note(&self, ids: &[Uuid]) {
        if ids.is_empty() {
            return;
        }
        let now = self.clock.now();
        let mut set = self.set();
        for id in ids {
            set.insert(*id, now);
        }
    }

    fn set(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Uuid, OffsetDateTime>> {
        match self.revoked.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Drops entries older than the window: their tokens have expired.
    pub fn prune(&self) {
        let cutoff = self.clock.now() - self.window;
        self.set().retain(|_, t| *t > cutoff);
    }

    /// Connects, LISTENs, then loads the recent revocations (in that order, so
    /// nothing committed in between is missed) and marks the view fresh.
    /// The loaded rows are merged into the set, never replace it: an id this
    /// instance noted while the listener was away must not be dropped.
    pub async fn connect(&self, database_url: &str) -> anyhow::Result<DbConn> {
        let url = listener_url(database_url);
        let mut conn = tokio::time::timeout(StdDuration::from_secs(10), DbConn::establish(&url))
            .await
            .map_err(|_| anyhow::anyhow!("timed out connecting the revocation listener"))??;
        sessions::listen_revoked(&mut conn).await?;
        db::listen(&mut conn, KEYS_CHANNEL).await?;
        db::listen(&mut conn, &self.channel).await?;
        let since = self.clock.now() - self.window;
        let rows = sessions::revoked_since(&mut conn, since).await?;
        {
            let mut set = self.set();
            for (id, at) in rows {
                set.entry(id).or_insert(at);
            }
        }
        self.mark_alive();
        self.fresh.store(true, Ordering::SeqCst);
        // Key changes made while we were not listening: reload once.
        self.keys_changed.notify_one();
        Ok(conn)
    }

    /// Runs the listener forever: applies notifications, checks the connection
    /// with a heartbeat, and on any failure goes stale and reconnects.
    pub async fn run(self, database_url: String, first: Option<DbConn>) {
        let mut conn = first;
        loop {
            if let Some(c) = conn.take() {
                if let Err(e) = self.listen(c).await {
                    tracing::warn!(error = %e, "revocation listener lost; checking the database per request");
                }
            }
            self.fresh.store(false, Ordering::SeqCst);
            tokio::time::sleep(RECONNECT_BACKOFF).await;
            match self.connect(&database_url).await {
                Ok(c) => {
                    tracing::info!("revocation listener connected");
                    conn = Some(c);
                }
                Err(e) => tracing::debug!(error = %e, "revocation listener: reconnect failed"),
            }
        }
    }

    async fn listen(&self, mut conn: DbConn) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(self.timing.heartbeat);
        loop {
            let next = {
                let stream = conn.inner_mut().notifications_stream();
                let mut stream = std::pin::pin!(stream);
                tokio::select! {
                    n = stream.next() => Some(n),
                    _ = tick.tick() => None,
                }
            };
            match next {
                Some(Some(Ok(n))) => {
                    self.mark_alive();
                    if n.channel == *self.channel {
                        continue;
                    }
                    if n.channel == KEYS_CHANNEL {
                        self.keys_changed.notify_one();
                        continue;
                    }
                    match Uuid::parse_str(&n.payload) {
                        Ok(sid) => self.note(&[sid]),
                        Err(_) => tracing::warn!("ignoring malformed revocation notification"),
                    }
                }
                Some(Some(Err(e))) => return Err(e.into()),
                Some(None) => return Err(anyhow::anyhow!("notification stream ended")),
                None => {
                    if !self.is_fresh() {
                        return Err(anyhow::anyhow!(
                            "no heartbeat echo within {:?}: notifications are not arriving",
                            self.timing.alive_window
                        ));
                    }
                    self.send_heartbeat().await;
                    self.prune();
                }
            }
        }
    }

    /// NOTIFY to our own channel through the pool; its echo on the listener
    /// connection is what keeps the view fresh.
    async fn send_heartbeat(&self) {
        let sent = async {
            let mut conn = db::conn(&self.pool).await?;
            db::notify(&mut conn, &self.channel, "").await?;
            Ok::<(), DbError>(())
        };
        match tokio::time::timeout(self.timing.heartbeat, sent).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "revocation heartbeat not sent"),
            Err(_) => tracing::debug!("revocation heartbeat timed out"),
        }
    }
}

fn listener_url(database_url: &str) -> String {
    let sep = if database_url.contains('?') { '&' } else { '?' };
    format!("{database_url}{sep}application_name={LISTENER_APP_NAME}")
}
