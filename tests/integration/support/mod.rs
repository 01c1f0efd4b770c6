//! Support code shared by the suites (no suite of its own):
//!
//! - `app`: `spawn_app()` and `TestApp`, the app on a random port against its
//!   own fresh database, with a clock the test can move and an HTTP client
//!   with a cookie jar (re-exported here, so suites `use crate::support::*`);
//! - `database`: the migrated template database, a fresh clone of it per
//!   test, and `DbProxy`, a TCP proxy a test can cut;
//! - `in_process`: `InProcess`, the app under `init_service` (no socket)
//!   with a user and a bearer token already in it;
//! - `forge`: the active signing key, a JWS signer, `Forge` (a real token
//!   re-signed with edits) and the `invalid_token` assertion;
//! - `smtp`: `SmtpReceiver`, an in-process SMTP server recording the mails
//!   the app sends (with its own self-test);
//! - `webdriver`: `Browser`, a minimal WebDriver client for headless Chromium;
//! - `oidc`: a real OpenID Provider (node, `tests/oidc-provider/`) on a
//!   free port and `OpBrowser`, which signs in there as a person would;
//! - `pgbouncer`: a real PgBouncer in transaction mode in front of the test
//!   Postgres, and the app (or several instances) with its pool through it;
//! - `factors`: an authenticator app (codes at the test clock) and recovery
//!   codes, from the test's side.

pub mod app;
pub mod authenticator;
pub mod database;
pub mod factors;
pub mod forge;
pub mod in_process;
pub mod oidc;
pub mod pgbouncer;
pub mod smtp;
pub mod webdriver;

pub use app::*;

/// The app's binary, built by cargo for the tests (named like the package,
/// so a project renamed with `hybrid-auth rename` finds its own).
pub fn binary() -> &'static str {
    env!(concat!("CARGO_BIN_EXE_", env!("CARGO_PKG_NAME")))
}
