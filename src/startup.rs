//! Assembles the application and does nothing else: the state (database
//! prepared, secrets and keys loaded, revocation view listening), the
//! middleware, the route table from `routes`, the HTTP server and the
//! background jobs. `main.rs` and every test call `Application::build`; a test
//! can also run `app(state)` in-process with `actix_web::test::init_service`.

use crate::auth::credentials::password;
use crate::auth::http::session_store::PgSessionStore;
use crate::auth::secrets::Secrets;
use crate::auth::sessions::cache::SessionCache;
use crate::auth::sessions::revocation::RevocationView;
use crate::auth::tokens::cache::{TokenCache, TOKEN_CACHE_CAPACITY};
use crate::auth::tokens::keys::{self, Keys};
use crate::auth::AppState;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{self, setup};
use crate::routes::{self, middleware};
use actix_session::config::{PersistentSession, TtlExtensionPolicy};
use actix_session::SessionMiddleware;
use actix_web::body::MessageBody;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use secrecy::ExposeSecret;
use std::net::TcpListener;
use std::sync::Arc;

pub struct Application {
    port: u16,
    metrics_port: Option<u16>,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Builds the state, binds the listener (`BIND_ADDR`; port 0 picks a free
    /// port, as the tests do) and starts the background jobs.
    pub async fn build(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.bind_addr).map_err(|e| {
            anyhow::anyhow!("cannot listen on BIND_ADDR={}: {e}", settings.bind_addr)
        })?;
        let port = listener.local_addr()?.port();
        let workers = settings.workers;
        let state = build_state(settings, clock).await?;
        let server_state = state.clone();
        // SIGTERM/SIGINT: stop accepting, let in-flight requests finish (up
        // to 30 s), then `run_until_stopped` returns and the process exits 0;
        // the background jobs end with the runtime.
        let server = HttpServer::new(move || app(server_state.clone()))
            .workers(workers)
            .shutdown_timeout(30)
            .listen(listener)?
            .run();
        let metrics_port = match &state.settings.metrics_bind_addr {
            Some(addr) => Some(serve_metrics(addr, state.clone())?),
            None => None,
        };
        crate::maintenance::spawn_jobs(state.clone());
        Ok(Application {
            port,
            metrics_port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics listener, when METRICS_BIND_ADDR is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// `GET /metrics` on its own listener (never the public port), one worker.
fn serve_metrics(addr: &str, state: web::Data<AppState>) -> anyhow::Result<u16> {
    let listener = TcpListener::bind(addr)
        .map_err(|e| anyhow::anyhow!("cannot listen on METRICS_BIND_ADDR={addr}: {e}"))?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(routes::health::metrics))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    actix_web::rt::spawn(server);
    Ok(port)
}

/// Prepares the database and builds the shared state; the revocation view is
/// complete (and its listener running) before this returns.
pub async fn build_state(settings: Settings, clock: Clock) -> anyhow::Result<web::Data<AppState>> {
    crate::web::set_app_name(&settings.app_name);
    setup::prepare_database(&settings).await?;
    let pool = db::build_pool(
        &settings.database_url,
        settings.database_pool_size,
        db::Mode::of(&settings),
    )?;
    let now = clock.now();
    let mut conn = db::conn(&pool)
        .await
        .map_err(|e| setup::unreachable_db(&settings, e.into()))?;
    let secrets = Secrets::load(&mut conn, &settings, now).await?;
    let retention = keys::retention(settings.access_token_ttl, settings.clock_skew_leeway);
    let keys = Keys::load(&mut conn, now, retention).await?;
    drop(conn);
    let window = crate::auth::sessions::view_window(&settings);
    let revocations = RevocationView::new(
        window,
        clock.clone(),
        pool.clone(),
        settings.listener_heartbeat,
    );
    let listener_conn = revocations
        .connect(settings.listener_url())
        .await
        .map_err(|e| setup::unreachable_db(&settings, e))?;
    actix_web::rt::spawn(
        revocations
            .clone()
            .run(settings.listener_url().to_owned(), Some(listener_conn)),
    );
    password::init();
    let hasher = password::Hasher::new(settings.hash_concurrency, settings.hash_queue);
    let mailer = Arc::new(crate::mail::Mailer::from_settings(&settings)?);
    let session_cache = Arc::new(SessionCache::new(revocations.clone()));
    let webauthn = match crate::auth::credentials::passkeys::relying_party(&settings) {
        Ok(rp) => Some(Arc::new(rp)),
        Err(e) => {
            tracing::warn!(error = %e, public_url = %settings.public_url,
                "passkeys are off: PUBLIC_URL's host must be a domain name (e.g. localhost), not an IP address");
            None
        }
    };
    let oidc = Arc::new(crate::auth::oidc::Providers::new(&settings.oidc_providers));
    // A provider that is down at start stops nothing: its button answers 503
    // and discovery is tried again on a later use.
    actix_web::rt::spawn(crate::auth::oidc::provider::discover_all(
        oidc.clone(),
        clock.clone(),
    ));
    Ok(web::Data::new(AppState {
        settings,
        pool,
        clock,
        secrets,
        keys,
        revocations,
        token_cache: TokenCache::new(TOKEN_CACHE_CAPACITY),
        key_cache: crate::auth::BoundedCache::new(TOKEN_CACHE_CAPACITY),
        session_cache,
        hasher,
        mailer,
        webauthn,
        oidc,
    }))
}

/// The whole app for one worker: middleware and the route table.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let no_store = || DefaultHeaders::new().add(("Cache-Control", "no-store"));
    App::new()
        .app_data(state.clone())
        .app_data(middleware::form_config(
            state.settings.session_cookie_name(),
        ))
        .app_data(middleware::json_config())
        .wrap(crate::web::security_headers(&state.settings.public_url))
        .wrap(from_fn(middleware::catch_panics))
        .wrap(from_fn(middleware::request_id))
        .configure(routes::public_routes)
        .service(
            web::scope(routes::API_PREFIX)
                .wrap(no_store())
                .configure(routes::api_routes)
                .default_service(web::to(routes::api::not_found)),
        )
        .service(
            web::scope("")
                .wrap(no_store())
                .wrap(session_middleware(&state))
                .wrap(from_fn(middleware::session_store_errors))
                .configure(routes::page_routes)
                .default_service(web::to(routes::page_not_found)),
        )
}

fn session_middleware(state: &AppState) -> SessionMiddleware<PgSessionStore> {
    let settings = &state.settings;
    let store = PgSessionStore::new(state.pool.clone(), state.clock.clone())
        .with_cache(state.session_cache.clone());
    // `Key::derive_from` would stretch a short key; ours is always 64 bytes.
    let key = Key::try_from(state.secrets.session_cookie_key.expose_secret())
        .unwrap_or_else(|_| Key::derive_from(state.secrets.session_cookie_key.expose_secret()));
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
