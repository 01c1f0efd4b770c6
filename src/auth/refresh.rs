//! Refresh tokens for API clients (DESIGN.md §6).
//!
//! * Opaque `rt_` + 256 bits, stored only as SHA-256; the session row is the
//!   family.
//! * Every use rotates: the presented token is spent, a successor issued.
//! * Replaying a spent token within REFRESH_REUSE_GRACE returns the SAME
//!   successor: it is re-derived as HMAC(key, session, parent, nonce) from the
//!   nonce stored on the spent row, never stored in the clear.
//! * Replaying it later is theft: the whole session is revoked.
//! * Concurrent uses serialize on a row lock (`SELECT … FOR UPDATE`), so N
//!   racing refreshes of one token yield one successor, never two chains.

use super::client::ClientInfo;
use super::crypto;
use super::scopes;
use super::sessions::{self, Target};
use crate::db::events::{self, NewEvent};
use crate::db::schema::{refresh_tokens, sessions as sessions_table};
use crate::db::sessions::SessionRow;
use crate::db::{self, DbError};
use crate::error::ApiError;
use crate::routes::api::body::required;
use crate::routes::api::token::{scope_error, token_response};
use crate::state::AppState;
use actix_web::HttpResponse;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

pub const PREFIX: &str = "rt_";

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
struct RefreshRow {
    id: Uuid,
    session_id: Uuid,
    spent_at: Option<OffsetDateTime>,
    successor_nonce: Option<Vec<u8>>,
}

fn hash(token: &str) -> Vec<u8> {
    crypto::sha256(token.as_bytes())
}

