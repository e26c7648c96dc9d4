//! Hostile and careless inputs through the real binary: every case must end
//! with the expected exit code, never a panic, and a message that names the
//! file, key or flag at fault (issue 18's suite; runs in CI).

use std::process::Command;

use crate::{fixture, text};

/// One case: what is run, in which environment, and what must come out.
struct Case {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
    code: i32,
    says: Vec<&'static str>,
}

fn case(name: &'static str, args: &[&str], code: i32, says: &[&'static str]) -> Case {
    Case {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
        code,
        says: says.to_vec(),
    }
}

fn with_env(mut c: Case, key: &'static str, value: &'static str) -> Case {
    c.env.push((key, value));
    c
}

/// A folder with the fixture model, variants of its card and bad files.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for f in ["lstm_ids.onnx", "nan_unit.onnx", "nan_unit.luigi.yaml"] {
        std::fs::copy(fixture(f), d.join(f)).unwrap();
    }
    let card = std::fs::read_to_string(fixture("lstm_ids.luigi.yaml")).unwrap();
    let card = card.replace("input:\n", "model: lstm_ids.onnx\ninput:\n");
    let write = |name: &str, body: &str| std::fs::write(d.join(name), body).unwrap();
    write("ok.luigi.yaml", &card);
    write("ok.txt", "(a;)\n{x(y)}\n");
    write("empty.txt", "");
    write("blank.txt", "\n\n\n");
    write("c.txt", "abcab\nbca\n");
    std::fs::write(d.join("binary.txt"), b"\xff\xfe(a\n").unwrap();
    write("long.txt", &format!("{}\n", "(a;{x}) ".repeat(40)));
    write("q.txt", "a(Q\n");
    write("broken.luigi.yaml", "input: [\n");
    write("unknown_key.luigi.yaml", &format!("{card}bogus_key: 1\n"));
    write(
        "deep.luigi.yaml",
        &format!(
            "model: lstm_ids.onnx\nlayers: {}{}\n",
            "[".repeat(100),
            "]".repeat(100)
        ),
    );
    write(
        "state_output.luigi.yaml",
        &card.replace("output: hn", "output: logits"),
    );
    write(
        "state_input.luigi.yaml",
        &card.replace("input: h0", "input: h00"),
    );
    write(
        "time_major.luigi.yaml",
        &card.replace("layout: batch-major", "layout: time-major"),
    );
    write(
        "long_vocab.luigi.yaml",
        &card.replace(
            "chars: \"~\\n ()[]{}abcxyz;/*\"",
            "chars: \"~\\n ()[]{}abcxyz;/*ABCDEFGHIJKLMNOP\"",
        ),
    );
    write("no_unknown.luigi.yaml", &card.replace("  unknown: 0\n", ""));
    write(
        "missing_model.luigi.yaml",
        &card.replace("model: lstm_ids.onnx", "model: nowhere.onnx"),
    );
    write(
        "truncated.luigi.yaml",
        &card.replace("model: lstm_ids.onnx", "model: truncated.onnx"),
    );
    let model = std::fs::read(fixture("lstm_ids.onnx")).unwrap();
    std::fs::write(d.join("truncated.onnx"), &model[..300]).unwrap();
    write(
        "alias.luigi.yaml",
        &card.replace("hidden: /Transpose_1_output_0", "hidden: /No_such_tensor"),
    );
    write("hyps_broken.yaml", "- [\n");
    write("hyps_unknown.yaml", "- no_such_family\n");
    write(
        "hyps_deep.yaml",
        &format!("- {}{}\n", "{a: ".repeat(80), "}".repeat(80)),
    );
    write("spec_broken.yaml", "expectations: [\n");
    write(
        "spec_unknown.yaml",
        "model: ok.luigi.yaml\ncorpus: ok.txt\nexpect: []\n",
    );
    dir
}

