//! Deleting an account: every session of the user is revoked first (reason
//! `account_deleted`, through THE revocation path, so every instance refuses
//! its tokens with `access token revoked` at once), then the user and
//! everything that is theirs goes in the same transaction: sessions, refresh
//! tokens, notes and links (by foreign key), cookie state, auth events and
//! every mail to their address. The address can register again, and gets
//! one last mail: the notice that the account was deleted.

use super::mails::Notice;
use super::notices;
use crate::auth::error::AuthError;
use crate::auth::events::RevokeReason;
use crate::auth::sessions::{self, Target};
use crate::auth::state::AppState;
use crate::db::{self, users};
use diesel_async::AsyncConnection;
use uuid::Uuid;

/// Deletes the user `user_id`; `false` when there is no such user (deleted
/// meanwhile).
#[tracing::instrument(name = "auth.delete_account", skip_all)]
pub async fn delete_account(state: &AppState, user_id: Uuid, ip: &str) -> Result<bool, AuthError> {
    let mut conn = db::conn(&state.pool).await?;
    let deleted = conn
        .transaction::<_, AuthError, _>(async |conn| {
            // The user row first: the lock order of every account change.
            let Some(user) = users::find_for_update(conn, user_id).await? else {
                return Ok(false);
            };
            let everything = Target::Everything { user_id };
            sessions::revoke(state, conn, everything, RevokeReason::AccountDeleted, ip).await?;
            db::auth_events::delete_for_user(conn, user_id).await?;
            db::mail_outbox::delete_to(conn, &user.email).await?;
            users::delete(conn, user_id).await?;
            // The one mail that stays: telling the owner it happened.
            notices::queue(state, conn, &user.email, Notice::AccountDeleted, ip).await?;
            Ok(true)
        })
        .await?;
    state.mailer.wakeup.notify_one();
    Ok(deleted)
}
