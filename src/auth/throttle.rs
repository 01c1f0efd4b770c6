//! Login throttling (docs/http-api.md#login-throttling). Failures are counted per lower-cased email
//! (known or not) across the login form, the password grant and a wrong
//! `current_password`, and per client IP with a limit ten times higher. At the
//! limit within the window, attempts get 429 before any password check.

use crate::auth::crypto;
use crate::db::login_failures;
use diesel::QueryResult;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use time::{Duration, OffsetDateTime};

pub const WINDOW: Duration = Duration::minutes(15);
/// The per-IP limit is this many times LOGIN_MAX_FAILURES.
pub const IP_FACTOR: u32 = 10;

fn email_key(email: &str) -> String {
    let lower = email.trim().to_lowercase();
    format!("email:{}", crypto::b64(&crypto::sha256(lower.as_bytes())))
}

fn ip_key(ip: &str) -> String {
    format!("ip:{}", super::client::throttle_key(ip))
}

/// Seconds until `key` may try again, if it is at `limit` within the window.
async fn retry_after(
    conn: &mut AsyncPgConnection,
    key: &str,
    limit: u32,
    now: OffsetDateTime,
) -> QueryResult<Option<u64>> {
    let recent = login_failures::recent(conn, key, now - WINDOW, limit).await?;
    if recent.len() < limit as usize {
        return Ok(None);
    }
    // The window frees a slot when the limit-th most recent failure ages out.
    let oldest_counted = recent.last().copied().unwrap_or(now);
    let wait = (oldest_counted + WINDOW - now).whole_seconds().max(1);
    Ok(Some(wait as u64))
}

/// An attempt that passed the limits; it is already counted as a failure.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    ip_row: Option<i64>,
}

/// Claims a login attempt for `email` from `ip`: `Err(seconds)` when either
/// must wait. Otherwise the attempt is recorded as a failure *before* the
/// password is checked, under a per-key lock, so parallel guesses cannot
/// slip past the limit while argon2 runs. `succeed` takes it back.
pub async fn begin_attempt(
    conn: &mut AsyncPgConnection,
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
        login_failures::insert(conn, &email_key, now).await?;
        let ip_row = match &ip_key {
            Some(k) => Some(login_failures::insert(conn, k, now).await?),
            None => None,
        };
        Ok(Ok(Attempt { ip_row }))
    })
    .await
}

/// A successful attempt clears the email's count and takes back this
/// attempt's IP entry.
pub async fn succeed(
    conn: &mut AsyncPgConnection,
    email: &str,
    attempt: Attempt,
) -> QueryResult<()> {
    login_failures::delete_key(conn, &email_key(email)).await?;
    if let Some(id) = attempt.ip_row {
        login_failures::delete_row(conn, id).await?;
    }
    Ok(())
}

pub async fn purge_old(conn: &mut AsyncPgConnection, now: OffsetDateTime) -> QueryResult<usize> {
    login_failures::delete_before(conn, now - WINDOW).await
}

fn register_key(ip: &str) -> String {
    format!("register:{}", super::client::throttle_key(ip))
}

/// Counts a registration attempt from `ip`: `Err(seconds)` once the address
/// made `max_failures × IP_FACTOR` attempts within the window. Every attempt
/// counts, successful or not: accounts are cheap to ask for and costly to hash.
pub async fn register_attempt(
    conn: &mut AsyncPgConnection,
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

/// Counts a mail-sending request (`kind`: "reset", "verify") for `email` and
/// for `ip`: `Err(seconds)` past 3 per address or 10 × LOGIN-style IP budget
/// (30) per IP within the window. Known and unknown addresses count alike.
pub async fn mail_attempt(
    conn: &mut AsyncPgConnection,
    kind: &str,
    email: &str,
    ip: &str,
    now: OffsetDateTime,
) -> QueryResult<Result<(), u64>> {
    const PER_EMAIL: u32 = 3;
    const PER_IP: u32 = 30;
    let email_key = format!("mail-{kind}:{}", email_key(email));
    let ip_key =
        (!ip.is_empty()).then(|| format!("mail-{kind}:ip:{}", super::client::throttle_key(ip)));
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        login_failures::lock_key(conn, &email_key).await?;
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
