//! "Continue with …": `GET /login/oidc/{name}` (to the provider),
//! `GET /login/oidc/{name}/callback` (back from it), `GET,POST
//! /login/oidc/link` (the owner of an existing account links an identity
//! after signing in) and `POST /account/identities/{id}/delete` (unlink).

use super::{render, see_other};
use crate::auth::account::links;
use crate::auth::credentials::second_factor;
use crate::auth::http::csrf::require_session_csrf;
use crate::auth::http::{pending, start_web_session};
use crate::auth::oidc::{accounts, flow, Callback, FlowError, Linked, Outcome, Purpose, Unlinked};
use crate::auth::{
    AppState, Assurance, AuthEvent, ClientInfo, CurrentUser, MaybeUser, TypedSession,
};
use crate::db;
use crate::error::{html_error_for, AppError};
use crate::web::{encode_query, safe_next, PageContext};
use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use uuid::Uuid;

fn browser_cookie_name(state: &AppState) -> &'static str {
    if state.settings.cookie_secure {
        "__Host-oidc-request"
    } else {
        "oidc-request"
    }
}

fn link_cookie_name(state: &AppState) -> &'static str {
    if state.settings.cookie_secure {
        "__Host-oidc-link"
    } else {
        "oidc-link"
    }
}

fn cookie(state: &AppState, name: &'static str, value: String, max_age: i64) -> Cookie<'static> {
    let mut c = Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .secure(state.settings.cookie_secure)
        // Lax: the provider's redirect back is a top-level GET navigation.
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(max_age))
        .finish();
    if max_age == 0 {
        c.make_removal();
    }
    c
}

fn add_cookie(res: &mut HttpResponse, c: &Cookie<'static>) -> Result<(), AppError> {
    res.add_cookie(c)
        .map_err(|e| anyhow::anyhow!("cookie: {e}").into())
}

fn page_of(user: &MaybeUser) -> PageContext {
    user.0.as_ref().map(|u| u.page()).unwrap_or_default()
}

/// The page context of whoever is asking, a visitor included (whose error
/// page then offers "Sign in" and "Register", not only "Account").
fn visitor_page(req: &HttpRequest, state: &AppState, user: &MaybeUser) -> PageContext {
    super::page_context(req, state, user.0.as_ref())
        .map(|(page, _)| page)
        .unwrap_or_else(|_| page_of(user))
}

/// The answers of a failed callback: 400 (nothing created), 503 (provider
/// unreachable, with Retry-After), 303 /login for `access_denied`.
fn failed(e: FlowError, provider: &str, page: PageContext) -> Result<HttpResponse, AppError> {
    match e {
        FlowError::Denied => Ok(see_other("/login?notice=oidc-denied")),
        FlowError::Rejected(why) => {
            tracing::warn!(provider, reason = why, "OpenID sign-in refused");
            Ok(html_error_for(
                StatusCode::BAD_REQUEST,
                "Sign-in did not work",
                "This sign-in could not be completed (it may have expired, or been used already). Start again from the sign-in page.",
                page,
            ))
        }
        FlowError::Unreachable(e) => {
            tracing::warn!(provider, error = %e, "OpenID provider unreachable");
            Ok(html_error_for(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in provider unavailable",
                "The sign-in provider cannot be reached right now. Try again in a moment, or sign in another way.",
                page,
            ))
        }
        FlowError::Auth(e) => Err(e.into()),
    }
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct StartQuery {
    next: String,
    /// `reauth`: re-authenticate the signed-in user at the provider.
    purpose: String,
}

/// `GET /login/oidc/{name}`: a fresh request, then 303 to the provider.
pub async fn start(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    user: MaybeUser,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    let Some(provider) = state.oidc.get(&name) else {
        return Err(AppError::NotFound);
    };
    let query: StartQuery = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| AppError::BadRequest("That link is not valid."))?;
    let next = safe_next(&query.next).unwrap_or("").to_owned();
    let purpose = match (query.purpose.as_str(), &user.0) {
        ("reauth", Some(u)) => Purpose::Reauth(u.user.id),
        ("reauth", None) => {
            return Err(AppError::LoginRequired {
                next: "/account".into(),
            })
        }
        _ => Purpose::SignIn,
    };
    if matches!(purpose, Purpose::SignIn) {
        if let Some(secs) = super::ceremony_wait(&state, "oidc", &client).await? {
            return Err(AppError::Throttled(secs));
        }
    }
    let browser = req
        .cookie(browser_cookie_name(&state))
        .map(|c| c.value().to_owned());
    let started = match flow::start(&state, provider, purpose, &next, browser.as_deref()).await {
        Ok(s) => s,
        Err(e) => return failed(e, &name, visitor_page(&req, &state, &user)),
    };
    let mut res = see_other(&started.location);
    let max_age = flow::REQUEST_TTL.whole_seconds();
    add_cookie(
        &mut res,
        &cookie(
            &state,
            browser_cookie_name(&state),
            started.browser,
            max_age,
        ),
    )?;
    Ok(res)
}

