//! The API describes itself: `GET /api/openapi.json` is an OpenAPI 3.1
//! document of every JSON route, generated from the handlers'
//! `#[utoipa::path]` attributes and the types they answer with, and
//! `GET /api/docs` renders it with Swagger UI, served from the binary.
//!
//! Everything is registered here, in one place:
//!
//! * a new JSON route (one line in a `route_table!` of `routes/json.rs`, with
//!   the scope it needs) gets `#[utoipa::path(...)]` on its handler (its own
//!   success and specific error statuses) and one line in `paths(...)`
//!   below; its body types derive `utoipa::ToSchema` and go into
//!   `schemas(...)`;
//! * each bearer route's security (the scope it needs, or `[]` for any
//!   token) is read from the route table, so the document and the check
//!   cannot disagree;
//! * what every bearer route answers alike (400 for a malformed
//!   `Authorization` header, 401, 403 `insufficient_scope` when it names a
//!   scope, 503) is added by `Describe` below, as is the OAuth2 alternative of
//!   each bearer requirement, so handlers only state what is theirs.
//!
//! The test `openapi::the_document_describes_every_json_route` fails when a
//! route in `routes::API_ROUTES` (or the two small JSON tables beside it) has
//! no description, or a description has no route.

use super::responses::*;
use crate::auth::{AppState, Scope};
use crate::error::ErrorBody;
use crate::routes::api::{api_keys, jwks, me, notes, revoke, stats, tokens};
use crate::routes::browser_token;
use crate::routes::json::{API_PREFIX, API_ROUTES};
use crate::routes::pages::passkeys;
use crate::routes::table::Needs;
use actix_web::http::header;
use actix_web::{web, HttpResponse};
use askama::Template;
use std::sync::{Arc, OnceLock};
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{AdditionalProperties, Schema, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password,
    Scopes, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::Required;
use utoipa::openapi::{ObjectBuilder, OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "API",
        description = "The JSON routes of this app: the token endpoints, the bearer API under `/api/v1` and the JWKS. Every error body is `{\"error\", \"error_description\"}` (RFC 6749 §5.2 / RFC 6750 §3). The full contract is docs/http-api.md in the repository.",
    ),
    paths(
        tokens::token,
        revoke::revoke,
        revoke::logout,
        browser_token::browser_token,
        me::me,
        me::delete_me,
        me::ping,
        notes::list,
        notes::create,
        notes::get,
        notes::delete,
        stats::stats,
        api_keys::list,
        api_keys::create,
        api_keys::delete,
        jwks::jwks,
        passkeys::sign_in_options,
        passkeys::sign_in,
        passkeys::second_step_options,
        passkeys::second_step,
        passkeys::register_options,
        passkeys::register,
        passkeys::reauth_options,
        passkeys::reauth,
    ),
    components(
        schemas(
            ErrorBody,
            tokens::TokenRequest,
            tokens::TokenResponse,
            revoke::RevokeRequest,
            browser_token::BrowserTokenRequest,
            me::Profile,
            me::Ping,
            notes::NewNote,
            notes::NoteJson,
            notes::NotePage,
            stats::Stats,
            api_keys::NewApiKey,
            api_keys::CreatedApiKey,
            api_keys::ApiKeyJson,
            api_keys::ApiKeyList,
            jwks::Jwks,
            jwks::Jwk,
            passkeys::NewPasskeyBody,
            passkeys::AssertionBody,
            passkeys::PasskeyOptions,
            passkeys::PasskeyAdded,
            passkeys::Redirect,
            passkeys::PasskeyError,
        ),
        responses(
            InvalidRequest,
            OAuthError,
            Unauthorized,
            StepUpOrUnauthorized,
            LoginRequired,
            InsufficientScope,
            Forbidden,
            InsufficientScopeOrPerson,
            PeopleOnly,
            InvalidClient,
            NotFound,
            TooLarge,
            Throttled,
            Unavailable,
            TokenIssued,
            SessionUnavailable,
            PageForbidden,
            PasskeyForbidden,
            PageRedirect,
            PageUnavailable,
            PasskeyRefused,
            PasskeyLoginRequired,
            NoPasskeyToAskFor,
            PasskeyTooLarge,
        ),
    ),
    modifiers(&Describe),
    tags(
        (name = "tokens", description = "Getting and ending tokens"),
        (name = "profile", description = "The token's user"),
        (name = "notes", description = "The example resource"),
        (name = "stats", description = "A scope only some users get, and a route for service accounts"),
        (name = "api-keys", description = "A user's API keys: long-lived bearer credentials for scripts"),
        (name = "keys", description = "Verifying tokens elsewhere"),
        (name = "passkeys", description = "The passkey endpoints behind the pages' buttons (session cookie + X-CSRF-Token, or the anonymous CSRF token on the sign-in pages)"),
    ),
)]
pub struct ApiDoc;

