//! The texts of the account mails (password reset, email verification),
//! rendered from `templates/mail/` into an `Outgoing` for the outbox.

use crate::mail::Outgoing;
use askama::Template;
use time::Duration;

#[derive(Template)]
#[template(path = "mail/password_reset.txt")]
struct ResetText<'a> {
    email: &'a str,
    link: &'a str,
    ttl: &'a str,
}

#[derive(Template)]
#[template(path = "mail/password_reset.html")]
struct ResetHtml<'a> {
    email: &'a str,
    link: &'a str,
    ttl: &'a str,
}

#[derive(Template)]
#[template(path = "mail/verify_email.txt")]
struct VerifyText<'a> {
    email: &'a str,
    link: &'a str,
    ttl: &'a str,
}

#[derive(Template)]
#[template(path = "mail/verify_email.html")]
struct VerifyHtml<'a> {
    email: &'a str,
    link: &'a str,
    ttl: &'a str,
}

#[derive(Template)]
#[template(path = "mail/security_notice.txt")]
struct NoticeText<'a> {
    email: &'a str,
    what: &'a str,
    when: &'a str,
    ip: &'a str,
    account_link: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "mail/security_notice.html")]
struct NoticeHtml<'a> {
    email: &'a str,
    what: &'a str,
    when: &'a str,
    ip: &'a str,
    account_link: Option<&'a str>,
}

/// Something that changed how an account is protected: its owner hears of
/// it by mail, whoever did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    PasswordChanged,
    PasswordReset,
    TotpEnabled,
    TotpRemoved,
    RecoveryCodeUsed { left: i64 },
    PasskeyAdded(String),
    PasskeyRemoved(String),
    AccountDeleted,
    ApiKeyCreated(String),
}

impl Notice {
    fn subject(&self) -> &'static str {
        match self {
            Notice::PasswordChanged => "Your password was changed",
            Notice::PasswordReset => "Your password was reset",
            Notice::TotpEnabled => "Two-factor authentication was turned on",
            Notice::TotpRemoved => "An authenticator app was removed",
            Notice::RecoveryCodeUsed { .. } => "A recovery code was used",
            Notice::PasskeyAdded(_) => "A passkey was added",
            Notice::PasskeyRemoved(_) => "A passkey was removed",
            Notice::AccountDeleted => "Your account was deleted",
            Notice::ApiKeyCreated(_) => "An API key was created",
        }
    }

    fn what(&self) -> String {
        match self {
            Notice::PasswordChanged => "The password was changed".into(),
            Notice::PasswordReset => "The password was reset through an emailed link".into(),
            Notice::TotpEnabled => "An authenticator app was set up as a second factor".into(),
            Notice::TotpRemoved => "The authenticator app was removed as a second factor".into(),
            Notice::RecoveryCodeUsed { left } => {
                format!("A recovery code was used to sign in ({left} left)")
            }
            Notice::PasskeyAdded(name) => format!("A passkey named \"{name}\" was added"),
            Notice::PasskeyRemoved(name) => format!("The passkey named \"{name}\" was removed"),
            Notice::AccountDeleted => "The account and everything in it was deleted".into(),
            Notice::ApiKeyCreated(name) => {
                format!("An API key named \"{name}\" was created: it can call the API as you")
            }
        }
    }
}

/// The mail telling `to` of `notice`, which happened at `when` from `ip`.
/// `account_url` is where they can act (none once the account is gone).
pub fn security_notice_mail(
    to: &str,
    notice: &Notice,
    when: time::OffsetDateTime,
    ip: &str,
    account_url: &str,
) -> anyhow::Result<Outgoing> {
    let what = notice.what();
    let when = when
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default();
    let ip = if ip.is_empty() { "unknown address" } else { ip };
    let account_link = (*notice != Notice::AccountDeleted).then_some(account_url);
    Ok(Outgoing {
        to: to.to_owned(),
        subject: notice.subject().into(),
        text: NoticeText {
            email: to,
            what: &what,
            when: &when,
            ip,
            account_link,
        }
        .render()?,
        html: NoticeHtml {
            email: to,
            what: &what,
            when: &when,
            ip,
            account_link,
        }
        .render()?,
    })
}

/// "30 minutes", "24 hours", "2 days".
pub fn human_duration(d: Duration) -> String {
    let s = d.whole_seconds();
    let (n, unit) = if s % 86_400 == 0 && s >= 86_400 {
        (s / 86_400, "day")
    } else if s % 3_600 == 0 && s >= 3_600 {
        (s / 3_600, "hour")
    } else if s >= 60 {
        (s / 60, "minute")
    } else {
        (s, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

pub fn password_reset_mail(to: &str, link: &str, ttl: Duration) -> anyhow::Result<Outgoing> {
    let ttl = human_duration(ttl);
    Ok(Outgoing {
        to: to.to_owned(),
        subject: "Reset your password".into(),
        text: ResetText {
            email: to,
            link,
            ttl: &ttl,
        }
        .render()?,
        html: ResetHtml {
            email: to,
            link,
            ttl: &ttl,
        }
        .render()?,
    })
}

pub fn verification_mail(to: &str, link: &str, ttl: Duration) -> anyhow::Result<Outgoing> {
    let ttl = human_duration(ttl);
    Ok(Outgoing {
        to: to.to_owned(),
        subject: "Confirm your email address".into(),
        text: VerifyText {
            email: to,
            link,
            ttl: &ttl,
        }
        .render()?,
        html: VerifyHtml {
            email: to,
            link,
            ttl: &ttl,
        }
        .render()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_words() {
        assert_eq!(human_duration(Duration::minutes(30)), "30 minutes");
        assert_eq!(human_duration(Duration::hours(24)), "1 day");
        assert_eq!(human_duration(Duration::hours(2)), "2 hours");
    }
}
