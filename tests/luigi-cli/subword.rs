//! A model that reads subword tokens, through the real binary: the card's
//! tokenizer is read, the corpus tokenized, token hypotheses ranked, and
//! generated tokens decoded back to text.

use super::{best_unit, fixture, luigi, luigi_inspect, text};

#[test]
fn inspect_ranks_token_hypotheses_on_a_subword_model_and_windows_count_tokens() {
    let d = tempfile::tempdir().unwrap();
    let list = d.path().join("h.yaml");
    std::fs::write(&list, "- token: alpha\n- word_start\n- depth: '('\n").unwrap();
    let card = fixture("subword.luigi.yaml");
    let corpus = fixture("subword_corpus.txt");
    let o = luigi_inspect(
        &card,
        &corpus,
        &[
            "--layer",
            "onehot",
            "--hypotheses",
            list.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // one balanced expression per line: not code read line by line
    assert!(
        !text(&o).contains("read one sequence per line"),
        "{}",
        text(&o)
    );
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let best = |name: &str| best_unit(&json, name);
    // unit k of `onehot` is 1 at token id k; `alpha` is one token
    let vocab: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("subword.tokenizer.json")).unwrap())
            .unwrap();
    let alpha = vocab["model"]["vocab"]["alpha"].as_u64().unwrap();
    let a = best("token(alpha)");
    assert_eq!(a["unit"], alpha.to_string(), "{a}");
    assert!(a["pearson"].as_f64().unwrap() > 0.9999, "{a}");
    // the corpus is read as tokens: fewer timesteps than characters
    let chars: usize = std::fs::read_to_string(&corpus)
        .unwrap()
        .lines()
        .map(|l| l.chars().count())
        .sum();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let steps: usize = err
        .split(" hypotheses over ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        steps < chars / 2,
        "{steps} timesteps for {chars} characters"
    );
    // --window counts tokens
    let o = luigi_inspect(
        &card,
        &corpus,
        &["--window", "32", "--layer", "onehot", "--top", "3"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "{steps} timesteps in {} sequences",
            steps.div_ceil(32)
        )),
        "{}",
        text(&o)
    );
}

#[test]
fn generate_decodes_tokens_and_bad_tokenizer_cards_name_the_key() {
    let card = fixture("subword.luigi.yaml");
    let run = |prompt: &str| {
        luigi(&[
            "generate",
            card.to_str().unwrap(),
            "--prompt",
            prompt,
            "--steps",
            "12",
        ])
    };
    let o = run("call ( alpha");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let t = String::from_utf8_lossy(&o.stdout).to_string();
    let rest = t
        .strip_prefix("call ( alpha")
        .unwrap_or_else(|| panic!("{t}"));
    // twelve tokens of the vocabulary, written by its (default) decoder
    assert!(rest.split_whitespace().count() >= 12, "{t}");
    let o = run("   ");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("gives no token"), "{}", text(&o));
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("b.luigi.yaml");
    std::fs::write(
        &bad,
        format!(
            "model: {}\ninput: {{name: tokens, encoding: ids, causal: true}}\nvocabulary: {{tokenizer: nope.json}}\n",
            fixture("subword.onnx").display()
        ),
    )
    .unwrap();
    let o = luigi_inspect(&bad, &fixture("subword_corpus.txt"), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("vocabulary.tokenizer") && text(&o).contains("nope.json"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_line_by_line_warning_names_code_but_not_one_expression_per_line() {
    let d = tempfile::tempdir().unwrap();
    let code = d.path().join("code.c");
    let block = "int f(int x) {\n  if (x) {\n    return x;\n  }\n  return 0;\n}\n";
    std::fs::write(&code, block.repeat(12)).unwrap();
    let o = luigi_inspect(
        &fixture("lstm_ids.luigi.yaml"),
        &code,
        &["--fast", "--top", "1"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("read one sequence per line"),
        "{}",
        text(&o)
    );
    let items = d.path().join("items.txt");
    std::fs::write(&items, "(a (b c) d);\n".repeat(60)).unwrap();
    let o = luigi_inspect(
        &fixture("lstm_ids.luigi.yaml"),
        &items,
        &["--fast", "--top", "1"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        !text(&o).contains("read one sequence per line"),
        "{}",
        text(&o)
    );
}
