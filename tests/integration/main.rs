//! One integration-test binary (faster to link than many). Every test gets
//! its own database and its own server on a random port.

mod access_tokens;
mod account;
mod bad_requests;
mod browser;
mod browser_token;
mod caches;
mod database;
mod forge;
mod forged_tokens;
mod hardening;
mod helpers;
mod in_process;
mod junk;
mod lifecycle;
mod login;
mod notes;
mod operations;
mod outage;
mod pages;
mod process;
mod refresh;
mod registration;
mod revocation;
mod session_expiry;
mod session_store;
mod smtp;
mod throttling;
mod webdriver;
