//! The application's notion of "now". Every expiry decision (sessions, tokens,
//! throttling) reads this clock, never `SystemTime` or SQL `now()`, so tests can
//! move time forward instead of sleeping through it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_micros: Arc<AtomicI64>,
}

impl Clock {
    /// The wall clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// Now, truncated to microseconds (the precision Postgres stores).
    pub fn now(&self) -> OffsetDateTime {
        let offset = Duration::microseconds(self.offset_micros.load(Ordering::Relaxed));
        let now = OffsetDateTime::now_utc() + offset;
        let micros = now.microsecond();
        now.replace_nanosecond(micros * 1_000).unwrap_or(now)
    }

    /// Moves this clock (and every clone of it) forward by `by`.
    pub fn advance(&self, by: Duration) {
        let micros = i64::try_from(by.whole_microseconds()).unwrap_or(i64::MAX);
        self.offset_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Now as whole seconds since the epoch (JWT `NumericDate`).
    pub fn unix(&self) -> i64 {
        self.now().unix_timestamp()
    }
}
