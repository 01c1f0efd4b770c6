//! A tiny in-process SMTP server for the tests: `SmtpReceiver::start()` binds
//! 127.0.0.1 on a random port and records every message delivered to it, so
//! a test can point MAIL_URL at `smtp://127.0.0.1:{port}` and read the mails
//! the app sent (`wait_for_mails`, then `link` to find a URL in one).
//!
//! It speaks just enough plain SMTP (no STARTTLS, no AUTH) for lettre's
//! client: EHLO/HELO, MAIL, RCPT, DATA (with dot-unstuffing), RSET, NOOP and
//! QUIT; anything else gets 502. One task per connection, several messages
//! per connection. `stop()` (or dropping the receiver) closes the listener
//! and every open connection, like a relay going down; `start_on(port)`
//! brings one up again on the same port.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// One message as received: the envelope and the raw message text
/// (dot-unstuffed, every line ending in CRLF).
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

pub struct SmtpReceiver {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    /// The accept loop; it owns the connection tasks, so aborting it ends
    /// them too.
    server: JoinHandle<()>,
}

impl SmtpReceiver {
    /// A receiver on a random free port of 127.0.0.1.
    pub async fn start() -> SmtpReceiver {
        Self::start_on(0).await
    }

    /// A receiver on 127.0.0.1:`port` (0: any free port). Retries for up to
    /// 2 s while the port is busy (e.g. a stopped receiver's listener that
    /// the runtime has not dropped yet), then panics.
    pub async fn start_on(port: u16) -> SmtpReceiver {
        let deadline = Instant::now() + Duration::from_secs(2);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", port)).await {
                Ok(listener) => break listener,
                Err(e) if Instant::now() >= deadline => {
                    panic!("SMTP receiver: cannot bind 127.0.0.1:{port} (tried for 2 s): {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(25)).await,
            }
        };
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("SMTP receiver: no local address: {e}"))
            .port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let server = tokio::spawn(accept_loop(listener, Arc::clone(&mails)));
        SmtpReceiver {
            port,
            mails,
            server,
        }
    }

    /// Every mail received so far, oldest first.
    pub fn mails(&self) -> Vec<Mail> {
        lock(&self.mails).clone()
    }

    /// Waits (polling every 20 ms) until at least `n` mails have arrived and
    /// returns them all; panics after 10 s.
    pub async fn wait_for_mails(&self, n: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            if Instant::now() >= deadline {
                let got: Vec<String> = mails
                    .iter()
                    .map(|m| format!("from <{}> to {:?}", m.from, m.to))
                    .collect();
                panic!(
                    "SMTP receiver on port {}: expected at least {n} mail(s) within 10 s, \
                     got {}: {got:?}",
                    self.port,
                    mails.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server: no more connections are accepted and open ones are
    /// closed. The port is free again once the runtime has run the
    /// cancellation (`start_on` retries for that).
    pub fn stop(&self) {
        self.server.abort();
    }
}

impl Drop for SmtpReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A port that was free a moment ago (bound on 127.0.0.1:0, then released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("free_port: cannot bind 127.0.0.1:0: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("free_port: no local address: {e}"))
        .port()
}

/// The body text of a mail with quoted-printable soft line breaks ("=\r\n")
/// removed and "=3D" decoded to "=", so links can be found with a substring
/// search. The body is everything after the header block (all MIME parts).
pub fn decoded(mail: &Mail) -> String {
    let body = match mail.data.split_once("\r\n\r\n") {
        Some((_headers, body)) => body,
        None => mail.data.as_str(),
    };
    body.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// The first URL in the mail starting with `prefix` (e.g.
/// "http://127.0.0.1:1234/password/reset/"), up to the first whitespace,
/// quote, '<' or '>'.
pub fn link(mail: &Mail, prefix: &str) -> Option<String> {
    let text = decoded(mail);
    let start = text.find(prefix)?;
    let rest = &text[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'))
        .unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

fn lock(mails: &Mutex<Vec<Mail>>) -> MutexGuard<'_, Vec<Mail>> {
    mails
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Accepts connections until aborted; dropping it (on abort) drops the
/// `JoinSet`, which aborts every connection task.
async fn accept_loop(listener: TcpListener, mails: Arc<Mutex<Vec<Mail>>>) {
    let mut connections = JoinSet::new();
    loop {
        // Reap finished connections so the set does not grow without bound.
        while connections.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((stream, _peer)) => {
                connections.spawn(serve(stream, Arc::clone(&mails)));
            }
            // E.g. too many open files: back off briefly instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// One SMTP session.
async fn serve(stream: TcpStream, mails: Arc<Mutex<Vec<Mail>>>) -> std::io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    writer.write_all(b"220 localhost ESMTP test\r\n").await?;

    let mut from = String::new();
    let mut to: Vec<String> = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(()); // client hung up
        }
        let text = String::from_utf8_lossy(strip_eol(&line)).into_owned();
        let upper = text.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("");
        let reply: &[u8] = match verb {
            "EHLO" => {
                from.clear();
                to.clear();
                b"250-localhost\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n"
            }
            "HELO" => {
                from.clear();
                to.clear();
                b"250 localhost\r\n"
            }
            "MAIL" if upper.starts_with("MAIL FROM:") => {
                from = address(&text["MAIL FROM:".len()..]);
                to.clear();
                b"250 OK\r\n"
            }
            "RCPT" if upper.starts_with("RCPT TO:") => {
                to.push(address(&text["RCPT TO:".len()..]));
                b"250 OK\r\n"
            }
            "MAIL" | "RCPT" => b"501 Syntax error in parameters\r\n",
            "DATA" => {
                writer
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let Some(data) = read_data(&mut reader).await? else {
                    return Ok(()); // hung up in the middle of the message
                };
                let mail = Mail {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                };
                // Stored before the reply, so a client that saw 250 finds it.
                lock(&mails).push(mail);
                b"250 OK queued\r\n"
            }
            "RSET" => {
                from.clear();
                to.clear();
                b"250 OK\r\n"
            }
            "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                writer.write_all(b"221 Bye\r\n").await?;
                writer.shutdown().await?;
                return Ok(());
            }
            _ => b"502 Command not implemented\r\n",
        };
        writer.write_all(reply).await?;
    }
}

/// The message after DATA, up to the line ".": dot-unstuffed, every line
/// ending in CRLF (bare LF accepted). `None` if the client hung up first.
async fn read_data<R>(reader: &mut R) -> std::io::Result<Option<String>>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    let mut data: Vec<u8> = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        let content = strip_eol(&line);
        if content == b"." {
            return Ok(Some(String::from_utf8_lossy(&data).into_owned()));
        }
        // RFC 5321 4.5.2: a leading dot was added by the client; drop it.
        let content = content.strip_prefix(b".").unwrap_or(content);
        data.extend_from_slice(content);
        data.extend_from_slice(b"\r\n");
    }
}

/// `line` without its trailing "\n" or "\r\n".
fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The address in a MAIL FROM / RCPT TO argument: what is inside `<…>`, or
/// else the first word ("<a@b> BODY=8BITMIME" → "a@b").
fn address(arg: &str) -> String {
    let arg = arg.trim();
    if let Some(open) = arg.find('<') {
        if let Some(len) = arg[open + 1..].find('>') {
            return arg[open + 1..open + 1 + len].to_owned();
        }
    }
    arg.split_whitespace().next().unwrap_or("").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncBufRead;

    /// Reads one (possibly multi-line) reply and returns its lines.
    async fn reply(reader: &mut (impl AsyncBufRead + Unpin)) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line))
                .await
                .expect("reply within 5 s")
                .expect("read reply");
            assert!(n > 0, "connection closed while waiting for a reply");
            assert!(line.ends_with("\r\n"), "reply line without CRLF: {line:?}");
            let line = line.trim_end().to_owned();
            let last = line.len() <= 3 || line.as_bytes()[3] == b' ';
            lines.push(line);
            if last {
                return lines;
            }
        }
    }

    async fn command(
        writer: &mut (impl AsyncWriteExt + Unpin),
        reader: &mut (impl AsyncBufRead + Unpin),
        line: &str,
    ) -> Vec<String> {
        writer.write_all(line.as_bytes()).await.expect("send");
        reply(reader).await
    }

    #[actix_web::test]
    async fn receives_mail_over_raw_smtp() {
        let receiver = SmtpReceiver::start().await;
        let stream = TcpStream::connect(("127.0.0.1", receiver.port))
            .await
            .expect("connect");
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);

        assert_eq!(reply(&mut r).await, ["220 localhost ESMTP test"]);
        let ehlo = command(&mut w, &mut r, "EHLO client.example\r\n").await;
        assert_eq!(ehlo[0], "250-localhost");
        assert!(
            ehlo.last().is_some_and(|l| l.starts_with("250 ")),
            "{ehlo:?}"
        );
        assert!(
            !ehlo
                .iter()
                .any(|l| l.contains("STARTTLS") || l.contains("AUTH")),
            "{ehlo:?}"
        );

        // Lower case, with a parameter, as lettre may send it.
        let ok = command(
            &mut w,
            &mut r,
            "mail from:<Sender@Example.com> BODY=8BITMIME\r\n",
        )
        .await;
        assert_eq!(ok, ["250 OK"]);
        assert_eq!(
            command(&mut w, &mut r, "RCPT TO:<a@example.com>\r\n").await,
            ["250 OK"]
        );
        assert_eq!(
            command(&mut w, &mut r, "RCPT TO:<b@example.com>\r\n").await,
            ["250 OK"]
        );
        let go = command(&mut w, &mut r, "DATA\r\n").await;
        assert!(go[0].starts_with("354 "), "{go:?}");
        let message = "Subject: hi\r\n\r\nline one\r\n..leading dot\r\nlink: http://x/r/a=\r\nb?t=3D1\r\n.\r\n";
        assert_eq!(command(&mut w, &mut r, message).await, ["250 OK queued"]);

        // A second message on the same connection, with bare LF line ends.
        assert_eq!(
            command(&mut w, &mut r, "MAIL FROM:<x@y>\n").await,
            ["250 OK"]
        );
        assert_eq!(
            command(&mut w, &mut r, "RCPT TO:<c@example.com>\n").await,
            ["250 OK"]
        );
        let go = command(&mut w, &mut r, "DATA\n").await;
        assert!(go[0].starts_with("354 "), "{go:?}");
        assert_eq!(
            command(&mut w, &mut r, "second\n.\n").await,
            ["250 OK queued"]
        );

        assert_eq!(command(&mut w, &mut r, "NOOP\r\n").await, ["250 OK"]);
        assert_eq!(command(&mut w, &mut r, "RSET\r\n").await, ["250 OK"]);
        let no = command(&mut w, &mut r, "VRFY someone\r\n").await;
        assert_eq!(no, ["502 Command not implemented"]);
        assert_eq!(command(&mut w, &mut r, "quit\r\n").await, ["221 Bye"]);
        let mut rest = String::new();
        assert_eq!(r.read_line(&mut rest).await.expect("read after QUIT"), 0);

        let mails = receiver.wait_for_mails(2).await;
        assert_eq!(mails.len(), 2);
        assert_eq!(mails[0].from, "Sender@Example.com");
        assert_eq!(mails[0].to, ["a@example.com", "b@example.com"]);
        assert_eq!(
            mails[0].data,
            "Subject: hi\r\n\r\nline one\r\n.leading dot\r\nlink: http://x/r/a=\r\nb?t=3D1\r\n"
        );
        assert_eq!(mails[1].from, "x@y");
        assert_eq!(mails[1].to, ["c@example.com"]);
        assert_eq!(mails[1].data, "second\r\n");

        assert_eq!(
            decoded(&mails[0]),
            "line one\r\n.leading dot\r\nlink: http://x/r/ab?t=1\r\n"
        );
        assert_eq!(
            link(&mails[0], "http://x/r/").as_deref(),
            Some("http://x/r/ab?t=1")
        );
        assert_eq!(link(&mails[0], "https://"), None);

        // Down, then up again on the same port.
        let port = receiver.port;
        receiver.stop();
        let again = SmtpReceiver::start_on(port).await;
        assert_eq!(again.port, port);
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("reconnect");
        let mut r = BufReader::new(stream);
        assert_eq!(reply(&mut r).await, ["220 localhost ESMTP test"]);
        assert!(again.mails().is_empty());
    }
}
