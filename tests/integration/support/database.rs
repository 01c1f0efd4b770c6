//! Test databases: a migrated template (keyed by the migrations' content), a
//! fresh clone of it per test, and `DbProxy`, a TCP proxy in front of Postgres
//! that a test can cut to simulate an outage.
//!
//! A run that passes leaves no database behind: when the test process exits
//! and no test panicked, it drops every database it made, the template too.
//! After a failure they stay, for a look; the next run drops those whose
//! process is gone, and templates of other migrations, when it starts.

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// The databases this process made, to drop at exit.
static MADE: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Whether any test of this process panicked (failed).
static FAILED: AtomicBool = AtomicBool::new(false);

thread_local! {
    static EXPECTING_PANICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f`, whose panics are expected (a test of a checker): they do not
/// count as a failed test.
pub fn expecting_panics<T>(f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        // Also while a panic unwinds out of `f`.
        fn drop(&mut self) {
            EXPECTING_PANICS.with(|e| e.set(false));
        }
    }
    EXPECTING_PANICS.with(|e| e.set(true));
    let _reset = Reset;
    f()
}

/// Once per process: a panic hook that notes a failure, and an exit handler
/// that drops what this process made unless one happened.
fn clean_up_at_exit() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !EXPECTING_PANICS.with(|e| e.get()) {
                FAILED.store(true, Ordering::SeqCst);
            }
            previous(info);
        }));
        extern "C" fn at_exit() {
            if AtomicBool::load(&FAILED, Ordering::SeqCst) {
                return;
            }
            let mut names = std::mem::take(&mut *MADE.lock().unwrap_or_else(|e| e.into_inner()));
            names.push(template_name().to_owned());
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                let Ok(runtime) = runtime else { return };
                runtime.block_on(async move {
                    let Ok(mut conn) = AsyncPgConnection::establish(&admin_url()).await else {
                        return;
                    };
                    for name in names {
                        let _ = diesel::sql_query(format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .execute(&mut conn)
                        .await;
                    }
                });
            });
            let _ = dropped.join();
        }
        // SAFETY: registers a plain `extern "C" fn` with the C library.
        unsafe {
            libc::atexit(at_exit);
        }
    });
}

pub const SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432";

pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_SERVER").unwrap_or_else(|_| SERVER_URL.to_owned())
}

fn admin_url() -> String {
    format!("{}/postgres", server_url())
}

/// Name of the migrated template database, keyed by the migrations' content so
/// a changed schema gets a new template.
fn template_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let mut files: Vec<_> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
                .expect("migrations dir")
                .flatten()
                .map(|e| e.path())
                .collect();
        files.sort();
        let mut text = String::new();
        for dir in files {
            text.push_str(&dir.display().to_string());
            text.push_str(&std::fs::read_to_string(dir.join("up.sql")).unwrap_or_default());
        }
        let digest = hybrid_auth::auth::crypto::sha256(text.as_bytes());
        let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        format!("ha_tpl_{hex}")
    })
}

/// Runs `f` on a fresh thread with its own runtime (test set-up that must not
/// block or re-enter the actix runtime).
fn on_thread<T: Send + 'static>(f: impl std::future::Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f)
    })
    .join()
    .expect("set-up thread")
}

async fn admin() -> AsyncPgConnection {
    AsyncPgConnection::establish(&admin_url())
        .await
        .expect("Postgres must be running on 127.0.0.1:5432 (see README)")
}

fn ensure_template() -> &'static str {
    static READY: OnceLock<()> = OnceLock::new();
    let name = template_name();
    READY.get_or_init(|| {
        let name = name.to_owned();
        on_thread(async move {
            let mut conn = admin().await;
            // Drop databases left behind by earlier runs whose process is gone.
            #[derive(diesel::QueryableByName)]
            struct Db {
                #[diesel(sql_type = diesel::sql_types::Text)]
                datname: String,
            }
            let dbs: Vec<Db> = diesel::sql_query(format!(
                "SELECT datname FROM pg_database WHERE datname LIKE 'ha\\_t\\_%' \
                 OR (datname LIKE 'ha\\_tpl\\_%' AND datname NOT LIKE '{name}%')"
            ))
            .load(&mut conn)
            .await
            .expect("list databases");
            for db in dbs {
                // A template of other migrations: dropped unless a run of
                // those is cloning it right now (then the drop fails).
                let pid = db
                    .datname
                    .strip_prefix("ha_t_")
                    .and_then(|rest| rest.split('_').next())
                    .and_then(|p| p.parse::<u32>().ok());
                let alive =
                    pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
                if !alive {
                    let _ = diesel::sql_query(format!(
                        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                        db.datname
                    ))
                    .execute(&mut conn)
                    .await;
                }
            }
            let exists: Vec<Db> = diesel::sql_query(format!(
                "SELECT datname FROM pg_database WHERE datname = '{name}'"
            ))
            .load(&mut conn)
            .await
            .expect("query template");
            if exists.is_empty() {
                let building = format!("{name}_b{}", std::process::id());
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{building}\""))
                    .execute(&mut conn)
                    .await;
                diesel::sql_query(format!("CREATE DATABASE \"{building}\""))
                    .execute(&mut conn)
                    .await
                    .expect("create template");
                hybrid_auth::db::setup::run_migrations(&format!("{}/{building}", server_url()))
                    .await
                    .expect("migrate template");
                let renamed = diesel::sql_query(format!(
                    "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
                ))
                .execute(&mut conn)
                .await;
                if renamed.is_err() {
                    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{building}\""))
                        .execute(&mut conn)
                        .await;
                }
            }
        })
    });
    name
}

/// Creates a fresh database for one test, cloned from the template.
pub fn fresh_database() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    clean_up_at_exit();
    let template = ensure_template().to_owned();
    let name = format!(
        "ha_t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .get(..8)
            .unwrap_or("x")
    );
    let db = name.clone();
    on_thread(async move {
        let mut conn = admin().await;
        let mut tries = 0;
        loop {
            let r = diesel::sql_query(format!("CREATE DATABASE \"{db}\" TEMPLATE \"{template}\""))
                .execute(&mut conn)
                .await;
            match r {
                Ok(_) => break,
                // Concurrent clones of one template can collide briefly.
                Err(e) if tries < 20 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(e) => panic!("create test database: {e}"),
            }
        }
    });
    MADE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(name.clone());
    name
}

/// A TCP proxy in front of Postgres that a test can cut, to simulate the
/// database going away mid-flight.
pub struct DbProxy {
    pub port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl DbProxy {
    pub async fn start() -> DbProxy {
        use std::sync::atomic::AtomicBool;
        use std::sync::{Arc, Mutex};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let cut = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::new(Mutex::new(vec![]));
        let (c2, conns2) = (cut.clone(), conns.clone());
        actix_web::rt::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if AtomicBool::load(&c2, Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let task = actix_web::rt::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect("127.0.0.1:5432").await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns2.lock().expect("lock").push(task.abort_handle());
            }
        });
        DbProxy { port, cut, conns }
    }

    /// Drops every proxied connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for c in self.conns.lock().expect("lock").drain(..) {
            c.abort();
        }
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}
