use luigi_macros::neural_assert;

// Every mistake is reported, in one compilation.
#[neural_assert(model = "m.luigi.yaml" layer = "lstm", corpus = , some_unit,
                hypothesis = "comment", expect = units(53, 127), metric = "pearsn",
                min = 0.5, seed = -1, crate = "not a path")]
fn comment_units() {}

fn main() {}
