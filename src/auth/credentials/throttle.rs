//! Login throttling (docs/http-api.md#login-throttling). Failures are counted per lower-cased email
//! (known or not) across the login form, the password grant and a wrong
//! `current_password`, and per client IP with a limit ten times higher. At the
//! limit within the window, attempts get 429 before any password check.

use crate::auth::crypto;
use crate::db::login_failures;
use crate::db::DbConn;
use diesel::QueryResult;
use diesel_async::AsyncConnection;
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};

pub const WINDOW: Duration = Duration::minutes(15);
/// The per-IP limit is this many times LOGIN_MAX_FAILURES.
pub const IP_FACTOR: u32 = 10;

fn email_key(email: &str) -> String {
    let lower = email.trim().to_lowercase();
    format!("email:{}", crypto::b64(&crypto::sha256(lower.as_bytes())))
}

fn ip_key(ip: &str) -> String {
    format!("ip:{}", throttle_key(ip))
}

/// Seconds until `key` may try again, if it is at `limit` within the window.
async fn retry_after(
    conn: &mut DbConn,
    key: &str,
    limit: u32,
    now: OffsetDateTime,
) -> QueryResult<Option<u64>> {
    retry_after_within(conn, key, limit, WINDOW, now).await
}

/// `retry_after` over a window of its own.
async fn retry_after_within(
    conn: &mut DbConn,
    key: &str,
    limit: u32,
    window: Duration,
    now: OffsetDateTime,
) -> QueryResult<Option<u64>> {
    let recent = login_failures::recent(conn, key, now - window, limit).await?;
    if recent.len() < limit as usize {
        return Ok(None);
    }
    // The window frees a slot when the limit-th most recent failure ages out.
    let oldest_counted = recent.last().copied().unwrap_or(now);
    let wait = (oldest_counted + window - now).whole_seconds().max(1);
    Ok(Some(wait as u64))
}

/// An attempt that passed the limits; it is already counted as a failure.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    email_row: i64,
    ip_row: Option<i64>,
}

/// Claims a login attempt for `email` from `ip`: `Err(seconds)` when either
/// must wait. Otherwise the attempt is recorded as a failure *before* the
/// password is checked, under a per-key lock, so parallel guesses cannot
/// slip past the limit while argon2 runs. `succeed` takes it back.
pub async fn begin_attempt(
    conn: &mut DbConn,
    max_failures: u32,
    email: &str,
    ip: &str,
    now: OffsetDateTime,
) -> QueryResult<Result<Attempt, u64>> {
    let email_key = email_key(email);
    let ip_key = (!ip.is_empty()).then(|| ip_key(ip));
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        login_failures::lock_key(conn, &email_key).await?;
        if let Some(k) = &ip_key {
            login_failures::lock_key(conn, k).await?;
        }
        if let Some(wait) = retry_after(conn, &email_key, max_failures, now).await? {
            return Ok(Err(wait));
        }
        if let Some(k) = &ip_key {
            if let Some(wait) =
                retry_after(conn, k, max_failures.saturating_mul(IP_FACTOR), now).await?
            {
                return Ok(Err(wait));
            }
        }
        let email_row = login_failures::insert(conn, &email_key, now).await?;
        let ip_row = match &ip_key {
            Some(k) => Some(login_failures::insert(conn, k, now).await?),
            None => None,
        };
        Ok(Ok(Attempt { email_row, ip_row }))
    })
    .await
}

/// A successful attempt clears the email's count and takes back this
/// attempt's IP entry.
/// Takes back an attempt whose password was never checked (the hashing
/// queue was full: 503), so an overload cannot lock anybody out.
pub async fn cancel(conn: &mut DbConn, attempt: Attempt) -> QueryResult<()> {
    login_failures::delete_row(conn, attempt.email_row).await?;
    if let Some(id) = attempt.ip_row {
        login_failures::delete_row(conn, id).await?;
    }
    Ok(())
}

pub async fn succeed(conn: &mut DbConn, email: &str, attempt: Attempt) -> QueryResult<()> {
    login_failures::delete_key(conn, &email_key(email)).await?;
    if let Some(id) = attempt.ip_row {
        login_failures::delete_row(conn, id).await?;
    }
    Ok(())
}

/// Clears the email's count: a sign-in completed without a code (a
/// passkey as the second step).
pub async fn clear(conn: &mut DbConn, email: &str) -> QueryResult<()> {
    login_failures::delete_key(conn, &email_key(email)).await?;
    Ok(())
}

pub async fn purge_old(conn: &mut DbConn, now: OffsetDateTime) -> QueryResult<usize> {
    login_failures::delete_before(conn, now - WINDOW).await
}