fn cases() -> Vec<Case> {
    vec![
        // corpora
        case(
            "empty corpus",
            &["inspect", "ok.luigi.yaml", "--corpus", "empty.txt"],
            2,
            &["empty.txt", "no non-empty sequence"],
        ),
        case(
            "blank corpus",
            &["inspect", "ok.luigi.yaml", "--corpus", "blank.txt"],
            2,
            &["blank.txt"],
        ),
        case(
            "binary corpus",
            &["inspect", "ok.luigi.yaml", "--corpus", "binary.txt"],
            2,
            &["binary.txt", "UTF-8"],
        ),
        case(
            "missing corpus",
            &["inspect", "ok.luigi.yaml", "--corpus", "nowhere.txt"],
            2,
            &["nowhere.txt"],
        ),
        case(
            "endless corpus",
            &["inspect", "ok.luigi.yaml", "--corpus", "/dev/zero"],
            2,
            &["/dev/zero", "not a file"],
        ),
        with_env(
            case(
                "huge corpus",
                &["inspect", "ok.luigi.yaml", "--corpus", "long.txt"],
                2,
                &["long.txt", "LUIGI_MAX_CORPUS_BYTES"],
            ),
            "LUIGI_MAX_CORPUS_BYTES",
            "100",
        ),
        case(
            "character outside the vocabulary",
            &["inspect", "no_unknown.luigi.yaml", "--corpus", "q.txt"],
            2,
            &[
                "q.txt",
                "sequence 0, position 2",
                "'Q'",
                "vocabulary.unknown",
            ],
        ),
        // long sequences: a stateless model is refused before allocating,
        // naming --window; a model with state runs them in pieces
        with_env(
            case(
                "long sequence, no state",
                &[
                    "inspect",
                    "nan_unit.luigi.yaml",
                    "--corpus",
                    "long.txt",
                    "--fast",
                ],
                2,
                &["long.txt", "--window", "LUIGI_MAX_SEQUENCE"],
            ),
            "LUIGI_MAX_SEQUENCE",
            "50",
        ),
        with_env(
            case(
                "long sequence, state carried",
                &["inspect", "ok.luigi.yaml", "--corpus", "long.txt", "--fast"],
                0,
                &["320 timesteps in 1 sequences"],
            ),
            "LUIGI_MAX_SEQUENCE",
            "50",
        ),
        // cards and models
        case(
            "malformed card",
            &["inspect", "broken.luigi.yaml", "--corpus", "ok.txt"],
            2,
            &["broken.luigi.yaml", "line 1"],
        ),
        case(
            "unknown card key",
            &["inspect", "unknown_key.luigi.yaml", "--corpus", "ok.txt"],
            2,
            &["unknown_key.luigi.yaml", "bogus_key"],
        ),
        case(
            "deeply nested card",
            &["inspect", "deep.luigi.yaml", "--corpus", "ok.txt"],
            2,
            &["deep.luigi.yaml", "nested"],
        ),
        case(
            "missing model",
            &["inspect", "missing_model.luigi.yaml", "--corpus", "ok.txt"],
            2,
            &["nowhere.onnx"],
        ),
        case(
            "truncated model",
            &["inspect", "truncated.luigi.yaml", "--corpus", "ok.txt"],
            2,
            &["truncated.onnx", "truncated or corrupt"],
        ),
        case(
            "state output of the wrong shape",
            &["inspect", "state_output.luigi.yaml", "--corpus", "ok.txt"],
            2,
            &["state_output.luigi.yaml", "state[0].output", "logits"],
        ),
        case(
            "state input not in the graph",
            &["inspect", "state_input.luigi.yaml", "--corpus", "ok.txt"],
            2,
            &["state_input.luigi.yaml", "state[0].input", "h0"],
        ),
        case(
            "wrong layout",
            &["inspect", "time_major.luigi.yaml", "--corpus", "ok.txt"],
            2,
            &["time_major.luigi.yaml", "input.layout"],
        ),
        case(
            "vocabulary longer than the model's",
            &["inspect", "long_vocab.luigi.yaml", "--corpus", "ok.txt"],
            2,
            &["long_vocab.luigi.yaml", "vocabulary"],
        ),
        case(
            "alias to a missing tensor",
            &["inspect", "alias.luigi.yaml", "--corpus", "ok.txt"],
            2,
            &["alias.luigi.yaml", "layers.hidden"],
        ),
        case(
            "unknown layer",
            &[
                "inspect",
                "ok.luigi.yaml",
                "--corpus",
                "ok.txt",
                "--layer",
                "lsmt",
            ],
            2,
            &["lsmt", "luigi layers"],
        ),
        // hypothesis lists and specs
        case(
            "malformed hypothesis list",
            &[
                "inspect",
                "ok.luigi.yaml",
                "--corpus",
                "ok.txt",
                "--hypotheses",
                "hyps_broken.yaml",
            ],
            2,
            &["hyps_broken.yaml"],
        ),
        case(
            "unknown hypothesis",
            &[
                "inspect",
                "ok.luigi.yaml",
                "--corpus",
                "ok.txt",
                "--hypotheses",
                "hyps_unknown.yaml",
            ],
            2,
            &["hyps_unknown.yaml", "no_such_family"],
        ),
        case(
            "deeply nested hypothesis list",
            &[
                "inspect",
                "ok.luigi.yaml",
                "--corpus",
                "ok.txt",
                "--hypotheses",
                "hyps_deep.yaml",
            ],
            2,
            &["hyps_deep.yaml", "nested"],
        ),
        case(
            "malformed spec",
            &["check", "spec_broken.yaml"],
            2,
            &["spec_broken.yaml", "SETUP ERROR"],
        ),
        case(
            "unknown spec key",
            &["check", "spec_unknown.yaml"],
            2,
            &["spec_unknown.yaml", "expect"],
        ),
        // values on the command line
        case(
            "negative count",
            &[
                "inspect",
                "ok.luigi.yaml",
                "--corpus",
                "ok.txt",
                "--top",
                "-1",
            ],
            2,
            &["--top", "-1"],
        ),
        case(
            "zero batch",
            &[
                "inspect",
                "ok.luigi.yaml",
                "--corpus",
                "ok.txt",
                "--batch-size",
                "0",
            ],
            2,
            &["--batch-size"],
        ),
        case(
            "zero window",
            &[
                "inspect",
                "ok.luigi.yaml",
                "--corpus",
                "ok.txt",
                "--window",
                "0",
            ],
            2,
            &["window"],
        ),
        case(
            "zero second-pass memory",
            &[
                "inspect",
                "ok.luigi.yaml",
                "--corpus",
                "ok.txt",
                "--second-pass-mb",
                "0",
            ],
            2,
            &["--second-pass-mb"],
        ),
        case(
            "not a number",
            &[
                "inspect",
                "ok.luigi.yaml",
                "--corpus",
                "ok.txt",
                "--seed",
                "lots",
            ],
            2,
            &["--seed", "lots"],
        ),
        // non-finite units: left out of a ranking, an error on request
        case(
            "NaN unit in inspect",
            &[
                "inspect",
                "nan_unit.luigi.yaml",
                "--corpus",
                "c.txt",
                "--fast",
            ],
            0,
            &["NaN on 2 timestep(s), first at sequence 0, position 2"],
        ),
        case(
            "NaN unit, --fail-on-nonfinite",
            &[
                "record",
                "nan_unit.luigi.yaml",
                "--corpus",
                "c.txt",
                "--layer",
                "units",
                "--out",
                "rec",
                "--fail-on-nonfinite",
            ],
            2,
            &[
                "--fail-on-nonfinite",
                "unit 2 is NaN at sequence 0, position 2",
            ],
        ),
    ]
}

#[test]
fn hostile_inputs_end_with_the_right_code_and_a_message_that_names_the_culprit() {
    let dir = workspace();
    let mut failures = Vec::new();
    for c in cases() {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_luigi"));
        cmd.args(&c.args).current_dir(dir.path());
        for (k, v) in &c.env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("luigi runs");
        let t = text(&out);
        let code = out.status.code();
        let mut wrong = Vec::new();
        if code != Some(c.code) {
            wrong.push(format!("exit {code:?}, expected {}", c.code));
        }
        if t.contains("panicked") || t.contains("RUST_BACKTRACE") {
            wrong.push("panicked".to_string());
        }
        for s in &c.says {
            if !t.contains(s) {
                wrong.push(format!("does not say {s:?}"));
            }
        }
        if !wrong.is_empty() {
            failures.push(format!("{}: {}\n{t}", c.name, wrong.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
