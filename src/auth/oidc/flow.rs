//! The authorization code flow with PKCE (S256): `start` stores the request
//! server-side (keyed by the SHA-256 of its `state`, bound to the browser by
//! the SHA-256 of a random cookie value) and returns the provider's URL;
//! `finish` takes that request back (single use, 10 minutes), exchanges the
//! code (`openidconnect`'s client over the app's awc, `provider::Http`) and
//! checks the ID token (`id_token`, on `openidconnect`'s verifier).

use super::id_token::{self, Expected, IdClaims, Invalid};
use super::provider::{Http, Metadata, Provider, Unreachable};
use crate::auth::crypto;
use crate::auth::error::AuthError;
use crate::auth::state::AppState;
use crate::db;
use crate::db::oidc::{self as rows, Request};
use crate::web::encode_query;
use openidconnect::core::{CoreClient, CoreJsonWebKeySet, CoreTokenResponse};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, IssuerUrl, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, TokenResponse, TokenUrl,
};
use time::Duration;
use uuid::Uuid;

/// How long a started sign-in may take at the provider.
pub const REQUEST_TTL: Duration = Duration::minutes(10);
pub const SCOPE: &str = "openid email profile";

/// Why a request to a provider did not end in a checked identity.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The provider is unreachable (discovery, token endpoint, JWKS).
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    /// The user said no at the provider (`error=access_denied`).
    #[error("access denied at the provider")]
    Denied,
    /// Anything else wrong with the callback: state, code, ID token. The
    /// text goes to the log only.
    #[error("refused: {0}")]
    Rejected(&'static str),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<anyhow::Error> for FlowError {
    fn from(e: anyhow::Error) -> Self {
        FlowError::Auth(e.into())
    }
}

impl From<db::DbError> for FlowError {
    fn from(e: db::DbError) -> Self {
        FlowError::Auth(e.into())
    }
}

impl From<diesel::result::Error> for FlowError {
    fn from(e: diesel::result::Error) -> Self {
        FlowError::Auth(db::DbError::from(e).into())
    }
}

/// What a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    /// Re-authentication of the signed-in user (`prompt=login`, `max_age=0`).
    Reauth(Uuid),
}

/// A started request: where to send the browser, and the value of its
/// binding cookie.
pub struct Started {
    pub location: String,
    pub browser: String,
}

/// The SHA-256 of the browser cookie's value (what the table keeps).
fn browser_hash(value: &str) -> Vec<u8> {
    crypto::sha256(value.as_bytes())
}

pub fn redirect_uri(state: &AppState, provider: &Provider) -> String {
    format!(
        "{}/login/oidc/{}/callback",
        state.settings.public_url, provider.config.name
    )
}

/// Starts a request to `provider`. `browser` is the binding cookie's value
/// if the browser has one already (so two tabs can sign in at once).
pub async fn start(
    state: &AppState,
    provider: &Provider,
    purpose: Purpose,
    next: &str,
    browser: Option<&str>,
) -> Result<Started, FlowError> {
    let metadata = provider.metadata(&state.clock).await?;
    let browser = match browser.filter(|b| (32..=64).contains(&b.len())) {
        Some(b) => b.to_owned(),
        None => crypto::random_token()?,
    };
    let state_token = crypto::random_token()?;
    let nonce = crypto::random_token()?;
    let verifier = crypto::random_token()?; // 43 characters of base64url
    let challenge = crypto::b64(&crypto::sha256(verifier.as_bytes()));
    let now = state.clock.now();
    let request = Request {
        state_hash: crypto::sha256(state_token.as_bytes()),
        browser_hash: browser_hash(&browser),
        provider: provider.config.name.clone(),
        purpose: match purpose {
            Purpose::SignIn => "sign_in".into(),
            Purpose::Reauth(_) => "reauth".into(),
        },
        user_id: match purpose {
            Purpose::SignIn => None,
            Purpose::Reauth(id) => Some(id),
        },
        nonce: nonce.clone(),
        pkce_verifier: verifier,
        next: next.to_owned(),
        created_at: now,
        expires_at: now + REQUEST_TTL,
    };
    {
        let mut conn = db::conn(&state.pool).await?;
        rows::insert_request(&mut conn, &request).await?;
    }
    let redirect = redirect_uri(state, provider);
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &provider.config.client_id),
        ("redirect_uri", &redirect),
        ("scope", SCOPE),
        ("state", &state_token),
        ("nonce", &nonce),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    if matches!(purpose, Purpose::Reauth(_)) {
        params.push(("prompt", "login"));
        params.push(("max_age", "0"));
    }
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", encode_query(v)))
        .collect();
    let sep = if metadata.authorization_endpoint.contains('?') {
        '&'
    } else {
        '?'
    };
    Ok(Started {
        location: format!(
            "{}{sep}{}",
            metadata.authorization_endpoint,
            query.join("&")
        ),
        browser,
    })
}

/// The callback's query.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    /// RFC 9207: the issuer of the response, when the provider sends it.
    pub iss: Option<String>,
}

/// A finished request: the checked ID token's claims.
pub struct Finished {
    pub claims: IdClaims,
    pub purpose: Purpose,
    pub next: String,
    /// When the request started (a re-authentication must be newer).
    pub started_at: time::OffsetDateTime,
}

