//! Words for people: turns stored account data (User-Agent strings,
//! timestamps, auth-event kinds) into the short texts the account pages show.
//!
//! Pure functions only, no I/O and no clock: the caller passes `now`. This
//! module owns the wording; templates only print what it returns.

use crate::auth::{AuthEvent, RevokeReason};
use time::{OffsetDateTime, UtcOffset};

/// What woothee reports for a field it could not work out.
const UNKNOWN: &str = "UNKNOWN";

/// The longest fallback name taken from a raw User-Agent, in characters.
const MAX_FALLBACK_CHARS: usize = 40;

/// A readable name for the device behind `user_agent`, e.g.
/// "Firefox 133 on Windows 10", "Chrome 120 on Mac OSX", "Safari on iOS".
///
/// Browsers get their name, major version and OS as woothee reports them;
/// crawlers their name; anything else (curl, HTTP libraries, API clients such
/// as "my-cli/1.2") the first token of the User-Agent, cut to 40 characters,
/// never the whole raw string. Empty or unparseable input gives
/// "Unknown device".
pub fn device_name(user_agent: &str) -> String {
    let ua = user_agent.trim();
    if ua.is_empty() || ua == "-" {
        return "Unknown device".to_owned();
    }

    if let Some(r) = woothee::parser::Parser::new().parse(ua) {
        let name = known(r.name);
        let os = known(r.os);
        if r.browser_type == "browser" {
            if let Some(name) = name {
                let mut out = name.to_owned();
                if let Some(major) = major_version(r.version) {
                    out.push(' ');
                    out.push_str(major);
                }
                if let Some(os) = os {
                    out.push_str(" on ");
                    out.push_str(os);
                }
                return out;
            }
        }
        // Crawlers ("Googlebot"), feature phones and game consoles: the name
        // is the best description.
        if matches!(r.category, "crawler" | "mobilephone" | "appliance") {
            if let Some(name) = name {
                return name.to_owned();
            }
        }
        // A browser-like UA ("Mozilla/5.0 (X11; Linux x86_64)") whose browser
        // woothee does not know, but whose OS it does.
        if is_generic_browser_token(ua) {
            if let Some(os) = os {
                return format!("Unknown browser on {os}");
            }
        }
    }

    fallback_name(ua)
}

/// `Some(value)` unless woothee left it unknown or empty.
fn known(value: &str) -> Option<&str> {
    let v = value.trim();
    if v.is_empty() || v == UNKNOWN {
        None
    } else {
        Some(v)
    }
}

/// The text before the first '.', if the version is known ("133.0" → "133").
fn major_version(version: &str) -> Option<&str> {
    let v = known(version)?;
    let major = v.split('.').next().unwrap_or(v).trim();
    if major.is_empty() {
        None
    } else {
        Some(major)
    }
}

/// Whether the UA starts with the "Mozilla/x.y" token every browser sends,
/// which says nothing about the device on its own.
fn is_generic_browser_token(ua: &str) -> bool {
    ua.split_whitespace()
        .next()
        .is_some_and(|t| t.starts_with("Mozilla/"))
}

/// The first whitespace-separated token of the UA without control
/// characters, cut to [`MAX_FALLBACK_CHARS`] characters.
fn fallback_name(ua: &str) -> String {
    let Some(token) = ua.split_whitespace().next() else {
        return "Unknown device".to_owned();
    };
    if token.starts_with("Mozilla/") {
        return "Unknown browser".to_owned();
    }
    let cut: String = token
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_FALLBACK_CHARS)
        .collect();
    if cut.is_empty() {
        "Unknown device".to_owned()
    } else {
        cut
    }
}

