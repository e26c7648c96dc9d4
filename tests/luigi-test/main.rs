//! Integration tests of the `luigi-test` library (one binary, many modules).

// Test helpers outside `#[test]` functions may panic: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod boolean_probe;
mod example_models;
mod fuzz;
mod generate;
mod inspect;
mod layers;
mod neural_assert;
mod numeric;
mod ranking_snapshot;
mod record;
mod specs;
mod subword;
mod verify;

use std::path::PathBuf;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate has a parent folder")
        .to_path_buf()
}

/// A fixture file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests").join("fixtures").join(name)
}
