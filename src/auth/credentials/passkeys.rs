//! Passkeys (WebAuthn): the ceremonies, with `webauthn-rs`. The relying
//! party is PUBLIC_URL: its host is the RP ID, itself the only origin.
//!
//! Every ceremony's state stays server-side, in `webauthn_challenges`, for
//! 5 minutes at most. It is found again through the challenge that the
//! browser's client data names (that data is what the authenticator signs),
//! and deleted by the one request that finishes it: a challenge is single
//! use, and a ceremony started for one user cannot be finished for another.
//! Credential JSON on the wire is WebAuthn's standard JSON serialisation.

use crate::auth::crypto;
use crate::auth::error::AuthError;
use crate::auth::state::AppState;
use crate::config::Settings;
use crate::db;
use crate::db::passkeys::{self as rows, PasskeyRow};
use crate::db::users::User;
use base64::Engine;
use serde_json::Value;
use time::Duration;
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Webauthn,
    WebauthnBuilder,
};

/// How long a ceremony may take.
pub const CHALLENGE_TTL: Duration = Duration::minutes(5);

/// What a ceremony is for; a challenge only finishes the ceremony it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Adding a passkey to the signed-in user's account.
    Register,
    /// Signing in with a passkey alone (discoverable, user verification).
    SignIn,
    /// The second step after a password.
    SecondFactor,
    /// Re-authenticating the signed-in user.
    Reauth,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::SignIn => "sign_in",
            Purpose::SecondFactor => "second_factor",
            Purpose::Reauth => "reauth",
        }
    }
}

/// The relying party of `settings.public_url`.
pub fn relying_party(settings: &Settings) -> anyhow::Result<Webauthn> {
    let origin = Url::parse(&settings.public_url)?;
    let rp_id = origin
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("PUBLIC_URL has no host"))?
        .to_owned();
    Ok(WebauthnBuilder::new(&rp_id, &origin)?
        .rp_name(crate::web::app_name())
        .build()?)
}

fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()
}

/// The key of a ceremony: the SHA-256 of its challenge.
fn challenge_key(challenge_b64: &str) -> Option<Vec<u8>> {
    b64url_decode(challenge_b64).map(|c| crypto::sha256(&c))
}

/// The challenge that a credential's client data names (as sent).
fn client_challenge(credential: &Value) -> Option<Vec<u8>> {
    let data = b64url_decode(credential["response"]["clientDataJSON"].as_str()?)?;
    let data: Value = serde_json::from_slice(&data).ok()?;
    challenge_key(data["challenge"].as_str()?)
}

async fn store(
    state: &AppState,
    options: &Value,
    purpose: Purpose,
    user_id: Option<Uuid>,
    ceremony: &impl serde::Serialize,
) -> Result<(), AuthError> {
    let key = options["publicKey"]["challenge"]
        .as_str()
        .and_then(challenge_key)
        .ok_or_else(|| anyhow::anyhow!("options without a challenge"))?;
    let text = serde_json::to_string(ceremony).map_err(anyhow::Error::from)?;
    let mut conn = db::conn(&state.pool).await?;
    let expires = state.clock.now() + CHALLENGE_TTL;
    rows::insert_challenge(&mut conn, &key, purpose.as_str(), user_id, &text, expires).await?;
    Ok(())
}

/// The ceremony state `credential` answers, taken (single use).
async fn take(
    state: &AppState,
    credential: &Value,
    purpose: Purpose,
    user_id: Option<Uuid>,
) -> Result<Option<String>, AuthError> {
    let Some(key) = client_challenge(credential) else {
        return Ok(None);
    };
    let mut conn = db::conn(&state.pool).await?;
    let now = state.clock.now();
    Ok(rows::take_challenge(&mut conn, &key, purpose.as_str(), user_id, now).await?)
}

/// The relying party, if passkeys are on (PUBLIC_URL names a domain).
fn rp(state: &AppState) -> Option<&Webauthn> {
    state.webauthn.as_deref()
}

fn parse_passkey(row: &PasskeyRow) -> Option<Passkey> {
    serde_json::from_str(&row.passkey).ok()
}

/// Creation options for a new passkey of `user` (their existing ones
/// excluded): `{"publicKey": {...}}`; `None` when passkeys are off.
pub async fn start_registration(state: &AppState, user: &User) -> Result<Option<Value>, AuthError> {
    let Some(webauthn) = rp(state) else {
        return Ok(None);
    };
    let existing = {
        let mut conn = db::conn(&state.pool).await?;
        rows::for_user(&mut conn, user.id).await?
    };
    let exclude = existing
        .iter()
        .filter_map(parse_passkey)
        .map(|p| p.cred_id().clone())
        .collect();
    let (options, ceremony) = webauthn
        .start_passkey_registration(user.id, &user.email, &user.email, Some(exclude))
        .map_err(|e| anyhow::anyhow!("passkey registration options: {e}"))?;
    let mut options = serde_json::to_value(options).map_err(anyhow::Error::from)?;
    // A passkey lives on the authenticator (discoverable), so that it can
    // sign in without a user name.
    let selection = &mut options["publicKey"]["authenticatorSelection"];
    selection["residentKey"] = Value::from("required");
    selection["requireResidentKey"] = Value::from(true);
    selection["userVerification"] = Value::from("required");
    store(state, &options, Purpose::Register, Some(user.id), &ceremony).await?;
    Ok(Some(options))
}

