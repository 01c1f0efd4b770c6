//! The JSON routes, in `route_table!`s: adding one is one line here (with
//! what it needs: `[NotesRead]` for a scope, `[token]` for any bearer token,
//! `, clients` to let service accounts in)
//! plus its description in `api/openapi.rs`. The bearer API is mounted under
//! `API_PREFIX`; the browser's refresh and the passkey endpoints sit among
//! the pages (inside the session middleware); the JWKS outside both.

use super::table::route_table;
use super::{api, browser_token, pages};
use actix_web::web;

/// Where `api_routes` is mounted.
pub const API_PREFIX: &str = "/api/v1";

route_table! {
    /// Routes under `/api/v1` (bearer tokens; JSON errors).
    fn api_routes, const API_ROUTES;
    "/auth/token" => { post: api::tokens::token }
    "/auth/revoke" => { post: api::revoke::revoke }
    "/auth/logout" => { post: api::revoke::logout [token] }
    "/me" => { get: api::me::me [ProfileRead], delete: api::me::delete_me [ProfileWrite] }
    "/ping" => { get: api::me::ping [token, clients] }
    "/notes" => { get: api::notes::list [NotesRead], post: api::notes::create [NotesWrite] }
    "/notes/{id}" => { get: api::notes::get [NotesRead], delete: api::notes::delete [NotesWrite] }
    "/stats" => { get: api::stats::stats [StatsRead, clients] }
    "/api-keys" => { get: api::api_keys::list [KeysRead], post: api::api_keys::create [KeysWrite] }
    "/api-keys/{id}" => { delete: api::api_keys::delete [KeysWrite] }
}

route_table! {
    /// The JSON route behind the session cookie: the browser's refresh
    /// (registered among the pages, inside the session middleware).
    fn browser_json_routes, const BROWSER_JSON_ROUTES;
    "/auth/token" => { post: browser_token::browser_token }
}

route_table! {
    /// The passkey endpoints behind the pages' buttons (JSON, the session
    /// cookie or the anonymous CSRF token; registered among the pages).
    fn passkey_json_routes, const PASSKEY_JSON_ROUTES;
    "/login/passkey/options" => { post: pages::passkeys::sign_in_options }
    "/login/passkey" => { post: pages::passkeys::sign_in }
    "/login/mfa/passkey/options" => { post: pages::passkeys::second_step_options }
    "/login/mfa/passkey" => { post: pages::passkeys::second_step }
    "/account/passkeys/options" => { post: pages::passkeys::register_options }
    "/account/passkeys" => { post: pages::passkeys::register }
    "/account/reauth/passkey/options" => { post: pages::passkeys::reauth_options }
    "/account/reauth/passkey" => { post: pages::passkeys::reauth }
}

route_table! {
    /// The JSON route outside both scopes: the JWKS.
    fn public_json_routes, const PUBLIC_JSON_ROUTES;
    "/.well-known/jwks.json" => { get: api::jwks::jwks }
}
