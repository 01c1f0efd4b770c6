//! What a user does to their own account: change the password and end their
//! own sessions (`changes`), reset a forgotten password and verify the
//! address by mailed link (`links`, with the mails' texts in `mails`), and
//! delete the account (`deletion`).

mod changes;
mod deletion;
pub mod links;
pub mod mails;

pub use changes::{change_password, revoke_other_sessions, revoke_own_session, PasswordChange};
pub use deletion::{delete_account, recently_authenticated};
pub use links::Reset;
