//! `GET,POST /register`. Success signs the new user in. A taken email gets the
//! same generic message as any other refusal of the pair, and the password is
//! hashed before the insert either way so timing does not tell.

use super::{render, see_other};
use crate::auth::account::links;
use crate::auth::credentials::{password, throttle};
use crate::auth::http::{csrf, start_web_session};
use crate::auth::tokens::scopes;
use crate::auth::{AppState, Assurance, ClientInfo, Email, TypedSession};
use crate::db;
use crate::db::users::{self, NewUser};
use crate::error::AppError;
use crate::web::PageContext;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use diesel_async::AsyncConnection;
use uuid::Uuid;

pub const DUPLICATE: &str = "We could not create an account with these details. If you already have an account, sign in instead.";

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage<'a> {
    page: PageContext,
    email: &'a str,
    error: Option<&'a str>,
    closed: bool,
    /// "Continue with …" buttons.
    providers: Vec<super::support::ProviderButton>,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct RegisterForm {
    csrf_token: String,
    email: String,
    password: String,
    password_confirm: String,
}

pub async fn register_form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (csrf_token, cookie) = csrf::anon_token(&req, &state)?;
    let page = RegisterPage {
        page: PageContext {
            csrf_token,
            signed_in_as: None,
            notice: None,
        },
        email: "",
        error: None,
        closed: !state.settings.registration_open,
        providers: super::support::buttons(&state, ""),
    };
    render(StatusCode::OK, &page, cookie)
}

pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<RegisterForm>,
    client: ClientInfo,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    if !state.settings.registration_open {
        return Err(AppError::Forbidden("registration is closed"));
    }
    csrf::require_anon_csrf(&req, &state, &form.csrf_token)?;
    let form = form.into_inner();
    let (csrf_token, _) = csrf::anon_token(&req, &state)?;
    let fail_with = |status: StatusCode, message: &str| {
        let page = RegisterPage {
            page: PageContext {
                csrf_token: csrf_token.clone(),
                signed_in_as: None,
                notice: None,
            },
            email: form.email.trim(),
            error: Some(message),
            closed: false,
            providers: super::support::buttons(&state, ""),
        };
        render(status, &page, None)
    };
    let fail = |message: &str| fail_with(StatusCode::BAD_REQUEST, message);
    let limit = {
        let mut conn = db::conn(&state.pool).await?;
        throttle::register_attempt(
            &mut conn,
            state.settings.login_max_failures,
            &client.ip,
            state.clock.now(),
        )
        .await?
    };
    if let Err(secs) = limit {
        let message = "Too many new accounts from your network. Try again later.";
        let mut res = fail_with(StatusCode::TOO_MANY_REQUESTS, message)?;
        res.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        return Ok(res);
    }
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(m) => return fail(m),
    };
    if let Err(m) = password::check_new(&form.password) {
        return fail(m);
    }
    if form.password != form.password_confirm {
        return fail("The two passwords do not match.");
    }
    let hash = password::hash(&state.hasher, form.password.clone()).await?;
    let now = state.clock.now();
    let mut conn = db::conn(&state.pool).await?;
    let grant = scopes::default_grant();
    let new = NewUser {
        id: Uuid::now_v7(),
        email: email.as_str(),
        password_hash: &hash,
        scopes: &grant,
        created_at: now,
        updated_at: now,
        email_verified_at: None,
    };
    // The user and their verification mail: together or not at all.
    let created = conn
        .transaction::<_, AppError, _>(async |conn| {
            if !users::insert(conn, &new).await? {
                return Ok(None);
            }
            let user = users::find(conn, new.id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("user vanished after insert"))?;
            links::queue_verification(&state, conn, &user, &client.ip).await?;
            Ok(Some(user))
        })
        .await?;
    let Some(user) = created else {
        return fail(DUPLICATE);
    };
    state.mailer.wakeup.notify_one();
    if state.settings.email_verification_required {
        // No session until the address is proved.
        return Ok(see_other("/login?notice=verify-email"));
    }
    if !start_web_session(
        &state,
        &mut conn,
        &user,
        &client,
        &session,
        Assurance::PASSWORD,
    )
    .await?
    {
        return Err(anyhow::anyhow!("password changed while registering").into());
    }
    Ok(see_other("/account?notice=welcome"))
}
