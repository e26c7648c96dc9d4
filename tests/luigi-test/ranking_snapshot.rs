//! Ranking snapshots with insta, and their diff on a model whose units
//! were permuted (`examples/boolean/permute_units.py`): a retrained model
//! in miniature, same function, units in another order.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use luigi_test::expect::{Assertion, Expectation, Origin, Threshold};
use luigi_test::hypothesis::library::CharIs;
use luigi_test::hypothesis::{boolean, HypothesisSet};
use luigi_test::score::Metric;
use luigi_test::snapshot::{self, Capture, Matching, SnapshotOptions, UnitMove, Update};

use crate::root;

/// The boolean task's candidate automata plus the operator characters.
fn hypotheses() -> HypothesisSet {
    let mut set = boolean::candidates().unwrap();
    for c in ['|', '&'] {
        set.add(CharIs::new(c)).unwrap();
    }
    set
}

fn capture(card: &str) -> Capture {
    capture_with(card, false)
}

fn capture_with(card: &str, exact_units: bool) -> Capture {
    Capture::record(
        root().join(card),
        root().join("examples/boolean/heldout.txt"),
        None,
        "lstm",
        &hypotheses(),
        // The first 1,000 of the 5,000 held-out expressions keep the test fast.
        &SnapshotOptions {
            sequences: Some(1000),
            exact_units,
            ..SnapshotOptions::default()
        },
    )
    .unwrap()
}

/// The committed snapshot of the original model.
fn stored_path() -> std::path::PathBuf {
    root().join("tests/luigi-test/snapshots/integration__ranking_snapshot__boolean_lstm.snap")
}

#[test]
fn boolean_lstm() {
    luigi_test::assert_ranking_snapshot!(
        "boolean_lstm",
        capture("examples/boolean/boolean.luigi.yaml")
    );
}

#[test]
fn the_snapshot_file_is_where_insta_keeps_it_and_records_its_checkpoint() {
    let stored = snapshot::read(&stored_path())
        .unwrap()
        .expect("committed snapshot");
    let info = stored.info.clone().unwrap();
    assert_eq!(
        info.checkpoint,
        "../../../examples/boolean/boolean.luigi.yaml"
    );
    assert!(stored.checkpoint().unwrap().is_file());
    assert_eq!(stored.content.layer, "lstm");
    assert_eq!(stored.content.units.len(), 4);
}

