//! The HTTP layer: each handler parses the request, calls `auth/` (or `db/`
//! for plain resources), and maps the outcome to a response. Adding a route is one line: in
//! `page_routes` below for a page, in `json.rs` for a JSON route. The JSON
//! routes are declared with `route_table!` (`table.rs`), which also states what each needs
//! (`[NotesRead]`: a bearer token with that scope, checked before the
//! handler runs) and lists them: the API description takes each route's
//! security from that list, and the tests hold every route to a description
//! and its scope (`api/openapi.rs`).
//!
//! * `pages/`: server-rendered HTML, authenticated by the session cookie;
//! * `browser_token.rs`: `POST /auth/token`, the browser's cookie-based refresh;
//! * `api/`: JSON under `/api/v1`, bearer tokens only (never the cookie);
//! * `health.rs`, `assets.rs`: probes and the static files.

pub mod api;
pub mod assets;
pub mod browser_token;
pub mod health;
pub mod json;
pub mod middleware;
pub mod pages;
pub mod prelude;
pub mod table;

pub use json::{
    api_routes, API_PREFIX, API_ROUTES, BROWSER_JSON_ROUTES, PASSKEY_JSON_ROUTES,
    PUBLIC_JSON_ROUTES,
};
pub use table::{Needs, RouteEntry, RouteMethod};

use actix_web::web::{self, get, post};

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
        .configure(json::passkey_json_routes)
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
        .route("/account/api-keys", post().to(account::api_keys::create))
        .route(
            "/account/api-keys/{id}/revoke",
            post().to(account::api_keys::revoke),
        )
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
        .configure(json::browser_json_routes)
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
        .configure(json::public_json_routes)
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