/// What the attributes leave to one place: the security schemes, and on every
/// bearer operation its OAuth2 alternative and the responses all of them
/// share.
struct Describe;

impl Modify for Describe {
    fn modify(&self, doc: &mut Document) {
        // Cargo.toml names no license.
        doc.info.license = None;
        if let Some(components) = doc.components.as_mut() {
            let bearer = HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "An access token (EdDSA JWT, `typ` at+jwt) from the token endpoint. Each route names the scope it needs; `[]` means any valid token.",
                ))
                .build();
            components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
            let token_url = "/api/v1/auth/token";
            let flow = Password::with_refresh_url(
                token_url,
                Scopes::from_iter(Scope::ALL.iter().map(|s| (s.as_str(), s.description()))),
                token_url,
            );
            components.add_security_scheme(
                "oauth2",
                SecurityScheme::OAuth2(OAuth2::with_description(
                    [Flow::Password(flow)],
                    "The same bearer token, obtained with the password grant (and renewed with the refresh_token grant).",
                )),
            );
            components.add_security_scheme(
                "api_key",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .bearer_format("API key")
                        .description(Some(
                            "One of the user's API keys (`<prefix>_<43 characters>`, made on the account page or with `POST /api/v1/api-keys`), with the key's own scopes. Never a step-up; never mints tokens.",
                        ))
                        .build(),
                ),
            );
            let clients = ClientCredentials::new(
                token_url,
                Scopes::from_iter(Scope::ALL.iter().map(|s| (s.as_str(), s.description()))),
            );
            components.add_security_scheme(
                "client_credentials",
                SecurityScheme::OAuth2(OAuth2::with_description(
                    [Flow::ClientCredentials(clients)],
                    "A service account's access token (`grant_type=client_credentials`, the client authenticated with HTTP Basic or `client_id` + `client_secret` in the form). Only the routes for service accounts list it; the others answer such a token with 403 `forbidden`.",
                )),
            );
            components.add_security_scheme(
                "session_cookie",
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                    "session",
                    "The web session cookie (`__Host-session` when COOKIE_SECURE).",
                ))),
            );
            components.add_security_scheme(
                "csrf_header",
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    "X-CSRF-Token",
                    "The session's CSRF token, from the page's `<meta name=\"csrf-token\">`.",
                ))),
            );
        }
        // A key's scopes are names of the catalogue.
        if let Some(RefOr::T(Schema::Object(key))) = doc
            .components
            .as_mut()
            .and_then(|c| c.schemas.get_mut("NewApiKey"))
        {
            if let Some(RefOr::T(Schema::Object(scope))) = key.properties.get_mut("scope") {
                scope.pattern = Some(key_scope_pattern());
            }
        }
        // A parameter set that requires nothing may be left out entirely.
        let mut optional = Vec::new();
        if let Some(components) = doc.components.as_mut() {
            for name in PARAMETER_SETS {
                if let Some(RefOr::T(schema)) = components.schemas.get_mut(*name) {
                    describe_parameters(schema);
                    if matches!(schema, Schema::Object(o) if o.required.is_empty()) {
                        optional.push(*name);
                    }
                }
            }
        }
        for (path, item) in doc.paths.paths.iter_mut() {
            let ops = [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("delete", &mut item.delete),
            ];
            for (method, op) in ops {
                let Some(op) = op.as_mut() else { continue };
                if let Some(needs) = security_from_the_route_table(path, method, op) {
                    describe_bearer(op, needs);
                }
                json_alike(op, &optional);
            }
        }
    }
}

/// The bodies that `params::read_params` reads: every name and value is a
/// string without NUL (a NUL anywhere is `invalid_request`).
const PARAMETER_SETS: &[&str] = &["TokenRequest", "RevokeRequest", "BrowserTokenRequest"];