/// How long ago `then` was, seen from `now`: "just now", "1 minute ago",
/// "5 minutes ago", "1 hour ago", "3 hours ago", "yesterday" (24 to 48 hours
/// ago), "4 days ago"; more than 30 days ago, the UTC date ("2026-10-01").
/// A `then` less than a day ahead (clock skew) is "just now"; further ahead
/// (an expiry) it is "in 30 days", or the date past 30 days.
pub fn relative_time(now: OffsetDateTime, then: OffsetDateTime) -> String {
    let elapsed = now - then;
    let ahead = then - now;
    if ahead.whole_days() >= 1 {
        // To the nearest day: a 30-day expiry a minute old is still "in 30 days".
        let days = (ahead.whole_seconds() + 43_200) / 86_400;
        if days <= 30 {
            return if days == 1 {
                "tomorrow".to_owned()
            } else {
                format!("in {days} days")
            };
        }
        let date = time::macros::format_description!("[year]-[month]-[day]");
        return in_utc(then).format(&date).unwrap_or_default();
    }
    let seconds = elapsed.whole_seconds();
    if seconds < 60 {
        return "just now".to_owned();
    }
    let minutes = elapsed.whole_minutes();
    if minutes < 60 {
        return plural(minutes, "minute");
    }
    let hours = elapsed.whole_hours();
    if hours < 24 {
        return plural(hours, "hour");
    }
    let days = elapsed.whole_days();
    if days == 1 {
        return "yesterday".to_owned();
    }
    if days <= 30 {
        return plural(days, "day");
    }
    let date = time::macros::format_description!("[year]-[month]-[day]");
    in_utc(then).format(&date).unwrap_or_default()
}

/// "1 minute ago", "5 minutes ago".
fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit} ago")
    } else {
        format!("{n} {unit}s ago")
    }
}

/// `t` in UTC (unchanged in the impossible case that it does not fit).
fn in_utc(t: OffsetDateTime) -> OffsetDateTime {
    t.checked_to_offset(UtcOffset::UTC).unwrap_or(t)
}

/// The exact time in UTC, to the minute: "2026-11-29 14:05 UTC".
pub fn exact_time(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    in_utc(t).format(&f).unwrap_or_default()
}

/// A sentence for an auth event, from its stored `kind` and `detail`.
///
/// Known kinds are worded by an exhaustive match on `AuthEvent`; a kind this
/// build does not know (rows written by a newer version) is shown as itself,
/// with spaces for underscores and a capital first letter.
pub fn event_description(kind: &str, detail: &str) -> String {
    let Some(event) = AuthEvent::parse(kind) else {
        return humanize(kind);
    };
    let text = match event {
        AuthEvent::LoginOk => match detail {
            "api" => "Signed in from an API client",
            _ => "Signed in",
        },
        AuthEvent::LoginFailed => "Failed sign-in attempt",
        AuthEvent::PasswordChangeFailed => "Wrong current password entered",
        AuthEvent::PasswordChanged => "Password changed",
        AuthEvent::PasswordReset => "Password reset by email link",
        AuthEvent::SessionRevoked => match RevokeReason::parse(detail) {
            Some(reason) => session_end_reason(reason),
            None => "Session ended",
        },
        AuthEvent::RefreshTokenReuse => "Refresh token reuse detected (possible theft)",
        AuthEvent::EmailVerified => "Email address verified",
        AuthEvent::VerificationSent => "Verification email sent",
        AuthEvent::PasswordResetRequested => "Password reset requested",
        AuthEvent::MfaEnabled => match detail {
            "totp" => "Two-factor authentication turned on (authenticator app)",
            _ => "Two-factor authentication turned on",
        },
        AuthEvent::MfaDisabled => match detail {
            "totp" => "Authenticator app removed",
            _ => "Two-factor authentication turned off",
        },
        AuthEvent::MfaFailed => "Wrong two-factor code entered",
        AuthEvent::RecoveryCodeUsed => "Recovery code used to sign in",
        AuthEvent::RecoveryCodesRegenerated => "New recovery codes generated",
        AuthEvent::PasskeyAdded => "Passkey added",
        AuthEvent::PasskeyRemoved => "Passkey removed",
        AuthEvent::Reauthenticated => "Identity confirmed for a sensitive action",
        AuthEvent::OidcSignIn => "Signed in through a sign-in provider",
        AuthEvent::IdentityLinked => "Sign-in provider linked",
        AuthEvent::IdentityUnlinked => "Sign-in provider unlinked",
        AuthEvent::ApiKeyCreated => "API key created",
        AuthEvent::ApiKeyRevoked => match RevokeReason::parse(detail) {
            Some(RevokeReason::AccountDisabled) => "API key ended: the account was suspended",
            Some(RevokeReason::PasswordReset) => "API key ended by a password reset",
            _ => "API key revoked",
        },
        AuthEvent::AccountDisabled => "Account suspended by an operator",
        AuthEvent::AccountEnabled => "Account enabled again by an operator",
        AuthEvent::AddressProven => {
            "Address proven by a reset link: every earlier way in was removed"
        }
    };
    text.to_owned()
}

