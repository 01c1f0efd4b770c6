//! The `hybrid-auth` binary: `serve` (default), `keys rotate`, `purge`.

use hybrid_auth::clock::Clock;
use hybrid_auth::config::Settings;
use hybrid_auth::startup::Application;
use std::process::ExitCode;

fn init_tracing() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(tracing_subscriber::filter::LevelFilter::INFO);
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .init();
}

const USAGE: &str = "usage: hybrid-auth [serve | keys rotate | purge]";

#[actix_web::main]
async fn main() -> ExitCode {
    init_tracing();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        [] | ["serve"] => serve(settings).await,
        ["keys", "rotate"] => rotate_keys(settings).await,
        ["purge"] => purge(settings).await,
        ["-h"] | ["--help"] | ["help"] => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let public = settings.public_url.clone();
    let app = Application::build(settings, Clock::system()).await?;
    tracing::info!("listening on port {}; open {public}", app.port());
    app.run_until_stopped().await?;
    Ok(())
}

async fn admin_connection(settings: &Settings) -> anyhow::Result<hybrid_auth::db::PgConn> {
    hybrid_auth::db::setup::prepare_database(settings).await?;
    let pool = hybrid_auth::db::build_pool(&settings.database_url, 1)?;
    Ok(hybrid_auth::db::conn(&pool).await?)
}

/// `hybrid-auth keys rotate`: a new active signing key; the old one keeps
/// verifying until its tokens have expired. Running instances pick the new
/// key up within a minute (or at once, when they meet its `kid`).
async fn rotate_keys(settings: Settings) -> anyhow::Result<()> {
    let mut conn = admin_connection(&settings).await?;
    let clock = Clock::system();
    let retention = hybrid_auth::auth::signing_keys::retention(
        settings.access_token_ttl,
        settings.clock_skew_leeway,
    );
    let kid = hybrid_auth::auth::signing_keys::rotate(&mut conn, clock.now(), retention).await?;
    println!("new active signing key: {kid}");
    Ok(())
}

/// `hybrid-auth purge`: delete expired and dead rows now.
async fn purge(settings: Settings) -> anyhow::Result<()> {
    let mut conn = admin_connection(&settings).await?;
    let purged = hybrid_auth::maintenance::purge(
        &mut conn,
        Clock::system().now(),
        settings.refresh_reuse_grace,
    )
    .await?;
    println!(
        "purged: {} refresh tokens, {} session states, {} login failures, {} sessions",
        purged.refresh_tokens, purged.session_state, purged.login_failures, purged.sessions
    );
    Ok(())
}
