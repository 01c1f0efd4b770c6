//! Sessions, the revocation unit: creating them at sign-in, recording
//! activity, and `revoke`, the ONE way any session ends early. Logout, the
//! account page's revoke buttons, "log out other sessions", a password
//! change, refresh-token reuse, the API's revoke and logout endpoints all
//! call `revoke`, which marks the rows, drops their cookie state, announces
//! each id to every instance (NOTIFY), records an event, and updates this
//! instance's revocation view at once.

use crate::auth::events::{AuthEvent, RevokeReason};
use crate::auth::sessions::revocation::RevocationView;
use crate::auth::state::AppState;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::auth_events::{self, NewEvent};
use crate::db::session_state;
use crate::db::sessions::{self as rows, NewSession, SessionRow};
use crate::db::users::{self, User};
use crate::db::DbConn;
use diesel::QueryResult;
use diesel_async::AsyncConnection;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

pub use crate::db::sessions::Target;

/// `last_seen_at` is written at most this often per session...
/// Who is on the other end of a request, as sessions and events record it
/// (read from the request by `auth::http::client`).
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

/// How a session was authenticated, as its row and every token of it record
/// it: the assurance level and the RFC 8176 methods (space-separated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assurance {
    pub aal: i16,
    pub amr: &'static str,
}

impl Assurance {
    /// A password sign-in alone.
    pub const PASSWORD: Assurance = Assurance { aal: 1, amr: "pwd" };
    /// Password, then a TOTP or recovery code.
    pub const PASSWORD_OTP: Assurance = Assurance {
        aal: 2,
        amr: "pwd otp mfa",
    };
    /// Password, then a passkey or security key.
    pub const PASSWORD_PASSKEY: Assurance = Assurance {
        aal: 2,
        amr: "pwd hwk mfa",
    };
    /// A passkey alone, with user verification.
    pub const PASSKEY: Assurance = Assurance { aal: 2, amr: "hwk" };
    /// A passkey sign-in that then proved a TOTP code (turning TOTP on).
    pub const PASSKEY_OTP: Assurance = Assurance {
        aal: 2,
        amr: "hwk otp mfa",
    };
    /// Password, passkey and a TOTP code, all in this session.
    pub const PASSWORD_PASSKEY_OTP: Assurance = Assurance {
        aal: 2,
        amr: "pwd hwk otp mfa",
    };
    /// Provider, passkey and a TOTP code, all in this session.
    pub const FEDERATED_PASSKEY_OTP: Assurance = Assurance {
        aal: 2,
        amr: "fed hwk otp mfa",
    };
    /// An OpenID provider's ID token alone.
    pub const FEDERATED: Assurance = Assurance { aal: 1, amr: "fed" };
    /// An OpenID provider, then a TOTP or recovery code.
    pub const FEDERATED_OTP: Assurance = Assurance {
        aal: 2,
        amr: "fed otp mfa",
    };
    /// An OpenID provider, then a passkey or security key.
    pub const FEDERATED_PASSKEY: Assurance = Assurance {
        aal: 2,
        amr: "fed hwk mfa",
    };

    /// What a session authenticated with `amr` (its space-separated methods)
    /// says once it has also proven `method` (`"otp"` or `"hwk"`): the
    /// methods it actually used, never one it did not (RFC 8176 order:
    /// the first factor, then `hwk`, `otp`, and `mfa` when more than one).
    pub fn adding(amr: &str, method: &str) -> Assurance {
        let has = |m: &str| amr.split(' ').any(|x| x == m) || method == m;
        let table: [(&[&str], Assurance); 8] = [
            (&["pwd", "hwk", "otp"], Assurance::PASSWORD_PASSKEY_OTP),
            (&["fed", "hwk", "otp"], Assurance::FEDERATED_PASSKEY_OTP),
            (&["pwd", "otp"], Assurance::PASSWORD_OTP),
            (&["pwd", "hwk"], Assurance::PASSWORD_PASSKEY),
            (&["fed", "otp"], Assurance::FEDERATED_OTP),
            (&["fed", "hwk"], Assurance::FEDERATED_PASSKEY),
            (&["hwk", "otp"], Assurance::PASSKEY_OTP),
            (&["hwk"], Assurance::PASSKEY),
        ];
        table
            .iter()
            .find(|(methods, _)| methods.iter().all(|m| has(m)))
            .map(|(_, a)| *a)
            // An `otp` alone, with no first factor on record: the session
            // proved only that.
            .unwrap_or(Assurance { aal: 1, amr: "otp" })
    }

    /// What a session authenticated with `amr` keeps of it once the user has
    /// no second factor left: the first factor it used.
    pub fn first_factor(amr: &str) -> Assurance {
        let has = |m: &str| amr.split(' ').any(|x| x == m);
        if has("pwd") {
            Assurance::PASSWORD
        } else if has("fed") {
            Assurance::FEDERATED
        } else {
            Assurance::PASSKEY
        }
    }

