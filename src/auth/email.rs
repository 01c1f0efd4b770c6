//! `Email`: parsed once (trimmed, lower-cased, plausibly shaped, and an
//! address the mailer can send to), trusted after. Quoted local parts and
//! backslashes are refused: `"ann"@example.com` reaches the same mailbox as
//! `ann@example.com` but would be another account.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("Enter your email address.");
        }
        if email.len() > 254 {
            return Err("That email address is too long.");
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err("Enter a valid email address.");
        };
        let ok = !local.is_empty()
            && local.len() <= 64
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && email
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !"<>\"\\".contains(c))
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        // What passes must also be deliverable: the mailer's own parser has
        // the last word (`a,b@example.com` would register, then never be mailed).
        if !ok || email.parse::<lettre::Address>().is_err() {
            return Err("Enter a valid email address.");
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn normalizes_and_validates() {
        assert_eq!(
            Email::parse("  Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "ann@ex..com",
            "a b@example.com",
            "ann@exa_mple.com",
            // Accepted by the shape check once, but no mailer can send to it.
            "a,b@example.com",
            "a\"b@example.com",
            "\"ann\"@example.com",
            "ann@evil.com@example.com",
            "ann@example.com.",
            "ann@example.com,bob@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        for good in ["ann.lee+tag@example.com", "o'neil@example.co.uk"] {
            assert!(Email::parse(good).is_ok(), "{good}");
        }
    }
}
