//! The account lifecycle by mail: password reset and email verification.
//! Links carry 256-bit tokens, stored only hashed, single use, with a
//! lifetime (PASSWORD_RESET_TTL, EMAIL_VERIFY_TTL); a newer link of the same
//! kind kills the older ones, and a changed password kills every reset link.
//! Each mail is queued in the transaction that issues its token.

use super::mails::{self, Notice};
use super::notices;
use crate::auth::credentials::password;
use crate::auth::credentials::throttle;
use crate::auth::crypto;
use crate::auth::error::AuthError;
use crate::auth::events::{AuthEvent, RevokeReason};
use crate::auth::http::client::ClientInfo;
use crate::auth::sessions::{self, Target};
use crate::auth::state::AppState;
use crate::config::Settings;
use crate::db;
use crate::db::account_tokens;
use crate::db::auth_events::{self, NewEvent};
use crate::db::users::{self, User};
use crate::db::DbConn;
use crate::mail;
use diesel_async::AsyncConnection;
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

pub const RESET: &str = "password_reset";
pub const VERIFY: &str = "email_verify";

fn hash(token: &str) -> Vec<u8> {
    crypto::sha256(token.as_bytes())
}

/// Shape check before any lookup: 43 base64url characters.
fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn record(
    conn: &mut DbConn,
    kind: AuthEvent,
    user_id: Uuid,
    ip: &str,
    now: OffsetDateTime,
) -> diesel::QueryResult<()> {
    record_with(conn, kind, user_id, ip, "", now).await
}

/// Records `kind` for `user_id` (no session) with `detail`.
pub(crate) async fn record_with(
    conn: &mut DbConn,
    kind: AuthEvent,
    user_id: Uuid,
    ip: &str,
    detail: &str,
    now: OffsetDateTime,
) -> diesel::QueryResult<()> {
    auth_events::record(
        conn,
        NewEvent {
            kind: kind.as_str(),
            user_id: Some(user_id),
            session_id: None,
            ip,
            detail,
            created_at: now,
        },
    )
    .await
}

/// Issues a verification link for `user` and queues its mail, on `conn`
/// (inside the caller's transaction: registration, resend).
pub async fn queue_verification(
    state: &AppState,
    conn: &mut DbConn,
    user: &User,
    ip: &str,
) -> Result<(), AuthError> {
    let now = state.clock.now();
    let token = crypto::random_token()?;
    let expires = now + state.settings.email_verify_ttl;
    account_tokens::replace(conn, &hash(&token), user.id, VERIFY, now, expires).await?;
    let link = state.mailer.link(&format!("/email/verify/{token}"));
    let mail = mails::verification_mail(&user.email, &link, state.settings.email_verify_ttl)?;
    mail::enqueue(conn, &mail, now).await?;
    record(conn, AuthEvent::VerificationSent, user.id, ip, now).await?;
    Ok(())
}

/// Sends a new verification mail to a signed-in (or, with the login form's
/// resend button, a named) user. `Err(seconds)` when throttled; nothing
/// happens for an unknown or already verified address, with the same answer.
///
/// Only the throttle runs on the request path, the same for every address;
/// looking the account up and queueing its mail happen afterwards, off the
/// request, so the answer's timing does not tell real accounts apart.
pub async fn resend_verification(
    state: Arc<AppState>,
    email: &str,
    client: &ClientInfo,
) -> Result<Result<(), u64>, AuthError> {
    let email = email.trim().to_lowercase();
    let mut conn = db::conn(&state.pool).await?;
    let now = state.clock.now();
    if let Err(wait) = throttle::mail_attempt(&mut conn, "verify", &email, &client.ip, now).await? {
        return Ok(Err(wait));
    }
    drop(conn);
    let ip = client.ip.clone();
    off_the_request("verification mail", async move {
        let mut conn = db::conn(&state.pool).await?;
        let Some(user) = users::find_by_email(&mut conn, &email).await? else {
            return Ok(());
        };
        if user.email_verified_at.is_some() {
            return Ok(());
        }
        conn.transaction::<_, AuthError, _>(async |conn| {
            queue_verification(&state, conn, &user, &ip).await
        })
        .await?;
        state.mailer.wakeup.notify_one();
        Ok(())
    });
    Ok(Ok(()))
}

