//! Every form of every key compiles against the runtime's signatures.
//! (trybuild builds without `--test`, so the generated `#[test]`s are
//! type-checked by `tests/macros/runtime.rs`; this checks that the real
//! compiler accepts the macro's arguments and output.)

#[path = "../../mock/luigi_test.rs"]
mod luigi_test;

use luigi_macros::neural_assert;

mod hypotheses {
    pub fn depth(seq: &[char]) -> Vec<f32> {
        vec![0.0; seq.len()]
    }
    pub fn make() -> Box<dyn crate::luigi_test::_macro_support::Hypothesis> {
        unimplemented!()
    }
}

#[neural_assert(crate = "crate::luigi_test",
                model = "examples/cmodel/cmodel.luigi.yaml", layer = "lstm",
                corpus = "examples/cmodel/eval.c", window = 256, kind = "binary",
                expect = some_unit, metric = "auc", min = 0.5, max_q = 0.01, seed = 7,)]
fn inside_parentheses(seq: &[char]) -> Vec<f32> {
    vec![0.0; seq.len()]
}

#[neural_assert(crate = "crate::luigi_test", model = "m.luigi.yaml", layer = "lstm",
                corpus = "eval.c", kind = categorical("closed", "open"),
                expect = at_most(2), metric = "eta", min = 0.8)]
fn state(seq: &[char]) -> Vec<f32> {
    vec![0.0; seq.len()]
}

#[neural_assert(crate = "crate::luigi_test", model = "m.luigi.yaml", layer = "lstm",
                corpus = "eval.c", hypothesis = builtin("comment"),
                expect = at_most(3), metric = "mutual_info", min = 0.9)]
fn comment_units() {}

#[neural_assert(crate = "crate::luigi_test", model = "m.luigi.yaml", layer = "lstm",
                corpus = "eval.c", hypothesis = hypotheses::depth,
                expect = units([53, "127"]), metric = "pearson", min = -0.7)]
fn known_units() {}

#[neural_assert(crate = "crate::luigi_test", model = "m.luigi.yaml", layer = "lstm",
                corpus = "eval.c", hypothesis = hypotheses::make(),
                expect = some_unit, metric = "spearman", min = 0.7)]
fn boxed() -> Result<(), String> {
    Ok(())
}

#[neural_assert(crate = "crate::luigi_test", model = "/abs/m.luigi.yaml", layer = "lstm",
                corpus = "/abs/eval.c",
                hypothesis = builtin("fsm", "examples/boolean/automata.yaml#value"),
                expect = probe, min_accuracy = 0.99, min_selectivity = 0.2)]
#[ignore]
fn fsm_readable() {}

#[neural_assert(crate = "crate::luigi_test", model = "m.luigi.yaml", layer = "lstm",
                corpus = "eval.c", hypothesis = builtin("parity"),
                expect = probe([0, 3]), min_selectivity = 0.1)]
fn parity() {}

fn main() {}
