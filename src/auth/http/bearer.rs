//! The API's extractor: `Bearer`. A handler that takes `Bearer` only runs
//! for a verified, unrevoked access token; it then states its scope:
//!
//! ```text
//! async fn list(auth: Bearer) -> Result<HttpResponse, ApiError> {
//!     auth.require(Scope::NotesRead)?;
//!     ...
//! }
//! ```
//!
//! Errors follow RFC 6750 §3. The session cookie and `?access_token=` are
//! never looked at.

use crate::auth::state::AppState;
use crate::auth::tokens::access::{self, AccessClaims, Rejected, Verified, MAX_TOKEN_LEN};
use crate::auth::tokens::scopes::{self, Scope};
use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Bearer {
    verified: Arc<Verified>,
}

impl Bearer {
    /// The verified claims of the token.
    pub fn claims(&self) -> &AccessClaims {
        &self.verified.claims
    }

    pub fn user_id(&self) -> Uuid {
        self.verified.claims.sub
    }

    pub fn session_id(&self) -> Uuid {
        self.verified.claims.sid
    }

    /// 403 `insufficient_scope` unless the token carries `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if scopes::contains(&self.verified.claims.scope, scope) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope(scope.as_str()))
        }
    }

    /// RFC 9470 step-up: 401 `insufficient_user_authentication` unless the
    /// token's sign-in (`auth_time`) is at most `max_age` old at `now` and,
    /// when `acr` is given (`"aal2"`), the token's `acr` is at least that.
    /// The challenge carries `max_age`, and `acr_values` when the level is
    /// what falls short; the client signs in again and retries.
    pub fn require_authentication(
        &self,
        now: time::OffsetDateTime,
        max_age: time::Duration,
        acr: Option<&'static str>,
    ) -> Result<(), ApiError> {
        let claims = &self.verified.claims;
        let weak = acr.filter(|wanted| claims.acr.as_str() < *wanted);
        let stale = now.unix_timestamp() - claims.auth_time > max_age.whole_seconds();
        if weak.is_none() && !stale {
            return Ok(());
        }
        Err(ApiError::InsufficientUserAuthentication {
            max_age: max_age.whole_seconds(),
            acr: weak,
        })
    }
}

/// The RFC 6750 error for a token that may not be used.
pub fn rejection(r: Rejected) -> ApiError {
    match r {
        Rejected::Expired => ApiError::InvalidToken("access token expired"),
        Rejected::Revoked => ApiError::InvalidToken("access token revoked"),
        Rejected::Invalid => ApiError::InvalidToken("invalid access token"),
        Rejected::Db(e) => e.into(),
    }
}

/// The token from `Authorization: Bearer <token>`, or the RFC 6750 error.
pub fn token_from_header(req: &HttpRequest) -> Result<&str, ApiError> {
    let token = token_shape(req)?;
    check_token_chars(token)?;
    Ok(token)
}

/// Only the base64url alphabet and `.` (RFC 6750 b64token, as JWS uses it).
fn check_token_chars(token: &str) -> Result<(), ApiError> {
    if token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        Ok(())
    } else {
        Err(ApiError::BadHeader("malformed bearer token"))
    }
}

/// The header's structure (one header, the scheme, one token, the length),
/// without looking at each character of the token.
fn token_shape(req: &HttpRequest) -> Result<&str, ApiError> {
    let mut values = req.headers().get_all(AUTHORIZATION);
    let Some(value) = values.next() else {
        return Err(ApiError::NoToken);
    };
    if values.next().is_some() {
        return Err(ApiError::BadHeader("more than one Authorization header"));
    }
    if value.len() > MAX_TOKEN_LEN + 16 {
        return Err(ApiError::BadHeader("Authorization header too long"));
    }
    let value = value
        .to_str()
        .map_err(|_| ApiError::BadHeader("malformed Authorization header"))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Another scheme: as if no credentials were sent.
        return Err(ApiError::NoToken);
    }
    let token = rest.trim_matches(' ');
    if token.is_empty() {
        return Err(ApiError::BadHeader("empty bearer token"));
    }
    if token.contains(' ') {
        return Err(ApiError::BadHeader("more than one bearer token"));
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(ApiError::BadHeader("bearer token too long"));
    }
    Ok(token)
}

/// The token of the one `Authorization` header when it reads exactly
/// `Bearer <token>` (no other check: only for the cache lookup).
fn plain_bearer(req: &HttpRequest) -> Option<&str> {
    let mut values = req.headers().get_all(AUTHORIZATION);
    let value = values.next()?;
    if values.next().is_some() || value.len() > MAX_TOKEN_LEN + 7 {
        return None;
    }
    let token = value.as_bytes().strip_prefix(b"Bearer ")?;
    std::str::from_utf8(token).ok()
}

impl FromRequest for Bearer {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| anyhow::anyhow!("AppState missing"))?;
            // The hot path: one `Authorization: Bearer <token>` header whose
            // token was verified before. Those exact bytes passed every
            // check of the header and the token already, so they skip the
            // scans (the cache is keyed by a hash of the whole token).
            let plain = plain_bearer(&req);
            if let Some(token) = plain {
                if let Some(result) = access::authenticate_cached(state, token).await {
                    return Ok(Bearer {
                        verified: result.map_err(rejection)?,
                    });
                }
            }
            let token = token_shape(&req)?;
            let cached = match plain {
                Some(p) if p == token => None, // looked up already
                _ => access::authenticate_cached(state, token).await,
            };
            let verified = match cached {
                Some(result) => result,
                None => {
                    check_token_chars(token)?;
                    access::authenticate(state, token).await
                }
            };
            Ok(Bearer {
                verified: verified.map_err(rejection)?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;
    use actix_web::test::TestRequest;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Any bytes an HTTP header can carry: the parser answers with a
        /// token or an RFC 6750 error, never a panic, and a token it returns
        /// is always within the allowed alphabet and length.
        #[test]
        fn the_header_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..9000)) {
            let Ok(value) = HeaderValue::from_bytes(&bytes) else {
                return Ok(()); // not a header value at all: the server never sees it
            };
            let req = TestRequest::default()
                .insert_header((AUTHORIZATION, value))
                .to_http_request();
            if let Ok(token) = token_from_header(&req) {
                prop_assert!(token.len() <= MAX_TOKEN_LEN);
                prop_assert!(token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'));
            }
        }

        #[test]
        fn bearer_prefixed_junk_never_panics(rest in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut bytes = b"Bearer ".to_vec();
            bytes.extend(rest);
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                let req = TestRequest::default()
                    .insert_header((AUTHORIZATION, value))
                    .to_http_request();
                let _ = token_from_header(&req);
            }
        }
    }
}
