//! `#[neural_assert]` against the real runtime: the hand-set fixture (whose
//! units are known) and both example models; broken expectations
//! produce the failure report; setup problems are setup errors.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use luigi_test::expect::cache::RecordingKey;
use luigi_test::expect::{Assertion, Expectation, Origin, Threshold};
use luigi_test::model::Model;
use luigi_test::neural_assert;
use luigi_test::score::Metric;
use luigi_test::{Corpus, CorpusFormat};

use crate::{fixture, root};

// ---- the hand-set fixture: unit 0 = depth of `(`, 1 = char a, 2 = column,
// 3 = depth of `{`, 4 = char `;` (tests/fixtures/README.md).

#[neural_assert(model = "../tests/fixtures/lstm_ids.luigi.yaml", layer = "lstm",
                corpus = "../tests/fixtures/corpus.txt",
                hypothesis = builtin("depth", "("),
                expect = units([0]), metric = "pearson", min = 0.95, max_q = 0.001)]
fn fixture_unit_0_counts_parentheses() {}

#[neural_assert(model = "../tests/fixtures/lstm_ids.luigi.yaml", layer = "lstm",
                corpus = "../tests/fixtures/corpus.txt",
                hypothesis = builtin("char", ";"),
                expect = some_unit, metric = "auc", min = 0.99)]
fn fixture_has_a_semicolon_detector() {}

/// The function is the hypothesis: depth of `{`.
#[neural_assert(model = "../tests/fixtures/lstm_ids.luigi.yaml", layer = "lstm",
                corpus = "../tests/fixtures/corpus.txt",
                expect = some_unit, metric = "spearman", min = 0.9, seed = 3)]
fn fixture_tracks_brace_depth(seq: &[char]) -> Vec<f32> {
    let mut depth = 0.0f32;
    seq.iter()
        .map(|c| {
            match c {
                '{' => depth += 1.0,
                '}' => depth -= 1.0,
                _ => {}
            }
            depth
        })
        .collect()
}

/// A binary function hypothesis scored with AUC, read by at most 2 units.
#[neural_assert(model = "../tests/fixtures/lstm_ids.luigi.yaml", layer = "lstm",
                corpus = "../tests/fixtures/corpus.txt", kind = "binary",
                expect = at_most(2), metric = "auc", min = 0.99)]
fn fixture_reads_a_or_semicolon(seq: &[char]) -> Vec<f32> {
    seq.iter()
        .map(|c| f32::from(u8::from(*c == 'a' || *c == ';')))
        .collect()
}

/// A deliberately wrong expectation: the `a` detector is unit 1, not 4.
#[neural_assert(model = "../tests/fixtures/lstm_ids.luigi.yaml", layer = "lstm",
                corpus = "../tests/fixtures/corpus.txt",
                hypothesis = builtin("char", "a"),
                expect = units([4]), metric = "pearson", min = 0.9)]
#[should_panic(expected = "FAILED: a listed unit of layer `lstm` misses |r| ≥ 0.9 for `char(a)`")]
fn a_wrong_unit_fails_with_the_report() {}

#[neural_assert(model = "../tests/fixtures/lstm_ids.luigi.yaml", layer = "no_such_layer",
                corpus = "../tests/fixtures/corpus.txt",
                hypothesis = builtin("comment"),
                expect = some_unit, metric = "auc", min = 0.9)]
#[should_panic(
    expected = "luigi setup error in `an_unknown_layer_is_a_setup_error` (the model was not judged)"
)]
fn an_unknown_layer_is_a_setup_error() {}

#[neural_assert(model = "../tests/fixtures/lstm_ids.luigi.yaml", layer = "lstm",
                corpus = "../tests/fixtures/corpus.txt",
                hypothesis = builtin("coment"),
                expect = some_unit, metric = "auc", min = 0.9)]
#[should_panic(
    expected = "unknown built-in hypothesis `coment` (did you mean comment, count, indent?)"
)]
fn an_unknown_builtin_is_a_setup_error() {}

