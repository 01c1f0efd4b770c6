//! Prometheus metrics, kept in process and rendered in the text exposition
//! format at `GET /metrics` on METRICS_BIND_ADDR (a separate listener, never
//! the public port). Like `web.rs`, this module imports nothing from the app,
//! so every layer may count.
//!
//! Counters: sign-ins by result, access tokens minted, refreshes by result,
//! refresh-token reuse detections, revocations by reason, mails by result.
//! Gauges (computed at scrape time by the caller): the revocation view's
//! freshness and size. Histogram: HTTP request duration by route and status.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};

/// The package name with `_` for `-`: every metric's prefix.
pub const PREFIX: &str = env!("METRICS_PREFIX");

pub const SIGN_INS: &str = concat!(env!("METRICS_PREFIX"), "_sign_ins_total");
pub const TOKENS_MINTED: &str = concat!(env!("METRICS_PREFIX"), "_access_tokens_minted_total");
pub const REFRESHES: &str = concat!(env!("METRICS_PREFIX"), "_refreshes_total");
pub const REUSE_DETECTED: &str = concat!(
    env!("METRICS_PREFIX"),
    "_refresh_token_reuse_detected_total"
);
pub const REVOCATIONS: &str = concat!(env!("METRICS_PREFIX"), "_revocations_total");
pub const MAILS: &str = concat!(env!("METRICS_PREFIX"), "_mails_total");
pub const HTTP_DURATION: &str = concat!(env!("METRICS_PREFIX"), "_http_request_duration_seconds");

const HELP: &[(&str, &str)] = &[
    (
        SIGN_INS,
        "Password checks at sign-in (login form and password grant), by result.",
    ),
    (TOKENS_MINTED, "Access tokens minted."),
    (REFRESHES, "Refresh-grant requests, by result."),
    (
        REUSE_DETECTED,
        "Spent refresh tokens replayed after the grace window (sessions revoked).",
    ),
    (REVOCATIONS, "Sessions revoked, by reason."),
    (
        MAILS,
        "Mails handed to the mail transport, by result (sent, failed and retried, given_up).",
    ),
];

/// Upper bounds (seconds) of the request-duration buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    total: u64,
}

#[derive(Default)]
struct Registry {
    /// (metric, rendered labels) → value
    counters: BTreeMap<(&'static str, String), u64>,
    /// route → status → histogram
    http: BTreeMap<String, BTreeMap<u16, Histogram>>,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

fn with<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    let mut r = registry().lock().unwrap_or_else(|p| p.into_inner());
    f(&mut r)
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Adds `by` to counter `name` with `label_pairs`.
pub fn add(name: &'static str, label_pairs: &[(&str, &str)], by: u64) {
    let key = (name, labels(label_pairs));
    with(|r| *r.counters.entry(key).or_insert(0) += by);
}

pub fn inc(name: &'static str, label_pairs: &[(&str, &str)]) {
    add(name, label_pairs, 1);
}

/// Records one HTTP request (`route` is the matched pattern, never the raw
/// path, so the label set stays bounded and carries no user data).
pub fn observe_http(route: &str, status: u16, seconds: f64) {
    with(|r| {
        // Look up by &str first: no allocation on the hot path.
        if !r.http.contains_key(route) {
            r.http.insert(route.to_owned(), BTreeMap::new());
        }
        let Some(by_status) = r.http.get_mut(route) else {
            return;
        };
        let h = by_status.entry(status).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.total += 1;
    });
}

/// The exposition text, with the caller's gauges added.
pub fn render(gauges: &[(&str, &str, f64)]) -> String {
    let mut out = String::new();
    with(|r| {
        for (name, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let mut any = false;
            for ((n, l), v) in &r.counters {
                if n == name {
                    any = true;
                    let _ = writeln!(out, "{name}{{{l}}} {v}");
                }
            }
            if !any {
                let _ = writeln!(out, "{name} 0");
            }
        }
        let _ = writeln!(
            out,
            "# HELP {HTTP_DURATION} HTTP request duration by route pattern and status.\n# TYPE {HTTP_DURATION} histogram"
        );
        for (route, by_status) in &r.http {
            for (status, h) in by_status {
                let l = labels(&[("route", route), ("status", &status.to_string())]);
                for (i, bound) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "{HTTP_DURATION}_bucket{{{l},le=\"{bound}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(out, "{HTTP_DURATION}_bucket{{{l},le=\"+Inf\"}} {}", h.total);
                let _ = writeln!(out, "{HTTP_DURATION}_sum{{{l}}} {}", h.sum);
                let _ = writeln!(out, "{HTTP_DURATION}_count{{{l}}} {}", h.total);
            }
        }
    });
    for (name, help, value) in gauges {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_the_text_format() {
        inc(REVOCATIONS, &[("reason", "unit\"test")]);
        observe_http("/unit/{id}", 200, 0.003);
        let text = render(&[("unit_gauge", "A gauge.", 1.0)]);
        assert!(text.contains(&format!("{REVOCATIONS}{{reason=\"unit\\\"test\"}} 1")));
        assert!(text.contains(&format!(
            "{HTTP_DURATION}_bucket{{route=\"/unit/{{id}}\",status=\"200\",le=\"0.005\"}} 1"
        )));
        assert!(text.contains(&format!(
            "{HTTP_DURATION}_bucket{{route=\"/unit/{{id}}\",status=\"200\",le=\"0.0025\"}} 0"
        )));
        assert!(text.contains("# TYPE unit_gauge gauge\nunit_gauge 1"));
        assert!(REVOCATIONS.starts_with(PREFIX) && !PREFIX.contains('-'));
    }
}
