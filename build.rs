//! Rebuild when a migration is added or edited: the migrations are embedded in
//! the binary (`diesel_migrations::embed_migrations!`), and without this cargo
//! would keep running the old set.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
