//! Links defmt's section layout (`defmt.x`) into this package's image only: the other
//! images of the workspace do not log through defmt.
fn main() {
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
}
