//! One integration-test binary (faster to link than many). Every test gets
//! its own database and its own server on a random port.
//!
//! `support/` holds the code the suites share: `spawn_app()` and `TestApp`
//! (re-exported, so suites `use crate::support::*`), the template and
//! per-test databases, token forging, an SMTP receiver (with its own
//! self-test) and a WebDriver client. Every other module is a suite, named
//! for what it tests.

mod support;

mod access_tokens;
mod account;
mod api_keys;
mod bad_input;
mod browser;
mod caches;
mod deletion;
mod forged_tokens;
mod html;
mod in_process;
mod lifecycle;
mod login;
mod mail;
mod mfa;
mod naming;
mod notes;
mod oidc;
mod oidc_browser;
mod oidc_reauth;
mod oidc_seams;
mod openapi;
mod operations;
mod outage;
mod page_flows;
mod pages;
mod passkeys;
mod pool;
mod pooler;
mod process;
mod readme;
mod recipes;
mod refresh;
mod registration;
mod revocation;
mod seams;
mod service_accounts;
mod session_expiry;
mod session_store;
mod throttling;
