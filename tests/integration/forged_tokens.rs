//! The forged-token battery: every token an attacker might build from a real
//! one (alg confusion, stripped or foreign signatures, hostile headers, wrong
//! or missing claims, garbage shapes) is refused, and never with a 5xx.

use crate::support::forge::*;
use crate::support::*;
use awc::http::StatusCode;
use hybrid_auth::auth::crypto::b64;
use hybrid_auth::auth::tokens::scopes::default_grant;
use serde_json::json;

/// A named case: (what it tries, the token). The name is in every failure.
type Case = (String, String);

/// The three parts of a valid token, to take apart and reassemble.
struct Parts {
    h: String,
    p: String,
    s: String,
}

impl Parts {
    fn of(token: &str) -> Parts {
        let mut it = token.split('.');
        Parts {
            h: it.next().unwrap().to_owned(),
            p: it.next().unwrap().to_owned(),
            s: it.next().unwrap().to_owned(),
        }
    }
}

fn hmac_sha256_raw(key: &[u8], data: &[u8]) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `alg: none`, every casing, with and without a signature.
fn alg_none(forge: &Forge, parts: &Parts) -> Vec<Case> {
    let Parts { p, s, .. } = parts;
    ["none", "None", "NONE", "nOnE"]
        .into_iter()
        .flat_map(|alg| {
            let header = encode_part(&json!({"alg": alg, "typ": "at+jwt", "kid": forge.kid}));
            [
                (format!("alg {alg}, no signature"), format!("{header}.{p}.")),
                (
                    format!("alg {alg}, EdDSA signature"),
                    format!("{header}.{p}.{s}"),
                ),
            ]
        })
        .collect()
}

/// HS256 keyed with the public key, and with an empty key (each raw and
/// base64url-encoded).
fn hmac_confusion(forge: &Forge, parts: &Parts) -> Vec<Case> {
    let header = encode_part(&json!({"alg": "HS256", "typ": "at+jwt", "kid": forge.kid}));
    let input = format!("{header}.{}", parts.p);
    let mut cases = vec![];
    for (name, key) in [
        ("hs256 public key", forge.public.clone()),
        ("hs256 empty key", vec![]),
    ] {
        for (encoding, key_bytes) in [("raw", key.clone()), ("base64url", b64(&key).into_bytes())] {
            let mac = hmac_sha256_raw(&key_bytes, input.as_bytes());
            cases.push((
                format!("{name}, {encoding}"),
                format!("{input}.{}", b64(&mac)),
            ));
        }
    }
    cases
}

/// Other algorithms in the header over a valid EdDSA signature.
fn other_algs(forge: &Forge) -> Vec<Case> {
    ["RS256", "ES256", "PS256", "HS512"]
        .into_iter()
        .map(|alg| {
            (
                format!("alg {alg}"),
                forge.with_header(|h| h["alg"] = json!(alg)),
            )
        })
        .collect()
}

/// A tampered payload; stripped, truncated and extended signatures.
fn tampered(forge: &Forge, parts: &Parts) -> Vec<Case> {
    let Parts { h, p, s } = parts;
    let mut claims = forge.claims.clone();
    claims["scope"] = json!(format!("{} admin", default_grant()));
    vec![
        (
            "tampered payload".to_owned(),
            format!("{h}.{}.{s}", encode_part(&claims)),
        ),
        ("stripped signature".to_owned(), format!("{h}.{p}.")),
        ("two parts".to_owned(), format!("{h}.{p}")),
        (
            "truncated signature".to_owned(),
            format!("{h}.{p}.{}", &s[..s.len() - 4]),
        ),
        ("extended signature".to_owned(), format!("{h}.{p}.{s}AAAA")),
    ]
}

/// Unknown and hostile kids, and none at all.
fn hostile_kids(forge: &Forge) -> Vec<Case> {
    let mut cases: Vec<Case> = [
        "no-such-kid",
        "../../../../etc/passwd",
        "' OR '1'='1",
        "\u{0}",
        "",
    ]
    .into_iter()
    .map(|kid| {
        (
            format!("kid {kid:?}"),
            forge.with_header(|h| h["kid"] = json!(kid)),
        )
    })
    .collect();
    cases.push((
        "no kid".to_owned(),
        forge.with_header(|h| {
            h.as_object_mut().unwrap().remove("kid");
        }),
    ));
    cases
}

