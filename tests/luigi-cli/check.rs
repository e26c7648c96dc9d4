//! `luigi check`: runs specs, prints each case, exits 0 / 1 / 2, writes JUnit XML.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use crate::{luigi, root, text};

fn spec(dir: &std::path::Path, name: &str, layer: &str, unit: usize) -> std::path::PathBuf {
    let p = dir.join(name);
    let body = format!(
        "model: {}\nlayer: {layer}\ncorpus: {}\nexpectations:\n  - name: column\n    hypothesis: column\n    expect: {{units: [{unit}]}}\n    metric: pearson\n    min: 0.95\n",
        root().join("tests/fixtures/lstm_ids.luigi.yaml").display(),
        root().join("tests/fixtures/corpus.txt").display()
    );
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn check_exits_0_1_2_and_writes_junit() {
    let d = tempfile::tempdir().unwrap();
    let ok = spec(d.path(), "ok.yaml", "lstm", 2);
    let o = luigi(&["check", ok.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("ok    column") && t.contains("1 spec: 1 passed, 0 failed, 0 setup errors"),
        "{t}"
    );

    let failing = spec(d.path(), "failing.yaml", "lstm", 0);
    let junit = d.path().join("junit.xml");
    let o = luigi(&[
        "check",
        ok.to_str().unwrap(),
        failing.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("FAIL  column") && t.contains("FAILED: a listed unit of layer `lstm` misses"),
        "{t}"
    );
    let x = std::fs::read_to_string(&junit).unwrap();
    assert!(x.contains("tests=\"2\" failures=\"1\" errors=\"0\""), "{x}");

    let broken = spec(d.path(), "broken.yaml", "nope", 2);
    let o = luigi(&["check", broken.to_str().unwrap(), ok.to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(
        t.contains("SETUP ERROR (not judged)") && t.contains("unknown layer `nope`"),
        "{t}"
    );

    let empty = tempfile::tempdir().unwrap();
    let o = luigi(&["check", empty.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("holds no spec"));
}

#[test]
fn check_runs_the_repository_specs() {
    let o = luigi(&["check", root().join("specs").to_str().unwrap()]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("spec ") && t.contains("boolean.yaml"), "{t}");
}
