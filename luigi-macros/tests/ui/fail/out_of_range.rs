use luigi_macros::neural_assert;

#[neural_assert(model = "m.luigi.yaml", layer = "lstm", corpus = "eval.c",
                hypothesis = builtin("depth"), expect = some_unit, metric = "pearson",
                min = 1.5, max_q = 0)]
fn correlation_above_one() {}

#[neural_assert(model = "m.luigi.yaml", layer = "lstm", corpus = "eval.c",
                hypothesis = builtin("fsm", "automata.yaml#value"), expect = probe,
                min_accuracy = 99, min_selectivity = -0.2, window = 0)]
fn accuracy_in_percent() {}

fn main() {}
