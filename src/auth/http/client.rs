//! Who is calling: client IP (X-Forwarded-For only from TRUSTED_PROXIES) and
//! User-Agent (cut to 200 characters), read from the request into the
//! `ClientInfo` that sessions and events record.

use crate::auth::state::AppState;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use std::future::{ready, Ready};
use std::net::IpAddr;

pub use crate::auth::sessions::ClientInfo;

pub const USER_AGENT_MAX: usize = 200;

/// The client's address. The TCP peer, unless the peer is one of our
/// TRUSTED_PROXIES: then `X-Forwarded-For` is walked from the right (the
/// entry our own proxy appended), skipping trusted proxies, and the first
/// untrusted address is the client. Entries may carry ports (`1.2.3.4:5678`,
/// `[::1]:80`); an entry that cannot be read stops the walk there, and the
/// last address read (a trusted proxy's) is used, so junk cannot choose an IP.
pub fn client_ip(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    // A socket bound to `[::]` sees IPv4 clients as `::ffff:a.b.c.d`: treat
    // them as the IPv4 address they are (throttle keys, TRUSTED_PROXIES).
    let peer = req.peer_addr()?.ip().to_canonical();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut entries: Vec<&str> = Vec::new();
    for value in req.headers().get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return Some(peer);
        };
        entries.extend(text.split(','));
    }
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = parse_forwarded(entry).map(|ip| ip.to_canonical()) else {
            break;
        };
        client = ip;
        if !trusted.contains(&ip) {
            break;
        }
    }
    Some(client)
}

/// One `X-Forwarded-For` entry: an address, optionally with a port.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = entry.parse::<std::net::SocketAddr>() {
        return Some(sock.ip());
    }
    // `[v6]` without a port.
    entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .and_then(|e| e.parse::<IpAddr>().ok())
}

impl ClientInfo {
    pub fn from_req(req: &HttpRequest) -> Self {
        let trusted: &[IpAddr] = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.settings.trusted_proxies.as_slice())
            .unwrap_or_default();
        let ip = client_ip(req, trusted)
            .map(|ip| ip.to_string())
            .unwrap_or_default();
        let user_agent = req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .chars()
                    .take(USER_AGENT_MAX)
                    .collect()
            })
            .unwrap_or_default();
        ClientInfo { ip, user_agent }
    }
}

impl FromRequest for ClientInfo {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(ClientInfo::from_req(req)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn from(peer: &str, xff: &[&str], trusted: &[&str]) -> IpAddr {
        let mut req = TestRequest::default().peer_addr(std::net::SocketAddr::new(ip(peer), 1234));
        for v in xff {
            req = req.append_header(("x-forwarded-for", *v));
        }
        let trusted: Vec<IpAddr> = trusted.iter().map(|t| ip(t)).collect();
        client_ip(&req.to_http_request(), &trusted).unwrap()
    }

    #[test]
    fn forwarded_for_is_read_from_the_right_and_only_behind_trusted_proxies() {
        let lb = "10.0.0.1";
        // Untrusted peers: the header is ignored.
        assert_eq!(from("203.0.113.9", &["1.1.1.1"], &[lb]), ip("203.0.113.9"));
        // Behind the load balancer: the rightmost untrusted entry.
        assert_eq!(
            from(lb, &["6.6.6.6, 198.51.100.7"], &[lb]),
            ip("198.51.100.7")
        );
        // Trusted hops are skipped.
        assert_eq!(
            from(lb, &["198.51.100.7, 10.0.0.2"], &[lb, "10.0.0.2"]),
            ip("198.51.100.7")
        );
        // Ports are stripped.
        assert_eq!(from(lb, &["198.51.100.7:5555"], &[lb]), ip("198.51.100.7"));
        assert_eq!(from(lb, &["[2001:db8::1]:443"], &[lb]), ip("2001:db8::1"));
        // Several headers count as one list.
        assert_eq!(
            from(lb, &["6.6.6.6", "198.51.100.7"], &[lb]),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn junk_cannot_pick_an_address_or_hide_behind_the_proxy_elsewhere() {
        let lb = "10.0.0.1";
        // Junk to the right of a real client: the walk stops at the junk,
        // leaving the proxy's address (a bucket of its own, not the victim's).
        assert_eq!(from(lb, &["198.51.100.7, junk"], &[lb]), ip(lb));
        // Junk to the left of the real client does not matter.
        assert_eq!(from(lb, &["junk, 198.51.100.7"], &[lb]), ip("198.51.100.7"));
    }

    #[test]
    fn ipv4_mapped_peers_are_their_ipv4_address() {
        // A server bound to [::] sees IPv4 clients as ::ffff:a.b.c.d.
        assert_eq!(from("::ffff:127.0.0.2", &[], &[]), ip("127.0.0.2"));
        // An IPv4 TRUSTED_PROXIES entry matches the mapped peer, and mapped
        // X-Forwarded-For entries are read as IPv4 too.
        assert_eq!(
            from("::ffff:10.0.0.1", &["198.51.100.7"], &["10.0.0.1"]),
            ip("198.51.100.7")
        );
        assert_eq!(
            from("10.0.0.1", &["::ffff:198.51.100.7"], &["10.0.0.1"]),
            ip("198.51.100.7")
        );
    }
}
