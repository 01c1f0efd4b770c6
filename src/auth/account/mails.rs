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
