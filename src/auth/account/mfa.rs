//! Turning second factors on and off, and recovery codes. Every change of a
//! user's factors goes through the one revocation model: every OTHER session
//! of the user is revoked (reason `mfa_changed`: cookies, access and refresh
//! tokens, on every instance), while the session that made the change stays
//! signed in, raised to aal2 when a factor is enabled and back to aal1 when
//! the last one goes. Each change is recorded, and the owner gets a notice.

use super::mails::Notice;
use super::notices;
use crate::auth::credentials::passkeys::NewCredential;
use crate::auth::credentials::{recovery, second_factor, totp};
use crate::auth::error::AuthError;
use crate::auth::events::{AuthEvent, RevokeReason};
use crate::auth::http::client::ClientInfo;
use crate::auth::http::current_user::CurrentUser;
use crate::auth::sessions::{self, Assurance, Target};
use crate::auth::state::AppState;
use crate::db;
use crate::db::auth_events::{self, NewEvent};
use crate::db::passkeys::{self, NewPasskey};
use crate::db::DbConn;
use crate::db::{factors, users};
use diesel_async::AsyncConnection;
use secrecy::ExposeSecret;
use uuid::Uuid;

/// A TOTP secret being set up: shown to the user, kept sealed in their
/// session state until they type a code from it.
pub struct TotpSetup {
    pub sealed: Vec<u8>,
    pub base32: String,
    pub uri: String,
    pub qr_svg: String,
}

/// Draws a new secret for `user` to scan.
pub fn start_totp(state: &AppState, user_id: Uuid, email: &str) -> anyhow::Result<TotpSetup> {
    let secret = totp::new_secret()?;
    show_totp(
        state,
        user_id,
        email,
        &totp::seal(state.secrets.factor_key.expose_secret(), user_id, &secret)?,
    )?
    .ok_or_else(|| anyhow::anyhow!("a fresh TOTP secret does not open"))
}

/// What the set-up page shows for a sealed secret (`None` if it is not this
/// user's).
pub fn show_totp(
    state: &AppState,
    user_id: Uuid,
    email: &str,
    sealed: &[u8],
) -> anyhow::Result<Option<TotpSetup>> {
    let key = state.secrets.factor_key.expose_secret();
    let Some(secret) = totp::open(key, user_id, sealed)? else {
        return Ok(None);
    };
    let uri = totp::otpauth_uri(&secret, email);
    Ok(Some(TotpSetup {
        sealed: sealed.to_vec(),
        base32: totp::base32(&secret),
        qr_svg: totp::qr_svg(&uri)?,
        uri,
    }))
}

/// Why nothing can be attached yet to an account whose address is not proven
/// (whoever registered someone else's address must not be able to keep a way
/// in once the owner takes it back).
pub const ADDRESS_UNCONFIRMED: &str = "Confirm your email address first: an authenticator app, a passkey or a sign-in provider can be added once the address is proven to be yours. The account page sends the confirmation mail again.";

pub enum TotpEnable {
    /// On; the recovery codes to show once (only when this is the user's
    /// first second factor).
    Enabled {
        recovery_codes: Option<Vec<String>>,
    },
    WrongCode,
    AlreadyOn,
    /// The session ended meanwhile.
    Conflict,
    /// The address is not confirmed yet: nothing changed.
    AddressUnconfirmed,
}

async fn record(
    conn: &mut DbConn,
    kind: AuthEvent,
    user: &CurrentUser,
    ip: &str,
    detail: &str,
    now: time::OffsetDateTime,
) -> diesel::QueryResult<()> {
    auth_events::record(
        conn,
        NewEvent {
            kind: kind.as_str(),
            user_id: Some(user.user.id),
            session_id: Some(user.session.id),
            ip,
            detail,
            created_at: now,
        },
    )
    .await
}

/// Ends every other session of the user: a second factor changed.
async fn revoke_others(
    state: &AppState,
    conn: &mut DbConn,
    user: &CurrentUser,
    ip: &str,
) -> diesel::QueryResult<()> {
    let others = Target::AllOfUser {
        user_id: user.user.id,
        keep: Some(user.session.id),
    };
    sessions::revoke(state, conn, others, RevokeReason::MfaChanged, ip).await?;
    Ok(())
}

/// Locks the user row (the lock order of every account change) and checks
/// that the acting session is still live.
async fn lock_live(
    state: &AppState,
    conn: &mut DbConn,
    user: &CurrentUser,
) -> diesel::QueryResult<bool> {
    Ok(lock_live_user(state, conn, user).await?.is_some())
}

/// `lock_live`, giving the locked (current) user row when the session is live.
async fn lock_live_user(
    state: &AppState,
    conn: &mut DbConn,
    user: &CurrentUser,
) -> diesel::QueryResult<Option<users::User>> {
    let now = state.clock.now();
    let Some(locked) = users::find_for_update(conn, user.user.id).await? else {
        return Ok(None);
    };
    let live = db::sessions::find_for_update(conn, user.session.id)
        .await?
        .is_some_and(|s| s.is_live(now));
    Ok(live.then_some(locked))
}