/// A probe on the whole layer reads the evaluator's state (7 classes) on
/// held-out sequences. (No `min_selectivity`: with five token types the
/// hidden state also carries the current token, so the Hewitt–Liang control
/// task is learnt perfectly and selectivity is 0 here.)
#[neural_assert(model = "../examples/boolean/boolean.luigi.yaml", layer = "lstm",
                corpus = "../examples/boolean/heldout.txt",
                hypothesis = builtin("boolean", "bool_eval"),
                expect = probe, min_accuracy = 0.95, seed = 7)]
fn boolean_probe_reads_the_evaluator_state() {}

/// The untrained twin's layer does not carry the value computed so far.
#[neural_assert(model = "../examples/boolean/boolean-untrained.luigi.yaml", layer = "lstm",
                corpus = "../examples/boolean/heldout.txt",
                hypothesis = builtin("fsm", "../specs/automata/bool_eval.yaml#accepting"),
                expect = probe, min_accuracy = 0.95, seed = 7)]
#[should_panic(expected = "does not read `bool_eval.accepting` well enough: held-out accuracy")]
fn the_untrained_twin_fails_a_probe_expectation() {}

// ---- the boolean example model (4 LSTM units, trained).

#[neural_assert(model = "../examples/boolean/boolean.luigi.yaml", layer = "lstm",
                corpus = "../examples/boolean/heldout.txt",
                hypothesis = builtin("boolean", "bool_eval"),
                expect = some_unit, metric = "eta", min = 0.95, max_q = 0.001)]
fn boolean_some_unit_follows_the_evaluator() {}

#[neural_assert(model = "../examples/boolean/boolean.luigi.yaml", layer = "lstm",
                corpus = "../examples/boolean/heldout.txt",
                hypothesis = builtin("fsm", "../specs/automata/bool_eval.yaml#accepting"),
                expect = at_most(2), metric = "auc", min = 0.98)]
fn boolean_value_so_far_is_read_by_two_units() {}

// ---- the two-layer C model (two LSTM layers of 128 units, trained on Linux
// kernel C with the state carried; examples/cmodel/cmodel2.onnx), on its
// evaluation corpus in windows of 256 characters, both layers ranked
// together (`layer = "any"`, units named `lstm:113`, `lstm2:110`). Measured
// with `luigi check` (each failure report gives the trained and the
// untrained twin's numbers); the thresholds keep a 5% margin.

/// The function is the hypothesis: inside at least one `(`. Both layers of
/// the two-layer C model are searched (`layer = "any"`); unit 110 of the
/// second passes with AUC 0.921 and within-token 0.739 (the untrained
/// twin's best: 0.704): the current character does not explain it.
/// Thresholds: the measured values minus 5% (AUC) and 10% (within-token).
#[neural_assert(model = "../examples/cmodel/cmodel2.luigi.yaml", layer = "any",
                corpus = "../examples/cmodel/eval.c", window = 256,
                kind = "binary",
                expect = some_unit, metric = "auc", min = 0.87, max_q = 0.001,
                min_within_token = 0.66)]
fn c_model_some_unit_knows_it_is_inside_parentheses(seq: &[char]) -> Vec<f32> {
    let mut depth = 0i32;
    seq.iter()
        .map(|c| {
            match c {
                '(' => depth += 1,
                ')' => depth = (depth - 1).max(0),
                _ => {}
            }
            f32::from(u8::from(depth > 0))
        })
        .collect()
}

/// Three units of either layer read comments: {lstm:113, lstm2:82, lstm:14}
/// reach AUC 0.945 to 0.957 on the held-out windows over four split seeds
/// (the untrained twin: 0.766); the threshold is the lowest minus 5%.
#[neural_assert(model = "../examples/cmodel/cmodel2.luigi.yaml", layer = "any",
                corpus = "../examples/cmodel/eval.c", window = 256,
                hypothesis = builtin("comment"),
                expect = at_most(3), metric = "auc", min = 0.89)]
fn c_model_comments_are_read_by_a_few_units() {}

// ---- the builder API, non-panicking.

fn broken() -> Assertion {
    Assertion::new(root().join("examples/boolean/boolean.luigi.yaml"))
        .at(
            "tests/luigi-test/neural_assert.rs",
            7,
            "integration::neural_assert",
            "broken",
        )
        .layer("lstm")
        .corpus(root().join("examples/boolean/heldout.txt"), None)
        .hypothesis_builtin(&["boolean", "last_op"])
        .expect(Expectation::some_unit(
            Threshold::new(Metric::Eta, 0.9).max_q(0.01),
        ))
        .seed(11)
}