/// Signed by another Ed25519 key: plain, with an embedded jwk, and pointing
/// at URLs on `watched_port` (jku, x5u) that the server must never fetch.
fn foreign_keys(forge: &Forge, watched_port: u16) -> Vec<Case> {
    let attacker_seed = [7u8; 32];
    let attacker_pub = ed25519_dalek::SigningKey::from_bytes(&attacker_seed)
        .verifying_key()
        .to_bytes();
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&attacker_pub), "kid": forge.kid});
    let jku = format!("http://127.0.0.1:{watched_port}/jwks.json");
    let x5u = format!("http://127.0.0.1:{watched_port}/cert.pem");
    [
        ("other key", forge.header()),
        (
            "embedded jwk",
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": forge.kid, "jwk": jwk}),
        ),
        (
            "jku",
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": forge.kid, "jku": jku}),
        ),
        (
            "x5u",
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": forge.kid, "x5u": x5u}),
        ),
        (
            "x5c",
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": forge.kid, "x5c": ["MIIB"]}),
        ),
    ]
    .into_iter()
    .map(|(name, header)| {
        (
            name.to_owned(),
            sign_ed(&attacker_seed, &header, &forge.claims),
        )
    })
    .collect()
}

/// Wrong issuer, audience or type; missing or mistyped claims.
fn bad_claims(forge: &Forge) -> Vec<Case> {
    let mut cases = vec![
        (
            "iss".to_owned(),
            forge.with_claims(|c| c["iss"] = json!("https://evil.example")),
        ),
        (
            "aud".to_owned(),
            forge.with_claims(|c| c["aud"] = json!("another-api")),
        ),
        (
            "aud array".to_owned(),
            forge.with_claims(|c| c["aud"] = json!(["another-api"])),
        ),
        (
            "typ JWT".to_owned(),
            forge.with_header(|h| h["typ"] = json!("JWT")),
        ),
        (
            "no typ".to_owned(),
            forge.with_header(|h| {
                h.as_object_mut().unwrap().remove("typ");
            }),
        ),
    ];
    cases.extend(
        [
            "iss",
            "aud",
            "sub",
            "sid",
            "jti",
            "iat",
            "nbf",
            "exp",
            "scope",
            "acr",
            "amr",
            "auth_time",
        ]
        .into_iter()
        .map(|claim| {
            (
                format!("missing {claim}"),
                forge.with_claims(|c| {
                    c.as_object_mut().unwrap().remove(claim);
                }),
            )
        }),
    );
    cases.extend([
        (
            "sub not uuid".to_owned(),
            forge.with_claims(|c| c["sub"] = json!("not-a-uuid")),
        ),
        (
            "exp string".to_owned(),
            forge.with_claims(|c| c["exp"] = json!("tomorrow")),
        ),
    ]);
    cases
}

/// Not even the shape of a JWT.
fn garbage_shapes(parts: &Parts) -> Vec<Case> {
    let Parts { h, p, s } = parts;
    vec![
        ("three junk parts".to_owned(), "a.b.c".to_owned()),
        ("only dots".to_owned(), "....".to_owned()),
        ("one part".to_owned(), "x".to_owned()),
        ("four parts".to_owned(), format!("{h}.{p}.{s}.{s}")),
        ("empty payload".to_owned(), format!("{h}..{s}")),
    ]
}

#[actix_web::test]
async fn forged_tokens_are_refused_and_never_5xx() {
    let app = spawn_app().await;
    let forge = Forge::new(&app).await;
    let valid = forge.token(forge.header(), forge.claims.clone());
    assert_eq!(
        app.api_get("/api/v1/ping", &valid).await.status,
        StatusCode::OK,
        "the forge itself works"
    );
    let parts = Parts::of(&valid);
    let watched = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    watched.set_nonblocking(true).unwrap();
    let cases: Vec<Case> = [
        alg_none(&forge, &parts),
        hmac_confusion(&forge, &parts),
        other_algs(&forge),
        tampered(&forge, &parts),
        hostile_kids(&forge),
        foreign_keys(&forge, watched.local_addr().unwrap().port()),
        bad_claims(&forge),
    ]
    .concat();

    for (name, token) in &cases {
        assert_invalid(&app, token, name).await;
    }
    assert!(
        watched.accept().is_err(),
        "the server never fetched the jku/x5u URL"
    );
    for (name, junk) in garbage_shapes(&parts) {
        let res = app.api_get("/api/v1/ping", &junk).await;
        assert!(
            res.status == StatusCode::UNAUTHORIZED || res.status == StatusCode::BAD_REQUEST,
            "{name} ({junk}): {}",
            res.status
        );
    }
}
