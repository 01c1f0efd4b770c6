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

pub async fn list(state: web::Data<AppState>, auth: Bearer) -> Result<HttpResponse, ApiError> {
    auth.require(Scope::NotesRead)?;
    let mut conn = db::conn(&state.pool).await?;
    let list: Vec<NoteJson> = notes::list(&mut conn, auth.user_id())
        .await?
        .into_iter()
        .map(NoteJson::from)
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "notes": list })))
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
