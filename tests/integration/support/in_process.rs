//! `InProcess`: the whole app under `actix_web::test::init_service`, no
//! socket, with a user already in it and a bearer token of theirs. For a
//! quick test of one route:
//!
//! ```text
//! let app = InProcess::with_user(&[Scope::NotesRead]).await;
//! let res = app.get("/api/v1/notes").await;
//! assert_eq!(res.status(), StatusCode::OK);
//! ```

use crate::support::database::fresh_database;
use crate::support::{test_settings, PASSWORD};
use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::test::{self, TestRequest};
use actix_web::web;
use futures_util::future::LocalBoxFuture;
use hybrid_auth::auth::credentials::password;
use hybrid_auth::auth::{AppState, Scope};
use hybrid_auth::clock::Clock;
use hybrid_auth::db::users;
use hybrid_auth::startup::{app, build_state};
use std::rc::Rc;

type Call = Box<dyn Fn(TestRequest) -> LocalBoxFuture<'static, ServiceResponse<BoxBody>>>;

pub struct InProcess {
    pub state: web::Data<AppState>,
    /// The user made by `with_user` (password `PASSWORD`).
    pub email: String,
    /// A bearer token of that user with the scopes asked for.
    pub token: String,
    call: Call,
}

impl InProcess {
    /// The app on a fresh database, with one user and a token of theirs
    /// carrying `scopes`.
    pub async fn with_user(scopes: &[Scope]) -> InProcess {
        let state = build_state(test_settings(&fresh_database()), Clock::system())
            .await
            .expect("state");
        let service = Rc::new(test::init_service(app(state.clone())).await);
        let call: Call = Box::new(move |req: TestRequest| {
            let service = service.clone();
            Box::pin(async move {
                test::call_service(&*service, req.to_request())
                    .await
                    .map_into_boxed_body()
            })
        });
        let email = format!("in-process-{}@example.com", uuid::Uuid::new_v4().simple());
        let hash = password::hash(&state.hasher, PASSWORD.into())
            .await
            .expect("hash");
        let now = state.clock.now();
        let mut conn = hybrid_auth::db::conn(&state.pool).await.expect("db");
        let grant = hybrid_auth::auth::tokens::scopes::catalogue();
        users::insert(
            &mut conn,
            &users::NewUser {
                id: uuid::Uuid::now_v7(),
                email: &email,
                password_hash: &hash,
                scopes: &grant,
                created_at: now,
                updated_at: now,
                email_verified_at: Some(now),
            },
        )
        .await
        .expect("insert user");
        let scope: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        let mut app = InProcess {
            state,
            email,
            token: String::new(),
            call,
        };
        let grant = TestRequest::post().uri("/api/v1/auth/token").set_form([
            ("grant_type", "password"),
            ("username", app.email.as_str()),
            ("password", PASSWORD),
            ("scope", &scope.join(" ")),
        ]);
        let res = app.call(grant).await;
        assert_eq!(res.status().as_u16(), 200, "password grant in-process");
        let body: serde_json::Value = test::read_body_json(res).await;
        app.token = body["access_token"].as_str().expect("token").to_owned();
        app
    }

    /// Sends `req` through the app.
    pub async fn call(&self, req: TestRequest) -> ServiceResponse<BoxBody> {
        (self.call)(req).await
    }

    /// `GET path` with the user's bearer token.
    pub async fn get(&self, path: &str) -> ServiceResponse<BoxBody> {
        let req = TestRequest::get()
            .uri(path)
            .insert_header(("authorization", format!("Bearer {}", self.token)));
        self.call(req).await
    }
}
