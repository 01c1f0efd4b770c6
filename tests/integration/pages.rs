//! Pages anyone can see: the landing page, security headers on every HTML
//! response, cookie attributes, static assets; anonymous views write nothing.
//! Every response carries a request id (chosen only by trusted proxies), and
//! HSTS is sent only when the public URL is https.

use crate::support::*;
use awc::http::StatusCode;

fn contains_all(haystack: &str, needles: &[&str]) {
    for n in needles {
        assert!(haystack.contains(n), "missing {n:?} in {haystack}");
    }
}

#[actix_web::test]
async fn landing_page_links_to_login_register_and_account() {
    let app = spawn_app().await;
    let res = app.get("/").await;
    assert_eq!(res.status, StatusCode::OK);
    contains_all(
        &res.body,
        &[
            "href=\"/login\"",
            "href=\"/register\"",
            "href=\"/account\"",
            "name=\"csrf-token\"",
        ],
    );
}

#[actix_web::test]
async fn html_responses_carry_security_headers() {
    let app = spawn_app().await;
    for path in ["/", "/login", "/register", "/logout", "/nope"] {
        let res = app.get(path).await;
        let csp = res.header("content-security-policy").unwrap_or_default();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(
            res.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert!(res.header("referrer-policy").is_some(), "{path}");
        assert_eq!(
            res.header("cache-control").as_deref(),
            Some("no-store"),
            "{path}"
        );
    }
    assert_eq!(app.get("/nope").await.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn anonymous_page_views_write_nothing_to_the_database() {
    let app = spawn_app().await;
    for path in ["/", "/login", "/register", "/login", "/logout"] {
        app.get(path).await;
    }
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM session_state")
            .await,
        0
    );
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM sessions").await,
        0
    );
    assert!(app.cookie("session").is_none());
}

#[actix_web::test]
async fn session_cookie_is_httponly_lax_and_host_scoped() {
    let app = spawn_app().await;
    let res = app.register("flags@example.com", PASSWORD).await;
    let cookie = res
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("session="))
        .expect("session cookie");
    contains_all(&cookie, &["HttpOnly", "SameSite=Lax", "Path=/"]);
    assert!(!cookie.contains("Domain"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http by default: {cookie}"
    );
}

#[actix_web::test]
async fn secure_cookies_use_the_host_prefix() {
    let app = spawn_app_with(|s| s.cookie_secure = true).await;
    let res = app.get("/login").await;
    let csrf = res
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-csrf="))
        .expect("csrf cookie");
    contains_all(&csrf, &["Secure", "HttpOnly", "Path=/"]);
    // Drive the login by hand: our client keeps cookies regardless of Secure.
    let res = app.register("secure@example.com", PASSWORD).await;
    let cookie = res
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-session="))
        .expect("session cookie");
    contains_all(&cookie, &["Secure", "HttpOnly", "SameSite=Lax", "Path=/"]);
    assert!(!cookie.contains("Domain"));
}

#[actix_web::test]
async fn static_scripts_are_served_as_javascript() {
    let app = spawn_app().await;
    for path in [
        "/static/js/auth-fetch.js",
        "/static/js/refresh-demo.js",
        "/static/js/logout.js",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert!(
            res.header("content-type")
                .unwrap()
                .starts_with("text/javascript"),
            "{path}"
        );
        assert!(
            !res.body.contains("localStorage.setItem"),
            "{path}: no tokens in storage"
        );
    }
    assert!(app
        .get("/static/js/auth-fetch.js")
        .await
        .body
        .contains("export async function authFetch"));
    assert!(app
        .get("/static/css/app.css")
        .await
        .header("content-type")
        .unwrap()
        .starts_with("text/css"));
    assert_eq!(
        app.get("/static/nope.js").await.status,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn every_response_carries_a_request_id_and_only_trusted_proxies_choose_it() {
    let app = spawn_app().await;
    let a = app.get("/healthz").await.header("x-request-id").unwrap();
    let b = app.get("/healthz").await.header("x-request-id").unwrap();
    assert_ne!(a, b);
    let res = app
        .req(awc::http::Method::GET, "/nope")
        .header("x-request-id", "abc-123")
        .send()
        .await;
    assert_ne!(
        res.header("x-request-id").as_deref(),
        Some("abc-123"),
        "not from an untrusted peer"
    );

    let proxied = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await;
    let res = proxied
        .req(awc::http::Method::GET, "/healthz")
        .header("x-request-id", "abc-123")
        .send()
        .await;
    assert_eq!(res.header("x-request-id").as_deref(), Some("abc-123"));
    let res = proxied
        .req(awc::http::Method::GET, "/healthz")
        .header("x-request-id", "bad id\"")
        .send()
        .await;
    assert_ne!(res.header("x-request-id").as_deref(), Some("bad id\""));
}

#[actix_web::test]
async fn hsts_is_sent_only_when_the_public_url_is_https() {
    let plain = spawn_app().await;
    assert!(plain
        .get("/")
        .await
        .header("strict-transport-security")
        .is_none());
    let tls = spawn_app_with(|s| s.public_url = "https://auth.example.com".into()).await;
    let hsts = tls
        .get("/healthz")
        .await
        .header("strict-transport-security");
    assert_eq!(hsts.as_deref(), Some("max-age=31536000; includeSubDomains"));
}

#[actix_web::test]
async fn a_404_shows_the_navigation_of_whoever_asks() {
    let app = spawn_app().await;
    let visitor = app.get("/no-such-page").await;
    assert_eq!(visitor.status, StatusCode::NOT_FOUND);
    assert!(!visitor.body.contains("href=\"/logout\""));

    let email = app.signed_in_user().await;
    let signed_in = app.get("/no-such-page").await;
    assert_eq!(signed_in.status, StatusCode::NOT_FOUND);
    assert!(
        signed_in.body.contains("href=\"/logout\""),
        "{}",
        signed_in.body
    );
    assert!(signed_in.body.contains(&email));
    assert!(!signed_in.body.contains("href=\"/register\""));
}

#[actix_web::test]
async fn every_page_links_a_favicon_that_is_served() {
    let app = spawn_app().await;
    let home = app.get("/").await;
    assert!(home
        .body
        .contains("<link rel=\"icon\" href=\"/static/favicon.svg\""));
    let icon = app.get("/static/favicon.svg").await;
    assert_eq!(icon.status, StatusCode::OK);
    assert_eq!(
        icon.header("content-type").as_deref(),
        Some("image/svg+xml")
    );
}

#[actix_web::test]
async fn the_landing_page_links_every_flow() {
    let app = spawn_app().await;
    let home = app.get("/").await.body;
    for link in [
        "/account",
        "/refresh",
        "/register",
        "/login",
        "/password/forgot",
        "/.well-known/jwks.json",
    ] {
        assert!(home.contains(&format!("href=\"{link}\"")), "{link}");
    }
}

#[actix_web::test]
async fn the_account_page_leaves_out_sign_in_providers_when_none_is_configured() {
    // (With a provider configured the section is there: oidc.rs.)
    let app = spawn_app().await;
    app.signed_in_user().await;
    let account = app.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(
        !account.body.contains("Sign-in providers"),
        "{}",
        account.body
    );
    assert!(!account.body.contains("id=\"identities\""));
}
