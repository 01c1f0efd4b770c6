//! API scopes. A user's grant defaults to all of them; a token request may
//! only narrow it. Unknown scope names are `invalid_scope`.

pub const PROFILE_READ: &str = "profile:read";
pub const NOTES_READ: &str = "notes:read";
pub const NOTES_WRITE: &str = "notes:write";

/// Every scope, in canonical order.
pub const ALL: [&str; 3] = [PROFILE_READ, NOTES_READ, NOTES_WRITE];

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

/// Splits a space-separated scope string, keeping known names only.
pub fn split(scope: &str) -> impl Iterator<Item = &str> {
    scope.split(' ').filter(|s| !s.is_empty())
}

pub fn contains(scope: &str, wanted: &str) -> bool {
    split(scope).any(|s| s == wanted)
}

/// The scope to grant: `requested` (if given and non-empty) must name known
/// scopes within `granted`; absent means all of `granted`. Canonical order.
pub fn narrow(requested: Option<&str>, granted: &str) -> Result<String, ScopeError> {
    let wanted: Vec<&str> = match requested.map(str::trim).filter(|s| !s.is_empty()) {
        None => split(granted).collect(),
        Some(req) => {
            let mut out = Vec::new();
            for s in req.split([' ', '\t']).filter(|s| !s.is_empty()) {
                if !ALL.contains(&s) {
                    return Err(ScopeError::Unknown(s.chars().take(64).collect()));
                }
                if !contains(granted, s) {
                    return Err(ScopeError::NotGranted(s.to_owned()));
                }
                out.push(s);
            }
            out
        }
    };
    Ok(ALL
        .iter()
        .filter(|s| wanted.contains(s))
        .copied()
        .collect::<Vec<_>>()
        .join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRANT: &str = "profile:read notes:read notes:write";

    #[test]
    fn absent_or_empty_means_the_whole_grant() {
        assert_eq!(narrow(None, GRANT).unwrap(), GRANT);
        assert_eq!(narrow(Some("  "), GRANT).unwrap(), GRANT);
    }

    #[test]
    fn requests_narrow_and_are_canonicalized() {
        assert_eq!(
            narrow(Some("notes:write notes:read notes:read"), GRANT).unwrap(),
            "notes:read notes:write"
        );
    }

    #[test]
    fn unknown_or_ungranted_scopes_are_refused() {
        assert!(matches!(
            narrow(Some("admin"), GRANT),
            Err(ScopeError::Unknown(_))
        ));
        assert!(matches!(
            narrow(Some("notes:write"), "notes:read"),
            Err(ScopeError::NotGranted(_))
        ));
    }
}
