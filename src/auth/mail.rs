//! Mail, done through a transactional outbox (docs/http-api.md#account-lifecycle-and-mail).
//!
//! * `enqueue` inserts a mail row with the caller's connection, so it commits
//!   or rolls back with whatever caused it; no request ever waits for SMTP.
//! * the sender (`maintenance::run_mail_sender`, every instance) claims due rows with `FOR UPDATE SKIP
//!   LOCKED`, delivers them, and on failure records the error and retries
//!   with exponential backoff (2 s, 4 s, … at most an hour), for ever: an
//!   SMTP outage delays mail, it loses none.
//! * Delivery: SMTP when MAIL_URL is set (`smtp://` plain, for a local relay;
//!   `smtp+starttls://`; `smtps://`), otherwise `.eml` files in
//!   MAIL_OUTBOX_DIR plus a log line with the link, so `cargo run` needs no
//!   mail server (that log line is for development: it contains the link).

use crate::config::Settings;
use crate::db::mail_outbox::{self, NewMail};
use askama::Template;
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration as StdDuration;
use time::{Duration, OffsetDateTime};

/// How delivered mail leaves this process.
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>, String),
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    public_url: String,
    /// Woken when this instance queued a mail, so it goes out at once.
    pub wakeup: Arc<tokio::sync::Notify>,
}

/// Splits `scheme://[user[:pass]@]host[:port]`.
fn parse_mail_url(url: &str) -> anyhow::Result<(String, Option<Credentials>, String, Option<u16>)> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow::anyhow!("MAIL_URL: no scheme"))?;
    let rest = rest.trim_end_matches('/');
    let (creds, hostport) = match rest.rsplit_once('@') {
        Some((userinfo, hostport)) => {
            let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let decode = |s: &str| {
                percent_decode(s).ok_or_else(|| anyhow::anyhow!("MAIL_URL: bad percent-encoding"))
            };
            (
                Some(Credentials::new(decode(user)?, decode(pass)?)),
                hostport,
            )
        }
        None => (None, rest),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => (
            h.trim_matches(['[', ']']).to_owned(),
            Some(
                p.parse::<u16>()
                    .map_err(|_| anyhow::anyhow!("MAIL_URL: bad port"))?,
            ),
        ),
        _ => (hostport.trim_matches(['[', ']']).to_owned(), None),
    };
    if host.is_empty() {
        anyhow::bail!("MAIL_URL: no host");
    }
    Ok((scheme.to_owned(), creds, host, port))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl Mailer {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let from: Mailbox = settings.mail_from.parse().map_err(|e| {
            anyhow::anyhow!("MAIL_FROM `{}` is not an address: {e}", settings.mail_from)
        })?;
        let transport = match &settings.mail_url {
            None => {
                std::fs::create_dir_all(&settings.mail_outbox_dir).map_err(|e| {
                    anyhow::anyhow!("MAIL_OUTBOX_DIR={}: {e}", settings.mail_outbox_dir)
                })?;
                Transport::Files(
                    AsyncFileTransport::new(&settings.mail_outbox_dir),
                    settings.mail_outbox_dir.clone(),
                )
            }
            Some(url) => {
                let (scheme, creds, host, port) = parse_mail_url(url.expose_secret())?;
                let builder = match scheme.as_str() {
                    "smtp" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host),
                    "smtp+starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)?,
                    "smtps" => AsyncSmtpTransport::<Tokio1Executor>::relay(&host)?,
                    other => anyhow::bail!("MAIL_URL: unknown scheme {other}"),
                };
                let builder = match port {
                    Some(p) => builder.port(p),
                    None => builder,
                };
                let builder = match creds {
                    Some(c) => builder.credentials(c),
                    None => builder,
                };
                Transport::Smtp(builder.timeout(Some(StdDuration::from_secs(30))).build())
            }
        };
        Ok(Mailer {
            transport,
            from,
            public_url: settings.public_url.clone(),
            wakeup: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// An absolute link into this app.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// Sends one mail now (the outbox sender calls this).
    pub async fn deliver(&self, mail: &mail_outbox::Mail) -> anyhow::Result<()> {
        let to: Mailbox = mail.recipient.parse()?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.as_str())
            .multipart(MultiPart::alternative_plain_html(
                mail.body_text.clone(),
                mail.body_html.clone(),
            ))?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await?;
            }
            Transport::Files(files, dir) => {
                let id = files.send(message).await?;
                let link = mail
                    .body_text
                    .split_whitespace()
                    .find(|w| w.starts_with(&self.public_url))
                    .unwrap_or("");
                tracing::info!(
                    to = %mail.recipient,
                    file = %format!("{dir}/{id}.eml"),
                    link = %link,
                    "mail written to the outbox directory (MAIL_URL is unset)"
                );
            }
        }
        Ok(())
    }
}

/// A mail to queue: subject and both bodies.
pub struct Outgoing {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

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

/// Queues `mail` on `conn` (inside the caller's transaction).
pub async fn enqueue(
    conn: &mut AsyncPgConnection,
    mail: &Outgoing,
    now: OffsetDateTime,
) -> QueryResult<()> {
    mail_outbox::insert(
        conn,
        &NewMail {
            recipient: &mail.to,
            subject: &mail.subject,
            body_text: &mail.text,
            body_html: &mail.html,
            created_at: now,
            next_attempt_at: now,
        },
    )
    .await
}

/// Seconds until the next attempt after `attempts` failed ones.
pub fn backoff(attempts: i32) -> Duration {
    let exp = u32::try_from(attempts.clamp(1, 12)).unwrap_or(12);
    Duration::seconds(2i64.pow(exp).min(3_600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_urls_are_split_and_decoded() {
        let (scheme, creds, host, port) =
            parse_mail_url("smtp+starttls://me%40x.org:p%3Ass@mail.example.com:587").unwrap();
        assert_eq!(scheme, "smtp+starttls");
        assert!(creds.is_some());
        assert_eq!(host, "mail.example.com");
        assert_eq!(port, Some(587));
        let (_, creds, host, port) = parse_mail_url("smtp://127.0.0.1:2525").unwrap();
        assert!(creds.is_none());
        assert_eq!((host.as_str(), port), ("127.0.0.1", Some(2525)));
        assert!(parse_mail_url("smtp://:25").is_err());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::seconds(2));
        assert_eq!(backoff(3), Duration::seconds(8));
        assert_eq!(backoff(50), Duration::seconds(3_600));
    }

    #[test]
    fn durations_read_as_words() {
        assert_eq!(human_duration(Duration::minutes(30)), "30 minutes");
        assert_eq!(human_duration(Duration::hours(24)), "1 day");
        assert_eq!(human_duration(Duration::hours(2)), "2 hours");
    }
}
