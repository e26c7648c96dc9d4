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

// ---- intervention and generation, on the hand-wired `gen_ids` fixture
// (unit 0 detects a digit and the head reads it as "write a digit"; unit 1
// detects `a` and nothing reads it)

fn gen_verify(dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let h = dir.join("gen.yaml");
    std::fs::write(&h, "- class: digit\n- char: a\n").unwrap();
    let card = fixture("gen_ids.luigi.yaml");
    let corpus = fixture("gen_corpus.txt");
    let mut args = vec![
        "verify",
        card.to_str().unwrap(),
        "--corpus",
        corpus.to_str().unwrap(),
        "--window",
        "64",
        "--hypotheses",
        h.to_str().unwrap(),
        "--prompt-len",
        "12",
    ];
    args.extend_from_slice(extra);
    luigi(&args)
}

#[test]
fn verify_intervene_confirms_the_digit_unit_and_refutes_an_unread_one() {
    let d = tempfile::tempdir().unwrap();
    let args = [
        "--hypothesis",
        "class(digit)",
        "--unit",
        "0",
        "--mode",
        "intervene",
        "--format",
        "json",
    ];
    let o = gen_verify(d.path(), &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "confirmed");
    assert_eq!(v["mode"], "intervene");
    for key in [
        "effect",
        "effect_ci",
        "p_value",
        "p_spread",
        "p_controls",
        "response",
        "on_value",
        "off_value",
        "controls_effect",
        "kl",
        "samples",
    ] {
        assert!(!v[key].is_null(), "no `{key}` in {v}");
    }
    assert!(
        v["top_tokens"]["up"][0]["token"]
            .as_str()
            .unwrap()
            .chars()
            .all(|c| c.is_ascii_digit()),
        "{v}"
    );
    // deterministic for a seed
    let again = gen_verify(d.path(), &args);
    assert_eq!(o.stdout, again.stdout);

    let o = gen_verify(
        d.path(),
        &[
            "--hypothesis",
            "char(a)",
            "--unit",
            "1",
            "--mode",
            "intervene",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "refuted", "{v}");
    assert_eq!(v["effect"].as_f64(), Some(0.0), "{v}");

    // both: confirmed only when both are
    let o = gen_verify(
        d.path(),
        &[
            "--hypothesis",
            "class(digit)",
            "--unit",
            "0",
            "--mode",
            "both",
            "--format",
            "json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["mode"], "both");
    assert!(
        v["perturb"]["verdict"].is_string() && v["intervene"]["verdict"] == "confirmed",
        "{v}"
    );
    let both_confirmed = v["perturb"]["verdict"] == "confirmed";
    assert_eq!(v["verdict"] == "confirmed", both_confirmed, "{v}");
    assert_eq!(o.status.code(), Some(if both_confirmed { 0 } else { 1 }));
}

#[test]
fn verify_intervene_setup_errors_exit_2_and_say_why() {
    let d = tempfile::tempdir().unwrap();
    let o = gen_verify(
        d.path(),
        &[
            "--hypothesis",
            "class(digit)",
            "--unit",
            "6",
            "--mode",
            "intervene",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("has 6 units"), "{}", text(&o));
    // a head that reads more than the layer
    let card = fixture("gen_skip.luigi.yaml");
    let corpus = fixture("gen_corpus.txt");
    let h = d.path().join("gen.yaml");
    let o = luigi(&[
        "verify",
        card.to_str().unwrap(),
        "--corpus",
        corpus.to_str().unwrap(),
        "--hypotheses",
        h.to_str().unwrap(),
        "--hypothesis",
        "class(digit)",
        "--unit",
        "0",
        "--mode",
        "intervene",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("read more than the layer"),
        "{}",
        text(&o)
    );
    // a card without state: that is not causal (the bidirectional fixture
    // cannot generate: re-running the sequence needs a causal model)
    let card = fixture("bilstm.luigi.yaml");
    let o = luigi(&["generate", card.to_str().unwrap(), "--prompt", "ab"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("state") && text(&o).contains("causal"),
        "{}",
        text(&o)
    );
    // a card without logits:
    let no_logits = d.path().join("nologits.luigi.yaml");
    let text_card = std::fs::read_to_string(fixture("gen_ids.luigi.yaml"))
        .unwrap()
        .replace("logits: logits\n", "")
        .replace(
            "model: gen_ids.onnx",
            &format!("model: {}", fixture("gen_ids.onnx").display()),
        );
    std::fs::write(&no_logits, text_card).unwrap();
    let o = luigi(&["generate", no_logits.to_str().unwrap(), "--prompt", "ab"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("logits"), "{}", text(&o));
}

#[test]
fn generate_samples_text_and_forcing_changes_it() {
    let card = fixture("gen_ids.luigi.yaml");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "generate",
            card.to_str().unwrap(),
            "--prompt",
            "abc x",
            "--steps",
            "60",
        ];
        args.extend_from_slice(extra);
        luigi(&args)
    };
    let free = run(&[]);
    assert_eq!(free.status.code(), Some(0), "{}", text(&free));
    let t = String::from_utf8_lossy(&free.stdout).to_string();
    assert!(t.starts_with("abc x"), "{t}");
    assert_eq!(run(&[]).stdout, free.stdout, "same seed, same text");
    assert_ne!(run(&["--seed", "9"]).stdout, free.stdout);
    let forced = run(&["--force", "0=0.664"]);
    let f = String::from_utf8_lossy(&forced.stdout).to_string();
    let digits = f[5..].chars().filter(char::is_ascii_digit).count();
    assert!(digits > 50, "{f}");
    let bad = run(&["--force", "0=abc"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).contains("not a finite number"), "{}", text(&bad));
    let bad = run(&["--force", "zz=1"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).contains("unknown unit"), "{}", text(&bad));
}
