//! The answers the JSON routes share, as OpenAPI responses: each a unit type
//! a handler's `#[utoipa::path]` names (`(status = 413, response = TooLarge)`),
//! registered once in `openapi.rs`. A leaf module: the handlers and the
//! document both use it, and it uses neither.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::schema::Type;
use utoipa::openapi::{ObjectBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::ToResponse;

/// A JSON error response, with the headers it carries.
fn error_response(description: &str, headers: &[(&str, &str)]) -> Response {
    let body = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .build();
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", body);
    for (name, text) in headers {
        response = response.header(*name, string_header(text));
    }
    response.build()
}

const WWW_AUTHENTICATE: &str = "WWW-Authenticate";
const RETRY_AFTER: &str = "Retry-After";

/// Declares the shared error responses, each a unit type that
/// `#[utoipa::path]` can name (`response = TooLarge`).
macro_rules! error_responses {
    ($($name:ident: $description:literal $(, $header:ident = $text:literal)*;)*) => {
        $(
            pub struct $name;
            impl<'s> ToResponse<'s> for $name {
                fn response() -> (&'s str, RefOr<Response>) {
                    (stringify!($name), RefOr::T(error_response($description, &[$(($header, $text)),*])))
                }
            }
        )*
    };
}

error_responses! {
    InvalidRequest: "`invalid_request`: an unreadable body or a bad parameter, or a malformed `Authorization` header (then with `WWW-Authenticate`).",
        WWW_AUTHENTICATE = "`Bearer realm=\"<APP_NAME>\", error=\"invalid_request\", error_description=\"…\"` when the header was malformed";
    OAuthError: "RFC 6749 §5.2: `invalid_request` (a missing, empty or repeated parameter, an unreadable body), `invalid_grant` (wrong credentials, an unknown, spent, revoked or expired refresh token, an unverified address), `invalid_scope`, `unsupported_grant_type`, or `mfa_required` (the password grant for a user with a second factor, without `otp`).";
    Unauthorized: "No token (`unauthorized`), or one that may not be used (`invalid_token`: expired, revoked, or otherwise invalid).",
        WWW_AUTHENTICATE = "`Bearer realm=\"<APP_NAME>\"`, with `error=\"invalid_token\"` and `error_description` for a bad token";
    StepUpOrUnauthorized: "`unauthorized` or `invalid_token` as on every bearer route, or `insufficient_user_authentication` (RFC 9470): the token's sign-in (`auth_time`) is older than REAUTH_WINDOW, or (`acr_values=\"aal2\"` in the challenge) the user has a second factor and the token is only aal1; sign in again (password grant, with `otp` when `acr_values` asks for aal2) and retry.",
        WWW_AUTHENTICATE = "for the step-up: `Bearer realm=\"<APP_NAME>\", error=\"insufficient_user_authentication\", error_description=\"…\", max_age=\"600\"` (max_age = REAUTH_WINDOW in seconds), plus `acr_values=\"aal2\"` when the token's acr is what falls short";
    LoginRequired: "`login_required`: no live web session (no `WWW-Authenticate`).";
    InsufficientScope: "`insufficient_scope`: the token lacks the scope the route needs.",
        WWW_AUTHENTICATE = "`Bearer realm=\"<APP_NAME>\", error=\"insufficient_scope\", scope=\"<needed scope>\"`";
    InsufficientScopeOrPerson: "`insufficient_scope`: the token (or API key) lacks the scope the route needs; or `forbidden`: a service account's token, on a route for people.",
        WWW_AUTHENTICATE = "for `insufficient_scope`: `Bearer realm=\"<APP_NAME>\", error=\"insufficient_scope\", scope=\"<needed scope>\"`";
    PeopleOnly: "`forbidden`: a service account's token, on a route for people.";
    InvalidClient: "`invalid_client` (RFC 6749 §5.2): the client credentials of `grant_type=client_credentials` did not authenticate (unknown client, wrong secret, disabled client).",
        WWW_AUTHENTICATE = "`Basic realm=\"<APP_NAME>\"`";
    Forbidden: "`forbidden`: a foreign `Origin` or `Sec-Fetch-Site`, a missing or wrong `X-CSRF-Token`, or (EMAIL_VERIFICATION=required) an unverified address.";
    NotFound: "`not_found`: no such resource (also another user's, or a malformed id).";
    TooLarge: "`invalid_request`: the request body is too large.";
    Throttled: "`too_many_attempts`: too many failed sign-ins for this account or address.",
        RETRY_AFTER = "seconds to wait";
    Unavailable: "`temporarily_unavailable`: the database is unreachable, or too many sign-ins are queued.",
        RETRY_AFTER = "seconds to wait (5, or 1 when sign-ins are queued)";
}

/// The 503 of `POST /auth/token`: JSON from the handler, or the HTML error
/// page when the session store itself cannot load the cookie's session
/// (`middleware::session_store_errors`).
pub struct SessionUnavailable;

impl<'s> ToResponse<'s> for SessionUnavailable {
    fn response() -> (&'s str, RefOr<Response>) {
        let mut response = error_response(
            "`temporarily_unavailable`: the database is unreachable (an HTML error page when it fails while loading the session).",
            &[(RETRY_AFTER, "seconds to wait")],
        );
        let html = ObjectBuilder::new().schema_type(Type::String).build();
        response.content.insert(
            "text/html".to_owned(),
            ContentBuilder::new().schema(Some(html)).build(),
        );
        ("SessionUnavailable", RefOr::T(response))
    }
}

/// An HTML error page of the page scope (the app's error template).
fn html_response(description: &str, headers: &[(&str, &str)]) -> Response {
    let html = ObjectBuilder::new().schema_type(Type::String).build();
    let mut response = ResponseBuilder::new().description(description).content(
        "text/html",
        ContentBuilder::new().schema(Some(html)).build(),
    );
    for (name, text) in headers {
        response = response.header(*name, string_header(text));
    }
    response.build()
}

/// Declares the page scope's shared responses (HTML error pages and
/// redirects), each a unit type `#[utoipa::path]` can name.
macro_rules! page_responses {
    ($($name:ident: $description:literal $(, $header:ident = $text:literal)*;)*) => {
        $(
            pub struct $name;
            impl<'s> ToResponse<'s> for $name {
                fn response() -> (&'s str, RefOr<Response>) {
                    (stringify!($name), RefOr::T(html_response($description, &[$(($header, $text)),*])))
                }
            }
        )*
    };
}

const LOCATION: &str = "Location";

page_responses! {
    PageForbidden: "A foreign `Origin` / `Sec-Fetch-Site`, or a missing or wrong CSRF token (`X-CSRF-Token`): the HTML error page.";

    PageUnavailable: "The database is unreachable: the HTML error page.",
        RETRY_AFTER = "seconds to wait";
}

/// The 303 of a sensitive action on a session that signed in too long ago:
/// nothing was done; no body.
pub struct PageRedirect;

impl<'s> ToResponse<'s> for PageRedirect {
    fn response() -> (&'s str, RefOr<Response>) {
        let response = ResponseBuilder::new()
            .description("A sensitive action on a session that signed in longer than REAUTH_WINDOW ago (or without its second factor): nothing was done; re-authenticate at the `Location` and retry.")
            .header(LOCATION, string_header("`/account/reauth?next=/account`"))
            .build();
        ("PageRedirect", RefOr::T(response))
    }
}

/// A response of the passkey endpoints that is either the handler's JSON
/// (`PasskeyError`) or the app's HTML error page.
fn passkey_json_or_page(description: &str) -> Response {
    let mut response = html_response(description, &[]);
    response.content.insert(
        "application/json".to_owned(),
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("PasskeyError")))
            .build(),
    );
    response
}

