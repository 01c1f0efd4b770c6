//! Credentials: proving who you are. `login` checks an email + password the
//! one way every entry point does it, `password` hashes on a bounded pool
//! off the async workers, `throttle` counts failures per account and per IP.

pub mod login;
pub mod password;
pub mod throttle;

pub use login::{authenticate, check_password, AuthOutcome};
pub use password::Hasher;
