//! The bottom layer: every SQL query of the app lives under `db/`, one file
//! per table, plus the pool and the error classification. Query functions take
//! a connection, not the pool, so callers can compose them in transactions.
//! Row types are `X`, insert forms `NewX`. `setup` creates the database and
//! runs the embedded migrations.

pub mod account_tokens;
pub mod api_keys;
pub mod app_secrets;
pub mod auth_events;
mod conn;
pub mod factors;
pub mod login_failures;
pub mod mail_outbox;
pub mod notes;
pub mod oidc;
pub mod passkeys;
pub mod refresh_tokens;
pub mod schema;
pub mod service_clients;
pub mod session_state;
pub mod sessions;
pub mod setup;
pub mod signing_keys;
pub mod users;

use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::RunQueryDsl;
use futures_util::FutureExt;

pub use conn::{DbConn, Mode};
use std::time::Duration;

pub type PgPool = Pool<DbConn>;
pub type PgConn = Object<DbConn>;

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
    /// True when Postgres refused the input itself (text it cannot store,
    /// such as a NUL byte): the request was bad, not the server.
    pub fn is_bad_input(&self) -> bool {
        match self {
            DbError::Query(diesel::result::Error::DatabaseError(_, info)) => {
                let m = info.message();
                m.contains("invalid byte sequence") || m.contains("character not in repertoire")
            }
            DbError::Query(diesel::result::Error::SerializationError(e)) => {
                e.to_string().contains("nul byte")
            }
            _ => false,
        }
    }

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
/// `mode` says whether `database_url` is a transaction-mode pooler (see
/// [`DbConn`]).
pub fn build_pool(database_url: &str, max_size: usize, mode: Mode) -> anyhow::Result<PgPool> {
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(move |url| DbConn::connect(url, mode).boxed());
    // Skip deadpool's `SELECT 1` on every checkout; a dead connection surfaces
    // as a query error and is then dropped by the pool.
    config.recycling_method = RecyclingMethod::Fast;
    let manager = AsyncDieselConnectionManager::<DbConn>::new_with_config(
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

pub(crate) fn with_connect_timeout(url: &str) -> String {
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

/// `SELECT 1` on a connection (liveness checks).
pub async fn ping_conn(conn: &mut DbConn) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT 1").execute(conn).await?;
    Ok(())
}

/// `SELECT 1` through the pool, for `/readyz`.
pub async fn ping(pool: &PgPool) -> Result<(), DbError> {
    let mut conn = conn(pool).await?;
    ping_conn(&mut conn).await?;
    Ok(())
}

/// `LISTEN channel` on this connection (`channel` must be an identifier).
pub async fn listen(conn: &mut DbConn, channel: &str) -> diesel::QueryResult<()> {
    diesel::sql_query(format!("LISTEN \"{}\"", channel.replace('"', "")))
        .execute(conn)
        .await?;
    Ok(())
}

/// `NOTIFY channel, payload` (delivered when the transaction commits).
pub async fn notify(conn: &mut DbConn, channel: &str, payload: &str) -> diesel::QueryResult<()> {
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<diesel::sql_types::Text, _>(channel)
        .bind::<diesel::sql_types::Text, _>(payload)
        .execute(conn)
        .await?;
    Ok(())
}