/// A new set of recovery codes for `user_id`, and what is stored of them.
fn fresh_codes(user_id: Uuid) -> anyhow::Result<(Vec<String>, Vec<Vec<u8>>)> {
    let codes = recovery::generate()?;
    let hashes = codes
        .iter()
        .filter_map(|c| recovery::normalise(c))
        .map(|c| recovery::hash(user_id, &c))
        .collect();
    Ok((codes, hashes))
}

/// Enables TOTP with the secret being set up, if `code` is right for it
/// (the step it matches is the first one spent: the set-up code can never
/// sign in).
pub async fn enable_totp(
    state: &AppState,
    user: &CurrentUser,
    sealed: &[u8],
    code: &str,
    client: &ClientInfo,
) -> Result<TotpEnable, AuthError> {
    let key = state.secrets.factor_key.expose_secret();
    let Some(secret) = totp::open(key, user.user.id, sealed)? else {
        return Ok(TotpEnable::WrongCode);
    };
    let now = state.clock.now();
    let Some(step) = totp::matching_step(&secret, code, now.unix_timestamp())? else {
        return Ok(TotpEnable::WrongCode);
    };
    let ip = client.ip.as_str();
    let mut conn = db::conn(&state.pool).await?;
    let outcome = conn
        .transaction::<_, AuthError, _>(async |conn| {
            let Some(locked) = lock_live_user(state, conn, user).await? else {
                return Ok(TotpEnable::Conflict);
            };
            if locked.email_verified_at.is_none() {
                return Ok(TotpEnable::AddressUnconfirmed);
            }
            let first = !second_factor::required(conn, user.user.id).await?;
            if !factors::insert_totp(conn, user.user.id, sealed, step, now).await? {
                return Ok(TotpEnable::AlreadyOn);
            }
            let change = Change {
                event: AuthEvent::MfaEnabled,
                detail: "totp",
                notice: Notice::TotpEnabled,
            };
            let recovery_codes = factor_added(state, conn, user, ip, first, change).await?;
            Ok(TotpEnable::Enabled { recovery_codes })
        })
        .await?;
    state.mailer.wakeup.notify_one();
    Ok(outcome)
}

/// What a factor change records and tells the owner.
struct Change {
    event: AuthEvent,
    detail: &'static str,
    notice: Notice,
}

/// The rest of enabling a factor (inside its transaction): recovery codes
/// when it is the user's first (returned, to show once), the event, every
/// other session revoked, this one raised to aal2, the notice.
async fn factor_added(
    state: &AppState,
    conn: &mut DbConn,
    user: &CurrentUser,
    ip: &str,
    first: bool,
    change: Change,
) -> Result<Option<Vec<String>>, AuthError> {
    let now = state.clock.now();
    let codes = if first {
        let (codes, hashes) = fresh_codes(user.user.id)?;
        factors::replace_recovery_codes(conn, user.user.id, &hashes, now).await?;
        Some(codes)
    } else {
        None
    };
    record(conn, change.event, user, ip, change.detail, now).await?;
    revoke_others(state, conn, user, ip).await?;
    // The code or passkey just proven joins what this session already used.
    let method = if change.detail == "passkey" {
        "hwk"
    } else {
        "otp"
    };
    let raised = Assurance::adding(&user.session.amr, method);
    sessions::set_assurance(state, conn, user.session.id, raised, None).await?;
    notices::queue(state, conn, &user.user.email, change.notice, ip).await?;
    Ok(codes)
}

/// The rest of removing a factor (inside its transaction): when it was the
/// last, the recovery codes go and this session keeps only its first factor;
/// the event, every other session revoked, the notice.
async fn factor_removed(
    state: &AppState,
    conn: &mut DbConn,
    user: &CurrentUser,
    ip: &str,
    change: Change,
) -> Result<(), AuthError> {
    let now = state.clock.now();
    if !second_factor::required(conn, user.user.id).await? {
        factors::delete_recovery_codes(conn, user.user.id).await?;
        // Back to the first factor this session used (never to one it
        // did not use: a passkey session stays `hwk`, a provider one `fed`).
        let first = Assurance::first_factor(&user.session.amr);
        sessions::set_assurance(state, conn, user.session.id, first, None).await?;
    }
    record(conn, change.event, user, ip, change.detail, now).await?;
    revoke_others(state, conn, user, ip).await?;
    notices::queue(state, conn, &user.user.email, change.notice, ip).await?;
    Ok(())
}

/// Removes the authenticator app (and, as it is the last second factor, the
/// recovery codes). `false` when there was none or the session ended.
pub async fn disable_totp(
    state: &AppState,
    user: &CurrentUser,
    client: &ClientInfo,
) -> Result<bool, AuthError> {
    let ip = client.ip.as_str();
    let mut conn = db::conn(&state.pool).await?;
    let done = conn
        .transaction::<_, AuthError, _>(async |conn| {
            if !lock_live(state, conn, user).await?
                || !factors::delete_totp(conn, user.user.id).await?
            {
                return Ok(false);
            }
            let change = Change {
                event: AuthEvent::MfaDisabled,
                detail: "totp",
                notice: Notice::TotpRemoved,
            };
            factor_removed(state, conn, user, ip, change).await?;
            Ok(true)
        })
        .await?;
    state.mailer.wakeup.notify_one();
    Ok(done)
}

