use luigi_macros::neural_assert;

#[neural_assert(layer = "lstm", hypothesis = builtin("comment"), expect = at_most(3))]
fn comment_units() {}

#[neural_assert]
fn nothing_at_all() {}

fn main() {}
