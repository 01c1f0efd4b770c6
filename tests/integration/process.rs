//! The real binary as a process: SIGTERM lets in-flight requests finish and
//! exits 0; LOG_FORMAT=json writes one JSON object per line; and a run at
//! the most verbose level logs no password, token or cookie value.

use crate::support::database::{fresh_database, server_url};
use crate::support::meta_csrf;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

struct Server {
    child: Child,
    base: String,
    database: String,
    output: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start(env: &[(&str, &str)]) -> Server {
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let database = format!("{}/{}", server_url(), fresh_database());
    let mut cmd = Command::new(crate::support::binary());
    cmd.arg("serve")
        .env("DATABASE_URL", &database)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("PUBLIC_URL", &base)
        .env("WORKERS", "1")
        .env(
            "MAIL_OUTBOX_DIR",
            std::env::temp_dir().join("hybrid-auth-test-mail"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start the server");
    let output = Arc::new(Mutex::new(String::new()));
    let mut readers = Vec::new();
    let pipes: Vec<Box<dyn Read + Send>> = vec![
        Box::new(child.stdout.take().unwrap()),
        Box::new(child.stderr.take().unwrap()),
    ];
    for mut pipe in pipes {
        let out = output.clone();
        readers.push(std::thread::spawn(move || {
            let mut buf = String::new();
            let _ = pipe.read_to_string(&mut buf);
            out.lock().unwrap().push_str(&buf);
        }));
    }
    let client = awc::Client::default();
    let since = Instant::now();
    loop {
        if let Ok(res) = client.get(format!("{base}/readyz")).send().await {
            if res.status().is_success() {
                break;
            }
        }
        assert!(
            since.elapsed() < StdDuration::from_secs(30),
            "server not ready"
        );
        actix_web::rt::time::sleep(StdDuration::from_millis(50)).await;
    }
    Server {
        child,
        base,
        database,
        output,
        readers,
    }
}

impl Server {
    fn sigterm(&self) {
        let pid = i32::try_from(self.child.id()).unwrap();
        // SAFETY: sending a signal to our own child process.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    }

    /// Waits for the exit (at most 40 s); returns the exit code and all output.
    async fn wait(mut self) -> (Option<i32>, String) {
        let status = actix_web::web::block(move || {
            let status = self.child.wait();
            for r in self.readers {
                let _ = r.join();
            }
            status
        })
        .await
        .unwrap()
        .unwrap();
        let output = self.output.lock().unwrap().clone();
        (status.code(), output)
    }
}

/// A client for the spawned binary: no redirects followed, and a timeout
/// long enough for a debug build's password hash on a loaded machine.
fn slow_machine_client() -> awc::Client {
    awc::Client::builder()
        .disable_redirects()
        .timeout(StdDuration::from_secs(30))
        .finish()
}

fn grant_body(email: &str, password: &str) -> String {
    serde_urlencoded::to_string([
        ("grant_type", "password"),
        ("username", email),
        ("password", password),
    ])
    .unwrap()
}

#[actix_web::test]
async fn sigterm_lets_in_flight_requests_finish_and_exits_0() {
    let server = start(&[("PASSWORD_HASH_CONCURRENCY", "1"), ("RUST_LOG", "warn")]).await;
    let client = awc::Client::builder()
        .timeout(StdDuration::from_secs(30))
        .finish();
    // Six password checks, one at a time on the server: the last ones are
    // still queued or hashing when the signal arrives.
    let requests = (0..6).map(|i| {
        let req = client
            .post(format!("{}/api/v1/auth/token", server.base))
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .send_body(grant_body(
                &format!("nobody{i}@example.com"),
                "wrong password",
            ));
        async move { req.await.map(|r| r.status().as_u16()) }
    });
    let all = futures_util::future::join_all(requests);
    let signal = async {
        actix_web::rt::time::sleep(StdDuration::from_millis(30)).await;
        server.sigterm();
    };
    let (statuses, ()) = tokio::join!(all, signal);
    for s in &statuses {
        assert_eq!(
            s.as_ref().ok(),
            Some(&400),
            "every request completed: {statuses:?}"
        );
    }
    let (code, output) = server.wait().await;
    assert_eq!(code, Some(0), "{output}");
}

/// Pulls `name=value` out of Set-Cookie headers.
fn cookie(res: &awc::ClientResponse<impl futures_util::Stream>, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_owned())
}

#[actix_web::test]
async fn json_logs_at_trace_level_parse_and_carry_no_secret() {
    let server = start(&[("LOG_FORMAT", "json"), ("RUST_LOG", "trace")]).await;
    let base = server.base.clone();
    let client = slow_machine_client();
    let password = "correct horse battery staple 42";
    let email = "logs@example.com";

    // Register through the form (anonymous CSRF cookie + token).
    let mut page = client.get(format!("{base}/register")).send().await.unwrap();
    let csrf_cookie = cookie(&page, "csrf").expect("csrf cookie");
    let html = String::from_utf8_lossy(&page.body().await.unwrap()).into_owned();
    let form = serde_urlencoded::to_string([
        ("csrf_token", meta_csrf(&html).as_str()),
        ("email", email),
        ("password", password),
        ("password_confirm", password),
    ])
    .unwrap();
    let res = client
        .post(format!("{base}/register"))
        .insert_header(("cookie", format!("csrf={csrf_cookie}")))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .send_body(form)
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let session = cookie(&res, "session").expect("session cookie");
    let account = client
        .get(format!("{base}/account"))
        .insert_header(("cookie", format!("session={session}")))
        .send()
        .await
        .unwrap();
    assert_eq!(account.status().as_u16(), 200);

    // The API: password grant, a call, a refresh.
    let mut res = client
        .post(format!("{base}/api/v1/auth/token"))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .send_body(grant_body(email, password))
        .await
        .unwrap();
    let tokens: serde_json::Value = res.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let ping = client
        .get(format!("{base}/api/v1/ping"))
        .insert_header(("authorization", format!("Bearer {access}")))
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status().as_u16(), 200);
    let mut res = client
        .post(format!("{base}/api/v1/auth/token"))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .send_body(format!("grant_type=refresh_token&refresh_token={refresh}"))
        .await
        .unwrap();
    let rotated: serde_json::Value = res.json().await.unwrap();
    let successor = rotated["refresh_token"].as_str().unwrap().to_owned();

    server.sigterm();
    let (code, output) = server.wait().await;
    assert_eq!(code, Some(0));

    // Every line is a JSON object; request lines name the route and the id.
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() > 5, "{output}");
    let mut request_lines = 0;
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if v["fields"]["message"] == "request" {
            request_lines += 1;
            assert!(v["fields"]["route"].is_string(), "{line}");
            assert!(v["span"]["request_id"].is_string(), "{line}");
        }
    }
    assert!(request_lines >= 5);
    for (what, secret) in [
        ("the password", password),
        ("the access token", access.as_str()),
        ("the refresh token", refresh.as_str()),
        ("the rotated refresh token", successor.as_str()),
        ("the session cookie", session.as_str()),
        ("the CSRF cookie", csrf_cookie.as_str()),
    ] {
        assert!(!output.contains(secret), "{what} is in the log");
    }
}

