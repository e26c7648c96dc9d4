//! `luigi verify` through the real binary, on the hand-wired `lstm_ids`
//! fixture (unit 0 counts `(` depth, unit 2 counts the column).

use super::{fixture, luigi, text};

/// Lines where "inside `(`" travels with the column.
fn corpus(dir: &std::path::Path) -> std::path::PathBuf {
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
    let p = dir.join("corpus.txt");
    std::fs::write(&p, text).unwrap();
    let h = dir.join("hypotheses.yaml");
    std::fs::write(&h, "- column\n- inside: '('\n- depth: '('\n").unwrap();
    p
}

/// `luigi CMD CARD --corpus ... --window 40 --layer lstm --hypotheses ...`
/// on the fixture, then `extra`.
fn run_cmd(dir: &std::path::Path, cmd: &str, extra: &[&str]) -> std::process::Output {
    let c = corpus(dir);
    let h = dir.join("hypotheses.yaml");
    let card = fixture("lstm_ids.luigi.yaml");
    let mut args = vec![
        cmd,
        card.to_str().unwrap(),
        "--corpus",
        c.to_str().unwrap(),
        "--window",
        "40",
        "--layer",
        "lstm",
        "--hypotheses",
        h.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    luigi(&args)
}

fn run(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    run_cmd(dir, "verify", extra)
}

#[test]
fn verify_confirms_a_depth_unit_and_refutes_a_column_unit_with_a_counterexample() {
    let d = tempfile::tempdir().unwrap();
    let o = run(d.path(), &["--hypothesis", "depth(()", "--unit", "0"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains(": confirmed"), "{}", text(&o));

    let regressions = d.path().join("regressions");
    let args = [
        "--hypothesis",
        "inside(()",
        "--unit",
        "2",
        "--control",
        "column",
        "--format",
        "json",
        "--regressions",
        regressions.to_str().unwrap(),
    ];
    let o = run(d.path(), &args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "refuted");
    assert_eq!(v["mode"], "perturb");
    assert_eq!(v["unit"], "2");
    for key in [
        "effect",
        "effect_ci",
        "p_value",
        "informative",
        "drawn",
        "dropped",
    ] {
        assert!(!v[key].is_null(), "no `{key}` in {v}");
    }
    assert_eq!(v["control_hypotheses"][0], "column");
    let cx = &v["counterexamples"][0];
    assert_ne!(cx["hypothesis_before"], cx["hypothesis_after"], "{cx}");
    assert!(cx["before"].as_str().unwrap().chars().count() <= 40, "{cx}");
    // the seeds were kept, and the same command gives the same JSON apart from replays
    let kept = std::fs::read_dir(&regressions).unwrap().count();
    assert_eq!(kept, 1);
    let again = run(d.path(), &args);
    let w: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(w["verdict"], "refuted");
    assert!(w["replayed"].as_u64().unwrap() >= 1, "{w}");
}

#[test]
fn verify_names_the_closest_units_and_hypotheses_on_setup_errors() {
    let d = tempfile::tempdir().unwrap();
    let o = run(d.path(), &["--hypothesis", "depth((", "--unit", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("`depth(()`"), "{}", text(&o));
    let o = run(d.path(), &["--hypothesis", "depth(()", "--unit", "80"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("has 8 units"), "{}", text(&o));
    let o = run(
        d.path(),
        &["--hypothesis", "depth(()", "--unit", "0", "--mode", "sing"],
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn inspect_verify_adds_a_verified_column_and_json_field() {
    let d = tempfile::tempdir().unwrap();
    let o = run_cmd(d.path(), "inspect", &["--fast", "--verify", "3"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let t = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(t.contains("verified"), "{t}");
    let depth = t.lines().find(|l| l.starts_with("depth(()")).unwrap();
    assert!(depth.contains("confirmed"), "{depth}");
    let o = run_cmd(
        d.path(),
        "inspect",
        &["--fast", "--verify", "3", "--format", "json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let verified = v["verified"].as_array().unwrap();
    assert_eq!(verified.len(), 3);
    assert!(verified.iter().all(|p| p["verdict"].is_string()));
    // without --verify there is no column and no field
    let o = run_cmd(d.path(), "inspect", &["--fast", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.get("verified").is_none());
}

#[test]
fn verify_is_inconclusive_exit_1_with_the_reason_when_nothing_can_be_learnt() {
    let d = tempfile::tempdir().unwrap();
    // a hypothesis that never fires on the corpus: no edit of it is drawn from
    // the corpus's own sequences that could tell the unit's direction
    std::fs::write(d.path().join("extra.yaml"), "- char: Q\n").unwrap();
    corpus(d.path());
    let card = fixture("lstm_ids.luigi.yaml");
    let c = d.path().join("corpus.txt");
    let h = d.path().join("extra.yaml");
    let args = |corpus: &std::path::Path| {
        vec![
            "verify".to_string(),
            card.to_str().unwrap().to_string(),
            "--corpus".into(),
            corpus.to_str().unwrap().to_string(),
            "--layer".into(),
            "lstm".into(),
            "--hypotheses".into(),
            h.to_str().unwrap().to_string(),
            "--format".into(),
            "json".into(),
        ]
    };
    let mut a = args(&c);
    a.extend(["--hypothesis", "char(Q)", "--unit", "0"].map(String::from));
    let o = luigi(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "inconclusive", "{v}");
    assert!(
        v["reason"].as_str().unwrap().contains("no direction"),
        "{v}"
    );

    // a corpus too short to edit: two characters
    let tiny = d.path().join("tiny.txt");
    std::fs::write(&tiny, "a(").unwrap();
    std::fs::write(&h, "- depth: '('\n").unwrap();
    let mut a = args(&tiny);
    a.extend(["--hypothesis", "depth(()", "--unit", "0"].map(String::from));
    let o = luigi(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "inconclusive", "{v}");
    assert!(v["reason"].as_str().unwrap().contains("informative"), "{v}");
    assert!(v["dropped"]["duplicate"].as_u64().unwrap() > 0, "{v}");
    // and the table says why, not just the verdict
    a.truncate(a.len() - 6);
    a.extend(["--hypothesis", "depth(()", "--unit", "0"].map(String::from));
    let o = luigi(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("inconclusive"), "{}", text(&o));
    assert!(text(&o).contains("informative"), "{}", text(&o));
}
