//! The `hybrid-auth` binary: parses the command line and the settings, sets
//! up logging, and hands over to `cli`. Exit status: 0 success, 1 failure,
//! 2 usage or configuration error.

use clap::Parser;
use hybrid_auth::cli::{self, Cli, Command};
use hybrid_auth::config::{LogFormat, Settings};
use std::io::IsTerminal;
use std::process::ExitCode;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// RUST_LOG (a bare level: `debug`, `warn`…) for this crate; other crates are
/// capped at `info`, because some of them log raw requests (cookies,
/// Authorization headers) at debug and trace.
fn init_tracing(format: LogFormat) {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = Targets::new()
        .with_target("hybrid_auth", level)
        .with_default(level.min(LevelFilter::INFO));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        // Colour only on a terminal: a log redirected to a file stays
        // greppable (`grep 'link=http'`).
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_ansi(std::io::stdout().is_terminal()),
            )
            .try_init(),
    };
    if let Err(e) = result {
        eprintln!("warning: logging not set up: {e}");
    }
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse(); // usage errors exit 2, --help and --version 0
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(settings.log_format);
    match cli::run(cli.command.unwrap_or(Command::Serve), settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
