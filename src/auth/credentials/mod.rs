//! Credentials: proving who you are. `login` checks an email + password the
//! one way every entry point does it, `password` hashes on a bounded pool
//! off the async workers, `throttle` counts failures per account and per IP.
//! Second factors: `totp` (authenticator apps), `recovery` (single-use
//! codes), `passkeys` (WebAuthn ceremonies), and `second_factor`, the
//! second step that checks a code.

pub mod login;
pub mod passkeys;
pub mod password;
pub mod recovery;
pub mod second_factor;
pub mod throttle;
pub mod totp;

pub use login::{authenticate, check_password, AuthOutcome};
pub use password::Hasher;
pub use second_factor::{check_code, CodeOutcome, Enrolled};
