//! Is the session behind an access token revoked?
//!
//! Today this asks Postgres (one primary-key lookup). It is the single place
//! the bearer extractor consults, so an in-process view kept current by
//! LISTEN/NOTIFY (DESIGN.md §1) can replace it without touching callers.

use crate::db::schema::sessions;
use crate::db::{self, DbError};
use crate::state::AppState;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

/// `Ok(true)` when the session is revoked or gone. A database failure is an
/// error (the caller answers 503): this never fails open.
pub async fn is_revoked(state: &AppState, sid: Uuid) -> Result<bool, DbError> {
    let mut conn = db::conn(&state.pool).await?;
    let row: Option<Option<OffsetDateTime>> = sessions::table
        .find(sid)
        .select(sessions::revoked_at)
        .first(&mut conn)
        .await
        .optional()?;
    Ok(!matches!(row, Some(None)))
}
