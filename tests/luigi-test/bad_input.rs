//! Every bad input gives a clear error: never a panic, never a wrong number.

use luigi_test::model::graph::Graph;
use luigi_test::model::Model;
use luigi_test::{Corpus, CorpusFormat, Error};

use crate::fixture;

fn copy_fixture_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for f in ["lstm_ids.onnx", "lstm_ids.luigi.yaml"] {
        std::fs::copy(fixture(f), d.path().join(f)).unwrap();
    }
    d
}

fn load_err(dir: &std::path::Path) -> String {
    Model::load(dir.join("lstm_ids.luigi.yaml"))
        .unwrap_err()
        .to_string()
}

#[test]
fn truncated_flipped_and_tiny_models_are_errors() {
    let bytes = std::fs::read(fixture("lstm_ids.onnx")).unwrap();
    let d = copy_fixture_dir();
    let model = d.path().join("lstm_ids.onnx");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("half", bytes[..bytes.len() / 2].to_vec()),
        ("one byte", vec![0x08]),
        ("empty", vec![]),
        ("flipped", {
            let mut b = bytes.clone();
            for i in (0..b.len()).step_by(97) {
                b[i] ^= 0xA5;
            }
            b
        }),
        // graph (field 7) whose length varint says 2^60
        ("huge length", {
            let mut b = vec![0x3a];
            let mut v: u64 = 1 << 60;
            while v >= 0x80 {
                b.push((v as u8) | 0x80);
                v >>= 7;
            }
            b.push(v as u8);
            b
        }),
    ];
    for (what, b) in cases {
        std::fs::write(&model, &b).unwrap();
        let e = Model::load(d.path().join("lstm_ids.luigi.yaml"));
        let msg = match e {
            Ok(_) => panic!("{what}: a broken model loaded"),
            Err(e) => e.to_string(),
        };
        assert!(
            msg.contains("lstm_ids.onnx"),
            "{what}: error does not name the file: {msg}"
        );
    }
}

#[test]
fn missing_model_file_names_it() {
    let d = copy_fixture_dir();
    std::fs::remove_file(d.path().join("lstm_ids.onnx")).unwrap();
    let msg = load_err(d.path());
    assert!(msg.contains("lstm_ids.onnx"), "{msg}");
}

#[test]
fn card_naming_a_missing_input_suggests_the_real_one() {
    let d = copy_fixture_dir();
    let card = d.path().join("lstm_ids.luigi.yaml");
    let text = std::fs::read_to_string(&card)
        .unwrap()
        .replace("name: tokens", "name: token");
    std::fs::write(&card, text).unwrap();
    let e = Model::load(&card).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Card { .. }), "{msg}");
    assert!(
        msg.contains("input.name") && msg.contains("`tokens`"),
        "{msg}"
    );
}

#[test]
fn wrong_encoding_for_the_input_dtype_is_an_error() {
    let d = copy_fixture_dir();
    let card = d.path().join("lstm_ids.luigi.yaml");
    let text = std::fs::read_to_string(&card)
        .unwrap()
        .replace("encoding: ids", "encoding: one-hot");
    std::fs::write(&card, text).unwrap();
    let msg = load_err(d.path());
    assert!(
        msg.contains("input.encoding") && msg.contains("int64"),
        "{msg}"
    );
}

#[test]
fn card_alias_to_a_missing_tensor_names_the_key() {
    let d = copy_fixture_dir();
    let card = d.path().join("lstm_ids.luigi.yaml");
    let text = std::fs::read_to_string(&card)
        .unwrap()
        .replace("lstm: /lstm/LSTM_output_0", "lstm: /lstm/LSTM_output_9");
    std::fs::write(&card, text).unwrap();
    let msg = load_err(d.path());
    assert!(
        msg.contains("layers.lstm") && msg.contains("/lstm/LSTM_output_0"),
        "{msg}"
    );
}

#[test]
fn malformed_card_yaml_names_the_file() {
    let d = copy_fixture_dir();
    std::fs::write(d.path().join("lstm_ids.luigi.yaml"), "input: [unclosed\n").unwrap();
    let msg = load_err(d.path());
    assert!(msg.contains("lstm_ids.luigi.yaml"), "{msg}");
}

#[test]
fn unknown_layer_suggests_close_names() {
    let m = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let c = Corpus::from_strings("c", ["(a)"]).unwrap();
    let msg = m
        .record(&c, &["/lstm/LSTM_output0"])
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("unknown layer") && msg.contains("/lstm/LSTM_output_0"),
        "{msg}"
    );
    let msg = m.record(&c, &["lstn"]).unwrap_err().to_string();
    assert!(msg.contains("lstm (alias)"), "{msg}");
}

#[test]
fn last_state_output_is_refused_with_a_pointer_to_the_sequence() {
    let m = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let c = Corpus::from_strings("c", ["(a)"]).unwrap();
    let msg = m.record(&c, &["hn"]).unwrap_err().to_string();
    assert!(
        msg.contains("last state") && msg.contains("/lstm/LSTM_output_0"),
        "{msg}"
    );
}

