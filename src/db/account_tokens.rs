//! `account_tokens`: single-use links sent by mail (password reset, email
//! verification), stored as SHA-256 hashes. Policy lives in `auth::account::links`.

use super::schema::account_tokens;
use super::DbConn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = account_tokens)]
pub struct AccountToken {
    pub user_id: Uuid,
    pub purpose: String,
    pub expires_at: OffsetDateTime,
    pub used_at: Option<OffsetDateTime>,
}

impl AccountToken {
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.used_at.is_none() && now < self.expires_at
    }
}

/// Inserts a token, deleting the user's earlier tokens of the same purpose
/// (a newer link kills the older ones).
pub async fn replace(
    conn: &mut DbConn,
    token_hash: &[u8],
    user_id: Uuid,
    purpose: &str,
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> QueryResult<()> {
    delete_for_user(conn, user_id, purpose).await?;
    diesel::insert_into(account_tokens::table)
        .values((
            account_tokens::token_hash.eq(token_hash),
            account_tokens::user_id.eq(user_id),
            account_tokens::purpose.eq(purpose),
            account_tokens::created_at.eq(now),
            account_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn find(
    conn: &mut DbConn,
    token_hash: &[u8],
    purpose: &str,
) -> QueryResult<Option<AccountToken>> {
    account_tokens::table
        .filter(account_tokens::token_hash.eq(token_hash))
        .filter(account_tokens::purpose.eq(purpose))
        .select(AccountToken::as_select())
        .first(conn)
        .await
        .optional()
}

/// The token, locked for the rest of the transaction.
pub async fn find_for_update(
    conn: &mut DbConn,
    token_hash: &[u8],
    purpose: &str,
) -> QueryResult<Option<AccountToken>> {
    account_tokens::table
        .filter(account_tokens::token_hash.eq(token_hash))
        .filter(account_tokens::purpose.eq(purpose))
        .select(AccountToken::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub async fn mark_used(
    conn: &mut DbConn,
    token_hash: &[u8],
    now: OffsetDateTime,
) -> QueryResult<()> {
    diesel::update(account_tokens::table.find(token_hash))
        .set(account_tokens::used_at.eq(now))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes the user's tokens of `purpose` (all reset links die when the
/// password changes).
pub async fn delete_for_user(
    conn: &mut DbConn,
    user_id: Uuid,
    purpose: &str,
) -> QueryResult<usize> {
    diesel::delete(
        account_tokens::table
            .filter(account_tokens::user_id.eq(user_id))
            .filter(account_tokens::purpose.eq(purpose)),
    )
    .execute(conn)
    .await
}

/// Deletes tokens that expired before `before` (housekeeping).
pub async fn delete_expired_before(
    conn: &mut DbConn,
    before: OffsetDateTime,
) -> QueryResult<usize> {
    diesel::delete(account_tokens::table.filter(account_tokens::expires_at.lt(before)))
        .execute(conn)
        .await
}
