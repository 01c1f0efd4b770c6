//! The API's extractor: `Bearer`. A handler that takes `Bearer` only runs
//! for a verified, unrevoked access token. Its scope is stated in the route
//! table (`"/notes" => { get: api::notes::list [NotesRead] }`), where
//! `require_scope` checks it before the handler and its other extractors run;
//! the handler reuses that verification. `Bearer::require` is there for a
//! scope that depends on the request.
//!
//! Errors follow RFC 6750 §3. The session cookie and `?access_token=` are
//! never looked at.

use crate::auth::credentials::second_factor;
use crate::auth::keys::api_keys;
use crate::auth::state::AppState;
use crate::auth::tokens::access::{self, AccessClaims, Rejected, Verified, MAX_TOKEN_LEN};
use crate::auth::tokens::scopes::{self, Scope};
use crate::error::ApiError;
use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use actix_web::{web, FromRequest, HttpRequest};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use uuid::Uuid;

/// How a bearer request authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// An access token of a sign-in (web or API session).
    Session,
    /// One of the user's API keys (its id).
    ApiKey(Uuid),
    /// A service account's access token (client credentials).
    Client,
}

/// A verified bearer credential of a person: an access token of one of
/// their sessions, or one of their API keys. A service account's token is
/// refused here (403 `forbidden`); routes for them take `AnyBearer`.
#[derive(Debug, Clone)]
pub struct Bearer {
    verified: Arc<Verified>,
    via: Via,
}

/// Any verified bearer credential, a service account's token included.
#[derive(Debug, Clone)]
pub struct AnyBearer(pub Bearer);

impl Bearer {
    /// How the request authenticated.
    pub fn via(&self) -> Via {
        self.via
    }

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

impl Bearer {
    /// The bearer side of `require_recent_auth`, one line at the top of a
    /// sensitive handler: 401 `insufficient_user_authentication` (RFC 9470)
    /// unless the token's sign-in is within REAUTH_WINDOW and, for a user
    /// with a second factor, used it (aal2; a password-only token falls short
    /// however recent it is). The client signs in again and retries.
    ///
    /// ```ignore
    /// auth.require_recent_sign_in(&state).await?;
    /// ```
    pub async fn require_recent_sign_in(&self, state: &AppState) -> Result<(), ApiError> {
        if self.via != Via::Session {
            // An API key (or a client) never stands for a recent sign-in.
            return Err(ApiError::InsufficientUserAuthentication {
                max_age: state.settings.reauth_window.whole_seconds(),
                acr: None,
            });
        }
        let has_factor = {
            let mut conn = crate::db::conn(&state.pool).await?;
            second_factor::required(&mut conn, self.user_id()).await?
        };
        let acr = has_factor.then_some("aal2");
        self.require_authentication(state.clock.now(), state.settings.reauth_window, acr)
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
            let bearer = AnyBearer::from_request(&req, &mut Payload::None).await?.0;
            if bearer.via == Via::Client {
                return Err(ApiError::Forbidden(
                    "this route is for people, not service accounts",
                ));
            }
            Ok(bearer)
        })
    }
}

impl FromRequest for AnyBearer {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            // Verified already by the route's scope check.
            if let Some(bearer) = req.extensions().get::<Bearer>() {
                return Ok(AnyBearer(bearer.clone()));
            }
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
                    return Ok(AnyBearer(Bearer::of(result.map_err(rejection)?)));
                }
            }
            let token = token_shape(&req)?;
            if api_keys::looks_like_key(token) {
                let key = api_keys::authenticate(state, token)
                    .await
                    .map_err(key_rejection)?;
                return Ok(AnyBearer(Bearer {
                    verified: key.verified.clone(),
                    via: Via::ApiKey(key.id),
                }));
            }
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
            Ok(AnyBearer(Bearer::of(verified.map_err(rejection)?)))
        })
    }
}

impl Bearer {
    /// The credential of a verified access token.
    fn of(verified: Arc<Verified>) -> Bearer {
        let via = if verified.claims.client_id.is_some() {
            Via::Client
        } else {
            Via::Session
        };
        Bearer { verified, via }
    }
}

/// The RFC 6750 error for a key that may not be used.
fn key_rejection(r: api_keys::KeyRefused) -> ApiError {
    match r {
        api_keys::KeyRefused::Expired => ApiError::InvalidToken("API key expired"),
        api_keys::KeyRefused::Invalid => ApiError::InvalidToken("invalid API key"),
        api_keys::KeyRefused::Db(e) => e.into(),
    }
}

/// The scope check of a route-table line with a scope (`[NotesRead]`): the
/// bearer credential is verified and must carry `scope` (and be a person's,
/// unless the line says `clients`), before the handler and its extractors
/// run; the handler's `Bearer` is this one.
pub async fn require_scope(
    scope: Scope,
    clients: bool,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let checked = match AnyBearer::from_request(req.request(), &mut Payload::None).await {
        Ok(AnyBearer(bearer)) if bearer.via == Via::Client && !clients => Err(ApiError::Forbidden(
            "this route is for people, not service accounts",
        )),
        Ok(AnyBearer(bearer)) => bearer.require(scope).map(|()| bearer),
        Err(e) => Err(e),
    };
    match checked {
        Ok(bearer) => {
            req.extensions_mut().insert(bearer);
            next.call(req).await
        }
        Err(e) => Ok(req.error_response(e)),
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
