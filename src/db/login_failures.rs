//! `login_failures`: failed sign-in attempts per throttle key (hashed email
//! or client IP). Policy lives in `auth::credentials::throttle`.

use super::schema::login_failures;
use super::DbConn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;

/// Serializes attempts on `key` until the transaction ends.
pub async fn lock_key(conn: &mut DbConn, key: &str) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1)::int8)")
        .bind::<diesel::sql_types::Text, _>(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// The times of the `limit` most recent failures of `key` after `since`,
/// newest first.
pub async fn recent(
    conn: &mut DbConn,
    key: &str,
    since: OffsetDateTime,
    limit: u32,
) -> QueryResult<Vec<OffsetDateTime>> {
    login_failures::table
        .filter(login_failures::key.eq(key))
        .filter(login_failures::failed_at.gt(since))
        .order(login_failures::failed_at.desc())
        .select(login_failures::failed_at)
        .limit(i64::from(limit))
        .load(conn)
        .await
}

/// Records a failure; returns its row id.
pub async fn insert(conn: &mut DbConn, key: &str, at: OffsetDateTime) -> QueryResult<i64> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::key.eq(key),
            login_failures::failed_at.eq(at),
        ))
        .returning(login_failures::id)
        .get_result(conn)
        .await
}

pub async fn delete_key(conn: &mut DbConn, key: &str) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::key.eq(key)))
        .execute(conn)
        .await
}

pub async fn delete_row(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::delete(login_failures::table.find(id))
        .execute(conn)
        .await
}

pub async fn delete_before(conn: &mut DbConn, before: OffsetDateTime) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::failed_at.le(before)))
        .execute(conn)
        .await
}