/// The 400 of the passkey endpoints: JSON from the handler, or the HTML
/// error page for input the database cannot store.
pub struct PasskeyRefused;

impl<'s> ToResponse<'s> for PasskeyRefused {
    fn response() -> (&'s str, RefOr<Response>) {
        let response = passkey_json_or_page(
            "`invalid_credential` (it did not verify, the challenge is unknown, spent or expired, or there is no passkey to ask for) or `invalid_request` (a bad body or name), as JSON; an HTML error page for characters that cannot be stored.",
        );
        ("PasskeyRefused", RefOr::T(response))
    }
}

/// The 403 of the passkey endpoints: the HTML error page for a foreign
/// origin or a bad CSRF token, JSON when the handler refuses (an address not
/// confirmed yet).
pub struct PasskeyForbidden;

impl<'s> ToResponse<'s> for PasskeyForbidden {
    fn response() -> (&'s str, RefOr<Response>) {
        let response = passkey_json_or_page(
            "A foreign `Origin` / `Sec-Fetch-Site`, or a missing or wrong CSRF token (`X-CSRF-Token`): the HTML error page. The address is not confirmed yet (`forbidden`; `address_unconfirmed` when adding a passkey): JSON.",
        );
        ("PasskeyForbidden", RefOr::T(response))
    }
}

/// Declares the passkey endpoints' shared JSON answers (a `PasskeyError`
/// body), each a unit type `#[utoipa::path]` can name.
macro_rules! passkey_responses {
    ($($name:ident: $description:literal;)*) => {
        $(
            pub struct $name;
            impl<'s> ToResponse<'s> for $name {
                fn response() -> (&'s str, RefOr<Response>) {
                    let body = ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("PasskeyError")))
                        .build();
                    let response = ResponseBuilder::new()
                        .description($description)
                        .content("application/json", body)
                        .build();
                    (stringify!($name), RefOr::T(response))
                }
            }
        )*
    };
}

passkey_responses! {
    PasskeyLoginRequired: "`login_required`: no live web session (or, on the second step, no pending sign-in).";
    NoPasskeyToAskFor: "`not_found`: no passkey to ask for (or passkeys are off: PUBLIC_URL is an IP address).";
    PasskeyTooLarge: "The body is over 64 KiB (`invalid_request`).";
}

/// The 200 of both token endpoints (RFC 6749 §5.1).
pub struct TokenIssued;

impl<'s> ToResponse<'s> for TokenIssued {
    fn response() -> (&'s str, RefOr<Response>) {
        let body = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("TokenResponse")))
            .build();
        let response = ResponseBuilder::new()
            .description("An access token (and, from the grants, its refresh token).")
            .content("application/json", body)
            .header("Cache-Control", string_header("`no-store`"))
            .header("Pragma", string_header("`no-cache`"))
            .build();
        ("TokenIssued", RefOr::T(response))
    }
}

fn string_header(text: &str) -> Header {
    let schema = ObjectBuilder::new().schema_type(Type::String).build();
    HeaderBuilder::new()
        .schema(schema)
        .description(Some(text))
        .build()
}