/// The key under which an address is throttled: the address itself for
/// IPv4 (an IPv4-mapped IPv6 address counts as its IPv4 address), its /64
/// network for IPv6 (one subscriber typically holds a whole /64, so counting
/// single v6 addresses would be no limit at all).
pub fn throttle_key(ip: &str) -> String {
    match ip.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
    }
}

fn register_key(ip: &str) -> String {
    format!("register:{}", throttle_key(ip))
}

/// Counts a registration attempt from `ip`: `Err(seconds)` once the address
/// made `max_failures × IP_FACTOR` attempts within the window. Every attempt
/// counts, successful or not: accounts are cheap to ask for and costly to hash.
pub async fn register_attempt(
    conn: &mut DbConn,
    max_failures: u32,
    ip: &str,
    now: OffsetDateTime,
) -> QueryResult<Result<(), u64>> {
    if ip.is_empty() {
        return Ok(Ok(()));
    }
    let key = register_key(ip);
    let limit = max_failures.saturating_mul(IP_FACTOR);
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        login_failures::lock_key(conn, &key).await?;
        if let Some(wait) = retry_after(conn, &key, limit, now).await? {
            return Ok(Err(wait));
        }
        login_failures::insert(conn, &key, now).await?;
        Ok(Ok(()))
    })
    .await
}

/// Anonymous ceremony starts (a passkey sign-in's options, a provider
/// sign-in's redirect) allowed per client address per minute.
pub const CEREMONIES_PER_MINUTE: u32 = 30;

/// Counts the start of an anonymous ceremony (`kind`: "passkey", "oidc")
/// from `ip`: `Err(seconds)` past CEREMONIES_PER_MINUTE within a minute. Each
/// start writes a row, so this bounds what one client can make the app store.
pub async fn ceremony_attempt(
    conn: &mut DbConn,
    kind: &str,
    ip: &str,
    now: OffsetDateTime,
) -> QueryResult<Result<(), u64>> {
    let key = format!("ceremony-{kind}:ip:{}", throttle_key(ip));
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        login_failures::lock_key(conn, &key).await?;
        let limit = CEREMONIES_PER_MINUTE;
        if let Some(wait) = retry_after_within(conn, &key, limit, Duration::MINUTE, now).await? {
            return Ok(Err(wait));
        }
        login_failures::insert(conn, &key, now).await?;
        Ok(Ok(()))
    })
    .await
}

/// Counts a mail-sending request (`kind`: "reset", "verify") for `email` and
/// for `ip`: `Err(seconds)` past 3 per address or 10 × LOGIN-style IP budget
/// (30) per IP within the window. Known and unknown addresses count alike.
pub async fn mail_attempt(
    conn: &mut DbConn,
    kind: &str,
    email: &str,
    ip: &str,
    now: OffsetDateTime,
) -> QueryResult<Result<(), u64>> {
    const PER_EMAIL: u32 = 3;
    const PER_IP: u32 = 30;
    let email_key = format!("mail-{kind}:{}", email_key(email));
    let ip_key = (!ip.is_empty()).then(|| format!("mail-{kind}:ip:{}", throttle_key(ip)));
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        // Both counters are read and bumped under their locks, taken in one
        // order (email, then IP) so parallel requests can neither overshoot
        // either limit nor deadlock each other.
        login_failures::lock_key(conn, &email_key).await?;
        if let Some(k) = &ip_key {
            login_failures::lock_key(conn, k).await?;
        }
        if let Some(wait) = retry_after(conn, &email_key, PER_EMAIL, now).await? {
            return Ok(Err(wait));
        }
        if let Some(k) = &ip_key {
            if let Some(wait) = retry_after(conn, k, PER_IP, now).await? {
                return Ok(Err(wait));
            }
            login_failures::insert(conn, k, now).await?;
        }
        login_failures::insert(conn, &email_key, now).await?;
        Ok(Ok(()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_throttled_per_64_and_mapped_ipv4_per_address() {
        assert_eq!(throttle_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            throttle_key("2001:db8:1:2:bbbb::9"),
            throttle_key("2001:db8:1:2:aaaa::1")
        );
        assert_eq!(throttle_key("198.51.100.7"), "198.51.100.7");
        // Two IPv4 clients seen through a [::] socket are two buckets.
        assert_eq!(throttle_key("::ffff:127.0.0.2"), "127.0.0.2");
        assert_ne!(
            throttle_key("::ffff:127.0.0.2"),
            throttle_key("::ffff:127.0.0.3")
        );
    }
}
