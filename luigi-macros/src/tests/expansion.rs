//! Snapshots of the generated code.

use super::*;
use insta::assert_snapshot;

#[test]
fn function_is_the_hypothesis() {
    assert_snapshot!(expand(
        quote!(
            model = "examples/cmodel/cmodel.luigi.yaml",
            layer = "lstm",
            corpus = "examples/cmodel/eval.c",
            window = 256,
            kind = "binary",
            expect = some_unit,
            metric = "pearson",
            min = 0.5,
            max_q = 0.01,
            seed = 7,
        ),
        quote!(
            fn inside_parentheses(seq: &[char]) -> Vec<f32> {
                let mut depth = 0i32;
                seq.iter()
                    .map(|c| {
                        match c {
                            '(' => depth += 1,
                            ')' => depth -= 1,
                            _ => {}
                        }
                        f32::from(u8::from(depth > 0))
                    })
                    .collect()
            }
        ),
    ));
}

#[test]
fn builtin_hypothesis_at_most() {
    assert_snapshot!(expand(
        quote!(
            model = "examples/cmodel/cmodel.luigi.yaml",
            layer = "lstm",
            corpus = "examples/cmodel/eval.c",
            window = 256,
            hypothesis = builtin("comment"),
            expect = at_most(3),
            metric = "auc",
            min = 0.9,
        ),
        quote!(
            fn comment_units() {}
        ),
    ));
}

#[test]
fn function_path_and_exact_units() {
    assert_snapshot!(expand(
        quote!(
            model = "m.luigi.yaml",
            layer = "lstm",
            corpus = "eval.c",
            hypothesis = my_mod::depth_hypothesis,
            kind = categorical("even", "odd"),
            expect = units([53, "u127"]),
            metric = "mi",
            min = 0.7,
        ),
        quote!(
            fn known_units() {}
        ),
    ));
}

#[test]
fn boxed_hypothesis_and_body_after_the_assertion() {
    assert_snapshot!(expand(
        quote!(
            model = "m.luigi.yaml",
            layer = "lstm",
            corpus = "eval.c",
            hypothesis = my_mod::keyword("return"),
            expect = some_unit,
            metric = "spearman",
            min = -0.8,
        ),
        quote!(
            /// Doc.
            #[ignore = "slow"]
            fn keyword_unit() -> Result<(), String> {
                let x = 1;
                assert_eq!(x, 1);
                Ok(())
            }
        ),
    ));
}

#[test]
fn probe_on_a_builtin_fsm() {
    assert_snapshot!(expand(
        quote!(
            model = "examples/boolean/boolean.luigi.yaml",
            layer = "lstm",
            corpus = "examples/boolean/heldout.txt",
            hypothesis = builtin("fsm", "examples/boolean/automata.yaml#value"),
            expect = probe,
            min_accuracy = 0.99,
            min_selectivity = 0.2,
            seed = 7,
        ),
        quote!(
            fn fsm_readable() {}
        ),
    ));
}

#[test]
fn probe_on_listed_units_with_crate_override_and_absolute_paths() {
    assert_snapshot!(expand(
        quote!(
            crate = "crate::luigi_test",
            model = "/models/boolean.luigi.yaml",
            layer = "h",
            corpus = "/data/heldout.txt",
            hypothesis = builtin("parity"),
            expect = probe([0, 3]),
            min_accuracy = 1,
        ),
        quote!(
            fn parity_readable() {}
        ),
    ));
}

#[test]
fn test_attributes_move_to_the_test_and_the_rest_stay() {
    assert_snapshot!(expand(
        quote!(
            model = "m.luigi.yaml",
            layer = "lstm",
            corpus = "eval.c",
            kind = "binary",
            expect = some_unit,
            metric = "auc",
            min = 0.75,
        ),
        quote!(
            /// Whether the last character is a vowel.
            #[ignore]
            #[should_panic(expected = "no unit")]
            #[cfg(feature = "slow")]
            #[cfg_attr(miri, ignore)]
            #[cfg_attr(feature = "x", allow(unused))]
            #[allow(clippy::cast_precision_loss)]
            pub fn vowel(seq: &[char]) -> Vec<f32> {
                seq.iter()
                    .map(|c| f32::from(u8::from("aeiou".contains(*c))))
                    .collect()
            }
        ),
    ));
}

#[test]
fn on_error_the_function_is_emitted_beside_the_errors() {
    assert_snapshot!(expand(
        quote!(model = "m.luigi.yaml", layer = lstm, expect = some_unit),
        quote!(
            fn depth(seq: &[char]) -> Vec<f32> {
                vec![0.0; seq.len()]
            }
        ),
    ));
}
