//! The Postgres `SessionStore` on its own.

use crate::support::database::fresh_database;
use crate::support::{spawn_app_on, test_settings};
use actix_session::storage::{SessionKey, SessionStore};
use actix_web::cookie::time::Duration as CookieDuration;
use hybrid_auth::auth::http::session_store::PgSessionStore;
use std::collections::HashMap;

async fn store() -> (crate::support::TestApp, PgSessionStore) {
    let db = fresh_database();
    let app = spawn_app_on(test_settings(&db)).await;
    let store = PgSessionStore::new(app.state.pool.clone(), app.clock.clone());
    (app, store)
}

fn state(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[actix_web::test]
async fn saved_state_loads_back_and_only_its_hash_is_stored() {
    let (app, store) = store().await;
    let key = store
        .save(state(&[("a", "\"1\"")]), &CookieDuration::hours(1))
        .await
        .unwrap();
    assert!(key.as_ref().len() >= 43, "at least 256 bits of key");
    let loaded = store.load(&key).await.unwrap().unwrap();
    assert_eq!(loaded.get("a").map(String::as_str), Some("\"1\""));
    let key_text = key.as_ref().to_owned();
    let n = app
        .scalar_i64(&format!(
            "SELECT count(*) AS n FROM session_state WHERE encode(key_hash, 'escape') LIKE '%{key_text}%'"
        ))
        .await;
    assert_eq!(n, 0, "the raw key is never stored");
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM session_state")
            .await,
        1
    );
}

#[actix_web::test]
async fn unknown_key_loads_nothing() {
    let (_app, store) = store().await;
    let key = SessionKey::try_from("no-such-key".to_owned()).unwrap();
    assert!(store.load(&key).await.unwrap().is_none());
}

#[actix_web::test]
async fn expired_state_is_never_loaded() {
    let (app, store) = store().await;
    let key = store
        .save(state(&[("a", "1")]), &CookieDuration::minutes(10))
        .await
        .unwrap();
    app.clock.advance(time::Duration::minutes(9));
    assert!(store.load(&key).await.unwrap().is_some());
    app.clock.advance(time::Duration::minutes(2));
    assert!(store.load(&key).await.unwrap().is_none());
}

#[actix_web::test]
async fn update_keeps_the_key_and_replaces_the_state() {
    let (_app, store) = store().await;
    let key = store
        .save(state(&[("a", "1")]), &CookieDuration::hours(1))
        .await
        .unwrap();
    let key_text = key.as_ref().to_owned();
    let same = store
        .update(key, state(&[("b", "2")]), &CookieDuration::hours(1))
        .await
        .unwrap();
    assert_eq!(same.as_ref(), key_text);
    let loaded = store.load(&same).await.unwrap().unwrap();
    assert!(!loaded.contains_key("a"));
    assert_eq!(loaded.get("b").map(String::as_str), Some("2"));
}

#[actix_web::test]
async fn update_of_a_vanished_key_falls_back_to_save() {
    let (_app, store) = store().await;
    let key = store
        .save(state(&[("a", "1")]), &CookieDuration::hours(1))
        .await
        .unwrap();
    let old = key.as_ref().to_owned();
    store.delete(&key).await.unwrap();
    let new = store
        .update(key, state(&[("b", "2")]), &CookieDuration::hours(1))
        .await
        .unwrap();
    assert_ne!(new.as_ref(), old, "a fresh key, not the dead one");
    assert!(store.load(&new).await.unwrap().is_some());
}

#[actix_web::test]
async fn update_ttl_extends_life() {
    let (app, store) = store().await;
    let key = store
        .save(state(&[("a", "1")]), &CookieDuration::minutes(10))
        .await
        .unwrap();
    app.clock.advance(time::Duration::minutes(8));
    store
        .update_ttl(&key, &CookieDuration::minutes(10))
        .await
        .unwrap();
    app.clock.advance(time::Duration::minutes(8));
    assert!(store.load(&key).await.unwrap().is_some());
}

#[actix_web::test]
async fn delete_removes_the_state() {
    let (_app, store) = store().await;
    let key = store
        .save(state(&[("a", "1")]), &CookieDuration::hours(1))
        .await
        .unwrap();
    store.delete(&key).await.unwrap();
    assert!(store.load(&key).await.unwrap().is_none());
}
