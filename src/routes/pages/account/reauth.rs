//! `GET,POST /account/reauth`: confirm it is you before a sensitive action.
//! The password, plus a code when the account has a second factor; a
//! passkey; or the user's OpenID provider, and then, for an account with a
//! second factor, the code alone on this page. Success renews this
//! session's `auth_time` and goes on to `next`.

use super::super::support::throttled_message;
use super::super::{next_from_query, render, see_other};
use crate::auth::account::{self, Reauth};
use crate::auth::credentials::second_factor;
use crate::auth::http::csrf::require_session_csrf;
use crate::auth::{AppState, ClientInfo, CurrentUser, TypedSession};
use crate::db;
use crate::error::AppError;
use crate::web::{safe_next, PageContext};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

#[derive(Template)]
#[template(path = "reauth.html")]
struct ReauthPage<'a> {
    page: PageContext,
    email: &'a str,
    next: &'a str,
    needs_code: bool,
    passkey: bool,
    error: Option<String>,
    /// The user has a password (else only a provider or a passkey confirms).
    has_password: bool,
    /// The providers of the user's linked identities (`prompt=login`).
    providers: Vec<crate::routes::pages::support::ProviderButton>,
    /// The provider has just re-authenticated the user: only the second
    /// factor is asked for.
    after_provider: bool,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct ReauthForm {
    csrf_token: String,
    password: String,
    code: String,
    next: String,
}

async fn page(
    state: &AppState,
    user: &CurrentUser,
    session: &TypedSession,
    next: &str,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let (factors, identities, has_password) = {
        let mut conn = db::conn(&state.pool).await?;
        let fresh = db::users::find(&mut conn, user.user.id).await?;
        (
            second_factor::enrolled(&mut conn, user.user.id).await?,
            crate::auth::oidc::accounts::identities(&mut conn, user.user.id).await?,
            fresh.is_some_and(|u| !u.password_hash.is_empty()),
        )
    };
    let providers = crate::routes::pages::support::reauth_buttons(state, &identities, next);
    let after_provider =
        factors.any() && account::provider_step_open(state, session.provider_reauth());
    let body = ReauthPage {
        page: user.page(),
        email: &user.user.email,
        next,
        needs_code: factors.any(),
        passkey: factors.passkeys > 0,
        error,
        has_password,
        providers,
        after_provider,
    };
    render(status, &body, None)
}

pub async fn reauth_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    let next = next_from_query(&req);
    page(&state, &user, &session, &next, StatusCode::OK, None).await
}

pub async fn reauth(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    session: TypedSession,
    form: web::Form<ReauthForm>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    require_session_csrf(&req, &state, &user, &form.csrf_token)?;
    let form = form.into_inner();
    let next = safe_next(&form.next).unwrap_or("/account").to_owned();
    if form.password.contains('\0') || form.code.contains('\0') {
        return Err(AppError::BadRequest(
            "The form contained characters that cannot be used.",
        ));
    }
    // The code alone only right after the provider re-authenticated the
    // user (noted in this session's state, single use, five minutes).
    let outcome = if form.password.is_empty()
        && account::provider_step_open(&state, session.provider_reauth())
    {
        let outcome =
            account::reauthenticate_after_provider(&state, &user, &form.code, &client).await?;
        if matches!(outcome, Reauth::Done) {
            session.clear_provider_reauth();
        }
        outcome
    } else {
        account::reauthenticate(&state, &user, form.password, &form.code, &client).await?
    };
    match outcome {
        Reauth::Done => {
            session.renew_key();
            Ok(see_other(&next))
        }
        Reauth::Failed => {
            let message =
                "That did not match. Check your password (and the code, if asked for one).";
            page(
                &state,
                &user,
                &session,
                &next,
                StatusCode::BAD_REQUEST,
                Some(message.into()),
            )
            .await
        }
        Reauth::Throttled(secs) => {
            let message = Some(throttled_message(secs));
            let mut res = page(
                &state,
                &user,
                &session,
                &next,
                StatusCode::TOO_MANY_REQUESTS,
                message,
            )
            .await?;
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
            Ok(res)
        }
    }
}
