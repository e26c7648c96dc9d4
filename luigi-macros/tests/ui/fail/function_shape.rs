use luigi_macros::neural_assert;

// Without `hypothesis = ...` the function must be the hypothesis.
#[neural_assert(model = "m.luigi.yaml", layer = "lstm", corpus = "eval.c",
                expect = some_unit, metric = "pearson", min = 0.5)]
fn no_argument() {}

// With `hypothesis = ...` the function is the test and takes nothing.
#[neural_assert(model = "m.luigi.yaml", layer = "lstm", corpus = "eval.c",
                hypothesis = builtin("depth"), expect = some_unit, metric = "pearson", min = 0.5)]
fn with_argument(seq: &[char]) -> Vec<f32> {
    vec![0.0; seq.len()]
}

#[neural_assert(model = "m.luigi.yaml", layer = "lstm", corpus = "eval.c",
                hypothesis = builtin("depth"), expect = some_unit, metric = "pearson", min = 0.5)]
#[test]
async fn generic_async_test<T>() {}

#[neural_assert(model = "m.luigi.yaml", layer = "lstm", corpus = "eval.c",
                hypothesis = builtin("depth"), expect = some_unit, metric = "pearson", min = 0.5)]
struct NotAFunction;

fn main() {}