#[derive(Template)]
#[template(path = "oidc_link.html")]
struct LinkPage<'a> {
    page: PageContext,
    email: &'a str,
    label: &'a str,
    /// Signed in as the account's owner: offer the button that links.
    confirm: bool,
}

/// `GET /login/oidc/{name}/callback`.
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    client: ClientInfo,
    session: TypedSession,
    user: MaybeUser,
) -> Result<HttpResponse, AppError> {
    let name = path.into_inner();
    let Some(provider) = state.oidc.get(&name) else {
        return Err(AppError::NotFound);
    };
    let page = visitor_page(&req, &state, &user);
    let Ok(query) = serde_urlencoded::from_str::<Callback>(req.query_string()) else {
        return failed(FlowError::Rejected("unreadable callback"), &name, page);
    };
    let browser = req
        .cookie(browser_cookie_name(&state))
        .map(|c| c.value().to_owned());
    let finished = match flow::finish(&state, provider, &query, browser.as_deref()).await {
        Ok(f) => f,
        Err(e) => return failed(e, &name, page),
    };
    if let Purpose::Reauth(user_id) = finished.purpose {
        return reauthenticated(&state, &user, user_id, &name, &finished, &client, &session).await;
    }
    let now = state.clock.now();
    let mut conn = db::conn(&state.pool).await?;
    let outcome = accounts::resolve(
        &state.settings,
        &mut conn,
        &name,
        &finished.claims,
        &client.ip,
        now,
    )
    .await?;
    let (user, created) = match outcome {
        Outcome::SignIn(u) => (u, false),
        Outcome::Created(u) => (u, true),
        Outcome::LinkNeeded { token, email } => {
            let body = LinkPage {
                page,
                email: &email,
                label: &provider.config.label,
                confirm: false,
            };
            let max_age = accounts::LINK_TTL.whole_seconds();
            let c = cookie(&state, link_cookie_name(&state), token, max_age);
            return render(StatusCode::OK, &body, Some(c));
        }
        Outcome::RegistrationClosed => {
            return Ok(html_error_for(
                StatusCode::FORBIDDEN,
                "Registration is closed",
                "No account is linked to this identity, and new accounts cannot be created on this server.",
                page,
            ))
        }
        Outcome::NoEmail => {
            return failed(FlowError::Rejected("no usable email"), &name, page);
        }
    };
    accounts::record(
        &mut conn,
        AuthEvent::OidcSignIn,
        user.id,
        &client.ip,
        &name,
        now,
    )
    .await?;
    if created && user.email_verified_at.is_none() {
        links::queue_verification(&state, &mut conn, &user, &client.ip).await?;
        state.mailer.wakeup.notify_one();
    }
    if links::verification_pending(&state.settings, &user) {
        return Ok(html_error_for(
            StatusCode::FORBIDDEN,
            "Confirm your email address first",
            "Follow the link in the mail we sent you, then continue with the provider again.",
            page,
        ));
    }
    let next = finished.next;
    if second_factor::required(&mut conn, user.id).await? {
        let c = pending::start_after(&state, &user, &next, now, true)?;
        let location = if next.is_empty() {
            "/login/mfa".to_owned()
        } else {
            format!("/login/mfa?next={}", encode_query(&next))
        };
        let mut res = see_other(&location);
        add_cookie(&mut res, &c)?;
        return Ok(res);
    }
    let assurance = Assurance::FEDERATED;
    if !start_web_session(&state, &mut conn, &user, &client, &session, assurance).await? {
        return failed(FlowError::Rejected("user changed meanwhile"), &name, page);
    }
    // A new account lands where the person was going (`next`), like any
    // sign-in; only without one does it get the welcome on the account page.
    Ok(see_other(match (created, next.is_empty()) {
        (true, true) => "/account?notice=welcome-provider",
        (false, true) => "/account",
        (_, false) => &next,
    }))
}

