//! The configured OpenID providers and what the app learned about each: the
//! discovery document (fetched on first use; a provider that is down is
//! tried again on the next use, at most every DISCOVERY_RETRY) and the JWKS
//! (fetched with the metadata, refreshed when an ID token names an unknown
//! `kid`, at most every JWKS_REFRESH_FLOOR). The HTTP client is the
//! app's outbound one (`auth/http/outbound.rs`).

use crate::auth::http::outbound;
use crate::clock::Clock;
use crate::config::OidcProvider;
use openidconnect::core::CoreJsonWebKeySet;
use serde::Deserialize;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// How soon a provider whose discovery failed is tried again.
pub const DISCOVERY_RETRY: Duration = Duration::seconds(5);
/// The least time between two JWKS fetches for unknown `kid`s.
pub const JWKS_REFRESH_FLOOR: Duration = Duration::seconds(60);

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

pub use crate::auth::http::outbound::{Http, Unreachable};

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
        let metadata: Metadata = outbound::get_json(&url).await?;
        if metadata.issuer != self.config.issuer {
            return Err(Unreachable(format!(
                "the discovery document names issuer {:?}, not the configured one",
                metadata.issuer
            )));
        }
        let jwks: CoreJsonWebKeySet = outbound::get_json(&metadata.jwks_uri).await?;
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
        let jwks = Arc::new(outbound::get_json::<CoreJsonWebKeySet>(&metadata.jwks_uri).await?);
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
