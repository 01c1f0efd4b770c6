//! `users` rows.

use super::schema::users;
use super::DbConn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

/// A user row. `Debug` leaves the password hash out.
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub scopes: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub email_verified_at: Option<OffsetDateTime>,
    /// Set while an operator has suspended the account (`user disable`).
    pub disabled_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("password_hash", &"[REDACTED]")
            .field("scopes", &self.scopes)
            .field("email_verified_at", &self.email_verified_at)
            .field("disabled_at", &self.disabled_at)
            .finish_non_exhaustive()
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub scopes: &'a str,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub email_verified_at: Option<OffsetDateTime>,
}

/// How many users there are.
pub async fn count(conn: &mut DbConn) -> QueryResult<i64> {
    users::table.count().get_result(conn).await
}

pub async fn find_by_email(conn: &mut DbConn, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn find(conn: &mut DbConn, id: Uuid) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

/// Inserts the user; `Ok(false)` when the email is already taken.
pub async fn insert(conn: &mut DbConn, new: &NewUser<'_>) -> QueryResult<bool> {
    let n = diesel::insert_into(users::table)
        .values(new)
        .on_conflict(users::email)
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(n == 1)
}

pub async fn set_password_hash(
    conn: &mut DbConn,
    id: Uuid,
    hash: &str,
    now: OffsetDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
        .execute(conn)
        .await?;
    Ok(())
}

/// The stored password hash, locking the user row for the rest of the
/// transaction (so a concurrent password change waits or is seen).
/// The user, locked for the rest of the transaction.
pub async fn find_for_update(conn: &mut DbConn, id: Uuid) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Deletes the user; their sessions, refresh tokens, notes and links go with
/// the row (foreign keys).
pub async fn delete(conn: &mut DbConn, id: Uuid) -> QueryResult<usize> {
    diesel::delete(users::table.find(id)).execute(conn).await
}

pub async fn password_hash_for_update(conn: &mut DbConn, id: Uuid) -> QueryResult<Option<String>> {
    users::table
        .find(id)
        .select(users::password_hash)
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Every user, oldest first (the CLI's `user list`).
pub async fn all(conn: &mut DbConn) -> QueryResult<Vec<User>> {
    users::table
        .order(users::created_at.asc())
        .select(User::as_select())
        .load(conn)
        .await
}

/// Replaces the user's grant; `false` when there is no such user.
pub async fn set_scopes(
    conn: &mut DbConn,
    id: Uuid,
    scopes: &str,
    now: OffsetDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(users::table.find(id))
        .set((users::scopes.eq(scopes), users::updated_at.eq(now)))
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// Marks the address verified (if it was not already).
pub async fn mark_verified(conn: &mut DbConn, id: Uuid, now: OffsetDateTime) -> QueryResult<()> {
    diesel::update(
        users::table
            .find(id)
            .filter(users::email_verified_at.is_null()),
    )
    .set(users::email_verified_at.eq(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Suspends (`Some(now)`) or re-enables (`None`) the account; `false` for an
/// unknown user.
pub async fn set_disabled(
    conn: &mut DbConn,
    id: Uuid,
    at: Option<OffsetDateTime>,
) -> QueryResult<bool> {
    let n = diesel::update(users::table.find(id))
        .set(users::disabled_at.eq(at))
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// Whether the account is suspended, read under the user-row lock.
pub async fn disabled_for_update(conn: &mut DbConn, id: Uuid) -> QueryResult<bool> {
    let at: Option<Option<OffsetDateTime>> = users::table
        .find(id)
        .select(users::disabled_at)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    Ok(matches!(at, Some(Some(_))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_leaves_the_password_hash_out() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let user = User {
            id: Uuid::nil(),
            email: "ann@example.com".into(),
            password_hash: "$argon2id$v=19$secret-hash".into(),
            scopes: String::new(),
            created_at: now,
            updated_at: now,
            email_verified_at: None,
            disabled_at: None,
        };
        let shown = format!("{user:?}");
        assert!(!shown.contains("secret-hash"), "{shown}");
        assert!(shown.contains("ann@example.com"), "{shown}");
    }
}