/// A verified new passkey: what to store.
pub struct NewCredential {
    pub credential_id: Vec<u8>,
    pub record: String,
}

/// Verifies `credential` against the registration ceremony `user` began;
/// `None` for anything invalid (wrong origin or RP ID, reused or unknown
/// challenge, bad attestation).
pub async fn finish_registration(
    state: &AppState,
    user_id: Uuid,
    credential: &Value,
) -> Result<Option<NewCredential>, AuthError> {
    let Some(webauthn) = rp(state) else {
        return Ok(None);
    };
    let Ok(parsed) = serde_json::from_value::<RegisterPublicKeyCredential>(credential.clone())
    else {
        return Ok(None);
    };
    let Some(text) = take(state, credential, Purpose::Register, Some(user_id)).await? else {
        return Ok(None);
    };
    let ceremony: PasskeyRegistration = serde_json::from_str(&text).map_err(anyhow::Error::from)?;
    let passkey = match webauthn.finish_passkey_registration(&parsed, &ceremony) {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(error = %e, "passkey registration refused");
            return Ok(None);
        }
    };
    Ok(Some(NewCredential {
        credential_id: passkey.cred_id().as_ref().to_vec(),
        record: serde_json::to_string(&passkey).map_err(anyhow::Error::from)?,
    }))
}

/// Request options: for `user_id`'s passkeys (second factor, re-auth), or
/// for any discoverable one (`None`: sign-in, an empty allowCredentials).
/// `None` when the user has no passkey.
pub async fn start_authentication(
    state: &AppState,
    purpose: Purpose,
    user_id: Option<Uuid>,
) -> Result<Option<Value>, AuthError> {
    let Some(webauthn) = rp(state) else {
        return Ok(None);
    };
    let Some(user_id) = user_id else {
        let (options, ceremony) = webauthn
            .start_discoverable_authentication()
            .map_err(|e| anyhow::anyhow!("passkey sign-in options: {e}"))?;
        let mut options = serde_json::to_value(options).map_err(anyhow::Error::from)?;
        // The page asks with a button, not through autofill.
        if let Some(o) = options.as_object_mut() {
            o.remove("mediation");
        }
        store(state, &options, purpose, None, &ceremony).await?;
        return Ok(Some(options));
    };
    let keys: Vec<Passkey> = {
        let mut conn = db::conn(&state.pool).await?;
        rows::for_user(&mut conn, user_id).await?
    }
    .iter()
    .filter_map(parse_passkey)
    .collect();
    if keys.is_empty() {
        return Ok(None);
    }
    let (options, ceremony) = webauthn
        .start_passkey_authentication(&keys)
        .map_err(|e| anyhow::anyhow!("passkey options: {e}"))?;
    let options = serde_json::to_value(options).map_err(anyhow::Error::from)?;
    store(state, &options, purpose, Some(user_id), &ceremony).await?;
    Ok(Some(options))
}

/// Whose passkey signed, once verified.
#[derive(Debug, Clone)]
pub struct Asserted {
    pub user_id: Uuid,
    pub passkey_id: Uuid,
}

/// Verifies an assertion against the ceremony it answers. For a user's
/// ceremony (`user_id`), the credential must be one of theirs; for the
/// discoverable sign-in, the credential must be registered and belong to
/// the user the authenticator names. `None` for anything invalid.
pub async fn finish_authentication(
    state: &AppState,
    purpose: Purpose,
    user_id: Option<Uuid>,
    credential: &Value,
) -> Result<Option<Asserted>, AuthError> {
    let Some(webauthn) = rp(state) else {
        return Ok(None);
    };
    let Ok(parsed) = serde_json::from_value::<PublicKeyCredential>(credential.clone()) else {
        return Ok(None);
    };
    let Some(text) = take(state, credential, purpose, user_id).await? else {
        return Ok(None);
    };
    let mut conn = db::conn(&state.pool).await?;
    let Some(row) = rows::find_by_credential(&mut conn, parsed.get_credential_id()).await? else {
        return Ok(None);
    };
    let Some(mut passkey) = parse_passkey(&row) else {
        return Ok(None);
    };
    let verified = match user_id {
        Some(owner) => {
            if row.user_id != owner {
                return Ok(None);
            }
            let ceremony: PasskeyAuthentication =
                serde_json::from_str(&text).map_err(anyhow::Error::from)?;
            webauthn.finish_passkey_authentication(&parsed, &ceremony)
        }
        None => {
            let ceremony: DiscoverableAuthentication =
                serde_json::from_str(&text).map_err(anyhow::Error::from)?;
            let named = webauthn
                .identify_discoverable_authentication(&parsed)
                .ok()
                .map(|(user, _)| user);
            if named != Some(row.user_id) {
                return Ok(None);
            }
            webauthn.finish_discoverable_authentication(
                &parsed,
                ceremony,
                &[DiscoverableKey::from(&passkey)],
            )
        }
    };
    let result = match verified {
        Ok(r) if r.user_verified() || purpose == Purpose::SecondFactor => r,
        Ok(_) => return Ok(None),
        Err(e) => {
            tracing::info!(error = %e, "passkey assertion refused");
            return Ok(None);
        }
    };
    passkey.update_credential(&result);
    let record = serde_json::to_string(&passkey).map_err(anyhow::Error::from)?;
    rows::record_use(&mut conn, row.id, &record, state.clock.now()).await?;
    Ok(Some(Asserted {
        user_id: row.user_id,
        passkey_id: row.id,
    }))
}
