//! Password hashing: argon2id (m=19456 KiB, t=2, p=1), always run on the
//! blocking pool through a bounded `Hasher`, so a burst of logins can neither
//! stall the async workers nor queue without limit.

use crate::auth::error::AuthError;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

pub const MIN_LEN: usize = 8;
/// Upper bound in bytes, checked before hashing.
pub const MAX_LEN: usize = 1024;

fn argon2id() -> anyhow::Result<Argon2<'static>> {
    let params =
        Params::new(19_456, 2, 1, None).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes synchronously (call through `hash`, off the async workers).
fn hash_now(password: &str) -> anyhow::Result<String> {
    let hash = argon2id()?
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("argon2 hash: {e}"))?;
    Ok(hash.to_string())
}

/// A hash of a random password, verified against when the email is unknown so
/// that status, body and timing match a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random = crate::auth::crypto::random_token()
            .unwrap_or_else(|_| "dummy-password-for-timing".into());
        hash_now(&random).unwrap_or_default()
    })
}

/// Warms the dummy hash at start-up so the first unknown-email login is not slower.
pub fn init() {
    let _ = dummy_hash();
}

/// Where password hashes run: on a few threads of their own, never on the
/// async workers, at most `concurrency` at once (each takes 19 MiB and a core
/// for ~20 ms). The threads run in the idle scheduling class on Linux (see
/// `lower_priority`), so a login storm takes the CPU that other requests
/// leave over instead of slicing their latency. Up to `queue` more requests wait for a slot; past
/// that a request is refused at once with `AuthError::Overloaded` (503 +
/// Retry-After), so a storm cannot pile up unbounded work.
pub struct Hasher {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    queue: usize,
    jobs: std::sync::mpsc::Sender<Job>,
    /// Password checks that ran argon2 (the dummy hash included): every
    /// sign-in path must run one, whatever the account's state.
    verifications: Arc<AtomicUsize>,
}

type Job = Box<dyn FnOnce() + Send>;

/// Undoes the `waiting` count when a queued request gets its slot or gives up.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Puts the calling thread in the idle scheduling class (Linux: per
/// thread): any request thread that wakes up preempts a running hash at
/// once, so a login storm adds no latency to other requests; the hashes get
/// the CPU time the rest leaves over (and a small share under full load, so
/// sign-ins slow down rather than stop). Where SCHED_IDLE is refused, the
/// lowest nice level instead.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: both calls only read the integer and struct arguments given;
    // `pid`/`who` 0 is the calling thread. A failure leaves the priority as
    // it was, which is safe.
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) != 0 {
            libc::setpriority(libc::PRIO_PROCESS, 0, 19);
        }
    }
}

impl Hasher {
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let concurrency = concurrency.max(1);
        let (jobs, inbox) = std::sync::mpsc::channel::<Job>();
        let inbox = Arc::new(std::sync::Mutex::new(inbox));
        for i in 0..concurrency {
            let inbox = inbox.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match inbox.lock() {
                            Ok(rx) => rx.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // the Hasher is gone
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password hashing thread");
            }
        }
        Hasher {
            slots: Arc::new(Semaphore::new(concurrency)),
            waiting: AtomicUsize::new(0),
            queue,
            jobs,
            verifications: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Free slots right now (tests and metrics).
    /// How many password checks ran argon2 so far.
    pub fn verifications(&self) -> usize {
        self.verifications.load(Ordering::SeqCst)
    }

    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }

    /// Runs `work` on a hashing thread once a slot is free. The slot is moved
    /// into the job: a client that disconnects drops this future, but the
    /// hash it started keeps its slot until it has finished (a running hash
    /// cannot be cancelled), so the bound holds.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, AuthError> {
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(AuthError::Overloaded);
                }
                let _waiting = Waiting(&self.waiting);
                self.slots
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(anyhow::Error::from)?
            }
        };
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = work();
            // The slot is free before the answer is sent: a client whose
            // next request follows the answer finds it free.
            drop(permit);
            let _ = done.send(outcome);
        });
        self.jobs
            .send(job)
            .map_err(|_| anyhow::anyhow!("password hashing threads are gone"))?;
        let result = result
            .await
            .map_err(|_| anyhow::anyhow!("a password hashing job was dropped"))?;
        Ok(result?)
    }
}

pub async fn hash(hasher: &Hasher, password: String) -> Result<String, AuthError> {
    hasher.run(move || hash_now(&password)).await
}

/// Verifies `password` against `hash`, or against the dummy hash when there is
/// no user or the user has no password (an account made through a provider
/// stores an empty hash), so every path costs the same hashing work and
/// answers no. Over-long input is rejected first.
pub async fn verify(
    hasher: &Hasher,
    password: String,
    hash: Option<String>,
) -> Result<bool, AuthError> {
    if password.len() > MAX_LEN {
        return Ok(false);
    }
    let verifications = hasher.verifications.clone();
    hasher
        .run(move || -> anyhow::Result<bool> {
            let hash = hash.filter(|h| !h.is_empty());
            let known = hash.is_some();
            let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
            // Counted when argon2 will really run (a hash it cannot parse
            // would fail at once, which is what timing would show).
            if argon2::password_hash::phc::PasswordHash::new(&hash).is_ok() {
                verifications.fetch_add(1, Ordering::SeqCst);
            }
            let ok = argon2id()?
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
        assert!(argon2id()
            .unwrap()
            .verify_password(b"correct horse", h.as_str())
            .is_ok());
        assert!(argon2id()
            .unwrap()
            .verify_password(b"wrong horse", h.as_str())
            .is_err());
    }

    #[actix_web::test]
    async fn a_dropped_request_keeps_its_slot_until_the_hash_finishes() {
        let hasher = Arc::new(Hasher::new(1, 0));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let task = {
            let hasher = hasher.clone();
            actix_web::rt::spawn(async move {
                hasher
                    .run(move || {
                        let _ = started_tx.send(());
                        let _ = release_rx.recv();
                        Ok(())
                    })
                    .await
            })
        };
        // The blocking work runs; the request goes away (client reset).
        let started = actix_web::web::block(move || started_rx.recv()).await;
        assert!(matches!(started, Ok(Ok(()))));
        task.abort();
        let _ = task.await;
        assert_eq!(
            hasher.available(),
            0,
            "the running hash still holds its slot"
        );
        assert!(matches!(
            hasher.run(|| Ok(())).await,
            Err(AuthError::Overloaded)
        ));
        // When the hash finishes, the slot comes back.
        release_tx.send(()).unwrap();
        for _ in 0..200 {
            if hasher.available() == 1 {
                break;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(hasher.available(), 1);
    }

    #[test]
    fn new_password_bounds() {
        assert!(check_new("short").is_err());
        assert!(check_new("longenough").is_ok());
        assert!(check_new(&"x".repeat(1025)).is_err());
        assert!(check_new(&"x".repeat(1024)).is_ok());
    }
}