    /// The same second step after an OpenID provider instead of a password.
    pub fn after_provider(self) -> Assurance {
        match self {
            Assurance::PASSWORD => Assurance::FEDERATED,
            Assurance::PASSWORD_OTP => Assurance::FEDERATED_OTP,
            Assurance::PASSWORD_PASSKEY => Assurance::FEDERATED_PASSKEY,
            other => other,
        }
    }
}

/// The `acr` claim of a session: `"aal1"` or `"aal2"`.
pub fn acr(session: &SessionRow) -> String {
    format!("aal{}", session.aal)
}

/// The `amr` claim of a session: its methods as a list.
pub fn amr(session: &SessionRow) -> Vec<String> {
    session
        .amr
        .split(' ')
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect()
}

pub const TOUCH_INTERVAL: Duration = Duration::minutes(1);

/// ...and at most every quarter of the idle timeout, so that a session in
/// use never reaches its idle expiry between two writes, whatever
/// SESSION_IDLE_TIMEOUT is.
pub fn touch_interval(settings: &Settings, kind: &str) -> Duration {
    TOUCH_INTERVAL.min(idle_timeout(settings, kind) / 4)
}

/// Whether this request should move last-seen and the idle expiry.
pub fn touch_due(settings: &Settings, session: &SessionRow, now: OffsetDateTime) -> bool {
    now - session.last_seen_at >= touch_interval(settings, &session.kind)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Web,
    Api,
    /// An API key: not a sign-in, but a revocation unit like one.
    Key,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Web => "web",
            Kind::Api => "api",
            Kind::Key => "key",
        }
    }
}

/// Idle lifetime of a session of this kind: web sessions use
/// SESSION_IDLE_TIMEOUT, API refresh families REFRESH_TOKEN_TTL.
pub fn idle_timeout(settings: &Settings, kind: &str) -> Duration {
    if kind == Kind::Api.as_str() {
        settings.refresh_token_ttl
    } else {
        settings.session_idle_timeout
    }
}

/// Creates a session row for `user` and records the sign-in, provided the
/// user's password hash is still `user.password_hash` (the one just
/// verified): a password change that commits while argon2 ran must not be
/// outlived by a session opened with the old password. `None` if it changed,
/// and `None` for a single-factor (aal1) session of a user who has a second
/// factor: the factors are read under the same user-row lock that enabling
/// one takes, so once an enable has committed no aal1 session of that user
/// can be created (the caller's earlier check may have raced it).
pub async fn create(
    state: &AppState,
    conn: &mut DbConn,
    user: &User,
    kind: Kind,
    scope: &str,
    client: &ClientInfo,
    assurance: Assurance,
) -> QueryResult<Option<SessionRow>> {
    let settings = &state.settings;
    let now = state.clock.now();
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        let current = users::password_hash_for_update(conn, user.id).await?;
        if current.as_deref() != Some(user.password_hash.as_str()) {
            return Ok(None);
        }
        if assurance.aal < 2 && has_second_factor(conn, user.id).await? {
            return Ok(None);
        }
        // Suspended meanwhile (`user disable` takes the same lock).
        if users::disabled_for_update(conn, user.id).await? {
            return Ok(None);
        }
        let absolute = now + settings.session_absolute_timeout;
        let idle = (now + idle_timeout(settings, kind.as_str())).min(absolute);
        let new = NewSession {
            id: Uuid::now_v7(),
            user_id: user.id,
            kind: kind.as_str(),
            scope,
            created_at: now,
            last_seen_at: now,
            idle_expires_at: idle,
            absolute_expires_at: absolute,
            user_agent: &client.user_agent,
            ip: &client.ip,
            aal: assurance.aal,
            amr: assurance.amr,
            auth_time: now,
        };
        rows::insert(conn, &new).await?;
        auth_events::record(
            conn,
            NewEvent {
                kind: AuthEvent::LoginOk.as_str(),
                user_id: Some(user.id),
                session_id: Some(new.id),
                ip: &client.ip,
                detail: kind.as_str(),
                created_at: now,
            },
        )
        .await?;
        rows::find(conn, new.id).await
    })
    .await
}

/// Whether `user_id` has a second factor (read inside the caller's lock).
async fn has_second_factor(conn: &mut DbConn, user_id: Uuid) -> QueryResult<bool> {
    Ok(crate::db::factors::find_totp(conn, user_id)
        .await?
        .is_some()
        || crate::db::passkeys::count_for_user(conn, user_id).await? > 0)
}

/// Moves last-seen and the idle expiry (when `touch_due`), updating `session`
/// to match.
pub async fn touch(
    settings: &Settings,
    conn: &mut DbConn,
    session: &mut SessionRow,
    now: OffsetDateTime,
) -> QueryResult<()> {
    let idle = (now + idle_timeout(settings, &session.kind)).min(session.absolute_expires_at);
    rows::touch(conn, session.id, now, idle).await?;
    session.last_seen_at = now;
    session.idle_expires_at = idle;
    Ok(())
}