/// A string without NUL.
const NO_NUL: &str = "^[^\\u0000]*$";

/// What `str::trim` removes (Unicode White_Space), as a regex class body.
const WHITESPACE: &str =
    "\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

/// What `scopes::narrow` reads as a scope parameter: known names separated
/// by spaces or tabs, whitespace around them, or nothing (the whole grant).
fn scope_pattern() -> String {
    let names: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    let name = format!("(?:{})", names.join("|"));
    format!("^[{WHITESPACE}]*(?:{name}(?:[\\t ]+{name})*)?[{WHITESPACE}]*$")
}

/// The scope of a new API key: as `scope_pattern`, but one name at least.
fn key_scope_pattern() -> String {
    let names: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    let name = format!("(?:{})", names.join("|"));
    format!("^[{WHITESPACE}]*{name}(?:[\\t ]+{name})*[{WHITESPACE}]*$")
}

fn string_matching(pattern: String) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .build()
        .into()
}

/// States the rules of `read_params` on a parameter set: names and values
/// are strings without NUL (its other, ignored, parameters too), and a
/// `scope` is one that `scopes::narrow` can read.
fn describe_parameters(schema: &mut Schema) {
    match schema {
        Schema::OneOf(one_of) => {
            for item in &mut one_of.items {
                if let RefOr::T(s) = item {
                    describe_parameters(s);
                }
            }
        }
        Schema::Object(object) => {
            object.property_names = Some(Box::new(string_matching(NO_NUL.to_owned())));
            for (name, property) in &mut object.properties {
                if let RefOr::T(Schema::Object(p)) = property {
                    if name == "scope" {
                        p.pattern = Some(scope_pattern());
                    }
                    p.pattern.get_or_insert_with(|| NO_NUL.to_owned());
                }
            }
            object.additional_properties = Some(Box::new(AdditionalProperties::RefOr(RefOr::T(
                string_matching(NO_NUL.to_owned()),
            ))));
        }
        _ => {}
    }
}

/// A parameter set is read from a form or from a JSON object of strings
/// alike (`params::read_params`): the attributes name the form, the JSON
/// follows here.
fn json_alike(op: &mut Operation, optional: &[&str]) {
    let Some(body) = op.request_body.as_mut() else {
        return;
    };
    let Some(form) = body.content.get("application/x-www-form-urlencoded") else {
        return;
    };
    let set = match &form.schema {
        Some(RefOr::Ref(r)) => PARAMETER_SETS
            .iter()
            .find(|name| r.ref_location.ends_with(&format!("/{name}"))),
        _ => None,
    };
    if let Some(set) = set {
        if optional.contains(set) {
            body.required = Some(Required::False);
        }
        let json = form.clone();
        body.content.insert("application/json".to_owned(), json);
        let limit = "Form-encoded (the standard) or a JSON object of strings; at most 16 KiB.";
        body.description = Some(match body.description.take() {
            Some(text) => format!("{text} {limit}"),
            None => limit.to_owned(),
        });
    }
}

/// The bearer requirement of the route-table line of `method path` (under
/// `API_PREFIX`): `[scope]` or `[]` (any token).
fn security_from_the_route_table(path: &str, method: &str, op: &mut Operation) -> Option<Needs> {
    let relative = path.strip_prefix(API_PREFIX)?;
    let needs = API_ROUTES
        .iter()
        .filter(|r| r.path == relative)
        .flat_map(|r| r.methods.iter())
        .find(|m| m.method == method)
        .map(|m| m.needs);
    let needs = needs.filter(|n| n.is_bearer())?;
    let scopes: Vec<&str> = needs.scope().map(|s| s.as_str()).into_iter().collect();
    let mut alternatives = vec![
        SecurityRequirement::new("bearer", scopes.clone()),
        SecurityRequirement::new("oauth2", scopes.clone()),
        SecurityRequirement::new("api_key", scopes.clone()),
    ];
    if needs.lets_clients_in() {
        alternatives.push(SecurityRequirement::new("client_credentials", scopes));
    }
    op.security = Some(alternatives);
    Some(needs)
}

/// The scopes a bearer operation names, if it is one.
pub fn bearer_scopes(op: &Operation) -> Option<Vec<String>> {
    let requirement = op.security.as_ref()?.first()?;
    let value = serde_json::to_value(requirement).ok()?;
    let scopes = value.get("bearer")?.as_array()?;
    Some(
        scopes
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
    )
}

