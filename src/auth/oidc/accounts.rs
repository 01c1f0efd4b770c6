//! From a checked identity (provider, `sub`) to an account. The identity is
//! the pair, never the email: a linked identity signs its user in; an
//! unknown one whose email no account has becomes a new account (no
//! password); an unknown one whose email an account has is linked to it
//! only once that account's owner has signed in (a pending link, single
//! use, 10 minutes, bound to this browser by a cookie).

use super::id_token::IdClaims;
use crate::auth::crypto;
use crate::auth::email::Email;
use crate::auth::error::AuthError;
use crate::auth::events::AuthEvent;
use crate::auth::tokens::scopes;
use crate::db::oidc::{self as rows, Identity, PendingLink};
use crate::db::users::{self, NewUser, User};
use crate::db::DbConn;
use crate::db::{self, passkeys};
use diesel_async::AsyncConnection;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How long the owner of an account has to sign in and link an identity.
pub const LINK_TTL: Duration = Duration::minutes(10);

pub enum Outcome {
    /// A linked identity: sign this user in.
    SignIn(User),
    /// A new account, made from the ID token.
    Created(User),
    /// An account has this email: the owner must sign in to link it. `token`
    /// goes into the browser's cookie.
    LinkNeeded { token: String, email: String },
    /// No account, and REGISTRATION=closed.
    RegistrationClosed,
    /// The provider gave no usable email for a new account.
    NoEmail,
}

pub async fn record(
    conn: &mut DbConn,
    kind: AuthEvent,
    user_id: Uuid,
    ip: &str,
    detail: &str,
    now: OffsetDateTime,
) -> Result<(), AuthError> {
    crate::auth::account::links::record_with(conn, kind, user_id, ip, detail, now)
        .await
        .map_err(db::DbError::from)?;
    Ok(())
}

/// Decides what the identity `(provider, claims.sub)` stands for.
pub async fn resolve(
    settings: &crate::config::Settings,
    conn: &mut DbConn,
    provider: &str,
    claims: &IdClaims,
    ip: &str,
    now: OffsetDateTime,
) -> Result<Outcome, AuthError> {
    let db = |e: diesel::result::Error| AuthError::from(db::DbError::from(e));
    if let Some(identity) = rows::find_identity(conn, provider, &claims.sub)
        .await
        .map_err(db)?
    {
        rows::touch_identity(conn, identity.id, now)
            .await
            .map_err(db)?;
        let user = users::find(conn, identity.user_id)
            .await
            .map_err(db)?
            .ok_or_else(|| anyhow::anyhow!("identity of a vanished user"))?;
        return Ok(Outcome::SignIn(user));
    }
    let Some(email) = claims.email.as_deref().and_then(|e| Email::parse(e).ok()) else {
        return Ok(Outcome::NoEmail);
    };
    if let Some(owner) = users::find_by_email(conn, email.as_str())
        .await
        .map_err(db)?
    {
        let token = crypto::random_token()?;
        rows::insert_link(
            conn,
            &PendingLink {
                token_hash: crypto::sha256(token.as_bytes()),
                user_id: owner.id,
                provider: provider.to_owned(),
                subject: claims.sub.clone(),
                email: email.as_str().to_owned(),
                created_at: now,
                expires_at: now + LINK_TTL,
            },
        )
        .await
        .map_err(db)?;
        return Ok(Outcome::LinkNeeded {
            token,
            email: email.as_str().to_owned(),
        });
    }
    if !settings.registration_open {
        return Ok(Outcome::RegistrationClosed);
    }
    let grant = scopes::default_grant();
    let new = NewUser {
        id: Uuid::now_v7(),
        email: email.as_str(),
        // No password: an empty hash, which no password verifies.
        password_hash: "",
        scopes: &grant,
        created_at: now,
        updated_at: now,
        email_verified_at: claims.email_verified().then_some(now),
    };
    let created = conn
        .transaction::<_, AuthError, _>(async |conn| {
            if !users::insert(conn, &new).await.map_err(db)? {
                return Ok(None);
            }
            if !rows::insert_identity(conn, new.id, provider, &claims.sub, email.as_str(), now)
                .await
                .map_err(db)?
            {
                // The same identity, linked a moment ago by a parallel callback.
                return Err(AuthError::BadInput);
            }
            record(conn, AuthEvent::IdentityLinked, new.id, ip, provider, now).await?;
            users::find(conn, new.id).await.map_err(db)
        })
        .await?;
    // An account with that email appeared meanwhile: nothing is linked.
    Ok(match created {
        Some(user) => Outcome::Created(user),
        None => Outcome::RegistrationClosed,
    })
}