/// A re-authentication at the provider came back: it counts if the identity
/// is the signed-in user's, and the provider says it authenticated them
/// after the request started (`max_age=0`). For a user with a second factor
/// it counts as the first step only: the session state notes when, and
/// `/account/reauth` asks for the code (or a passkey) within five minutes.
async fn reauthenticated(
    state: &AppState,
    user: &MaybeUser,
    user_id: Uuid,
    name: &str,
    finished: &flow::Finished,
    client: &ClientInfo,
    session: &TypedSession,
) -> Result<HttpResponse, AppError> {
    let page = page_of(user);
    let Some(current) = user.0.as_ref().filter(|u| u.user.id == user_id) else {
        return failed(
            FlowError::Rejected("reauth for another session"),
            name,
            page,
        );
    };
    let mut conn = db::conn(&state.pool).await?;
    let identity = db::oidc::find_identity(&mut conn, name, &finished.claims.sub).await?;
    let leeway = state.settings.clock_skew_leeway.whole_seconds();
    let fresh = finished
        .claims
        .auth_time
        .is_some_and(|t| t + leeway >= finished.started_at.unix_timestamp());
    if !fresh || identity.is_none_or(|i| i.user_id != user_id) {
        return failed(FlowError::Rejected("reauth not proven"), name, page);
    }
    let next = if finished.next.is_empty() {
        "/account"
    } else {
        &finished.next
    };
    let has_factor = second_factor::required(&mut conn, user_id).await?;
    // The renewal below takes a connection of its own.
    drop(conn);
    if has_factor {
        session.set_provider_reauth(state.clock.unix())?;
        return Ok(see_other(&format!(
            "/account/reauth?next={}",
            encode_query(next)
        )));
    }
    match crate::auth::account::reauth::reauthenticated_with_provider(state, current, client)
        .await?
    {
        crate::auth::account::reauth::Reauth::Done => {
            session.renew_key();
            Ok(see_other(next))
        }
        _ => Err(AppError::LoginRequired {
            next: "/account".into(),
        }),
    }
}

fn link_token(req: &HttpRequest, state: &AppState) -> Option<String> {
    req.cookie(link_cookie_name(state))
        .map(|c| c.value().to_owned())
        .filter(|v| (32..=64).contains(&v.len()))
}

fn nothing_to_link(page: PageContext) -> HttpResponse {
    html_error_for(
        StatusCode::BAD_REQUEST,
        "Nothing to link",
        "There is no sign-in waiting to be linked to this account (it may have expired). Continue with the provider again.",
        page,
    )
}

/// `GET /login/oidc/link`: after signing in to the account, confirm the link.
pub async fn link_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let Some(token) = link_token(&req, &state) else {
        return Ok(nothing_to_link(user.page()));
    };
    let link = {
        let mut conn = db::conn(&state.pool).await?;
        accounts::pending_link(&mut conn, &token, state.clock.now()).await?
    };
    let Some(link) = link.filter(|l| l.user_id == user.user.id) else {
        return Ok(nothing_to_link(user.page()));
    };
    let label = state
        .oidc
        .get(&link.provider)
        .map(|p| p.config.label.clone())
        .unwrap_or_else(|| link.provider.clone());
    let body = LinkPage {
        page: user.page(),
        email: &link.email,
        label: &label,
        confirm: true,
    };
    render(StatusCode::OK, &body, None)
}

/// `POST /login/oidc/link`: links the pending identity to the signed-in
/// account, if this session signed in after the identity came back.
pub async fn link(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<super::support::CsrfForm>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    require_session_csrf(&req, &state, &user, form.token())?;
    let Some(token) = link_token(&req, &state) else {
        return Ok(nothing_to_link(user.page()));
    };
    let now = state.clock.now();
    let mut conn = db::conn(&state.pool).await?;
    let outcome = accounts::complete_link(
        &mut conn,
        &token,
        user.user.id,
        user.session.auth_time,
        &client.ip,
        now,
    )
    .await?;
    let mut res = match outcome {
        Linked::Done(_) => see_other("/account?notice=identity-linked"),
        Linked::Gone => nothing_to_link(user.page()),
        Linked::Taken => html_error_for(
            StatusCode::CONFLICT,
            "Already linked",
            "That identity is linked to an account already.",
            user.page(),
        ),
        Linked::AddressUnconfirmed => {
            return Ok(html_error_for(
                StatusCode::FORBIDDEN,
                "Confirm your email address first",
                crate::auth::account::mfa::ADDRESS_UNCONFIRMED,
                user.page(),
            ))
        }
    };
    add_cookie(
        &mut res,
        &cookie(&state, link_cookie_name(&state), String::new(), 0),
    )?;
    Ok(res)
}

/// `POST /account/identities/{id}/delete`.
pub async fn unlink(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<super::support::CsrfForm>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    require_session_csrf(&req, &state, &user, form.token())?;
    let id = Uuid::parse_str(&path.into_inner()).map_err(|_| AppError::NotFound)?;
    // Removing a way to sign in is a sensitive action.
    super::require_recent_auth(&state, &user, "/account").await?;
    let mut conn = db::conn(&state.pool).await?;
    match accounts::unlink(&mut conn, user.user.id, id, &client.ip, state.clock.now()).await? {
        Unlinked::Done => Ok(see_other("/account?notice=identity-unlinked")),
        Unlinked::NotFound => Err(AppError::NotFound),
        Unlinked::LastWayIn => Ok(html_error_for(
            StatusCode::CONFLICT,
            "This is your only way to sign in",
            "Set a password (use “Forgot your password?” on the sign-in page) or add a passkey first, then unlink this provider.",
            user.page(),
        )),
    }
}
