//! The passkey endpoints behind the pages' buttons (`static/js/passkeys.js`).
//! JSON in and out; cookie-authenticated, so each needs the CSRF token in
//! `X-CSRF-Token` (the session's, or the anonymous double-submit token on
//! the sign-in pages). An assertion or registration that does not verify is
//! 400 `{"error":"invalid_credential"}` and changes nothing.
//!
//! * add and remove (`/account/passkeys…`): sensitive actions;
//! * sign in with a passkey alone (`/login/passkey…`): aal2 `["hwk"]`;
//! * the second step after a password (`/login/mfa/passkey…`);
//! * re-authentication (`/account/reauth/passkey…`).

use super::{require_recent_auth, see_other};
use crate::auth::account::links;
use crate::auth::account::mfa::{self, PasskeyAdd};
use crate::auth::account::{self, Reauth};
use crate::auth::credentials::passkeys::{self, Purpose};
use crate::auth::credentials::throttle;
use crate::auth::http::csrf::{self, require_session_csrf};
use crate::auth::http::{pending, start_web_session};
use crate::auth::{AppState, Assurance, ClientInfo, CurrentUser, MaybeUser, TypedSession};
use crate::db::{self, users};
use crate::error::AppError;
use crate::routes::api::responses::{
    NoPasskeyToAskFor, PageForbidden, PageRedirect, PageUnavailable, PasskeyForbidden,
    PasskeyLoginRequired, PasskeyRefused, PasskeyTooLarge,
};
use crate::web::safe_next;
use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;

/// `POST /account/passkeys`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct NewPasskeyBody {
    /// What the user calls it: 1 to 64 characters.
    #[serde(default)]
    #[schema(example = "Work laptop")]
    name: String,
    /// The new credential, as `PublicKeyCredential.toJSON()` gives it.
    #[schema(value_type = Object)]
    credential: Value,
}

/// An assertion (`PublicKeyCredential.toJSON()` of `navigator.credentials.get`).
#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct AssertionBody {
    #[schema(value_type = Object)]
    credential: Value,
    /// Re-authentication only: where to go next (a local path).
    #[serde(default)]
    #[schema(example = "/account")]
    next: String,
}

/// WebAuthn options: `{"publicKey": {...}}`, for
/// `PublicKeyCredential.parseCreationOptionsFromJSON` /
/// `parseRequestOptionsFromJSON`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PasskeyOptions {
    #[schema(value_type = Object, rename = "publicKey")]
    public_key: Value,
}

/// `201` of `POST /account/passkeys`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PasskeyAdded {
    id: uuid::Uuid,
    name: String,
    /// Only when this is the user's first second factor: shown once.
    recovery_codes: Option<Vec<String>>,
}

/// Where the page goes now.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Redirect {
    #[schema(example = "/account")]
    redirect: String,
}

/// A refused passkey request: `invalid_credential` (it did not verify, or
/// there is no passkey to ask for), `invalid_request` (a bad body or name),
/// `forbidden` (an unconfirmed address).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PasskeyError {
    #[schema(example = "invalid_credential")]
    error: String,
    error_description: Option<String>,
}

/// The longest passkey name kept.
const NAME_MAX: usize = 64;

fn header_token(req: &HttpRequest) -> &str {
    req.headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn invalid_credential() -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": "invalid_credential" }))
}

/// 403: nothing can be attached to an address that is not proven yet.
fn address_unconfirmed() -> HttpResponse {
    HttpResponse::Forbidden().json(json!({
        "error": "address_unconfirmed",
        "error_description": mfa::ADDRESS_UNCONFIRMED,
    }))
}

fn options_response(options: Option<Value>) -> HttpResponse {
    match options {
        Some(o) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(o),
        // No passkey to ask for (or passkeys are off: PUBLIC_URL is an IP).
        None => HttpResponse::NotFound().json(json!({
            "error": "not_found",
            "error_description": "no passkey to ask for",
        })),
    }
}

/// The caller of a signed-in passkey endpoint: a live web session that sent
/// its CSRF token in `X-CSRF-Token` (and an origin of this site). Without a
/// session: 401 `login_required` as JSON, where a page would redirect; a bad
/// token or a foreign origin: the 403 error page.
pub struct SignedIn(pub CurrentUser);

