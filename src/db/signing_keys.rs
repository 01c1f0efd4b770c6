//! `signing_keys`: Ed25519 keys shared by all instances.

use super::schema::signing_keys;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use time::OffsetDateTime;

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub private_key: Vec<u8>,
    pub public_key: Vec<u8>,
    pub state: String,
    pub created_at: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("private_key", &"[redacted]")
            .field("state", &self.state)
            .finish()
    }
}

/// The active key and every retired key retired after `retired_after`
/// (older ones can no longer have unexpired tokens).
pub async fn usable(
    conn: &mut AsyncPgConnection,
    retired_after: OffsetDateTime,
) -> QueryResult<Vec<SigningKeyRow>> {
    signing_keys::table
        .filter(
            signing_keys::state
                .eq("active")
                .or(signing_keys::retired_at.gt(retired_after)),
        )
        .order(signing_keys::created_at.desc())
        .select(SigningKeyRow::as_select())
        .load(conn)
        .await
}

/// Inserts `row` as the only active key, retiring the current one, in one
/// transaction.
pub async fn rotate_in(
    conn: &mut AsyncPgConnection,
    row: &SigningKeyRow,
    now: OffsetDateTime,
) -> QueryResult<()> {
    use diesel_async::AsyncConnection;
    let row = row.clone();
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        diesel::update(signing_keys::table.filter(signing_keys::state.eq("active")))
            .set((
                signing_keys::state.eq("retired"),
                signing_keys::retired_at.eq(now),
            ))
            .execute(conn)
            .await?;
        diesel::insert_into(signing_keys::table)
            .values(&row)
            .execute(conn)
            .await?;
        Ok(())
    })
    .await
}

/// Inserts `row` only if there is no active key yet (first start).
pub async fn insert_if_none_active(
    conn: &mut AsyncPgConnection,
    row: &SigningKeyRow,
) -> QueryResult<()> {
    diesel::insert_into(signing_keys::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes retired keys that can no longer verify anything.
pub async fn delete_retired_before(
    conn: &mut AsyncPgConnection,
    before: OffsetDateTime,
) -> QueryResult<usize> {
    diesel::delete(signing_keys::table.filter(signing_keys::retired_at.lt(before)))
        .execute(conn)
        .await
}
