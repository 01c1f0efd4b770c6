//! The HTTP layer: each handler parses the request, calls `auth/` (or `db/`
//! for plain resources), and maps the outcome to a response. This file is
//! the route table: adding a route is one line in `api_routes` or
//! `page_routes`. The JSON routes (`api_routes` and the two small tables
//! beside it) are declared with `route_table!`, which also lists them, so
//! the test of the OpenAPI document can hold every one of them to a
//! description (`api/openapi.rs`).
//!
//! * `pages/`: server-rendered HTML, authenticated by the session cookie;
//! * `browser_token.rs`: `POST /auth/token`, the browser's cookie-based refresh;
//! * `api/`: JSON under `/api/v1`, bearer tokens only (never the cookie);
//! * `health.rs`, `assets.rs`: probes and the static files.

pub mod api;
pub mod assets;
pub mod browser_token;
pub mod health;
pub mod middleware;
pub mod pages;
pub mod prelude;

use actix_web::web::{self, get, post};

/// One registered route: its path (relative to the scope it is registered
/// in) and the HTTP methods it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteEntry {
    pub path: &'static str,
    pub methods: &'static [&'static str],
}

/// Declares a route table once for both audiences: the function that
/// registers it with actix (one resource per path, so a method the path does
/// not answer gets 405 with `Allow`, not 404) and a constant listing it, which
/// the OpenAPI test compares with the document (every route listed must be
/// described: see `api::openapi`).
macro_rules! route_table {
    ($(#[$doc:meta])* fn $register:ident, const $table:ident;
     $($path:literal => { $($method:ident: $handler:path),+ $(,)? })*) => {
        $(#[$doc])*
        pub fn $register(cfg: &mut web::ServiceConfig) {
            $(cfg.service(web::resource($path)$(.route(web::$method().to($handler)))+);)*
        }
        #[doc = concat!("The routes `", stringify!($register), "` registers.")]
        pub const $table: &[RouteEntry] = &[
            $(RouteEntry { path: $path, methods: &[$(stringify!($method)),+] }),*
        ];
    };
}

/// Where `api_routes` is mounted.
pub const API_PREFIX: &str = "/api/v1";

route_table! {
    /// Routes under `/api/v1` (bearer tokens; JSON errors).
    fn api_routes, const API_ROUTES;
    "/auth/token" => { post: api::tokens::token }
    "/auth/revoke" => { post: api::revoke::revoke }
    "/auth/logout" => { post: api::revoke::logout }
    "/me" => { get: api::me::me, delete: api::me::delete_me }
    "/ping" => { get: api::me::ping }
    "/notes" => { get: api::notes::list, post: api::notes::create }
    "/notes/{id}" => { get: api::notes::get, delete: api::notes::delete }
    "/stats" => { get: api::stats::stats }
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

/// Routes behind the session cookie (HTML pages, and the browser's refresh).
pub fn page_routes(cfg: &mut web::ServiceConfig) {
    use pages::{account, email_verification as verify, home, login, login_mfa, logout, passkeys};
    use pages::{oidc, password_reset as reset, refresh_demo, register};
    cfg.route("/", get().to(home::home))
        .route("/register", get().to(register::register_form))
        .route("/register", post().to(register::register))
        .route("/login", get().to(login::login_form))
        .route("/login", post().to(login::login))
        .route("/login/mfa", get().to(login_mfa::mfa_form))
        .route("/login/mfa", post().to(login_mfa::mfa))
        .configure(passkey_json_routes)
        .route("/login/oidc/link", get().to(oidc::link_form))
        .route("/login/oidc/link", post().to(oidc::link))
        .route("/login/oidc/{name}", get().to(oidc::start))
        .route("/login/oidc/{name}/callback", get().to(oidc::callback))
        .route("/account/identities/{id}/delete", post().to(oidc::unlink))
        .route("/account/passkeys/{id}/delete", post().to(passkeys::remove))
        .route("/logout", get().to(logout::logout_form))
        .route("/logout", post().to(logout::logout))
        .route("/account", get().to(account::account))
        .route(
            "/account/sessions/revoke-others",
            post().to(account::revoke_others),
        )
        .route(
            "/account/sessions/{id}/revoke",
            post().to(account::revoke_one),
        )
        .route("/account/password", post().to(account::change_password))
        .route("/account/delete", post().to(account::delete))
        .route("/account/reauth", get().to(account::reauth::reauth_form))
        .route("/account/reauth", post().to(account::reauth::reauth))
        .route("/account/mfa/totp", get().to(account::mfa::setup_form))
        .route("/account/mfa/totp", post().to(account::mfa::enable))
        .route("/account/mfa/totp/delete", post().to(account::mfa::disable))
        .route(
            "/account/mfa/recovery-codes",
            post().to(account::mfa::regenerate_codes),
        )
        .route("/refresh", get().to(refresh_demo::refresh_demo))
        .configure(browser_json_routes)
        .route("/password/forgot", get().to(reset::forgot_form))
        .route("/password/forgot", post().to(reset::forgot))
        .route("/password/reset/{token}", get().to(reset::reset_form))
        .route("/password/reset", post().to(reset::reset))
        .route("/email/verify/{token}", get().to(verify::confirm_page))
        .route("/email/verify", post().to(verify::verify))
        .route("/email/resend", post().to(verify::resend_anonymous))
        .route("/account/email/resend", post().to(verify::resend_signed_in));
}

/// Routes outside both scopes: probes, static files, the JWKS. (The static
/// files sit in a scope of their own so that their pattern is only tried
/// for paths under /static.)
pub fn public_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", get().to(health::healthz))
        .route("/readyz", get().to(health::readyz))
        .configure(public_json_routes)
        .route("/api/openapi.json", get().to(api::openapi::document))
        .route("/api/docs", get().to(api::openapi::docs_page))
        .route("/api/docs/{file}", get().to(api::openapi::docs_asset))
        .service(web::scope("/static").route("/{path:.*}", get().to(assets::asset)));
}

/// HTML 404 for unknown page paths, with the navigation of whoever asks.
pub async fn page_not_found(user: crate::auth::MaybeUser) -> actix_web::HttpResponse {
    let page = user.0.map(|u| u.page()).unwrap_or_default();
    crate::error::html_error_for(
        actix_web::http::StatusCode::NOT_FOUND,
        "Not found",
        "There is nothing here.",
        page,
    )
}