#[actix_web::test]
async fn a_log_written_to_a_pipe_has_no_colour_and_its_links_can_be_grepped() {
    // Pretty logs (the default) into a pipe, as `cargo run > log` does.
    let server = start(&[]).await;
    let client = slow_machine_client();
    let mut form = client
        .get(format!("{}/register", server.base))
        .send()
        .await
        .unwrap();
    let cookie = form
        .headers()
        .get_all("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let html = String::from_utf8(form.body().await.unwrap().to_vec()).unwrap();
    let body = serde_urlencoded::to_string([
        ("csrf_token", meta_csrf(&html).as_str()),
        ("email", "logged@example.com"),
        ("password", "correct horse battery staple"),
        ("password_confirm", "correct horse battery staple"),
    ])
    .unwrap();
    let res = client
        .post(format!("{}/register", server.base))
        .insert_header(("cookie", cookie))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .send_body(body)
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    // With MAIL_URL unset the verification mail becomes a file, and its link
    // is logged when it is "sent".
    let mut conn = {
        use diesel_async::AsyncConnection;
        diesel_async::AsyncPgConnection::establish(&server.database)
            .await
            .unwrap()
    };
    let since = Instant::now();
    loop {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let sent: N =
            diesel::sql_query("SELECT count(*) AS n FROM mail_outbox WHERE sent_at IS NOT NULL")
                .get_result(&mut conn)
                .await
                .unwrap();
        if sent.n == 1 {
            break;
        }
        assert!(since.elapsed() < StdDuration::from_secs(10), "no mail sent");
        actix_web::rt::time::sleep(StdDuration::from_millis(20)).await;
    }
    let expected = format!("link={}/email/verify/", server.base);
    server.sigterm();
    let (_, output) = server.wait().await;
    assert!(!output.contains('\u{1b}'), "colour escapes in a piped log");
    assert!(output.lines().any(|l| l.contains(&expected)), "{output}");
}