#[test]
fn permuted_units_diff_as_moves() {
    let stored = snapshot::read(&stored_path()).unwrap().unwrap();
    let now = capture("examples/boolean/boolean-permuted.luigi.yaml");
    let diff = snapshot::compare(&stored, &now).unwrap();
    assert!(!diff.equal, "unit names moved, so the content differs");
    let Matching::Activations { mean_abs_r, .. } = &diff.matching else {
        panic!("expected activation matching, got {:?}", diff.matching)
    };
    assert!(*mean_abs_r > 0.9999, "{mean_abs_r}");
    // permute_units.py: new unit j = old unit perm[j], perm = [2, 0, 3, 1].
    let moves: Vec<(String, String)> = diff
        .moves
        .iter()
        .map(|UnitMove { from, to, .. }| (from.clone(), to.clone().unwrap()))
        .collect();
    let want: Vec<(String, String)> = [("0", "1"), ("1", "3"), ("2", "0"), ("3", "2")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(moves, want);
    assert_eq!(diff.best_kept(), diff.best.len());
    assert_eq!(diff.top_k_overlap, Some(1.0));
    assert_eq!(diff.kendall_tau, Some(1.0));
    let text = diff.to_string();
    assert!(
        text.contains("moved (4):\n    unit 0 → unit 1 (|r| = 1.000)\n    unit 1 → unit 3"),
        "{text}"
    );
    assert!(
        text.contains("bool_eval: unit 2 → unit 0, η 0.990 → 0.990"),
        "{text}"
    );
    assert!(
        text.contains("rank stability: top-k overlap 1.00 after matching, Kendall τ-b of the hypotheses' best scores 1.00, best unit kept by 13 of 13 hypotheses"),
        "{text}"
    );
}

#[test]
fn without_the_old_checkpoint_units_are_matched_by_score_profiles() {
    let mut stored = snapshot::read(&stored_path()).unwrap().unwrap();
    if let Some(info) = stored.info.as_mut() {
        info.checkpoint = "gone/boolean.luigi.yaml".to_string();
    }
    let now = capture("examples/boolean/boolean-permuted.luigi.yaml");
    let diff = snapshot::compare(&stored, &now).unwrap();
    let Matching::Profiles { reason } = &diff.matching else {
        panic!("expected profile matching, got {:?}", diff.matching)
    };
    assert!(reason.contains("is gone"), "{reason}");
    // Four units with distinct roles: the profiles find the permutation too.
    let bool_eval = diff
        .best
        .iter()
        .find(|b| b.hypothesis == "bool_eval")
        .unwrap();
    assert_eq!(bool_eval.old_matched.as_deref(), Some("0"));
    assert!(bool_eval.kept());
}

#[test]
fn a_spec_style_snapshot_of_the_permuted_model_passes_renamed_and_fails_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("boolean.snap");
    let original = capture("examples/boolean/boolean.luigi.yaml");
    let origin = Origin::Spec {
        path: dir.path().join("boolean.yaml"),
        key: "snapshot".into(),
        line: 9,
        name: None,
    };
    // Nothing stored yet: with `Update::New` the pending file is written and it fails.
    let first =
        snapshot::check_file(&path, &original, "boolean.yaml", &origin, Update::New).unwrap();
    assert!(!first.passed);
    assert!(first
        .report
        .headline
        .starts_with("FAILED: no ranking snapshot at"));
    assert_eq!(
        first.written.as_deref(),
        Some(dir.path().join("boolean.snap.new").as_path())
    );
    // Accepting writes the snapshot; the same ranking then matches.
    let accepted =
        snapshot::check_file(&path, &original, "boolean.yaml", &origin, Update::Accept).unwrap();
    assert!(accepted.passed && path.is_file());
    let again =
        snapshot::check_file(&path, &original, "boolean.yaml", &origin, Update::No).unwrap();
    assert!(again.passed, "{}", again.report);
    assert!(
        !dir.path().join("boolean.snap.new").exists(),
        "a match removes the stale pending file"
    );
    // The permuted model ranks the same up to a renaming of units: it
    // passes by default, and the report prints the renaming, one per line.
    let permuted = capture("examples/boolean/boolean-permuted.luigi.yaml");
    let o = snapshot::check_file(&path, &permuted, "boolean.yaml", &origin, Update::No).unwrap();
    assert!(o.passed, "{}", o.report);
    assert!(
        o.report.headline.contains("matches after renaming"),
        "{}",
        o.report.headline
    );
    let diff = o.report.section("diff").unwrap();
    assert!(
        diff.lines()
            .any(|l| l.trim() == "unit 2 → unit 0 (|r| = 1.000)"),
        "{diff}"
    );
    assert!(o.written.is_none());
    // With `units: exact` it fails, naming the moves; nothing written.
    let permuted = capture_with("examples/boolean/boolean-permuted.luigi.yaml", true);
    let o = snapshot::check_file(&path, &permuted, "boolean.yaml", &origin, Update::No).unwrap();
    assert!(!o.passed);
    assert!(o.written.is_none());
    let r = &o.report;
    assert!(r.headline.starts_with("FAILED: ranking snapshot"), "{r}");
    assert_eq!(
        r.titles(),
        [
            "asserted",
            "where",
            "model",
            "corpus",
            "diff",
            "stability",
            "current",
            "reproduce",
            "accept"
        ]
    );
    let diff = r.section("diff").unwrap();
    assert!(diff.contains("unit 2 → unit 0 (|r| = 1.000)"), "{diff}");
    assert!(diff.contains("last_op: unit 0 → unit 1"), "{diff}");
    assert!(r
        .section("where")
        .unwrap()
        .contains("boolean.yaml:9, key `snapshot`"));
    assert!(r
        .section("accept")
        .unwrap()
        .contains("luigi check --accept"));
}

#[test]
fn some_unit_assertions_pass_on_the_permuted_model_and_pinned_units_do_not() {
    // Of the original model, only unit 3 has nmi ≥ 0.68 with the evaluator's
    // accepting state (0.704; the others ≤ 0.646). permute_units.py moved it to unit 2.
    let base = |t: Expectation| {
        Assertion::new(root().join("examples/boolean/boolean-permuted.luigi.yaml"))
            .layer("lstm")
            .corpus(root().join("examples/boolean/heldout.txt"), None)
            .hypothesis_builtin(&["boolean", "bool_eval.accepting"])
            .expect(t)
    };
    let threshold = Threshold::new(Metric::MutualInfo, 0.68);
    let some = base(Expectation::some_unit(threshold)).check().unwrap();
    assert!(some.passed, "{}", some.report);
    assert_eq!(some.units, ["2"]);
    let pinned = base(Expectation::units(["3"], threshold)).check().unwrap();
    assert!(!pinned.passed);
    let accept = pinned.report.section("accept").unwrap();
    assert!(
        accept.starts_with("unit 2 meets it (nmi = 0.704, within-token 0.924)"),
        "{accept}"
    );
}
