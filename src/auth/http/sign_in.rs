//! Binding a browser to a new session row once its credentials are proven
//! (login form, registration).

use super::client::ClientInfo;
use super::typed_session::TypedSession;
use crate::auth::crypto;
use crate::auth::events::RevokeReason;
use crate::auth::sessions::{self, Assurance, Kind, Target};
use crate::auth::state::AppState;
use crate::db::users::User;
use crate::db::DbConn;
use crate::error::AppError;

/// Creates a web session for `user`, authenticated as `assurance`, under a
/// renewed cookie key (no fixation). The session this browser's cookie
/// names is revoked first (a no-op when it has already ended). The id comes
/// from the cookie's server-side state, never from a lookup: this function
/// runs on the caller's connection and must not take a second one from the
/// pool while holding it. `false` when the password changed, or a second
/// factor appeared, meanwhile (no session was created).
pub async fn start_web_session(
    state: &AppState,
    conn: &mut DbConn,
    user: &User,
    client: &ClientInfo,
    cookie: &TypedSession,
    assurance: Assurance,
) -> Result<bool, AppError> {
    // A dead cookie is not purged here: signing in renews it instead.
    if let Some(old) = cookie.session_id() {
        sessions::revoke(
            state,
            conn,
            Target::One(old),
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