/// What every bearer operation answers alike, by what its line needs.
fn describe_bearer(op: &mut Operation, needs: Needs) {
    let mut shared = vec![
        ("400", "InvalidRequest"),
        ("401", "Unauthorized"),
        ("503", "Unavailable"),
    ];
    match (needs.scope().is_some(), needs.lets_clients_in()) {
        (true, true) => shared.push(("403", "InsufficientScope")),
        (true, false) => shared.push(("403", "InsufficientScopeOrPerson")),
        (false, false) => shared.push(("403", "PeopleOnly")),
        (false, true) => {}
    }
    for (status, name) in shared {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    }
}

/// The document for this instance: the session cookie under its configured
/// name.
pub fn document_for(cookie_name: &str) -> Document {
    let mut doc = ApiDoc::openapi();
    doc.info.title = format!("{} API", crate::web::app_name());
    if let Some(SecurityScheme::ApiKey(ApiKey::Cookie(cookie))) = doc
        .components
        .as_mut()
        .and_then(|c| c.security_schemes.get_mut("session_cookie"))
    {
        cookie.name = cookie_name.to_owned();
    }
    doc
}

/// `GET /api/openapi.json`.
pub async fn document(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(document_for(state.settings.session_cookie_name()))
}

/// The docs page: Swagger UI's own assets and `static/js/api-docs.js`, which
/// starts it; no inline script, so the CSP stays as it is.
#[derive(Template)]
#[template(path = "api_docs.html")]
struct DocsPage;

/// The app's CSP with one loosening: Swagger UI's stylesheet draws its icons
/// (chevrons, checkboxes) as `data:` SVG images. Images only: scripts and
/// styles still come from this origin alone.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
base-uri 'none'";

/// `GET /api/docs`.
pub async fn docs_page() -> HttpResponse {
    match DocsPage.render() {
        Ok(html) => HttpResponse::Ok()
            // Set here, so the default security headers leave it alone.
            .insert_header((header::CONTENT_SECURITY_POLICY, DOCS_CSP))
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(html),
        Err(e) => {
            crate::error::log_chain("rendering the docs page", &e);
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// The Swagger UI files the page loads (nothing else of the distribution is
/// served).
const SWAGGER_FILES: &[&str] = &["swagger-ui.css", "swagger-ui-bundle.js"];

/// `GET /api/docs/{file}`: Swagger UI's stylesheet and script, vendored into
/// the binary at build time.
pub async fn docs_asset(file: web::Path<String>) -> HttpResponse {
    static CONFIG: OnceLock<Arc<utoipa_swagger_ui::Config<'static>>> = OnceLock::new();
    let not_found = || {
        HttpResponse::NotFound()
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("not found")
    };
    if !SWAGGER_FILES.contains(&file.as_str()) {
        return not_found();
    }
    let config =
        CONFIG.get_or_init(|| Arc::new(utoipa_swagger_ui::Config::from("/api/openapi.json")));
    match utoipa_swagger_ui::serve(&file, config.clone()) {
        Ok(Some(asset)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, asset.content_type))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(asset.bytes.into_owned()),
        Ok(None) => not_found(),
        Err(e) => {
            crate::error::log_chain("serving a Swagger UI file", e.as_ref());
            HttpResponse::InternalServerError().finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1() {
        let doc = serde_json::to_value(document_for("session")).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    }

    #[test]
    fn the_docs_page_loosens_the_csp_for_data_images_only() {
        let loosened = crate::web::CSP.replace("img-src 'self';", "img-src 'self' data:;");
        assert_eq!(DOCS_CSP, loosened);
    }

    #[test]
    fn every_scope_named_is_in_the_catalogue_and_described() {
        let doc = ApiDoc::openapi();
        for item in doc.paths.paths.values() {
            for op in [&item.get, &item.post, &item.delete].into_iter().flatten() {
                for scope in bearer_scopes(op).unwrap_or_default() {
                    assert!(Scope::parse(&scope).is_some(), "unknown scope {scope}");
                }
            }
        }
        let doc = serde_json::to_value(document_for("session")).unwrap();
        let flow = &doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"];
        for &scope in Scope::ALL {
            assert_eq!(flow["scopes"][scope.as_str()], scope.description());
        }
    }
}
