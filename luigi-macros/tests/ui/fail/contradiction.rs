use luigi_macros::neural_assert;

// Two expectations in one test.
#[neural_assert(model = "m.luigi.yaml", layer = "lstm", corpus = "eval.c",
                hypothesis = builtin("comment"), expect = units([53, 127]), expect = some_unit,
                metric = "auc", min = 0.9)]
fn two_expectations() {}

// Probe thresholds with a metric expectation, a kind for a built-in hypothesis.
#[neural_assert(model = "m.luigi.yaml", layer = "lstm", corpus = "eval.c",
                hypothesis = builtin("comment"), kind = "binary",
                expect = at_most(3), metric = "auc", min = 0.9, min_accuracy = 0.99)]
fn probe_keys_without_probe() {}

// A metric with a probe; a metric that does not fit the kind.
#[neural_assert(model = "m.luigi.yaml", layer = "lstm", corpus = "eval.c",
                expect = probe, min_accuracy = 0.9, metric = "pearson")]
fn metric_with_probe(seq: &[char]) -> Vec<f32> {
    vec![0.0; seq.len()]
}

#[neural_assert(model = "m.luigi.yaml", layer = "lstm", corpus = "eval.c",
                expect = some_unit, metric = "auc", min = 0.9)]
fn auc_of_a_numeric_hypothesis(seq: &[char]) -> Vec<f32> {
    vec![0.0; seq.len()]
}

fn main() {}
