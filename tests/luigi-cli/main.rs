//! Tests of the `luigi` command-line tool, run as a user would.

// Test helpers outside `#[test]` functions may panic: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod card;
mod check;
mod hostile;
mod numeric;
mod probe;
mod report;
mod subword;
mod verify;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate has a parent")
        .to_path_buf()
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

fn luigi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_luigi"))
        .args(args)
        .output()
        .expect("luigi runs")
}

/// `luigi inspect CARD --corpus CORPUS` with `extra` arguments.
fn luigi_inspect(card: &Path, corpus: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "inspect",
        card.to_str().unwrap(),
        "--corpus",
        corpus.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    luigi(&args)
}

/// The best unit of hypothesis `name` in `luigi inspect --format json`.
fn best_unit(json: &serde_json::Value, name: &str) -> serde_json::Value {
    json["ranking"]["by_hypothesis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hypothesis"] == name)
        .unwrap_or_else(|| panic!("no {name} in {json}"))["units"][0]
        .clone()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn layers_lists_tensors_and_marks_hidden_states() {
    let o = luigi(&["layers", fixture("lstm_ids.onnx").to_str().unwrap()]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let line = t
        .lines()
        .find(|l| l.starts_with("/lstm/LSTM_output_0"))
        .unwrap_or_else(|| panic!("no LSTM row in\n{t}"));
    assert!(
        line.contains("LSTM") && line.contains("hidden-state"),
        "{line}"
    );
    assert!(t.contains("initializers"), "{t}");
}

#[test]
fn record_writes_npy_that_matches_the_reference() {
    let out = tempfile::tempdir().unwrap();
    let o = luigi(&[
        "record",
        fixture("lstm_ids.luigi.yaml").to_str().unwrap(),
        "--corpus",
        fixture("corpus.txt").to_str().unwrap(),
        "--layer",
        "lstm,hidden",
        "--batch-size",
        "5",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let (shape, got) = luigi_test::npy::read::<f32>(&out.path().join("lstm.npy")).unwrap();
    let (wshape, want) = luigi_test::npy::read::<f32>(&fixture("lstm_ids.expected.npy")).unwrap();
    assert_eq!(shape, wshape);
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(worst <= 1e-5, "max abs diff {worst}");
    let (rshape, rows) = luigi_test::npy::read::<i64>(&out.path().join("rows.npy")).unwrap();
    assert_eq!(rshape, vec![shape[0], 3]);
    assert_eq!(
        &rows[..3],
        &[0, 0, 9],
        "first row: sequence 0, position 0, token of 'a'"
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("recording.json")).unwrap())
            .unwrap();
    assert_eq!(meta["layers"]["lstm"]["tensor"], "/lstm/LSTM_output_0");
}

#[test]
fn setup_errors_exit_2_with_the_fix() {
    let o = luigi(&[
        "record",
        fixture("lstm_ids.luigi.yaml").to_str().unwrap(),
        "--corpus",
        fixture("corpus.txt").to_str().unwrap(),
        "--layer",
        "lstn",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    assert!(
        t.contains("unknown layer `lstn`") && t.contains("luigi layers"),
        "{t}"
    );

    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("bad.onnx");
    std::fs::write(&bad, b"\x0a").unwrap();
    let o = luigi(&["layers", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("bad.onnx"), "{}", text(&o));
}

#[test]
fn wrong_ort_dylib_path_is_a_clear_error() {
    let o = Command::new(env!("CARGO_BIN_EXE_luigi"))
        .arg("runtime")
        .env("ORT_DYLIB_PATH", "/definitely/not/here.so")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    assert!(
        t.contains("/definitely/not/here.so") && t.contains("fix:"),
        "{t}"
    );
}

#[test]
fn no_runtime_and_no_provisioning_says_what_was_tried() {
    let cache = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_luigi"))
        .arg("runtime")
        .env_remove("ORT_DYLIB_PATH")
        .env("LUIGI_CACHE_DIR", cache.path())
        .env("LUIGI_PYTHON", "/nonexistent/python3")
        .env("LUIGI_NO_PROVISION", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    assert!(
        t.contains("tried cache")
            && t.contains("LUIGI_NO_PROVISION")
            && t.contains("pip install onnxruntime==1.32.0"),
        "{t}"
    );
}

#[test]
fn a_code_corpus_read_line_by_line_warns_to_use_window() {
    let d = tempfile::tempdir().unwrap();
    let code: String = (0..120)
        .map(|i| format!("\tx{} = (a + b);\n", i % 7))
        .collect();
    let p = d.path().join("code.txt");
    std::fs::write(&p, &code).unwrap();
    let card = fixture("lstm_ids.luigi.yaml");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "inspect",
            card.to_str().unwrap(),
            "--corpus",
            p.to_str().unwrap(),
            "--fast",
            "--layer",
            "lstm",
        ];
        args.extend_from_slice(extra);
        luigi(&args)
    };
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("use --window"), "{}", text(&o));
    let o = run(&["--window", "64"]);
    assert!(!text(&o).contains("use --window"), "{}", text(&o));
    // one item per line: no warning
    let items: String = (0..120).map(|i| format!("abc{}\n", i % 9)).collect();
    std::fs::write(&p, items).unwrap();
    assert!(!text(&run(&[])).contains("use --window"));
}

/// The table leads with what the current token does not explain, names the
/// rows the token explains, and `--sort plain` gives the plain order; the
/// JSON carries `within_token`, `within_position` and the flags.
#[test]
fn inspect_ranks_by_the_within_token_score_and_flags_token_explains() {
    let d = tempfile::tempdir().unwrap();
    let h = d.path().join("h.yaml");
    std::fs::write(&h, "- depth: '('\n- char: 'a'\n- char: ';'\n").unwrap();
    let card = fixture("lstm_ids.luigi.yaml");
    let corpus = fixture("corpus.txt");
    let run = |extra: &[&str]| {
        let mut args = vec!["--hypotheses", h.to_str().unwrap(), "--fast"];
        args.extend_from_slice(extra);
        let o = luigi_inspect(&card, &corpus, &args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let rows = |t: &str| -> Vec<String> {
        t.lines()
            .skip_while(|l| !l.starts_with("hypothesis"))
            .skip(1)
            .take(3)
            .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
            .collect()
    };
    let within = run(&[]);
    assert!(
        within
            .lines()
            .any(|l| l.starts_with("hypothesis") && l.contains("within")),
        "{within}"
    );
    assert_eq!(
        rows(&within),
        ["depth(()", "char(;)", "char(a)"],
        "{within}"
    );
    assert!(
        within.contains("token_explains (2 of these rows): char(;), char(a)"),
        "{within}"
    );
    let plain = run(&["--sort", "plain"]);
    assert_eq!(rows(&plain)[2], "depth(()", "{plain}");
    let json: serde_json::Value = serde_json::from_str(&run(&["--format", "json"])).unwrap();
    let best = |name: &str| {
        json["ranking"]["by_hypothesis"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["hypothesis"] == name)
            .unwrap()["units"][0]
            .clone()
    };
    let det = best("char(a)");
    assert_eq!(det["within_token"], 0.0, "{det}");
    assert!(
        det["flags"]
            .as_array()
            .unwrap()
            .contains(&"token_explains".into()),
        "{det}"
    );
    let depth = best("depth(()");
    assert!(
        depth["within_token"].as_f64().unwrap().abs() > 0.8,
        "{depth}"
    );
    assert!(depth["within_position"].is_number(), "{depth}");
    assert!(
        depth
            .get("flags")
            .is_none_or(|f| !f.as_array().unwrap().contains(&"token_explains".into())),
        "{depth}"
    );
}

/// A negative count is an invalid value, not a clap tip to write `-- -1`.
#[test]
fn a_negative_count_is_refused_as_a_number() {
    let card = fixture("lstm_ids.luigi.yaml");
    let corpus = fixture("corpus.txt");
    let o = luigi_inspect(&card, &corpus, &["--top", "-1"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(2), "{t}");
    assert!(t.contains("invalid value '-1' for '--top <TOP>'"), "{t}");
    assert!(!t.contains("-- -1"), "{t}");
}

/// A unit that gives NaN is left out and named, and the other units are
/// still ranked (with and without the second pass); `luigi record` writes
/// the values as they are and says which units hold NaN.
#[test]
fn a_nan_unit_is_left_out_and_the_others_are_ranked() {
    let d = tempfile::tempdir().unwrap();
    let corpus = d.path().join("c.txt");
    std::fs::write(&corpus, "abcab ca\nbbaac\naaab\ncab a\n").unwrap();
    let card = fixture("nan_unit.luigi.yaml");
    for fast in [true, false] {
        let mut args = vec!["--layer", "units", "--format", "json"];
        if fast {
            args.push("--fast");
        }
        let o = luigi_inspect(&card, &corpus, &args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let units = json["ranking"]["units"].as_array().unwrap();
        assert_eq!(units[2]["flags"], serde_json::json!(["non_finite_unit"]));
        assert!(units[0].get("flags").is_none(), "{}", units[0]);
        let a = json["ranking"]["by_hypothesis"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["hypothesis"] == "char(a)")
            .unwrap();
        assert_eq!(a["units"][0]["unit"], "0");
        assert!(a["units"][0]["score"].as_f64().unwrap() > 0.99);
        assert_eq!(a["units"][2]["unit"], "2", "the NaN unit ranks last");
        let warning = json["issues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["message"].as_str().unwrap().contains("NaN"))
            .unwrap();
        assert!(
            warning["message"]
                .as_str()
                .unwrap()
                .contains("2 (NaN on 4 timestep(s), first at sequence 0, position 2)"),
            "{warning}"
        );
    }
    let out = d.path().join("rec");
    let o = luigi(&[
        "record",
        card.to_str().unwrap(),
        "--corpus",
        corpus.to_str().unwrap(),
        "--layer",
        "units",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("NaN or infinite activations in 1 unit(s) (unit: timesteps): 2: 4"),
        "{}",
        text(&o)
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("recording.json")).unwrap())
            .unwrap();
    assert_eq!(meta["layers"]["units"]["nonfinite"]["2"], 4);
}

/// The hand-set fixture's card with a second distinct layer, `head` (the
/// logits), written into `dir`.
fn two_layer_card(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(fixture("lstm_ids.luigi.yaml")).unwrap();
    let p = dir.join("two.luigi.yaml");
    std::fs::write(
        &p,
        format!(
            "model: {}\n{text}  head: logits\n",
            fixture("lstm_ids.onnx").display()
        ),
    )
    .unwrap();
    p
}

#[test]
fn inspect_layer_all_ranks_every_layer_with_the_layer_in_each_unit() {
    let d = tempfile::tempdir().unwrap();
    let card = two_layer_card(d.path());
    let o = luigi_inspect(
        &card,
        &fixture("corpus.txt"),
        &[
            "--layer", "all", "--fast", "--format", "json", "--keep", "2",
        ],
    );
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["layer"], "all");
    let units: Vec<&str> = json["ranking"]["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(units.len(), 26, "{units:?}");
    assert!(units.contains(&"hidden:3") && units.contains(&"head:17"));
    let best = json["ranking"]["by_hypothesis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hypothesis"] == "depth(()")
        .unwrap_or_else(|| panic!("no depth(() in {stdout}"));
    assert_eq!(best["units"][0]["unit"], "hidden:0");
    // The table names the layer in every row.
    let o = luigi_inspect(&card, &fixture("corpus.txt"), &["--layer", "all", "--fast"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("layer all (/Transpose_1_output_0+logits)"),
        "{t}"
    );

    // `record --layer all` writes one file per layer.
    let out = d.path().join("rec");
    let o = luigi(&[
        "record",
        card.to_str().unwrap(),
        "--corpus",
        fixture("corpus.txt").to_str().unwrap(),
        "--layer",
        "all",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let (shape, _) = luigi_test::npy::read::<f32>(&out.join("hidden.npy")).unwrap();
    assert_eq!(shape[1], 8);
    let (shape, _) = luigi_test::npy::read::<f32>(&out.join("head.npy")).unwrap();
    assert_eq!(shape[1], 18);
    assert!(!out.join("all.npy").exists());
}
