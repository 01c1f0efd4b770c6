//! Settings from the environment (docs/http-api.md#configuration). `.env` is read if present.
//! A bad value stops start-up with an error naming the variable.

use secrecy::{SecretSlice, SecretString};
use std::net::IpAddr;
use time::Duration;

/// A Postgres URL, which may carry a password: it reads as the `&str` it
/// holds, and its `Debug` shows it with the password redacted, so logging
/// `Settings` never prints a credential.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl(String);

impl std::ops::Deref for DbUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<String> for DbUrl {
    fn from(url: String) -> Self {
        DbUrl(url)
    }
}

impl std::fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", redact_url(&self.0))
    }
}

/// Hides passwords in a postgres URL for messages: the one in the user-info
/// part and a `password=` query parameter.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match (base.find("://"), base.rfind('@')) {
        (Some(s), Some(at)) if at > s => match base[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{}:***{}", &base[..s + 3], user, &base[at..]),
            None => base.to_owned(),
        },
        _ => base.to_owned(),
    };
    match query {
        None => base,
        Some(q) => {
            let params: Vec<String> = q
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_owned(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
    }
}

/// The package's name, as Cargo.toml states it: APP_NAME's default, so that
/// `rename` renames everything people see.
pub const PACKAGE_NAME: &str = env!("CARGO_PKG_NAME");

/// What APP_NAME may be: it goes into a `realm="…"`, a mail's sender name
/// and a TOTP label, so no quotes, colons or control characters.
fn valid_app_name(name: &str) -> bool {
    (1..=64).contains(&name.chars().count())
        && name.starts_with(|c: char| c.is_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
}

/// DATABASE_URL's database when it is not given: APP_NAME in lower case with
/// `_` for everything but letters and digits (`hybrid-auth` → `hybrid_auth`).
pub fn default_database_name(app_name: &str) -> String {
    app_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// The name people see (APP_NAME; default the package name): page
    /// titles, the sender of mail, the realm, the OpenAPI title, the TOTP
    /// issuer, and the defaults of DATABASE_URL,
    /// JWT_AUDIENCE and MAIL_FROM.
    pub app_name: String,
    /// The longest expiry a user may give an API key (API_KEY_MAX_TTL,
    /// default 365d).
    pub api_key_max_ttl: Duration,
    pub database_url: DbUrl,
    pub bind_addr: String,
    /// External origin, without a trailing slash (`iss`, Origin checks).
    pub public_url: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub session_idle_timeout: Duration,
    pub session_absolute_timeout: Duration,
    pub clock_skew_leeway: Duration,
    pub refresh_reuse_grace: Duration,
    pub cookie_secure: bool,
    pub jwt_audience: String,
    pub registration_open: bool,
    pub login_max_failures: u32,
    /// How recent a session's authentication must be for a sensitive action
    /// (REAUTH_WINDOW), e.g. deleting the account through the API.
    pub reauth_window: Duration,
    /// Peers whose `X-Forwarded-For` is believed (TRUSTED_PROXIES, comma-separated IPs).
    pub trusted_proxies: Vec<IpAddr>,
    /// Optional overrides of the secrets otherwise generated and kept in Postgres
    /// (base64url; see docs/configuration.md, "Secrets").
    pub session_cookie_key: Option<SecretSlice<u8>>,
    pub csrf_key: Option<SecretSlice<u8>>,
    pub refresh_mac_key: Option<SecretSlice<u8>>,
    /// FACTOR_KEY: seals TOTP secrets (and keys the pending second-step
    /// cookie) from outside the database; secrets sealed under the key kept
    /// in the database are re-sealed at start.
    pub factor_key: Option<SecretSlice<u8>>,
    /// Background purge interval (PURGE_INTERVAL, default 1h; `0s` disables).
    pub purge_interval: Duration,
    /// HTTP worker threads (WORKERS; default: one per core).
    pub workers: usize,
    /// Password hashes run at once (PASSWORD_HASH_CONCURRENCY; default two per core).
    pub hash_concurrency: usize,
    /// Requests that may wait for a hashing slot before 503 (PASSWORD_HASH_QUEUE; default 64).
    pub hash_queue: usize,
    /// A direct (non-pooled) connection for LISTEN (LISTENER_DATABASE_URL;
    /// default DATABASE_URL), for deployments behind PgBouncer.
    pub listener_database_url: Option<DbUrl>,
    /// Pooled connections per instance (DATABASE_POOL_SIZE, default 16).
    pub database_pool_size: usize,
    /// How the revocation listener proves delivery (not read from the
    /// environment; tests shorten it).
    pub listener_heartbeat: Heartbeat,
    /// A rotated key is published at once and signs after this delay
    /// (KEY_ACTIVATION_DELAY, default 5m); the JWKS max-age never exceeds it.
    pub key_activation_delay: Duration,
    /// Where Prometheus metrics are served (METRICS_BIND_ADDR; unset: nowhere).
    pub metrics_bind_addr: Option<String>,
    /// LOG_FORMAT: `pretty` (default) or `json`.
    pub log_format: LogFormat,
    /// MAIL_URL: `smtp://host:port`, `smtp+starttls://user:pass@host:587`,
    /// `smtps://user:pass@host:465`; unset: mails go to `mail_outbox_dir`.
    pub mail_url: Option<SecretString>,
    /// MAIL_OUTBOX_DIR (default `mail-outbox`): where mails are written
    /// while MAIL_URL is unset.
    pub mail_outbox_dir: String,
    /// MAIL_FROM (default `{APP_NAME} <no-reply@localhost>`).
    pub mail_from: String,
    /// PASSWORD_RESET_TTL (default 30m).
    pub password_reset_ttl: Duration,
    /// EMAIL_VERIFY_TTL (default 24h).
    pub email_verify_ttl: Duration,
    /// EMAIL_VERIFICATION: `optional` (default) or `required`.
    pub email_verification_required: bool,
    /// OIDC_PROVIDERS and each provider's OIDC_<NAME>_* settings.
    pub oidc_providers: Vec<OidcProvider>,
}

/// An OpenID provider to sign in through (OIDC_<NAME>_*): its metadata comes
/// from `{issuer}/.well-known/openid-configuration`.
#[derive(Clone, Debug)]
pub struct OidcProvider {
    /// The name in paths (`/login/oidc/{name}`), lower case.
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// The button text ("Continue with LABEL"); default the name.
    pub label: String,
}

/// Reads OIDC_PROVIDERS and, for each name, its OIDC_<NAME>_* variables.
fn oidc_providers(get: impl Fn(&str) -> Option<String>) -> Result<Vec<OidcProvider>, ConfigError> {
    const VAR: &str = "OIDC_PROVIDERS";
    let mut providers: Vec<OidcProvider> = Vec::new();
    for name in get(VAR).unwrap_or_default().split(',').map(str::trim) {
        if name.is_empty() {
            continue;
        }
        let name = name.to_ascii_lowercase();
        let valid = name.len() <= 32
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            return Err(err(
                VAR,
                format!("`{name}` must be letters, digits and dashes (32 at most)"),
            ));
        }
        if providers.iter().any(|p| p.name == name) {
            return Err(err(VAR, format!("`{name}` is named twice")));
        }
        let prefix = format!("OIDC_{}", name.to_ascii_uppercase().replace('-', "_"));
        let required = |suffix: &str| {
            get(&format!("{prefix}_{suffix}"))
                .map(|v| v.trim().to_owned())
                .ok_or_else(|| err(VAR, format!("{prefix}_{suffix} is not set")))
        };
        let issuer = required("ISSUER")?;
        let local =
            issuer.starts_with("http://127.0.0.1") || issuer.starts_with("http://localhost");
        if !(issuer.starts_with("https://") || local) {
            return Err(err(
                VAR,
                format!("{prefix}_ISSUER must be an https:// URL (http only on loopback)"),
            ));
        }
        providers.push(OidcProvider {
            label: get(&format!("{prefix}_LABEL"))
                .map(|v| v.trim().to_owned())
                .unwrap_or_else(|| name.clone()),
            issuer,
            client_id: required("CLIENT_ID")?,
            client_secret: SecretString::from(required("CLIENT_SECRET")?),
            name,
        });
    }
    Ok(providers)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// How the revocation listener proves that notifications arrive: every
/// `heartbeat` it NOTIFYs its own channel through the pool, and the view
/// vouches only while an echo (or any notification) arrived within
/// `alive_window`. So a connection that is up but receives nothing (LISTEN
/// behind a transaction-mode PgBouncer) goes stale too.
#[derive(Debug, Clone, Copy)]
pub struct Heartbeat {
    pub heartbeat: std::time::Duration,
    pub alive_window: std::time::Duration,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            heartbeat: std::time::Duration::from_secs(1),
            alive_window: std::time::Duration::from_secs(5),
        }
    }
}

