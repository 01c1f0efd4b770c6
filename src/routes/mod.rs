//! HTTP handlers: `pages` (server-rendered HTML, cookie sessions), `api`
//! (JSON, bearer tokens only), `health`.

pub mod api;
pub mod assets;
pub mod health;
pub mod pages;
