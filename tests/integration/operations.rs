//! Operating it: the CLI against a real database and a running instance,
//! key rotation and retirement reaching running instances within a second,
//! SIGTERM, metrics, and logs (JSON lines, no secrets at any level).

use crate::support::*;
use awc::http::StatusCode;
use hybrid_auth::auth::tokens::scopes::{self, Scope};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the `hybrid-auth` binary with `args` against `database_url`, feeding
/// `stdin`, off the test's runtime thread.
pub async fn cli(database_url: &str, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(crate::support::binary());
    cmd.args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Through the pooler (TEST_THROUGH_PGBOUNCER), the CLI gets the direct
    // URL too, as docs/deploy.md says a deployment's CLI must.
    if std::env::var_os("TEST_THROUGH_PGBOUNCER").is_some() {
        if let Some(db) = database_url.rsplit('/').next() {
            let direct = format!("{}/{db}", crate::support::database::server_url());
            cmd.env("LISTENER_DATABASE_URL", direct);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let input = stdin.to_owned();
    let out = actix_web::web::block(move || {
        let mut child = cmd.spawn()?;
        if let Some(mut pipe) = child.stdin.take() {
            pipe.write_all(input.as_bytes())?;
        }
        child.wait_with_output()
    })
    .await
    .expect("blocking pool")
    .expect("run the binary");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub(crate) async fn app_cli(app: &TestApp, args: &[&str], stdin: &str) -> Run {
    cli(&app.state.settings.database_url, args, stdin, &[]).await
}

#[actix_web::test]
async fn help_reads_well_at_every_level_and_usage_errors_exit_2() {
    let app = spawn_app().await;
    let top = app_cli(&app, &["--help"], "").await;
    assert_eq!(top.code, 0);
    for word in ["serve", "migrate", "user", "sessions", "keys", "purge"] {
        assert!(
            top.stdout.contains(word),
            "--help names {word}:\n{}",
            top.stdout
        );
    }
    let keys = app_cli(&app, &["keys", "--help"], "").await;
    assert_eq!(keys.code, 0);
    assert!(keys.stdout.contains("rotate") && keys.stdout.contains("retire"));
    assert_eq!(app_cli(&app, &["bogus"], "").await.code, 2);
    assert_eq!(
        app_cli(&app, &["user", "create"], "").await.code,
        2,
        "--email is required"
    );
    let bad_config = cli(
        &app.state.settings.database_url,
        &["keys", "list"],
        "",
        &[("ACCESS_TOKEN_TTL", "100000y")],
    )
    .await;
    assert_eq!(bad_config.code, 2);
    assert!(bad_config.stderr.contains("ACCESS_TOKEN_TTL"));
}

#[actix_web::test]
async fn a_user_created_from_the_cli_signs_in_with_the_password_from_stdin() {
    let app = spawn_app().await;
    let created = app_cli(
        &app,
        &[
            "user",
            "create",
            "--email",
            "Ops@Example.com",
            "--scopes",
            "notes:read",
            "--verified",
        ],
        "a password from stdin\n",
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    assert!(!created.stdout.contains("a password from stdin"));

    let res = app
        .password_grant("ops@example.com", "a password from stdin", None)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["scope"], Scope::NotesRead.as_str());

    let listed = app_cli(&app, &["user", "list", "--json"], "").await;
    let users: serde_json::Value = serde_json::from_str(&listed.stdout).expect("JSON");
    let ops = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "ops@example.com")
        .expect("listed");
    assert_eq!(ops["verified"], true);

    // A duplicate, a short password and an unknown scope all fail with 1.
    assert_eq!(
        app_cli(
            &app,
            &["user", "create", "--email", "ops@example.com"],
            "another password\n"
        )
        .await
        .code,
        1
    );
    assert_eq!(
        app_cli(
            &app,
            &["user", "create", "--email", "b@example.com"],
            "short\n"
        )
        .await
        .code,
        1
    );
    let unknown = app_cli(
        &app,
        &[
            "user",
            "create",
            "--email",
            "c@example.com",
            "--scopes",
            "admin",
        ],
        "long enough password\n",
    )
    .await;
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.contains("unknown scope"));
}

#[actix_web::test]
async fn set_scopes_changes_the_grant_of_the_next_sign_in() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    let set = app_cli(
        &app,
        &["user", "set-scopes", "--email", &email, "profile:read"],
        "",
    )
    .await;
    assert_eq!(set.code, 0, "{}", set.stderr);
    let res = app.password_grant(&email, PASSWORD, None).await;
    assert_eq!(res.json()["scope"], Scope::ProfileRead.as_str());
}

