//! hybrid-auth: server-side sessions for HTML pages, short-lived scoped JWTs
//! for the API, refresh for API clients, and one revocation model behind all
//! of them.
//!
//! Layers point down only (docs/architecture.md):
//! `startup` (assembles) → `routes` (HTTP) → `auth` (policy) → `db` (SQL),
//! with `error`, `web`, `config` and `clock` below them all. `main.rs` and the
//! tests both go through `startup::Application::build`.

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod mail;
pub mod maintenance;
pub mod metrics;
pub mod routes;
pub mod startup;
pub mod web;

pub use auth::AppState;
