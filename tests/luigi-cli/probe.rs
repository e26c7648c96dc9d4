//! `luigi inspect --probe` and `--pca` on the boolean example model.

use std::path::PathBuf;

use crate::{luigi, root, text};

fn boolean(file: &str) -> PathBuf {
    root().join("examples/boolean").join(file)
}

/// `luigi inspect` on the boolean model with the candidate automata, fast
/// settings, and `extra` arguments.
fn inspect(extra: &[&str]) -> std::process::Output {
    let card = boolean("boolean.luigi.yaml");
    let corpus = boolean("heldout.txt");
    let hyps = boolean("candidates.yaml");
    let mut args = vec![
        "inspect",
        card.to_str().unwrap(),
        "--corpus",
        corpus.to_str().unwrap(),
        "--hypotheses",
        hyps.to_str().unwrap(),
        "--fast",
        "--probe-sequences",
        "150",
        "--probe-stability",
        "0",
    ];
    args.extend_from_slice(extra);
    luigi(&args)
}

#[test]
fn probe_prints_a_table_and_json_has_probes() {
    let d = tempfile::tempdir().unwrap();
    let json_out = d.path().join("inspect.json");
    let o = inspect(&[
        "--probe",
        "bool_eval",
        "--json-out",
        json_out.to_str().unwrap(),
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let table_at = stdout.find("probes on layer lstm").expect("probe table");
    assert!(
        stdout.find("runner-up").unwrap() < table_at,
        "ranking first\n{stdout}"
    );
    let row = stdout[table_at..]
        .lines()
        .find(|l| l.starts_with("bool_eval "))
        .unwrap_or_else(|| panic!("no bool_eval row\n{stdout}"));
    for col in ["selectivity", "untrained", "set_acc", "majority"] {
        assert!(stdout[table_at..].contains(col), "{col}\n{stdout}");
    }
    assert!(row.contains("1.0000") && row.contains('{'), "{row}");

    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_out).unwrap()).unwrap();
    let probes = &v["probes"];
    assert_eq!(probes["probes"][0]["hypothesis"], "bool_eval");
    let acc = probes["probes"][0]["report"]["probe"]["accuracy"]["value"]
        .as_f64()
        .unwrap();
    assert!(acc > 0.99, "{acc}");
    assert!(probes["probes"][0]["report"]["untrained"]["metrics"].is_object());
    assert!(probes["probes"][0]["report"]["control_task"]["selectivity"].is_object());
    assert!(!probes["probes"][0]["chosen"]["units"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(v["ranking"].is_object(), "the ranking is still there");
}

#[test]
fn bare_probe_takes_the_top_of_the_ranking_and_pca_writes_points() {
    let d = tempfile::tempdir().unwrap();
    let pca = d.path().join("pca.json");
    let o = inspect(&[
        "--probe",
        "--probe-top",
        "1",
        "--format",
        "json",
        "--pca",
        "last_op",
        "--pca-out",
        pca.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let probes = v["probes"]["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 1);
    // The top of the table: the best unit's |within-token score|.
    let best = v["ranking"]["by_hypothesis"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["units"][0]["within_token"].as_f64().map(|s| (s.abs(), h)))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap()
        .1["hypothesis"]
        .clone();
    assert_eq!(probes[0]["hypothesis"], best);
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&pca).unwrap()).unwrap();
    assert_eq!(p["hypothesis"], "last_op");
    assert_eq!(p["points"].as_array().unwrap().len(), 150 * 15);
    let point = &p["points"][0];
    for key in ["x", "y", "class", "sequence", "position", "char"] {
        assert!(!point[key].is_null(), "{key}: {point}");
    }
    for r in p["explained_variance_ratio"].as_array().unwrap() {
        let r = r.as_f64().unwrap();
        assert!(r > 0.0 && r <= 1.0, "{r}");
    }
}

#[test]
fn probe_errors_name_the_flag_and_the_fix() {
    let o = inspect(&["--probe", "bool_evl"]);
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    assert!(
        t.contains("--probe bool_evl") && t.contains("closest: bool_eval"),
        "{t}"
    );
    let o = inspect(&["--pca", "bool_eval"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--pca-out"), "{}", text(&o));
}

/// On a corpus of two sequences the main split works but a stability
/// resample that draws one sequence twice cannot be split: the error says
/// so and names `--probe-stability`.
#[test]
fn a_stability_resample_that_cannot_split_names_probe_stability() {
    let d = tempfile::tempdir().unwrap();
    let corpus = d.path().join("two.txt");
    std::fs::write(&corpus, "(a(b)c) x;\n{a} (b;) y\n").unwrap();
    let h = d.path().join("h.yaml");
    std::fs::write(&h, "- inside: '('\n").unwrap();
    let card = crate::fixture("lstm_ids.luigi.yaml");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "--hypotheses",
            h.to_str().unwrap(),
            "--fast",
            "--probe",
            "inside(()",
        ];
        args.extend_from_slice(extra);
        crate::luigi_inspect(&card, &corpus, &args)
    };
    let o = run(&[]);
    let t = crate::text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("--probe-stability 0"), "{t}");
    let o = run(&["--probe-stability", "0"]);
    assert_eq!(o.status.code(), Some(0), "{}", crate::text(&o));
}