/// `POST /password/forgot`: queues a reset link for a real account. The
/// caller answers the same whatever happened (no account enumeration);
/// `Err(seconds)` only when throttled (per email and per IP, for known and
/// unknown addresses alike). As with `resend_verification`, only the
/// throttle runs on the request path.
pub async fn request_reset(
    state: Arc<AppState>,
    email: &str,
    client: &ClientInfo,
) -> Result<Result<(), u64>, AuthError> {
    let email = email.trim().to_lowercase();
    let now = state.clock.now();
    let mut conn = db::conn(&state.pool).await?;
    if let Err(wait) = throttle::mail_attempt(&mut conn, "reset", &email, &client.ip, now).await? {
        return Ok(Err(wait));
    }
    drop(conn);
    if email.contains('\0') {
        return Ok(Ok(()));
    }
    let ip = client.ip.clone();
    off_the_request("password reset mail", async move {
        let mut conn = db::conn(&state.pool).await?;
        let Some(user) = users::find_by_email(&mut conn, &email).await? else {
            return Ok(());
        };
        let token = crypto::random_token()?;
        let ttl = state.settings.password_reset_ttl;
        let link = state.mailer.link(&format!("/password/reset/{token}"));
        let mail = mails::password_reset_mail(&user.email, &link, ttl)?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            account_tokens::replace(conn, &hash(&token), user.id, RESET, now, now + ttl).await?;
            mail::enqueue(conn, &mail, now).await?;
            record(conn, AuthEvent::PasswordResetRequested, user.id, &ip, now).await
        })
        .await?;
        state.mailer.wakeup.notify_one();
        Ok(())
    });
    Ok(Ok(()))
}

/// Runs `work` after the response, on this worker; a failure is logged (the
/// user asks again, as they would for a lost mail).
fn off_the_request(
    what: &'static str,
    work: impl std::future::Future<Output = Result<(), AuthError>> + 'static,
) {
    tokio::task::spawn_local(async move {
        if let Err(e) = work.await {
            tracing::warn!(error = %e, "queueing a {what} failed");
        }
    });
}

/// Whether `token` is a live link of `purpose` (the GET pages; spends nothing).
pub async fn is_live(state: &AppState, token: &str, purpose: &str) -> Result<bool, AuthError> {
    if !well_formed(token) {
        return Ok(false);
    }
    let mut conn = db::conn(&state.pool).await?;
    let found = account_tokens::find(&mut conn, &hash(token), purpose).await?;
    Ok(found.is_some_and(|t| t.is_live(state.clock.now())))
}

/// The link with this hash if it is live, locked and spent (for the rest
/// of the transaction); `None` for an unknown, spent or expired link.
async fn spend_live(
    conn: &mut DbConn,
    token_hash: &[u8],
    purpose: &str,
    now: OffsetDateTime,
) -> diesel::QueryResult<Option<Uuid>> {
    let Some(link) = account_tokens::find_for_update(conn, token_hash, purpose).await? else {
        return Ok(None);
    };
    if !link.is_live(now) {
        return Ok(None);
    }
    account_tokens::mark_used(conn, token_hash, now).await?;
    Ok(Some(link.user_id))
}

/// Whether EMAIL_VERIFICATION=required holds `user` back: no sign-in and no
/// token by any route (login form, password grant, refresh grant, browser
/// `/auth/token`) until the address is confirmed. Checked at each use, so it
/// also covers sessions that existed before the setting was switched on.
pub fn verification_pending(settings: &Settings, user: &User) -> bool {
    settings.email_verification_required && user.email_verified_at.is_none()
}

