//! Refresh tokens for API clients (docs/http-api.md#refresh-tokens).
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

use crate::auth::account::links;
use crate::auth::crypto;
use crate::auth::error::AuthError;
use crate::auth::events::{AuthEvent, RevokeReason};
use crate::auth::sessions::{self, Target};
use crate::auth::state::AppState;
use crate::auth::tokens::scopes::{self, ScopeError};
use crate::db::auth_events::{self, NewEvent};
use crate::db::refresh_tokens as rows;
use crate::db::sessions::SessionRow;
use crate::db::users;
use crate::db::DbConn;
use crate::db::{self, DbError};
use crate::metrics;
use diesel::QueryResult;
use diesel_async::AsyncConnection;
use secrecy::ExposeSecret;
use time::OffsetDateTime;
use uuid::Uuid;

pub const PREFIX: &str = "rt_";

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

/// The first refresh token of a new API session.
pub async fn issue_first(
    state: &AppState,
    conn: &mut DbConn,
    session: &SessionRow,
) -> Result<String, AuthError> {
    let token = format!("{PREFIX}{}", crypto::random_token()?);
    rows::insert(conn, session.id, &hash(&token), state.clock.now()).await?;
    Ok(token)
}

/// What a refresh request came to.
pub enum Rotation {
    Rotated {
        successor: String,
        session: Box<SessionRow>,
        /// The access token's scope (narrowed as requested).
        scope: String,
    },
    /// The requested scope is not within the family's grant: nothing spent.
    BadScope(ScopeError),
    /// Unknown, revoked or expired: `invalid_grant` with this description.
    Refused(&'static str),
    /// A spent token replayed after the grace window: the session was revoked.
    Reused(Uuid),
}

/// Spends `presented` and returns its successor (see the module doc).
#[tracing::instrument(name = "auth.rotate", skip_all)]
pub async fn rotate(
    state: &AppState,
    presented: &str,
    requested_scope: Option<&str>,
    ip: &str,
) -> Result<Rotation, AuthError> {
    if !well_formed(presented) {
        return Ok(Rotation::Refused("invalid refresh token"));
    }
    let now = state.clock.now();
    let grace = state.settings.refresh_reuse_grace;
    let idle = state.settings.refresh_token_ttl;
    let presented_hash = hash(presented);
    let mut conn = db::conn(&state.pool).await?;
    let outcome = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let Some((row, session)) =
                rows::find_with_session_for_update(conn, &presented_hash).await?
            else {
                return Ok(Rotation::Refused("invalid refresh token"));
            };
            if session.revoked_at.is_some() {
                return Ok(Rotation::Refused("refresh token revoked"));
            }
            if !session.is_live(now) {
                return Ok(Rotation::Refused("refresh token expired"));
            }
            if state.settings.email_verification_required {
                let user = users::find(conn, session.user_id).await?;
                if user.is_none_or(|u| links::verification_pending(&state.settings, &u)) {
                    return Ok(Rotation::Refused("email address not verified"));
                }
            }
            // `scope` narrows the access token only; checked before spending.
            let scope = match scopes::narrow(requested_scope, &session.scope) {
                Ok(scope) => scope,
                Err(e) => return Ok(Rotation::BadScope(e)),
            };
            let key = state.secrets.refresh_mac_key.expose_secret();
            match (row.spent_at, row.successor_nonce.clone()) {
                (None, _) => {
                    let nonce = crypto::random_bytes::<32>()
                        .map_err(|e| diesel::result::Error::QueryBuilderError(e.into()))?;
                    let successor = successor_token(key, session.id, row.id, &nonce);
                    let idle_expires = (now + idle).min(session.absolute_expires_at);
                    rows::spend(conn, &row, &nonce, &hash(&successor), now, idle_expires).await?;
                    Ok(Rotation::Rotated {
                        successor,
                        session: Box::new(session),
                        scope,
                    })
                }
                (Some(spent), Some(nonce)) if now - spent <= grace => {
                    // The same successor again: a lost response or a racing retry.
                    let successor = successor_token(key, session.id, row.id, &nonce);
                    Ok(Rotation::Rotated {
                        successor,
                        session: Box::new(session),
                        scope,
                    })
                }
                (Some(_), _) => {
                    sessions::revoke(
                        state,
                        conn,
                        Target::One(session.id),
                        RevokeReason::RefreshTokenReuse,
                        ip,
                    )
                    .await?;
                    auth_events::record(
                        conn,
                        NewEvent {
                            kind: AuthEvent::RefreshTokenReuse.as_str(),
                            user_id: Some(session.user_id),
                            session_id: Some(session.id),
                            ip,
                            detail: "spent refresh token replayed after the grace window",
                            created_at: now,
                        },
                    )
                    .await?;
                    Ok(Rotation::Reused(session.id))
                }
            }
        })
        .await
        .map_err(DbError::from)?;
    let result = match &outcome {
        Rotation::Rotated { .. } => "rotated",
        Rotation::BadScope(_) => "invalid_scope",
        Rotation::Refused(_) => "refused",
        Rotation::Reused(_) => "reused",
    };
    metrics::inc(metrics::REFRESHES, &[("result", result)]);
    if let Rotation::Reused(sid) = &outcome {
        metrics::inc(metrics::REUSE_DETECTED, &[]);
        tracing::warn!(session = %sid, "refresh token reuse detected; session revoked");
    }
    Ok(outcome)
}

/// Clears successor nonces older than the grace window: after it they are
/// not needed, and without them nobody (not even someone holding both a
/// database copy and the MAC key) can re-derive a live successor.
pub async fn scrub_nonces(
    conn: &mut DbConn,
    now: OffsetDateTime,
    grace: time::Duration,
) -> QueryResult<usize> {
    rows::clear_nonces(conn, now - grace).await
}

/// The session a refresh token belongs to, if any (for RFC 7009 revocation).
pub async fn session_of(conn: &mut DbConn, token: &str) -> QueryResult<Option<Uuid>> {
    if !well_formed(token) {
        return Ok(None);
    }
    rows::session_of(conn, &hash(token)).await
}