/// Takes the request back (whatever follows, it is used up), then the code
/// for tokens, then checks the ID token.
pub async fn finish(
    state: &AppState,
    provider: &Provider,
    callback: &Callback,
    browser: Option<&str>,
) -> Result<Finished, FlowError> {
    let state_token = callback
        .state
        .as_deref()
        .filter(|s| !s.is_empty() && s.len() <= 128)
        .ok_or(FlowError::Rejected("no state"))?;
    let request = {
        let mut conn = db::conn(&state.pool).await?;
        rows::take_request(&mut conn, &crypto::sha256(state_token.as_bytes())).await?
    };
    let request = request.ok_or(FlowError::Rejected("unknown or used state"))?;
    let now = state.clock.now();
    let same_browser =
        browser.is_some_and(|b| crypto::constant_time_eq(&browser_hash(b), &request.browser_hash));
    if !same_browser {
        return Err(FlowError::Rejected("state from another browser"));
    }
    if request.expires_at <= now {
        return Err(FlowError::Rejected("expired state"));
    }
    if request.provider != provider.config.name {
        return Err(FlowError::Rejected("state for another provider"));
    }
    if callback
        .iss
        .as_deref()
        .is_some_and(|iss| iss != provider.config.issuer)
    {
        return Err(FlowError::Rejected("response from another issuer (iss)"));
    }
    if let Some(error) = callback.error.as_deref() {
        return Err(if error == "access_denied" {
            FlowError::Denied
        } else {
            FlowError::Rejected("the provider answered with an error")
        });
    }
    let code = callback
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 2048)
        .ok_or(FlowError::Rejected("no code"))?;
    let metadata = provider.metadata(&state.clock).await?;
    let redirect = redirect_uri(state, provider);
    let answer = exchange(provider, &metadata, code, &redirect, &request.pkce_verifier).await?;
    let token = answer
        .id_token()
        .ok_or(FlowError::Rejected("no ID token"))?;
    let expected = Expected {
        issuer: &provider.config.issuer,
        client_id: &provider.config.client_id,
        nonce: &request.nonce,
        clock: &state.clock,
        leeway: state.settings.clock_skew_leeway,
        algorithms: &metadata.id_token_signing_alg_values_supported,
    };
    let jwks = provider.jwks().ok_or(FlowError::Rejected("no JWKS"))?;
    let claims = match id_token::validate(token, &jwks, &expected) {
        Err(Invalid::UnknownKey) => match provider.refresh_jwks(&metadata, &state.clock).await? {
            Some(fresh) => id_token::validate(token, &fresh, &expected),
            None => Err(Invalid::UnknownKey),
        },
        checked => checked,
    };
    let claims = claims.map_err(|e| match e {
        Invalid::UnknownKey => FlowError::Rejected("ID token signed by an unknown key"),
        Invalid::Bad(why) => FlowError::Rejected(why),
    })?;
    let purpose = match (request.purpose.as_str(), request.user_id) {
        ("reauth", Some(id)) => Purpose::Reauth(id),
        _ => Purpose::SignIn,
    };
    Ok(Finished {
        claims,
        purpose,
        next: request.next,
        started_at: request.created_at,
    })
}

/// The code for tokens at the token endpoint, with the PKCE verifier and
/// HTTP Basic client authentication (RFC 6749 §2.3.1), by `openidconnect`'s
/// client over the app's awc. The provider down or failing (5xx) is
/// `Unreachable`; any other refusal, or an answer that does not parse (a
/// malformed ID token included), is `Rejected`.
async fn exchange(
    provider: &Provider,
    metadata: &Metadata,
    code: &str,
    redirect: &str,
    verifier: &str,
) -> Result<CoreTokenResponse, FlowError> {
    use secrecy::ExposeSecret;
    let config = &provider.config;
    let issuer = IssuerUrl::new(config.issuer.clone())
        .map_err(|e| anyhow::anyhow!("the issuer of {} is not a URL: {e}", config.name))?;
    let redirect = RedirectUrl::new(redirect.to_owned())
        .map_err(|e| anyhow::anyhow!("the redirect URI is not a URL: {e}"))?;
    let token_url = TokenUrl::new(metadata.token_endpoint.clone())
        .map_err(|e| Unreachable(format!("token endpoint: {e}")))?;
    // The client only exchanges here: the ID token is checked by
    // `id_token::validate`, against the JWKS the provider keeps.
    let client = CoreClient::new(
        ClientId::new(config.client_id.clone()),
        issuer,
        CoreJsonWebKeySet::default(),
    )
    .set_client_secret(ClientSecret::new(
        config.client_secret.expose_secret().to_owned(),
    ))
    .set_auth_type(openidconnect::AuthType::BasicAuth)
    .set_token_uri(token_url)
    .set_redirect_uri(redirect);
    let answer = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
        .request_async(&Http)
        .await;
    answer.map_err(|e| match e {
        RequestTokenError::Request(unreachable) => FlowError::Unreachable(unreachable),
        RequestTokenError::Parse(e, _) => {
            tracing::debug!(error = %e, "unreadable token response");
            FlowError::Rejected("unreadable token response or ID token")
        }
        other => {
            tracing::debug!(error = %other, "the token endpoint refused the code");
            FlowError::Rejected("the token endpoint refused the code")
        }
    })
}
