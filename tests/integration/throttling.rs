//! Login throttling: failures per account (web login, password grant and
//! password change share one count), concurrent guesses, the per-IP limit,
//! and `X-Forwarded-For` trusted only from configured proxies; registrations
//! are throttled per IP too.

use crate::support::*;
use awc::http::StatusCode;
use time::Duration;

#[actix_web::test]
async fn the_password_grant_shares_the_login_throttle() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    for _ in 0..3 {
        app.password_grant(&email, "wrong password", None).await;
    }
    for _ in 0..2 {
        app.login(&email, "wrong password").await;
    }
    let res = app.password_grant(&email, PASSWORD, None).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.header("retry-after").is_some());
    assert_eq!(res.json()["error"], "too_many_attempts");
}

#[actix_web::test]
async fn repeated_failures_are_throttled_before_the_password_check() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    app.clear_cookies();
    for _ in 0..5 {
        assert_eq!(
            app.login(&email, "wrong password").await.status,
            StatusCode::BAD_REQUEST
        );
    }
    let res = app.login(&email.to_uppercase(), PASSWORD).await;
    assert_eq!(
        res.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let retry: i64 = res
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(retry > 800 && retry <= 900, "{retry}");
    // Unknown accounts are counted the same way.
    for _ in 0..5 {
        app.login("ghost@example.com", "wrong password").await;
    }
    assert_eq!(
        app.login("ghost@example.com", "x").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.clock.advance(Duration::minutes(15));
    assert_eq!(
        app.login(&email, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
}

#[actix_web::test]
async fn a_success_clears_the_failure_count() {
    let app = spawn_app().await;
    let email = app.signed_in_user().await;
    app.clear_cookies();
    for _ in 0..4 {
        app.login(&email, "wrong password").await;
    }
    assert_eq!(
        app.login(&email, PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    app.clear_cookies();
    for _ in 0..4 {
        assert_eq!(
            app.login(&email, "wrong password").await.status,
            StatusCode::BAD_REQUEST
        );
    }
}

#[actix_web::test]
async fn parallel_guesses_cannot_slip_past_the_limit() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    let guesses = (0..12).map(|i| {
        let pw = format!("wrong password {i}");
        let email = email.clone();
        let app = &app;
        async move { app.password_grant(&email, &pw, None).await.status }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked, 5, "{statuses:?}");
    assert_eq!(throttled, 7);
}

#[actix_web::test]
async fn a_wrong_current_password_counts_toward_the_throttle() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    let token = app.csrf_for("/account").await;
    let change = |current: &'static str| {
        app.post("/account/password")
            .form(&[
                ("csrf_token", token.as_str()),
                ("current_password", current),
                ("new_password", "a brand new password"),
                ("password_confirm", "a brand new password"),
            ])
            .send()
    };
    for _ in 0..5 {
        assert_eq!(
            change("wrong password").await.status,
            StatusCode::BAD_REQUEST
        );
    }
    let res = change(PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.header("retry-after").is_some());
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM auth_events WHERE kind = 'password_changed'")
            .await,
        0
    );
}

#[actix_web::test]
async fn the_per_ip_limit_is_ten_times_higher_and_trusts_only_configured_proxies() {
    let app = spawn_app_with(|s| {
        s.login_max_failures = 2;
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let attempt = |email: String, ip: &'static str| {
        let app = &app;
        async move {
            app.post("/api/v1/auth/token")
                .no_cookies()
                .header("x-forwarded-for", ip)
                .form(&[
                    ("grant_type", "password"),
                    ("username", &email),
                    ("password", "wrong password"),
                ])
                .send()
                .await
                .status
        }
    };
    // Twenty failures from one client, one per email: none of them hits the
    // per-email limit of 2; the twenty-first from that client is refused.
    for i in 0..20 {
        assert_eq!(
            attempt(format!("user{i}@example.com"), "203.0.113.7").await,
            StatusCode::BAD_REQUEST,
            "{i}"
        );
    }
    assert_eq!(
        attempt("fresh@example.com".into(), "203.0.113.7").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client behind the same proxy is not affected.
    assert_eq!(
        attempt("fresh@example.com".into(), "198.51.100.9").await,
        StatusCode::BAD_REQUEST
    );
}

#[actix_web::test]
async fn forwarded_for_is_ignored_from_untrusted_peers() {
    let app = spawn_app_with(|s| s.login_max_failures = 1).await;
    for i in 0..10 {
        // Spoofing a new X-Forwarded-For each time does not reset the per-IP count.
        let res = app
            .post("/api/v1/auth/token")
            .no_cookies()
            .header("x-forwarded-for", &format!("198.51.100.{i}"))
            .form(&[
                ("grant_type", "password"),
                ("username", &format!("u{i}@example.com")),
                ("password", "x"),
            ])
            .send()
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
    }
    let res = app
        .post("/api/v1/auth/token")
        .no_cookies()
        .header("x-forwarded-for", "192.0.2.1")
        .form(&[
            ("grant_type", "password"),
            ("username", "last@example.com"),
            ("password", "x"),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
}

#[actix_web::test]
async fn a_login_storm_past_the_hashing_queue_gets_503_with_retry_after() {
    let app = spawn_app_with(|s| {
        s.hash_concurrency = 1;
        s.hash_queue = 0;
    })
    .await;
    // Eight different (unknown) accounts at once: no throttle applies, and
    // each attempt needs a hash. One slot, no queue: most are turned away.
    let attempts = (0..8).map(|i| {
        let app = &app;
        async move {
            app.password_grant(&format!("nobody{i}@example.com"), "wrong password", None)
                .await
        }
    });
    let responses = futures_util::future::join_all(attempts).await;
    let busy: Vec<_> = responses
        .iter()
        .filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    let checked = responses
        .iter()
        .filter(|r| r.status == StatusCode::BAD_REQUEST)
        .count();
    assert!(checked >= 1, "at least one attempt was hashed");
    assert!(!busy.is_empty(), "the rest were refused, not queued");
    for r in busy {
        assert_eq!(r.header("retry-after").as_deref(), Some("1"));
        assert_eq!(r.json()["error"], "temporarily_unavailable");
    }
    // The slot is free again afterwards: a real login works.
    let email = app.api_user().await;
    let ok = app.password_grant(&email, PASSWORD, None).await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[actix_web::test]
async fn registration_is_throttled_per_ip() {
    // LOGIN_MAX_FAILURES=1: ten registrations per IP per 15 minutes.
    let app = spawn_app_with(|s| s.login_max_failures = 1).await;
    for i in 0..10 {
        let res = app.register(&format!("r{i}@example.com"), PASSWORD).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "registration {i}");
        app.clear_cookies();
    }
    let res = app.register("one-more@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(res.header("retry-after").is_some());
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM users WHERE email = 'one-more@example.com'")
            .await,
        0
    );
}

/// A password grant sent from `source` (a loopback address) over a raw
/// socket, so the server sees that peer address. Returns the status code.
async fn grant_from(source: &str, port: u16, username: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let mut stream = socket
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap();
    let body = format!("grant_type=password&username={username}&password=wrong");
    let request = format!(
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[actix_web::test]
async fn ipv4_clients_of_a_dual_stack_socket_are_throttled_apart() {
    // Bound to [::], every IPv4 client arrives as ::ffff:a.b.c.d.
    let app = spawn_app_with(|s| {
        s.bind_addr = "[::]:0".into();
        s.login_max_failures = 2; // 20 per IP
    })
    .await;
    let port: u16 = app.address.rsplit(':').next().unwrap().parse().unwrap();
    for i in 0..20 {
        let status = grant_from("127.0.0.2", port, &format!("u{i}@example.com")).await;
        assert_eq!(status, 400, "failed grant {i}");
    }
    assert_eq!(
        grant_from("127.0.0.2", port, "more@example.com").await,
        429,
        "127.0.0.2 is at its limit"
    );
    // Another IPv4 client is another bucket, not the same /64.
    assert_eq!(
        grant_from("127.0.0.3", port, "other@example.com").await,
        400
    );
}

#[actix_web::test]
async fn a_parallel_burst_cannot_overshoot_the_per_ip_mail_limit() {
    let app = spawn_app().await;
    let token = app.csrf_for("/password/forgot").await;
    // 40 at once, each for another address: the per-IP limit (30) decides.
    let posts = (0..40).map(|i| {
        let app = &app;
        let token = token.clone();
        async move {
            app.post("/password/forgot")
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("email", &format!("burst{i}@example.com")),
                ])
                .send()
                .await
                .status
        }
    });
    let statuses = futures_util::future::join_all(posts).await;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((ok, throttled), (30, 10), "{statuses:?}");
}

#[actix_web::test]
async fn sign_ins_turned_away_by_a_full_hashing_queue_are_not_failures() {
    let app = spawn_app_with(|s| {
        s.hash_concurrency = 1;
        s.hash_queue = 0;
        s.login_max_failures = 50;
    })
    .await;
    let email = app.api_user().await;
    let attempts = (0..8).map(|_| {
        let app = &app;
        let email = email.clone();
        async move {
            app.password_grant(&email, "wrong password", None)
                .await
                .status
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::BAD_REQUEST)
        .count() as i64;
    let busy = statuses
        .iter()
        .filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE)
        .count();
    assert!(busy >= 1, "the storm overflowed the queue: {statuses:?}");
    // Only the attempts whose password was checked count, per account and per IP.
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM login_failures WHERE key LIKE 'email:%'")
            .await,
        checked
    );
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM login_failures WHERE key LIKE 'ip:%'")
            .await,
        checked
    );
}
