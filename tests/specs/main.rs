//! Every spec in `specs/` as its own test (`cargo test --test specs`):
//! the example models must keep the specialised units their specs state.

fn main() -> std::process::ExitCode {
    luigi_test::spec::test_main(&[concat!(env!("CARGO_MANIFEST_DIR"), "/../specs")])
}
