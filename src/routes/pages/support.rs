//! What several pages share: the provider buttons of the sign-in,
//! register and re-authentication pages, the throttled sign-in message, and
//! the form of a button that posts only its CSRF token. A leaf module: the
//! pages use it, it uses none of them.

use crate::auth::AppState;
use crate::web::encode_query;

/// A "Continue with LABEL" button.
pub struct ProviderButton {
    pub label: String,
    pub href: String,
}

/// The buttons of the login and register pages; `next` is carried along.
pub fn buttons(state: &AppState, next: &str) -> Vec<ProviderButton> {
    state
        .oidc
        .buttons()
        .into_iter()
        .map(|(name, label)| ProviderButton {
            label,
            href: if next.is_empty() {
                format!("/login/oidc/{name}")
            } else {
                format!("/login/oidc/{name}?next={}", encode_query(next))
            },
        })
        .collect()
}

/// The re-authentication buttons: one per provider the user has an
/// identity at (each signs in there again: `prompt=login`, `max_age=0`).
pub fn reauth_buttons(
    state: &AppState,
    identities: &[crate::db::oidc::Identity],
    next: &str,
) -> Vec<ProviderButton> {
    let mut names: Vec<&str> = identities.iter().map(|i| i.provider.as_str()).collect();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| state.oidc.get(name))
        .map(|p| ProviderButton {
            label: p.config.label.clone(),
            href: format!(
                "/login/oidc/{}?purpose=reauth&next={}",
                p.config.name,
                encode_query(next)
            ),
        })
        .collect()
}

/// What a throttled sign-in form says.
pub fn throttled_message(secs: u64) -> String {
    let minutes = secs.div_ceil(60);
    format!("Too many failed sign-in attempts. Try again in {minutes} minute(s).")
}

/// The body of a form that is only a button (revoke, delete, sign out).
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct CsrfForm {
    pub csrf_token: String,
}

impl CsrfForm {
    pub fn token(&self) -> &str {
        &self.csrf_token
    }
}
