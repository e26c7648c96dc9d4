//! Models that read subword tokens: the card's `vocabulary.tokenizer`, one
//! timestep per token, hypotheses over characters aligned to tokens, token
//! hypotheses, windows cut on token boundaries. Known answers from the
//! hand-set fixture `subword.onnx` (unit k of `onehot` is 1 at token id k;
//! unit k of `count` counts tokens of id k), see
//! tests/fixtures/make_subword_fixture.py.

use std::path::{Path, PathBuf};

use luigi_test::corpus::tokens::Align;
use luigi_test::hypothesis::library::{Bracket, Position, TokenIs, WordStart};
use luigi_test::hypothesis::{evaluate_steps, families, HypothesisSet};
use luigi_test::inspect::{inspect, InspectOptions};
use luigi_test::model::Model;
use luigi_test::{Corpus, CorpusFormat};

use crate::fixture;

/// The fixture's card with `vocabulary` replaced by `vocabulary` (YAML).
fn card_with(dir: &Path, vocabulary: &str) -> PathBuf {
    let text = format!(
        "model: {}\ninput: {{name: tokens, encoding: ids, causal: true}}\nvocabulary: {vocabulary}\nlogits: logits\nlayers: {{onehot: onehot, count: count}}\n",
        fixture("subword.onnx").display()
    );
    let p = dir.join("m.luigi.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The id of a token string in the model's tokenizer.
fn id_of(m: &Model, piece: &str) -> usize {
    let pieces = m.card().tokenizer.as_ref().unwrap().pieces();
    pieces.iter().position(|p| p == piece).unwrap()
}

fn tokenizer() -> String {
    fixture("subword.tokenizer.json").display().to_string()
}

#[test]
fn a_tokenized_sequence_has_one_timestep_per_token_and_the_model_reads_its_ids() {
    let m = Model::load(fixture("subword.luigi.yaml")).unwrap();
    let text = Corpus::from_strings("t", ["call ( alpha ( zeta ) )"]).unwrap();
    let c = m.card().prepare(&text).unwrap();
    let s = &c.sequences()[0];
    let t = s.tokens().unwrap();
    let pieces: Vec<&str> = (0..t.len()).map(|i| t.piece(i)).collect();
    assert_eq!(
        pieces,
        ["c", "al", "l", "(", "alpha", "(", "zeta", ")", ")"]
    );
    assert_eq!(s.len(), 9);
    assert_eq!(s.chars().len(), 23);
    assert_eq!(t.spans()[1], (1, 3));
    assert_eq!(s.step_text(1), "al");
    assert_eq!(c.timesteps(), 9);
    let rec = m.record(&c, &["onehot", "count"]).unwrap();
    assert_eq!(rec[0].n_rows(), 9);
    for (row, &id) in t.ids().iter().enumerate() {
        for unit in 0..rec[0].n_units() {
            let want = f32::from(u8::from(unit as i64 == id));
            assert_eq!(rec[0].values[[row, unit]], want, "row {row} unit {unit}");
        }
    }
    // two `(` tokens by the end
    let open = t.ids()[3] as usize;
    assert_eq!(rec[1].values[[8, open]], 2.0);
    // the raw text is tokenized on the way in, too
    let again = m.record(&text, &["onehot"]).unwrap_err().to_string();
    assert!(again.contains("not tokenized"), "{again}");
}

#[test]
fn hypotheses_over_characters_take_each_tokens_value_by_the_cards_rule() {
    let d = tempfile::tempdir().unwrap();
    // "call" is `c` (0..1), `al` (1..3), `l` (3..4)
    let text = Corpus::from_strings("t", ["call"]).unwrap();
    let cases: [(&str, Vec<f32>); 4] = [
        ("last", vec![0.0, 2.0, 3.0]),
        ("first", vec![0.0, 1.0, 3.0]),
        ("any", vec![0.0, 2.0, 3.0]),
        ("mean", vec![0.0, 1.5, 3.0]),
    ];
    for (align, want) in cases {
        let card = card_with(
            d.path(),
            &format!("{{tokenizer: {}, align: {align}}}", tokenizer()),
        );
        let m = Model::load(card).unwrap();
        let c = m.card().prepare(&text).unwrap();
        assert_eq!(c.align().map(|a| a.name()), Some(align));
        let got = evaluate_steps(&Position, &c.sequences()[0]).unwrap();
        assert_eq!(got, want, "align {align}");
    }
    let m = Model::load(fixture("subword.luigi.yaml")).unwrap();
    let c = m
        .card()
        .prepare(&Corpus::from_strings("t", ["( beta )"]).unwrap())
        .unwrap();
    assert_eq!(c.align(), Some(Align::Last));
    let s = &c.sequences()[0];
    let inside = Bracket::inside('(').unwrap();
    // `(` 0..1, `b` 2..3, `eta` 3..6, `)` 7..8; after the last character
    assert_eq!(
        evaluate_steps(&inside, s).unwrap(),
        vec![1.0, 1.0, 1.0, 0.0]
    );
    let depth = Bracket::depth('(').unwrap();
    assert_eq!(evaluate_steps(&depth, s).unwrap(), vec![1.0, 1.0, 1.0, 0.0]);
    assert_eq!(
        evaluate_steps(&WordStart, s).unwrap(),
        vec![0.0, 1.0, 0.0, 0.0]
    );
    assert_eq!(
        evaluate_steps(&TokenIs::new("eta").unwrap(), s).unwrap(),
        vec![0.0, 0.0, 1.0, 0.0]
    );
}

#[test]
fn inspect_ranks_the_unit_of_a_token_first_with_the_layer_of_token_ids() {
    let m = Model::load(fixture("subword.luigi.yaml")).unwrap();
    let text = Corpus::load(fixture("subword_corpus.txt"), CorpusFormat::Lines).unwrap();
    let c = m.card().prepare(&text).unwrap();
    let alpha = id_of(&m, "alpha");
    let mut set = HypothesisSet::new();
    set.add(TokenIs::new("alpha").unwrap()).unwrap();
    set.add(Bracket::depth('(').unwrap()).unwrap();
    // the raw text: inspect tokenizes it for the model
    let ins = inspect(&m, &text, "onehot", &set, &InspectOptions::default()).unwrap();
    let best = ins.best_per_hypothesis();
    let tok = best
        .iter()
        .find(|p| p.hypothesis == "token(alpha)")
        .unwrap();
    assert_eq!(tok.unit, alpha.to_string());
    assert!(
        (tok.pearson.unwrap().abs() - 1.0).abs() < 1e-4,
        "{:?}",
        tok.pearson
    );
    // the families of a tokenized corpus include its frequent tokens
    let auto = families::auto(&c).unwrap();
    assert!(auto.contains("token(alpha)"));
    assert!(auto.contains("word_start"));
    assert!(!families::auto(&text).unwrap().contains("token(alpha)"));
}

#[test]
fn windows_are_cut_on_token_boundaries_and_keep_every_token() {
    let m = Model::load(fixture("subword.luigi.yaml")).unwrap();
    let path = fixture("subword_corpus.txt");
    let whole = std::fs::read_to_string(&path).unwrap();
    let all = m
        .card()
        .tokenizer
        .as_ref()
        .unwrap()
        .encode(&whole)
        .unwrap()
        .0;
    let text = Corpus::load(&path, CorpusFormat::Windows(16)).unwrap();
    let c = m.card().prepare(&text).unwrap();
    let mut ids = Vec::new();
    let mut joined = String::new();
    for s in c.sequences() {
        assert!(s.len() <= 16 && !s.is_empty());
        ids.extend_from_slice(s.tokens().unwrap().ids());
        joined.push_str(&s.text());
        // each token's characters, read in its window, are what it encodes
        for t in 0..s.len() {
            let piece = s.step_text(t);
            assert!(!piece.trim().is_empty(), "token {t} of {:?}", s.text());
        }
    }
    assert_eq!(ids, all);
    assert_eq!(joined, whole);
    assert_eq!(c.len(), all.len().div_ceil(16));
    let rec = m.record(&c, &["onehot"]).unwrap();
    assert_eq!(rec[0].n_rows(), all.len());
}

#[test]
fn bad_tokenizer_cards_and_mismatched_corpora_are_clear_errors() {
    let d = tempfile::tempdir().unwrap();
    let load = |vocab: &str| {
        Model::load(card_with(d.path(), vocab))
            .unwrap_err()
            .to_string()
    };
    let e = load(&format!("{{tokenizer: {}, chars: \"ab\"}}", tokenizer()));
    assert!(
        e.contains("vocabulary.tokenizer") && e.contains("remove `chars`"),
        "{e}"
    );
    let e = load("{tokenizer: missing.json}");
    assert!(
        e.contains("vocabulary.tokenizer") && e.contains("missing.json"),
        "{e}"
    );
    let bad = d.path().join("bad.json");
    std::fs::write(&bad, "{\"model\": 3}").unwrap();
    let e = load(&format!("{{tokenizer: {}}}", bad.display()));
    assert!(
        e.contains("vocabulary.tokenizer") && e.contains("tokenizer.json"),
        "{e}"
    );
    let e = load("{chars: \"ab\", align: first}");
    assert!(e.contains("vocabulary.align"), "{e}");
    let e = load(&format!("{{tokenizer: {}, align: middle}}", tokenizer()));
    assert!(e.contains("middle"), "{e}");
    // a corpus tokenized for one model, given to a model of characters
    let sub = Model::load(fixture("subword.luigi.yaml")).unwrap();
    let chars = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let c = sub
        .card()
        .prepare(&Corpus::from_strings("t", ["( a )"]).unwrap())
        .unwrap();
    let e = chars.record(&c, &["hidden"]).unwrap_err().to_string();
    assert!(e.contains("reads characters"), "{e}");
}

#[test]
fn perturbation_retokenises_edits_confirms_a_token_counter_and_refutes_a_token_detector() {
    use luigi_test::hypothesis::{from_fn, HypothesisKind};
    use luigi_test::verify::{perturb, PerturbOptions, Verdict};
    let m = Model::load(fixture("subword.luigi.yaml")).unwrap();
    let text = Corpus::load(fixture("subword_corpus.txt"), CorpusFormat::Lines).unwrap();
    let c = m.card().prepare(&text).unwrap();
    let open = id_of(&m, "(");
    // how many `(` were read so far: unit `open` of `count` is exactly this
    let opened = from_fn("opened", HypothesisKind::Numeric, |s| {
        let mut n = 0.0;
        s.iter()
            .map(|&ch| {
                n += f32::from(u8::from(ch == '('));
                n
            })
            .collect()
    })
    .with_triggers(["( "]);
    let opts = PerturbOptions {
        cases: 128,
        ..PerturbOptions::default()
    };
    let count = m.record(&c, &["count"]).unwrap().remove(0);
    let v = perturb(&m, "count", &c, &count, &opened, open, &[], &opts).unwrap();
    assert_eq!(v.verdict, Verdict::Confirmed, "{v}");
    assert!(
        v.informative > 0 && v.agreement.unwrap_or(0.0) > 0.99,
        "{v}"
    );
    // the `(` detector follows the token, not the count: with the token
    // held fixed, an edit that changes the count does not move it
    let onehot = m.record(&c, &["onehot"]).unwrap().remove(0);
    let v = perturb(&m, "onehot", &c, &onehot, &opened, open, &[], &opts).unwrap();
    assert_eq!(v.verdict, Verdict::Refuted, "{v}");
    assert!(v.effect.abs() < 1e-6, "{v}");
}

#[test]
fn an_attention_mask_is_fed_one_per_token_and_zero_per_padding() {
    // `masked` is the one-hot of the token times the mask: a row recorded
    // with mask 0 would be all zeros
    let m = Model::load(fixture("subword_mask.luigi.yaml")).unwrap();
    let text = Corpus::load(fixture("subword_corpus.txt"), CorpusFormat::Lines).unwrap();
    let c = m.card().prepare(&text).unwrap();
    // lines of different lengths share right-padded batches (causal: true)
    let lengths: std::collections::BTreeSet<usize> =
        c.sequences().iter().map(|s| s.len()).collect();
    assert!(lengths.len() > 5);
    let rec = m.record(&c, &["masked"]).unwrap().remove(0);
    let mut row = 0;
    for s in c.sequences() {
        for &id in s.tokens().unwrap().ids() {
            let r = rec.values.row(row);
            assert_eq!(r[id as usize], 1.0, "row {row}");
            assert_eq!(r.sum(), 1.0, "row {row}");
            row += 1;
        }
    }
    // the card must feed the mask, and name an input that exists
    let d = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("subword_mask.luigi.yaml")).unwrap();
    let write = |body: String| {
        let p = d.path().join("m.luigi.yaml");
        let body = format!(
            "model: {}\n{}",
            fixture("subword_mask.onnx").display(),
            body.replace("subword.tokenizer.json", &tokenizer())
        );
        std::fs::write(&p, body).unwrap();
        Model::load(&p).map(|_| ()).unwrap_err().to_string()
    };
    let e = write(text.replace(
        "  mask: attention_mask   # 1 per token, 0 per padding\n",
        "",
    ));
    assert!(e.contains("attention_mask") && e.contains("not fed"), "{e}");
    let e = write(text.replace("mask: attention_mask", "mask: attn_mask"));
    assert!(
        e.contains("input.mask") && e.contains("attention_mask"),
        "{e}"
    );
}
