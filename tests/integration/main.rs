//! One integration-test binary (faster to link than many). Every test gets
//! its own database and its own server on a random port.

mod browser;
mod helpers;
mod pages;
mod refresh;
mod revocation;
mod session_store;
mod tokens;
mod webdriver;
