//! A real PgBouncer (Debian's `pgbouncer`) in `pool_mode = transaction` in
//! front of the test Postgres, started once per test process on a free port,
//! and `spawn_app_through_pgbouncer`: the app with its pool going through it
//! and its listener and migrations on the direct connection, as
//! docs/deploy.md tells a deployment to run.
//!
//! The pooler is small on purpose (`default_pool_size = 4`): a client
//! connection of the app gets a server connection per transaction, and with
//! few server connections two consecutive statements of one client land on
//! different servers often, which is what breaks an app that leaves a
//! prepared statement behind.

use super::app::{spawn_app_on, test_settings, TestApp};
use super::database::{fresh_database, server_url};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

struct Running {
    port: u16,
    _child: Child,
}

/// Where PgBouncer is, or why it is not. In CI its absence is a failure.
fn binary() -> Option<std::path::PathBuf> {
    ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
}

fn start() -> Option<Running> {
    let Some(bin) = binary() else {
        let why = "pgbouncer is not installed (apt-get install pgbouncer)";
        if std::env::var_os("CI").is_some() {
            panic!("the pooler tests need PgBouncer in CI: {why}");
        }
        eprintln!("\n*** SKIPPING PgBouncer test: {why} ***\n");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("addr")
        .port();
    let dir = std::env::temp_dir().join(format!("ha-pgbouncer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("pgbouncer dir");
    let server = server_url();
    let rest = server.trim_start_matches("postgres://");
    let (user, hostport) = rest.split_once('@').unwrap_or(("postgres", rest));
    let (host, pg_port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
    std::fs::write(dir.join("userlist.txt"), format!("\"{user}\" \"\"\n")).expect("userlist");
    let ini = format!(
        "[databases]\n\
         * = host={host} port={pg_port}\n\
         [pgbouncer]\n\
         listen_addr = 127.0.0.1\n\
         listen_port = {port}\n\
         unix_socket_dir =\n\
         auth_type = trust\n\
         auth_file = {userlist}\n\
         pool_mode = transaction\n\
         default_pool_size = 4\n\
         max_client_conn = 2000\n\
         server_idle_timeout = 1\n\
         server_lifetime = 60\n\
         server_reset_query =\n\
         ignore_startup_parameters = extra_float_digits,options\n\
         admin_users = {user}\n",
        userlist = dir.join("userlist.txt").display(),
    );
    std::fs::write(dir.join("pgbouncer.ini"), ini).expect("ini");
    let _ = Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(&dir)
        .status();
    // PgBouncer refuses to run as root (CI runs as root): it then drops to
    // the `postgres` user, who can read the files above. A watchdog shell
    // stops it once this test process is gone (a static is never dropped).
    // SAFETY: geteuid has no preconditions and only reads.
    let user = if unsafe { libc::geteuid() } == 0 {
        "-u postgres"
    } else {
        ""
    };
    let script = format!(
        "{bin} {user} {ini} & pid=$!; \
         while kill -0 {me} 2>/dev/null && kill -0 $pid 2>/dev/null; do sleep 1; done; \
         kill $pid 2>/dev/null; rm -rf {dir}",
        bin = bin.display(),
        ini = dir.join("pgbouncer.ini").display(),
        me = std::process::id(),
        dir = dir.display(),
    );
    let child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pgbouncer");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "pgbouncer did not start on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Running {
        port,
        _child: child,
    })
}

/// The port of this process's PgBouncer, started on first use.
pub fn port() -> Option<u16> {
    static RUNNING: OnceLock<Mutex<Option<Running>>> = OnceLock::new();
    RUNNING
        .get_or_init(|| Mutex::new(start()))
        .lock()
        .expect("pgbouncer lock")
        .as_ref()
        .map(|r| r.port)
}

/// The app on a fresh database, its pool through PgBouncer in transaction
/// mode (DATABASE_URL) and its listener and migrations direct
/// (LISTENER_DATABASE_URL). `None` (loudly) outside CI without PgBouncer.
pub async fn spawn_app_through_pgbouncer() -> Option<TestApp> {
    let port = port()?;
    let database = fresh_database();
    let app = spawn_instance(&database, port).await;
    assert!(
        app.state.settings.behind_transaction_pooler(),
        "the app runs in transaction-pooler mode"
    );
    Some(app)
}

/// Another instance on `database`, through the same PgBouncer.
pub async fn spawn_instance(database: &str, port: u16) -> TestApp {
    spawn_instance_with(database, port, |_| {}).await
}

/// `spawn_instance` with settings of the test's own.
pub async fn spawn_instance_with(
    database: &str,
    port: u16,
    configure: impl FnOnce(&mut hybrid_auth::config::Settings),
) -> TestApp {
    let mut settings = test_settings(database);
    let pooled = format!("postgres://postgres@127.0.0.1:{port}/{database}");
    let direct = format!("{}/{database}", server_url());
    let vars = [("DATABASE_URL", pooled), ("LISTENER_DATABASE_URL", direct)];
    let urls = hybrid_auth::config::Settings::from_lookup(|k| {
        vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    })
    .expect("pooler settings");
    settings.database_url = urls.database_url;
    settings.listener_database_url = urls.listener_database_url;
    // The test's own settings last (a test that points the app elsewhere,
    // such as through a proxy it cuts, keeps its own URLs).
    configure(&mut settings);
    spawn_app_on(settings).await
}