/// Records how a live session is now authenticated (re-authentication sets
/// `auth_time` too; enabling or removing a second factor does not), and drops
/// this instance's cached copy. `false` when the session is no longer live.
pub async fn set_assurance(
    state: &AppState,
    conn: &mut DbConn,
    session_id: Uuid,
    assurance: Assurance,
    auth_time: Option<OffsetDateTime>,
) -> QueryResult<bool> {
    let done =
        rows::set_assurance(conn, session_id, assurance.aal, assurance.amr, auth_time).await?;
    state.session_cache.forget_session(session_id);
    Ok(done)
}

/// Revokes sessions: the one revocation path (see the module doc). Returns
/// the ids that were live before; idempotent. Called inside a caller's
/// transaction it joins it (the NOTIFY is delivered at the outer commit);
/// this instance's view is updated as soon as this call succeeds, which can
/// only err on the side of refusing a token early.
pub async fn revoke(
    state: &AppState,
    conn: &mut DbConn,
    target: Target,
    reason: RevokeReason,
    ip: &str,
) -> QueryResult<Vec<Uuid>> {
    let ids = revoke_with(&state.revocations, &state.clock, conn, target, reason, ip).await?;
    // This instance's cached copies go at once (other instances' entries are
    // refused through their revocation view, which outlives them).
    for id in &ids {
        state.session_cache.forget_session(*id);
    }
    Ok(ids)
}

/// How long the revocation view keeps a revoked id: until every access token
/// of the session has expired (ACCESS_TOKEN_TTL + CLOCK_SKEW_LEEWAY), and at
/// least as long as a cached signed-in session can live, whatever the TTLs,
/// so no cache ever answers for a session the view has forgotten.
pub fn view_window(settings: &Settings) -> Duration {
    let cache_life = Duration::try_from(super::cache::ENTRY_TTL).unwrap_or(Duration::MINUTE);
    (settings.access_token_ttl + settings.clock_skew_leeway).max(cache_life + Duration::seconds(5))
}

/// `revoke` for a process without an `AppState` (the CLI): the same work,
/// with the view to update given explicitly.
#[tracing::instrument(name = "auth.revoke", skip_all, fields(reason = reason.as_str()))]
pub async fn revoke_with(
    view: &RevocationView,
    clock: &Clock,
    conn: &mut DbConn,
    target: Target,
    reason: RevokeReason,
    ip: &str,
) -> QueryResult<Vec<Uuid>> {
    let now = clock.now();
    let ids = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let revoked = rows::mark_revoked(conn, target, reason.as_str(), now).await?;
            let ids: Vec<Uuid> = revoked.iter().map(|(id, _, _)| *id).collect();
            if ids.is_empty() {
                return Ok(ids);
            }
            session_state::delete_for_sessions(conn, &ids).await?;
            for (id, user_id, kind) in &revoked {
                rows::notify_revoked(conn, *id).await?;
                // A key's end is told as such in the security activity.
                let event = if kind == Kind::Key.as_str() {
                    AuthEvent::ApiKeyRevoked
                } else {
                    AuthEvent::SessionRevoked
                };
                auth_events::record(
                    conn,
                    NewEvent {
                        kind: event.as_str(),
                        user_id: Some(*user_id),
                        session_id: Some(*id),
                        ip,
                        detail: reason.as_str(),
                        created_at: now,
                    },
                )
                .await?;
            }
            Ok(ids)
        })
        .await?;
    view.note(&ids);
    if !ids.is_empty() {
        let n = u64::try_from(ids.len()).unwrap_or(u64::MAX);
        crate::metrics::add(
            crate::metrics::REVOCATIONS,
            &[("reason", reason.as_str())],
            n,
        );
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::Assurance;

    #[test]
    fn a_new_factor_joins_the_methods_the_session_used() {
        let cases = [
            ("pwd", "otp", Assurance::PASSWORD_OTP),
            ("pwd", "hwk", Assurance::PASSWORD_PASSKEY),
            ("hwk", "otp", Assurance::PASSKEY_OTP),
            ("hwk", "hwk", Assurance::PASSKEY),
            ("fed", "otp", Assurance::FEDERATED_OTP),
            ("fed", "hwk", Assurance::FEDERATED_PASSKEY),
            ("pwd hwk mfa", "otp", Assurance::PASSWORD_PASSKEY_OTP),
            ("pwd otp mfa", "otp", Assurance::PASSWORD_OTP),
            ("fed otp mfa", "hwk", Assurance::FEDERATED_PASSKEY_OTP),
        ];
        for (amr, method, expected) in cases {
            assert_eq!(Assurance::adding(amr, method), expected, "{amr} + {method}");
        }
    }

    #[test]
    fn removing_the_last_factor_keeps_the_first_factor_used() {
        assert_eq!(Assurance::first_factor("pwd otp mfa"), Assurance::PASSWORD);
        assert_eq!(Assurance::first_factor("fed hwk mfa"), Assurance::FEDERATED);
        assert_eq!(Assurance::first_factor("hwk otp mfa"), Assurance::PASSKEY);
    }
}
