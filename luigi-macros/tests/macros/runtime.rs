//! Generated tests, compiled as tests and run against the mock runtime:
//! each `#[neural_assert]` below is a real `#[test]`, and a companion test
//! calls it and checks every value it handed to the runtime.

use crate::luigi_test::_macro_support::{take_last, Assertion, Expectation, Kind, Metric, Source};
use luigi_macros::neural_assert;

/// A path under this crate's manifest directory, as the macro builds it.
fn manifest(rel: &str) -> String {
    format!("{}/{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs a generated test and returns what it asserted.
fn run(test: fn()) -> Assertion {
    test();
    take_last().expect("the generated test called assert()")
}

const INSIDE_PARENTHESES_LINE: u32 = line!() + 1;
#[neural_assert(crate = "crate::luigi_test",
                model = "examples/cmodel/cmodel.luigi.yaml", layer = "lstm",
                corpus = "examples/cmodel/eval.c", window = 256,
                kind = "binary",
                expect = some_unit, metric = "pearson", min = 0.5, max_q = 0.01, seed = 7)]
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

#[test]
fn the_function_is_the_hypothesis() {
    let a = run(inside_parentheses);
    assert_eq!(
        a,
        Assertion {
            model: manifest("examples/cmodel/cmodel.luigi.yaml"),
            file: file!().to_string(),
            line: INSIDE_PARENTHESES_LINE,
            module: module_path!().to_string(),
            test: "inside_parentheses".to_string(),
            layer: Some("lstm".to_string()),
            corpus: Some((manifest("examples/cmodel/eval.c"), Some(256))),
            hypothesis: Some(Source::Fn {
                name: "inside_parentheses".to_string(),
                kind: Kind::Binary,
                // "f(a(b))c": inside from '(' through the character before the last ')'.
                values: vec![0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0],
            }),
            expect: Some(Expectation::SomeUnit {
                metric: Metric::Pearson,
                min: 0.5,
                max_q: Some(0.01),
                min_within_token: None,
            }),
            seed: Some(7),
            asserted: true,
        }
    );
}

#[neural_assert(crate = "crate::luigi_test",
                model = "examples/cmodel/cmodel.luigi.yaml", layer = "lstm",
                corpus = "examples/cmodel/eval.c", window = 256,
                hypothesis = builtin("comment"), expect = at_most(3), metric = "auc", min = 0.9)]
fn comment_units() {}

#[test]
fn a_builtin_hypothesis_passes_its_arguments_as_strings() {
    let a = run(comment_units);
    assert_eq!(
        a.hypothesis,
        Some(Source::Builtin(vec!["comment".to_string()]))
    );
    assert_eq!(
        a.expect,
        Some(Expectation::AtMost {
            k: 3,
            metric: Metric::Auc,
            min: 0.9,
            max_q: None,
        })
    );
    assert_eq!(a.seed, None);
}

mod hypotheses {
    /// Bracket depth, shared by several assertions.
    pub fn depth(seq: &[char]) -> Vec<f32> {
        let mut d = 0.0;
        seq.iter()
            .map(|c| {
                match c {
                    '(' => d += 1.0,
                    ')' => d -= 1.0,
                    _ => {}
                }
                d
            })
            .collect()
    }

    pub struct Letter(pub char);

    impl crate::luigi_test::_macro_support::Hypothesis for Letter {
        fn name(&self) -> &str {
            "letter"
        }
        fn evaluate(&self, seq: &[char]) -> Vec<f32> {
            seq.iter()
                .map(|c| f32::from(u8::from(*c == self.0)))
                .collect()
        }
    }

    pub fn letter(c: char) -> Box<dyn crate::luigi_test::_macro_support::Hypothesis> {
        Box::new(Letter(c))
    }
}

#[neural_assert(crate = "crate::luigi_test", model = "m.luigi.yaml", layer = "lstm",
                corpus = "eval.c", hypothesis = hypotheses::depth,
                expect = units([53, "127"]), metric = "spearman", min = -0.25)]
fn known_units() {}

#[test]
fn a_function_path_is_a_hypothesis_with_the_path_as_its_name() {
    let a = run(known_units);
    assert_eq!(
        a.hypothesis,
        Some(Source::Fn {
            name: "hypotheses::depth".to_string(),
            kind: Kind::Numeric,
            values: vec![0.0, 1.0, 1.0, 2.0, 2.0, 1.0, 0.0, 0.0],
        })
    );
    assert_eq!(
        a.expect,
        Some(Expectation::Units {
            units: &["53", "127"],
            metric: Metric::Spearman,
            min: -0.25,
            max_q: None,
            min_within_token: None,
        })
    );
    assert_eq!(a.corpus, Some((manifest("eval.c"), None)));
}

#[neural_assert(crate = "crate::luigi_test", model = "/abs/boolean.luigi.yaml", layer = "h",
                corpus = "/abs/heldout.txt", hypothesis = hypotheses::letter('b'),
                expect = probe([0, 3]), min_accuracy = 1, seed = 18446744073709551615)]
fn boxed_probe() -> Result<(), String> {
    // The body runs after the assertion has passed: the record is there.
    let a = take_last().ok_or("the body ran before assert()")?;
    assert!(a.asserted);
    assert_eq!(a.test, "boxed_probe");
    assert_eq!(a.model, "/abs/boolean.luigi.yaml");
    assert_eq!(a.corpus, Some(("/abs/heldout.txt".to_string(), None)));
    assert_eq!(
        a.hypothesis,
        Some(Source::Boxed {
            name: "letter".to_string(),
            values: vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
        })
    );
    assert_eq!(
        a.expect,
        Some(Expectation::Probe {
            units: Some(&["0", "3"]),
            min_accuracy: Some(1.0),
            min_selectivity: None,
        })
    );
    assert_eq!(a.seed, Some(u64::MAX));
    Ok(())
}

#[test]
fn a_call_is_a_boxed_hypothesis_and_the_body_runs_after_the_assertion() {
    boxed_probe().unwrap();
    // The body took the record: it ran after assert().
    assert_eq!(take_last(), None);
}

#[neural_assert(crate = "crate::luigi_test", model = "m.luigi.yaml", layer = "missing",
                corpus = "eval.c", kind = categorical("even", "odd"),
                expect = some_unit, metric = "eta", min = 0.5)]
#[should_panic(expected = "setup error: the model has no layer `missing`")]
fn parity(seq: &[char]) -> Vec<f32> {
    (0..seq.len()).map(|i| (i % 2) as f32).collect()
}

#[neural_assert(crate = "crate::luigi_test", model = "m.luigi.yaml", layer = "lstm",
                corpus = "eval.c", hypothesis = builtin("anything"),
                expect = some_unit, metric = "mi", min = 0.1)]
#[ignore = "shows that #[ignore] stays on the test"]
fn ignored() {
    panic!("an ignored test does not run");
}

#[neural_assert(crate = "crate::luigi_test", model = "m.luigi.yaml", layer = "lstm",
                corpus = "eval.c", expect = some_unit, metric = "pearson", min = 0.5)]
#[should_panic(expected = "hypothesis too_short gave 1 values for 8 characters")]
fn too_short(_seq: &[char]) -> Vec<f32> {
    vec![0.0]
}