#[actix_web::test]
async fn single_scopes_are_granted_and_taken_away_from_the_cli() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    let taken = app_cli(
        &app,
        &[
            "user",
            "revoke-scope",
            "--email",
            &email,
            "notes:write",
            "profile:write",
        ],
        "",
    )
    .await;
    assert_eq!(taken.code, 0, "{}", taken.stderr);
    let res = app.password_grant(&email, PASSWORD, None).await;
    let fewer = scopes::without(
        &scopes::default_grant(),
        &[Scope::NotesWrite, Scope::ProfileWrite],
    );
    assert_eq!(res.json()["scope"], fewer.as_str());

    let granted = app_cli(
        &app,
        &["user", "grant-scope", "--email", &email, "notes:write"],
        "",
    )
    .await;
    assert_eq!(granted.code, 0, "{}", granted.stderr);
    let res = app.password_grant(&email, PASSWORD, None).await;
    assert_eq!(
        res.json()["scope"],
        scopes::with(&fewer, &[Scope::NotesWrite]).as_str()
    );

    let unknown = app_cli(
        &app,
        &["user", "grant-scope", "--email", &email, "no-such:scope"],
        "",
    )
    .await;
    assert_eq!(unknown.code, 1);
    assert!(
        unknown.stderr.contains("unknown scope `no-such:scope`"),
        "{}",
        unknown.stderr
    );
}

#[actix_web::test]
async fn sessions_revoked_from_the_cli_are_refused_by_the_running_app_within_a_second() {
    let app = spawn_app().await;
    let email = app.api_user().await;
    let res = app.password_grant(&email, PASSWORD, None).await;
    let access = res.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.api_get("/api/v1/ping", &access).await.status,
        StatusCode::OK
    );

    let listed = app_cli(&app, &["sessions", "list", "--email", &email, "--json"], "").await;
    let sessions: serde_json::Value = serde_json::from_str(&listed.stdout).expect("JSON");
    // The registration's web session and the API session.
    let kinds: Vec<&str> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(kinds.contains(&"api") && kinds.contains(&"web"));

    let revoked = app_cli(&app, &["sessions", "revoke", "--email", &email], "").await;
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    let since = Instant::now();
    loop {
        let res = app.api_get("/api/v1/ping", &access).await;
        if res.status == StatusCode::UNAUTHORIZED {
            assert_eq!(res.json()["error_description"], "access token revoked");
            break;
        }
        assert!(
            since.elapsed() < StdDuration::from_secs(1),
            "still accepted after 1 s"
        );
        actix_web::rt::time::sleep(StdDuration::from_millis(5)).await;
    }
}

