//! Password hashing: argon2id (m=19456 KiB, t=2, p=1), always run on the
//! blocking pool so a burst of logins cannot stall the async workers.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use std::sync::OnceLock;

pub const MIN_LEN: usize = 8;
/// Upper bound in bytes, checked before hashing.
pub const MAX_LEN: usize = 1024;

fn hasher() -> anyhow::Result<Argon2<'static>> {
    let params =
        Params::new(19_456, 2, 1, None).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes synchronously (call through `hash`, off the async workers).
fn hash_now(password: &str) -> anyhow::Result<String> {
    let hash = hasher()?
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("argon2 hash: {e}"))?;
    Ok(hash.to_string())
}

/// A hash of a random password, verified against when the email is unknown so
/// that status, body and timing match a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random =
            super::crypto::random_token().unwrap_or_else(|_| "dummy-password-for-timing".into());
        hash_now(&random).unwrap_or_default()
    })
}

/// Warms the dummy hash at start-up so the first unknown-email login is not slower.
pub fn init() {
    let _ = dummy_hash();
}

/// At most this many hashes run at once (each takes 19 MiB and a core for
/// ~20 ms): a burst of logins queues here instead of exhausting memory, and
/// the async workers keep serving other requests meanwhile.
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        tokio::sync::Semaphore::new(cores * 2)
    })
}

async fn off_workers<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let _slot = hashing_slots().acquire().await?;
    actix_web::web::block(work).await?
}

pub async fn hash(password: String) -> anyhow::Result<String> {
    off_workers(move || hash_now(&password)).await
}

/// Verifies `password` against `hash`, or against the dummy hash when there is
/// no user, so both paths cost the same. Over-long input is rejected first.
pub async fn verify(password: String, hash: Option<String>) -> anyhow::Result<bool> {
    if password.len() > MAX_LEN {
        return Ok(false);
    }
    off_workers(move || -> anyhow::Result<bool> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
        let ok = hasher()?
            .verify_password(password.as_bytes(), hash.as_str())
            .is_ok();
        Ok(ok && known)
    })
    .await
}

/// Checks a new password's length. Returns a message fit for the form.
pub fn check_new(password: &str) -> Result<(), &'static str> {
    if password.len() < MIN_LEN {
        Err("Use a password of at least 8 characters.")
    } else if password.len() > MAX_LEN {
        Err("That password is too long (1024 bytes at most).")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_the_chosen_cost() {
        let h = hash_now("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(hasher()
            .unwrap()
            .verify_password(b"correct horse", h.as_str())
            .is_ok());
        assert!(hasher()
            .unwrap()
            .verify_password(b"wrong horse", h.as_str())
            .is_err());
    }

    #[test]
    fn new_password_bounds() {
        assert!(check_new("short").is_err());
        assert!(check_new("longenough").is_ok());
        assert!(check_new(&"x".repeat(1025)).is_err());
        assert!(check_new(&"x".repeat(1024)).is_ok());
    }
}
