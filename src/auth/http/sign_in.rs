//! Binding a browser to a new session row once its credentials are proven
//! (login form, registration).

use super::client::ClientInfo;
use super::current_user::resolve_with;
use super::typed_session::TypedSession;
use crate::auth::crypto;
use crate::auth::events::RevokeReason;
use crate::auth::sessions::{self, Assurance, Kind, Target};
use crate::auth::state::AppState;
use crate::db::users::User;
use crate::error::AppError;
use actix_web::HttpRequest;
use diesel_async::AsyncPgConnection;

/// Creates a web session for `user`, authenticated as `assurance`, under a
/// renewed cookie key (no fixation). A live session this browser (`req`)
/// already had is revoked first. `false` when the password changed
/// meanwhile (no session was created).
pub async fn start_web_session(
    req: &HttpRequest,
    state: &AppState,
    conn: &mut AsyncPgConnection,
    user: &User,
    client: &ClientInfo,
    cookie: &TypedSession,
    assurance: Assurance,
) -> Result<bool, AppError> {
    // A dead cookie is not purged here: signing in renews it instead.
    let previous = resolve_with(req, false).await?;
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
