//! Security notices: a mail to the account's address, through the outbox, on
//! `conn` (so it is sent if and only if the change commits). Callers wake
//! the sender after the commit.

use super::mails::{security_notice_mail, Notice};
use crate::auth::error::AuthError;
use crate::auth::state::AppState;
use crate::db::DbConn;
use crate::mail;

pub async fn queue(
    state: &AppState,
    conn: &mut DbConn,
    to: &str,
    notice: Notice,
    ip: &str,
) -> Result<(), AuthError> {
    let now = state.clock.now();
    let account = state.mailer.link("/account");
    let mail = security_notice_mail(to, &notice, now, ip, &account)?;
    mail::enqueue(conn, &mail, now).await?;
    Ok(())
}
