//! Shared application state, handed to handlers as `web::Data<AppState>`.

use crate::auth::keys::Keys;
use crate::auth::revocation::RevocationView;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::PgPool;

pub struct AppState {
    pub settings: Settings,
    pub pool: PgPool,
    pub clock: Clock,
    /// HMAC key for anonymous (double-submit) CSRF tokens.
    pub csrf_key: Vec<u8>,
    /// HMAC key deriving refresh-token successors.
    pub refresh_key: Vec<u8>,
    /// Signing and verification keys (reloadable).
    pub keys: Keys,
    /// Recently revoked sessions, kept current by LISTEN/NOTIFY.
    pub revocations: RevocationView,
}

impl AppState {
    /// Revokes sessions (the one database path, `auth::sessions::revoke`) and
    /// notes them in this instance's revocation view right away.
    pub async fn revoke(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
        target: crate::auth::sessions::Target,
        reason: &'static str,
        ip: &str,
    ) -> diesel::QueryResult<Vec<uuid::Uuid>> {
        let ids = crate::auth::sessions::revoke(conn, target, reason, self.clock.now(), ip).await?;
        self.revocations.note(&ids);
        Ok(ids)
    }

    /// An access token for `session` with `scope` (already narrowed), signed
    /// with the active key; `exp` never passes the session's absolute expiry.
    pub fn mint_for_session(
        &self,
        session: &crate::db::sessions::SessionRow,
        scope: &str,
    ) -> anyhow::Result<crate::auth::tokens::Minted> {
        crate::auth::tokens::mint(
            &self.keys.current(),
            &self.settings,
            self.clock.unix(),
            session.user_id,
            session.id,
            scope,
            session.absolute_expires_at.unix_timestamp(),
        )
    }
}