#[test]
fn a_broken_expectation_reports_every_section_in_order() {
    let o = broken().check().unwrap();
    assert!(!o.passed);
    let r = &o.report;
    let text = r.to_string();
    assert!(
        r.headline.starts_with(
            "FAILED: no unit of layer `lstm` has η ≥ 0.9 and q ≤ 0.01 for `last_op` (best: unit 0, η = 0.54"
        ),
        "{text}"
    );
    assert_eq!(
        r.titles(),
        [
            "asserted",
            "page",
            "where",
            "model",
            "corpus",
            "observed",
            "chance",
            "competing",
            "reproduce",
            "accept"
        ],
        "{text}"
    );
    assert_eq!(
        r.section("asserted").unwrap(),
        "`last_op` in layer `lstm`: some_unit: η ≥ 0.9 and q ≤ 0.01"
    );
    assert_eq!(
        r.section("where").unwrap(),
        "tests/luigi-test/neural_assert.rs:7, test `neural_assert::broken`"
    );
    let model = r.section("model").unwrap();
    assert!(
        model.contains("boolean.onnx") && model.contains("layer `lstm` = tensor `hidden`, 4 units"),
        "{model}"
    );
    assert!(r
        .section("corpus")
        .unwrap()
        .contains("75000 timesteps in 5000 sequences"));
    let observed = r.section("observed").unwrap();
    assert!(observed.starts_with("best unit 0: η = 0.54"), "{observed}");
    assert!(
        observed.contains("0.54") && observed.contains("< 0.9"),
        "{observed}"
    );
    assert!(
        observed.contains("n = 75000 timesteps in 5000 sequences, seed 11"),
        "{observed}"
    );
    // The card names an untrained twin: it is the chance baseline.
    let chance = r.section("chance").unwrap();
    assert!(
        chance.starts_with("untrained twin ") && chance.contains("boolean-untrained.onnx"),
        "{chance}"
    );
    let competing = r.section("competing").unwrap();
    assert!(competing.starts_with("best 4 of 4 units"), "{competing}");
    assert_eq!(
        competing
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["unit", "η", "eta", "q"]
    );
    assert_eq!(
        competing.lines().nth(2).unwrap().split_whitespace().next(),
        Some("0")
    );
    assert_eq!(
        r.section("reproduce").unwrap(),
        "cargo test neural_assert::broken -- --exact"
    );
    let accept = r.section("accept").unwrap();
    assert!(
        accept.contains("tests/luigi-test/neural_assert.rs:7")
            && accept.contains("cargo insta review"),
        "{accept}"
    );
    assert!(accept.contains("min = 0.51 keeps a 5% margin"), "{accept}");
    assert_eq!(o.units, ["0"]);
    assert!(
        (o.observed.unwrap() - 0.542).abs() < 0.005,
        "{:?}",
        o.observed
    );
}

#[test]
fn without_a_twin_the_baseline_is_a_shuffled_null() {
    let start = line!();
    let o = Assertion::new(fixture("lstm_ids.luigi.yaml"))
        .layer("lstm")
        .corpus(fixture("corpus.txt"), None)
        .hypothesis_builtin(&["depth", "["])
        .expect(Expectation::some_unit(Threshold::new(Metric::Pearson, 0.9)))
        .check()
        .unwrap();
    assert!(!o.passed, "{}", o.report);
    let chance = o.report.section("chance").unwrap();
    assert!(chance.starts_with("shuffled-sequence null"), "{chance}");
    // The builder without .at() reports the caller's line.
    let place = o.report.section("where").unwrap();
    let line: u32 = place
        .strip_prefix("tests/luigi-test/neural_assert.rs:")
        .unwrap_or_else(|| panic!("{place}"))
        .parse()
        .unwrap();
    assert!(line > start && line < start + 10, "{place}");
}

