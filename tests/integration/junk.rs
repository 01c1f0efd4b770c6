//! A seeded battery of junk requests against the running app: every route,
//! several methods, content types and bodies, anonymous, signed in and with
//! bearer tokens. Whatever arrives, the answer is never a 5xx.

use crate::helpers::*;
use awc::http::Method;

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
