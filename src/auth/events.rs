//! The auth vocabulary as types: what an audit event records (`AuthEvent`)
//! and why a session ended (`RevokeReason`). The database stores `as_str`;
//! the account page turns them back with `parse` and words them with an
//! exhaustive match, so a new variant does not compile until it has words.

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name {
            $($variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The value stored in the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The variant stored as `text`, if any.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// An entry of the security activity (`auth_events.kind`).
    AuthEvent {
        LoginOk => "login_ok",
        LoginFailed => "login_failed",
        PasswordChangeFailed => "password_change_failed",
        PasswordChanged => "password_changed",
        PasswordReset => "password_reset",
        PasswordResetRequested => "password_reset_requested",
        SessionRevoked => "session_revoked",
        RefreshTokenReuse => "refresh_token_reuse",
        EmailVerified => "email_verified",
        VerificationSent => "verification_sent",
        MfaEnabled => "mfa_enabled",
        MfaDisabled => "mfa_disabled",
        MfaFailed => "mfa_failed",
        RecoveryCodeUsed => "recovery_code_used",
        RecoveryCodesRegenerated => "recovery_codes_regenerated",
        PasskeyAdded => "passkey_added",
        PasskeyRemoved => "passkey_removed",
        Reauthenticated => "reauthenticated",
        OidcSignIn => "oidc_sign_in",
        IdentityLinked => "identity_linked",
        IdentityUnlinked => "identity_unlinked",
        AddressProven => "address_proven",
        ApiKeyCreated => "api_key_created",
        ApiKeyRevoked => "api_key_revoked",
        AccountDisabled => "account_disabled",
        AccountEnabled => "account_enabled",
    }
}

vocabulary! {
    /// Why a session was revoked (`sessions.revoked_reason`, the detail of
    /// its `session_revoked` event, and the `reason` label of the metric).
    RevokeReason {
        Logout => "logout",
        RevokedByUser => "revoked_by_user",
        OtherSessionsLoggedOut => "other_sessions_logged_out",
        PasswordChange => "password_change",
        PasswordReset => "password_reset",
        RefreshTokenReuse => "refresh_token_reuse",
        TokenRevoked => "token_revoked",
        Superseded => "superseded",
        RevokedByAdmin => "revoked_by_admin",
        AccountDeleted => "account_deleted",
        MfaChanged => "mfa_changed",
        ApiKeyRevoked => "api_key_revoked",
        AccountDisabled => "account_disabled",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_round_trips() {
        for e in AuthEvent::ALL {
            assert_eq!(AuthEvent::parse(e.as_str()), Some(*e));
        }
        for r in RevokeReason::ALL {
            assert_eq!(RevokeReason::parse(r.as_str()), Some(*r));
        }
        assert_eq!(AuthEvent::parse("no_such_kind"), None);
    }
}
