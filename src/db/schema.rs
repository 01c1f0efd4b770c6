//! Table definitions, kept in step with `migrations/` by hand (the same shape
//! `diesel print-schema` would generate).

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        password_hash -> Text,
        scopes -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        email_verified_at -> Nullable<Timestamptz>,
        disabled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        kind -> Text,
        scope -> Text,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        idle_expires_at -> Timestamptz,
        absolute_expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        revoked_reason -> Nullable<Text>,
        user_agent -> Text,
        ip -> Text,
        aal -> Int2,
        amr -> Text,
        auth_time -> Timestamptz,
    }
}

diesel::table! {
    session_state (key_hash) {
        key_hash -> Bytea,
        session_id -> Nullable<Uuid>,
        state -> Text,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    auth_events (id) {
        id -> Int8,
        kind -> Text,
        user_id -> Nullable<Uuid>,
        session_id -> Nullable<Uuid>,
        ip -> Text,
        detail -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Int8,
        key -> Text,
        failed_at -> Timestamptz,
    }
}

diesel::table! {
    app_secrets (name) {
        name -> Text,
        value -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        private_key -> Bytea,
        public_key -> Bytea,
        state -> Text,
        created_at -> Timestamptz,
        retired_at -> Nullable<Timestamptz>,
        activates_at -> Timestamptz,
    }
}

diesel::table! {
    notes (id) {
        id -> Uuid,
        user_id -> Uuid,
        title -> Text,
        body -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Uuid,
        session_id -> Uuid,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        spent_at -> Nullable<Timestamptz>,
        successor_nonce -> Nullable<Bytea>,
    }
}

diesel::table! {
    mail_outbox (id) {
        id -> Int8,
        recipient -> Text,
        subject -> Text,
        body_text -> Text,
        body_html -> Text,
        created_at -> Timestamptz,
        next_attempt_at -> Timestamptz,
        attempts -> Int4,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<Timestamptz>,
        failed_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    account_tokens (token_hash) {
        token_hash -> Bytea,
        user_id -> Uuid,
        purpose -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    totp_factors (user_id) {
        user_id -> Uuid,
        secret_sealed -> Bytea,
        last_step -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> Int8,
        user_id -> Uuid,
        code_hash -> Bytea,
        created_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    passkeys (id) {
        id -> Uuid,
        user_id -> Uuid,
        name -> Text,
        credential_id -> Bytea,
        passkey -> Text,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    webauthn_challenges (challenge_hash) {
        challenge_hash -> Bytea,
        purpose -> Text,
        user_id -> Nullable<Uuid>,
        state -> Text,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    oidc_identities (id) {
        id -> Uuid,
        user_id -> Uuid,
        provider -> Text,
        subject -> Text,
        email -> Text,
        created_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    oidc_requests (state_hash) {
        state_hash -> Bytea,
        browser_hash -> Bytea,
        provider -> Text,
        purpose -> Text,
        user_id -> Nullable<Uuid>,
        nonce -> Text,
        pkce_verifier -> Text,
        next -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    oidc_links (token_hash) {
        token_hash -> Bytea,
        user_id -> Uuid,
        provider -> Text,
        subject -> Text,
        email -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        name -> Text,
        key_hash -> Bytea,
        start -> Text,
        last_used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    service_clients (id) {
        id -> Uuid,
        name -> Text,
        scopes -> Text,
        unit_id -> Uuid,
        disabled_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    service_client_secrets (id) {
        id -> Uuid,
        client_id -> Uuid,
        secret_hash -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    retired_units (id) {
        id -> Uuid,
        revoked_at -> Timestamptz,
    }
}

diesel::joinable!(api_keys -> sessions (id));
diesel::joinable!(service_client_secrets -> service_clients (client_id));
diesel::joinable!(account_tokens -> users (user_id));
diesel::joinable!(oidc_identities -> users (user_id));
diesel::joinable!(oidc_links -> users (user_id));
diesel::joinable!(passkeys -> users (user_id));
diesel::joinable!(totp_factors -> users (user_id));
diesel::joinable!(recovery_codes -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(notes -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    refresh_tokens,
    users,
    sessions,
    session_state,
    auth_events,
    login_failures,
    app_secrets,
    signing_keys,
    notes,
    mail_outbox,
    account_tokens,
    totp_factors,
    recovery_codes,
    passkeys,
    webauthn_challenges,
    oidc_identities,
    oidc_requests,
    oidc_links,
    api_keys,
    service_clients,
    service_client_secrets,
    retired_units
);
