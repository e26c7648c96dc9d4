//! Values passed through `macro_rules!` fragments arrive wrapped in
//! invisible groups; the attribute sees through them.

#[path = "../../mock/luigi_test.rs"]
mod luigi_test;

use luigi_macros::neural_assert;

macro_rules! assert_comment_unit {
    ($name:ident, $min:expr, $layer:expr) => {
        #[neural_assert(crate = "crate::luigi_test", model = "m.luigi.yaml", layer = $layer,
                        corpus = "eval.c", hypothesis = builtin("comment"),
                        expect = some_unit, metric = "auc", min = $min)]
        fn $name() {}
    };
}

assert_comment_unit!(comment_unit_lstm, 0.9, "lstm");
assert_comment_unit!(comment_unit_gru, -0.0, "gru");

fn main() {}
