//! The example resource: `/api/v1/notes`. Copy this file to add your own.
//! Each handler takes `Bearer` and states its scope in its first line.

use super::params::read_body;
use crate::auth::{AppState, Bearer, Scope};
use crate::db;
use crate::db::notes::{self, Note};
use crate::error::ApiError;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

pub const TITLE_MAX: usize = 200;
pub const BODY_MAX: usize = 10_000;

#[derive(Deserialize)]
struct NewNote {
    title: String,
    #[serde(default)]
    body: String,
}

#[derive(Serialize)]
struct NoteJson {
    id: Uuid,
    title: String,
    body: String,
    created_at: String,
}

impl From<Note> for NoteJson {
    fn from(n: Note) -> Self {
        NoteJson {
            id: n.id,
            title: n.title,
            body: n.body,
            created_at: n.created_at.format(&Rfc3339).unwrap_or_default(),
        }
    }
}

fn note_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound)
}

/// Notes per page when `limit` is not given, and the most a page may hold.
pub const DEFAULT_PAGE: i64 = 50;
pub const MAX_PAGE: i64 = 100;

#[derive(serde::Deserialize)]
struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

/// `?limit=1..100&cursor=<next_cursor of the previous page>`.
fn page_query(req: &HttpRequest) -> Result<(i64, Option<(OffsetDateTime, Uuid)>), ApiError> {
    let bad = |m: &str| ApiError::InvalidRequest(m.to_owned());
    let q: ListQuery = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| bad("unreadable query string"))?;
    let limit = match q.limit.as_deref() {
        None => DEFAULT_PAGE,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| bad("limit must be a whole number from 1 to 100"))?,
    };
    let after = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(parse_cursor(c).ok_or_else(|| bad("invalid cursor"))?),
    };
    Ok((limit, after))
}

/// A cursor is `<created_at in unix nanoseconds>.<note id>` of the last
/// note of a page: opaque to clients, stable under inserts and deletes.
fn cursor_of(note: &Note) -> String {
    format!(
        "{}.{}",
        note.created_at.unix_timestamp_nanos(),
        note.id.simple()
    )
}

fn parse_cursor(text: &str) -> Option<(OffsetDateTime, Uuid)> {
    let (nanos, id) = text.split_once('.')?;
    let at = OffsetDateTime::from_unix_timestamp_nanos(nanos.parse().ok()?).ok()?;
    Some((at, Uuid::try_parse(id).ok()?))
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Bearer,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::NotesRead)?;
    let (limit, after) = page_query(&req)?;
    let mut conn = db::conn(&state.pool).await?;
    // One row more than the page tells whether there is a next page.
    let mut rows = notes::list(&mut conn, auth.user_id(), after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next = rows.last().filter(|_| more).map(cursor_of);
    let list: Vec<NoteJson> = rows.into_iter().map(NoteJson::from).collect();
    let mut body = serde_json::json!({ "notes": list });
    if let Some(cursor) = next {
        body["next_cursor"] = cursor.into();
    }
    Ok(HttpResponse::Ok().json(body))
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Bearer,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::NotesWrite)?;
    let is_json = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        });
    if !is_json {
        return Err(ApiError::InvalidRequest(
            "send a JSON body (application/json)".into(),
        ));
    }
    let body = read_body(&req, payload, 64 * 1024).await?;
    let input: NewNote = serde_json::from_slice(&body).map_err(|_| {
        ApiError::InvalidRequest("expected {\"title\": string, \"body\": string}".into())
    })?;
    if input.title.contains('\0') || input.body.contains('\0') {
        return Err(ApiError::InvalidRequest(
            "title and body must not contain NUL bytes".into(),
        ));
    }
    let title_len = input.title.chars().count();
    if title_len == 0 || input.title.trim().is_empty() || title_len > TITLE_MAX {
        return Err(ApiError::InvalidRequest(format!(
            "title must be 1 to {TITLE_MAX} characters"
        )));
    }
    if input.body.chars().count() > BODY_MAX {
        return Err(ApiError::InvalidRequest(format!(
            "body must be at most {BODY_MAX} characters"
        )));
    }
    let note = Note {
        id: Uuid::now_v7(),
        user_id: auth.user_id(),
        title: input.title,
        body: input.body,
        created_at: state.clock.now(),
    };
    let mut conn = db::conn(&state.pool).await?;
    notes::insert(&mut conn, &note).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/notes/{}", note.id)))
        .json(NoteJson::from(note)))
}

pub async fn get(
    state: web::Data<AppState>,
    auth: Bearer,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::NotesRead)?;
    let id = note_id(&path)?;
    let mut conn = db::conn(&state.pool).await?;
    let note = notes::find(&mut conn, auth.user_id(), id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(NoteJson::from(note)))
}

pub async fn delete(
    state: web::Data<AppState>,
    auth: Bearer,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::NotesWrite)?;
    let id = note_id(&path)?;
    let mut conn = db::conn(&state.pool).await?;
    if notes::delete(&mut conn, auth.user_id(), id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound)
    }
}
