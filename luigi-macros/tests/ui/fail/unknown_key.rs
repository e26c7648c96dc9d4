use luigi_macros::neural_assert;

#[neural_assert(modle = "m.luigi.yaml", layer = "lstm", corpus = "eval.c",
                hypothesis = builtin("comment"), expect = some_unit, metric = "auc", min = 0.9,
                units = [53, 127])]
fn comment_unit() {}

fn main() {}
