//! The error messages, each test one mistake (or several at once).

use super::*;

/// The message for one mistake in the keys, with a hypothesis function.
fn one(attr: TokenStream) -> String {
    let mut all = errors(attr, hypothesis_fn());
    assert_eq!(all.len(), 1, "{all:#?}");
    all.remove(0)
}

const SHAPE: &str = "without `hypothesis = ...` the function is the hypothesis: \
                     `fn name(seq: &[char]) -> Vec<f32>`, one value per character; for a built-in \
                     hypothesis write `hypothesis = builtin(\"name\")`";

const VALID: &str = "valid keys: model, layer, corpus, window, hypothesis, kind, expect, metric, \
                     min, max_q, min_within_token, min_accuracy, min_selectivity, seed, verify, response, samples, steps, crate";

#[test]
fn unknown_key_lists_the_valid_keys_and_suggests_the_nearest() {
    let b = base();
    let m = one(quote!(#b, expect = some_unit, metric = "pearson", min = 0.5, modle = "x"));
    assert_eq!(
        m,
        format!("unknown key `modle` (did you mean `model`?); {VALID}")
    );
    let m = one(quote!(#b, expect = some_unit, metric = "pearson", min = 0.5, temperature = 1));
    assert_eq!(m, format!("unknown key `temperature`; {VALID}"));
}

#[test]
fn an_expectation_form_used_as_a_key_says_how_to_write_it() {
    let b = base();
    let m = one(quote!(#b, units = [53, 127], expect = some_unit, metric = "pearson", min = 0.5));
    assert_eq!(
        m,
        format!("unknown key `units`; `units` is a form of `expect`: write `expect = units([53, 127])`; {VALID}")
    );
    assert_eq!(
        errors(
            quote!(#b, some_unit, metric = "pearson", min = 0.5),
            hypothesis_fn()
        ),
        ["expected `some_unit = value`: write `expect = some_unit`"]
    );
}

#[test]
fn duplicate_key() {
    let b = base();
    let m = one(quote!(#b, layer = "gru", expect = some_unit, metric = "pearson", min = 0.5));
    assert_eq!(m, "duplicate key `layer`: give each key once");
}

#[test]
fn two_expectations_contradict() {
    let b = base();
    let m =
        one(quote!(#b, expect = units([53]), expect = some_unit, metric = "pearson", min = 0.5));
    assert_eq!(
        m,
        "duplicate key `expect`: a test makes one expectation (`some_unit` here, `units(..)` before); \
         write a second #[neural_assert] function for a second one"
    );
}

#[test]
fn wrong_value_types() {
    let b = base();
    let all = errors(
        quote!(
            #b, window = "256", kind = binary, expect = "some_unit", metric = pearson,
            min = "0.5", seed = 1.5
        ),
        hypothesis_fn(),
    );
    assert_eq!(
        all,
        [
            "`window` takes a whole number, e.g. `window = 256`",
            "`kind` takes a string: write `kind = \"binary\"`",
            "`expect` takes a form, not a string: write `expect = some_unit` (some_unit, units([53, 127]), \
             at_most(3), probe or probe([53, 127]))",
            "`metric` takes one of \"pearson\", \"spearman\", \"mi\", \"auc\", \"eta\"; write `metric = \"pearson\"`",
            "`min` takes a number, e.g. `min = 0.9`",
            "`seed` takes a whole number, e.g. `seed = 7`",
        ]
    );
}

#[test]
fn string_keys_take_strings() {
    let all = errors(
        quote!(
            model = examples::m,
            layer = lstm,
            corpus = 3,
            expect = some_unit,
            metric = "pearson",
            min = 0.5
        ),
        hypothesis_fn(),
    );
    assert_eq!(
        all,
        [
            "`model` takes a string, e.g. `model = \"examples/cmodel/cmodel.luigi.yaml\"`",
            "`layer` takes a string: write `layer = \"lstm\"`",
            "`corpus` takes a string, e.g. `corpus = \"examples/cmodel/eval.c\"`",
        ]
    );
    let m = one(quote!(
        model = "m",
        layer = " ",
        corpus = "c",
        expect = some_unit,
        metric = "pearson",
        min = 0.5
    ));
    assert_eq!(m, "`layer` cannot be empty: layer = \"lstm\"");
}

#[test]
fn missing_required_keys() {
    let all = errors(quote!(), hypothesis_fn());
    assert_eq!(
        all,
        [
            "missing key `model` (the model card, relative to the crate root), e.g. \
             `model = \"examples/cmodel/cmodel.luigi.yaml\"`",
            "missing key `layer` (the layer whose units are scored), e.g. `layer = \"lstm\"`",
            "missing key `corpus` (the input text, relative to the crate root), e.g. \
             `corpus = \"examples/cmodel/eval.c\"`",
            "missing key `expect` (what the model must show), e.g. `expect = some_unit`",
        ]
    );
}

#[test]
fn a_metric_expectation_needs_metric_and_min() {
    let b = base();
    let all = errors(quote!(#b, expect = at_most(2)), hypothesis_fn());
    assert_eq!(
        all,
        [
            "expect = at_most(..) needs `metric = ...`, one of \"pearson\", \"spearman\", \"mi\", \"auc\", \"eta\"",
            "expect = at_most(..) needs `min = ...`, the least value of the metric",
        ]
    );
}

#[test]
fn thresholds_outside_their_range() {
    let b = base();
    assert_eq!(
        one(quote!(#b, expect = some_unit, metric = "pearson", min = 1.5)),
        "min = 1.5 is outside the range of \"pearson\", which is [-1, 1]"
    );
    assert_eq!(
        one(quote!(#b, kind = "binary", expect = some_unit, metric = "auc", min = -0.1)),
        "min = -0.1 is outside the range of \"auc\", which is [0, 1]"
    );
    assert_eq!(
        one(quote!(#b, expect = some_unit, metric = "pearson", min = 0.5, max_q = 0)),
        "max_q = 0 is outside (0, 1]"
    );
    assert_eq!(
        one(quote!(#b, expect = some_unit, metric = "pearson", min = 0.5, max_q = 1.01)),
        "max_q = 1.01 is outside (0, 1]"
    );
    assert_eq!(
        one(quote!(#b, expect = probe, min_accuracy = 99)),
        "min_accuracy = 99 is outside [0, 1]"
    );
    assert_eq!(
        one(quote!(#b, expect = probe, min_accuracy = 0.9, window = 0)),
        "`window` must be at least 1"
    );
    assert_eq!(
        one(quote!(#b, expect = at_most(0), metric = "pearson", min = 0.5)),
        "`at_most` takes a whole number of units, at least 1: `expect = at_most(3)`"
    );
}

#[test]
fn probe_and_metric_keys_contradict() {
    let b = base();
    let all = errors(
        quote!(#b, expect = probe, metric = "pearson", min = 0.5, min_accuracy = 0.9),
        hypothesis_fn(),
    );
    assert_eq!(
        all,
        [
            "`metric` does not apply to expect = probe, which takes `min_accuracy` and `min_selectivity`",
            "`min` does not apply to expect = probe, which takes `min_accuracy` and `min_selectivity`",
        ]
    );
    let m =
        one(quote!(#b, expect = some_unit, metric = "pearson", min = 0.5, min_selectivity = 0.2));
    assert_eq!(
        m,
        "`min_selectivity` applies only to expect = probe; with a metric the threshold is `min` (and `max_q`)"
    );
    let m = one(quote!(#b, expect = probe([1, 2])));
    assert_eq!(
        m,
        "expect = probe needs `min_accuracy = ...`, `min_selectivity = ...` or both"
    );
}

#[test]
fn metric_must_fit_the_kind() {
    let b = base();
    assert_eq!(
        one(quote!(#b, expect = some_unit, metric = "auc", min = 0.9)),
        "metric \"auc\" does not fit this hypothesis: auc needs a binary hypothesis (kind = \"binary\")"
    );
    assert_eq!(
        one(
            quote!(#b, kind = categorical("a", "b"), expect = some_unit, metric = "pearson", min = 0.9)
        ),
        "metric \"pearson\" does not fit this hypothesis: correlation needs ordered values; \
         for a categorical hypothesis use metric = \"eta\" or \"mi\""
    );
    // An invalid hypothesis has no known kind: no second error about the metric.
    assert_eq!(
        errors(
            quote!(#b, hypothesis = "comment", expect = some_unit, metric = "auc", min = 0.9),
            test_fn()
        ),
        ["a built-in hypothesis is written `hypothesis = builtin(\"comment\")`"]
    );
    // A builtin's kind is unknown here: the runtime checks.
    let out = expand(
        quote!(#b, hypothesis = builtin("comment"), expect = some_unit, metric = "auc", min = 0.9),
        test_fn(),
    );
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn kind_does_not_apply_to_builtin_or_boxed_hypotheses() {
    let b = base();
    let expected = "`kind` applies only to a hypothesis given as a function (the annotated fn or \
                    `hypothesis = path::to::fn`); builtin(..) and boxed hypotheses carry their own kind";
    for h in [quote!(builtin("comment")), quote!(hyps::comment())] {
        let all = errors(
            quote!(#b, hypothesis = #h, kind = "binary", expect = some_unit, metric = "auc", min = 0.9),
            test_fn(),
        );
        assert_eq!(all, [expected]);
    }
}

#[test]
fn wrong_forms_of_hypothesis_kind_expect_and_units() {
    let b = base();
    let all = errors(
        quote!(
            #b, hypothesis = "comment", kind = categorical("only"),
            expect = units(53, 127), metric = "pearsn", min = 0.5
        ),
        test_fn(),
    );
    assert_eq!(
        all,
        [
            "a built-in hypothesis is written `hypothesis = builtin(\"comment\")`",
            "a categorical hypothesis has at least two states: `kind = categorical(\"closed\", \"open\")`",
            "`units` takes one list of units in brackets: `units([53, 127])`",
            "unknown metric \"pearsn\" (did you mean `pearson`?); the metrics are \"pearson\", \"spearman\", \
             \"mi\", \"auc\", \"eta\"",
        ]
    );
    let all = errors(
        quote!(#b, hypothesis = builtin(), expect = units([53, 53, 1.5]), metric = "pearson", min = 0.5),
        test_fn(),
    );
    assert_eq!(
        all,
        [
            "builtin(..) names the built-in hypothesis: `hypothesis = builtin(\"comment\")`",
            "a unit is its index on the layer (`53`) or its name as the model card gives it (`\"53\"`)",
        ]
    );
    assert_eq!(
        one(quote!(#b, hypothesis = builtin, expect = some_unit, metric = "pearson", min = 0.5)),
        "builtin(..) names the built-in hypothesis: `hypothesis = builtin(\"comment\")`"
    );
    assert_eq!(
        one(quote!(#b, expect = units([53, "53"]), metric = "pearson", min = 0.5)),
        "unit \"53\" is listed twice"
    );
    assert_eq!(
        one(quote!(#b, expect = some_units, metric = "pearson", min = 0.5)),
        "unknown expectation `some_units` (did you mean `some_unit`?); `expect` takes some_unit, \
         units([53, 127]), at_most(3), probe or probe([53, 127])"
    );
    assert_eq!(
        one(quote!(#b, expect = units([]), metric = "pearson", min = 0.5)),
        "`units([])` names no unit: list at least one, e.g. `units([53])`"
    );
    assert_eq!(
        one(
            quote!(#b, hypothesis = builtin("fsm", 3), expect = some_unit, metric = "pearson", min = 0.5)
        ),
        "builtin(..)'s arguments are non-empty strings"
    );
}

#[test]
fn all_errors_are_reported_together() {
    let all = errors(
        quote!(
            modle = "m",
            layer = "lstm",
            layer = "gru",
            expect = probe,
            min = 2,
            window = -1
        ),
        test_fn(),
    );
    assert_eq!(
        all,
        [
            format!("unknown key `modle` (did you mean `model`?); {VALID}"),
            "duplicate key `layer`: give each key once".to_string(),
            "`window` takes a whole number, e.g. `window = 256`".to_string(),
            "missing key `corpus` (the input text, relative to the crate root), e.g. \
             `corpus = \"examples/cmodel/eval.c\"`"
                .to_string(),
            SHAPE.to_string(),
            "`min` does not apply to expect = probe, which takes `min_accuracy` and `min_selectivity`"
                .to_string(),
            "expect = probe needs `min_accuracy = ...`, `min_selectivity = ...` or both".to_string(),
        ]
    );
}

#[test]
fn function_shapes() {
    let b = base();
    let metric = quote!(expect = some_unit, metric = "pearson", min = 0.5);
    assert_eq!(errors(quote!(#b, #metric), test_fn()), [SHAPE]);
    assert_eq!(
        errors(
            quote!(#b, #metric),
            quote!(
                fn f(seq: &[char]) {}
            )
        ),
        [SHAPE]
    );
    assert_eq!(
        errors(
            quote!(#b, #metric),
            quote!(
                fn f(a: u8, b: u8) -> Vec<f32> {
                    vec![]
                }
            )
        ),
        [SHAPE]
    );
    assert_eq!(
        errors(quote!(#b, hypothesis = builtin("comment"), #metric), hypothesis_fn()),
        ["with `hypothesis = ...` the function is the test: it takes no arguments, and its body runs \
          after the assertion passes"]
    );
    assert_eq!(
        errors(
            quote!(#b, hypothesis = builtin("comment"), #metric),
            quote!(
                #[test]
                async fn f<T>() {}
            )
        ),
        [
            "#[neural_assert] functions cannot be `async`",
            "#[neural_assert] functions cannot be generic",
            "remove this test attribute: #[neural_assert] already makes the function a test",
        ]
    );
    assert_eq!(
        errors(
            quote!(#b, hypothesis = builtin("comment"), #metric),
            quote!(
                #[tokio::test]
                #[neural_assert(layer = "gru")]
                fn f() {}
            )
        ),
        [
            "remove this test attribute: #[neural_assert] already makes the function a test",
            "one #[neural_assert] per function: write a second function for a second expectation",
        ]
    );
    assert_eq!(
        errors(quote!(#b, #metric), quote!(struct S;)),
        ["#[neural_assert] goes on a function: `fn name(seq: &[char]) -> Vec<f32>` when the function is \
          the hypothesis, `fn name()` with `hypothesis = ...`"]
    );
}

#[test]
fn syntax_errors_are_collected_with_the_rest() {
    let all = errors(
        quote!(model = "m" layer = "l", corpus = , some_unit, crate = "not a path", expect = probe, min_accuracy = 0.9),
        test_fn(),
    );
    assert_eq!(
        all,
        [
            "expected `,` between two `key = value` entries",
            "`corpus =` needs a value",
            "expected `some_unit = value`: write `expect = some_unit`",
            "`crate` takes the path of the Luigi facade crate as a string, e.g. `crate = \"::luigi_test\"`; \
             \"not a path\" is not a path",
            SHAPE,
        ]
    );
}
