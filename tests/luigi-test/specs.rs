//! YAML specs: the harness that runs every spec in `specs/` as its own test
//! (`cargo test --test specs`, tests/specs/main.rs); broken specs are errors
//! with file, line, column and key; failing specs report like assertions.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::path::{Path, PathBuf};

use luigi_test::snapshot::Update;
use luigi_test::spec::{check_paths, discover, junit_xml, trials, CaseResult, Spec};
use luigi_test::Error;

use crate::{fixture, root};

/// Runs `trials` quietly on one thread; (passed, failed) counts.
fn run_trials(trials: Vec<libtest_mimic::Trial>) -> (u64, u64) {
    // The inner run's own report goes to a log file, so that the outer
    // test output shows no "FAILED" lines from the deliberately failing spec.
    let log = tempfile::NamedTempFile::new().unwrap();
    let args = libtest_mimic::Arguments {
        test_threads: Some(1),
        quiet: true,
        logfile: Some(log.path().display().to_string()),
        ..Default::default()
    };
    let c = libtest_mimic::run(&args, trials);
    (c.num_passed, c.num_failed)
}

/// The `specs` test target's harness: one test per spec, named after the
/// file; a failing spec fails its own test only; a folder with no spec is a
/// failing test, not an empty success.
#[test]
fn the_spec_harness_makes_one_test_per_spec() {
    let repo = trials(&[root().join("specs")]);
    let names: Vec<&str> = repo.iter().map(|t| t.name()).collect();
    assert!(
        names.contains(&"specs/boolean.yaml") && names.contains(&"specs/cmodel.yaml"),
        "{names:?}"
    );
    let d = tempfile::tempdir().unwrap();
    let ok = head() + "expectations:\n  - hypothesis: column\n    expect: some_unit\n    metric: pearson\n    min: 0.9\n";
    let failing = head() + "expectations:\n  - hypothesis: column\n    expect: {units: [0]}\n    metric: pearson\n    min: 0.9\n";
    write_spec(d.path(), "a.yaml", &ok);
    write_spec(d.path(), "b.yaml", &failing);
    let t = trials(&[d.path()]);
    assert_eq!(t.len(), 2);
    assert!(t[1].name().ends_with("/b.yaml"), "{}", t[1].name());
    assert_eq!(run_trials(t), (1, 1));
    let empty = tempfile::tempdir().unwrap();
    let t = trials(&[empty.path()]);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].name(), "discover specs");
    assert_eq!(run_trials(t), (0, 1));
}

