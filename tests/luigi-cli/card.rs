//! `luigi card`: a starter card from the graph that `luigi inspect`
//! accepts unchanged, on the example models, the fixtures and a fresh
//! PyTorch export; and its errors.

use std::path::Path;

use crate::{fixture, luigi, luigi_inspect, root, text};

/// Writes a card with `luigi card` into `dir` and returns its path.
fn write_card(dir: &Path, model: &Path, vocab: &[&str]) -> std::path::PathBuf {
    let out = dir.join(format!(
        "{}.card.yaml",
        model.file_stem().unwrap().to_string_lossy()
    ));
    let mut args = vec![
        "card",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(vocab);
    let o = luigi(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    out
}

/// The JSON ranking of `inspect --fast`: per hypothesis, its best unit.
fn best_units(
    card: &Path,
    corpus: &Path,
    layer: &str,
    window: Option<&str>,
) -> Vec<(String, String)> {
    let mut args = vec!["--layer", layer, "--fast", "--format", "json"];
    if let Some(w) = window {
        args.extend_from_slice(&["--window", w]);
    }
    let o = luigi_inspect(card, corpus, &args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    json["ranking"]["by_hypothesis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["hypothesis"].as_str().unwrap().to_string(),
                h["units"][0]["unit"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_written_card_ranks_like_the_hand_written_one() {
    let d = tempfile::tempdir().unwrap();
    let chars = ["--vocab-chars", "~\n ()[]{}abcxyz;/*", "--unknown", "0"];
    // hand-set fixtures: batch-major ids with state, and a time-major one-hot graph
    for (model, layer) in [("lstm_ids", "lstm"), ("onehot_tm", "lstm")] {
        let card = write_card(d.path(), &fixture(&format!("{model}.onnx")), &chars);
        let corpus = fixture("corpus.txt");
        assert_eq!(
            best_units(&card, &corpus, layer, None),
            best_units(
                &fixture(&format!("{model}.luigi.yaml")),
                &corpus,
                layer,
                None
            ),
            "{model}"
        );
    }
    // the boolean example, a PyTorch export
    let model = root().join("examples/boolean/boolean.onnx");
    let card = write_card(d.path(), &model, &["--vocab-chars", "X01|&"]);
    let corpus = root().join("examples/boolean/heldout.txt");
    let mut lines: Vec<&str> = Vec::new();
    let text = std::fs::read_to_string(&corpus).unwrap();
    lines.extend(text.lines().take(200));
    let small = d.path().join("bool.txt");
    std::fs::write(&small, lines.join("\n")).unwrap();
    assert_eq!(
        best_units(&card, &small, "lstm", None),
        best_units(
            &root().join("examples/boolean/boolean.luigi.yaml"),
            &small,
            "lstm",
            None
        ),
        "boolean"
    );
    // a PyTorch export with two stacked layers and a stacked state
    let vocab = root().join("examples/cmodel/vocab.json");
    let model = root().join("examples/cmodel/cmodel2.onnx");
    let card = write_card(
        d.path(),
        &model,
        &["--vocab-file", vocab.to_str().unwrap(), "--unknown", "0"],
    );
    let written = std::fs::read_to_string(&card).unwrap();
    for line in [
        "  encoding: ids",
        "  layout: batch-major",
        "  - { input: h0, output: hn, layer: [lstm, lstm2] }",
        "  - { input: c0, output: cn }",
        "logits: logits",
        "  lstm: hidden ",
        "  lstm2: hidden2 ",
    ] {
        assert!(written.contains(line), "{line:?} missing in\n{written}");
    }
    let mut corpus_text: String =
        std::fs::read_to_string(root().join("examples/cmodel/eval.c")).unwrap();
    corpus_text.truncate(
        corpus_text
            .char_indices()
            .nth(4096)
            .map_or(corpus_text.len(), |(i, _)| i),
    );
    let corpus = d.path().join("eval.c");
    std::fs::write(&corpus, corpus_text).unwrap();
    assert_eq!(
        best_units(&card, &corpus, "lstm2", Some("256")),
        best_units(
            &root().join("examples/cmodel/cmodel2.luigi.yaml"),
            &corpus,
            "lstm2",
            Some("256")
        ),
    );
}

#[test]
fn a_fresh_pytorch_gru_export_gets_a_card_that_records_and_generates() {
    let d = tempfile::tempdir().unwrap();
    let card = write_card(
        d.path(),
        &fixture("torch_gru.onnx"),
        &["--vocab-chars", "abcdefghij klmnop;()"],
    );
    let written = std::fs::read_to_string(&card).unwrap();
    for line in [
        "  name: input_ids",
        "  - { input: hidden_in, output: hidden_out, layer: [gru, gru2] }",
        "logits: scores ",
        "  gru: /rnn/GRU_output_0 ",
        "  gru2: /rnn/GRU_1_output_0 ",
        "  # unknown: 0",
    ] {
        assert!(written.contains(line), "{line:?} missing in\n{written}");
    }
    let corpus = d.path().join("c.txt");
    std::fs::write(&corpus, "abc def (ghi);\nkl mno (p) ab;\n").unwrap();
    assert_eq!(best_units(&card, &corpus, "gru2", None).len(), 6);
    // the stacked state carries both layers: holding a unit of the second
    // one while the model writes passes the carried-state check
    let o = luigi(&[
        "generate",
        card.to_str().unwrap(),
        "--layer",
        "gru2",
        "--prompt",
        "abc",
        "--steps",
        "8",
        "--force",
        "3=1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn card_errors_name_the_fix() {
    let d = tempfile::tempdir().unwrap();
    let model = fixture("lstm_ids.onnx");
    let run = |args: &[&str]| {
        let mut all = vec!["card", model.to_str().unwrap()];
        all.extend_from_slice(args);
        let o = luigi(&all);
        (o.status.code(), text(&o))
    };
    // a vocabulary longer than the model's token table
    let (code, t) = run(&["--vocab-chars", "~\n ()[]{}abcxyz;/*0123"]);
    assert_ne!(code, Some(0));
    assert!(
        t.contains("22 characters but the model's token table has 18 rows"),
        "{t}"
    );
    // no vocabulary
    let (code, t) = run(&[]);
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("--vocab-file"), "{t}");
    // an unknown id outside the vocabulary
    let (code, t) = run(&["--vocab-chars", "abc", "--unknown", "7"]);
    assert_ne!(code, Some(0));
    assert!(
        t.contains("--unknown 7 is not an id of the vocabulary (0..2)"),
        "{t}"
    );
    // a card is not overwritten
    let out = d.path().join("c.yaml");
    std::fs::write(&out, "x").unwrap();
    let (code, t) = run(&["--vocab-chars", "abc", "--out", out.to_str().unwrap()]);
    assert_ne!(code, Some(0));
    assert!(t.contains("the file exists"), "{t}");
    // a card where the .onnx is wanted
    let (code, t) = {
        let o = luigi(&[
            "card",
            root()
                .join("tests/fixtures/bilstm.luigi.yaml")
                .to_str()
                .unwrap(),
            "--vocab-chars",
            "a",
        ]);
        (o.status.code(), text(&o))
    };
    assert_ne!(code, Some(0));
    assert!(t.contains("give the .onnx file"), "{t}");
}

/// `luigi twin`: the same interface, shuffled weights, kept indicator
/// tables, reproducible by seed; the twin's card loads and inspects, and
/// the hand-set depth counter is gone from it.
#[test]
fn twin_shuffles_weights_keeps_the_interface_and_loses_the_units() {
    let d = tempfile::tempdir().unwrap();
    let card = fixture("lstm_ids.luigi.yaml");
    let twin = |name: &str, seed: &str| {
        let out = d.path().join(name);
        let o = luigi(&[
            "twin",
            card.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--seed",
            seed,
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        (out, text(&o))
    };
    let (a, said) = twin("a.onnx", "7");
    assert!(said.contains("5 weight tensors shuffled"), "{said}");
    assert!(
        said.contains("kept `embedding.weight`: an indicator table"),
        "{said}"
    );
    let (b, _) = twin("b.onnx", "7");
    let (c, _) = twin("c.onnx", "8");
    let bytes = |p: &Path| std::fs::read(p).unwrap();
    assert_eq!(bytes(&a), bytes(&b), "same seed, same twin");
    assert_ne!(bytes(&a), bytes(&c), "another seed, another twin");
    assert_eq!(bytes(&a).len(), bytes(&fixture("lstm_ids.onnx")).len());
    let twin_card = d.path().join("a.luigi.yaml");
    let corpus = fixture("corpus.txt");
    let best = best_units(&twin_card, &corpus, "lstm", None);
    assert_eq!(best.len(), best_units(&card, &corpus, "lstm", None).len());
    // the depth counter (unit 0, |r| 0.99 in the original) is gone
    let o = luigi_inspect(&twin_card, &corpus, &["--fast", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let depth = json["ranking"]["by_hypothesis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hypothesis"] == "depth(()")
        .unwrap()["units"][0]["score"]
        .as_f64()
        .unwrap();
    assert!(depth < 0.9, "twin's best depth unit {depth}");
    // errors: an existing file, a non-.onnx --out
    let o = luigi(&["twin", card.to_str().unwrap(), "--out", a.to_str().unwrap()]);
    assert!(text(&o).contains("the file exists"), "{}", text(&o));
    let o = luigi(&[
        "twin",
        card.to_str().unwrap(),
        "--out",
        d.path().join("x.yaml").to_str().unwrap(),
    ]);
    assert!(
        text(&o).contains("name the twin's .onnx file"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_pytorch_transformer_export_gets_its_residual_stream_and_outputs_as_layers() {
    // examples/dyck/dyck.onnx: two blocks exported by torch.onnx.export,
    // with attention and MLP outputs as graph outputs.
    let d = tempfile::tempdir().unwrap();
    let model = d.path().join("dyck.onnx");
    std::fs::copy(root().join("examples/dyck/dyck.onnx"), &model).unwrap();
    let card = write_card(
        d.path(),
        &model,
        &["--vocab-chars", "\u{fffd}\n()abcd", "--unknown", "0"],
    );
    let text_of = std::fs::read_to_string(&card).unwrap();
    // The residual stream after each of the 4 residual adds (2 blocks x
    // attention, MLP), the exported ones under their own names.
    for alias in [
        "stream1:",
        "resid1: resid1",
        "stream2:",
        "resid2: resid2",
        "attn1: attn1",
        "mlp2: mlp2",
    ] {
        assert!(text_of.contains(alias), "{alias} in\n{text_of}");
    }
    assert!(text_of.contains("causal: false"), "{text_of}");
    // The card as written ranks every layer at once, and the trained
    // model's bracket logic shows: some unit follows being inside `(`.
    let best = best_units(
        &card,
        &root().join("examples/dyck/heldout.txt"),
        "all",
        None,
    );
    let inside = best
        .iter()
        .find(|(h, _)| h == "inside(()")
        .unwrap_or_else(|| panic!("no inside(() in {best:?}"));
    // The same unit the hand-written card finds (specs/dyck.yaml: |r| 0.984).
    assert_eq!(inside.1, "mlp2:27", "{inside:?}");
}
