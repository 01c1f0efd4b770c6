//! The app's outbound HTTP client, for OpenID providers: awc on rustls (the
//! TLS stack the app already has), with timeouts, no redirects followed, and
//! bodies read up to BODY_LIMIT. `get_json` for discovery and JWKS; `Http`
//! lends it to `openidconnect` for the token exchange (oauth2's
//! `AsyncHttpClient`, whose future need not be `Send`). The only place
//! outside the server itself that knows awc.

use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;

/// Bodies read from a provider (discovery, JWKS, token response).
const BODY_LIMIT: usize = 256 * 1024;

/// The provider could not be reached, or answered with a server error.
#[derive(Debug, thiserror::Error)]
#[error("OpenID provider unreachable: {0}")]
pub struct Unreachable(pub String);

thread_local! {
    /// One client per worker thread (awc clients are not `Send`); they share
    /// nothing but settings.
    static HTTP: awc::Client = awc::Client::builder()
        .connector(awc::Connector::new().timeout(std::time::Duration::from_secs(5)))
        .timeout(std::time::Duration::from_secs(10))
        .disable_redirects()
        .add_default_header((awc::http::header::USER_AGENT, crate::web::app_name()))
        .finish();
}

fn client() -> awc::Client {
    HTTP.with(awc::Client::clone)
}

async fn read_body<S>(mut res: awc::ClientResponse<S>) -> Result<actix_web::web::Bytes, Unreachable>
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    res.body()
        .limit(BODY_LIMIT)
        .await
        .map_err(|e| Unreachable(format!("reading the body: {e}")))
}

pub async fn get_json<T: DeserializeOwned>(url: &str) -> Result<T, Unreachable> {
    let res = client()
        .get(url)
        .insert_header((awc::http::header::ACCEPT, "application/json"))
        .send()
        .await
        .map_err(|e| Unreachable(format!("GET {url}: {e}")))?;
    let status = res.status();
    let body = read_body(res).await?;
    if !status.is_success() {
        return Err(Unreachable(format!("GET {url}: status {status}")));
    }
    serde_json::from_slice(&body).map_err(|e| Unreachable(format!("GET {url}: {e}")))
}

/// The app's HTTP client (awc) for `openidconnect`'s requests (the token
/// exchange): the request goes out as the library built it (its form body,
/// its Basic client authentication); a body is read up to BODY_LIMIT, and a
/// server error (5xx) counts as the provider being unreachable, like a
/// failed connection.
pub struct Http;

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = Unreachable;
    type Future =
        Pin<Box<dyn Future<Output = Result<openidconnect::HttpResponse, Unreachable>> + 'c>>;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(send(request))
    }
}

async fn send(
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, Unreachable> {
    let url = request.uri().to_string();
    let fail = |what: &dyn std::fmt::Display| Unreachable(format!("{url}: {what}"));
    let method = awc::http::Method::from_bytes(request.method().as_str().as_bytes())
        .map_err(|e| fail(&e))?;
    let mut outgoing = client().request(method, url.as_str());
    for (name, value) in request.headers() {
        outgoing = outgoing.append_header((name.as_str(), value.as_bytes()));
    }
    let res = outgoing
        .send_body(request.into_body())
        .await
        .map_err(|e| fail(&e))?;
    let status = res.status();
    let headers: Vec<(String, Vec<u8>)> = res
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect();
    let body = read_body(res).await?;
    if status.is_server_error() {
        return Err(fail(&format_args!("status {status}")));
    }
    let mut response = openidconnect::http::Response::builder().status(status.as_u16());
    for (name, value) in headers {
        response = response.header(name, value);
    }
    response.body(body.to_vec()).map_err(|e| fail(&e))
}
