//! `signing_keys`: Ed25519 keys shared by all instances. A key is `pending`
//! (published, verifying, not yet signing) until its `activates_at`, then
//! `active` (signing), then `retired` (verifying until its tokens expired).

use super::schema::signing_keys;
use super::DbConn;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use time::OffsetDateTime;

/// Channel on which key changes (rotation, retirement) are announced, so that
/// every instance reloads its key ring at once.
pub const KEYS_CHANNEL: &str = "signing_keys_changed";

#[derive(Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub private_key: Vec<u8>,
    pub public_key: Vec<u8>,
    pub state: String,
    pub created_at: OffsetDateTime,
    pub retired_at: Option<OffsetDateTime>,
    pub activates_at: OffsetDateTime,
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

/// A key without its private half (listings).
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = signing_keys)]
pub struct KeyInfo {
    pub kid: String,
    pub state: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub activates_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub retired_at: Option<OffsetDateTime>,
}

/// Pending and active keys, and every key retired after `retired_after`
/// (older ones can no longer have unexpired tokens).
pub async fn usable(
    conn: &mut DbConn,
    retired_after: OffsetDateTime,
) -> QueryResult<Vec<SigningKeyRow>> {
    signing_keys::table
        .filter(
            signing_keys::state
                .eq_any(["active", "pending"])
                .or(signing_keys::retired_at.gt(retired_after)),
        )
        .order(signing_keys::activates_at.desc())
        .select(SigningKeyRow::as_select())
        .load(conn)
        .await
}

pub async fn list(conn: &mut DbConn) -> QueryResult<Vec<KeyInfo>> {
    signing_keys::table
        .order(signing_keys::activates_at.desc())
        .select(KeyInfo::as_select())
        .load(conn)
        .await
}

/// Inserts `row` as the only active key at once, retiring the current one
/// and dropping any pending key, in one transaction.
pub async fn activate_now(
    conn: &mut DbConn,
    row: &SigningKeyRow,
    now: OffsetDateTime,
) -> QueryResult<()> {
    let row = row.clone();
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        diesel::delete(signing_keys::table.filter(signing_keys::state.eq("pending")))
            .execute(conn)
            .await?;
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
        super::notify(conn, KEYS_CHANNEL, &row.kid).await
    })
    .await
}

/// Inserts `row` as the pending key (replacing an earlier pending one).
pub async fn insert_pending(conn: &mut DbConn, row: &SigningKeyRow) -> QueryResult<()> {
    let row = row.clone();
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        diesel::delete(signing_keys::table.filter(signing_keys::state.eq("pending")))
            .execute(conn)
            .await?;
        diesel::insert_into(signing_keys::table)
            .values(&row)
            .execute(conn)
            .await?;
        super::notify(conn, KEYS_CHANNEL, &row.kid).await
    })
    .await
}

/// Makes a pending key whose time has come the active one (the previous
/// active key retires as of that moment). Safe to run on every instance at
/// once: the pending row is locked, and a second runner finds it active.
pub async fn promote_due(conn: &mut DbConn, now: OffsetDateTime) -> QueryResult<bool> {
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        let due: Option<(String, OffsetDateTime)> = signing_keys::table
            .filter(signing_keys::state.eq("pending"))
            .filter(signing_keys::activates_at.le(now))
            .select((signing_keys::kid, signing_keys::activates_at))
            .for_update()
            .first(conn)
            .await
            .optional()?;
        let Some((kid, at)) = due else {
            return Ok(false);
        };
        diesel::update(
            signing_keys::table
                .filter(signing_keys::state.eq("active"))
                .filter(signing_keys::kid.ne(&kid)),
        )
        .set((
            signing_keys::state.eq("retired"),
            signing_keys::retired_at.eq(at),
        ))
        .execute(conn)
        .await?;
        diesel::update(signing_keys::table.find(&kid))
            .set(signing_keys::state.eq("active"))
            .execute(conn)
            .await?;
        Ok(true)
    })
    .await
}

/// Inserts `row` only if there is no active key yet (first start).
pub async fn insert_if_none_active(conn: &mut DbConn, row: &SigningKeyRow) -> QueryResult<()> {
    diesel::insert_into(signing_keys::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes a key (retirement of a compromised key) and announces it.
/// Returns whether it existed.
pub async fn delete(conn: &mut DbConn, kid: &str) -> QueryResult<bool> {
    let kid = kid.to_owned();
    conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
        let n = diesel::delete(signing_keys::table.find(&kid))
            .execute(conn)
            .await?;
        if n == 1 {
            super::notify(conn, KEYS_CHANNEL, &kid).await?;
        }
        Ok(n == 1)
    })
    .await
}

/// Deletes retired keys that can no longer verify anything.
pub async fn delete_retired_before(
    conn: &mut DbConn,
    before: OffsetDateTime,
) -> QueryResult<usize> {
    diesel::delete(signing_keys::table.filter(signing_keys::retired_at.lt(before)))
        .execute(conn)
        .await
}