pub enum Reset {
    Done,
    DeadLink,
    /// The new password is not acceptable; nothing was spent.
    Rejected(&'static str),
}

/// `POST /password/reset`: sets the password, spends the link, kills every
/// other reset link, marks the address verified (the mail proved it; when it
/// is the first proof, every passkey, TOTP, recovery code and provider
/// identity attached before it goes, event `address_proven`), records
/// the event and revokes EVERY session of the user (cookies, access and
/// refresh tokens, on every instance), all in one transaction.
pub async fn reset_password(
    state: &AppState,
    token: &str,
    new_password: String,
    client: &ClientInfo,
) -> Result<Reset, AuthError> {
    if !well_formed(token) {
        return Ok(Reset::DeadLink);
    }
    if let Err(m) = password::check_new(&new_password) {
        return Ok(Reset::Rejected(m));
    }
    if !is_live(state, token, RESET).await? {
        return Ok(Reset::DeadLink);
    }
    let new_hash = password::hash(&state.hasher, new_password).await?;
    let now = state.clock.now();
    let token_hash = hash(token);
    let ip = client.ip.as_str();
    let mut conn = db::conn(&state.pool).await?;
    // Whose link it is, read without a lock: the transaction then locks the
    // user row first and the link second, the order a password change uses.
    let Some(owner) = account_tokens::find(&mut conn, &token_hash, RESET).await? else {
        return Ok(Reset::DeadLink);
    };
    let user_id = conn
        .transaction::<_, AuthError, _>(async |conn| {
            let Some(locked) = users::find_for_update(conn, owner.user_id).await? else {
                return Ok(None);
            };
            let Some(user_id) = spend_live(conn, &token_hash, RESET, now).await? else {
                return Ok(None);
            };
            if user_id != owner.user_id {
                return Ok(None);
            }
            users::set_password_hash(conn, user_id, &new_hash, now).await?;
            account_tokens::delete_for_user(conn, user_id, RESET).await?;
            if locked.email_verified_at.is_none() {
                // The first proof of this address: whoever attached a way in
                // before it was proven (someone who registered another
                // person's address first) keeps none of them.
                forget_unproven_ways_in(conn, user_id).await?;
                record(conn, AuthEvent::AddressProven, user_id, ip, now).await?;
            }
            users::mark_verified(conn, user_id, now).await?;
            record(conn, AuthEvent::PasswordReset, user_id, ip, now).await?;
            let everything = Target::Everything { user_id };
            sessions::revoke(state, conn, everything, RevokeReason::PasswordReset, ip).await?;
            notices::queue(state, conn, &locked.email, Notice::PasswordReset, ip).await?;
            Ok(Some(user_id))
        })
        .await?;
    Ok(match user_id {
        Some(_) => {
            state.mailer.wakeup.notify_one();
            Reset::Done
        }
        None => Reset::DeadLink,
    })
}

/// Removes every way into the account other than its password: passkeys,
/// TOTP, recovery codes and provider identities (the sessions and refresh
/// families are revoked by the caller).
async fn forget_unproven_ways_in(conn: &mut DbConn, user_id: Uuid) -> diesel::QueryResult<()> {
    crate::db::passkeys::delete_all_for_user(conn, user_id).await?;
    crate::db::factors::delete_totp(conn, user_id).await?;
    crate::db::factors::delete_recovery_codes(conn, user_id).await?;
    crate::db::oidc::delete_all_for_user(conn, user_id).await?;
    Ok(())
}

/// `POST /email/verify`: marks the address verified and spends the link.
/// Returns the user's id, or `None` for a dead link.
pub async fn verify_email(
    state: &AppState,
    token: &str,
    client: &ClientInfo,
) -> Result<Option<Uuid>, AuthError> {
    if !well_formed(token) {
        return Ok(None);
    }
    let now = state.clock.now();
    let token_hash = hash(token);
    let ip = client.ip.as_str();
    let mut conn = db::conn(&state.pool).await?;
    let user_id = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let Some(user_id) = spend_live(conn, &token_hash, VERIFY, now).await? else {
                return Ok(None);
            };
            users::mark_verified(conn, user_id, now).await?;
            record(conn, AuthEvent::EmailVerified, user_id, ip, now).await?;
            Ok(Some(user_id))
        })
        .await?;
    if let Some(id) = user_id {
        state.session_cache.forget_user(id);
    }
    Ok(user_id)
}
