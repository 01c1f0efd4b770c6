//! `app_secrets`: keys every instance must share, generated on first start.

use super::schema::app_secrets;
use super::DbConn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;

/// Returns the secret `name`, inserting `fresh` first if there is none yet.
/// Concurrent first starts converge on whichever insert won.
pub async fn get_or_create(
    conn: &mut DbConn,
    name: &str,
    fresh: &[u8],
    now: OffsetDateTime,
) -> QueryResult<Vec<u8>> {
    diesel::insert_into(app_secrets::table)
        .values((
            app_secrets::name.eq(name),
            app_secrets::value.eq(fresh),
            app_secrets::created_at.eq(now),
        ))
        .on_conflict(app_secrets::name)
        .do_nothing()
        .execute(conn)
        .await?;
    app_secrets::table
        .find(name)
        .select(app_secrets::value)
        .first(conn)
        .await
}

/// The secret `name`, locked for the caller's transaction, if there is one.
pub async fn find_for_update(conn: &mut DbConn, name: &str) -> QueryResult<Option<Vec<u8>>> {
    app_secrets::table
        .find(name)
        .select(app_secrets::value)
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn delete(conn: &mut DbConn, name: &str) -> QueryResult<usize> {
    diesel::delete(app_secrets::table.find(name))
        .execute(conn)
        .await
}
