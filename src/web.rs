//! Small HTTP helpers that depend on nothing else in the app, so every layer
//! may use them: the app's name, the security headers of HTML responses,
//! query encoding, and the check that keeps `next=` redirects on this site.

use actix_web::middleware::DefaultHeaders;
use actix_web::HttpRequest;
use std::sync::OnceLock;

static APP_NAME: OnceLock<String> = OnceLock::new();

/// The name people see (APP_NAME): page titles and navigation, the realm of
/// `WWW-Authenticate`, the OpenAPI title, the TOTP issuer, the passkey's
/// relying party. One per process: set at start-up (`set_app_name`), the
/// package name until then.
pub fn app_name() -> &'static str {
    APP_NAME.get_or_init(|| env!("CARGO_PKG_NAME").to_owned())
}

/// Sets the app name for this process (the first call wins: every app built
/// in one process shares it).
pub fn set_app_name(name: &str) {
    let _ = APP_NAME.set(name.to_owned());
}

/// The Content-Security-Policy of every HTML response: no inline scripts,
/// no framing, everything from this origin only.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Headers every response carries; HSTS too when the public origin is https.
pub fn security_headers(public_url: &str) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", CSP))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"));
    if public_url.starts_with("https://") {
        headers.add(("Strict-Transport-Security", HSTS))
    } else {
        headers
    }
}

/// One year, subdomains included; sent only when PUBLIC_URL is https.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// What `templates/base.html` needs on every page: the CSRF token (for the
/// `<meta name="csrf-token">` tag and every form) and who is signed in (for
/// the navigation). Every page struct has one field `page: PageContext`;
/// a protected page gets it from `CurrentUser::page()`.
#[derive(Debug, Clone, Default)]
pub struct PageContext {
    pub csrf_token: String,
    pub signed_in_as: Option<String>,
    /// A one-line notice shown above the page ("Password changed…").
    pub notice: Option<&'static str>,
}

impl PageContext {
    /// Adds the notice named by `?notice=` in the request, if it is one of
    /// ours (the text is fixed here, never taken from the URL).
    pub fn with_notice(mut self, req: &HttpRequest) -> Self {
        self.notice = req
            .query_string()
            .split('&')
            .find_map(|kv| kv.strip_prefix("notice="))
            .and_then(notice_text);
        self
    }
}

/// The fixed texts of `?notice=` codes.
pub fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "password-reset" => {
            "Your password was changed and every session signed out. Sign in with the new password."
        }
        "password-changed" => "Password changed. Your other sessions were signed out.",
        "password-changed-alone" => "Password changed.",
        "email-verified" => "Thank you: your email address is confirmed.",
        "verify-email" => {
            "We sent you a mail: follow its link to confirm your address, then sign in."
        }
        "verification-sent" => "A new confirmation mail is on its way.",
        "signed-out" => "You are signed out.",
        "welcome" => {
            "Welcome! Your account is ready. We sent you a mail: follow its link to confirm your address."
        }
        "session-revoked" => "Session revoked: its cookie and its tokens no longer work.",
        "others-signed-out" => "Your other sessions were signed out.",
        "no-other-sessions" => "There were no other sessions to sign out.",
        "api-key-revoked" => "The API key was revoked: it no longer works anywhere.",
        "mfa-enabled" => {
            "Two-factor authentication is on. Your other sessions were signed out."
        }
        "mfa-disabled" => {
            "The authenticator app was removed. Your other sessions were signed out."
        }
        "passkey-added" => "Passkey added. Your other sessions were signed out.",
        "passkey-removed" => "Passkey removed. Your other sessions were signed out.",
        "account-deleted" => "Your account and everything in it was deleted.",
        "oidc-denied" => "Sign-in at the provider was cancelled. Sign in another way, or try again.",
        "welcome-provider" => "Welcome! Your account is ready. You sign in through your provider; to have a password too, use “Forgot your password?” on the sign-in page.",
        "identity-linked" => "Sign-in provider linked: you can now continue with it to sign in.",
        "identity-unlinked" => "Sign-in provider unlinked.",
        _ => return None,
    })
}

/// Percent-encodes a query value.
pub fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Accepts only same-origin relative paths (`/x?y`), refusing `//host`,
/// `/\host`, schemes and control characters: no open redirects.
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 2048
        && !next
            .chars()
            .any(|c| c.is_control() || c == '\\' || c.is_whitespace());
    ok.then_some(next)
}

/// `path?query` of the request, for `next=`.
pub fn path_and_query(req: &HttpRequest) -> String {
    match req.uri().query() {
        Some(q) => format!("{}?{}", req.path(), q),
        None => req.path().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_accepts_only_local_paths() {
        assert_eq!(safe_next("/account"), Some("/account"));
        assert_eq!(safe_next("/notes?x=1"), Some("/notes?x=1"));
        for bad in [
            "",
            "account",
            "//evil.com",
            "/\\evil.com",
            "https://evil.com",
            "/a\nb",
            "/a b",
            "/\\/x",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(bad), None, "{bad}");
        }
    }

    #[test]
    fn encode_query_escapes_separators() {
        assert_eq!(encode_query("/a?b=c&d"), "/a%3Fb%3Dc%26d");
    }
}
