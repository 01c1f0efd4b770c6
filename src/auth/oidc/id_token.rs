//! Checking an ID token (OpenID Connect Core §3.1.3.7) with the
//! `openidconnect` crate's `IdTokenVerifier`.
//!
//! The library checks: the JOSE header (no `crit`, no nested or encrypted
//! token, `typ` absent or a JWT type); the algorithm against the list the
//! provider announced (`id_token_signing_alg_values_supported`, RS256 when
//! it named none), with HMAC and `none` struck from it here first; the
//! signature against the provider's JWKS (the key of the token's `kid`, or
//! the only compatible key when it has none); `iss` exactly the configured
//! issuer; `aud` containing our client id and no other audience (the
//! library's default: every other audience is untrusted); `exp` against the
//! app clock less CLOCK_SKEW_LEEWAY (its `set_time_fn`); `iat` through its
//! issue-time hook, no later than the app clock plus the leeway; and
//! `nonce` equal to the request's (compared as SHA-256 digests, so in
//! constant time).
//!
//! The app still checks: `azp`, when present, is our client id (the library
//! leaves `azp` to its callers); `sub` is 1 to 255 bytes (what the
//! identities table keeps); and that only a JSON `true` in `email_verified`
//! verifies the email (a string there makes the library refuse the token).
//! Pure: the caller fetches the JWKS and, on `UnknownKey`, fetches it again
//! at most once a minute (provider.rs) and retries.

use crate::clock::Clock;
use openidconnect::core::{
    CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    ClaimsVerificationError, ClientId, IssuerUrl, JwsSigningAlgorithm, Nonce,
    SignatureVerificationError,
};

/// What the token must say.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    /// The app clock: "now" for `exp` and `iat`.
    pub clock: &'a Clock,
    pub leeway: time::Duration,
    /// The provider's `id_token_signing_alg_values_supported` (RS256 if it
    /// named none).
    pub algorithms: &'a [String],
}

/// The claims the app reads from a checked ID token.
#[derive(Debug, Clone)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Vec<String>,
    /// Unix seconds.
    pub exp: i64,
    pub iat: i64,
    pub auth_time: Option<i64>,
    pub nonce: Option<String>,
    pub azp: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    email_verified: bool,
}

impl IdClaims {
    /// The provider said `"email_verified": true` (a JSON boolean).
    pub fn email_verified(&self) -> bool {
        self.email_verified
    }

