//! Checking an ID token (OpenID Connect Core §3.1.3.7), by hand on
//! jsonwebtoken: the signature against the provider's JWKS with an
//! asymmetric algorithm the provider announced, then `iss`, `aud`, `azp`,
//! `exp`/`iat` against the app clock with CLOCK_SKEW_LEEWAY, and `nonce`.
//! Pure: the caller fetches the JWKS and retries once on `UnknownKey`.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::str::FromStr;

/// What the token must say.
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    /// Unix seconds from the app clock.
    pub now: i64,
    pub leeway: i64,
    /// The provider's `id_token_signing_alg_values_supported` (RS256 if it
    /// named none).
    pub algorithms: &'a [String],
}

/// The claims the app reads from a checked ID token.
#[derive(Debug, Clone, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    aud: Audience,
    pub exp: i64,
    pub iat: i64,
    #[serde(default)]
    pub auth_time: Option<i64>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub azp: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// Only a JSON `true` counts as verified.
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
}

impl IdClaims {
    pub fn email_verified(&self) -> bool {
        self.email_verified == Some(serde_json::Value::Bool(true))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn values(&self) -> Vec<&str> {
        match self {
            Audience::One(a) => vec![a.as_str()],
            Audience::Many(list) => list.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Invalid {
    /// No key of the JWKS has the token's `kid`: refresh the JWKS and retry.
    UnknownKey,
    /// Refused; the text is for the log, never for the user.
    Bad(&'static str),
}

/// The algorithms an ID token may be signed with: asymmetric ones only
/// (never `none`, never HMAC with the client secret).
fn allowed(algorithms: &[String]) -> Vec<Algorithm> {
    let named: Vec<Algorithm> = algorithms
        .iter()
        .filter_map(|a| Algorithm::from_str(a).ok())
        .filter(|a| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
        .collect();
    if algorithms.is_empty() {
        vec![Algorithm::RS256]
    } else {
        named
    }
}

pub fn validate(token: &str, jwks: &JwkSet, expected: &Expected) -> Result<IdClaims, Invalid> {
    if token.len() > 16 * 1024 {
        return Err(Invalid::Bad("ID token too long"));
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| Invalid::Bad("malformed"))?;
    if !allowed(expected.algorithms).contains(&header.alg) {
        return Err(Invalid::Bad("algorithm not allowed"));
    }
    let jwk = match header.kid.as_deref() {
        Some(kid) => jwks.find(kid).ok_or(Invalid::UnknownKey)?,
        // Without a `kid`, only a JWKS of exactly one key says which.
        None => match jwks.keys.as_slice() {
            [only] => only,
            _ => return Err(Invalid::UnknownKey),
        },
    };
    let key = DecodingKey::from_jwk(jwk).map_err(|_| Invalid::Bad("unusable key"))?;
    // The signature, `iss` and `aud` here; times below, on the app clock.
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<IdClaims>(token, &key, &validation)
        .map_err(|_| Invalid::Bad("bad signature or claims"))?
        .claims;
    if claims.iss != expected.issuer {
        return Err(Invalid::Bad("iss"));
    }
    let audiences = claims.aud.values();
    if !audiences.contains(&expected.client_id) {
        return Err(Invalid::Bad("aud"));
    }
    match claims.azp.as_deref() {
        Some(azp) if azp != expected.client_id => return Err(Invalid::Bad("azp")),
        None if audiences.len() > 1 => return Err(Invalid::Bad("azp missing")),
        _ => {}
    }
    if claims.exp + expected.leeway <= expected.now {
        return Err(Invalid::Bad("expired"));
    }
    if claims.iat > expected.now + expected.leeway {
        return Err(Invalid::Bad("issued in the future"));
    }
    let nonce_ok = claims.nonce.as_deref().is_some_and(|n| {
        crate::auth::crypto::constant_time_eq(n.as_bytes(), expected.nonce.as_bytes())
    });
    if !nonce_ok {
        return Err(Invalid::Bad("nonce"));
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
    use jsonwebtoken::{EncodingKey, Header};

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

    fn jwks(keys: &[&Key]) -> JwkSet {
        let keys: Vec<_> = keys.iter().map(|k| k.jwk.clone()).collect();
        serde_json::from_value(serde_json::json!({ "keys": keys })).unwrap()
    }

    const NOW: i64 = 1_800_000_000;

    fn claims() -> serde_json::Value {
        serde_json::json!({
            "iss": "https://op.example", "sub": "u-1", "aud": "app",
            "exp": NOW + 300, "iat": NOW, "nonce": "n-1",
            "email": "ann@example.com", "email_verified": true,
        })
    }

    fn sign(key: &Key, claims: &serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.into());
        jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
    }

    fn check(token: &str, set: &JwkSet) -> Result<IdClaims, Invalid> {
        let algorithms = vec!["EdDSA".to_owned()];
        validate(
            token,
            set,
            &Expected {
                issuer: "https://op.example",
                client_id: "app",
                nonce: "n-1",
                now: NOW,
                leeway: 30,
                algorithms: &algorithms,
            },
        )
    }

    #[test]
    fn a_right_token_passes() {
        let k = key("k1", 1);
        let c = check(&sign(&k, &claims()), &jwks(&[&k])).unwrap();
        assert_eq!(c.sub, "u-1");
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
            ("iat", serde_json::json!(NOW + 31)),
            ("sub", serde_json::json!("")),
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
        c["exp"] = serde_json::json!(NOW - 29);
        assert!(check(&sign(&k, &c), &set).is_ok());
    }

    #[test]
    fn only_a_json_true_verifies_the_email() {
        let k = key("k1", 1);
        let mut c = claims();
        c["email_verified"] = serde_json::json!("true");
        assert!(!check(&sign(&k, &c), &jwks(&[&k])).unwrap().email_verified());
    }

    #[test]
    fn hmac_and_unannounced_algorithms_are_refused() {
        assert!(allowed(&["HS256".into()]).is_empty());
        assert_eq!(allowed(&[]), vec![Algorithm::RS256]);
    }
}
