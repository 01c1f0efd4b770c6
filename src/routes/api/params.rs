//! Reading request bodies for the token endpoints: form-encoded or JSON
//! (string values), size-limited, with repeated parameters refused
//! (RFC 6749 §3.2). Anything else is `invalid_request`; 415 is not used.

use crate::error::ApiError;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use std::collections::HashMap;

pub const TOKEN_BODY_LIMIT: usize = 16 * 1024;

/// Reads the whole body, refusing more than `limit` bytes with 413.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    if let Some(len) = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
    {
        if len > limit {
            return Err(ApiError::TooLarge);
        }
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::invalid_request("could not read the request body"))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn media_type(req: &HttpRequest) -> Option<String> {
    let ct = req.headers().get(CONTENT_TYPE)?.to_str().ok()?;
    Some(
        ct.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

/// Parameters of a token request. An empty body without a content type is
/// an empty set.
pub async fn read_params(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<HashMap<String, String>, ApiError> {
    let body = read_body(req, payload, TOKEN_BODY_LIMIT).await?;
    let media = media_type(req);
    if body.is_empty() && media.is_none() {
        return Ok(HashMap::new());
    }
    let pairs: Vec<(String, String)> = match media.as_deref() {
        Some("application/x-www-form-urlencoded") => {
            let text = std::str::from_utf8(&body)
                .map_err(|_| ApiError::invalid_request("body is not UTF-8"))?;
            serde_urlencoded::from_str(text)
                .map_err(|_| ApiError::invalid_request("malformed form body"))?
        }
        Some("application/json") => {
            if body.is_empty() {
                return Ok(HashMap::new());
            }
            let ObjectPairs(map) = serde_json::from_slice(&body).map_err(|_| {
                ApiError::invalid_request("malformed JSON body (it must be one object)")
            })?;
            let mut pairs = Vec::with_capacity(map.len());
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) => pairs.push((k, s)),
                    _ => {
                        return Err(ApiError::invalid_request(format!(
                            "parameter `{k}` must be a string"
                        )))
                    }
                }
            }
            pairs
        }
        _ => {
            return Err(ApiError::invalid_request(
                "send application/x-www-form-urlencoded (or application/json)",
            ))
        }
    };
    let mut params = HashMap::with_capacity(pairs.len());
    for (k, v) in pairs {
        if k.contains('\0') || v.contains('\0') {
            return Err(ApiError::invalid_request(
                "parameters must not contain NUL bytes",
            ));
        }
        if params.contains_key(&k) {
            return Err(ApiError::invalid_request(format!(
                "parameter `{}` is repeated",
                truncate(&k)
            )));
        }
        params.insert(k, v);
    }
    Ok(params)
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// A required parameter, or `invalid_request` naming it.
/// 400 `invalid_request` unless the request says its body is JSON
/// (`Content-Type: application/json`, parameters allowed).
pub fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    let is_json = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::InvalidRequest(
            "send a JSON body (application/json)".into(),
        ))
    }
}

pub fn required<'a>(params: &'a HashMap<String, String>, name: &str) -> Result<&'a str, ApiError> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::invalid_request(format!("missing parameter `{name}`")))
}

/// A JSON object read as its list of members, so that a repeated key is seen
/// (a map would silently keep the last one).
struct ObjectPairs(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for ObjectPairs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = ObjectPairs;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ObjectPairs, A::Error> {
                let mut pairs = Vec::new();
                while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                    pairs.push(entry);
                }
                Ok(ObjectPairs(pairs))
            }
        }
        d.deserialize_map(Members)
    }
}
