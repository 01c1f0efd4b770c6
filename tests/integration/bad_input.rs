//! Bad input. Requests refused for their shape, before any credential is
//! looked at: malformed token requests (OAuth errors, 400), malformed
//! `Authorization` headers (RFC 6750), garbage form bodies on the login page,
//! NUL bytes (400, not a server error) and cookie posts without a readable
//! CSRF token (403). Then a seeded battery of junk requests against the
//! running app: every route, several methods, content types and bodies,
//! anonymous, signed in and with bearer tokens. Whatever arrives, the answer
//! is never a 5xx.

use crate::support::*;
use awc::http::{Method, StatusCode};
use hybrid_auth::auth::crypto::b64;
use serde_json::{json, Value};

/// The body of a token request.
enum Body<'a> {
    Empty,
    Raw(&'a str, &'a str),
    Json(Value),
    Form(Vec<(&'a str, &'a str)>),
}

#[actix_web::test]
async fn token_endpoint_refuses_bad_requests_with_400() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    let post = || app.post("/api/v1/auth/token").no_cookies();
    let cases = [
        ("no body", Body::Empty, "invalid_request"),
        (
            "text/plain",
            Body::Raw("text/plain", "grant_type=password"),
            "invalid_request",
        ),
        (
            "garbage json",
            Body::Raw("application/json", "{not json"),
            "invalid_request",
        ),
        (
            "json array",
            Body::Raw("application/json", "[1,2]"),
            "invalid_request",
        ),
        (
            "json number",
            Body::Json(json!({"grant_type": "password", "username": email, "password": 5})),
            "invalid_request",
        ),
        (
            "no grant_type",
            Body::Form(vec![("username", "a")]),
            "invalid_request",
        ),
        (
            "repeated",
            Body::Raw(
                "application/x-www-form-urlencoded",
                "grant_type=password&grant_type=password&username=a&password=b",
            ),
            "invalid_request",
        ),
        (
            "unknown grant",
            Body::Form(vec![("grant_type", "urn:example:unknown")]),
            "unsupported_grant_type",
        ),
        (
            "missing password",
            Body::Form(vec![
                ("grant_type", "password"),
                ("username", email.as_str()),
            ]),
            "invalid_request",
        ),
        (
            "missing refresh_token",
            Body::Form(vec![("grant_type", "refresh_token")]),
            "invalid_request",
        ),
    ];
    for (name, body, code) in cases {
        let req = match body {
            Body::Empty => post(),
            Body::Raw(content_type, raw) => post().raw(content_type, raw),
            Body::Json(value) => post().json(&value),
            Body::Form(fields) => post().form(&fields),
        };
        let res = req.send().await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{name}: {}", res.body);
        assert_eq!(res.json()["error"], code, "{name}");
        assert!(res.json()["error_description"].is_string(), "{name}");
    }
    let huge = format!("grant_type=password&username={}", "a".repeat(20_000));
    let res = post()
        .raw("application/x-www-form-urlencoded", huge)
        .send()
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
    // JSON bodies work too.
    let res = post()
        .json(&json!({"grant_type": "password", "username": email, "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        app.scalar_i64("SELECT count(*) AS n FROM sessions WHERE kind = 'api'")
            .await,
        1,
        "refusals changed nothing"
    );
}

/// What the API must answer to an `Authorization` set-up.
enum Expect {
    /// 401 with the bare challenge: as if no credentials were sent.
    Challenge,
    /// 400 `invalid_request`.
    InvalidRequest,
    /// 200: the token is used.
    Accepted,
}

#[actix_web::test]
async fn bearer_header_errors_follow_rfc_6750() {
    let app = spawn_app().await;
    let (access, _) = app.api_tokens().await;
    let cases = [
        ("no header", vec![], Expect::Challenge),
        (
            "another scheme",
            vec![format!("Basic {}", b64(b"a:b"))],
            Expect::Challenge,
        ),
        ("empty", vec!["Bearer ".to_owned()], Expect::InvalidRequest),
        (
            "bare scheme",
            vec!["Bearer".to_owned()],
            Expect::InvalidRequest,
        ),
        (
            "two tokens",
            vec![format!("Bearer {access} {access}")],
            Expect::InvalidRequest,
        ),
        (
            "bad characters",
            vec!["Bearer abc$def.ghi".to_owned()],
            Expect::InvalidRequest,
        ),
        (
            "non-ascii",
            vec!["Bearer é.é.é".to_owned()],
            Expect::InvalidRequest,
        ),
        (
            "oversized",
            vec![format!("Bearer {}", "a".repeat(9000))],
            Expect::InvalidRequest,
        ),
        (
            "two Authorization headers",
            vec![format!("Bearer {access}"), format!("Bearer {access}")],
            Expect::InvalidRequest,
        ),
        (
            "scheme is case-insensitive",
            vec![format!("bearer {access}")],
            Expect::Accepted,
        ),
    ];
    for (name, headers, expect) in cases {
        let mut req = app.req(Method::GET, "/api/v1/ping").no_cookies();
        for h in &headers {
            req = req.header("authorization", h);
        }
        let res = req.send().await;
        match expect {
            Expect::Challenge => {
                assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{name}");
                assert_eq!(
                    res.header("www-authenticate").as_deref(),
                    Some(format!("Bearer realm=\"{}\"", hybrid_auth::web::app_name()).as_str()),
                    "{name}"
                );
                assert!(res.json()["error"].is_string(), "{name}");
            }
            Expect::InvalidRequest => {
                assert_eq!(res.status, StatusCode::BAD_REQUEST, "{name}: {}", res.body);
                assert_eq!(res.json()["error"], "invalid_request", "{name}");
            }
            Expect::Accepted => assert_eq!(res.status, StatusCode::OK, "{name}: {}", res.body),
        }
    }
}

#[actix_web::test]
async fn garbage_form_bodies_get_400() {
    let app = spawn_app().await;
    let res = app
        .post("/login")
        .raw("application/json", "{\"email\":1}")
        .send()
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app
        .post("/login")
        .raw(
            "application/x-www-form-urlencoded",
            vec![0xff, 0xfe, b'=', 0x80],
        )
        .send()
        .await;
    assert!(res.status.is_client_error(), "{}", res.status);
    let huge = format!("email={}", "a".repeat(100_000));
    let res = app
        .post("/login")
        .raw("application/x-www-form-urlencoded", huge)
        .send()
        .await;
    assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[actix_web::test]
async fn nul_bytes_are_bad_requests_not_server_errors() {
    let app = spawn_app().await;
    // The login form: re-rendered with 400.
    let token = app.csrf_for("/login").await;
    let res = app
        .post("/login")
        .form(&[
            ("csrf_token", &token),
            ("email", "a\0@example.com"),
            ("password", "x"),
        ])
        .send()
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    // The password grant: 400 invalid_request.
    let res = app.password_grant("a\0@example.com", "x", None).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["error"], "invalid_request");
    // A note's title: 400 invalid_request, nothing stored.
    let (access, _) = app.api_tokens().await;
    let res = app
        .post("/api/v1/notes")
        .no_cookies()
        .bearer(&access)
        .json(&serde_json::json!({ "title": "a\u{0}b", "body": "" }))
        .send()
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json()["error"], "invalid_request");
    assert_eq!(app.scalar_i64("SELECT count(*) AS n FROM notes").await, 0);
}

