//! The second step of a sign-in (and of re-authentication, and of the
//! password grant's `otp`): a TOTP code or a recovery code for a user who
//! has a second factor. Throttled and counted exactly like passwords: the
//! attempt is claimed (and counted as a failure) before the code is looked
//! at, and only a right code clears the account's count, so knowing the
//! password does not buy unlimited code guesses.

use super::{recovery, throttle, totp};
use crate::auth::account::mails::Notice;
use crate::auth::account::notices;
use crate::auth::error::AuthError;
use crate::auth::events::AuthEvent;
use crate::auth::sessions::{Assurance, ClientInfo};
use crate::auth::state::AppState;
use crate::db;
use crate::db::auth_events::{self, NewEvent};
use crate::db::factors;
use crate::db::users::User;
use crate::db::DbConn;
use secrecy::ExposeSecret;
use uuid::Uuid;

/// What a user has enrolled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enrolled {
    pub totp: bool,
    pub passkeys: i64,
    pub recovery_codes_left: i64,
}

impl Enrolled {
    /// Whether sign-in needs a second step.
    pub fn any(&self) -> bool {
        self.totp || self.passkeys > 0
    }
}

pub async fn enrolled(conn: &mut DbConn, user_id: Uuid) -> Result<Enrolled, AuthError> {
    let passkeys = crate::db::passkeys::count_for_user(conn, user_id).await?;
    enrolled_with(conn, user_id, passkeys).await
}

/// `enrolled`, for a caller that has already loaded the user's `passkeys`
/// (the account page lists them).
pub async fn enrolled_with(
    conn: &mut DbConn,
    user_id: Uuid,
    passkeys: i64,
) -> Result<Enrolled, AuthError> {
    Ok(Enrolled {
        totp: factors::find_totp(conn, user_id).await?.is_some(),
        passkeys,
        recovery_codes_left: factors::recovery_codes_left(conn, user_id).await?,
    })
}

/// Whether `user_id` must pass a second step to sign in.
pub async fn required(conn: &mut DbConn, user_id: Uuid) -> Result<bool, AuthError> {
    Ok(enrolled(conn, user_id).await?.any())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeOutcome {
    /// An authenticator code for a step never accepted before.
    Totp,
    /// An unused recovery code, now spent.
    RecoveryCode,
    Failed,
    /// Too many failures: retry after this many seconds.
    Throttled(u64),
}

impl CodeOutcome {
    /// The session assurance a password plus this code gives.
    pub fn assurance(self) -> Option<Assurance> {
        matches!(self, CodeOutcome::Totp | CodeOutcome::RecoveryCode)
            .then_some(Assurance::PASSWORD_OTP)
    }
}

/// Whether `code` matches the user's authenticator at the current step
/// (± one), consuming that step for good. `false` for a replay.
async fn totp_accepts(
    state: &AppState,
    conn: &mut DbConn,
    user_id: Uuid,
    code: &str,
) -> Result<bool, AuthError> {
    let Some(factor) = factors::find_totp(conn, user_id).await? else {
        return Ok(false);
    };
    let key = state.secrets.factor_key.expose_secret();
    let Some(secret) = totp::open(key, user_id, &factor.secret_sealed)? else {
        tracing::error!("a TOTP secret does not open under the factor key");
        return Ok(false);
    };
    let now = state.clock.now().unix_timestamp();
    let Some(step) = totp::matching_step(&secret, code, now)? else {
        return Ok(false);
    };
    Ok(factors::accept_step(conn, user_id, step).await?)
}

/// Checks a second-factor `code` (TOTP or recovery code) for `user`.
#[tracing::instrument(name = "auth.check_second_factor", skip_all)]
pub async fn check_code(
    state: &AppState,
    user: &User,
    code: &str,
    client: &ClientInfo,
) -> Result<CodeOutcome, AuthError> {
    let now = state.clock.now();
    let mut conn = db::conn(&state.pool).await?;
    let attempt = match throttle::begin_attempt(
        &mut conn,
        state.settings.login_max_failures,
        &user.email,
        &client.ip,
        now,
    )
    .await?
    {
        Ok(attempt) => attempt,
        Err(secs) => return Ok(CodeOutcome::Throttled(secs)),
    };
    let outcome = if code.len() > 64 || code.contains('\0') {
        CodeOutcome::Failed
    } else if totp_accepts(state, &mut conn, user.id, code).await? {
        CodeOutcome::Totp
    } else {
        match recovery::normalise(code) {
            Some(plain)
                if factors::use_recovery_code(
                    &mut conn,
                    user.id,
                    &recovery::hash(user.id, &plain),
                    now,
                )
                .await? =>
            {
                CodeOutcome::RecoveryCode
            }
            _ => CodeOutcome::Failed,
        }
    };
    let event = match outcome {
        CodeOutcome::Totp => None,
        CodeOutcome::RecoveryCode => Some(AuthEvent::RecoveryCodeUsed),
        _ => Some(AuthEvent::MfaFailed),
    };
    if let Some(kind) = event {
        auth_events::record(
            &mut conn,
            NewEvent {
                kind: kind.as_str(),
                user_id: Some(user.id),
                session_id: None,
                ip: &client.ip,
                detail: "",
                created_at: now,
            },
        )
        .await?;
    }
    if outcome == CodeOutcome::RecoveryCode {
        let left = factors::recovery_codes_left(&mut conn, user.id).await?;
        notices::queue(
            state,
            &mut conn,
            &user.email,
            Notice::RecoveryCodeUsed { left },
            &client.ip,
        )
        .await?;
        state.mailer.wakeup.notify_one();
    }
    if outcome != CodeOutcome::Failed {
        throttle::succeed(&mut conn, &user.email, attempt).await?;
    }
    Ok(outcome)
}
