//! How delivered mail leaves this process: MAIL_URL parsed into an SMTP
//! transport, or `.eml` files in MAIL_OUTBOX_DIR when it is unset.

use crate::config::Settings;
use crate::db::mail_outbox;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration as StdDuration;

/// Why a mail did not go out, and whether trying again could help.
#[derive(Debug, thiserror::Error)]
#[error("{error:#}")]
pub struct DeliveryError {
    /// An address the mailer refuses or an SMTP 5xx: retrying cannot help.
    pub permanent: bool,
    pub error: anyhow::Error,
}

impl DeliveryError {
    fn permanent(error: anyhow::Error) -> Self {
        DeliveryError {
            permanent: true,
            error,
        }
    }

    fn transient(error: anyhow::Error) -> Self {
        DeliveryError {
            permanent: false,
            error,
        }
    }
}

/// How delivered mail leaves this process.
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>, String),
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    public_url: String,
    /// A queued mail older than this carries a dead link (the longest link
    /// lifetime): it is given up rather than sent.
    pub max_age: time::Duration,
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
            max_age: settings.password_reset_ttl.max(settings.email_verify_ttl),
            wakeup: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// An absolute link into this app.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// Sends one mail now (the outbox sender calls this).
    pub async fn deliver(&self, mail: &mail_outbox::Mail) -> Result<(), DeliveryError> {
        let to: Mailbox = mail
            .recipient
            .parse()
            .map_err(|e| DeliveryError::permanent(anyhow::anyhow!("bad recipient: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.as_str())
            .multipart(MultiPart::alternative_plain_html(
                mail.body_text.clone(),
                mail.body_html.clone(),
            ))
            .map_err(|e| DeliveryError::permanent(e.into()))?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await.map_err(|e| DeliveryError {
                    permanent: e.is_permanent(),
                    error: e.into(),
                })?;
            }
            Transport::Files(files, dir) => {
                let id = files
                    .send(message)
                    .await
                    .map_err(|e| DeliveryError::transient(e.into()))?;
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
}
