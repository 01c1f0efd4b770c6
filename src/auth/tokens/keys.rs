//! Ed25519 signing keys: generated on first start and kept in Postgres so
//! every instance signs and verifies with the same set; rotated by
//! `hybrid-auth keys rotate`. Retired keys keep verifying (and stay in the
//! JWKS) until every token they signed has expired.

use crate::auth::crypto;
use crate::db::signing_keys::{self as rows, SigningKeyRow};
use crate::db::DbConn;
use jsonwebtoken::{DecodingKey, EncodingKey};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use time::{Duration, OffsetDateTime};

/// PKCS#8 v1 prefix of an Ed25519 private key (RFC 8410); the 32-byte seed follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// A key that signs from `activates_at` on.
struct Signer {
    kid: String,
    activates_at: i64,
    key: EncodingKey,
}

/// A snapshot of the usable keys: every pending, active and recently retired
/// key verifies and is published; the signing key is the newest non-retired
/// key whose activation time has passed (so a pending key starts to sign at
/// its time on every instance, without a reload).
pub struct KeyRing {
    signers: Vec<Signer>,
    verifying: HashMap<String, DecodingKey>,
    jwks: serde_json::Value,
}

impl KeyRing {
    pub(crate) fn from_rows(rows: &[SigningKeyRow]) -> anyhow::Result<Self> {
        let mut signers = Vec::new();
        let mut verifying = HashMap::new();
        let mut jwks = Vec::new();
        for row in rows {
            if row.state != "retired" {
                let mut der = PKCS8_ED25519_PREFIX.to_vec();
                der.extend_from_slice(&row.private_key);
                signers.push(Signer {
                    kid: row.kid.clone(),
                    activates_at: row.activates_at.unix_timestamp(),
                    key: EncodingKey::from_ed_der(&der),
                });
            }
            verifying.insert(row.kid.clone(), DecodingKey::from_ed_der(&row.public_key));
            jwks.push(serde_json::json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": crypto::b64(&row.public_key),
                "kid": row.kid,
                "use": "sig",
                "alg": "EdDSA",
            }));
        }
        if signers.is_empty() {
            anyhow::bail!("no active signing key");
        }
        signers.sort_by_key(|s| std::cmp::Reverse(s.activates_at));
        Ok(KeyRing {
            signers,
            verifying,
            jwks: serde_json::json!({ "keys": jwks }),
        })
    }

    /// The key that signs at `now` (unix seconds): the newest activated one,
    /// or the oldest pending one if none has activated yet.
    pub fn signing_key(&self, now: i64) -> (&str, &EncodingKey) {
        let signer = self
            .signers
            .iter()
            .find(|s| s.activates_at <= now)
            .or(self.signers.last());
        match signer {
            Some(s) => (&s.kid, &s.key),
            // `from_rows` refuses an empty set, so this is not reached.
            None => ("", &self.signers[0].key),
        }
    }

    pub fn decoding_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.verifying.get(kid)
    }

    pub fn jwks(&self) -> &serde_json::Value {
        &self.jwks
    }
}

/// A fresh key row (not yet stored).
pub fn generate(now: OffsetDateTime) -> anyhow::Result<SigningKeyRow> {
    let seed = crypto::random_bytes::<32>()?;
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    let public = signing.verifying_key().to_bytes();
    Ok(SigningKeyRow {
        kid: crypto::b64(&crypto::random_bytes::<12>()?),
        private_key: seed.to_vec(),
        public_key: public.to_vec(),
        state: "active".into(),
        created_at: now,
        retired_at: None,
        activates_at: now,
    })
}

/// How long a retired key stays usable: its last tokens' lifetime plus the
/// leeway, plus a margin for instances that have not reloaded yet.
pub fn retention(access_ttl: Duration, leeway: Duration) -> Duration {
    access_ttl + leeway + Duration::minutes(5)
}

