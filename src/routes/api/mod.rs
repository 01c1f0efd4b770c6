//! The JSON API: bearer tokens only (never the session cookie), RFC 6749 /
//! RFC 6750 errors.
