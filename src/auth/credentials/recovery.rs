//! Recovery codes: ten single-use codes of 12 characters from a 32-letter
//! alphabet (60 bits each), shown once as `XXXX-XXXX-XXXX`. Only a SHA-256
//! of (user id, normalised code) is stored; the codes are random enough that
//! a fast hash is safe. Typed case-insensitively, with or without spaces and
//! dashes.

use crate::auth::crypto;
use uuid::Uuid;

pub const COUNT: usize = 10;
const LEN: usize = 12;
/// Crockford's base32 letters: no I, L, O or U to misread.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A fresh set of codes, formatted for people.
pub fn generate() -> anyhow::Result<Vec<String>> {
    (0..COUNT)
        .map(|_| {
            let bytes = crypto::random_bytes::<LEN>()?;
            let chars: Vec<char> = bytes
                .iter()
                .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
                .collect();
            Ok(chars
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-"))
        })
        .collect()
}

/// The code as stored: upper case, separators dropped; `None` if it cannot
/// be a recovery code at all.
pub fn normalise(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// What the database keeps of a code.
pub fn hash(user_id: Uuid, code: &str) -> Vec<u8> {
    let mut input = user_id.as_bytes().to_vec();
    input.extend_from_slice(code.as_bytes());
    crypto::sha256(&input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typed_loosely_and_hashed_per_user() {
        let codes = generate().unwrap();
        assert_eq!(codes.len(), COUNT);
        let first = &codes[0];
        assert_eq!(first.len(), 14);
        let plain = normalise(first).unwrap();
        let loose = first.to_lowercase().replace('-', " ");
        assert_eq!(normalise(&loose).as_deref(), Some(plain.as_str()));
        assert_eq!(normalise("123456"), None);
        assert_eq!(normalise("IIII-IIII-IIII"), None);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_ne!(hash(a, &plain), hash(b, &plain));
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), COUNT);
    }
}
