//! The API describes itself: `GET /api/openapi.json` is OpenAPI 3.1 and
//! describes exactly the JSON routes the app registers (a route without a
//! description fails here), with the bearer scheme and the scope each route
//! needs, and the app enforces the scopes the document names. `GET /api/docs`
//! renders it in Chromium from the app's own files, under the app's CSP.

use crate::support::webdriver::Browser;
use crate::support::*;
use awc::http::{Method, StatusCode};
use hybrid_auth::auth::Scope;
use hybrid_auth::routes::PUBLIC_JSON_ROUTES;
use hybrid_auth::routes::{
    Needs, RouteEntry, API_PREFIX, API_ROUTES, BROWSER_JSON_ROUTES, PASSKEY_JSON_ROUTES,
};
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `(method, path)` of every operation in the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                ops.insert((method.to_owned(), path.clone()));
            }
        }
    }
    ops
}

fn routes(prefix: &str, table: &[RouteEntry]) -> Vec<(String, String)> {
    table
        .iter()
        .flat_map(|r| {
            r.methods
                .iter()
                .map(move |m| (m.method.to_owned(), format!("{prefix}{}", r.path)))
        })
        .collect()
}

async fn served_document(app: &TestApp) -> Value {
    let res = app.get("/api/openapi.json").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/json"));
    res.json()
}

#[actix_web::test]
async fn the_document_describes_every_json_route() {
    let app = spawn_app().await;
    let doc = served_document(&app).await;
    let mut registered: BTreeSet<(String, String)> = BTreeSet::new();
    registered.extend(routes(API_PREFIX, API_ROUTES));
    registered.extend(routes("", BROWSER_JSON_ROUTES));
    registered.extend(routes("", PUBLIC_JSON_ROUTES));
    registered.extend(routes("", PASSKEY_JSON_ROUTES));
    let described = operations(&doc);
    let undescribed: Vec<_> = registered.difference(&described).collect();
    let unrouted: Vec<_> = described.difference(&registered).collect();
    assert!(
        undescribed.is_empty(),
        "routes without a description (add #[utoipa::path] and a line in src/routes/api/openapi.rs): {undescribed:?}"
    );
    assert!(
        unrouted.is_empty(),
        "described but not routed: {unrouted:?}"
    );
}

/// `(method, path, scope)` of every bearer route, as the route table states
/// it (`""`: any valid token): the one list of routes there is.
fn bearer_routes() -> BTreeSet<(String, String, String)> {
    API_ROUTES
        .iter()
        .flat_map(|r| {
            r.methods.iter().filter_map(move |m| {
                if !m.needs.is_bearer() {
                    return None;
                }
                let scope = m.needs.scope().map(|s| s.as_str()).unwrap_or("");
                Some((
                    m.method.to_owned(),
                    format!("{API_PREFIX}{}", r.path),
                    scope.to_owned(),
                ))
            })
        })
        .collect()
}

/// What the route table says `method path` needs.
fn route_needs(method: &str, path: &str) -> Needs {
    API_ROUTES
        .iter()
        .filter(|r| format!("{API_PREFIX}{}", r.path) == path)
        .flat_map(|r| r.methods.iter())
        .find(|m| m.method == method)
        .map(|m| m.needs)
        .unwrap_or(Needs::Nothing)
}

/// The scopes of the operation's `bearer` requirement, if it has one.
fn bearer_scopes(op: &Value) -> Option<Vec<String>> {
    let requirement = op["security"]
        .as_array()?
        .iter()
        .find_map(|r| r.get("bearer"))?;
    Some(
        requirement
            .as_array()?
            .iter()
            .map(|s| s.as_str().unwrap_or_default().to_owned())
            .collect(),
    )
}

#[actix_web::test]
async fn the_served_document_is_3_1_with_the_bearer_scheme_and_each_routes_scope() {
    let app = spawn_app().await;
    let doc = served_document(&app).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");
    let flow = &doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"];
    assert_eq!(flow["tokenUrl"], "/api/v1/auth/token");
    for scope in Scope::ALL {
        assert!(flow["scopes"].get(scope.as_str()).is_some(), "{scope}");
    }

    let mut bearer_ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let Some(scopes) = bearer_scopes(op) else {
                continue;
            };
            bearer_ops.insert((method.to_owned(), path.clone(), scopes.join(" ")));
            // Every bearer route describes the RFC 6750 answers.
            let responses = &op["responses"];
            for status in ["400", "401", "503"] {
                assert!(responses.get(status).is_some(), "{method} {path}: {status}");
            }
            // 403: `insufficient_scope` when a scope is needed, `forbidden`
            // for a service account's token on a route for people.
            let needs = route_needs(method, path);
            assert_eq!(
                responses.get("403").is_some(),
                needs.scope().is_some() || !needs.lets_clients_in(),
                "{method} {path}: 403 exactly when a scope is needed or only people may call"
            );
            // Every bearer route takes an API key; the routes for service
            // accounts take their tokens too.
            let schemes: Vec<&str> = op["security"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|r| r.as_object()?.keys().next().map(String::as_str))
                .collect();
            assert!(schemes.contains(&"api_key"), "{method} {path}: {schemes:?}");
            assert_eq!(
                schemes.contains(&"client_credentials"),
                needs.lets_clients_in(),
                "{method} {path}: {schemes:?}"
            );
        }
    }
    assert_eq!(bearer_ops, bearer_routes());
    // The routes without a bearer token say so.
    for (method, path) in [
        ("post", "/api/v1/auth/token"),
        ("post", "/api/v1/auth/revoke"),
        ("get", "/.well-known/jwks.json"),
    ] {
        assert!(
            doc["paths"][path][method]["security"].is_null(),
            "{method} {path}"
        );
    }
    let browser = &doc["paths"]["/auth/token"]["post"];
    assert_eq!(
        browser["security"][0],
        serde_json::json!({"session_cookie": [], "csrf_header": []})
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["session_cookie"]["name"],
        "session"
    );
}

