//! Checking an email + password, the one way every entry point does it (login
//! form, password grant): throttle first, before any hashing; then argon2 off
//! the workers, with a dummy hash for unknown emails; failures are counted and
//! recorded as auth events.

use super::client::ClientInfo;
use super::{password, throttle};
use crate::db;
use crate::db::events::{self, NewEvent};
use crate::db::users::{self, User};
use crate::error::AppError;
use crate::state::AppState;

pub enum AuthOutcome {
    Ok(User),
    Failed,
    Throttled(u64),
}

pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: String,
    client: &ClientInfo,
) -> Result<AuthOutcome, AppError> {
    let email = email.trim().to_lowercase();
    let now = state.clock.now();
    let user = {
        let mut conn = db::conn(&state.pool).await?;
        if let Err(secs) = throttle::check(
            &mut conn,
            state.settings.login_max_failures,
            &email,
            &client.ip,
            now,
        )
        .await?
        {
            return Ok(AuthOutcome::Throttled(secs));
        }
        users::find_by_email(&mut conn, &email).await?
    };
    // The connection goes back to the pool while argon2 runs.
    let ok = password::verify(password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let mut conn = db::conn(&state.pool).await?;
    match user {
        Some(user) if ok => {
            throttle::clear(&mut conn, &email).await?;
            Ok(AuthOutcome::Ok(user))
        }
        user => {
            throttle::record_failure(&mut conn, &email, &client.ip, now).await?;
            events::record(
                &mut conn,
                NewEvent {
                    kind: "login_failed",
                    user_id: user.map(|u| u.id),
                    session_id: None,
                    ip: &client.ip,
                    detail: "",
                    created_at: now,
                },
            )
            .await?;
            Ok(AuthOutcome::Failed)
        }
    }
}
