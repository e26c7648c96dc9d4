use luigi_macros::neural_assert;

#[neural_assert(model = "m.luigi.yaml", layer = "lstm", corpus = "eval.c", layer = "gru",
                hypothesis = builtin("comment"), expect = some_unit, metric = "auc", min = 0.9)]
fn comment_unit() {}

fn main() {}
