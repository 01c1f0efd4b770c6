//! The configured OpenID providers and what the app learned about each: the
//! discovery document (fetched on first use; a provider that is down is
//! tried again on the next use, at most every DISCOVERY_RETRY) and the JWKS
//! (fetched with the metadata, refreshed when an ID token names an unknown
//! `kid`, at most every JWKS_REFRESH_FLOOR). The HTTP client is awc on
//! rustls (the TLS stack the app already has), with timeouts and no
//! redirects followed; `Http` lends it to `openidconnect` for the token
//! exchange (oauth2's `AsyncHttpClient`, whose future need not be `Send`).

use crate::clock::Clock;
use crate::config::OidcProvider;
use openidconnect::core::CoreJsonWebKeySet;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// How soon a provider whose discovery failed is tried again.
pub const DISCOVERY_RETRY: Duration = Duration::seconds(5);
/// The least time between two JWKS fetches for unknown `kid`s.
pub const JWKS_REFRESH_FLOOR: Duration = Duration::seconds(60);
/// Bodies read from a provider (discovery, JWKS, token response).
const BODY_LIMIT: usize = 256 * 1024;

/// The parts of the discovery document the app uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

/// The provider could not be reached, or answered with a server error.
#[derive(Debug, thiserror::Error)]
#[error("OpenID provider unreachable: {0}")]
pub struct Unreachable(pub String);

#[derive(Default)]
struct Learned {
    metadata: Option<Arc<Metadata>>,
    jwks: Option<Arc<CoreJsonWebKeySet>>,
    last_discovery: Option<OffsetDateTime>,
    last_jwks_fetch: Option<OffsetDateTime>,
}

pub struct Provider {
    pub config: OidcProvider,
    learned: Mutex<Learned>,
}

/// Every configured provider, in the order of OIDC_PROVIDERS.
#[derive(Default)]
pub struct Providers {
    list: Vec<Provider>,
}

impl Providers {
    pub fn new(configs: &[OidcProvider]) -> Self {
        Providers {
            list: configs
                .iter()
                .map(|config| Provider {
                    config: config.clone(),
                    learned: Mutex::new(Learned::default()),
                })
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Provider> {
        self.list.iter().find(|p| p.config.name == name)
    }

    /// (name, label) of each provider, for the buttons.
    pub fn buttons(&self) -> Vec<(String, String)> {
        self.list
            .iter()
            .map(|p| (p.config.name.clone(), p.config.label.clone()))
            .collect()
    }
}

fn learned(provider: &Provider) -> std::sync::MutexGuard<'_, Learned> {
    match provider.learned.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

thread_local! {
    /// One client per worker thread (awc clients are not `Send`); they share
    /// nothing but settings.
    static HTTP: awc::Client = awc::Client::builder()
        .connector(awc::Connector::new().timeout(std::time::Duration::from_secs(5)))
        .timeout(std::time::Duration::from_secs(10))
        .disable_redirects()
        .add_default_header((awc::http::header::USER_AGENT, crate::web::app_name()))
        .finish();
}

fn client() -> awc::Client {
    HTTP.with(awc::Client::clone)
}

async fn read_body<S>(mut res: awc::ClientResponse<S>) -> Result<actix_web::web::Bytes, Unreachable>
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    res.body()
        .limit(BODY_LIMIT)
        .await
        .map_err(|e| Unreachable(format!("reading the body: {e}")))
}

async fn get_json<T: DeserializeOwned>(url: &str) -> Result<T, Unreachable> {
    let res = client()
        .get(url)
        .insert_header((awc::http::header::ACCEPT, "application/json"))
        .send()
        .await
        .map_err(|e| Unreachable(format!("GET {url}: {e}")))?;
    let status = res.status();
    let body = read_body(res).await?;
    if !status.is_success() {
        return Err(Unreachable(format!("GET {url}: status {status}")));
    }
    serde_json::from_slice(&body).map_err(|e| Unreachable(format!("GET {url}: {e}")))
}

/// The app's HTTP client (awc) for `openidconnect`'s requests (the token
/// exchange): the request goes out as the library built it (its form body,
/// its Basic client authentication); a body is read up to BODY_LIMIT, and a
/// server error (5xx) counts as the provider being unreachable, like a
/// failed connection.
pub struct Http;

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = Unreachable;
    type Future =
        Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, Unreachable>> + 'c>>;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(send(request))
    }
}