/// The longest duration any setting accepts.
pub const MAX_DURATION: Duration = Duration::days(3653);

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

fn err(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

impl Settings {
    /// Reads the process environment (after loading `.env`, if any).
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds settings from any name → value lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let text =
            |name: &'static str, default: &str| get(name).unwrap_or_else(|| default.to_owned());
        let duration = |name: &'static str, default: &str| -> Result<Duration, ConfigError> {
            let raw = text(name, default);
            let std = humantime::parse_duration(raw.trim()).map_err(|e| {
                err(
                    name,
                    format!("`{raw}` is not a duration like 90s, 15m, 2h, 14d ({e})"),
                )
            })?;
            let d = Duration::try_from(std).map_err(|_| err(name, "duration out of range"))?;
            // Bounded so that `now + d` can never overflow a date.
            if d > MAX_DURATION {
                return Err(err(name, format!("`{raw}` is too long (at most 10 years)")));
            }
            Ok(d)
        };
        let positive = |name: &'static str, default: &str| -> Result<Duration, ConfigError> {
            let d = duration(name, default)?;
            if d <= Duration::ZERO {
                return Err(err(name, "must be greater than zero"));
            }
            Ok(d)
        };

        let app_name = text("APP_NAME", PACKAGE_NAME).trim().to_owned();
        if !valid_app_name(&app_name) {
            return Err(err(
                "APP_NAME",
                "must be 1 to 64 letters, digits, spaces, `-`, `_` or `.`, starting with a letter or digit",
            ));
        }
        let database_url = text(
            "DATABASE_URL",
            &format!(
                "postgres://postgres@127.0.0.1:5432/{}",
                default_database_name(&app_name)
            ),
        );
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(err("DATABASE_URL", "must be a postgres:// URL"));
        }
        let bind_addr = text("BIND_ADDR", "127.0.0.1:8080");
        let public_url = normalize_origin(&text("PUBLIC_URL", "http://localhost:8080"));
        let https = public_url.starts_with("https://");
        if !(https || public_url.starts_with("http://")) || public_url.matches('/').count() != 2 {
            return Err(err(
                "PUBLIC_URL",
                "must be an origin such as https://auth.example.com (no path)",
            ));
        }
        let cookie_secure = match get("COOKIE_SECURE") {
            None => https,
            Some(v) => {
                parse_bool(&v).ok_or_else(|| err("COOKIE_SECURE", "must be true or false"))?
            }
        };
        let registration_open = match text("REGISTRATION", "open").trim() {
            "open" => true,
            "closed" => false,
            other => {
                return Err(err(
                    "REGISTRATION",
                    format!("`{other}` must be `open` or `closed`"),
                ))
            }
        };
        let login_max_failures = text("LOGIN_MAX_FAILURES", "5")
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| err("LOGIN_MAX_FAILURES", "must be a whole number above zero"))?;
        let trusted_proxies = text("TRUSTED_PROXIES", "")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpAddr>()
                    .map(|ip| ip.to_canonical())
                    .map_err(|_| err("TRUSTED_PROXIES", format!("`{s}` is not an IP address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let key = |name: &'static str,
                   min: usize|
         -> Result<Option<SecretSlice<u8>>, ConfigError> {
            get(name)
                .map(|v| {
                    // base64url, or standard base64 (`+` and `/`).
                    let text = v
                        .trim()
                        .trim_end_matches('=')
                        .replace('+', "-")
                        .replace('/', "_");
                    base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, text)
                        .ok()
                        .filter(|k| k.len() >= min)
                        .map(SecretSlice::from)
                        .ok_or_else(|| {
                            err(name, format!("must be base64url of at least {min} bytes"))
                        })
                })
                .transpose()
        };

        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let count =
            |name: &'static str, default: usize, min: usize| -> Result<usize, ConfigError> {
                match get(name) {
                    None => Ok(default),
                    Some(v) => v
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n >= min && *n <= 100_000)
                        .ok_or_else(|| {
                            err(name, format!("must be a whole number from {min} to 100000"))
                        }),
                }
            };
        let jwt_audience = text("JWT_AUDIENCE", &format!("{app_name}-api"));
        let mail_from = text("MAIL_FROM", &format!("{app_name} <no-reply@localhost>"));
        let settings = Settings {
            app_name,
            api_key_max_ttl: positive("API_KEY_MAX_TTL", "365d")?,
            jwt_audience,
            mail_from,
            oidc_providers: oidc_providers(get)?,
            access_token_ttl: positive("ACCESS_TOKEN_TTL", "15m")?,
            refresh_token_ttl: positive("REFRESH_TOKEN_TTL", "14d")?,
            session_idle_timeout: positive("SESSION_IDLE_TIMEOUT", "2h")?,
            session_absolute_timeout: positive("SESSION_ABSOLUTE_TIMEOUT", "30d")?,
            clock_skew_leeway: duration("CLOCK_SKEW_LEEWAY", "30s")?,
            refresh_reuse_grace: duration("REFRESH_REUSE_GRACE", "10s")?,
            session_cookie_key: key("SESSION_COOKIE_KEY", 64)?,
            csrf_key: key("CSRF_KEY", 32)?,
            refresh_mac_key: key("REFRESH_MAC_KEY", 32)?,
            factor_key: match key("FACTOR_KEY", 32)? {
                Some(k) if secrecy::ExposeSecret::expose_secret(&k).len() != 32 => {
                    return Err(err("FACTOR_KEY", "must be base64 of exactly 32 bytes"))
                }
                other => other,
            },
            purge_interval: duration("PURGE_INTERVAL", "1h")?,
            hash_concurrency: count("PASSWORD_HASH_CONCURRENCY", cores * 2, 1)?,
            hash_queue: count("PASSWORD_HASH_QUEUE", 64, 0)?,
            workers: match get("WORKERS") {
                None => std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2),
                Some(v) => v
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0 && *n <= 256)
                    .ok_or_else(|| err("WORKERS", "must be a whole number from 1 to 256"))?,
            },
            listener_database_url: match get("LISTENER_DATABASE_URL") {
                None => None,
                Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                    Some(DbUrl(url))
                }
                Some(_) => return Err(err("LISTENER_DATABASE_URL", "must be a postgres:// URL")),
            },
            database_pool_size: count("DATABASE_POOL_SIZE", 16, 1)?,
            listener_heartbeat: Heartbeat::default(),
            key_activation_delay: duration("KEY_ACTIVATION_DELAY", "5m")?,
            metrics_bind_addr: get("METRICS_BIND_ADDR").map(|v| v.trim().to_owned()),
            mail_url: match get("MAIL_URL") {
                None => None,
                Some(url)
                    if ["smtp://", "smtp+starttls://", "smtps://"]
                        .iter()
                        .any(|p| url.trim().starts_with(p)) =>
                {
                    Some(SecretString::from(url.trim().to_owned()))
                }
                Some(_) => {
                    return Err(err(
                        "MAIL_URL",
                        "must start with smtp://, smtp+starttls:// or smtps://",
                    ))
                }
            },
            mail_outbox_dir: text("MAIL_OUTBOX_DIR", "mail-outbox"),
            password_reset_ttl: positive("PASSWORD_RESET_TTL", "30m")?,
            reauth_window: positive("REAUTH_WINDOW", "10m")?,
            email_verify_ttl: positive("EMAIL_VERIFY_TTL", "24h")?,
            email_verification_required: match text("EMAIL_VERIFICATION", "optional").trim() {
                "optional" => false,
                "required" => true,
                other => {
                    return Err(err(
                        "EMAIL_VERIFICATION",
                        format!("`{other}` must be `optional` or `required`"),
                    ))
                }
            },
            log_format: match text("LOG_FORMAT", "pretty").trim() {
                "pretty" => LogFormat::Pretty,
                "json" => LogFormat::Json,
                other => {
                    return Err(err(
                        "LOG_FORMAT",
                        format!("`{other}` must be `pretty` or `json`"),
                    ))
                }
            },
            database_url: DbUrl(database_url),
            bind_addr,
            public_url,
            cookie_secure,
            registration_open,
            login_max_failures,
            trusted_proxies,
        };
        Ok(settings)
    }

    /// How the pool reaches Postgres: a LISTENER_DATABASE_URL other than
    /// DATABASE_URL says DATABASE_URL is a pooler, which may be in
    /// transaction mode, so every statement then keeps to a transaction.
    pub fn behind_transaction_pooler(&self) -> bool {
        matches!(&self.listener_database_url, Some(direct) if direct.0 != self.database_url.0)
    }

    /// Where the revocation listener connects, and the start-up migrations
    /// run: a direct connection (LISTENER_DATABASE_URL, else DATABASE_URL).
    pub fn listener_url(&self) -> &str {
        self.listener_database_url
            .as_deref()
            .unwrap_or(&self.database_url)
    }

    pub fn session_cookie_name(&self) -> &'static str {
        if self.cookie_secure {
            "__Host-session"
        } else {
            "session"
        }
    }

    /// The cookie that carries a sign-in between its password and its
    /// second factor.
    pub fn pending_cookie_name(&self) -> &'static str {
        if self.cookie_secure {
            "__Host-mfa-pending"
        } else {
            "mfa-pending"
        }
    }

    pub fn csrf_cookie_name(&self) -> &'static str {
        if self.cookie_secure {
            "__Host-csrf"
        } else {
            "csrf"
        }
    }

    /// Database name and a URL for the `postgres` maintenance database on the
    /// same server (used to create the app's database when missing).
    pub fn database_parts(&self) -> Option<(String, String)> {
        let (base, rest) = self.listener_url().rsplit_once('/')?;
        let (name, query) = match rest.split_once('?') {
            Some((n, q)) => (n, format!("?{q}")),
            None => (rest, String::new()),
        };
        if name.is_empty() || base.ends_with('/') {
            return None;
        }
        Some((name.to_owned(), format!("{base}/postgres{query}")))
    }
}