fn kids(jwks: &serde_json::Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn a_rotated_key_is_published_at_once_and_signs_after_the_activation_delay() {
    let app = spawn_app_with(|s| s.key_activation_delay = time::Duration::minutes(2)).await;
    let jwks = app.get("/.well-known/jwks.json").await;
    assert_eq!(
        jwks.header("cache-control").as_deref(),
        Some("public, max-age=120")
    );
    let old = kids(&jwks.json());
    assert_eq!(old.len(), 1);

    let rotated = cli(
        &app.state.settings.database_url,
        &["keys", "rotate"],
        "",
        &[("KEY_ACTIVATION_DELAY", "2m")],
    )
    .await;
    assert_eq!(rotated.code, 0, "{}", rotated.stderr);
    let since = Instant::now();
    let published = loop {
        let now = kids(&app.get("/.well-known/jwks.json").await.json());
        if now.len() == 2 {
            break now;
        }
        assert!(
            since.elapsed() < StdDuration::from_secs(1),
            "JWKS without the new key after 1 s"
        );
        actix_web::rt::time::sleep(StdDuration::from_millis(10)).await;
    };
    let new_kid = published.into_iter().find(|k| *k != old[0]).unwrap();

    // Until the delay has passed, tokens are still signed with the old key…
    let (before, _) = app.api_tokens().await;
    assert_eq!(jwt_part(&before, 0)["kid"], old[0].as_str());
    // …and after it, with the new one; the old key's tokens stay valid.
    app.clock
        .advance(time::Duration::minutes(2) + time::Duration::seconds(1));
    let (after, _) = app.api_tokens().await;
    assert_eq!(jwt_part(&after, 0)["kid"], new_kid.as_str());
    assert_eq!(
        app.api_get("/api/v1/ping", &before).await.status,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn a_retired_key_stops_verifying_on_the_running_app_within_a_second() {
    let app = spawn_app().await;
    let (token, _) = app.api_tokens().await;
    assert_eq!(
        app.api_get("/api/v1/ping", &token).await.status,
        StatusCode::OK
    );
    let old_kid = jwt_part(&token, 0)["kid"].as_str().unwrap().to_owned();

    // The signing key cannot be retired…
    let refused = app_cli(&app, &["keys", "retire", &old_kid], "").await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("rotate --now"));
    // …so rotate at once first, then retire the old key.
    assert_eq!(
        app_cli(&app, &["keys", "rotate", "--now"], "").await.code,
        0
    );
    let retired = app_cli(&app, &["keys", "retire", &old_kid], "").await;
    assert_eq!(retired.code, 0, "{}", retired.stderr);

    let since = Instant::now();
    while app.api_get("/api/v1/ping", &token).await.status == StatusCode::OK {
        assert!(
            since.elapsed() < StdDuration::from_secs(1),
            "old token accepted after 1 s"
        );
        actix_web::rt::time::sleep(StdDuration::from_millis(5)).await;
    }
    assert!(!kids(&app.get("/.well-known/jwks.json").await.json()).contains(&old_kid));
    let listed = app_cli(&app, &["keys", "list", "--json"], "").await;
    let keys: serde_json::Value = serde_json::from_str(&listed.stdout).expect("JSON");
    assert!(keys
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["kid"] != old_kid.as_str()));
    assert!(!listed.stdout.contains("private"));
}

#[actix_web::test]
async fn metrics_are_served_on_their_own_port_and_count() {
    let app = spawn_app_with(|s| s.metrics_bind_addr = Some("127.0.0.1:0".into())).await;
    let (access, refresh) = app.api_tokens().await;
    let email = app.api_user().await;
    app.password_grant(&email, "wrong password", None).await;
    app.refresh_grant(&refresh, None).await;
    app.api_get("/api/v1/ping", &access).await;
    app.api_logout(&access).await;

    assert_eq!(
        app.get("/metrics").await.status,
        StatusCode::NOT_FOUND,
        "not on the public port"
    );
    let port = app.metrics_port.expect("metrics listener");
    let body = awc::Client::default()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .body()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&body);
    // Metric names start with the package name (`hybrid_auth_…`).
    let prefix = hybrid_auth::metrics::PREFIX;
    let value = |line_start: &str| -> f64 {
        let line_start = line_start.replacen("hybrid_auth", prefix, 1);
        text.lines()
            .find(|l| l.starts_with(&line_start))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {line_start} in\n{text}"))
    };
    assert!(value("hybrid_auth_sign_ins_total{result=\"ok\"}") >= 1.0);
    assert!(value("hybrid_auth_sign_ins_total{result=\"failed\"}") >= 1.0);
    assert!(value("hybrid_auth_refreshes_total{result=\"rotated\"}") >= 1.0);
    assert!(value("hybrid_auth_revocations_total{reason=\"logout\"}") >= 1.0);
    assert!(value("hybrid_auth_access_tokens_minted_total") >= 2.0);
    assert!(value("hybrid_auth_http_request_duration_seconds_count{route=\"/api/v1/ping\",status=\"200\"}") >= 1.0);
    assert_eq!(value("hybrid_auth_revocation_view_fresh"), 1.0);
    assert!(text.contains(&format!("# TYPE {prefix}_mails_total counter")));
}