impl FromRequest for SignedIn {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = MaybeUser::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let Some(user) = user.await?.0 else {
                let refused = InternalError::from_response("login required", login_required());
                return Err(refused.into());
            };
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| AppError::from(anyhow::anyhow!("AppState missing")))?;
            require_session_csrf(&req, state, &user, header_token(&req))?;
            Ok(SignedIn(user))
        })
    }
}

/// A JSON caller without a live session (or, on the second step, without
/// a pending sign-in): 401, where a page would redirect.
fn login_required() -> HttpResponse {
    HttpResponse::Unauthorized().json(json!({
        "error": "login_required",
        "error_description": "sign in first",
    }))
}

fn go_to(next: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "redirect": next }))
}

/// `POST /account/passkeys/options`.
#[utoipa::path(
    post,
    path = "/account/passkeys/options",
    tag = "passkeys",
    summary = "Creation options for a new passkey (the user's existing ones excluded)",
    responses(
        (status = 200, description = "The creation options.", body = PasskeyOptions),
        (status = 303, response = PageRedirect),
        (status = 401, response = PasskeyLoginRequired),
        (status = 404, response = NoPasskeyToAskFor),
        (status = 400, response = PasskeyRefused),
        (status = 403, response = PasskeyForbidden),
        (status = 503, response = PageUnavailable),
    ),
    security(("session_cookie" = [], "csrf_header" = [])),
)]
pub async fn register_options(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
) -> Result<HttpResponse, AppError> {
    require_recent_auth(&state, &user, "/account").await?;
    // Read afresh: the cached session may predate the confirmation.
    let proven = {
        let mut conn = db::conn(&state.pool).await?;
        users::find(&mut conn, user.user.id)
            .await?
            .is_some_and(|u| u.email_verified_at.is_some())
    };
    if !proven {
        return Ok(address_unconfirmed());
    }
    let options = passkeys::start_registration(&state, &user.user).await?;
    Ok(options_response(options))
}

/// `POST /account/passkeys`: `{"name", "credential"}` → 201 `{"id","name"}`
/// (and `recovery_codes`, shown once, when this is the first factor).
#[utoipa::path(
    post,
    path = "/account/passkeys",
    tag = "passkeys",
    summary = "Add a passkey",
    request_body = NewPasskeyBody,
    responses(
        (status = 201, description = "Added (every other session of the user was signed out).", body = PasskeyAdded),
        (status = 303, response = PageRedirect),
        (status = 401, response = PasskeyLoginRequired),
        (status = 400, response = PasskeyRefused),
        (status = 403, response = PasskeyForbidden),
        (status = 413, response = PasskeyTooLarge),
        (status = 503, response = PageUnavailable),
    ),
    security(("session_cookie" = [], "csrf_header" = [])),
)]
pub async fn register(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    body: web::Json<NewPasskeyBody>,
    client: ClientInfo,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    require_recent_auth(&state, &user, "/account").await?;
    let body = body.into_inner();
    // No name given: the browser's ("Chrome 131 on Linux"), renamable later.
    let name = match body.name.trim() {
        "" => super::account::display::device_name(&client.user_agent)
            .chars()
            .take(NAME_MAX)
            .collect(),
        given => given.to_owned(),
    };
    let name = name.as_str();
    if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Ok(HttpResponse::BadRequest().json(json!({
            "error": "invalid_request",
            "error_description": "name: at most 64 characters, no control characters",
        })));
    }
    let Some(credential) =
        passkeys::finish_registration(&state, user.user.id, &body.credential).await?
    else {
        return Ok(invalid_credential());
    };
    match mfa::add_passkey(&state, &user, name, &credential, &client).await? {
        PasskeyAdd::Added { id, recovery_codes } => {
            session.renew_key();
            let mut body = json!({ "id": id, "name": name });
            if let Some(codes) = recovery_codes {
                body["recovery_codes"] = json!(codes);
            }
            Ok(HttpResponse::Created().json(body))
        }
        PasskeyAdd::Duplicate => Ok(invalid_credential()),
        PasskeyAdd::AddressUnconfirmed => Ok(address_unconfirmed()),
        PasskeyAdd::Conflict => Err(AppError::LoginRequired {
            next: "/account".to_owned(),
        }),
    }
}