#[actix_web::test]
async fn cookie_posts_without_a_readable_csrf_token_are_403() {
    let app = spawn_app().await;
    app.signed_in_user().await;
    for path in [
        "/logout",
        "/account/sessions/revoke-others",
        "/account/password",
    ] {
        // No body at all, and a body that is not a form.
        let empty = app.post(path).send().await;
        assert_eq!(empty.status, StatusCode::FORBIDDEN, "{path} without a body");
        let junk = app.post(path).raw("application/json", "{}").send().await;
        assert_eq!(junk.status, StatusCode::FORBIDDEN, "{path} with JSON");
    }
    // Still signed in: nothing was changed.
    assert_eq!(app.get("/account").await.status, StatusCode::OK);
}

/// A small deterministic generator (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = (self.next() as usize) % (max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }
}

const PATHS: &[&str] = &[
    "/",
    "/register",
    "/login",
    "/logout",
    "/account",
    "/account/password",
    "/account/sessions/revoke-others",
    "/account/sessions/00000000-0000-0000-0000-000000000000/revoke",
    "/account/sessions/not-a-uuid/revoke",
    "/account/email/resend",
    "/refresh",
    "/auth/token",
    "/password/forgot",
    "/password/reset",
    "/password/reset/junk",
    "/email/verify",
    "/email/verify/junk",
    "/email/resend",
    "/healthz",
    "/readyz",
    "/static/js/auth-fetch.js",
    "/static/../Cargo.toml",
    "/.well-known/jwks.json",
    "/api/v1/auth/token",
    "/api/v1/auth/revoke",
    "/api/v1/auth/logout",
    "/api/v1/me",
    "/api/v1/ping",
    "/api/v1/notes",
    "/api/v1/notes/00000000-0000-0000-0000-000000000000",
    "/api/v1/notes/%00",
    "/nope",
];

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("application/x-www-form-urlencoded"),
    Some("application/json"),
    Some("text/plain"),
    Some("multipart/form-data; boundary=x"),
];

fn bodies(rng: &mut Rng) -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        rng.bytes(300),
        b"csrf_token=x&csrf_token=y&email=a%00b&password=\xff\xfe".to_vec(),
        br#"{"title":"a","title":"b","grant_type":"password","username":"a\u0000b"}"#.to_vec(),
        b"grant_type=refresh_token&refresh_token=rt_AAAA&scope=admin%20notes:read".to_vec(),
        vec![b'a'; 70 * 1024],
    ]
}

#[actix_web::test]
async fn junk_requests_never_get_a_server_error() {
    let app = spawn_app().await;
    let (access, _) = app.api_tokens().await;
    app.signed_in_user().await;
    let signed_in = app.cookies();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let methods = [Method::GET, Method::POST, Method::PUT, Method::DELETE];
    let mut sent = 0;
    for path in PATHS {
        for method in &methods {
            for content_type in CONTENT_TYPES {
                // Two of the bodies for each combination, rotating, so every
                // body meets every route while the battery stays quick.
                let all = bodies(&mut rng);
                let first = (rng.next() as usize) % all.len();
                let picks = [
                    first,
                    (first + 1 + (rng.next() as usize) % (all.len() - 1)) % all.len(),
                ];
                for i in picks {
                    let body = all[i].clone();
                    // Rotate through anonymous, signed-in and bearer callers.
                    let mut req = app.req(method.clone(), path);
                    match i % 3 {
                        0 => {
                            app.clear_cookies();
                            req = app.req(method.clone(), path);
                        }
                        1 => app.restore_cookies(signed_in.clone()),
                        _ => req = req.bearer(&access),
                    }
                    if let Some(ct) = content_type {
                        req = req.raw(ct, body.clone());
                    } else if !body.is_empty() {
                        req = req.raw("application/octet-stream", body.clone());
                    }
                    let res = req.send().await;
                    sent += 1;
                    assert!(
                        !res.status.is_server_error(),
                        "{method} {path} ({content_type:?}, body #{i}) answered {}: {}",
                        res.status,
                        res.body.chars().take(300).collect::<String>()
                    );
                }
            }
        }
    }
    assert!(sent > 1000, "{sent} requests");
}