    fn from_verified(claims: &CoreIdTokenClaims) -> Self {
        IdClaims {
            iss: claims.issuer().to_string(),
            sub: claims.subject().to_string(),
            aud: claims.audiences().iter().map(|a| a.to_string()).collect(),
            exp: claims.expiration().timestamp(),
            iat: claims.issue_time().timestamp(),
            auth_time: claims.auth_time().map(|t| t.timestamp()),
            nonce: claims.nonce().map(|n| n.secret().clone()),
            azp: claims.authorized_party().map(|a| a.to_string()),
            email: claims.email().map(|e| e.to_string()),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.to_string()),
            email_verified: claims.email_verified() == Some(true),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Invalid {
    /// No key of the JWKS fits the token's `kid` and algorithm: refresh the
    /// JWKS and retry.
    UnknownKey,
    /// Refused; the text is for the log, never for the user.
    Bad(&'static str),
}

/// The algorithms an ID token may be signed with: asymmetric ones only
/// (never `none`, never HMAC with the client secret); RS256 when the
/// provider announced none.
fn allowed(algorithms: &[String]) -> Vec<CoreJwsSigningAlgorithm> {
    if algorithms.is_empty() {
        return vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256];
    }
    algorithms
        .iter()
        .filter_map(|a| serde_json::from_value(serde_json::Value::String(a.clone())).ok())
        .filter(|a: &CoreJwsSigningAlgorithm| {
            !a.uses_shared_secret() && *a != CoreJwsSigningAlgorithm::None
        })
        .collect()
}

/// The app clock as the library's time type. Out of its range (never, in
/// practice) it says the end of time, so that every token is expired.
fn chrono_time(t: time::OffsetDateTime) -> chrono::DateTime<chrono::Utc> {
    i64::try_from(t.unix_timestamp_nanos() / 1_000)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_micros)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

/// The verifier for one check. A public-client verifier: it has no client
/// secret, so it could not accept an HMAC-signed token even if the
/// algorithm list let one through.
fn verifier(
    jwks: &CoreJsonWebKeySet,
    expected: &Expected,
) -> Result<CoreIdTokenVerifier<'static>, Invalid> {
    let issuer =
        IssuerUrl::new(expected.issuer.to_owned()).map_err(|_| Invalid::Bad("issuer URL"))?;
    let leeway = chrono::Duration::microseconds(
        i64::try_from(expected.leeway.whole_microseconds()).unwrap_or(0),
    );
    let exp_clock = expected.clock.clone();
    let iat_clock = expected.clock.clone();
    Ok(CoreIdTokenVerifier::new_public_client(
        ClientId::new(expected.client_id.to_owned()),
        issuer,
        jwks.clone(),
    )
    .require_issuer_match(true)
    .require_audience_match(true)
    .set_allowed_algs(allowed(expected.algorithms))
    // The library refuses once `time_fn() >= exp`: with the clock set back
    // by the leeway, that is `exp + leeway <= now`.
    .set_time_fn(move || chrono_time(exp_clock.now()) - leeway)
    .set_issue_time_verifier_fn(move |iat| {
        if iat > chrono_time(iat_clock.now()) + leeway {
            Err("issued in the future".to_owned())
        } else {
            Ok(())
        }
    }))
}

fn invalid(e: &ClaimsVerificationError) -> Invalid {
    use ClaimsVerificationError as E;
    use SignatureVerificationError as S;
    match e {
        E::SignatureVerification(S::NoMatchingKey) => Invalid::UnknownKey,
        E::SignatureVerification(S::AmbiguousKeyId(_)) => Invalid::Bad("ambiguous key"),
        E::SignatureVerification(S::DisallowedAlg(_) | S::UnsupportedAlg(_) | S::NoSignature) => {
            Invalid::Bad("algorithm not allowed")
        }
        E::SignatureVerification(_) => Invalid::Bad("bad signature"),
        E::InvalidIssuer(_) => Invalid::Bad("iss"),
        E::InvalidAudience(_) => Invalid::Bad("aud"),
        E::Expired(_) => Invalid::Bad("expired or issued in the future"),
        E::InvalidNonce(_) => Invalid::Bad("nonce"),
        E::Unsupported(_) => Invalid::Bad("unsupported token"),
        _ => Invalid::Bad("claims"),
    }
}

/// Checks `token` (as the library parsed it from the token response).
pub fn validate(
    token: &CoreIdToken,
    jwks: &CoreJsonWebKeySet,
    expected: &Expected,
) -> Result<IdClaims, Invalid> {
    let verifier = verifier(jwks, expected)?;
    let nonce = Nonce::new(expected.nonce.to_owned());
    let claims = token.claims(&verifier, &nonce).map_err(|e| {
        tracing::debug!(error = %e, "ID token refused by the verifier");
        invalid(&e)
    })?;
    let claims = IdClaims::from_verified(claims);
    if claims
        .azp
        .as_deref()
        .is_some_and(|azp| azp != expected.client_id)
    {
        return Err(Invalid::Bad("azp"));
    }
    if claims.sub.is_empty() || claims.sub.len() > 255 {
        return Err(Invalid::Bad("sub"));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::crypto;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use std::str::FromStr;

    const PKCS8_ED25519_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];

    struct Key {
        kid: &'static str,
        encoding: EncodingKey,
        jwk: serde_json::Value,
    }

    fn key(kid: &'static str, seed: u8) -> Key {
        let secret = [seed; 32];
        let public = ed25519_dalek::SigningKey::from_bytes(&secret).verifying_key();
        let mut der = PKCS8_ED25519_PREFIX.to_vec();
        der.extend_from_slice(&secret);
        Key {
            kid,
            encoding: EncodingKey::from_ed_der(&der),
            jwk: serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                "kid": kid, "x": crypto::b64(public.as_bytes()),
            }),
        }
    }

    fn jwks(keys: &[&Key]) -> CoreJsonWebKeySet {
        let keys: Vec<_> = keys.iter().map(|k| k.jwk.clone()).collect();
        serde_json::from_value(serde_json::json!({ "keys": keys })).unwrap()
    }

    const NOW: i64 = 1_800_000_000;

    /// An app clock at NOW (it ticks on from there, by the test's run time).
    fn clock() -> Clock {
        let clock = Clock::system();
        let at = time::OffsetDateTime::from_unix_timestamp(NOW).unwrap();
        clock.advance(at - clock.now());
        clock
    }

    fn claims() -> serde_json::Value {
        serde_json::json!({
            "iss": "https://op.example", "sub": "u-1", "aud": "app",
            "exp": NOW + 300, "iat": NOW, "nonce": "n-1",
            "email": "ann@example.com", "email_verified": true, "name": "Ann",
        })
    }

    fn sign_with(key: &Key, alg: Algorithm, claims: &serde_json::Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(key.kid.into());
        jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
    }

    fn sign(key: &Key, claims: &serde_json::Value) -> String {
        sign_with(key, Algorithm::EdDSA, claims)
    }

    fn check(token: &str, set: &CoreJsonWebKeySet) -> Result<IdClaims, Invalid> {
        let token = CoreIdToken::from_str(token).map_err(|_| Invalid::Bad("malformed"))?;
        let algorithms = vec!["EdDSA".to_owned()];
        let clock = clock();
        validate(
            &token,
            set,
            &Expected {
                issuer: "https://op.example",
                client_id: "app",
                nonce: "n-1",
                clock: &clock,
                leeway: time::Duration::seconds(30),
                algorithms: &algorithms,
            },
        )
    }

    #[test]
    fn a_right_token_passes() {
        let k = key("k1", 1);
        let c = check(&sign(&k, &claims()), &jwks(&[&k])).unwrap();
        assert_eq!(c.sub, "u-1");
        assert_eq!(c.iss, "https://op.example");
        assert_eq!(c.aud, vec!["app".to_owned()]);
        assert_eq!((c.exp, c.iat), (NOW + 300, NOW));
        assert_eq!(c.email.as_deref(), Some("ann@example.com"));
        assert_eq!(c.name.as_deref(), Some("Ann"));
        assert!(c.email_verified());
    }

    #[test]
    fn a_key_the_jwks_does_not_have_asks_for_a_refresh() {
        let (k1, k2) = (key("k1", 1), key("k2", 2));
        let token = sign(&k2, &claims());
        assert_eq!(
            check(&token, &jwks(&[&k1])).unwrap_err(),
            Invalid::UnknownKey
        );
        assert!(check(&token, &jwks(&[&k1, &k2])).is_ok());
    }

    #[test]
    fn a_token_signed_by_another_key_under_a_known_kid_fails() {
        let (real, forger) = (key("k1", 1), key("k1", 9));
        let token = sign(&forger, &claims());
        assert!(matches!(
            check(&token, &jwks(&[&real])),
            Err(Invalid::Bad(_))
        ));
    }

    #[test]
    fn each_claim_is_checked() {
        let k = key("k1", 1);
        let set = jwks(&[&k]);
        let cases = [
            ("iss", serde_json::json!("https://evil.example")),
            ("aud", serde_json::json!("other-app")),
            ("aud", serde_json::json!(["app", "other-app"])),
            ("azp", serde_json::json!("other-app")),
            ("nonce", serde_json::json!("n-2")),
            ("exp", serde_json::json!(NOW - 31)),
            ("iat", serde_json::json!(NOW + 40)),
            ("sub", serde_json::json!("")),
            ("sub", serde_json::json!("x".repeat(256))),
        ];
        for (name, value) in cases {
            let mut c = claims();
            c[name] = value.clone();
            let result = check(&sign(&k, &c), &set);
            assert!(matches!(result, Err(Invalid::Bad(_))), "{name} = {value}");
        }
        let mut c = claims();
        c.as_object_mut().unwrap().remove("nonce");
        assert!(check(&sign(&k, &c), &set).is_err(), "no nonce");
        // Within the leeway: still good.
        let mut c = claims();
        c["exp"] = serde_json::json!(NOW - 20);
        c["iat"] = serde_json::json!(NOW + 20);
        assert!(check(&sign(&k, &c), &set).is_ok());
        // `azp` naming us is fine.
        let mut c = claims();
        c["azp"] = serde_json::json!("app");
        assert!(check(&sign(&k, &c), &set).is_ok());
    }

    #[test]
    fn only_a_json_true_verifies_the_email() {
        let k = key("k1", 1);
        let set = jwks(&[&k]);
        let mut c = claims();
        c["email_verified"] = serde_json::json!(false);
        assert!(!check(&sign(&k, &c), &set).unwrap().email_verified());
        c.as_object_mut().unwrap().remove("email_verified");
        assert!(!check(&sign(&k, &c), &set).unwrap().email_verified());
        // A string is not a boolean: the token is refused outright.
        c["email_verified"] = serde_json::json!("true");
        assert!(check(&sign(&k, &c), &set).is_err());
    }

    #[test]
    fn hmac_none_and_unannounced_algorithms_are_refused() {
        assert!(allowed(&["HS256".into(), "none".into()]).is_empty());
        assert_eq!(
            allowed(&[]),
            vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]
        );
        assert_eq!(
            allowed(&["EdDSA".into(), "HS512".into(), "XX1".into()]),
            vec![CoreJwsSigningAlgorithm::EdDsa]
        );
        // A token signed with the client secret (HS256) does not pass, even
        // if the provider announced HS256.
        let k = Key {
            kid: "k1",
            encoding: EncodingKey::from_secret(b"client-secret").unwrap(),
            jwk: serde_json::json!({ "kty": "oct", "kid": "k1", "k": crypto::b64(b"client-secret") }),
        };
        let token = CoreIdToken::from_str(&sign_with(&k, Algorithm::HS256, &claims())).unwrap();
        let clock = clock();
        let algorithms = vec!["HS256".to_owned()];
        let result = validate(
            &token,
            &jwks(&[&k]),
            &Expected {
                issuer: "https://op.example",
                client_id: "app",
                nonce: "n-1",
                clock: &clock,
                leeway: time::Duration::seconds(30),
                algorithms: &algorithms,
            },
        );
        assert!(matches!(result, Err(Invalid::Bad(_))));
    }
}
