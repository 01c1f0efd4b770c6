//! Access tokens (RFC 9068 profile): minting and the ONE verification path.
//!
//! Verification pins the algorithm (EdDSA) on the server side, requires a
//! known `kid`, ignores any key material in the header (`jwk`, `jku`, `x5u`,
//! `x5c` are never read), checks `typ`, `iss`, `aud`, and applies
//! CLOCK_SKEW_LEEWAY to `exp`/`nbf`/`iat` against the injected clock.
//! `authenticate` adds the revocation check: the whole answer to "may this
//! token be used now?", which the `Bearer` extractor asks.

use crate::auth::state::AppState;
pub use crate::auth::tokens::claims::{AccessClaims, Audience, Verified};
use crate::auth::tokens::keys::KeyRing;
use crate::config::Settings;
use crate::db::sessions::SessionRow;
use crate::db::DbConn;
use crate::db::DbError;
use jsonwebtoken::{Algorithm, Header, Validation};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use uuid::Uuid;

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;
pub const TYP: &str = "at+jwt";

pub struct Minted {
    pub token: String,
    pub iat: i64,
    pub exp: i64,
}

/// Signs an access token for session `sid` of user `sub`. `exp` is
/// now + ACCESS_TOKEN_TTL, but never past `session_absolute_expiry`.
/// What a token says about its session besides its id: when it ends at the
/// latest and how it was authenticated.
pub struct SessionFacts {
    pub absolute_expiry: i64,
    pub acr: String,
    pub amr: Vec<String>,
    pub auth_time: i64,
    /// A service account's token: its client id.
    pub client_id: Option<String>,
}

