//! Credentials for things that are not a person at a browser: API keys
//! (`api_keys.rs`: a user's scripts) and service accounts
//! (`service_clients.rs`: other services, OAuth 2.0 client credentials), both
//! inside the one revocation model.

pub mod api_keys;
pub mod service_clients;