/// The document is true about scopes: a token with every scope but the one a
/// route names gets 403 `insufficient_scope` naming it.
#[actix_web::test]
async fn every_scope_the_document_names_is_enforced() {
    let app = spawn_app().await;
    let doc = served_document(&app).await;
    let email = app.api_user().await;
    let mut conn = app.conn().await;
    let user = hybrid_auth::db::users::find_by_email(&mut conn, &email)
        .await
        .unwrap()
        .unwrap();
    let all = hybrid_auth::auth::tokens::scopes::catalogue();
    hybrid_auth::db::users::set_scopes(&mut conn, user.id, &all, app.clock.now())
        .await
        .unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let Some(scopes) = bearer_scopes(op) else {
                continue;
            };
            for scope in scopes {
                let others: Vec<&str> = Scope::ALL
                    .iter()
                    .map(|s| s.as_str())
                    .filter(|s| *s != scope)
                    .collect();
                let grant = app
                    .password_grant(&email, PASSWORD, Some(&others.join(" ")))
                    .await;
                assert_eq!(grant.status, StatusCode::OK, "{}", grant.body);
                let token = grant.json()["access_token"].as_str().unwrap().to_owned();
                // A path parameter that does not even parse: the scope is
                // checked first (the route table's check runs before the
                // handler and its extractors), so it is still the 403.
                let url = path.replace("{id}", "not-an-id");
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let res = app
                    .req(method.clone(), &url)
                    .bearer(&token)
                    .no_cookies()
                    .send()
                    .await;
                assert_eq!(
                    res.status,
                    StatusCode::FORBIDDEN,
                    "{method} {url}: {}",
                    res.body
                );
                assert_eq!(res.json()["error"], "insufficient_scope");
                let challenge = res.header("www-authenticate").unwrap_or_default();
                assert!(
                    challenge.contains(&format!("scope=\"{scope}\"")),
                    "{challenge}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(
        checked,
        bearer_routes()
            .iter()
            .filter(|(_, _, s)| !s.is_empty())
            .count()
    );
}

#[actix_web::test]
async fn the_docs_page_is_served_by_the_app_under_its_csp() {
    let app = spawn_app().await;
    let page = app.get("/api/docs").await;
    assert_eq!(page.status, StatusCode::OK);
    // The app's CSP, loosened only for `data:` images (Swagger UI's icons).
    let csp = hybrid_auth::web::CSP.replace("img-src 'self';", "img-src 'self' data:;");
    assert_eq!(page.header("content-security-policy"), Some(csp));
    // Every script is a file of this origin; none is inline.
    let scripts: Vec<&str> = page.body.split("<script").skip(1).collect();
    assert_eq!(scripts.len(), 2, "{}", page.body);
    for script in scripts {
        let src = script
            .split_once("src=\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(src, _)| src)
            .unwrap_or_else(|| panic!("an inline script: {script}"));
        assert!(src.starts_with('/'), "{src}");
        let res = app.get(src).await;
        assert_eq!(res.status, StatusCode::OK, "{src}");
        assert!(
            res.header("content-type").unwrap().contains("javascript"),
            "{src}"
        );
    }
    let css = app.get("/api/docs/swagger-ui.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.header("content-type").unwrap().starts_with("text/css"));
    // Only the two files the page needs are served from the distribution.
    for other in ["index.html", "swagger-initializer.js", "../Cargo.toml"] {
        assert_eq!(
            app.get(&format!("/api/docs/{other}")).await.status,
            StatusCode::NOT_FOUND
        );
    }
}

#[actix_web::test]
async fn the_docs_page_renders_every_operation_in_chromium() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = spawn_app().await;
    let doc = served_document(&app).await;
    let expected = operations(&doc).len() as i64;
    browser.goto(&format!("{}/api/docs", app.address)).await;
    browser
        .wait_for("the operations", Duration::from_secs(30), async |b| {
            b.count(".opblock").await == expected
        })
        .await;
    let text = browser.text().await;
    let title = format!("{} API", hybrid_auth::web::app_name());
    assert!(text.contains(&title), "{text}");
    assert!(text.contains("/api/v1/notes/{id}"), "{text}");
    // The stylesheet applied (it is a file of this origin, like the scripts).
    let styled = browser
        .eval("return getComputedStyle(document.querySelector('.opblock')).borderStyle;")
        .await;
    assert_eq!(styled, "solid");
    browser.quit().await;
}
