//! The claims of an access token (RFC 9068 profile) and `Verified`: what
//! the verification path returns and the token cache holds.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: Audience,
    pub sub: Uuid,
    pub sid: Uuid,
    pub jti: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub scope: String,
    /// How the session was authenticated: `"aal1"` or `"aal2"` (absent for
    /// a service account's token).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub acr: String,
    /// RFC 8176 authentication methods (`pwd`, `otp`, `hwk`, `mfa`); absent
    /// for a service account's token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// NumericDate of the session's last sign-in or re-authentication.
    pub auth_time: i64,
    /// A service account's token: its client id (also its `sub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// `aud` may be a string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, wanted: &str) -> bool {
        match self {
            Audience::One(a) => a == wanted,
            Audience::Many(v) => v.iter().any(|a| a == wanted),
        }
    }
}

/// A token that passed signature and claim checks, and the key that signed it.
#[derive(Debug)]
pub struct Verified {
    pub claims: AccessClaims,
    pub kid: String,
}