/// Writes an origin the way browsers send it in `Origin`: lower-case scheme
/// and host, no default port, no trailing slash.
fn normalize_origin(raw: &str) -> String {
    let trimmed = raw.trim().trim_end_matches('/');
    let Some((scheme, rest)) = trimmed.split_once("://") else {
        return trimmed.to_owned();
    };
    let scheme = scheme.to_ascii_lowercase();
    let mut host = rest.to_ascii_lowercase();
    let default_port = if scheme == "https" { ":443" } else { ":80" };
    if host.ends_with(default_port) {
        host.truncate(host.len() - default_port.len());
    }
    format!("{scheme}://{host}")
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn debug_output_never_shows_a_database_password() {
        let s = with(&[
            ("DATABASE_URL", "postgres://app:hunter2@db:5432/app"),
            (
                "LISTENER_DATABASE_URL",
                "postgres://app:hunter3@db:5432/app",
            ),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("hunter3"),
            "{shown}"
        );
        assert!(shown.contains("postgres://app:***@db:5432/app"), "{shown}");
        // The URL itself is untouched for use.
        assert_eq!(&*s.database_url, "postgres://app:hunter2@db:5432/app");
    }

    #[test]
    fn oidc_providers_are_read_per_name() {
        assert!(with(&[]).unwrap().oidc_providers.is_empty());
        let s = with(&[
            ("OIDC_PROVIDERS", "Google, work-sso"),
            ("OIDC_GOOGLE_ISSUER", "https://accounts.google.com"),
            ("OIDC_GOOGLE_CLIENT_ID", "id-1"),
            ("OIDC_GOOGLE_CLIENT_SECRET", "hunter2-secret"),
            ("OIDC_GOOGLE_LABEL", "Google"),
            ("OIDC_WORK_SSO_ISSUER", "https://sso.example.com/realms/x"),
            ("OIDC_WORK_SSO_CLIENT_ID", "id-2"),
            ("OIDC_WORK_SSO_CLIENT_SECRET", "s2"),
        ])
        .unwrap();
        let names: Vec<_> = s.oidc_providers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["google", "work-sso"]);
        assert_eq!(s.oidc_providers[0].label, "Google");
        assert_eq!(
            s.oidc_providers[1].label, "work-sso",
            "the label defaults to the name"
        );
        assert!(
            !format!("{s:?}").contains("hunter2-secret"),
            "secrets are redacted"
        );
    }

    #[test]
    fn bad_oidc_settings_stop_start_up_naming_the_variable() {
        let missing = with(&[
            ("OIDC_PROVIDERS", "x"),
            ("OIDC_X_ISSUER", "https://a.example"),
        ]);
        assert!(missing.unwrap_err().message.contains("OIDC_X_CLIENT_ID"));
        let http = with(&[
            ("OIDC_PROVIDERS", "x"),
            ("OIDC_X_ISSUER", "http://a.example"),
            ("OIDC_X_CLIENT_ID", "i"),
            ("OIDC_X_CLIENT_SECRET", "s"),
        ]);
        assert!(http.unwrap_err().message.contains("https"));
        assert!(with(&[("OIDC_PROVIDERS", "a/b")]).is_err());
        assert!(with(&[("OIDC_PROVIDERS", "a,a")]).is_err());
    }

    #[test]
    fn env_example_lists_every_setting_with_its_default() {
        let text = include_str!("../.env.example");
        let mut vars: Vec<(String, String)> = Vec::new();
        for item in dotenvy::from_read_iter(text.as_bytes()) {
            let (k, v) = item.expect("a readable .env.example");
            vars.push((k, v));
        }
        let as_listed = with(
            &vars
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
        .expect(".env.example is a valid configuration");
        assert_eq!(
            format!("{as_listed:?}"),
            format!("{:?}", with(&[]).unwrap()),
            "every value in .env.example is the default"
        );
        // Every variable this module reads is named there (set or commented).
        let source = include_str!("config.rs");
        let source = source.split("#[cfg(test)]").next().unwrap();
        for name in source.split('"').skip(1).step_by(2) {
            let is_var = name.len() > 2
                && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                && name.contains('_')
                && !name.starts_with("CARGO_");
            if is_var {
                assert!(
                    text.contains(&format!("{name}=")),
                    "{name} is missing from .env.example"
                );
            }
        }
    }

    #[test]
    fn defaults_match_the_contract() {
        let s = with(&[]).unwrap();
        assert_eq!(s.access_token_ttl, Duration::minutes(15));
        assert_eq!(s.refresh_token_ttl, Duration::days(14));
        assert_eq!(s.session_idle_timeout, Duration::hours(2));
        assert_eq!(s.session_absolute_timeout, Duration::days(30));
        assert_eq!(s.clock_skew_leeway, Duration::seconds(30));
        assert_eq!(s.refresh_reuse_grace, Duration::seconds(10));
        assert!(!s.cookie_secure);
        assert_eq!(s.session_cookie_name(), "session");
        assert_eq!(s.app_name, env!("CARGO_PKG_NAME"));
        assert_eq!(s.api_key_max_ttl, Duration::days(365));
        assert_eq!(s.jwt_audience, format!("{}-api", env!("CARGO_PKG_NAME")));
        assert_eq!(
            s.mail_from,
            format!("{} <no-reply@localhost>", env!("CARGO_PKG_NAME"))
        );
        assert!(s
            .database_url
            .0
            .ends_with(&format!("/{}", env!("CARGO_PKG_NAME").replace('-', "_"))));
        assert!(s.registration_open);
        assert_eq!(s.login_max_failures, 5);
        assert_eq!(s.public_url, "http://localhost:8080");
    }

    #[test]
    fn app_name_names_the_defaults_and_refuses_what_a_header_cannot_hold() {
        let s = with(&[("APP_NAME", "Acme Notes")]).unwrap();
        assert_eq!(s.jwt_audience, "Acme Notes-api");
        assert_eq!(s.mail_from, "Acme Notes <no-reply@localhost>");
        assert!(s.database_url.0.ends_with("/acme_notes"));
        for bad in ["a\"b", "x:y", "-lead", "a\nb", &"n".repeat(65)] {
            assert!(with(&[("APP_NAME", bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn https_public_url_turns_on_secure_cookies() {
        let s = with(&[("PUBLIC_URL", "https://auth.example.com/")]).unwrap();
        assert!(s.cookie_secure);
        assert_eq!(s.session_cookie_name(), "__Host-session");
        assert_eq!(s.csrf_cookie_name(), "__Host-csrf");
        assert_eq!(s.public_url, "https://auth.example.com");
    }

    #[test]
    fn public_url_is_normalized_like_a_browser_origin() {
        let s = with(&[("PUBLIC_URL", "HTTPS://Auth.Example.com:443/")]).unwrap();
        assert_eq!(s.public_url, "https://auth.example.com");
        let s = with(&[("PUBLIC_URL", "http://localhost:8080")]).unwrap();
        assert_eq!(s.public_url, "http://localhost:8080");
    }

    #[test]
    fn a_bad_value_names_the_variable() {
        for (var, value) in [
            ("ACCESS_TOKEN_TTL", "fifteen"),
            ("SESSION_IDLE_TIMEOUT", "0s"),
            ("REGISTRATION", "maybe"),
            ("LOGIN_MAX_FAILURES", "-1"),
            ("COOKIE_SECURE", "perhaps"),
            ("PUBLIC_URL", "localhost:8080"),
            ("TRUSTED_PROXIES", "10.0.0.1,nope"),
            ("ACCESS_TOKEN_TTL", "100000y"),
            ("SESSION_ABSOLUTE_TIMEOUT", "100000y"),
            ("PURGE_INTERVAL", "11y"),
            ("PASSWORD_HASH_QUEUE", "many"),
            ("KEY_ACTIVATION_DELAY", "soon"),
            ("LOG_FORMAT", "xml"),
            ("MAIL_URL", "http://mail"),
            ("EMAIL_VERIFICATION", "sometimes"),
            ("PASSWORD_RESET_TTL", "0s"),
        ] {
            let e = with(&[(var, value)]).unwrap_err();
            assert_eq!(e.var, var);
            assert!(e.to_string().contains(var));
        }
    }

    #[test]
    fn database_parts_split_name_and_maintenance_url() {
        let s = with(&[("DATABASE_URL", "postgres://u@h:5432/app?sslmode=disable")]).unwrap();
        let (name, admin) = s.database_parts().unwrap();
        assert_eq!(name, "app");
        assert_eq!(admin, "postgres://u@h:5432/postgres?sslmode=disable");
    }
}
