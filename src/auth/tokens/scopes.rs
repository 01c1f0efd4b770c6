//! API scopes as a type: `Scope::NotesRead`, so a misspelt scope does not
//! compile. The catalogue below is the one place a scope is declared: its
//! variant, its wire name, what it allows (shown in the API description and
//! its docs page), and whether a new user is granted it. `Scope::ALL` is
//! every scope this app knows (what a request or the CLI may name);
//! `Scope::default_grant()`, the grant of a new user. A scope kept out of the default
//! grant is one only some users get (the CLI's `user grant-scope`). A user's
//! grant is stored as a space-separated string; a token request may only
//! narrow it. Unknown names in a request are `invalid_scope`.
//!
//! Adding a scope: one line in `catalogue!` below (and, for a default scope,
//! a migration that grants it to existing users: see docs/guide.md).

/// Declares the catalogue: `Variant = "wire:name", default|extra, "what it allows";`.
macro_rules! catalogue {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, $grant:ident, $description:literal;)+) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Scope {
            $($(#[$doc])* $variant,)+
        }

        impl Scope {
            /// The catalogue: every scope this app knows, in canonical order
            /// (the order of granted scope strings).
            pub const ALL: &'static [Scope] = &[$(Scope::$variant),+];

            /// The wire name, as in the `scope` claim and parameter.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Scope::$variant => $name,)+
                }
            }

            /// What the scope allows, in a few words.
            pub fn description(self) -> &'static str {
                match self {
                    $(Scope::$variant => $description,)+
                }
            }

            /// Whether a new user is granted it.
            pub fn is_default(self) -> bool {
                match self {
                    $(Scope::$variant => catalogue!(@grant $grant),)+
                }
            }
        }
    };
    (@grant default) => { true };
    (@grant extra) => { false };
}

catalogue! {
    ProfileRead = "profile:read", default, "read the user's profile (GET /api/v1/me)";
    ProfileWrite = "profile:write", default, "change or delete the account (DELETE /api/v1/me)";
    NotesRead = "notes:read", default, "read the user's notes";
    NotesWrite = "notes:write", default, "create and delete the user's notes";
    KeysRead = "keys:read", default, "list the user's API keys";
    KeysWrite = "keys:write", default, "create (after a recent sign-in) and revoke the user's API keys";
    /// Kept out of the default grant: only users an operator grants it to
    /// (`user grant-scope --email E stats:read`), and service accounts.
    StatsRead = "stats:read", extra, "read the user and session counts (granted by an operator)";
}

impl Scope {
    /// What a new user is granted: the scopes marked `default`.
    pub fn default_grant() -> impl Iterator<Item = Scope> {
        Scope::ALL.iter().copied().filter(|s| s.is_default())
    }

    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.iter().copied().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The grant of a new user: the scopes marked `default`, as a scope string.
pub fn default_grant() -> String {
    join(&Scope::default_grant().collect::<Vec<_>>())
}

/// Every known scope as one scope string: what a request or the CLI may name.
pub fn catalogue() -> String {
    join(Scope::ALL)
}

/// `granted` with `added` scopes joined in (canonical order); every name must
/// be known.
pub fn with(granted: &str, added: &[Scope]) -> String {
    let mut scopes: Vec<Scope> = split(granted).filter_map(Scope::parse).collect();
    scopes.extend_from_slice(added);
    canonical(&scopes)
}

/// `granted` without `removed`.
pub fn without(granted: &str, removed: &[Scope]) -> String {
    let scopes: Vec<Scope> = split(granted)
        .filter_map(Scope::parse)
        .filter(|s| !removed.contains(s))
        .collect();
    canonical(&scopes)
}

fn canonical(scopes: &[Scope]) -> String {
    let ordered: Vec<Scope> = Scope::ALL
        .iter()
        .copied()
        .filter(|s| scopes.contains(s))
        .collect();
    join(&ordered)
}

fn join(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Debug, PartialEq, Eq)]
pub enum ScopeError {
    Unknown(String),
    NotGranted(String),
}

impl std::fmt::Display for ScopeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScopeError::Unknown(s) => write!(f, "unknown scope `{s}`"),
            ScopeError::NotGranted(s) => write!(f, "scope `{s}` exceeds the granted scope"),
        }
    }
}

impl std::error::Error for ScopeError {}

/// The names in a space-separated scope string.
fn split(scope: &str) -> impl Iterator<Item = &str> {
    scope.split(' ').filter(|s| !s.is_empty())
}

/// Whether a space-separated scope string carries `wanted`.
pub fn contains(scope: &str, wanted: Scope) -> bool {
    split(scope).any(|s| s == wanted.as_str())
}

/// The scope to grant: `requested` (if given and non-empty) must name known
/// scopes within `granted`; absent means all of `granted`. Canonical order.
pub fn narrow(requested: Option<&str>, granted: &str) -> Result<String, ScopeError> {
    let wanted: Vec<Scope> = match requested.map(str::trim).filter(|s| !s.is_empty()) {
        None => split(granted).filter_map(Scope::parse).collect(),
        Some(req) => {
            let mut out = Vec::new();
            for name in req.split([' ', '\t']).filter(|s| !s.is_empty()) {
                let Some(scope) = Scope::parse(name) else {
                    return Err(ScopeError::Unknown(name.chars().take(64).collect()));
                };
                if !contains(granted, scope) {
                    return Err(ScopeError::NotGranted(name.to_owned()));
                }
                out.push(scope);
            }
            out
        }
    };
    Ok(canonical(&wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_or_empty_means_the_whole_grant() {
        let grant = default_grant();
        assert_eq!(narrow(None, &grant).unwrap(), grant);
        assert_eq!(narrow(Some("  "), &grant).unwrap(), grant);
    }

    #[test]
    fn requests_narrow_and_are_canonicalized() {
        let (read, write) = (Scope::NotesRead.as_str(), Scope::NotesWrite.as_str());
        assert_eq!(
            narrow(Some(&format!("{write} {read} {read}")), &default_grant()).unwrap(),
            format!("{read} {write}")
        );
    }

    #[test]
    fn unknown_or_ungranted_scopes_are_refused() {
        assert!(matches!(
            narrow(Some("admin"), &default_grant()),
            Err(ScopeError::Unknown(_))
        ));
        assert!(matches!(
            narrow(Some(Scope::NotesWrite.as_str()), Scope::NotesRead.as_str()),
            Err(ScopeError::NotGranted(_))
        ));
    }

    #[test]
    fn scopes_are_granted_and_taken_one_at_a_time() {
        let read = Scope::NotesRead.as_str();
        assert_eq!(
            with(read, &[Scope::ProfileRead]),
            format!("profile:read {read}")
        );
        assert_eq!(
            with(read, &[Scope::NotesRead]),
            read,
            "granting twice is once"
        );
        let fewer = without(&default_grant(), &[Scope::NotesWrite, Scope::NotesRead]);
        assert!(!contains(&fewer, Scope::NotesRead) && !contains(&fewer, Scope::NotesWrite));
        assert!(
            contains(&fewer, Scope::ProfileRead),
            "the rest stays: {fewer}"
        );
        // The default grant is part of the catalogue.
        assert_eq!(
            narrow(Some(&default_grant()), &catalogue()).unwrap(),
            default_grant()
        );
    }

    #[test]
    fn every_scope_round_trips_through_its_name() {
        for &s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
            assert!(!s.description().is_empty());
        }
    }
}
