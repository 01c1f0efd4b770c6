//! `oidc_identities`, `oidc_requests` and `oidc_links`.

use super::schema::{oidc_identities, oidc_links, oidc_requests};
use super::DbConn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

/// A linked identity: the pair (provider, subject) signs in `user_id`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = oidc_identities)]
pub struct Identity {
    pub id: Uuid,
    pub user_id: Uuid,
    pub provider: String,
    pub subject: String,
    pub email: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
}

/// The identity (provider, subject), if linked.
pub async fn find_identity(
    conn: &mut DbConn,
    provider: &str,
    subject: &str,
) -> QueryResult<Option<Identity>> {
    oidc_identities::table
        .filter(oidc_identities::provider.eq(provider))
        .filter(oidc_identities::subject.eq(subject))
        .select(Identity::as_select())
        .first(conn)
        .await
        .optional()
}

/// The user's linked identities, oldest first.
pub async fn identities_of(conn: &mut DbConn, user_id: Uuid) -> QueryResult<Vec<Identity>> {
    oidc_identities::table
        .filter(oidc_identities::user_id.eq(user_id))
        .order(oidc_identities::created_at.asc())
        .select(Identity::as_select())
        .load(conn)
        .await
}

/// Links (provider, subject) to `user_id`; `false` when that identity is
/// already linked (to anyone).
pub async fn insert_identity(
    conn: &mut DbConn,
    user_id: Uuid,
    provider: &str,
    subject: &str,
    email: &str,
    now: OffsetDateTime,
) -> QueryResult<bool> {
    let n = diesel::insert_into(oidc_identities::table)
        .values((
            oidc_identities::id.eq(Uuid::now_v7()),
            oidc_identities::user_id.eq(user_id),
            oidc_identities::provider.eq(provider),
            oidc_identities::subject.eq(subject),
            oidc_identities::email.eq(email),
            oidc_identities::created_at.eq(now),
        ))
        .on_conflict((oidc_identities::provider, oidc_identities::subject))
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(n == 1)
}

pub async fn touch_identity(conn: &mut DbConn, id: Uuid, now: OffsetDateTime) -> QueryResult<()> {
    diesel::update(oidc_identities::table.find(id))
        .set(oidc_identities::last_used_at.eq(now))
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes every provider identity of the user, and any link to one still
/// pending for them; how many identities there were.
pub async fn delete_all_for_user(conn: &mut DbConn, user_id: Uuid) -> QueryResult<usize> {
    diesel::delete(oidc_links::table.filter(oidc_links::user_id.eq(user_id)))
        .execute(conn)
        .await?;
    diesel::delete(oidc_identities::table.filter(oidc_identities::user_id.eq(user_id)))
        .execute(conn)
        .await
}

/// Deletes the user's identity `id`; the deleted row, if it was theirs.
pub async fn delete_identity(
    conn: &mut DbConn,
    user_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<Identity>> {
    diesel::delete(
        oidc_identities::table
            .filter(oidc_identities::id.eq(id))
            .filter(oidc_identities::user_id.eq(user_id)),
    )
    .returning(Identity::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// How many identities the user has (for "the last way in").
pub async fn count_identities(conn: &mut DbConn, user_id: Uuid) -> QueryResult<i64> {
    oidc_identities::table
        .filter(oidc_identities::user_id.eq(user_id))
        .count()
        .get_result(conn)
        .await
}

/// An authorization request on its way to a provider.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oidc_requests)]
pub struct Request {
    pub state_hash: Vec<u8>,
    pub browser_hash: Vec<u8>,
    pub provider: String,
    pub purpose: String,
    pub user_id: Option<Uuid>,
    pub nonce: String,
    pub pkce_verifier: String,
    pub next: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

pub async fn insert_request(conn: &mut DbConn, request: &Request) -> QueryResult<()> {
    diesel::insert_into(oidc_requests::table)
        .values(request)
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes the request with this state hash: deleted by the one call that gets
/// it (single use), expired or not (the caller checks `expires_at`).
pub async fn take_request(conn: &mut DbConn, state_hash: &[u8]) -> QueryResult<Option<Request>> {
    diesel::delete(oidc_requests::table.filter(oidc_requests::state_hash.eq(state_hash)))
        .returning(Request::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// An identity waiting for the owner of the account with its email.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oidc_links)]
pub struct PendingLink {
    pub token_hash: Vec<u8>,
    pub user_id: Uuid,
    pub provider: String,
    pub subject: String,
    pub email: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

pub async fn insert_link(conn: &mut DbConn, link: &PendingLink) -> QueryResult<()> {
    diesel::insert_into(oidc_links::table)
        .values(link)
        .execute(conn)
        .await?;
    Ok(())
}

/// The live pending link with this token hash, left in place.
pub async fn find_link(
    conn: &mut DbConn,
    token_hash: &[u8],
    now: OffsetDateTime,
) -> QueryResult<Option<PendingLink>> {
    oidc_links::table
        .filter(oidc_links::token_hash.eq(token_hash))
        .filter(oidc_links::expires_at.gt(now))
        .select(PendingLink::as_select())
        .first(conn)
        .await
        .optional()
}

/// Takes the live pending link with this token hash for `user_id` (single
/// use; a link for someone else is left alone).
pub async fn take_link(
    conn: &mut DbConn,
    token_hash: &[u8],
    user_id: Uuid,
    now: OffsetDateTime,
) -> QueryResult<Option<PendingLink>> {
    let row = diesel::delete(
        oidc_links::table
            .filter(oidc_links::token_hash.eq(token_hash))
            .filter(oidc_links::user_id.eq(user_id)),
    )
    .returning(PendingLink::as_returning())
    .get_result(conn)
    .await
    .optional()?;
    Ok(row.filter(|l| l.expires_at > now))
}

/// Drops requests and pending links nobody finished.
pub async fn delete_expired(conn: &mut DbConn, now: OffsetDateTime) -> QueryResult<usize> {
    let a = diesel::delete(oidc_requests::table.filter(oidc_requests::expires_at.le(now)))
        .execute(conn)
        .await?;
    let b = diesel::delete(oidc_links::table.filter(oidc_links::expires_at.le(now)))
        .execute(conn)
        .await?;
    Ok(a + b)
}
