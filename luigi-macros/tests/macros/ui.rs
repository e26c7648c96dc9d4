//! Compile-time behaviour, with the real compiler: pass cases compile
//! against the mock runtime; fail cases pin the error messages and spans
//! (`tests/ui/fail/*.stderr`; regenerate with `TRYBUILD=overwrite`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