/// Why a session ended, in words.
fn session_end_reason(reason: RevokeReason) -> &'static str {
    match reason {
        RevokeReason::Logout => "Signed out",
        RevokeReason::RevokedByUser => "Session revoked from this page",
        RevokeReason::OtherSessionsLoggedOut => "Signed out of other sessions",
        RevokeReason::PasswordChange => "Session ended by a password change",
        RevokeReason::PasswordReset => "Session ended by a password reset",
        RevokeReason::RefreshTokenReuse => "Session ended: a refresh token was used twice",
        RevokeReason::TokenRevoked => "Session revoked by its client",
        RevokeReason::Superseded => "Session replaced by a new sign-in",
        RevokeReason::RevokedByAdmin => "Session ended by an administrator",
        RevokeReason::AccountDeleted => "Session ended: the account was deleted",
        RevokeReason::MfaChanged => "Session ended by a two-factor change",
        RevokeReason::ApiKeyRevoked => "API key revoked",
        RevokeReason::AccountDisabled => "Session ended: the account was suspended",
    }
}

/// "some_new_kind" → "Some new kind"; an empty kind → "Unknown event".
fn humanize(kind: &str) -> String {
    let spaced = kind.trim().replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Unknown event".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use time::Duration;

    // Expected woothee results checked against woothee-rust 0.13's parser
    // source and its generated test sets (tests/pc_windows.rs,
    // tests/smartphone_ios.rs): Windows NT 10.0 → os "Windows 10", Mac OS X →
    // "Mac OSX", Chrome's version is the "Chrome/x.y.z.w" number.

    #[test]
    fn firefox_on_windows() {
        let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(device_name(ua), "Firefox 133 on Windows 10");
    }

    #[test]
    fn chrome_on_mac() {
        let ua = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 \
                  (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        assert_eq!(device_name(ua), "Chrome 120 on Mac OSX");
    }

    #[test]
    fn chrome_on_android() {
        let ua = "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 \
                  (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";
        assert_eq!(device_name(ua), "Chrome 120 on Android");
    }

    #[test]
    fn edge_on_windows() {
        let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                  (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91";
        assert_eq!(device_name(ua), "Edge 120 on Windows 10");
    }

    #[test]
    fn safari_on_iphone() {
        let ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 \
                  (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";
        assert_eq!(device_name(ua), "Safari 17 on iPhone");
    }

    #[test]
    fn browser_without_version() {
        // woothee: name "Safari", version "UNKNOWN", os "iOS".
        let ua = "MobileSafari/7534.48.3 CFNetwork/548.0.4 Darwin/11.0.0";
        assert_eq!(device_name(ua), "Safari on iOS");
    }

    #[test]
    fn browser_without_os() {
        let ua = "Mozilla/5.0 (rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(device_name(ua), "Firefox 133");
    }

    #[test]
    fn unknown_browser_on_known_os() {
        assert_eq!(
            device_name("Mozilla/5.0 (X11; Linux x86_64)"),
            "Unknown browser on Linux"
        );
    }

    #[test]
    fn crawler_gets_its_name() {
        let ua = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
        assert_eq!(device_name(ua), "Googlebot");
    }

    #[test]
    fn non_browser_clients_get_their_first_token() {
        assert_eq!(device_name("curl/8.5.0"), "curl/8.5.0");
        assert_eq!(
            device_name("python-requests/2.31.0"),
            "python-requests/2.31.0"
        );
        assert_eq!(device_name("my-cli/1.2"), "my-cli/1.2");
        assert_eq!(
            device_name("my-cli/1.2 (Linux x86_64; build 7)"),
            "my-cli/1.2"
        );
    }

    #[test]
    fn long_tokens_are_cut() {
        let ua = format!("{}/1.0 extra words", "x".repeat(100));
        let name = device_name(&ua);
        assert_eq!(name.chars().count(), 40);
        assert_eq!(name, "x".repeat(40));
        // Multi-byte characters are cut on character boundaries.
        let ua = "é".repeat(50);
        assert_eq!(device_name(&ua), "é".repeat(40));
    }

    #[test]
    fn empty_or_unknown_user_agent() {
        assert_eq!(device_name(""), "Unknown device");
        assert_eq!(device_name("   "), "Unknown device");
        assert_eq!(device_name("-"), "Unknown device");
        assert_eq!(device_name("Mozilla/5.0"), "Unknown browser");
    }

    #[test]
    fn relative_times() {
        let now = datetime!(2026-11-29 14:05:30 UTC);
        let ago = |d: Duration| relative_time(now, now - d);
        assert_eq!(ago(Duration::ZERO), "just now");
        assert_eq!(ago(Duration::seconds(59)), "just now");
        assert_eq!(ago(Duration::seconds(60)), "1 minute ago");
        assert_eq!(ago(Duration::seconds(119)), "1 minute ago");
        assert_eq!(ago(Duration::minutes(5)), "5 minutes ago");
        assert_eq!(ago(Duration::minutes(59)), "59 minutes ago");
        assert_eq!(ago(Duration::hours(1)), "1 hour ago");
        assert_eq!(ago(Duration::hours(3)), "3 hours ago");
        assert_eq!(ago(Duration::hours(23)), "23 hours ago");
        assert_eq!(ago(Duration::hours(24)), "yesterday");
        assert_eq!(ago(Duration::hours(47)), "yesterday");
        assert_eq!(ago(Duration::days(2)), "2 days ago");
        assert_eq!(ago(Duration::days(4)), "4 days ago");
        assert_eq!(ago(Duration::days(30)), "30 days ago");
        assert_eq!(
            relative_time(now, datetime!(2026-10-01 09:00 UTC)),
            "2026-10-01"
        );
    }

    #[test]
    fn future_times_are_just_now() {
        let now = datetime!(2026-11-29 14:05 UTC);
        assert_eq!(relative_time(now, now + Duration::hours(2)), "just now");
        assert_eq!(relative_time(now, now + Duration::hours(25)), "tomorrow");
        assert_eq!(relative_time(now, now + Duration::days(30)), "in 30 days");
    }

    #[test]
    fn old_dates_are_shown_in_utc() {
        let now = datetime!(2026-11-29 14:05 UTC);
        // 2026-10-01 23:30 at -02:00 is 2026-10-02 01:30 UTC.
        let then = datetime!(2026-10-01 23:30 -2);
        assert_eq!(relative_time(now, then), "2026-10-02");
    }

    #[test]
    fn exact_times() {
        assert_eq!(
            exact_time(datetime!(2026-11-29 14:05:59 UTC)),
            "2026-11-29 14:05 UTC"
        );
        assert_eq!(
            exact_time(datetime!(2026-01-02 03:04 +1)),
            "2026-01-02 02:04 UTC"
        );
    }

    #[test]
    fn event_descriptions() {
        assert_eq!(event_description("login_ok", "web"), "Signed in");
        assert_eq!(
            event_description("login_ok", "api"),
            "Signed in from an API client"
        );
        assert_eq!(event_description("login_ok", ""), "Signed in");
        assert_eq!(
            event_description("login_failed", ""),
            "Failed sign-in attempt"
        );
        assert_eq!(
            event_description("password_change_failed", ""),
            "Wrong current password entered"
        );
        assert_eq!(
            event_description("password_changed", ""),
            "Password changed"
        );
        assert_eq!(
            event_description("password_reset", ""),
            "Password reset by email link"
        );
        assert_eq!(
            event_description("refresh_token_reuse", ""),
            "Refresh token reuse detected (possible theft)"
        );
        assert_eq!(
            event_description("email_verified", ""),
            "Email address verified"
        );
        assert_eq!(
            event_description("verification_sent", ""),
            "Verification email sent"
        );
        assert_eq!(
            event_description("password_reset_requested", ""),
            "Password reset requested"
        );
    }

    #[test]
    fn session_revoked_reasons() {
        let cases = [
            ("logout", "Signed out"),
            ("revoked_by_user", "Session revoked from this page"),
            ("other_sessions_logged_out", "Signed out of other sessions"),
            ("password_change", "Session ended by a password change"),
            ("password_reset", "Session ended by a password reset"),
            (
                "refresh_token_reuse",
                "Session ended: a refresh token was used twice",
            ),
            ("token_revoked", "Session revoked by its client"),
            ("superseded", "Session replaced by a new sign-in"),
            ("revoked_by_admin", "Session ended by an administrator"),
            ("something_else", "Session ended"),
            ("", "Session ended"),
        ];
        for (reason, expected) in cases {
            assert_eq!(
                event_description("session_revoked", reason),
                expected,
                "{reason}"
            );
        }
    }

    #[test]
    fn unknown_kinds_are_humanized() {
        assert_eq!(event_description("webhook_added", "x"), "Webhook added");
        assert_eq!(
            event_description("mfa_enabled", "totp"),
            "Two-factor authentication turned on (authenticator app)"
        );
        assert_eq!(event_description("x", ""), "X");
        assert_eq!(event_description("", ""), "Unknown event");
    }
}
