//! `/api/v1/api-keys`: a user's API keys. `GET` (scope `keys:read`) lists
//! them; `POST` (scope `keys:write`, and a recent sign-in as for `DELETE
//! /api/v1/me`) makes one and answers the key, once; `DELETE
//! /api/v1/api-keys/{id}` (scope `keys:write`) revokes one.

use super::params::{read_body, require_json};
use super::responses::{NotFound, StepUpOrUnauthorized, TooLarge};
use crate::auth::keys::api_keys::{self, CreateError, NewKey};
use crate::auth::{AppState, Bearer, ClientInfo};
use crate::db::{self, api_keys::ApiKeyRow, users};
use crate::error::ApiError;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

/// The body of `POST /api/v1/api-keys`. Unknown fields are ignored.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"name": "backup script", "scope": "notes:read", "expires_in": 2592000}))]
pub struct NewApiKey {
    /// 1 to 64 characters, no control characters, not only whitespace.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    name: String,
    /// Space-separated scopes, within the user's grant; at least one.
    scope: String,
    /// Seconds until it expires: 60 up to API_KEY_MAX_TTL (365 days unless
    /// the deployment sets less); default 30 days.
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 60, maximum = 31_536_000)]
    expires_in: Option<f64>,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// The one answer that holds the key.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedApiKey {
    id: Uuid,
    name: String,
    /// The key itself: shown this once, never again.
    key: String,
    scope: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    expires_at: String,
}

/// A key as listed.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ApiKey)]
pub struct ApiKeyJson {
    id: Uuid,
    name: String,
    /// The prefix and the first 4 random characters, to tell keys apart.
    #[schema(example = "hak_Xy3q")]
    start: String,
    scope: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    expires_at: String,
    /// To the minute; absent while never used.
    #[schema(format = DateTime)]
    #[serde(skip_serializing_if = "Option::is_none")]
    last_used_at: Option<String>,
}

impl From<ApiKeyRow> for ApiKeyJson {
    fn from(k: ApiKeyRow) -> Self {
        ApiKeyJson {
            id: k.id,
            name: k.name,
            start: k.start,
            scope: k.scope,
            created_at: rfc3339(k.created_at),
            expires_at: rfc3339(k.expires_at),
            last_used_at: k.last_used_at.map(rfc3339),
        }
    }
}

/// The body of `GET /api/v1/api-keys`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiKeyList {
    api_keys: Vec<ApiKeyJson>,
}

#[utoipa::path(
    get,
    path = "/api/v1/api-keys",
    operation_id = "list_api_keys",
    tag = "api-keys",
    summary = "The user's live API keys, newest first",
    responses((status = 200, description = "The keys (never the keys themselves).", body = ApiKeyList)),
)]
pub async fn list(state: web::Data<AppState>, auth: Bearer) -> Result<HttpResponse, ApiError> {
    let keys = api_keys::list(&state, auth.user_id()).await?;
    Ok(HttpResponse::Ok().json(ApiKeyList {
        api_keys: keys.into_iter().map(ApiKeyJson::from).collect(),
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/api-keys",
    operation_id = "create_api_key",
    tag = "api-keys",
    summary = "Make an API key (needs a recent sign-in)",
    request_body(content = NewApiKey, content_type = "application/json", description = "At most 16 KiB."),
    responses(
        (status = 201, description = "The key, shown this once.", body = CreatedApiKey),
        (status = 400, description = "`invalid_scope` (a scope outside the user's grant, unknown, or none) or `invalid_request` (the name, the expiry, the body).", body = crate::error::ErrorBody),
        (status = 401, response = StepUpOrUnauthorized),
        (status = 413, response = TooLarge),
    ),
)]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Bearer,
    client: ClientInfo,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&req, payload, 16 * 1024).await?;
    require_json(&req)?;
    let input: NewApiKey = serde_json::from_slice(&body).map_err(|_| {
        ApiError::InvalidRequest(
            "expected {\"name\": string, \"scope\": string, \"expires_in\": seconds}".into(),
        )
    })?;
    if input.name.contains('\0') || input.scope.contains('\0') {
        return Err(ApiError::InvalidRequest("no NUL bytes".into()));
    }
    // A key never counts as a recent sign-in: a key cannot make keys.
    auth.require_recent_sign_in(&state).await?;
    let user = {
        let mut conn = db::conn(&state.pool).await?;
        users::find(&mut conn, auth.user_id())
            .await?
            .ok_or(ApiError::InvalidToken("access token revoked"))?
    };
    // A whole number of seconds (JSON's 120.0 is one too).
    let expires_in = match input.expires_in {
        None => None,
        Some(s) if s.fract() == 0.0 && s.abs() < 1e15 => Some(s as i64),
        Some(_) => {
            return Err(ApiError::InvalidRequest(
                "expires_in: a whole number of seconds".into(),
            ))
        }
    };
    let request = NewKey {
        name: &input.name,
        scope: &input.scope,
        expires_in,
    };
    match api_keys::create(&state, &user, request, &client).await? {
        Ok(created) => Ok(HttpResponse::Created()
            .insert_header(("Cache-Control", "no-store"))
            .json(CreatedApiKey {
                id: created.id,
                name: created.name,
                key: created.key,
                scope: created.scope,
                created_at: rfc3339(created.created_at),
                expires_at: rfc3339(created.expires_at),
            })),
        Err(CreateError::Scope(why)) => Err(ApiError::OAuth {
            code: "invalid_scope",
            description: why,
        }),
        Err(CreateError::Invalid(why)) => Err(ApiError::InvalidRequest(why)),
        Err(CreateError::AddressUnconfirmed) => Err(ApiError::Forbidden(
            "confirm your address first: nothing can be attached to an address not proven yet",
        )),
    }
}

/// The path parameter of `/api/v1/api-keys/{id}`, for the API description.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct ApiKeyId {
    /// The key's id (a UUID); anything else is 404.
    id: String,
}

#[utoipa::path(
    delete,
    path = "/api/v1/api-keys/{id}",
    operation_id = "revoke_api_key",
    tag = "api-keys",
    summary = "Revoke one of the user's API keys",
    params(ApiKeyId),
    responses((status = 204, description = "Revoked, on every instance."), (status = 404, response = NotFound)),
)]
pub async fn delete(
    state: web::Data<AppState>,
    auth: Bearer,
    client: ClientInfo,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = Uuid::parse_str(&path).map_err(|_| ApiError::NotFound)?;
    if api_keys::revoke(&state, auth.user_id(), id, &client.ip).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound)
    }
}
