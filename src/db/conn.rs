//! The connection every query function takes: a diesel-async Postgres
//! connection that can also live behind a transaction-mode pooler.
//!
//! A pooler in `pool_mode = transaction` (PgBouncer, the pooled connection
//! strings of managed Postgres) hands each *transaction* a server connection
//! of its choice. Two things of ours outlive a transaction on a plain
//! connection and so break there:
//! - tokio-postgres prepares a named statement (`s5`) in one round trip and
//!   executes it in the next; outside a transaction the pooler may send the
//!   second to another server, which has no `s5` (and a cached statement left
//!   on a server collides with another process's `s5`);
//! - diesel-async caches prepared statements per client connection.
//!
//! In [`Mode::TransactionPooler`] the statement cache is off, a statement
//! issued outside a transaction is wrapped in `BEGIN … COMMIT`, so its
//! prepare and execute happen on one server connection, and every
//! transaction ends with `DEALLOCATE ALL` on the server it ran on (in the
//! same message as its `COMMIT` or `ROLLBACK`: no extra round trip). A
//! statement's own close can come too late for that: tokio-postgres closes it
//! when the last row read with it is dropped, which may be after the commit.
//! Inside `conn.transaction(..)` the transaction already pins the server; its
//! end gets the same `DEALLOCATE ALL`. On a direct connection
//! ([`Mode::Direct`]) this type adds nothing.

use diesel::connection::{CacheSize, Instrumentation};
use diesel::query_builder::{AsQuery, QueryFragment, QueryId};
use diesel::QueryResult;
use diesel_async::pooled_connection::PoolableConnection;
use diesel_async::{
    AnsiTransactionManager, AsyncConnection, AsyncConnectionCore, AsyncPgConnection,
    SimpleAsyncConnection, TransactionManager,
};
use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};

/// How the connection reaches Postgres.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Straight to Postgres (or a session-mode pooler): statements are
    /// cached per connection, nothing is wrapped.
    Direct,
    /// Through a transaction-mode pooler: no statement outlives its
    /// transaction, and every statement runs inside one.
    TransactionPooler,
}

impl Mode {
    /// The mode of the pool a deployment's settings describe.
    pub fn of(settings: &crate::config::Settings) -> Mode {
        if settings.behind_transaction_pooler() {
            Mode::TransactionPooler
        } else {
            Mode::Direct
        }
    }
}

/// A Postgres connection, direct or behind a transaction-mode pooler.
pub struct DbConn {
    inner: AsyncPgConnection,
    mode: Mode,
}

type Row = <AsyncPgConnection as AsyncConnectionCore>::Row<'static, 'static>;

impl DbConn {
    pub fn new(mut inner: AsyncPgConnection, mode: Mode) -> Self {
        if mode == Mode::TransactionPooler {
            inner.set_prepared_statement_cache_size(CacheSize::Disabled);
        }
        DbConn { inner, mode }
    }

    /// Connects to `url` in `mode`.
    pub async fn connect(url: &str, mode: Mode) -> diesel::ConnectionResult<Self> {
        match mode {
            Mode::Direct => Ok(DbConn::new(AsyncPgConnection::establish(url).await?, mode)),
            Mode::TransactionPooler => Self::connect_through_pooler(url).await,
        }
    }

    /// diesel-async's set-up runs two `SET`s as prepared statements, which a
    /// transaction pooler could split across servers (and leave behind): run
    /// it inside a transaction of our own, with the statement cache emptied
    /// (closing what it prepared) before that transaction commits.
    async fn connect_through_pooler(url: &str) -> diesel::ConnectionResult<Self> {
        let bad = |e: tokio_postgres::Error| diesel::ConnectionError::BadConnection(e.to_string());
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .map_err(bad)?;
        // The connection ends by itself once the client is dropped.
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "pooled database connection ended");
            }
        });
        client.batch_execute("BEGIN").await.map_err(bad)?;
        let mut inner = AsyncPgConnection::try_from(client).await?;
        inner.set_prepared_statement_cache_size(CacheSize::Disabled);
        inner
            .batch_execute(COMMIT)
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
        Ok(DbConn {
            inner,
            mode: Mode::TransactionPooler,
        })
    }

    /// The diesel-async connection itself (LISTEN's notification stream).
    pub fn inner_mut(&mut self) -> &mut AsyncPgConnection {
        &mut self.inner
    }

    /// True when a statement must bring its own transaction: behind a
    /// transaction pooler and not already inside one. A broken transaction
    /// state counts as "inside", so its error surfaces unchanged.
    fn needs_own_transaction(&mut self) -> bool {
        self.mode == Mode::TransactionPooler
            && matches!(
                <AnsiTransactionManager as TransactionManager<AsyncPgConnection>>::transaction_manager_status_mut(&mut self.inner)
                    .transaction_depth(),
                Ok(None)
            )
    }
}

