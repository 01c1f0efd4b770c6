//! `totp_factors` and `recovery_codes`: a user's second factors.

use super::schema::{recovery_codes, totp_factors};
use super::DbConn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

/// A user's authenticator app. `Debug` leaves the sealed secret out.
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = totp_factors)]
pub struct TotpFactor {
    pub user_id: Uuid,
    pub secret_sealed: Vec<u8>,
    pub last_step: i64,
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for TotpFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpFactor")
            .field("user_id", &self.user_id)
            .field("last_step", &self.last_step)
            .finish_non_exhaustive()
    }
}

/// Every authenticator app's (user, sealed secret), for re-sealing.
pub async fn all_sealed(conn: &mut DbConn) -> QueryResult<Vec<(Uuid, Vec<u8>)>> {
    totp_factors::table
        .select((totp_factors::user_id, totp_factors::secret_sealed))
        .load(conn)
        .await
}

pub async fn set_sealed(conn: &mut DbConn, user_id: Uuid, sealed: &[u8]) -> QueryResult<usize> {
    diesel::update(totp_factors::table.find(user_id))
        .set(totp_factors::secret_sealed.eq(sealed))
        .execute(conn)
        .await
}

pub async fn find_totp(conn: &mut DbConn, user_id: Uuid) -> QueryResult<Option<TotpFactor>> {
    totp_factors::table
        .find(user_id)
        .select(TotpFactor::as_select())
        .first(conn)
        .await
        .optional()
}

/// Enables TOTP for the user; `false` if it already was (nothing changed).
pub async fn insert_totp(
    conn: &mut DbConn,
    user_id: Uuid,
    secret_sealed: &[u8],
    accepted_step: i64,
    now: OffsetDateTime,
) -> QueryResult<bool> {
    let n = diesel::insert_into(totp_factors::table)
        .values((
            totp_factors::user_id.eq(user_id),
            totp_factors::secret_sealed.eq(secret_sealed),
            totp_factors::last_step.eq(accepted_step),
            totp_factors::created_at.eq(now),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// Records `step` as accepted, if it is later than every step accepted
/// before: one conditional UPDATE, so of two requests with the same code
/// exactly one gets `true`.
pub async fn accept_step(conn: &mut DbConn, user_id: Uuid, step: i64) -> QueryResult<bool> {
    let n = diesel::update(
        totp_factors::table
            .filter(totp_factors::user_id.eq(user_id))
            .filter(totp_factors::last_step.lt(step)),
    )
    .set(totp_factors::last_step.eq(step))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

pub async fn delete_totp(conn: &mut DbConn, user_id: Uuid) -> QueryResult<bool> {
    let n = diesel::delete(totp_factors::table.find(user_id))
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// Replaces every recovery code of the user with `hashes`.
pub async fn replace_recovery_codes(
    conn: &mut DbConn,
    user_id: Uuid,
    hashes: &[Vec<u8>],
    now: OffsetDateTime,
) -> QueryResult<()> {
    delete_recovery_codes(conn, user_id).await?;
    let rows: Vec<_> = hashes
        .iter()
        .map(|h| {
            (
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(h.as_slice()),
                recovery_codes::created_at.eq(now),
            )
        })
        .collect();
    diesel::insert_into(recovery_codes::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_recovery_codes(conn: &mut DbConn, user_id: Uuid) -> QueryResult<()> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Spends the unused code with this hash: `true` for exactly one of any
/// number of simultaneous uses.
pub async fn use_recovery_code(
    conn: &mut DbConn,
    user_id: Uuid,
    code_hash: &[u8],
    now: OffsetDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::code_hash.eq(code_hash))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// How many unused recovery codes the user has.
pub async fn recovery_codes_left(conn: &mut DbConn, user_id: Uuid) -> QueryResult<i64> {
    recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)
        .await
}