/// The live pending link of this browser's cookie, if any.
pub async fn pending_link(
    conn: &mut DbConn,
    token: &str,
    now: OffsetDateTime,
) -> Result<Option<PendingLink>, AuthError> {
    Ok(
        rows::find_link(conn, &crypto::sha256(token.as_bytes()), now)
            .await
            .map_err(db::DbError::from)?,
    )
}

pub enum Linked {
    Done(String),
    /// No live pending link for this user.
    Gone,
    /// That identity is linked to someone already.
    Taken,
    /// The account's address is not confirmed yet: nothing is attached to
    /// an address before it is proven (the link stays for after that).
    AddressUnconfirmed,
}

/// Links the pending identity to `user_id` (who signed in after it was
/// created: `auth_time` no older than the link).
pub async fn complete_link(
    conn: &mut DbConn,
    token: &str,
    user_id: Uuid,
    auth_time: OffsetDateTime,
    ip: &str,
    now: OffsetDateTime,
) -> Result<Linked, AuthError> {
    let db = |e: diesel::result::Error| AuthError::from(db::DbError::from(e));
    conn.transaction::<_, AuthError, _>(async |conn| {
        let owner = crate::db::users::find_for_update(conn, user_id)
            .await
            .map_err(db)?;
        if owner.is_some_and(|u| u.email_verified_at.is_none()) {
            return Ok(Linked::AddressUnconfirmed);
        }
        let link = rows::take_link(conn, &crypto::sha256(token.as_bytes()), user_id, now)
            .await
            .map_err(db)?;
        let Some(link) = link else {
            return Ok(Linked::Gone);
        };
        if auth_time < link.created_at {
            // This session signed in before the identity came back: the
            // owner has not proven anything since. The link stays used up.
            return Ok(Linked::Gone);
        }
        if !rows::insert_identity(
            conn,
            user_id,
            &link.provider,
            &link.subject,
            &link.email,
            now,
        )
        .await
        .map_err(db)?
        {
            return Ok(Linked::Taken);
        }
        record(
            conn,
            AuthEvent::IdentityLinked,
            user_id,
            ip,
            &link.provider,
            now,
        )
        .await?;
        Ok(Linked::Done(link.provider))
    })
    .await
}

pub async fn identities(conn: &mut DbConn, user_id: Uuid) -> Result<Vec<Identity>, AuthError> {
    Ok(rows::identities_of(conn, user_id)
        .await
        .map_err(db::DbError::from)?)
}

pub enum Unlinked {
    Done,
    NotFound,
    /// It is the only way left to sign in (no password, no passkey).
    LastWayIn,
}

/// Unlinks the user's identity `id`, unless nothing else could sign them in.
pub async fn unlink(
    conn: &mut DbConn,
    user_id: Uuid,
    id: Uuid,
    ip: &str,
    now: OffsetDateTime,
) -> Result<Unlinked, AuthError> {
    let db = |e: diesel::result::Error| AuthError::from(db::DbError::from(e));
    conn.transaction::<_, AuthError, _>(async |conn| {
        // Locks the user: a parallel unlink or passkey removal waits.
        let Some(user) = users::find_for_update(conn, user_id).await.map_err(db)? else {
            return Ok(Unlinked::NotFound);
        };
        let others = rows::count_identities(conn, user_id).await.map_err(db)? - 1;
        let passkeys = passkeys::count_for_user(conn, user_id).await.map_err(db)?;
        if user.password_hash.is_empty() && others < 1 && passkeys == 0 {
            return Ok(Unlinked::LastWayIn);
        }
        let Some(gone) = rows::delete_identity(conn, user_id, id).await.map_err(db)? else {
            return Ok(Unlinked::NotFound);
        };
        record(
            conn,
            AuthEvent::IdentityUnlinked,
            user_id,
            ip,
            &gone.provider,
            now,
        )
        .await?;
        Ok(Unlinked::Done)
    })
    .await
}