/// How a transaction ends behind a transaction pooler: no prepared
/// statement is left on the server for the next client. DEALLOCATE runs
/// before COMMIT (it fails in an aborted transaction, and then the caller
/// rolls back) and after ROLLBACK (as its own statement, still on the same
/// server: the pooler moves on only once the whole message is answered).
const COMMIT: &str = "DEALLOCATE ALL; COMMIT";
const ROLLBACK: &str = "ROLLBACK; DEALLOCATE ALL";

/// Ends the statement's own transaction: COMMIT after success, ROLLBACK
/// (whose own failure is secondary) after an error.
async fn end_own_transaction<T>(
    conn: &AsyncPgConnection,
    result: QueryResult<T>,
) -> QueryResult<T> {
    let mut handle = conn;
    match result {
        Ok(value) => match handle.batch_execute(COMMIT).await {
            Ok(()) => Ok(value),
            Err(e) => {
                let _ = handle.batch_execute(ROLLBACK).await;
                Err(e)
            }
        },
        Err(e) => {
            let _ = handle.batch_execute(ROLLBACK).await;
            Err(e)
        }
    }
}

impl SimpleAsyncConnection for DbConn {
    async fn batch_execute(&mut self, query: &str) -> QueryResult<()> {
        // The simple protocol prepares nothing; a batch is one implicit
        // transaction, which a pooler keeps on one server. The end of an
        // outermost transaction (diesel's transaction manager sends exactly
        // these) also clears the server's prepared statements.
        let query = match (self.mode, query) {
            (Mode::TransactionPooler, "COMMIT") => COMMIT,
            (Mode::TransactionPooler, "ROLLBACK") => ROLLBACK,
            _ => query,
        };
        self.inner.batch_execute(query).await
    }
}

impl AsyncConnectionCore for DbConn {
    type LoadFuture<'conn, 'query> = BoxFuture<'conn, QueryResult<Self::Stream<'conn, 'query>>>;
    type ExecuteFuture<'conn, 'query> = BoxFuture<'conn, QueryResult<usize>>;
    type Stream<'conn, 'query> = BoxStream<'static, QueryResult<Row>>;
    type Row<'conn, 'query> = Row;
    type Backend = diesel::pg::Pg;

    fn load<'conn, 'query, T>(&'conn mut self, source: T) -> Self::LoadFuture<'conn, 'query>
    where
        T: AsQuery + 'query,
        T::Query: QueryFragment<Self::Backend> + QueryId + 'query,
    {
        if !self.needs_own_transaction() {
            return self.inner.load(source);
        }
        let shared: &'conn AsyncPgConnection = &self.inner;
        let mut handle = shared;
        // Builds the SQL now; nothing is sent until the future is polled.
        let load = AsyncConnectionCore::load(&mut handle, source);
        Box::pin(async move {
            let mut begin = shared;
            begin.batch_execute("BEGIN").await?;
            // Every row is read (and the statement closed) before COMMIT.
            let rows = async { load.await?.try_collect::<Vec<_>>().await }.await;
            let rows = end_own_transaction(shared, rows).await?;
            Ok(stream::iter(rows.into_iter().map(Ok)).boxed())
        })
    }

    fn execute_returning_count<'conn, 'query, T>(
        &'conn mut self,
        source: T,
    ) -> Self::ExecuteFuture<'conn, 'query>
    where
        T: QueryFragment<Self::Backend> + QueryId + 'query,
    {
        if !self.needs_own_transaction() {
            return self.inner.execute_returning_count(source);
        }
        let shared: &'conn AsyncPgConnection = &self.inner;
        let mut handle = shared;
        let execute = AsyncConnectionCore::execute_returning_count(&mut handle, source);
        Box::pin(async move {
            let mut begin = shared;
            begin.batch_execute("BEGIN").await?;
            let count = execute.await;
            end_own_transaction(shared, count).await
        })
    }
}

impl AsyncConnection for DbConn {
    type TransactionManager = AnsiTransactionManager;

    async fn establish(database_url: &str) -> diesel::ConnectionResult<Self> {
        DbConn::connect(database_url, Mode::Direct).await
    }

    fn transaction_state(&mut self) -> &mut AnsiTransactionManager {
        self.inner.transaction_state()
    }

    fn instrumentation(&mut self) -> &mut dyn Instrumentation {
        self.inner.instrumentation()
    }

    fn set_instrumentation(&mut self, instrumentation: impl Instrumentation) {
        self.inner.set_instrumentation(instrumentation);
    }

    fn set_prepared_statement_cache_size(&mut self, size: CacheSize) {
        // Behind a transaction pooler the cache stays off whatever is asked.
        if self.mode == Mode::Direct {
            self.inner.set_prepared_statement_cache_size(size);
        }
    }
}

impl PoolableConnection for DbConn {
    fn is_broken(&mut self) -> bool {
        self.inner.is_broken()
    }
}
