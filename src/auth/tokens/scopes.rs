//! API scopes as a type: `Scope::NotesRead`, so a misspelt scope does not
//! compile. A user's grant (stored as a space-separated string) defaults to
//! every scope; a token request may only narrow it. Unknown names in a
//! request are `invalid_scope`.
//!
//! Adding a scope: a variant here, its name in `as_str`, an entry in `ALL`,
//! and a migration that grants it to existing users (README, "Extending").

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    ProfileRead,
    NotesRead,
    NotesWrite,
}

impl Scope {
    /// Every scope, in canonical order (the order of granted scope strings).
    pub const ALL: [Scope; 3] = [Scope::ProfileRead, Scope::NotesRead, Scope::NotesWrite];

    /// The wire name, as in the `scope` claim and parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ProfileRead => "profile:read",
            Scope::NotesRead => "notes:read",
            Scope::NotesWrite => "notes:write",
        }
    }

    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The grant of a new user: every scope.
pub fn default_grant() -> String {
    join(&Scope::ALL)
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
    let canonical: Vec<Scope> = Scope::ALL
        .into_iter()
        .filter(|s| wanted.contains(s))
        .collect();
    Ok(join(&canonical))
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
    fn every_scope_round_trips_through_its_name() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Some(s));
        }
    }
}