#[test]
fn a_passing_assertion_names_its_unit() {
    let o = Assertion::new(fixture("lstm_ids.luigi.yaml"))
        .layer("lstm")
        .corpus(fixture("corpus.txt"), None)
        .hypothesis_builtin(&["column"])
        .expect(Expectation::some_unit(Threshold::new(
            Metric::Pearson,
            0.95,
        )))
        .check()
        .unwrap();
    assert!(o.passed, "{}", o.report);
    assert_eq!(o.units[0], "2");
    assert!(
        o.report
            .headline
            .starts_with("passed: unit 2 of layer `lstm` has |r| = 0.99"),
        "{}",
        o.report.headline
    );
    assert!(o.report.section("chance").is_none());
}

#[test]
fn a_negative_min_demands_anti_correlation() {
    // Unit 0 rises with depth, so r ≤ -0.5 fails for it, and no unit is anti-correlated.
    let o = Assertion::new(fixture("lstm_ids.luigi.yaml"))
        .layer("lstm")
        .corpus(fixture("corpus.txt"), None)
        .hypothesis_builtin(&["depth", "("])
        .expect(Expectation::units(
            ["0"],
            Threshold::new(Metric::Pearson, -0.5),
        ))
        .check()
        .unwrap();
    assert!(!o.passed, "{}", o.report);
    assert!(o
        .report
        .section("asserted")
        .unwrap()
        .ends_with("units([0]): r ≤ -0.5"));
}

#[test]
fn setup_problems_are_errors_not_failures() {
    let base = || {
        Assertion::new(fixture("lstm_ids.luigi.yaml"))
            .layer("lstm")
            .corpus(fixture("corpus.txt"), None)
            .hypothesis_builtin(&["comment"])
            .expect(Expectation::some_unit(Threshold::new(Metric::Auc, 0.9)))
    };
    let e = Assertion::new(root().join("no/such.luigi.yaml"))
        .layer("lstm")
        .corpus(fixture("corpus.txt"), None)
        .hypothesis_builtin(&["comment"])
        .expect(Expectation::some_unit(Threshold::new(Metric::Auc, 0.9)))
        .check()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no/such.luigi.yaml") && e.contains("no such file"),
        "{e}"
    );
    let e = base().layer("lstmm").check().unwrap_err().to_string();
    assert!(
        e.contains("unknown layer `lstmm`") && e.contains("lstm (alias)"),
        "{e}"
    );
    let e = base()
        .expect(Expectation::units(["9"], Threshold::new(Metric::Auc, 0.9)))
        .check()
        .unwrap_err()
        .to_string();
    assert!(e.contains("no unit `9`") && e.contains("8 units"), "{e}");
    let e = base()
        .expect(Expectation::some_unit(Threshold::new(Metric::Eta, 0.9)))
        .check()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("metric eta does not fit a binary hypothesis"),
        "{e}"
    );
    // `struct` never occurs in the fixture corpus.
    let e = base()
        .hypothesis_builtin(&["keyword", "struct"])
        .check()
        .unwrap_err()
        .to_string();
    assert!(e.contains("is constant on corpus"), "{e}");
    let probe = || Expectation::Probe {
        units: None,
        min_accuracy: Some(0.9),
        min_selectivity: None,
    };
    let e = base()
        .hypothesis_builtin(&["depth", "("])
        .expect(probe())
        .check()
        .unwrap_err()
        .to_string();
    assert!(e.contains("is numeric; a probe predicts classes"), "{e}");
    let e = base()
        .expect(Expectation::Probe {
            units: Some(vec!["12".to_string()]),
            min_accuracy: Some(0.9),
            min_selectivity: None,
        })
        .check()
        .unwrap_err()
        .to_string();
    assert!(e.contains("no unit `12`"), "{e}");
    let e = base()
        .expect(Expectation::some_unit(Threshold::new(Metric::Auc, 1.5)))
        .check()
        .unwrap_err()
        .to_string();
    assert!(e.contains("min = 1.5 is outside [0, 1]"), "{e}");
    let panic = std::panic::catch_unwind(|| base().layer("lstmm").assert()).unwrap_err();
    let msg = panic.downcast_ref::<String>().unwrap();
    assert!(
        msg.starts_with("luigi setup error in assertion (the model was not judged)"),
        "{msg}"
    );
}

