//! Assembles the application: database (created and migrated if needed),
//! shared secrets, the HTTP server with its middleware and routes. The binary
//! and every test call `Application::build`.

use crate::auth::crypto;
use crate::auth::keys::{self, Keys};
use crate::auth::password;
use crate::auth::revocation::RevocationView;
use crate::auth::session_store::PgSessionStore;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db;
use crate::error::{html_error, log_chain, AppError};
use crate::routes::{api, assets, health, pages};
use crate::state::AppState;
use actix_session::config::{PersistentSession, TtlExtensionPolicy};
use actix_session::SessionMiddleware;
use actix_web::body::MessageBody;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::{from_fn, DefaultHeaders, Next};
use actix_web::{web, App, HttpServer};
use std::net::TcpListener;

pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Prepares the database, loads shared secrets and binds the listener
    /// (`BIND_ADDR`; port 0 picks a free port, as the tests do).
    pub async fn build(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        prepare_database(&settings).await?;
        let pool = db::build_pool(&settings.database_url, 16)?;
        let now = clock.now();
        let mut conn = db::conn(&pool)
            .await
            .map_err(|e| unreachable_db(&settings, e.into()))?;
        let cookie_key = shared_secret(
            &mut conn,
            &settings.session_cookie_key,
            "session_cookie_key",
            64,
            now,
        )
        .await?;
        let csrf_key = shared_secret(&mut conn, &settings.csrf_key, "csrf_key", 32, now).await?;
        let refresh_key = shared_secret(
            &mut conn,
            &settings.refresh_mac_key,
            "refresh_mac_key",
            32,
            now,
        )
        .await?;
        let retention = keys::retention(settings.access_token_ttl, settings.clock_skew_leeway);
        let keys = Keys::load(&mut conn, now, retention).await?;
        drop(conn);
        // The revocation view is complete before the first request is served.
        let window = settings.access_token_ttl + settings.clock_skew_leeway;
        let revocations = RevocationView::new(window, clock.clone());
        let listener_conn = revocations
            .connect(&settings.database_url)
            .await
            .map_err(|e| unreachable_db(&settings, e))?;
        let cookie_key = Key::try_from(cookie_key.as_slice())
            .map_err(|e| anyhow::anyhow!("session cookie key: {e}"))?;
        password::init();

        let listener = TcpListener::bind(&settings.bind_addr).map_err(|e| {
            anyhow::anyhow!("cannot listen on BIND_ADDR={}: {e}", settings.bind_addr)
        })?;
        let port = listener.local_addr()?.port();
        let workers = settings.workers;
        let state = web::Data::new(AppState {
            settings,
            pool,
            clock,
            csrf_key,
            refresh_key,
            keys,
            revocations: revocations.clone(),
        });
        actix_web::rt::spawn(
            revocations.run(state.settings.database_url.clone(), Some(listener_conn)),
        );
        let server = run(listener, state.clone(), cookie_key, workers)?;
        spawn_background_tasks(state.clone());
        Ok(Application {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The environment override if set, else the instance-shared secret `name`
/// from `app_secrets` (generated with `len` random bytes on first start).
async fn shared_secret(
    conn: &mut diesel_async::AsyncPgConnection,
    overridden: &Option<Vec<u8>>,
    name: &str,
    len: usize,
    now: time::OffsetDateTime,
) -> anyhow::Result<Vec<u8>> {
    if let Some(k) = overridden {
        return Ok(k.clone());
    }
    let fresh = crypto::random_vec(len)?;
    Ok(db::secrets::get_or_create(conn, name, &fresh, now).await?)
}

fn unreachable_db(settings: &Settings, e: anyhow::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot reach Postgres at DATABASE_URL={} ({e:#}). Start Postgres, or point DATABASE_URL \
         (environment or .env) at a reachable server, e.g. postgres://user@host:5432/hybrid_auth",
        redact_url(&settings.database_url)
    )
}

/// Hides a password in a postgres URL for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Creates the database if missing and runs the embedded migrations.
pub async fn prepare_database(settings: &Settings) -> anyhow::Result<()> {
    let (name, admin_url) = settings
        .database_parts()
        .ok_or_else(|| anyhow::anyhow!("DATABASE_URL must name a database, e.g. postgres://postgres@127.0.0.1:5432/hybrid_auth"))?;
    if let Err(e) = db::ensure_database(&admin_url, &name).await {
        // Without access to the maintenance database we can still work if the
        // app's own database exists; the migration step below tells.
        tracing::debug!(error = %e, "could not check for the database via the postgres database");
    }
    db::run_migrations(&settings.database_url)
        .await
        .map_err(|e| unreachable_db(settings, e))
}

fn session_middleware(state: &AppState, key: Key) -> SessionMiddleware<PgSessionStore> {
    let settings = &state.settings;
    let store = PgSessionStore::new(state.pool.clone(), state.clock.clone());
    let ttl = actix_web::cookie::time::Duration::seconds(
        settings.session_absolute_timeout.whole_seconds(),
    );
    SessionMiddleware::builder(store, key)
        .cookie_name(settings.session_cookie_name().to_owned())
        .cookie_secure(settings.cookie_secure)
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_path("/".to_owned())
        .cookie_domain(None)
        // The cookie and its state live up to the absolute timeout; the idle
        // timeout is enforced on the sessions row, which is touched at most once
        // a minute, so a page view costs no write.
        .session_lifecycle(
            PersistentSession::default()
                .session_ttl(ttl)
                .session_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
        )
        .build()
}

/// The session store's only failure mode is the database: answer 503 with
/// Retry-After instead of actix-session's bare 500.
async fn session_store_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    next.call(req).await.map_err(|e| {
        let cause = anyhow::anyhow!("{e}");
        log_chain("session store failed", cause.as_ref());
        let res = html_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "The service is temporarily unavailable. Please try again in a moment.",
        );
        actix_web::error::InternalError::from_response("session store unavailable", res).into()
    })
}

/// Key reloads (rotations made elsewhere) and the periodic purge.
fn spawn_background_tasks(state: web::Data<AppState>) {
    let keys_state = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        tick.tick().await;
        loop {
            tick.tick().await;
            let now = keys_state.clock.now();
            match db::conn(&keys_state.pool).await {
                Ok(mut conn) => {
                    if let Err(e) = keys_state.keys.reload(&mut conn, now).await {
                        tracing::warn!(error = %e, "reloading signing keys failed");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reloading signing keys: database unavailable")
                }
            }
        }
    });
    let scrub_state = state.clone();
    actix_web::rt::spawn(async move {
        // Successor nonces live for the grace window only (see auth::refresh).
        let grace = scrub_state.settings.refresh_reuse_grace;
        let period = std::time::Duration::from_secs(grace.whole_seconds().clamp(1, 5) as u64);
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            if let Ok(mut conn) = db::conn(&scrub_state.pool).await {
                let now = scrub_state.clock.now();
                if let Err(e) = crate::auth::refresh::scrub_nonces(&mut conn, now, grace).await {
                    tracing::warn!(error = %e, "clearing refresh nonces failed");
                }
            }
        }
    });
    let every = state.settings.purge_interval;
    if every <= time::Duration::ZERO {
        return;
    }
    actix_web::rt::spawn(async move {
        let period = std::time::Duration::from_secs(every.whole_seconds().max(1) as u64);
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            let now = state.clock.now();
            match db::conn(&state.pool).await {
                Ok(mut conn) => match crate::maintenance::purge(
                    &mut conn,
                    now,
                    state.settings.refresh_reuse_grace,
                )
                .await
                {
                    Ok(p) => tracing::debug!(?p, "purged expired rows"),
                    Err(e) => tracing::warn!(error = %e, "purge failed"),
                },
                Err(e) => tracing::warn!(error = %e, "purge: database unavailable"),
            }
        }
    });
}

fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CSP))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
}

async fn not_found() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound)
}

fn run(
    listener: TcpListener,
    state: web::Data<AppState>,
    key: Key,
    workers: usize,
) -> anyhow::Result<Server> {
    let server = HttpServer::new(move || {
        let form_config =
            web::FormConfig::default()
                .limit(64 * 1024)
                .error_handler(|e, _| match e {
                    actix_web::error::UrlencodedError::Overflow { .. } => {
                        actix_web::error::InternalError::from_response(
                            e,
                            html_error(
                                StatusCode::PAYLOAD_TOO_LARGE,
                                "Too large",
                                "The form was too large.",
                            ),
                        )
                        .into()
                    }
                    _ => AppError::BadRequest("The form could not be read.").into(),
                });
        App::new()
            .app_data(state.clone())
            .app_data(form_config)
            .wrap(security_headers())
            .route("/healthz", web::get().to(health::healthz))
            .route("/readyz", web::get().to(health::readyz))
            .route("/static/{path:.*}", web::get().to(assets::asset))
            .route("/.well-known/jwks.json", web::get().to(api::jwks::jwks))
            .service(
                web::scope("/api/v1")
                    .wrap(DefaultHeaders::new().add(("Cache-Control", "no-store")))
                    .route("/auth/token", web::post().to(api::token::token))
                    .route("/auth/revoke", web::post().to(api::revoke::revoke))
                    .route("/auth/logout", web::post().to(api::revoke::logout))
                    .route("/me", web::get().to(api::me::me))
                    .route("/ping", web::get().to(api::me::ping))
                    .route("/notes", web::get().to(api::notes::list))
                    .route("/notes", web::post().to(api::notes::create))
                    .route("/notes/{id}", web::get().to(api::notes::get))
                    .route("/notes/{id}", web::delete().to(api::notes::delete))
                    .default_service(web::to(api::not_found)),
            )
            .service(
                web::scope("")
                    .wrap(DefaultHeaders::new().add(("Cache-Control", "no-store")))
                    .wrap(session_middleware(&state, key.clone()))
                    .wrap(from_fn(session_store_errors))
                    .route("/", web::get().to(pages::home::home))
                    .route("/register", web::get().to(pages::register::register_form))
                    .route("/register", web::post().to(pages::register::register))
                    .route("/login", web::get().to(pages::login::login_form))
                    .route("/login", web::post().to(pages::login::login))
                    .route("/logout", web::get().to(pages::logout::logout_form))
                    .route("/logout", web::post().to(pages::logout::logout))
                    .route("/account", web::get().to(pages::account::account))
                    .route(
                        "/account/sessions/revoke-others",
                        web::post().to(pages::account::revoke_others),
                    )
                    .route(
                        "/account/sessions/{id}/revoke",
                        web::post().to(pages::account::revoke_one),
                    )
                    .route(
                        "/account/password",
                        web::post().to(pages::account::change_password),
                    )
                    .route("/refresh", web::get().to(pages::refresh::refresh))
                    .route("/auth/token", web::post().to(api::token::session_token))
                    .default_service(web::to(not_found)),
            )
    })
    .workers(workers)
    .listen(listener)?
    .run();
    Ok(server)
}
