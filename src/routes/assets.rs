//! `/static/*`: the stylesheet and the page scripts, compiled into the binary
//! so the app has no working-directory assumptions.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

const FILES: &[(&str, &str, &str)] = &[
    (
        "css/app.css",
        "text/css; charset=utf-8",
        include_str!("../../static/css/app.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../static/favicon.svg"),
    ),
    (
        "js/api-docs.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/api-docs.js"),
    ),
    (
        "js/auth-fetch.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/auth-fetch.js"),
    ),
    (
        "js/logout.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/logout.js"),
    ),
    (
        "js/passkeys.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/passkeys.js"),
    ),
    (
        "js/refresh-demo.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/js/refresh-demo.js"),
    ),
];

pub async fn asset(path: web::Path<String>) -> HttpResponse {
    let path = path.into_inner();
    match FILES.iter().find(|(name, _, _)| *name == path) {
        Some((_, content_type, body)) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, *content_type))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(*body),
        None => HttpResponse::NotFound()
            .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
            .body("not found"),
    }
}
