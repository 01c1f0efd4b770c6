//! A software WebAuthn authenticator for the passkey tests: an ES256 (P-256)
//! key from the `p256` crate, attestation format `none`, user present and
//! verified. It answers the app's options the way a browser would, in the
//! standard WebAuthn JSON (what `PublicKeyCredential.toJSON()` gives), and
//! lets a test break one thing at a time (origin, RP ID, signature).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// A CBOR item header (major type, argument).
fn cbor_head(major: u8, n: usize) -> Vec<u8> {
    let m = major << 5;
    match n {
        0..=23 => vec![m | n as u8],
        24..=0xff => vec![m | 24, n as u8],
        _ => {
            let mut v = vec![m | 25];
            v.extend_from_slice(&(n as u16).to_be_bytes());
            v
        }
    }
}

fn cbor_bytes(b: &[u8]) -> Vec<u8> {
    let mut v = cbor_head(2, b.len());
    v.extend_from_slice(b);
    v
}

fn cbor_text(t: &str) -> Vec<u8> {
    let mut v = cbor_head(3, t.len());
    v.extend_from_slice(t.as_bytes());
    v
}

/// What the authenticator should get wrong, if anything.
#[derive(Clone, Default)]
pub struct Tamper {
    /// The origin the client data names (default: the app's PUBLIC_URL).
    pub origin: Option<String>,
    /// The RP ID whose hash the authenticator data carries.
    pub rp_id: Option<String>,
    /// Sign something else.
    pub bad_signature: bool,
}

pub struct SoftAuthenticator {
    key: SigningKey,
    pub credential_id: Vec<u8>,
    /// The user handle the app gave at registration.
    pub user_handle: Vec<u8>,
    origin: String,
    rp_id: String,
    counter: u32,
}

impl SoftAuthenticator {
    /// A new authenticator for the app at `public_url`.
    pub fn new(public_url: &str) -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).unwrap();
        let key = SigningKey::from_bytes(&seed.into()).unwrap();
        let mut credential_id = vec![0u8; 32];
        getrandom::fill(&mut credential_id).unwrap();
        let rp_id = public_url
            .split("://")
            .nth(1)
            .unwrap()
            .split(':')
            .next()
            .unwrap()
            .to_owned();
        SoftAuthenticator {
            key,
            credential_id,
            user_handle: Vec::new(),
            origin: public_url.to_owned(),
            rp_id,
            counter: 0,
        }
    }

    fn client_data(&self, kind: &str, options: &Value, tamper: &Tamper) -> Vec<u8> {
        let challenge = options["publicKey"]["challenge"].as_str().unwrap();
        let origin = tamper.origin.as_deref().unwrap_or(&self.origin);
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": challenge,
            "origin": origin,
            "crossOrigin": false,
        }))
        .unwrap()
    }

    fn rp_hash(&self, tamper: &Tamper) -> Vec<u8> {
        sha256(tamper.rp_id.as_deref().unwrap_or(&self.rp_id).as_bytes())
    }

    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_encoded_point(false);
        let mut v = vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21];
        v.extend(cbor_bytes(point.x().unwrap()));
        v.push(0x22);
        v.extend(cbor_bytes(point.y().unwrap()));
        v
    }

    /// Answers creation options: the registration credential JSON.
    pub fn register(&mut self, options: &Value, tamper: &Tamper) -> Value {
        self.user_handle = unb64(options["publicKey"]["user"]["id"].as_str().unwrap());
        let client_data = self.client_data("webauthn.create", options, tamper);
        let mut auth_data = self.rp_hash(tamper);
        // User present, user verified, attested credential data.
        auth_data.push(0x45);
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]);
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend(self.cose_key());
        let mut attestation = vec![0xa3];
        attestation.extend(cbor_text("fmt"));
        attestation.extend(cbor_text("none"));
        attestation.extend(cbor_text("attStmt"));
        attestation.push(0xa0);
        attestation.extend(cbor_text("authData"));
        attestation.extend(cbor_bytes(&auth_data));
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "attestationObject": b64(&attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        })
    }

    /// Answers request options: the assertion credential JSON.
    pub fn assert(&mut self, options: &Value, tamper: &Tamper) -> Value {
        self.counter += 1;
        let client_data = self.client_data("webauthn.get", options, tamper);
        let mut auth_data = self.rp_hash(tamper);
        auth_data.push(0x05);
        auth_data.extend_from_slice(&self.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(sha256(&client_data));
        if tamper.bad_signature {
            signed.push(0);
        }
        let signature: Signature = self.key.sign(&signed);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "authenticatorData": b64(&auth_data),
                "signature": b64(signature.to_der().as_bytes()),
                "userHandle": b64(&self.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        })
    }
}
