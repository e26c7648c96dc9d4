//! Integration tests of `#[neural_assert]`: generated tests run against a
//! mock of the runtime (`runtime`), and compile errors are pinned with
//! trybuild (`ui`).

#[path = "../mock/luigi_test.rs"]
mod luigi_test;

mod runtime;
mod ui;
