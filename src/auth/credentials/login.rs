//! Checking an email + password, the one way every entry point does it (login
//! form, password grant): throttle first, before any hashing; then argon2 off
//! the workers, with a dummy hash for unknown emails; failures are counted and
//! recorded as auth events.

use super::{password, second_factor, throttle};
use crate::auth::error::AuthError;
use crate::auth::events::AuthEvent;
use crate::auth::http::client::ClientInfo;
use crate::auth::state::AppState;
use crate::db;
use crate::db::auth_events::{self as events, NewEvent};
use crate::db::users::{self, User};
use crate::metrics;

pub enum AuthOutcome {
    Ok(User),
    Failed,
    Throttled(u64),
}

#[tracing::instrument(name = "auth.authenticate", skip_all)]
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: String,
    client: &ClientInfo,
) -> Result<AuthOutcome, AuthError> {
    let email = email.trim().to_lowercase();
    let user = {
        let mut conn = db::conn(&state.pool).await?;
        users::find_by_email(&mut conn, &email).await?
    };
    let outcome = check_password(
        state,
        &email,
        user,
        password,
        client,
        AuthEvent::LoginFailed,
    )
    .await?;
    let result = match &outcome {
        AuthOutcome::Ok(_) => "ok",
        AuthOutcome::Failed => "failed",
        AuthOutcome::Throttled(_) => "throttled",
    };
    metrics::inc(metrics::SIGN_INS, &[("result", result)]);
    Ok(outcome)
}

/// Checks `password` for `user` (or against the dummy hash when there is no
/// such user), counting the attempt for `email`. A failure is recorded as an
/// auth event of kind `failure_event`.
#[tracing::instrument(name = "auth.check_password", skip_all, fields(known_user = user.is_some()))]
pub async fn check_password(
    state: &AppState,
    email: &str,
    user: Option<User>,
    password: String,
    client: &ClientInfo,
    failure_event: AuthEvent,
) -> Result<AuthOutcome, AuthError> {
    let now = state.clock.now();
    let attempt = {
        let mut conn = db::conn(&state.pool).await?;
        match throttle::begin_attempt(
            &mut conn,
            state.settings.login_max_failures,
            email,
            &client.ip,
            now,
        )
        .await?
        {
            Ok(attempt) => attempt,
            Err(secs) => return Ok(AuthOutcome::Throttled(secs)),
        }
    };
    // No connection is held while argon2 runs.
    let verified = password::verify(
        &state.hasher,
        password,
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await;
    let ok = match verified {
        Ok(ok) => ok,
        Err(e) => {
            // The password was never checked (e.g. 503, hashing queue full):
            // that is no failed sign-in, so it must not count toward a lockout.
            if let Ok(mut conn) = db::conn(&state.pool).await {
                if let Err(undo) = throttle::cancel(&mut conn, attempt).await {
                    tracing::warn!(error = %undo, "could not take back a sign-in attempt");
                }
            }
            return Err(e);
        }
    };
    let mut conn = db::conn(&state.pool).await?;
    match user {
        // A suspended account fails exactly as a wrong password does, after
        // the same full hash.
        Some(user) if ok && user.disabled_at.is_none() => {
            if second_factor::required(&mut conn, user.id).await? {
                // Half-way: this attempt is no failure, but the count stays
                // until the second factor is right too.
                throttle::cancel(&mut conn, attempt).await?;
            } else {
                throttle::succeed(&mut conn, email, attempt).await?;
            }
            Ok(AuthOutcome::Ok(user))
        }
        user => {
            events::record(
                &mut conn,
                NewEvent {
                    kind: failure_event.as_str(),
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
