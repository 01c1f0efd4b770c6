//! Database access: the pool, start-up (create database, migrations), the
//! error classification, and query functions grouped by table. Query functions
//! take a connection, not the pool, so they compose inside transactions.

pub mod events;
pub mod notes;
pub mod schema;
pub mod secrets;
pub mod sessions;
pub mod signing_keys;
pub mod users;

use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::time::Duration;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type PgPool = Pool<AsyncPgConnection>;
pub type PgConn = Object<AsyncPgConnection>;

/// Why a database call failed, in the terms handlers care about.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Postgres can't be reached (pool timeout, refused or dropped connection):
    /// callers answer 503 with Retry-After.
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for DbError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        DbError::Unavailable(anyhow::Error::new(e))
    }
}

impl DbError {
    /// True when this is an outage rather than a bug or a constraint.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Unavailable(_) => true,
            DbError::Query(diesel::result::Error::DatabaseError(kind, info)) => {
                matches!(kind, diesel::result::DatabaseErrorKind::ClosedConnection)
                    || info.message().contains("connection closed")
                    || info.message().contains("terminating connection")
                    || info.message().contains("error communicating")
            }
            DbError::Query(diesel::result::Error::BrokenTransactionManager) => true,
            DbError::Query(_) => false,
        }
    }
}

/// Builds the pool. Connections are created lazily; a dead server shows up as
/// `DbError::Unavailable` within the timeouts below, never as a hang.
pub fn build_pool(database_url: &str, max_size: usize) -> anyhow::Result<PgPool> {
    let mut config = ManagerConfig::default();
    // Skip deadpool's `SELECT 1` on every checkout; a dead connection surfaces
    // as a query error and is then dropped by the pool.
    config.recycling_method = RecyclingMethod::Fast;
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        with_connect_timeout(database_url),
        config,
    );
    let pool = Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()?;
    Ok(pool)
}

fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&connect_timeout=5")
    } else {
        format!("{url}?connect_timeout=5")
    }
}

/// Checks out a connection, classifying failures as `Unavailable`.
pub async fn conn(pool: &PgPool) -> Result<PgConn, DbError> {
    Ok(pool.get().await?)
}

/// Connects to the `postgres` maintenance database and creates `name` if it
/// does not exist yet.
pub async fn ensure_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    use diesel::sql_types::{Bool, Text};
    #[derive(diesel::QueryableByName)]
    struct Exists {
        #[diesel(sql_type = Bool)]
        exists: bool,
    }
    let mut conn = AsyncPgConnection::establish(&with_connect_timeout(admin_url)).await?;
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(name)
            .get_result(&mut conn)
            .await?;
    if !found.exists {
        let quoted = name.replace('"', "\"\"");
        match diesel::sql_query(format!("CREATE DATABASE \"{quoted}\""))
            .execute(&mut conn)
            .await
        {
            Ok(_) => tracing::info!(database = name, "created database"),
            // Another instance may have won the race.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => {}
            Err(e) if e.to_string().contains("already exists") => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Runs pending embedded migrations. Diesel's migration harness is synchronous,
/// so it runs on its own thread (with its own small runtime) and the caller
/// awaits the result without blocking the actix worker.
pub async fn run_migrations(database_url: &str) -> anyhow::Result<()> {
    let url = with_connect_timeout(database_url);
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let result = (|| -> anyhow::Result<()> {
            // The wrapper blocks on the runtime it finds; give it one with
            // timers (for connect_timeout) and its own worker to drive I/O.
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()?;
            let _guard = runtime.enter();
            let mut conn =
                <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(&url)?;
            conn.run_pending_migrations(MIGRATIONS)
                .map_err(|e| anyhow::anyhow!("running migrations: {e}"))?;
            Ok(())
        })();
        let _ = tx.send(result);
    });
    rx.await
        .map_err(|_| anyhow::anyhow!("migration thread died"))?
}

/// `SELECT 1` through the pool, for `/readyz`.
pub async fn ping(pool: &PgPool) -> Result<(), DbError> {
    let mut conn = conn(pool).await?;
    diesel::sql_query("SELECT 1").execute(&mut conn).await?;
    Ok(())
}