#[test]
fn assertions_over_one_model_and_corpus_record_once() {
    let model = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let corpus = Corpus::load(fixture("corpus.txt"), CorpusFormat::Lines).unwrap();
    let key = RecordingKey::new(&model, &corpus, "lstm");
    for h in ["column", "comment", "identifier"] {
        let _ = Assertion::new(fixture("lstm_ids.luigi.yaml"))
            .layer("lstm")
            .corpus(fixture("corpus.txt"), None)
            .hypothesis_builtin(&[h])
            .expect(Expectation::some_unit(Threshold::new(
                Metric::MutualInfo,
                0.1,
            )))
            .check()
            .unwrap();
    }
    // Other tests of this binary use the same recording; none ran it twice.
    assert_eq!(key.times_recorded(), 1);
}

#[test]
fn origin_of_a_spec_reads_as_file_line_and_key() {
    let o = Origin::Spec {
        path: "specs/boolean.yaml".into(),
        key: "expectations[1]".into(),
        line: 12,
        name: Some("value".into()),
    };
    assert_eq!(
        o.to_string(),
        "spec specs/boolean.yaml:12, key `expectations[1]` (`value`)"
    );
    assert_eq!(o.reproduce(), "luigi check specs/boolean.yaml");
}

// ---- verification: the threshold is not enough, the unit must follow edits

/// The two-layer C model's string unit (lstm2:82, |r| 0.532, the twin's
/// best 0.137) correlates with `string` and follows proptest-drawn edits
/// that change only the hypothesis (measured with `luigi verify --layer
/// all --unit lstm2:82`: confirmed, effect +0.701 sd, p 4.7e-3).
#[neural_assert(model = "../examples/cmodel/cmodel2.luigi.yaml", layer = "any",
                corpus = "../examples/cmodel/eval.c", window = 256,
                hypothesis = builtin("string"),
                expect = some_unit, metric = "pearson", min = 0.50, verify = perturb)]
fn c_model_string_unit_follows_edits() {}

/// A unit that counts the column passes a correlation threshold for
/// "inside parentheses" on text where the two travel together, and
/// `verify` fails it with a counterexample.
#[test]
fn verify_fails_a_column_unit_that_only_correlates_with_inside_parentheses() {
    use luigi_test::expect::Verify;
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let words = ["ab", "x", "cyz", "za", "b"];
    for i in 0..120 {
        text.push_str(words[i % 5]);
        text.push_str(" (");
        for k in 0..(6 + i % 9) {
            text.push(['a', 'b', 'c', 'x', 'y', 'z', ' '][(i * 7 + k * 3) % 7]);
        }
        text.push_str(")\n");
    }
    let corpus = dir.path().join("corpus.txt");
    std::fs::write(&corpus, text).unwrap();
    let assertion = || {
        Assertion::new(fixture("lstm_ids.luigi.yaml"))
            .origin(Origin::Unknown)
            .layer("lstm")
            .corpus(&corpus, Some(40))
            .hypothesis_builtin(&["inside", "("])
            .expect(Expectation::units(
                ["2"],
                Threshold::new(Metric::Pearson, 0.0),
            ))
    };
    let plain = assertion().check().unwrap();
    assert!(plain.passed, "{}", plain.report);
    let verified = assertion().verify(Verify::Perturb).check().unwrap();
    assert!(!verified.passed, "{}", verified.report);
    let body = verified.report.section("verification").unwrap();
    assert!(
        body.contains("refuted") && body.contains("counterexamples"),
        "{body}"
    );
    // the counterexamples are the news: right after what was asserted
    // (and the one-line path of the failure's HTML page)
    let titles = verified.report.titles();
    let at = titles.iter().position(|t| *t == "asserted").unwrap();
    assert_eq!(
        titles[at + 1..at + 3],
        ["page", "verification"],
        "{titles:?}"
    );
    // at_most and probe cannot be verified yet: a setup error that says so
    let e = assertion()
        .expect(Expectation::at_most(
            2,
            Threshold::new(Metric::Pearson, 0.0),
        ))
        .verify(Verify::Perturb)
        .check()
        .unwrap_err()
        .to_string();
    assert!(e.contains("some_unit and units"), "{e}");
}

