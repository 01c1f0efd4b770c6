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