#[test]
fn weights_are_not_layers() {
    let m = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let g = Graph::load(&fixture("lstm_ids.onnx")).unwrap();
    let w = g.initializers[0].name.clone();
    let c = Corpus::from_strings("c", ["(a)"]).unwrap();
    let msg = m.record(&c, &[w.as_str()]).unwrap_err().to_string();
    assert!(msg.contains("initializer"), "{msg}");
}

#[test]
fn empty_corpus_is_an_error_naming_the_file() {
    assert!(Corpus::from_strings("empty", Vec::<String>::new()).is_err());
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("empty.txt");
    std::fs::write(&p, "\n\n").unwrap();
    let msg = Corpus::load(&p, CorpusFormat::Lines)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("empty.txt"), "{msg}");
}

#[test]
fn character_outside_a_vocabulary_without_unknown_id_names_sequence_and_position() {
    let d = copy_fixture_dir();
    let card = d.path().join("lstm_ids.luigi.yaml");
    let text = std::fs::read_to_string(&card)
        .unwrap()
        .replace("  unknown: 0\n", "");
    std::fs::write(&card, text).unwrap();
    let m = Model::load(&card).unwrap();
    let c = Corpus::from_strings("mycorpus", ["(a)", "(Q)"]).unwrap();
    let msg = m.record(&c, &["lstm"]).unwrap_err().to_string();
    assert!(
        msg.contains("mycorpus") && msg.contains("sequence 1, position 1") && msg.contains("'Q'"),
        "{msg}"
    );
}

#[test]
fn stepwise_without_state_in_card_is_an_error() {
    let m = Model::load(fixture("onehot_tm.luigi.yaml")).unwrap();
    let msg = m.stepper(&["lstm"]).unwrap_err().to_string();
    assert!(msg.contains("state"), "{msg}");
}

/// Two mismatches ONNX Runtime would report only in its own words
/// ("Input initial_h must have shape", "indices element out of data
/// bounds") are card errors naming the key and the fix.
#[test]
fn a_wrong_layout_or_a_too_long_vocabulary_names_the_card_key() {
    let d = copy_fixture_dir();
    let card = d.path().join("lstm_ids.luigi.yaml");
    let original = std::fs::read_to_string(&card).unwrap();
    std::fs::write(
        &card,
        original.replace("layout: batch-major", "layout: time-major"),
    )
    .unwrap();
    let msg = load_err(d.path());
    assert!(
        msg.contains("input.layout")
            && msg.contains("first dimension of input `tokens` is named `batch`")
            && msg.contains("use `layout: batch-major`"),
        "{msg}"
    );
    std::fs::write(
        &card,
        original.replace(
            r#"chars: "~\n ()[]{}abcxyz;/*""#,
            r#"chars: "~\n ()[]{}abcxyz;/*0123""#,
        ),
    )
    .unwrap();
    let msg = load_err(d.path());
    assert!(
        msg.contains("vocabulary")
            && msg
                .contains("has 22 characters (ids 0..21) but the model's token table has 18 rows"),
        "{msg}"
    );
}

/// An endless device is refused before it is read, and a sequence too long
/// to run in one piece is refused before anything is allocated, naming
/// `--window`; `LUIGI_MAX_CORPUS_BYTES` bounds what a pipe or file may hold.
#[test]
fn endless_and_huge_corpora_are_refused_with_the_fix() {
    #[cfg(unix)]
    {
        let e = Corpus::load("/dev/zero", CorpusFormat::Lines)
            .unwrap_err()
            .to_string();
        assert!(e.contains("/dev/zero") && e.contains("not a file"), "{e}");
    }
    let d = tempfile::tempdir().unwrap();
    let long = d.path().join("long.txt");
    std::fs::write(&long, "ab(c)".repeat(60_000)).unwrap();
    let model = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let corpus = Corpus::load(&long, CorpusFormat::Lines).unwrap();
    let e = model.record(&corpus, &["lstm"]).unwrap_err().to_string();
    assert!(
        e.contains("sequence 0 has 300000 characters") && e.contains("--window 1024"),
        "{e}"
    );
    let windows = Corpus::load(&long, CorpusFormat::Windows(1024)).unwrap();
    assert_eq!(
        model.record(&windows, &["lstm"]).unwrap()[0].n_rows(),
        300_000
    );
}

/// A card nested 50,000 brackets deep took seconds in the YAML parser; it
/// is refused at once, naming the line and column. Brackets inside quotes
/// and comments do not count.
#[test]
fn a_deeply_nested_card_is_refused_before_parsing() {
    let d = copy_fixture_dir();
    let card = d.path().join("lstm_ids.luigi.yaml");
    let original = std::fs::read_to_string(&card).unwrap();
    let deep = format!(
        "{original}extra: {}{}\n",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    std::fs::write(&card, deep).unwrap();
    let msg = load_err(d.path());
    assert!(
        msg.contains("brackets nested more than 64 deep at line"),
        "{msg}"
    );
    assert_eq!(
        luigi_test::error::yaml_too_deep("a: '[[[[' # {{{{\nb: \"[[\"\n"),
        None
    );
    assert_eq!(
        luigi_test::error::yaml_too_deep(&format!("x: {}", "{".repeat(65))),
        Some((1, 68))
    );
}