async fn send(
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, Unreachable> {
    let url = request.uri().to_string();
    let fail = |what: &dyn std::fmt::Display| Unreachable(format!("{url}: {what}"));
    let method = awc::http::Method::from_bytes(request.method().as_str().as_bytes())
        .map_err(|e| fail(&e))?;
    let mut outgoing = client().request(method, url.as_str());
    for (name, value) in request.headers() {
        outgoing = outgoing.append_header((name.as_str(), value.as_bytes()));
    }
    let res = outgoing
        .send_body(request.into_body())
        .await
        .map_err(|e| fail(&e))?;
    let status = res.status();
    let headers: Vec<(String, Vec<u8>)> = res
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    let body = read_body(res).await?;
    if status.is_server_error() {
        return Err(fail(&format_args!("status {status}")));
    }
    let mut response = openidconnect::http::Response::builder().status(status.as_u16());
    for (name, value) in headers {
        response = response.header(name, value);
    }
    response.body(body.to_vec()).map_err(|e| fail(&e))
}

impl Provider {
    /// The provider's metadata, discovering it first if need be.
    pub async fn metadata(&self, clock: &Clock) -> Result<Arc<Metadata>, Unreachable> {
        let now = clock.now();
        {
            let mut learned = learned(self);
            if let Some(m) = &learned.metadata {
                return Ok(m.clone());
            }
            if learned
                .last_discovery
                .is_some_and(|at| now - at < DISCOVERY_RETRY)
            {
                return Err(Unreachable("discovery failed a moment ago".into()));
            }
            learned.last_discovery = Some(now);
        }
        let issuer = self.config.issuer.trim_end_matches('/');
        let url = format!("{issuer}/.well-known/openid-configuration");
        let metadata: Metadata = get_json(&url).await?;
        if metadata.issuer != self.config.issuer {
            return Err(Unreachable(format!(
                "the discovery document names issuer {:?}, not the configured one",
                metadata.issuer
            )));
        }
        let jwks: CoreJsonWebKeySet = get_json(&metadata.jwks_uri).await?;
        let metadata = Arc::new(metadata);
        let mut learned = learned(self);
        learned.metadata = Some(metadata.clone());
        learned.jwks = Some(Arc::new(jwks));
        learned.last_jwks_fetch = Some(now);
        tracing::info!(provider = %self.config.name, "OpenID provider discovered");
        Ok(metadata)
    }

    /// The JWKS as last fetched.
    pub fn jwks(&self) -> Option<Arc<CoreJsonWebKeySet>> {
        learned(self).jwks.clone()
    }

    /// Fetches the JWKS again, unless it was fetched within
    /// JWKS_REFRESH_FLOOR; `None` when no new fetch happened.
    pub async fn refresh_jwks(
        &self,
        metadata: &Metadata,
        clock: &Clock,
    ) -> Result<Option<Arc<CoreJsonWebKeySet>>, Unreachable> {
        let now = clock.now();
        {
            let mut learned = learned(self);
            if learned
                .last_jwks_fetch
                .is_some_and(|at| now - at < JWKS_REFRESH_FLOOR)
            {
                return Ok(None);
            }
            learned.last_jwks_fetch = Some(now);
        }
        let jwks = Arc::new(get_json::<CoreJsonWebKeySet>(&metadata.jwks_uri).await?);
        learned(self).jwks = Some(jwks.clone());
        Ok(Some(jwks))
    }
}

/// Discovers every provider once (at start-up); failures are logged and
/// retried on use.
pub async fn discover_all(providers: Arc<Providers>, clock: Clock) {
    for provider in &providers.list {
        if let Err(e) = provider.metadata(&clock).await {
            tracing::warn!(provider = %provider.config.name, error = %e,
                "OpenID provider discovery failed; its button answers 503 until it succeeds");
        }
    }
}