pub fn mint(
    ring: &KeyRing,
    settings: &Settings,
    now: i64,
    sub: Uuid,
    sid: Uuid,
    scope: &str,
    session: SessionFacts,
) -> anyhow::Result<Minted> {
    let exp = (now + settings.access_token_ttl.whole_seconds()).min(session.absolute_expiry);
    let claims = AccessClaims {
        iss: settings.public_url.clone(),
        aud: Audience::One(settings.jwt_audience.clone()),
        sub,
        sid,
        jti: Uuid::new_v4().to_string(),
        iat: now,
        nbf: now,
        exp,
        scope: scope.to_owned(),
        acr: session.acr,
        amr: session.amr,
        auth_time: session.auth_time,
        client_id: session.client_id,
    };
    let (kid, key) = ring.signing_key(now);
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some(TYP.to_owned());
    header.kid = Some(kid.to_owned());
    let token = jsonwebtoken::encode(&header, &claims, key)?;
    crate::metrics::inc(crate::metrics::TOKENS_MINTED, &[]);
    Ok(Minted {
        token,
        iat: now,
        exp,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    /// Past `exp` (beyond the leeway).
    Expired,
    /// The `kid` is not one we know (the caller may reload keys and retry).
    UnknownKey,
    /// Anything else: bad signature, algorithm, type, claims, encoding.
    Invalid,
}

/// True if `token` only uses the characters of a compact JWS and has the
/// right shape; checked before any decoding.
pub fn well_formed(token: &str) -> bool {
    token.len() <= MAX_TOKEN_LEN
        && token.matches('.').count() == 2
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The time checks, applied at every use (fresh or cached).
fn check_times(claims: &AccessClaims, settings: &Settings, now: i64) -> Result<(), VerifyError> {
    let leeway = settings.clock_skew_leeway.whole_seconds();
    if claims.nbf > now + leeway || claims.iat > now + leeway || claims.exp <= claims.iat {
        return Err(VerifyError::Invalid);
    }
    if claims.exp + leeway <= now {
        return Err(VerifyError::Expired);
    }
    Ok(())
}

/// Verifies signature and claims. `now` is unix seconds from the app clock.
pub fn verify(
    ring: &KeyRing,
    settings: &Settings,
    now: i64,
    token: &str,
) -> Result<Verified, VerifyError> {
    if !well_formed(token) {
        return Err(VerifyError::Invalid);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Invalid)?;
    if header.alg != Algorithm::EdDSA {
        return Err(VerifyError::Invalid);
    }
    match header.typ.as_deref() {
        Some(t) if t.eq_ignore_ascii_case(TYP) || t.eq_ignore_ascii_case("application/at+jwt") => {}
        _ => return Err(VerifyError::Invalid),
    }
    let kid = header.kid.as_deref().ok_or(VerifyError::Invalid)?;
    let key = ring.decoding_key(kid).ok_or(VerifyError::UnknownKey)?;

    // The signature only: claim checks below use our clock and leeway.
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<AccessClaims>(token, key, &validation)
        .map_err(|_| VerifyError::Invalid)?;
    let claims = data.claims;

    if claims.iss != settings.public_url || !claims.aud.contains(&settings.jwt_audience) {
        return Err(VerifyError::Invalid);
    }
    // A person's token says how they signed in; only a service account's
    // (claim `client_id`) has no `acr` and `amr`.
    let says_how = !claims.acr.is_empty() && !claims.amr.is_empty();
    if claims.client_id.is_none() != says_how {
        return Err(VerifyError::Invalid);
    }
    check_times(&claims, settings, now)?;
    Ok(Verified {
        claims,
        kid: kid.to_owned(),
    })
}

/// An access token for `session` with `scope` (already narrowed), signed
/// with the active key; `exp` never passes the session's absolute expiry.
pub fn mint_for_session(
    state: &AppState,
    session: &SessionRow,
    scope: &str,
) -> anyhow::Result<Minted> {
    mint(
        &state.keys.current(),
        &state.settings,
        state.clock.unix(),
        session.user_id,
        session.id,
        scope,
        SessionFacts {
            absolute_expiry: session.absolute_expires_at.unix_timestamp(),
            acr: crate::auth::sessions::acr(session),
            amr: crate::auth::sessions::amr(session),
            auth_time: session.auth_time.unix_timestamp(),
            client_id: None,
        },
    )
}

/// Why a token may not be used.
#[derive(Debug)]
pub enum Rejected {
    Expired,
    Invalid,
    Revoked,
    /// The database was needed (key reload, revocation fallback) and failed.
    Db(DbError),
}

impl From<DbError> for Rejected {
    fn from(e: DbError) -> Self {
        Rejected::Db(e)
    }
}

/// Re-reads the signing keys and drops cached tokens of keys that left the
/// ring (a retired key's tokens must stop working at once).
pub async fn reload_keys(state: &AppState, conn: &mut DbConn) -> anyhow::Result<()> {
    state.keys.reload(conn, state.clock.now()).await?;
    let ring = state.keys.current();
    state
        .token_cache
        .retain(|v| ring.decoding_key(&v.kid).is_some());
    Ok(())
}

/// Verifies signature and claims (from the cache when this exact token was
/// verified before), reloading the keys once (rate-limited) when the `kid` is
/// unknown: another instance may have rotated them.
pub async fn verify_with_reload(state: &AppState, token: &str) -> Result<Arc<Verified>, Rejected> {
    let now = state.clock.unix();
    let key = cache_key(token);
    if let Some(hit) = from_cache(state, &key, now) {
        return hit;
    }
    let mut result = verify(&state.keys.current(), &state.settings, now, token);
    if result.as_ref().err() == Some(&VerifyError::UnknownKey)
        && state
            .keys
            .try_claim_reload(state.clock.now(), time::Duration::seconds(10))
    {
        let mut conn = crate::db::conn(&state.pool).await?;
        if let Err(e) = reload_keys(state, &mut conn).await {
            return Err(Rejected::Db(DbError::Unavailable(e)));
        }
        result = verify(&state.keys.current(), &state.settings, now, token);
    }
    match result {
        Ok(verified) => {
            let verified = Arc::new(verified);
            state.token_cache.insert(key, verified.clone());
            Ok(verified)
        }
        Err(VerifyError::Expired) => Err(Rejected::Expired),
        Err(_) => Err(Rejected::Invalid),
    }
}

fn cache_key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The cached verification of exactly this token, with the time checks
/// applied now; `None` on a miss.
fn from_cache(
    state: &AppState,
    key: &[u8; 32],
    now: i64,
) -> Option<Result<Arc<Verified>, Rejected>> {
    // An entry whose key has left the ring is no hit: a token verified
    // against an older ring snapshot can be inserted after `reload_keys`
    // pruned, so the prune alone cannot be trusted.
    let ring = state.keys.current();
    let hit = state
        .token_cache
        .get_if(key, |v| ring.decoding_key(&v.kid).is_some())?;
    Some(match check_times(&hit.claims, &state.settings, now) {
        Ok(()) => Ok(hit),
        Err(VerifyError::Expired) => Err(Rejected::Expired),
        Err(_) => Err(Rejected::Invalid),
    })
}

/// `authenticate` for a token verified before (`None` if it was not): the
/// byte-for-byte same token skips parsing and signature checks, never the
/// time and revocation checks.
pub async fn authenticate_cached(
    state: &AppState,
    token: &str,
) -> Option<Result<Arc<Verified>, Rejected>> {
    let verified = match from_cache(state, &cache_key(token), state.clock.unix())? {
        Ok(v) => v,
        Err(e) => return Some(Err(e)),
    };
    Some(check_revocation(state, verified).await)
}

async fn check_revocation(
    state: &AppState,
    verified: Arc<Verified>,
) -> Result<Arc<Verified>, Rejected> {
    if state
        .revocations
        .is_revoked(&state.pool, verified.claims.sid)
        .await?
    {
        return Err(Rejected::Revoked);
    }
    Ok(verified)
}

/// Verifies `token` fully: signature, claims, then revocation (in memory
/// while the revocation view is fresh, else in the database).
#[tracing::instrument(name = "auth.verify_token", level = "debug", skip_all)]
pub async fn authenticate(state: &AppState, token: &str) -> Result<Arc<Verified>, Rejected> {
    let verified = verify_with_reload(state, token).await?;
    check_revocation(state, verified).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::tokens::keys::{generate, KeyRing};
    use proptest::prelude::*;

    fn ring_and_settings() -> (KeyRing, Settings) {
        let now = time::OffsetDateTime::now_utc();
        let ring = KeyRing::from_rows(&[generate(now).unwrap()]).unwrap();
        let settings = Settings::from_lookup(|_| None).unwrap();
        (ring, settings)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever arrives, verification answers; it never panics and never
        /// accepts garbage.
        #[test]
        fn verify_never_panics_on_arbitrary_input(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let (ring, settings) = ring_and_settings();
            let text = String::from_utf8_lossy(&bytes);
            prop_assert!(verify(&ring, &settings, 1_700_000_000, &text).is_err());
        }

        /// Three base64url-looking parts (a JWS shape) get past the shape
        /// check and into the decoder: still no panic, still refused.
        #[test]
        fn verify_never_panics_on_jws_shaped_input(
            a in "[A-Za-z0-9_-]{0,120}",
            b in "[A-Za-z0-9_-]{0,300}",
            c in "[A-Za-z0-9_-]{0,120}",
        ) {
            let (ring, settings) = ring_and_settings();
            let token = format!("{a}.{b}.{c}");
            prop_assert!(verify(&ring, &settings, 1_700_000_000, &token).is_err());
        }
    }

    #[test]
    fn a_minted_token_verifies_and_one_changed_character_does_not() {
        let (ring, settings) = ring_and_settings();
        let now = 1_700_000_000;
        let sid = Uuid::new_v4();
        let minted = mint(
            &ring,
            &settings,
            now,
            Uuid::new_v4(),
            sid,
            "profile:read",
            SessionFacts {
                absolute_expiry: i64::MAX,
                acr: "aal1".into(),
                amr: vec!["pwd".into()],
                auth_time: now,
                client_id: None,
            },
        )
        .unwrap();
        assert_eq!(
            verify(&ring, &settings, now, &minted.token)
                .unwrap()
                .claims
                .sid,
            sid
        );
        let mut bytes = minted.token.into_bytes();
        let i = bytes.len() - 10;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(bytes).unwrap();
        assert!(verify(&ring, &settings, now, &forged).is_err());
    }
}
