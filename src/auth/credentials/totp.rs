//! Authenticator apps (RFC 6238 TOTP: HMAC-SHA1, 6 digits, 30-second steps,
//! the previous, current and next step accepted). The secret is 160 random
//! bits, sealed with AES-256-GCM under the instance-shared factor key before
//! it is stored anywhere (the set-up page's session state included), with the
//! user id as associated data so a sealed secret cannot be moved to another
//! account. The replay guard lives in `db::factors::accept_step`.

use crate::auth::crypto;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use qrcode::render::svg;
use qrcode::QrCode;
use totp_rs::{Builder, Secret, Totp};
use uuid::Uuid;

/// The bytes of a TOTP secret (160 bits, as RFC 4226 recommends).
pub const SECRET_LEN: usize = 20;
const NONCE_LEN: usize = 12;

fn totp(secret: &[u8]) -> anyhow::Result<Totp> {
    Ok(Builder::new()
        .with_secret(secret.to_vec())
        .with_digits(6)
        .with_step_duration(30)
        .with_skew(1)
        .build()?)
}

/// A fresh random secret.
pub fn new_secret() -> anyhow::Result<Vec<u8>> {
    crypto::random_vec(SECRET_LEN)
}

/// The time step a 6-digit `code` matches at `unix_time` (previous, current
/// or next step), if any. Spaces inside the code are ignored.
pub fn matching_step(secret: &[u8], code: &str, unix_time: i64) -> anyhow::Result<Option<i64>> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let time = u64::try_from(unix_time).unwrap_or(0);
    Ok(totp(secret)?
        .check(&code, time)
        .and_then(|step| i64::try_from(step).ok()))
}

/// The code an authenticator shows at `unix_time` (tests and the CLI).
pub fn code_at(secret: &[u8], unix_time: i64) -> anyhow::Result<String> {
    let time = u64::try_from(unix_time).unwrap_or(0);
    Ok(totp(secret)?.generate(time).to_string())
}

/// The secret as people type it into an authenticator: base32, no padding.
pub fn base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// A base32 secret as `base32` prints it (or as people copy it: any case,
/// spaces ignored) back to bytes.
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    Secret::try_from_base32(cleaned)
        .ok()
        .map(|s| s.as_ref().to_vec())
}

/// The `otpauth://` URI an authenticator app reads from the QR code.
pub fn otpauth_uri(secret: &[u8], account: &str) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    let issuer = utf8_percent_encode(crate::web::app_name(), NON_ALPHANUMERIC).to_string();
    let account = utf8_percent_encode(account, NON_ALPHANUMERIC).to_string();
    format!(
        "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits=6&period=30",
        base32(secret)
    )
}

/// The URI as a QR code: an inline SVG, drawn here (no outside service).
pub fn qr_svg(uri: &str) -> anyhow::Result<String> {
    let code = QrCode::new(uri.as_bytes())?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .dark_color(svg::Color("#111111"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // Inline in a page: the element without the XML declaration.
    let start = image.find("<svg").unwrap_or(0);
    Ok(image[start..].to_owned())
}

fn cipher(key: &[u8]) -> anyhow::Result<Aes256Gcm> {
    Aes256Gcm::new_from_slice(key).map_err(|_| anyhow::anyhow!("factor key must be 32 bytes"))
}

/// Seals `secret` for `user_id`: nonce ‖ ciphertext ‖ tag.
pub fn seal(key: &[u8], user_id: Uuid, secret: &[u8]) -> anyhow::Result<Vec<u8>> {
    let nonce = crypto::random_bytes::<NONCE_LEN>()?;
    let sealed = cipher(key)?
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: secret,
                aad: user_id.as_bytes(),
            },
        )
        .map_err(|_| anyhow::anyhow!("could not seal a factor secret"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens what `seal` made for `user_id`; `None` if it was made for another
/// user, under another key, or altered.
pub fn open(key: &[u8], user_id: Uuid, sealed: &[u8]) -> anyhow::Result<Option<Vec<u8>>> {
    if sealed.len() <= NONCE_LEN {
        return Ok(None);
    }
    let (nonce, body) = sealed.split_at(NONCE_LEN);
    Ok(cipher(key)?
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: body,
                aad: user_id.as_bytes(),
            },
        )
        .ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

    #[test]
    fn rfc_6238_sha1_vector() {
        // RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits); the
        // 6-digit code is its last six digits.
        let secret = b"12345678901234567890";
        assert_eq!(code_at(secret, 59).unwrap(), "287082");
        assert_eq!(matching_step(secret, "287082", 59).unwrap(), Some(1));
    }

    #[test]
    fn the_neighbouring_steps_match_and_no_further() {
        let secret = new_secret().unwrap();
        let t = 1_800_000_000;
        let code = code_at(&secret, t).unwrap();
        let step = t / 30;
        assert_eq!(matching_step(&secret, &code, t).unwrap(), Some(step));
        assert_eq!(matching_step(&secret, &code, t + 30).unwrap(), Some(step));
        assert_eq!(matching_step(&secret, &code, t - 30).unwrap(), Some(step));
        assert_eq!(matching_step(&secret, &code, t + 60).unwrap(), None);
        assert_eq!(matching_step(&secret, "12345", t).unwrap(), None);
        assert_eq!(matching_step(&secret, "abcdef", t).unwrap(), None);
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_user_and_key() {
        let key = [7u8; 32];
        let user = Uuid::now_v7();
        let sealed = seal(&key, user, b"secret-bytes-0123456").unwrap();
        assert_eq!(
            open(&key, user, &sealed).unwrap().as_deref(),
            Some(&b"secret-bytes-0123456"[..])
        );
        assert_eq!(open(&key, Uuid::now_v7(), &sealed).unwrap(), None);
        assert_eq!(open(&[8u8; 32], user, &sealed).unwrap(), None);
        assert!(!sealed
            .windows(8)
            .any(|w| w == &b"secret-bytes-0123456"[..8]));
    }

    #[test]
    fn the_uri_names_the_issuer_and_account() {
        let uri = otpauth_uri(b"12345678901234567890", "a@example.com");
        let issuer = utf8_percent_encode(crate::web::app_name(), NON_ALPHANUMERIC).to_string();
        assert!(uri.starts_with(&format!(
            "otpauth://totp/{issuer}:a%40example%2Ecom?secret="
        )));
        assert!(uri.contains("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"));
        assert_eq!(
            from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").as_deref(),
            Some(&b"12345678901234567890"[..])
        );
        assert!(qr_svg(&uri).unwrap().starts_with("<svg"));
    }
}