fn write_spec(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A spec header over the fixture, with absolute paths.
fn head() -> String {
    format!(
        "model: {}\nlayer: lstm\ncorpus: {}\n",
        fixture("lstm_ids.luigi.yaml").display(),
        fixture("corpus.txt").display()
    )
}

fn spec_error(text: &str) -> (usize, usize, String, String) {
    let d = tempfile::tempdir().unwrap();
    let p = write_spec(d.path(), "bad.yaml", text);
    match Spec::load(&p).unwrap_err() {
        Error::Spec {
            path,
            line,
            column,
            key,
            message,
        } => {
            assert_eq!(path, p);
            (line, column, key, message)
        }
        other => panic!("expected Error::Spec, got {other}"),
    }
}

#[test]
fn unknown_keys_name_line_column_and_key_path() {
    let (line, col, key, msg) = spec_error(&format!("{}seeed: 3\n", head()));
    assert_eq!((line, col, key.as_str()), (4, 1, "(document)"), "{msg}");
    assert!(
        msg.contains("unknown field `seeed`") && msg.contains("seed"),
        "{msg}"
    );
    let text = format!(
        "{}expectations:\n  - hypothesis: comment\n    expect: some_unit\n    metric: auc\n    mni: 0.9\n",
        head()
    );
    let (line, _, key, msg) = spec_error(&text);
    assert_eq!((line, key.as_str()), (8, "expectations[0]"), "{msg}");
    assert!(
        msg.contains("unknown field `mni`") && msg.contains("min"),
        "{msg}"
    );
}

#[test]
fn bad_values_are_located_at_their_node() {
    let exp = |body: &str| format!("{}expectations:\n  - hypothesis: comment\n{body}", head());
    let (line, col, key, msg) = spec_error(&exp(
        "    expect: some_unit\n    metric: pearsn\n    min: 0.9\n",
    ));
    assert_eq!(
        (line, col, key.as_str()),
        (7, 13, "expectations[0].metric"),
        "{msg}"
    );
    assert!(
        msg.contains("unknown metric `pearsn`") && msg.contains("spearman"),
        "{msg}"
    );
    let (line, _, key, msg) = spec_error(&exp(
        "    expect: {at_mots: 2}\n    metric: auc\n    min: 0.9\n",
    ));
    assert_eq!((line, key.as_str()), (6, "expectations[0].expect"), "{msg}");
    assert!(
        msg.contains("unknown expectation `at_mots`") && msg.contains("{at_most: 3}"),
        "{msg}"
    );
    let (line, _, key, msg) = spec_error(&exp("    expect: some_unit\n    metric: auc\n"));
    assert_eq!((line, key.as_str()), (5, "expectations[0]"), "{msg}");
    assert!(msg.contains("missing `min`"), "{msg}");
    let (_, _, key, msg) = spec_error(&exp(
        "    expect: some_unit\n    metric: auc\n    min: 1.5\n",
    ));
    assert_eq!(key, "expectations[0]");
    assert!(msg.contains("min = 1.5 is outside [0, 1]"), "{msg}");
    let (_, _, _, msg) = spec_error(&exp(
        "    expect: some_unit\n    metric: auc\n    min: 0.9\n    min_accuracy: 0.9\n",
    ));
    assert!(
        msg.contains("`min_accuracy` applies only to `expect: probe`"),
        "{msg}"
    );
    let (_, _, key, msg) = spec_error(&exp(
        "    expect: some_unit\n    metric: auc\n    min: 0.9\n    max_q: x\n",
    ));
    assert_eq!(key, "expectations[0].max_q");
    assert!(msg.contains("invalid type"), "{msg}");
    let (line, _, key, msg) = spec_error(&exp(
        "    expect: {at_most: 0}\n    metric: auc\n    min: 0.9\n",
    ));
    assert_eq!(
        (line, key.as_str()),
        (6, "expectations[0].expect.at_most"),
        "{msg}"
    );
    assert!(msg.contains("at least 1"), "{msg}");
}

#[test]
fn hypotheses_are_checked_where_they_are_written() {
    let text = format!(
        "{}expectations:\n  - hypothesis: {{keywrd: return}}\n    expect: some_unit\n    metric: auc\n    min: 0.9\n",
        head()
    );
    let (line, col, key, msg) = spec_error(&text);
    assert_eq!(
        (line, col, key.as_str()),
        (5, 17, "expectations[0].hypothesis"),
        "{msg}"
    );
    assert!(
        msg.contains("unknown built-in hypothesis `keywrd` (did you mean keyword"),
        "{msg}"
    );
    let text = format!(
        "{}expectations:\n  - hypothesis: {{fsm: {{file: nowhere.yaml}}}}\n    expect: some_unit\n    metric: eta\n    min: 0.9\n",
        head()
    );
    let (_, _, key, msg) = spec_error(&text);
    assert_eq!(key, "expectations[0].hypothesis");
    assert!(msg.contains("nowhere.yaml"), "{msg}");
    let text = format!(
        "{}snapshot:\n  hypotheses:\n    - position\n    - chras: ab\n",
        head()
    );
    let (line, _, key, msg) = spec_error(&text);
    assert_eq!((line, key.as_str()), (6, "snapshot.hypotheses"), "{msg}");
    assert!(msg.contains("item [1]") && msg.contains("chras"), "{msg}");
}

#[test]
fn missing_files_and_empty_specs_are_errors() {
    let (line, _, key, msg) = spec_error("model: nowhere.luigi.yaml\nlayer: lstm\ncorpus: x.txt\n");
    assert_eq!((line, key.as_str()), (1, "model"), "{msg}");
    assert!(msg.contains("does not exist"), "{msg}");
    let (_, _, key, msg) = spec_error(&head());
    assert_eq!(key, "(document)");
    assert!(msg.contains("checks nothing"), "{msg}");
}

#[test]
fn a_spec_that_fails_reports_its_file_line_and_key() {
    let d = tempfile::tempdir().unwrap();
    let text = format!(
        "{}expectations:\n  - name: column\n    hypothesis: column\n    expect: some_unit\n    metric: pearson\n    min: 0.9\n  - name: wrong_unit\n    hypothesis: {{char: a}}\n    expect: {{units: [4]}}\n    metric: pearson\n    min: 0.9\n  - name: no_such_unit\n    hypothesis: {{char: a}}\n    expect: {{units: [12]}}\n    metric: pearson\n    min: 0.9\n",
        head()
    );
    let p = write_spec(d.path(), "fixture.yaml", &text);
    let report = Spec::load(&p).unwrap().run(Update::No).unwrap();
    assert!(report.cases[0].passed());
    let CaseResult::Failed(r) = &report.cases[1].result else {
        panic!("{:?}", report.cases[1].result)
    };
    assert!(
        r.headline
            .starts_with("FAILED: a listed unit of layer `lstm` misses |r| ≥ 0.9 for `char(a)`"),
        "{r}"
    );
    assert_eq!(
        r.section("where").unwrap(),
        format!(
            "spec {}:10, key `expectations[1]` (`wrong_unit`)",
            p.display()
        )
    );
    assert_eq!(
        r.section("reproduce").unwrap(),
        format!("luigi check {}", p.display())
    );
    assert!(
        r.section("accept").unwrap().starts_with("unit 1 meets it"),
        "{r}"
    );
    let CaseResult::SetupError(Error::Spec {
        line, key, message, ..
    }) = &report.cases[2].result
    else {
        panic!("{:?}", report.cases[2].result)
    };
    assert_eq!((*line, key.as_str()), (15, "expectations[2]"));
    assert!(message.contains("no unit `12`"), "{message}");
}

#[test]
fn an_unknown_layer_is_a_setup_error_of_the_whole_spec() {
    let d = tempfile::tempdir().unwrap();
    let text = head().replace("layer: lstm", "layer: lstmm")
        + "expectations:\n  - hypothesis: column\n    expect: some_unit\n    metric: pearson\n    min: 0.9\n";
    let p = write_spec(d.path(), "s.yaml", &text);
    let e = Spec::load(&p).unwrap().run(Update::No).unwrap_err();
    let Error::Spec {
        line, key, message, ..
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!((*line, key.as_str()), (2, "layer"));
    assert!(message.contains("unknown layer `lstmm`"), "{message}");
}

#[test]
fn check_paths_exit_codes_and_junit() {
    let d = tempfile::tempdir().unwrap();
    let ok = head() + "expectations:\n  - hypothesis: column\n    expect: some_unit\n    metric: pearson\n    min: 0.9\n";
    let failing = head() + "expectations:\n  - hypothesis: column\n    expect: {units: [0]}\n    metric: pearson\n    min: 0.9\n";
    let broken = head().replace("layer: lstm", "layer: nope") + "expectations:\n  - hypothesis: column\n    expect: some_unit\n    metric: pearson\n    min: 0.9\n";
    let a = write_spec(d.path(), "a.yaml", &ok);
    let b = write_spec(d.path(), "b.yaml", &failing);
    let c = write_spec(d.path(), "c.yaml", &broken);
    assert_eq!(
        check_paths(std::slice::from_ref(&a), Update::No)
            .unwrap()
            .exit_code(),
        0
    );
    assert_eq!(
        check_paths(&[a.clone(), b.clone()], Update::No)
            .unwrap()
            .exit_code(),
        1
    );
    let run = check_paths(&[d.path().to_path_buf()], Update::No).unwrap();
    assert_eq!(run.specs.len(), 3);
    assert_eq!(run.exit_code(), 2);
    let text = run.to_string();
    assert!(
        text.ends_with("3 specs: 1 passed, 1 failed, 1 setup error"),
        "{text}"
    );
    assert!(text.contains("SETUP ERROR (not judged)"), "{text}");
    let x = junit_xml(&run);
    assert!(x.contains("tests=\"3\" failures=\"1\" errors=\"1\""), "{x}");
    assert!(
        x.contains("<failure type=\"expectation\" message=\"FAILED: a listed unit"),
        "{x}"
    );
    assert!(x.contains("name=\"(setup)\""), "{x}");
    // A folder without specs is an error, not an empty success.
    let empty = tempfile::tempdir().unwrap();
    let e = check_paths(&[empty.path().to_path_buf()], Update::No).unwrap_err();
    assert!(e.to_string().contains("holds no spec"), "{e}");
    assert!(discover(&[d.path().join("missing.yaml")]).is_err());
    let _ = c;
}

#[test]
fn min_within_token_in_a_spec_fails_a_unit_that_only_reads_the_token() {
    let d = tempfile::tempdir().unwrap();
    let case = |name: &str, h: &str, within: f64| {
        format!(
            "  - name: {name}\n    hypothesis: {h}\n    expect: {{units: [{}]}}\n    metric: pearson\n    min: 0.9\n    min_within_token: {within}\n",
            if name == "detector" { 1 } else { 0 }
        )
    };
    let text = format!(
        "{}expectations:\n{}{}",
        head(),
        case("detector", "{char: a}", 0.2),
        case("counter", "{depth: '('}", 0.8)
    );
    let p = write_spec(d.path(), "within.yaml", &text);
    let report = Spec::load(&p).unwrap().run(Update::No).unwrap();
    let CaseResult::Failed(r) = &report.cases[0].result else {
        panic!("{:?}", report.cases[0].result)
    };
    assert!(r.headline.contains("and within-token ≥ 0.2"), "{r}");
    assert!(r.headline.contains("within-token 0.000"), "{r}");
    assert!(report.cases[1].passed(), "{:?}", report.cases[1].result);
    // and it is a threshold key, not a probe key
    let (_, _, key, message) = spec_error(&format!(
        "{}expectations:\n  - hypothesis: comment\n    expect: probe\n    min_accuracy: 0.5\n    min_within_token: 0.2\n",
        head()
    ));
    assert_eq!(key, "expectations[0]");
    assert!(
        message.contains("`min_within_token` does not apply to `expect: probe`"),
        "{message}"
    );
}
