//! What a user does to their own account: change the password and end their
//! own sessions (`changes`), reset a forgotten password and verify the
//! address by mailed link (`links`, with the mails' texts in `mails`), and
//! delete the account (`deletion`), second factors and recovery codes
//! (`mfa`), re-authentication for sensitive actions (`reauth`), and the
//! security notices mailed to the owner (`notices`).

mod changes;
mod deletion;
pub mod links;
pub mod mails;
pub mod mfa;
pub mod notices;
pub mod reauth;
pub mod suspension;

pub use changes::{change_password, revoke_other_sessions, revoke_own_session, PasswordChange};
pub use deletion::delete_account;
pub use links::Reset;
pub use reauth::{
    may_act, provider_step_open, reauthenticate, reauthenticate_after_provider,
    reauthenticated_with_passkey, recently_authenticated, Reauth,
};