/// Why a passkey was not added.
pub enum PasskeyAdd {
    /// Added; the recovery codes to show once when it is the first factor.
    Added {
        id: Uuid,
        recovery_codes: Option<Vec<String>>,
    },
    /// Its credential is registered already.
    Duplicate,
    Conflict,
    /// The address is not confirmed yet: nothing stored.
    AddressUnconfirmed,
}

/// Stores a verified passkey for `user` under `name`: a second factor
/// added, with everything that goes with it.
pub async fn add_passkey(
    state: &AppState,
    user: &CurrentUser,
    name: &str,
    credential: &NewCredential,
    client: &ClientInfo,
) -> Result<PasskeyAdd, AuthError> {
    let ip = client.ip.as_str();
    let now = state.clock.now();
    let id = Uuid::now_v7();
    let mut conn = db::conn(&state.pool).await?;
    let outcome = conn
        .transaction::<_, AuthError, _>(async |conn| {
            let Some(locked) = lock_live_user(state, conn, user).await? else {
                return Ok(PasskeyAdd::Conflict);
            };
            if locked.email_verified_at.is_none() {
                return Ok(PasskeyAdd::AddressUnconfirmed);
            }
            let first = !second_factor::required(conn, user.user.id).await?;
            let new = NewPasskey {
                id,
                user_id: user.user.id,
                name,
                credential_id: &credential.credential_id,
                passkey: &credential.record,
                created_at: now,
            };
            if !passkeys::insert(conn, &new).await? {
                return Ok(PasskeyAdd::Duplicate);
            }
            let change = Change {
                event: AuthEvent::PasskeyAdded,
                detail: "passkey",
                notice: Notice::PasskeyAdded(name.to_owned()),
            };
            let recovery_codes = factor_added(state, conn, user, ip, first, change).await?;
            Ok(PasskeyAdd::Added { id, recovery_codes })
        })
        .await?;
    state.mailer.wakeup.notify_one();
    Ok(outcome)
}

pub enum PasskeyRemoval {
    Removed,
    /// Not theirs, or the session ended.
    NotFound,
    /// It is the only way left to sign in (no password, no other passkey,
    /// no linked identity).
    LastWayIn,
}

/// Removes the user's passkey `id`, unless nothing else could sign them in.
pub async fn remove_passkey(
    state: &AppState,
    user: &CurrentUser,
    id: Uuid,
    client: &ClientInfo,
) -> Result<PasskeyRemoval, AuthError> {
    let ip = client.ip.as_str();
    let mut conn = db::conn(&state.pool).await?;
    let done = conn
        .transaction::<_, AuthError, _>(async |conn| {
            if !lock_live(state, conn, user).await? {
                return Ok(PasskeyRemoval::NotFound);
            }
            // The user row is locked: a parallel unlink waits.
            let passwordless = users::find(conn, user.user.id)
                .await?
                .is_none_or(|u| u.password_hash.is_empty());
            if passwordless
                && passkeys::count_for_user(conn, user.user.id).await? <= 1
                && db::oidc::count_identities(conn, user.user.id).await? == 0
            {
                return Ok(PasskeyRemoval::LastWayIn);
            }
            let Some(name) = passkeys::delete_for_user(conn, user.user.id, id).await? else {
                return Ok(PasskeyRemoval::NotFound);
            };
            let change = Change {
                event: AuthEvent::PasskeyRemoved,
                detail: "passkey",
                notice: Notice::PasskeyRemoved(name),
            };
            factor_removed(state, conn, user, ip, change).await?;
            Ok(PasskeyRemoval::Removed)
        })
        .await?;
    state.mailer.wakeup.notify_one();
    Ok(done)
}

/// Replaces the recovery codes; the new ones to show once, or `None` when
/// the user has no second factor (codes alone would be no factor).
pub async fn regenerate_recovery_codes(
    state: &AppState,
    user: &CurrentUser,
    client: &ClientInfo,
) -> Result<Option<Vec<String>>, AuthError> {
    let now = state.clock.now();
    let (codes, hashes) = fresh_codes(user.user.id)?;
    let ip = client.ip.as_str();
    let mut conn = db::conn(&state.pool).await?;
    conn.transaction::<_, AuthError, _>(async |conn| {
        if !lock_live(state, conn, user).await?
            || !second_factor::required(conn, user.user.id).await?
        {
            return Ok(None);
        }
        factors::replace_recovery_codes(conn, user.user.id, &hashes, now).await?;
        record(conn, AuthEvent::RecoveryCodesRegenerated, user, ip, "", now).await?;
        Ok(Some(codes))
    })
    .await
}
