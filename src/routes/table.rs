//! The route table's vocabulary: what a route needs (`Needs`), the entries
//! a table lists (`RouteEntry`), and `route_table!`, which declares a table
//! once for actix (registering every route, a scoped one behind its scope
//! check) and for everything that reads the list (the API description, the
//! tests). The tables themselves are in `json.rs`.

use crate::auth::Scope;

/// What a route asks of the caller, as its line in the route table states it:
/// `[NotesRead]` a person's bearer credential (an access token or an API
/// key) with that scope, `[token]` any valid one, nothing written: nothing
/// (the handler decides, e.g. the token endpoint or a page's cookie).
/// `, clients` lets service accounts' tokens in too (`[StatsRead, clients]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    Token { clients: bool },
    Scope { scope: Scope, clients: bool },
}

impl Needs {
    /// The scope needed, if any.
    pub fn scope(self) -> Option<Scope> {
        match self {
            Needs::Scope { scope, .. } => Some(scope),
            _ => None,
        }
    }

    /// Whether a bearer credential is needed at all.
    pub fn is_bearer(self) -> bool {
        !matches!(self, Needs::Nothing)
    }

    /// Whether service accounts' tokens are let in.
    pub fn lets_clients_in(self) -> bool {
        matches!(
            self,
            Needs::Token { clients: true } | Needs::Scope { clients: true, .. }
        )
    }
}

/// One method of a registered route and what it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteMethod {
    pub method: &'static str,
    pub needs: Needs,
}

/// One registered route: its path (relative to the scope it is registered
/// in) and the HTTP methods it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteEntry {
    pub path: &'static str,
    pub methods: &'static [RouteMethod],
}

/// A route as the table declares it: a scoped one is wrapped in the scope
/// check, which runs before the handler and its extractors (a path that
/// does not parse, a body too large), so a token without the scope gets 403
/// `insufficient_scope` whatever else is wrong with the request.
pub fn guarded(route: actix_web::Route, needs: Needs) -> actix_web::Route {
    match needs {
        Needs::Scope { scope, clients } => {
            route.wrap(actix_web::middleware::from_fn(move |req, next| {
                crate::auth::http::bearer::require_scope(scope, clients, req, next)
            }))
        }
        Needs::Token { .. } | Needs::Nothing => route,
    }
}

/// Declares a route table once for every audience: the function that
/// registers it with actix (one resource per path, so a method the path does
/// not answer gets 405 with `Allow`, not 404; a scoped method behind its
/// scope check) and a constant listing it, which the API description reads
/// for each route's security and the tests for every route there is.
///
/// ```text
/// "/notes/{id}" => { get: api::notes::get [NotesRead], delete: api::notes::delete [NotesWrite] }
/// ```
macro_rules! route_table {
    ($(#[$doc:meta])* fn $register:ident, const $table:ident;
     $($path:literal => { $($method:ident: $handler:path $([$needs:ident $(, $clients:ident)?])?),+ $(,)? })*) => {
        $(#[$doc])*
        pub fn $register(cfg: &mut web::ServiceConfig) {
            $(cfg.service(web::resource($path)$(.route($crate::routes::table::guarded(
                web::$method().to($handler),
                route_table!(@needs $($needs $($clients)?)?),
            )))+);)*
        }
        #[doc = concat!("The routes `", stringify!($register), "` registers.")]
        pub const $table: &[$crate::routes::table::RouteEntry] = &[
            $($crate::routes::table::RouteEntry { path: $path, methods: &[$($crate::routes::table::RouteMethod {
                method: stringify!($method),
                needs: route_table!(@needs $($needs $($clients)?)?),
            }),+] }),*
        ];
    };
    (@needs) => { $crate::routes::table::Needs::Nothing };
    (@needs token) => { $crate::routes::table::Needs::Token { clients: false } };
    (@needs token clients) => { $crate::routes::table::Needs::Token { clients: true } };
    (@needs $scope:ident) => {
        $crate::routes::table::Needs::Scope { scope: $crate::auth::Scope::$scope, clients: false }
    };
    (@needs $scope:ident clients) => {
        $crate::routes::table::Needs::Scope { scope: $crate::auth::Scope::$scope, clients: true }
    };
}

pub(crate) use route_table;
