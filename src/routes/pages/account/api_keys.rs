//! The account page's API keys: `POST /account/api-keys` makes one (a
//! sensitive action: a recent sign-in first) and shows it once on the page
//! it answers with; `POST /account/api-keys/{id}/revoke` ends one.

use super::{account_page_with, NewKeyView, When};
use crate::auth::http::csrf::require_session_csrf;
use crate::auth::keys::api_keys::{self, CreateError, NewKey};
use crate::auth::{AppState, ClientInfo, CurrentUser};
use crate::db::{self, api_keys::ApiKeyRow, users};
use crate::error::AppError;
use crate::routes::pages::{require_recent_auth, see_other};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use time::OffsetDateTime;
use uuid::Uuid;

/// A key as the page lists it.
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    pub start: String,
    pub scope: String,
    pub created: When,
    pub expires: When,
    pub last_used: Option<When>,
}

impl ApiKeyView {
    pub fn new(now: OffsetDateTime, k: ApiKeyRow) -> Self {
        ApiKeyView {
            id: k.id,
            name: k.name,
            start: k.start,
            scope: k.scope,
            created: When::new(now, k.created_at),
            expires: When::new(now, k.expires_at),
            last_used: k.last_used_at.map(|t| When::new(now, t)),
        }
    }
}

/// The expiries the form offers, in days (those within API_KEY_MAX_TTL).
pub fn expiry_choices(state: &AppState) -> Vec<i64> {
    let max = state.settings.api_key_max_ttl.whole_days();
    [7, 30, 90, 365].into_iter().filter(|d| *d <= max).collect()
}

/// `POST /account/api-keys`: `csrf_token`, `name`, `scope` (repeated),
/// `expires_days`.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<Vec<(String, String)>>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    require_session_csrf(&req, &state, &user, field("csrf_token"))?;
    require_recent_auth(&state, &user, "/account").await?;
    let scope: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.as_str())
        .collect();
    let scope = scope.join(" ");
    let expires_in = match field("expires_days").parse::<i64>() {
        Ok(days) if expiry_choices(&state).contains(&days) => Some(days * 86_400),
        _ => None,
    };
    let fresh = {
        let mut conn = db::conn(&state.pool).await?;
        users::find(&mut conn, user.user.id)
            .await?
            .ok_or_else(|| AppError::LoginRequired {
                next: "/account".to_owned(),
            })?
    };
    let request = NewKey {
        name: field("name"),
        scope: &scope,
        expires_in,
    };
    let refused = |why: String| {
        account_page_with(
            &req,
            &state,
            &user,
            StatusCode::BAD_REQUEST,
            Some(why),
            None,
        )
    };
    match api_keys::create(&state, &fresh, request, &client).await? {
        Ok(created) => {
            let shown = NewKeyView {
                name: created.name,
                key: created.key,
                scope: created.scope,
                expires: When::new(state.clock.now(), created.expires_at),
            };
            let mut page =
                account_page_with(&req, &state, &user, StatusCode::OK, None, Some(shown)).await?;
            page.headers_mut().insert(
                actix_web::http::header::CACHE_CONTROL,
                actix_web::http::header::HeaderValue::from_static("no-store"),
            );
            Ok(page)
        }
        Err(CreateError::Scope(_)) => {
            refused("Choose at least one of your scopes for the key.".into()).await
        }
        Err(CreateError::Invalid(_)) => {
            refused("Give the key a name of 1 to 64 characters.".into()).await
        }
        Err(CreateError::AddressUnconfirmed) => {
            refused(crate::auth::account::mfa::ADDRESS_UNCONFIRMED.to_owned()).await
        }
    }
}

/// `POST /account/api-keys/{id}/revoke`.
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<Uuid>,
    form: web::Form<crate::routes::pages::support::CsrfForm>,
    client: ClientInfo,
) -> Result<HttpResponse, AppError> {
    require_session_csrf(&req, &state, &user, &form.csrf_token)?;
    if api_keys::revoke(&state, user.user.id, path.into_inner(), &client.ip).await? {
        Ok(see_other("/account?notice=api-key-revoked"))
    } else {
        Err(AppError::NotFound)
    }
}
