//! The command line: `hybrid-auth [COMMAND]`. `serve` (the default) runs the
//! app; the rest are operator commands that work on the database directly.
//! Changes to sessions and keys are announced with NOTIFY, so running
//! instances apply them within a second. Exit status: 0 success, 1 failure,
//! 2 usage or configuration error.

use crate::auth::account::suspension;
use crate::auth::credentials::password::{self, Hasher};
use crate::auth::email::Email;
use crate::auth::keys::service_clients;
use crate::auth::sessions::revocation::RevocationView;
use crate::auth::sessions::{self, Target};
use crate::auth::tokens::keys::{self, Retire};
use crate::auth::tokens::scopes::{self, Scope};
use crate::auth::RevokeReason;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{self, setup, users};
use crate::startup::Application;
use clap::{Parser, Subcommand};
use std::io::{BufRead, IsTerminal};
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

#[derive(Parser, Debug)]
#[command(
    name = env!("CARGO_PKG_NAME"),
    version,
    about = "Web sessions, scoped JWTs and one revocation model, on Postgres.",
    long_about = "Web sessions, scoped JWTs and one revocation model, on Postgres.\n\n\
        Without a command, serves HTTP. Settings come from the environment (and a .env file): \
        see docs/configuration.md. Exit status: 0 success, 1 failure, 2 usage error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve HTTP on BIND_ADDR (the default).
    Serve,
    /// Create the database if missing and run pending migrations, then exit.
    Migrate,
    /// Create users, change their scopes, list them.
    #[command(subcommand)]
    User(UserCommand),
    /// List or revoke a user's sessions (running instances apply it at once).
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// List, rotate and retire the signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Service accounts (OAuth 2.0 client credentials).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Delete expired and dead rows now (the server also does it every PURGE_INTERVAL).
    Purge,
    /// Start your own project from this template: rename the package and the
    /// binary in ./Cargo.toml, and with them every name people see (APP_NAME's
    /// default: titles, mail sender, realm, audience, database, TOTP issuer,
    /// metrics). The library keeps the name `hybrid_auth`, so every
    /// `use` line works as it is. Needs no database.
    Rename {
        /// The new package and binary name, e.g. `my-app`.
        #[arg(value_name = "NAME")]
        name: String,
        /// The checkout to rename.
        #[arg(long, default_value = ".")]
        dir: std::path::PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user. The password is read from standard input when it is not
    /// a terminal (one line), otherwise prompted for twice; never an argument.
    Create {
        #[arg(long)]
        email: String,
        /// Scopes to grant (default: all of them).
        #[arg(long, num_args = 1.., value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Mark the email address as already verified.
        #[arg(long)]
        verified: bool,
    },
    /// Replace a user's scopes. Sessions keep the scope they were granted;
    /// the new grant applies from the next sign-in.
    SetScopes {
        #[arg(long)]
        email: String,
        #[arg(required = true, value_name = "SCOPE")]
        scopes: Vec<String>,
    },
    /// Add scopes to a user's grant (e.g. one kept out of the default grant).
    /// Sessions keep their scope; the new grant applies from the next sign-in.
    GrantScope {
        #[arg(long)]
        email: String,
        #[arg(required = true, value_name = "SCOPE")]
        scopes: Vec<String>,
    },
    /// Take scopes away from a user's grant, from the next sign-in on.
    RevokeScope {
        #[arg(long)]
        email: String,
        #[arg(required = true, value_name = "SCOPE")]
        scopes: Vec<String>,
    },
    /// List users.
    List {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Suspend a user: every session and API key ends on every instance at
    /// once, and every sign-in is refused (as a wrong password is) until
    /// `user enable`.
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Lift a suspension: the user may sign in again.
    Enable {
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Make a service account; prints its client id and secret (once).
    Create {
        #[arg(long)]
        name: String,
        /// The scopes its tokens may carry.
        #[arg(long, required = true, num_args = 1.., value_name = "SCOPE")]
        scopes: Vec<String>,
        /// `{"client_id","client_secret"}` instead of two lines.
        #[arg(long)]
        json: bool,
    },
    /// Add a second secret (printed once); both work until `retire-secret`.
    RotateSecret {
        #[arg(long, value_name = "ID")]
        client_id: Uuid,
    },
    /// Keep only the newest secret: the older ones stop working.
    RetireSecret {
        #[arg(long, value_name = "ID")]
        client_id: Uuid,
    },
    /// Disable a service account: its tokens stop on every instance at once,
    /// and it gets no new ones until `client enable`.
    Disable {
        #[arg(long, value_name = "ID")]
        client_id: Uuid,
    },
    /// Enable a service account again (its earlier tokens stay refused).
    Enable {
        #[arg(long, value_name = "ID")]
        client_id: Uuid,
    },
    /// List the service accounts.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum SessionsCommand {
    /// List a user's live sessions.
    List {
        #[arg(long)]
        email: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke one session of a user (--session), or all of them.
    Revoke {
        #[arg(long)]
        email: String,
        #[arg(long, value_name = "ID")]
        session: Option<Uuid>,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// List the signing keys and their states.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Make a new signing key. It is published in the JWKS at once and signs
    /// after KEY_ACTIVATION_DELAY, so that verifiers caching the JWKS know it first.
    Rotate {
        /// Sign with the new key at once (a compromised key); tokens signed
        /// by the old one stay valid until `keys retire`.
        #[arg(long)]
        now: bool,
    },
    /// Drop a key from verification and the JWKS on every instance at once:
    /// every token it signed stops working. The key that signs now cannot be
    /// retired: rotate with --now first.
    Retire {
        #[arg(value_name = "KID")]
        kid: String,
    },
}

/// Runs an operator command (everything but `serve`).
pub async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            setup::prepare_database(&settings).await?;
            println!("database ready: migrations applied");
            Ok(())
        }
        Command::User(c) => user(c, &settings).await,
        Command::Sessions(c) => sessions_command(c, &settings).await,
        Command::Keys(c) => keys(c, &settings).await,
        Command::Client(c) => client_command(c, &settings).await,
        Command::Rename { name, dir } => rename(&dir, &name),
        Command::Purge => {
            let mut conn = connect(&settings).await?;
            let p = crate::maintenance::purge(
                &mut conn,
                Clock::system().now(),
                settings.refresh_reuse_grace,
            )
            .await?;
            println!(
                "purged: {} refresh tokens, {} session states, {} login failures, {} sessions, \
                 {} expired links, {} delivered mails",
                p.refresh_tokens,
                p.session_state,
                p.login_failures,
                p.sessions,
                p.account_tokens,
                p.mails
            );
            Ok(())
        }
    }
}

pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let public = settings.public_url.clone();
    let app = Application::build(settings, Clock::system()).await?;
    tracing::info!("listening on port {}; open {public}", app.port());
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn connect(settings: &Settings) -> anyhow::Result<db::PgConn> {
    setup::prepare_database(settings).await?;
    let pool = db::build_pool(&settings.database_url, 1, db::Mode::of(settings))?;
    Ok(db::conn(&pool).await?)
}

fn fmt_time(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// `hybrid-auth rename NAME`: the template's package and binary names in
/// `dir/Cargo.toml` become `name`.
fn rename(dir: &std::path::Path, name: &str) -> anyhow::Result<()> {
    let path = dir.join("Cargo.toml");
    let text =
        std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    std::fs::write(&path, rename_manifest(&text, env!("CARGO_PKG_NAME"), name)?)?;
    println!(
        "renamed the package and the binary to `{name}` in {}; `cargo run` and `cargo test` \
         work as before (the binary is now target/debug/{name}, the default database `{}`)",
        path.display(),
        crate::config::default_database_name(name)
    );
    Ok(())
}

/// The manifest `text` with the package and binary names (`from`, twice:
/// this build's package name) replaced by `name`.
pub fn rename_manifest(text: &str, from: &str, name: &str) -> anyhow::Result<String> {
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        anyhow::bail!(
            "`{name}` is not a package name: letters, digits, `-` and `_`, starting with a letter"
        );
    }
    let template = format!("name = \"{from}\"");
    if text.lines().filter(|l| l.trim() == template).count() != 2 {
        anyhow::bail!(
            "this Cargo.toml does not name the package and the binary `{from}` (this binary's \
             name): run the `rename` of the project you are renaming"
        );
    }
    let renamed: Vec<String> = text
        .lines()
        .map(|l| {
            if l.trim() == template {
                format!("name = \"{name}\"")
            } else {
                l.to_owned()
            }
        })
        .collect();
    Ok(renamed.join("\n") + "\n")
}

/// Scope names given on the command line, each one of the catalogue.
fn known_scopes(names: &[String]) -> anyhow::Result<Vec<Scope>> {
    names
        .iter()
        .map(|name| {
            Scope::parse(name).ok_or_else(|| {
                let known: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
                anyhow::anyhow!("unknown scope `{name}` (known: {})", known.join(", "))
            })
        })
        .collect()
}

/// Scope names given on the command line, checked and in canonical order.
fn parse_scopes(names: &[String]) -> anyhow::Result<String> {
    let scopes = known_scopes(names)?;
    Ok(scopes::with("", &scopes))
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Repeat the password: ")?;
        if first != second {
            anyhow::bail!("the two passwords do not match");
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

async fn find_user(conn: &mut db::PgConn, email: &str) -> anyhow::Result<users::User> {
    let email = Email::parse(email).map_err(|m| anyhow::anyhow!("{m}"))?;
    users::find_by_email(conn, email.as_str())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user with the email {}", email.as_str()))
}

async fn user(command: UserCommand, settings: &Settings) -> anyhow::Result<()> {
    let mut conn = connect(settings).await?;
    let now = Clock::system().now();
    // grant-scope adds to the grant, revoke-scope takes away.
    let change: fn(&str, &[Scope]) -> String = match command {
        UserCommand::RevokeScope { .. } => scopes::without,
        _ => scopes::with,
    };
    match command {
        UserCommand::Create {
            email,
            scopes,
            verified,
        } => {
            let email = Email::parse(&email).map_err(|m| anyhow::anyhow!("{m}"))?;
            let grant = if scopes.is_empty() {
                scopes::default_grant()
            } else {
                parse_scopes(&scopes)?
            };
            let secret = read_password()?;
            password::check_new(&secret).map_err(|m| anyhow::anyhow!("{m}"))?;
            let hash = password::hash(&Hasher::new(1, 0), secret)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let new = users::NewUser {
                id: Uuid::now_v7(),
                email: email.as_str(),
                password_hash: &hash,
                scopes: &grant,
                created_at: now,
                updated_at: now,
                email_verified_at: verified.then_some(now),
            };
            if !users::insert(&mut conn, &new).await? {
                anyhow::bail!("a user with the email {} exists already", email.as_str());
            }
            println!(
                "created user {} ({}) with scopes: {grant}",
                email.as_str(),
                new.id
            );
        }
        UserCommand::GrantScope { email, scopes } | UserCommand::RevokeScope { email, scopes } => {
            let user = find_user(&mut conn, &email).await?;
            let grant = change(&user.scopes, &known_scopes(&scopes)?);
            users::set_scopes(&mut conn, user.id, &grant, now).await?;
            println!(
                "{}: scopes now `{grant}` (from the next sign-in)",
                user.email
            );
        }
        UserCommand::SetScopes { email, scopes } => {
            let user = find_user(&mut conn, &email).await?;
            let grant = parse_scopes(&scopes)?;
            users::set_scopes(&mut conn, user.id, &grant, now).await?;
            println!(
                "{}: scopes now `{grant}` (sessions keep theirs until the user signs in again)",
                user.email
            );
        }
        UserCommand::Disable { email } => {
            let user = find_user(&mut conn, &email).await?;
            let clock = Clock::system();
            let view = detached_view(settings, &clock)?;
            let ended = suspension::disable(&view, &clock, &mut conn, user.id)
                .await?
                .unwrap_or(0);
            println!(
                "{}: suspended; {ended} session(s) and key(s) ended on every instance",
                user.email
            );
        }
        UserCommand::Enable { email } => {
            let user = find_user(&mut conn, &email).await?;
            suspension::enable(&Clock::system(), &mut conn, user.id).await?;
            println!("{}: enabled; they may sign in again", user.email);
        }
        UserCommand::List { json } => {
            let all = users::all(&mut conn).await?;
            if json {
                let rows: Vec<_> = all
                    .iter()
                    .map(|u| {
                        serde_json::json!({
                            "id": u.id,
                            "email": u.email,
                            "scopes": u.scopes,
                            "verified": u.email_verified_at.is_some(),
                            "created_at": fmt_time(u.created_at),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                println!("{:<36}  {:<32}  {:<8}  scopes", "id", "email", "verified");
                for u in all {
                    let verified = if u.email_verified_at.is_some() {
                        "yes"
                    } else {
                        "no"
                    };
                    println!(
                        "{:<36}  {:<32}  {:<8}  {}",
                        u.id, u.email, verified, u.scopes
                    );
                }
            }
        }
    }
    Ok(())
}

async fn sessions_command(command: SessionsCommand, settings: &Settings) -> anyhow::Result<()> {
    let mut conn = connect(settings).await?;
    let clock = Clock::system();
    match command {
        SessionsCommand::List { email, json } => {
            let user = find_user(&mut conn, &email).await?;
            let live = db::sessions::live_for_user(&mut conn, user.id, clock.now()).await?;
            if json {
                let rows: Vec<_> = live
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "id": s.id,
                            "kind": s.kind,
                            "scope": s.scope,
                            "created_at": fmt_time(s.created_at),
                            "last_seen_at": fmt_time(s.last_seen_at),
                            "ip": s.ip,
                            "user_agent": s.user_agent,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                println!(
                    "{:<36}  {:<4}  {:<20}  {:<20}  ip",
                    "id", "kind", "created", "last seen"
                );
                for s in live {
                    println!(
                        "{:<36}  {:<4}  {:<20}  {:<20}  {}",
                        s.id,
                        s.kind,
                        fmt_time(s.created_at),
                        fmt_time(s.last_seen_at),
                        s.ip
                    );
                }
            }
        }
        SessionsCommand::Revoke { email, session } => {
            let user = find_user(&mut conn, &email).await?;
            let target = match session {
                Some(id) => {
                    let owned = db::sessions::find(&mut conn, id)
                        .await?
                        .is_some_and(|s| s.user_id == user.id);
                    if !owned {
                        anyhow::bail!("{} has no session {id}", user.email);
                    }
                    Target::One(id)
                }
                None => Target::AllOfUser {
                    user_id: user.id,
                    keep: None,
                },
            };
            let detached = detached_view(settings, &clock)?;
            let ids = sessions::revoke_with(
                &detached,
                &clock,
                &mut conn,
                target,
                RevokeReason::RevokedByAdmin,
                "",
            )
            .await?;
            println!("revoked {} session(s) of {}", ids.len(), user.email);
        }
    }
    Ok(())
}

/// A revocation view for a command: this process has none of its own to
/// keep current; running instances learn of a revocation through NOTIFY.
fn detached_view(settings: &Settings, clock: &Clock) -> anyhow::Result<RevocationView> {
    let pool = db::build_pool(&settings.database_url, 1, db::Mode::of(settings))?;
    Ok(RevocationView::new(
        settings.access_token_ttl,
        clock.clone(),
        pool,
        settings.listener_heartbeat,
    ))
}

async fn client_command(command: ClientCommand, settings: &Settings) -> anyhow::Result<()> {
    let mut conn = connect(settings).await?;
    let now = Clock::system().now();
    let unknown = |id: Uuid| anyhow::anyhow!("no service account {id}");
    match command {
        ClientCommand::Create { name, scopes, json } => {
            let scopes = known_scopes(&scopes)?;
            let created = service_clients::create(&mut conn, &name, &scopes, now).await?;
            if json {
                let out = serde_json::json!({
                    "client_id": created.client_id,
                    "client_secret": created.secret,
                });
                println!("{out}");
            } else {
                println!("client_id: {}", created.client_id);
                println!("client_secret: {}", created.secret);
            }
        }
        ClientCommand::RotateSecret { client_id } => {
            let secret = service_clients::rotate_secret(&mut conn, client_id, now)
                .await?
                .ok_or_else(|| unknown(client_id))?;
            println!("client_secret: {secret}");
            eprintln!("both secrets work until `client retire-secret --client-id {client_id}`");
        }
        ClientCommand::RetireSecret { client_id } => {
            let n = service_clients::retire_old_secrets(&mut conn, client_id)
                .await?
                .ok_or_else(|| unknown(client_id))?;
            println!("retired {n} older secret(s) of {client_id}");
        }
        ClientCommand::Disable { client_id } => {
            if !service_clients::disable(&mut conn, client_id, now).await? {
                return Err(unknown(client_id));
            }
            println!("disabled {client_id}: its tokens stop on every instance");
        }
        ClientCommand::Enable { client_id } => {
            if !service_clients::enable(&mut conn, client_id).await? {
                return Err(unknown(client_id));
            }
            println!("enabled {client_id}");
        }
        ClientCommand::List { json } => {
            let all = db::service_clients::list(&mut conn).await?;
            if json {
                let rows: Vec<_> = all
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "client_id": c.id,
                            "name": c.name,
                            "scopes": c.scopes,
                            "disabled": c.disabled_at.is_some(),
                            "created_at": fmt_time(c.created_at),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else {
                println!(
                    "{:<36}  {:<8}  {:<24}  scopes",
                    "client_id", "state", "name"
                );
                for c in all {
                    let state = if c.disabled_at.is_some() {
                        "disabled"
                    } else {
                        "enabled"
                    };
                    println!("{:<36}  {:<8}  {:<24}  {}", c.id, state, c.name, c.scopes);
                }
            }
        }
    }
    Ok(())
}

async fn keys(command: KeysCommand, settings: &Settings) -> anyhow::Result<()> {
    let mut conn = connect(settings).await?;
    let now = Clock::system().now();
    let retention = keys::retention(settings.access_token_ttl, settings.clock_skew_leeway);
    match command {
        KeysCommand::List { json } => {
            let keys = db::signing_keys::list(&mut conn).await?;
            if json {
                println!("{}", serde_json::to_string(&keys)?);
            } else {
                println!(
                    "{:<16}  {:<8}  {:<20}  {:<20}  retired",
                    "kid", "state", "created", "activates"
                );
                for k in keys {
                    println!(
                        "{:<16}  {:<8}  {:<20}  {:<20}  {}",
                        k.kid,
                        k.state,
                        fmt_time(k.created_at),
                        fmt_time(k.activates_at),
                        k.retired_at.map(fmt_time).unwrap_or_default()
                    );
                }
            }
        }
        KeysCommand::Rotate { now: at_once } => {
            let delay = if at_once {
                time::Duration::ZERO
            } else {
                settings.key_activation_delay
            };
            let (kid, activates) = keys::rotate(&mut conn, now, retention, delay).await?;
            if at_once {
                println!("new signing key {kid}: signing now");
            } else {
                println!(
                    "new signing key {kid}: in the JWKS now, signing from {}",
                    fmt_time(activates)
                );
            }
        }
        KeysCommand::Retire { kid } => match keys::retire(&mut conn, &kid, now, retention).await? {
            Retire::Retired => println!("retired key {kid}: its tokens are no longer accepted"),
            Retire::Unknown => anyhow::bail!("no key {kid}"),
            Retire::IsSigningKey => {
                anyhow::bail!("{kid} is the signing key: run `keys rotate --now` first")
            }
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::rename_manifest;

    #[test]
    fn rename_touches_the_package_and_the_binary_only() {
        let manifest = include_str!("../Cargo.toml");
        let this = env!("CARGO_PKG_NAME");
        let new = if this == "my-app" {
            "my-other-app"
        } else {
            "my-app"
        };
        let renamed = rename_manifest(manifest, this, new).unwrap();
        assert_eq!(renamed.matches(&format!("name = \"{new}\"")).count(), 2);
        assert!(
            renamed.contains("name = \"hybrid_auth\""),
            "the library keeps its name"
        );
        assert!(!renamed.contains(&format!("name = \"{this}\"")));
        // What is renamed renames again, from its new name only.
        assert!(rename_manifest(&renamed, this, "other").is_err());
        assert!(rename_manifest(&renamed, new, "other").is_ok());
        for bad in ["", "1app", "my app", "a/b", "x\"y"] {
            assert!(rename_manifest(manifest, this, bad).is_err(), "{bad}");
        }
    }
}
