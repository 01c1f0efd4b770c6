//! Requests refused for their shape, before any credential is looked at:
//! malformed token requests (OAuth errors, 400), malformed `Authorization`
//! headers (RFC 6750), garbage form bodies on the login page.

use crate::helpers::*;
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
            Body::Form(vec![("grant_type", "client_credentials")]),
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
                    Some("Bearer realm=\"hybrid-auth\""),
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