/// Shape check before any lookup: `rt_` + 43 base64url characters.
pub fn well_formed(token: &str) -> bool {
    token.len() == PREFIX.len() + 43
        && token.starts_with(PREFIX)
        && token[PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn successor_token(key: &[u8], session_id: Uuid, parent_id: Uuid, nonce: &[u8]) -> String {
    let mac = crypto::hmac_sha256(
        key,
        &[
            b"refresh-successor",
            session_id.as_bytes(),
            parent_id.as_bytes(),
            nonce,
        ],
    );
    format!("{PREFIX}{}", crypto::b64(&mac))
}

async fn insert(
    conn: &mut AsyncPgConnection,
    session_id: Uuid,
    token: &str,
    now: OffsetDateTime,
) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq(Uuid::now_v7()),
            refresh_tokens::session_id.eq(session_id),
            refresh_tokens::token_hash.eq(hash(token)),
            refresh_tokens::created_at.eq(now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The first refresh token of a new API session.
pub async fn issue_first(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    session: &SessionRow,
) -> Result<String, ApiError> {
    let token = format!("{PREFIX}{}", crypto::random_token()?);
    insert(conn, session.id, &token, state.clock.now()).await?;
    Ok(token)
}

enum Outcome {
    Rotated {
        successor: String,
        session: Box<SessionRow>,
        scope: String,
    },
    /// The requested scope is not within the family's grant: nothing spent.
    BadScope(scopes::ScopeError),
    Refused(&'static str),
    /// A spent token replayed after the grace window: the session was revoked.
    Reused(Uuid),
}

/// `grant_type=refresh_token`.
pub async fn refresh_grant(
    state: &AppState,
    params: &HashMap<String, String>,
    client: &ClientInfo,
) -> Result<HttpResponse, ApiError> {
    let presented = required(params, "refresh_token")?;
    if !well_formed(presented) {
        return Err(ApiError::invalid_grant("invalid refresh token"));
    }
    // Unknown scope names are refused before anything is touched.
    let requested = params.get("scope").cloned();
    scopes::narrow(requested.as_deref(), &scopes::ALL.join(" ")).map_err(scope_error)?;
    let now = state.clock.now();
    let mut conn = db::conn(&state.pool).await?;
    let outcome = rotate(&mut conn, state, presented, requested, now, &client.ip).await?;
    let (successor, session, scope) = match outcome {
        Outcome::Rotated {
            successor,
            session,
            scope,
        } => (successor, session, scope),
        Outcome::BadScope(e) => return Err(scope_error(e)),
        Outcome::Refused(why) => return Err(ApiError::invalid_grant(why)),
        Outcome::Reused(_) => {
            return Err(ApiError::invalid_grant(
                "refresh token reused; the session has been revoked",
            ))
        }
    };
    let minted = state.mint_for_session(&session, &scope)?;
    Ok(token_response(&minted, &scope, Some(&successor)))
}

async fn rotate(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    presented: &str,
    requested_scope: Option<String>,
    now: OffsetDateTime,
    ip: &str,
) -> Result<Outcome, DbError> {
    let key = state.refresh_key.clone();
    let grace = state.settings.refresh_reuse_grace;
    let idle = state.settings.refresh_token_ttl;
    let presented_hash = hash(presented);
    let ip = ip.to_owned();
    let outcome = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            let row: Option<RefreshRow> = refresh_tokens::table
                .filter(refresh_tokens::token_hash.eq(&presented_hash))
                .select(RefreshRow::as_select())
                .for_update()
                .first(conn)
                .await
                .optional()?;
            let Some(row) = row else {
                return Ok(Outcome::Refused("invalid refresh token"));
            };
            let session: SessionRow = sessions_table::table
                .find(row.session_id)
                .select(SessionRow::as_select())
                .for_update()
                .first(conn)
                .await?;
            if session.revoked_at.is_some() {
                return Ok(Outcome::Refused("refresh token revoked"));
            }
            if !session.is_live(now) {
                return Ok(Outcome::Refused("refresh token expired"));
            }
            // `scope` narrows the access token only; checked before spending.
            let scope = match scopes::narrow(requested_scope.as_deref(), &session.scope) {
                Ok(scope) => scope,
                Err(e) => return Ok(Outcome::BadScope(e)),
            };
            match (row.spent_at, row.successor_nonce) {
                (None, _) => {
                    let nonce = crypto::random_bytes::<32>()
                        .map_err(|e| diesel::result::Error::QueryBuilderError(e.into()))?;
                    diesel::update(refresh_tokens::table.find(row.id))
                        .set((
                            refresh_tokens::spent_at.eq(now),
                            refresh_tokens::successor_nonce.eq(nonce.to_vec()),
                        ))
                        .execute(conn)
                        .await?;
                    let successor = successor_token(&key, session.id, row.id, &nonce);
                    insert(conn, session.id, &successor, now).await?;
                    let idle_expires = (now + idle).min(session.absolute_expires_at);
                    crate::db::sessions::touch(conn, session.id, now, idle_expires).await?;
                    Ok(Outcome::Rotated {
                        successor,
                        session: Box::new(session),
                        scope,
                    })
                }
                (Some(spent), Some(nonce)) if now - spent <= grace => {
                    // The same successor again: a lost response or a racing retry.
                    let successor = successor_token(&key, session.id, row.id, &nonce);
                    Ok(Outcome::Rotated {
                        successor,
                        session: Box::new(session),
                        scope,
                    })
                }
                (Some(_), _) => {
                    sessions::revoke(
                        conn,
                        Target::One(session.id),
                        "refresh_token_reuse",
                        now,
                        &ip,
                    )
                    .await?;
                    events::record(
                        conn,
                        NewEvent {
                            kind: "refresh_token_reuse",
                            user_id: Some(session.user_id),
                            session_id: Some(session.id),
                            ip: &ip,
                            detail: "spent refresh token replayed after the grace window",
                            created_at: now,
                        },
                    )
                    .await?;
                    Ok(Outcome::Reused(session.id))
                }
            }
        })
        .await?;
    if let Outcome::Reused(sid) = &outcome {
        state.revocations.note(&[*sid]);
        tracing::warn!(session = %sid, "refresh token reuse detected; session revoked");
    }
    Ok(outcome)
}

/// Clears successor nonces older than the grace window: after it they are
/// not needed, and without them nobody (not even someone holding both a
/// database copy and the MAC key) can re-derive a live successor.
pub async fn scrub_nonces(
    conn: &mut AsyncPgConnection,
    now: OffsetDateTime,
    grace: time::Duration,
) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::successor_nonce.is_not_null())
            .filter(refresh_tokens::spent_at.lt(now - grace)),
    )
    .set(refresh_tokens::successor_nonce.eq(None::<Vec<u8>>))
    .execute(conn)
    .await
}

/// The session a refresh token belongs to, if any (for RFC 7009 revocation).
pub async fn session_of(conn: &mut AsyncPgConnection, token: &str) -> QueryResult<Option<Uuid>> {
    if !well_formed(token) {
        return Ok(None);
    }
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash(token)))
        .select(refresh_tokens::session_id)
        .first(conn)
        .await
        .optional()
}

/// Deletes refresh tokens whose session is revoked or past its expiry.
pub async fn purge_dead(conn: &mut AsyncPgConnection, now: OffsetDateTime) -> QueryResult<usize> {
    let dead = sessions_table::table
        .filter(
            sessions_table::revoked_at
                .is_not_null()
                .or(sessions_table::idle_expires_at.le(now))
                .or(sessions_table::absolute_expires_at.le(now)),
        )
        .select(sessions_table::id);
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::session_id.eq_any(dead)))
        .execute(conn)
        .await
}
