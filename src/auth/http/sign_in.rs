//! Binding a browser to a new session row once its credentials are proven
//! (login form, registration).

use super::client::ClientInfo;
use super::current_user::CurrentUser;
use super::typed_session::TypedSession;
use crate::auth::crypto;
use crate::auth::error::AuthError;
use crate::auth::events::RevokeReason;
use crate::auth::sessions::{self, Assurance, Kind, Target};
use crate::auth::state::AppState;
use crate::db::users::User;
use diesel_async::AsyncPgConnection;

/// Creates a web session for `user` under a renewed cookie key (no
/// fixation). A live session this browser already had is revoked first.
/// `false` when the password changed meanwhile (no session was created).
pub async fn start_web_session(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    user: &User,
    client: &ClientInfo,
    cookie: &TypedSession,
    previous: Option<&CurrentUser>,
    assurance: Assurance,
) -> Result<bool, AuthError> {
    if let Some(old) = previous {
        sessions::revoke(
            state,
            conn,
            Target::One(old.session.id),
            RevokeReason::Superseded,
            &client.ip,
        )
        .await?;
    }
    let row = sessions::create(
        state,
        conn,
        user,
        Kind::Web,
        &user.scopes,
        client,
        assurance,
    )
    .await?;
    let Some(row) = row else { return Ok(false) };
    let csrf_token = crypto::random_token()?;
    cookie.log_in(row.id, &csrf_token)?;
    Ok(true)
}
