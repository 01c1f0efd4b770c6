//! `notes`: the example resource. Every query is scoped by owner, so another
//! user's note is indistinguishable from a missing one.

use super::schema::notes;
use super::DbConn;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = notes)]
pub struct Note {
    pub id: Uuid,
    pub user_id: Uuid,
    pub title: String,
    pub body: String,
    pub created_at: OffsetDateTime,
}

pub async fn insert(conn: &mut DbConn, note: &Note) -> QueryResult<()> {
    diesel::insert_into(notes::table)
        .values(note)
        .execute(conn)
        .await?;
    Ok(())
}

/// Up to `limit` of the owner's notes, newest first, starting after
/// `after` (the `(created_at, id)` of the last note of the previous page).
pub async fn list(
    conn: &mut DbConn,
    owner: Uuid,
    after: Option<(OffsetDateTime, Uuid)>,
    limit: i64,
) -> QueryResult<Vec<Note>> {
    let mut query = notes::table
        .filter(notes::user_id.eq(owner))
        .order((notes::created_at.desc(), notes::id.desc()))
        .select(Note::as_select())
        .limit(limit)
        .into_boxed();
    if let Some((at, id)) = after {
        query = query.filter(
            notes::created_at
                .lt(at)
                .or(notes::created_at.eq(at).and(notes::id.lt(id))),
        );
    }
    query.load(conn).await
}

pub async fn find(conn: &mut DbConn, owner: Uuid, id: Uuid) -> QueryResult<Option<Note>> {
    notes::table
        .filter(notes::user_id.eq(owner).and(notes::id.eq(id)))
        .select(Note::as_select())
        .first(conn)
        .await
        .optional()
}

/// Returns whether a row was deleted.
pub async fn delete(conn: &mut DbConn, owner: Uuid, id: Uuid) -> QueryResult<bool> {
    let n = diesel::delete(notes::table.filter(notes::user_id.eq(owner).and(notes::id.eq(id))))
        .execute(conn)
        .await?;
    Ok(n == 1)
}
