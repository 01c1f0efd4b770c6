//! The notes example API: each user's notes are private, bodies are
//! validated, and each route needs its scope.

use crate::support::*;
use awc::http::{Method, StatusCode};
use hybrid_auth::auth::tokens::scopes::Scope;
use serde_json::{json, Value};
use time::Duration;

#[actix_web::test]
async fn notes_are_private_to_their_owner() {
    let app = spawn_app().await;
    let (alice, _) = app.api_tokens().await;
    let (bob, _) = app.api_tokens().await;
    let post = |token: &str, body: Value| {
        app.post("/api/v1/notes")
            .no_cookies()
            .bearer(token)
            .json(&body)
            .send()
    };

    let first = post(&alice, json!({"title": "first", "body": "hello"})).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let note = first.json();
    assert_eq!(
        first.location(),
        format!("/api/v1/notes/{}", note["id"].as_str().unwrap())
    );
    for field in ["id", "title", "body", "created_at"] {
        assert!(!note[field].is_null(), "{field}");
    }
    app.clock.advance(Duration::seconds(1));
    let second = post(&alice, json!({"title": "second"})).await.json();
    assert_eq!(second["body"], "");

    let list = app.api_get("/api/v1/notes", &alice).await.json();
    let titles: Vec<&str> = list["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["second", "first"], "newest first");
    let path = format!("/api/v1/notes/{}", note["id"].as_str().unwrap());
    assert_eq!(app.api_get(&path, &alice).await.json()["title"], "first");

    // Bob sees none of it and cannot delete it.
    assert_eq!(
        app.api_get("/api/v1/notes", &bob).await.json()["notes"],
        json!([])
    );
    assert_eq!(app.api_get(&path, &bob).await.status, StatusCode::NOT_FOUND);
    let del = app
        .req(Method::DELETE, &path)
        .no_cookies()
        .bearer(&bob)
        .send()
        .await;
    assert_eq!(del.status, StatusCode::NOT_FOUND);

    let del = app
        .req(Method::DELETE, &path)
        .no_cookies()
        .bearer(&alice)
        .send()
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.api_get(&path, &alice).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.api_get("/api/v1/notes/not-a-uuid", &alice).await.status,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn invalid_notes_get_400_and_change_nothing() {
    let app = spawn_app().await;
    let (token, _) = app.api_tokens().await;
    let send = |ct: &str, body: String| {
        app.post("/api/v1/notes")
            .no_cookies()
            .bearer(&token)
            .raw(ct, body)
            .send()
    };
    let cases = [
        ("garbage", send("application/json", "{title".into()).await),
        (
            "no title",
            send("application/json", json!({"body": "x"}).to_string()).await,
        ),
        (
            "empty title",
            send("application/json", json!({"title": ""}).to_string()).await,
        ),
        (
            "long title",
            send(
                "application/json",
                json!({"title": "t".repeat(201)}).to_string(),
            )
            .await,
        ),
        (
            "long body",
            send(
                "application/json",
                json!({"title": "t", "body": "b".repeat(10_001)}).to_string(),
            )
            .await,
        ),
        (
            "title number",
            send("application/json", json!({"title": 5}).to_string()).await,
        ),
        (
            "form body",
            send("application/x-www-form-urlencoded", "title=x".into()).await,
        ),
    ];
    for (name, res) in cases {
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{name}: {}", res.body);
        assert_eq!(res.json()["error"], "invalid_request", "{name}");
        assert!(res.json()["error_description"].is_string());
    }
    let ok = send(
        "application/json",
        json!({"title": "t".repeat(200), "body": "b".repeat(10_000)}).to_string(),
    )
    .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    assert_eq!(app.scalar_i64("SELECT count(*) AS n FROM notes").await, 1);
}

#[actix_web::test]
async fn notes_need_their_scopes() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    let read_only = app
        .password_grant(&email, PASSWORD, Some(Scope::NotesRead.as_str()))
        .await
        .json();
    let token = read_only["access_token"].as_str().unwrap();
    let res = app
        .post("/api/v1/notes")
        .no_cookies()
        .bearer(token)
        .json(&json!({"title": "x"}))
        .send()
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res
        .header("www-authenticate")
        .unwrap()
        .contains(&format!("scope=\"{}\"", Scope::NotesWrite.as_str())));
    let profile = app
        .password_grant(&email, PASSWORD, Some(Scope::ProfileRead.as_str()))
        .await
        .json();
    let res = app
        .api_get("/api/v1/notes", profile["access_token"].as_str().unwrap())
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn notes_are_listed_in_bounded_pages_with_a_cursor() {
    let app = spawn_app().await;
    let (token, _) = app.api_tokens().await;
    for i in 0..7 {
        let res = app
            .post("/api/v1/notes")
            .no_cookies()
            .bearer(&token)
            .json(&json!({ "title": format!("note {i}") }))
            .send()
            .await;
        assert_eq!(res.status, StatusCode::CREATED);
        app.clock.advance(Duration::seconds(1));
    }
    let mut titles = Vec::new();
    let mut path = "/api/v1/notes?limit=3".to_owned();
    let mut pages = 0;
    loop {
        let page = app.api_get(&path, &token).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let page = page.json();
        let notes = page["notes"].as_array().unwrap();
        assert!(notes.len() <= 3);
        titles.extend(
            notes
                .iter()
                .map(|n| n["title"].as_str().unwrap().to_owned()),
        );
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/notes?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..7).rev().map(|i| format!("note {i}")).collect();
    assert_eq!(titles, expected, "every note once, newest first");
}

#[actix_web::test]
async fn bad_page_parameters_are_invalid_requests() {
    let app = spawn_app().await;
    let (token, _) = app.api_tokens().await;
    for query in [
        "limit=0",
        "limit=101",
        "limit=ten",
        "cursor=nope",
        "cursor=1.zz",
    ] {
        let res = app.api_get(&format!("/api/v1/notes?{query}"), &token).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(res.json()["error"], "invalid_request", "{query}");
    }
}
