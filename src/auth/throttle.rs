//! Login throttling (DESIGN.md §7). Failures are counted per lower-cased email
//! (known or not) across the login form, the password grant and a wrong
//! `current_password`, and per client IP with a limit ten times higher. At the
//! limit within the window, attempts get 429 before any password check.

use crate::auth::crypto;
use crate::db::schema::login_failures;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::{Duration, OffsetDateTime};

pub const WINDOW: Duration = Duration::minutes(15);
/// The per-IP limit is this many times LOGIN_MAX_FAILURES.
pub const IP_FACTOR: u32 = 10;

fn email_key(email: &str) -> String {
    let lower = email.trim().to_lowercase();
    format!("email:{}", crypto::b64(&crypto::sha256(lower.as_bytes())))
}

fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

/// Seconds until `key` may try again, if it is at `limit` within the window.
async fn retry_after(
    conn: &mut AsyncPgConnection,
    key: &str,
    limit: u32,
    now: OffsetDateTime,
) -> QueryResult<Option<u64>> {
    let since = now - WINDOW;
    let recent: Vec<OffsetDateTime> = login_failures::table
        .filter(login_failures::key.eq(key))
        .filter(login_failures::failed_at.gt(since))
        .order(login_failures::failed_at.desc())
        .select(login_failures::failed_at)
        .limit(i64::from(limit))
        .load(conn)
        .await?;
    if recent.len() < limit as usize {
        return Ok(None);
    }
    // The window frees a slot when the limit-th most recent failure ages out.
    let oldest_counted = recent.last().copied().unwrap_or(now);
    let wait = (oldest_counted + WINDOW - now).whole_seconds().max(1);
    Ok(Some(wait as u64))
}

/// `Err(seconds)` when this email or IP must wait.
pub async fn check(
    conn: &mut AsyncPgConnection,
    max_failures: u32,
    email: &str,
    ip: &str,
    now: OffsetDateTime,
) -> QueryResult<Result<(), u64>> {
    if let Some(wait) = retry_after(conn, &email_key(email), max_failures, now).await? {
        return Ok(Err(wait));
    }
    if !ip.is_empty() {
        if let Some(wait) = retry_after(
            conn,
            &ip_key(ip),
            max_failures.saturating_mul(IP_FACTOR),
            now,
        )
        .await?
        {
            return Ok(Err(wait));
        }
    }
    Ok(Ok(()))
}

pub async fn record_failure(
    conn: &mut AsyncPgConnection,
    email: &str,
    ip: &str,
    now: OffsetDateTime,
) -> QueryResult<()> {
    let mut rows = vec![(
        login_failures::key.eq(email_key(email)),
        login_failures::failed_at.eq(now),
    )];
    if !ip.is_empty() {
        rows.push((
            login_failures::key.eq(ip_key(ip)),
            login_failures::failed_at.eq(now),
        ));
    }
    diesel::insert_into(login_failures::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}

/// A successful login clears the email's count.
pub async fn clear(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::key.eq(email_key(email))))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn purge_old(conn: &mut AsyncPgConnection, now: OffsetDateTime) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::failed_at.le(now - WINDOW)))
        .execute(conn)
        .await
}
