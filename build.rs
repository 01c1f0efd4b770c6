//! Rebuild when a migration is added or edited: the migrations are embedded in
//! the binary (`diesel_migrations::embed_migrations!`), and without this cargo
//! would keep running the old set.
//!
//! It also names the metrics after the package (`hybrid-auth` →
//! `hybrid_auth_…`), so a renamed project's metrics carry its own name.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    let prefix: String = package
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    println!("cargo:rustc-env=METRICS_PREFIX={prefix}");
}
