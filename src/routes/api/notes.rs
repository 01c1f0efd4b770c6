//! The example resource: `/api/v1/notes`. Copy this file to add your own.
//! Each handler takes `Bearer` and states its scope in its first line.

use super::params::{read_body, require_json};
use crate::auth::{AppState, Bearer};
use crate::db;
use crate::db::notes::{self, Note};
use crate::error::ApiError;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use super::responses::{NotFound, TooLarge};

pub const TITLE_MAX: usize = 200;
pub const BODY_MAX: usize = 10_000;

/// The body of `POST /api/v1/notes`. Unknown fields are ignored.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"title": "Groceries", "body": "milk, eggs"}))]
pub struct NewNote {
    /// 1 to 200 characters, not only whitespace, no NUL. (The pattern: no
    /// NUL, and one character at least that `str::trim` does not remove.)
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000]*[^\\u0000\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000]*$"
    )]
    title: String,
    /// At most 10,000 characters, no NUL; empty when left out.
    #[serde(default)]
    #[schema(max_length = 10000, pattern = "^[^\\u0000]*$")]
    body: String,
}

/// A note.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Note)]
pub struct NoteJson {
    id: Uuid,
    title: String,
    body: String,
    /// RFC 3339.
    #[schema(format = DateTime)]
    created_at: String,
}

/// A page of notes, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct NotePage {
    notes: Vec<NoteJson>,
    /// Present when more notes follow: pass it as `cursor` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
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

/// The path parameter of `/api/v1/notes/{id}`, for the API description.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct NoteId {
    /// The note's id (a UUID); anything else is 404.
    id: String,
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

/// Only the shape `cursor_of` writes, as the API description states it
/// (`^[0-9]{1,19}\.[0-9a-f]{32}$`): 1 to 19 digits, a dot, 32 lower-case hex
/// digits.
fn parse_cursor(text: &str) -> Option<(OffsetDateTime, Uuid)> {
    let (nanos, id) = text.split_once('.')?;
    let digits = |s: &str, n: std::ops::RangeInclusive<usize>, ok: fn(&u8) -> bool| {
        n.contains(&s.len()) && s.as_bytes().iter().all(ok)
    };
    let lower_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
    if !digits(nanos, 1..=19, u8::is_ascii_digit) || !digits(id, 32..=32, lower_hex) {
        return None;
    }
    let at = OffsetDateTime::from_unix_timestamp_nanos(nanos.parse().ok()?).ok()?;
    Some((at, Uuid::try_parse(id).ok()?))
}

#[utoipa::path(
    get,
    path = "/api/v1/notes",
    operation_id = "list_notes",
    tag = "notes",
    summary = "The token's user's notes, newest first",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Notes per page (default 50)."),
        ("cursor" = Option<String>, Query, pattern = r"^[0-9]{1,19}\.[0-9a-f]{32}$", description = "The `next_cursor` of the previous page (an opaque string of the pattern's shape)."),
    ),
    responses((status = 200, description = "One page of notes.", body = NotePage)),
)]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Bearer,
) -> Result<HttpResponse, ApiError> {
    let (limit, after) = page_query(&req)?;
    let mut conn = db::conn(&state.pool).await?;
    // One row more than the page tells whether there is a next page.
    let mut rows = notes::list(&mut conn, auth.user_id(), after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next = rows.last().filter(|_| more).map(cursor_of);
    Ok(HttpResponse::Ok().json(NotePage {
        notes: rows.into_iter().map(NoteJson::from).collect(),
        next_cursor: next,
    }))
}

#[utoipa::path(
    post,
    path = "/api/v1/notes",
    operation_id = "create_note",
    tag = "notes",
    summary = "Create a note",
    request_body(content = NewNote, content_type = "application/json", description = "At most 64 KiB."),
    responses(
        (status = 201, description = "The note, stored.", body = NoteJson,
            headers(("Location" = String, description = "`/api/v1/notes/{id}`"))),
        (status = 413, response = TooLarge),
    ),
)]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    auth: Bearer,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_json(&req)?;
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

#[utoipa::path(
    get,
    path = "/api/v1/notes/{id}",
    operation_id = "get_note",
    tag = "notes",
    summary = "Read a note",
    params(NoteId),
    responses((status = 200, description = "The note.", body = NoteJson), (status = 404, response = NotFound)),
)]
pub async fn get(
    state: web::Data<AppState>,
    auth: Bearer,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = note_id(&path)?;
    let mut conn = db::conn(&state.pool).await?;
    let note = notes::find(&mut conn, auth.user_id(), id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(NoteJson::from(note)))
}

#[utoipa::path(
    delete,
    path = "/api/v1/notes/{id}",
    operation_id = "delete_note",
    tag = "notes",
    summary = "Delete a note",
    params(NoteId),
    responses((status = 204, description = "Deleted."), (status = 404, response = NotFound)),
)]
pub async fn delete(
    state: web::Data<AppState>,
    auth: Bearer,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = note_id(&path)?;
    let mut conn = db::conn(&state.pool).await?;
    if notes::delete(&mut conn, auth.user_id(), id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_nothing_else_of_another_shape_does() {
        let note = Note {
            id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            title: "t".into(),
            body: String::new(),
            created_at: OffsetDateTime::now_utc(),
        };
        let cursor = cursor_of(&note);
        assert_eq!(parse_cursor(&cursor), Some((note.created_at, note.id)));
        let (nanos, id) = cursor.split_once('.').unwrap();
        for bad in [
            String::new(),
            ".".into(),
            format!("+{nanos}.{id}"),
            format!("-1.{id}"),
            format!("{nanos}.{}", id.to_uppercase()),
            format!("{nanos}.{}", note.id.hyphenated()),
            format!("12345678901234567890.{id}"),
        ] {
            assert_eq!(parse_cursor(&bad), None, "{bad}");
        }
    }
}