/// `POST /account/passkeys/{id}/delete`.
pub async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<super::support::CsrfForm>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    require_session_csrf(&req, &state, &user, form.token())?;
    require_recent_auth(&state, &user, "/account").await?;
    let id = uuid::Uuid::parse_str(&path.into_inner()).map_err(|_| AppError::NotFound)?;
    match mfa::remove_passkey(&state, &user, id, &client).await? {
        mfa::PasskeyRemoval::Removed => Ok(see_other("/account?notice=passkey-removed")),
        mfa::PasskeyRemoval::NotFound => Err(AppError::NotFound),
        mfa::PasskeyRemoval::LastWayIn => Ok(crate::error::html_error_for(
            actix_web::http::StatusCode::CONFLICT,
            "This is your only way to sign in",
            "Set a password (use “Forgot your password?” on the sign-in page) or link a sign-in provider first, then remove this passkey.",
            user.page(),
        )),
    }
}

/// `POST /login/passkey/options`: any discoverable credential.
#[utoipa::path(
    post,
    path = "/login/passkey/options",
    tag = "passkeys",
    summary = "Options to sign in with a passkey alone (empty allowCredentials)",
    responses(
        (status = 200, description = "The request options.", body = PasskeyOptions),
        (status = 404, response = NoPasskeyToAskFor),
        (status = 400, response = PasskeyRefused),
        (status = 403, response = PageForbidden),
        (status = 429, description = "`too_many_attempts`: more than 30 starts a minute from this address; `Retry-After` says when to retry.", body = PasskeyError,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = 503, response = PageUnavailable),
    ),
    security(()),
)]
pub async fn sign_in_options(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    csrf::require_anon_csrf(&req, &state, header_token(&req))?;
    if let Some(secs) = super::ceremony_wait(&state, "passkey", &client).await? {
        return Ok(HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", secs.to_string()))
            .json(json!({
                "error": "too_many_attempts",
                "error_description": "too many passkey sign-ins from this network; wait and retry",
            })));
    }
    let options = passkeys::start_authentication(&state, Purpose::SignIn, None).await?;
    Ok(options_response(options))
}

/// `POST /login/passkey`: the assertion → a session (aal2, `["hwk"]`).
#[utoipa::path(
    post,
    path = "/login/passkey",
    tag = "passkeys",
    summary = "Sign in with a passkey alone: a web session (aal2, amr hwk)",
    request_body = AssertionBody,
    responses(
        (status = 200, description = "Signed in (the session cookie is set).", body = Redirect),
        (status = 400, response = PasskeyRefused),
        (status = 403, response = PasskeyForbidden),
        (status = 413, response = PasskeyTooLarge),
        (status = 503, response = PageUnavailable),
    ),
    security(()),
)]
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<AssertionBody>,
    client: ClientInfo,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    csrf::require_anon_csrf(&req, &state, header_token(&req))?;
    let asserted =
        passkeys::finish_authentication(&state, Purpose::SignIn, None, &body.credential).await?;
    let Some(asserted) = asserted else {
        return Ok(invalid_credential());
    };
    let mut conn = db::conn(&state.pool).await?;
    let Some(user) = users::find(&mut conn, asserted.user_id).await? else {
        return Ok(invalid_credential());
    };
    if links::verification_pending(&state.settings, &user) {
        return Ok(HttpResponse::Forbidden().json(json!({
            "error": "forbidden",
            "error_description": "email address not verified",
        })));
    }
    let assurance = Assurance::PASSKEY;
    if !start_web_session(&state, &mut conn, &user, &client, &session, assurance).await? {
        return Ok(invalid_credential());
    }
    Ok(go_to("/account"))
}

/// `POST /login/mfa/passkey/options`: the pending user's passkeys.
#[utoipa::path(
    post,
    path = "/login/mfa/passkey/options",
    tag = "passkeys",
    summary = "Options for the passkey as the second step (the pending user's credentials)",
    responses(
        (status = 200, description = "The request options.", body = PasskeyOptions),
        (status = 404, response = NoPasskeyToAskFor),
        (status = 401, description = "`login_required`: no pending sign-in (the password step first), or it expired.", body = PasskeyError),
        (status = 400, response = PasskeyRefused),
        (status = 403, response = PageForbidden),
        (status = 503, response = PageUnavailable),
    ),
    security(()),
)]
pub async fn second_step_options(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    csrf::require_anon_csrf(&req, &state, header_token(&req))?;
    let Some(pending) = pending::read(&req, &state) else {
        return Ok(login_required());
    };
    let options =
        passkeys::start_authentication(&state, Purpose::SecondFactor, Some(pending.user_id))
            .await?;
    Ok(options_response(options))
}

