//! The database going away: pages and the API answer 503 with Retry-After
//! (never anonymous access, never a stale yes), and recover once it is back.

use crate::support::*;
use awc::http::StatusCode;

#[actix_web::test]
async fn database_outage_gives_503_never_anonymous_access() {
    let (app, proxy) = spawn_app_behind_proxy().await;
    app.signed_in_user().await;
    assert_eq!(app.get("/account").await.status, StatusCode::OK);

    proxy.cut();
    for path in ["/account", "/", "/readyz"] {
        let res = app.get(path).await;
        assert_eq!(
            res.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {}",
            res.body
        );
        assert!(res.header("retry-after").is_some(), "{path}");
        assert!(
            !res.body.contains("connection"),
            "no internals: {}",
            res.body
        );
    }
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    let token = app.csrf_for("/login").await;
    app.clear_cookies();
    let res = app.login("anyone@example.com", PASSWORD).await;
    let _ = token;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);

    proxy.restore();
    let mut ok = false;
    for _ in 0..20 {
        if app.get("/readyz").await.status == StatusCode::OK {
            ok = true;
            break;
        }
    }
    assert!(ok, "recovers once the database is back");
}

#[actix_web::test]
async fn api_answers_503_when_the_database_is_down() {
    let (app, proxy) = spawn_app_behind_proxy().await;
    let (access, refresh) = app.api_tokens().await;
    proxy.cut();
    let view = app.state.revocations.clone();
    wait_until("the listener to notice the outage", move || {
        !view.is_fresh()
    })
    .await;
    let res = app.api_get("/api/v1/ping", &access).await;
    assert_eq!(
        res.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "never a stale yes: {}",
        res.body
    );
    assert!(res.header("retry-after").is_some());
    let res = app.refresh_grant(&refresh, None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    let res = app.password_grant("a@example.com", PASSWORD, None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.json()["error"], "temporarily_unavailable");
}