/// The shared, reloadable key ring.
#[derive(Clone)]
pub struct Keys {
    ring: Arc<RwLock<Arc<KeyRing>>>,
    last_reload: Arc<Mutex<OffsetDateTime>>,
    retention: Duration,
}

impl Keys {
    /// Loads the keys, creating the first one if there is none.
    pub async fn load(
        conn: &mut DbConn,
        now: OffsetDateTime,
        retention: Duration,
    ) -> anyhow::Result<Self> {
        rows::promote_due(conn, now).await?;
        let mut rows = rows::usable(conn, now - retention).await?;
        if !rows.iter().any(|r| r.state == "active") {
            rows::insert_if_none_active(conn, &generate(now)?).await?;
            rows = rows::usable(conn, now - retention).await?;
        }
        let ring = KeyRing::from_rows(&rows)?;
        Ok(Keys {
            ring: Arc::new(RwLock::new(Arc::new(ring))),
            last_reload: Arc::new(Mutex::new(now)),
            retention,
        })
    }

    pub fn current(&self) -> Arc<KeyRing> {
        match self.ring.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the keys (after a rotation elsewhere, or periodically).
    pub async fn reload(&self, conn: &mut DbConn, now: OffsetDateTime) -> anyhow::Result<()> {
        rows::promote_due(conn, now).await?;
        let rows = rows::usable(conn, now - self.retention).await?;
        let ring = Arc::new(KeyRing::from_rows(&rows)?);
        match self.ring.write() {
            Ok(mut g) => *g = ring,
            Err(poisoned) => *poisoned.into_inner() = ring,
        }
        if let Ok(mut t) = self.last_reload.lock() {
            *t = now;
        }
        Ok(())
    }

    /// Claims the right to reload now, atomically: true for at most one caller
    /// per `min_gap`, so a burst of garbage `kid`s costs one query at most.
    pub fn try_claim_reload(&self, now: OffsetDateTime, min_gap: Duration) -> bool {
        let mut last = match self.last_reload.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if now - *last >= min_gap {
            *last = now;
            true
        } else {
            false
        }
    }
}

/// Makes a new key and drops keys that can no longer verify anything. With
/// `activation_delay` zero the new key signs at once (the current one
/// retires); otherwise it is published now (JWKS, verification) and signs
/// from `now + activation_delay`, so that verifiers caching the JWKS know it
/// before they meet it. Running instances hear of it at once (NOTIFY).
/// Returns the new kid and its activation time.
pub async fn rotate(
    conn: &mut DbConn,
    now: OffsetDateTime,
    retention: Duration,
    activation_delay: Duration,
) -> anyhow::Result<(String, OffsetDateTime)> {
    let mut row = generate(now)?;
    if activation_delay <= Duration::ZERO {
        rows::activate_now(conn, &row, now).await?;
    } else {
        row.state = "pending".into();
        row.activates_at = now + activation_delay;
        rows::insert_pending(conn, &row).await?;
    }
    rows::delete_retired_before(conn, now - retention).await?;
    Ok((row.kid, row.activates_at))
}

#[derive(Debug, PartialEq, Eq)]
pub enum Retire {
    Retired,
    Unknown,
    /// The key signs right now: rotate (`--now`) first.
    IsSigningKey,
}

/// Drops key `kid` from verification and the JWKS on every instance at once
/// (its tokens stop working). The key that signs now cannot be retired.
pub async fn retire(
    conn: &mut DbConn,
    kid: &str,
    now: OffsetDateTime,
    retention: Duration,
) -> anyhow::Result<Retire> {
    rows::promote_due(conn, now).await?;
    let ring = KeyRing::from_rows(&rows::usable(conn, now - retention).await?)?;
    if ring.signing_key(now.unix_timestamp()).0 == kid {
        return Ok(Retire::IsSigningKey);
    }
    Ok(if rows::delete(conn, kid).await? {
        Retire::Retired
    } else {
        Retire::Unknown
    })
}