/// `POST /login/mfa/passkey`: the passkey as the second step.
#[utoipa::path(
    post,
    path = "/login/mfa/passkey",
    tag = "passkeys",
    summary = "The passkey as the second step after the password",
    request_body = AssertionBody,
    responses(
        (status = 200, description = "Signed in (the session cookie is set).", body = Redirect),
        (status = 401, description = "`login_required`: no pending sign-in (the password step first), or it expired.", body = PasskeyError),
        (status = 400, response = PasskeyRefused),
        (status = 403, response = PageForbidden),
        (status = 413, response = PasskeyTooLarge),
        (status = 503, response = PageUnavailable),
    ),
    security(()),
)]
pub async fn second_step(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<AssertionBody>,
    client: ClientInfo,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    csrf::require_anon_csrf(&req, &state, header_token(&req))?;
    let Some(pending) = pending::read(&req, &state) else {
        return Ok(login_required());
    };
    let Some(user) = pending.user(&state).await? else {
        return Ok(invalid_credential());
    };
    // No connection is held while the ceremony takes its own.
    let asserted = passkeys::finish_authentication(
        &state,
        Purpose::SecondFactor,
        Some(user.id),
        &body.credential,
    )
    .await?;
    if asserted.is_none() {
        return Ok(invalid_credential());
    }
    let mut conn = db::conn(&state.pool).await?;
    let assurance = pending.assurance(Assurance::PASSWORD_PASSKEY);
    if !start_web_session(&state, &mut conn, &user, &client, &session, assurance).await? {
        return Ok(invalid_credential());
    }
    throttle::clear(&mut conn, &user.email).await?;
    Ok(pending::cleared(go_to(pending.destination()), &state)?)
}

/// `POST /account/reauth/passkey/options`.
#[utoipa::path(
    post,
    path = "/account/reauth/passkey/options",
    tag = "passkeys",
    summary = "Options to re-authenticate with one of the user's passkeys",
    responses(
        (status = 200, description = "The request options.", body = PasskeyOptions),
        (status = 303, response = PageRedirect),
        (status = 401, response = PasskeyLoginRequired),
        (status = 404, response = NoPasskeyToAskFor),
        (status = 400, response = PasskeyRefused),
        (status = 403, response = PageForbidden),
        (status = 503, response = PageUnavailable),
    ),
    security(("session_cookie" = [], "csrf_header" = [])),
)]
pub async fn reauth_options(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
) -> Result<HttpResponse, AppError> {
    let options =
        passkeys::start_authentication(&state, Purpose::Reauth, Some(user.user.id)).await?;
    Ok(options_response(options))
}

/// `POST /account/reauth/passkey`: renews this session's `auth_time`.
#[utoipa::path(
    post,
    path = "/account/reauth/passkey",
    tag = "passkeys",
    summary = "Re-authenticate this session with a passkey",
    request_body = AssertionBody,
    responses(
        (status = 200, description = "Re-authenticated.", body = Redirect),
        (status = 303, response = PageRedirect),
        (status = 401, response = PasskeyLoginRequired),
        (status = 400, response = PasskeyRefused),
        (status = 403, response = PageForbidden),
        (status = 409, description = "The session ended meanwhile.", body = PasskeyError),
        (status = 413, response = PasskeyTooLarge),
        (status = 503, response = PageUnavailable),
    ),
    security(("session_cookie" = [], "csrf_header" = [])),
)]
pub async fn reauth(
    state: web::Data<AppState>,
    SignedIn(user): SignedIn,
    body: web::Json<AssertionBody>,
    client: ClientInfo,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    let asserted = passkeys::finish_authentication(
        &state,
        Purpose::Reauth,
        Some(user.user.id),
        &body.credential,
    )
    .await?;
    if asserted.is_none() {
        return Ok(invalid_credential());
    }
    match account::reauthenticated_with_passkey(&state, &user, &client).await? {
        Reauth::Done => {
            session.renew_key();
            Ok(go_to(safe_next(&body.next).unwrap_or("/account")))
        }
        _ => {
            Ok(HttpResponse::build(StatusCode::CONFLICT).json(json!({ "error": "session_ended" })))
        }
    }
}
