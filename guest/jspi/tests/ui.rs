//! Compile-fail tests: what the Rust API promises at compile time (`ui/*.rs`, each
//! with the `.stderr` rustc must print). Refresh with `TRYBUILD=overwrite cargo test
//! -p jspi --test ui` and review the diff.

#[test]
fn ui() {
    trybuild::TestCases::new().compile_fail("ui/*.rs");
}
