//! hybrid-auth: server-side sessions for HTML pages, short-lived scoped JWTs
//! for the API, refresh for API clients, and one revocation model behind all
//! of them. `startup::Application` assembles everything; `main.rs` and the
//! tests both go through it.

pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod maintenance;
pub mod routes;
pub mod startup;
pub mod state;
