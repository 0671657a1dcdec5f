//! Sets the SONAME of the shared library (libdaos_rs.so.<soversion>, the
//! number from `[package.metadata.daos_rs] soversion` in Cargo.toml), so that
//! programs linked against it record the ABI version, not the bare file name.
//! The symbol versions come from daos_rs.map, applied by
//! scripts/cargo-linker.sh (see .cargo/config.toml).

use std::path::Path;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let manifest = std::fs::read_to_string(Path::new(&dir).join("Cargo.toml")).expect("read Cargo.toml");
    let soversion = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("soversion = "))
        .map(|v| v.trim().to_string())
        .expect("Cargo.toml: [package.metadata.daos_rs] soversion = N");
    assert!(soversion.bytes().all(|b| b.is_ascii_digit()), "soversion must be a number, not {soversion:?}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libdaos_rs.so.{soversion}");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=daos_rs.map");
}