#[test]
fn verification_writes_regression_files_only_for_named_tests_and_specs() {
    use luigi_test::expect::regression_file;
    let unnamed = Origin::Source {
        file: "tests/x.rs".into(),
        line: 3,
        module: String::new(),
        test: String::new(),
    };
    assert_eq!(regression_file(&unnamed), None);
    let named = Origin::Source {
        file: "../tests/luigi-test/neural_assert.rs".into(),
        line: 3,
        module: String::new(),
        test: "my_test".into(),
    };
    assert_eq!(
        regression_file(&named).unwrap(),
        std::path::PathBuf::from("proptest-regressions/neural_assert/my_test.txt")
    );
    let spec = Origin::Spec {
        path: "specs/cmodel.yaml".into(),
        key: "expectations[0]".into(),
        line: 9,
        name: Some("comment".into()),
    };
    assert_eq!(
        regression_file(&spec).unwrap(),
        std::path::PathBuf::from("specs/proptest-regressions/cmodel/comment.txt")
    );
}

// ---- min_within_token: a unit that passes only on what the current token
// says must fail once the threshold asks for the within-token score.

#[neural_assert(model = "../tests/fixtures/lstm_ids.luigi.yaml", layer = "lstm",
                corpus = "../tests/fixtures/corpus.txt",
                hypothesis = builtin("depth", "("),
                expect = some_unit, metric = "pearson", min = 0.9, min_within_token = 0.9)]
fn fixture_depth_unit_is_not_explained_by_the_token() {}

#[test]
fn a_character_detector_passes_on_its_score_and_fails_on_min_within_token() {
    let plain = Threshold::new(Metric::Pearson, 0.9);
    let a = |t: Threshold| {
        Assertion::new(fixture("lstm_ids.luigi.yaml"))
            .layer("lstm")
            .corpus(fixture("corpus.txt"), None)
            .hypothesis_builtin(&["char", ";"])
            .expect(Expectation::some_unit(t))
            .check()
            .unwrap()
    };
    let o = a(plain);
    assert!(o.passed, "{}", o.report);
    assert_eq!(o.units[0], "4", "unit 4 is the `;` detector");
    let o = a(plain.min_within_token(0.2));
    assert!(!o.passed, "{}", o.report);
    let observed = o.report.section("observed").unwrap();
    assert!(
        observed.contains("within-token 0.000")
            && observed.contains("below min_within_token = 0.2: the current input token explains"),
        "{observed}"
    );
    assert!(
        o.report.headline.contains("and within-token ≥ 0.2"),
        "{}",
        o.report.headline
    );
}

#[test]
fn min_within_token_is_refused_on_at_most_and_out_of_range() {
    let at_most = Expectation::at_most(
        2,
        Threshold::new(Metric::Pearson, 0.5).min_within_token(0.2),
    );
    let e = at_most.validate().unwrap_err().to_string();
    assert!(e.contains("applies to some_unit and units"), "{e}");
    let bad = Expectation::some_unit(Threshold::new(Metric::Pearson, 0.5).min_within_token(1.5));
    let e = bad.validate().unwrap_err().to_string();
    assert!(
        e.contains("min_within_token = 1.5 is outside [0, 1]"),
        "{e}"
    );
}

// A model that reads subword tokens: the card's tokenizer is applied to the
// corpus on the way in; `onehot:39` is 1 at the token `alpha`.
#[neural_assert(model = "../tests/fixtures/subword.luigi.yaml", layer = "onehot",
                corpus = "../tests/fixtures/subword_corpus.txt",
                hypothesis = builtin("token", "alpha"),
                expect = units([39]), metric = "pearson", min = 0.999)]
fn subword_fixture_has_the_token_alpha_on_its_unit() {}

// A model of numeric sequences: a `.npy` corpus (lengths beside it) and a
// hypothesis over values; `copy:0` is feature 0.
#[neural_assert(model = "../tests/fixtures/numeric.luigi.yaml", layer = "copy",
                corpus = "../tests/fixtures/numeric.npy",
                hypothesis = builtin("feature", "0"),
                expect = units([0]), metric = "pearson", min = 0.999)]
fn numeric_fixture_copies_feature_0() {}
