//! Database preparation at start-up: create the database when it is missing,
//! then run the migrations embedded in the binary (`build.rs` makes cargo
//! rebuild when `migrations/` changes, so a new migration is never skipped).

use super::with_connect_timeout;
use crate::config::Settings;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Creates the database if missing and runs the embedded migrations.
pub async fn prepare_database(settings: &Settings) -> anyhow::Result<()> {
    let (name, admin_url) = settings
        .database_parts()
        .ok_or_else(|| anyhow::anyhow!("DATABASE_URL must name a database, e.g. postgres://postgres@127.0.0.1:5432/hybrid_auth"))?;
    if let Err(e) = ensure_database(&admin_url, &name).await {
        // Without access to the maintenance database we can still work if the
        // app's own database exists; the migration step below tells.
        tracing::debug!(error = %e, "could not check for the database via the postgres database");
    }
    run_migrations(settings.listener_url())
        .await
        .map_err(|e| unreachable_db(settings, e))
}

/// The start-up error for a database that cannot be reached, naming the
/// setting to fix (with any password hidden).
pub fn unreachable_db(settings: &Settings, e: anyhow::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot reach Postgres at DATABASE_URL={} ({e:#}). Start Postgres, or point DATABASE_URL \
         (environment or .env) at a reachable server, e.g. postgres://user@host:5432/hybrid_auth",
        crate::config::redact_url(&settings.database_url)
    )
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

#[cfg(test)]
mod tests {
    use crate::config::redact_url;

    #[test]
    fn redact_url_hides_the_password_only() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            redact_url("postgres://u@h/db?sslmode=require&password=secret"),
            "postgres://u@h/db?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("postgres://u:a@h/db?PASSWORD=b"),
            "postgres://u:***@h/db?PASSWORD=***"
        );
    }
}
