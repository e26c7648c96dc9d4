//! Fuzzing the parsers of the three YAML inputs a user writes: model cards
//! (read and checked against the fixture model), specs and hypothesis lists.
//! Inputs are arbitrary bytes and valid files mutated (ranges deleted or
//! duplicated, YAML fragments and odd values inserted). Every input must give
//! a value or an error, never a panic, and within a generous time bound.
//!
//! CI runs `LUIGI_FUZZ_CASES` cases per parser (default 64); run longer by
//! hand with e.g. `LUIGI_FUZZ_CASES=20000 cargo test -p luigi-test --test
//! integration fuzz -- --nocapture`.

use std::path::Path;
use std::time::{Duration, Instant};

use luigi_test::hypothesis::HypothesisSet;
use luigi_test::model::{Card, Model};
use luigi_test::spec::Spec;
use luigi_test::Corpus;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::{fixture, root};

/// Far above any parse of a few kilobytes; only a runaway (exponential
/// backtracking, a loop) reaches it.
const BOUND: Duration = Duration::from_secs(20);

fn cases() -> u32 {
    std::env::var("LUIGI_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    })
}

/// YAML fragments and values that have broken parsers before or might.
const FRAGMENTS: &[&str] = &[
    "[",
    "]",
    "{",
    "}",
    ":",
    ": ",
    "- ",
    "\n",
    "  ",
    "\t",
    "'",
    "\"",
    "&a ",
    "*a",
    "<<: *a",
    "!!binary ",
    "!tag ",
    "~",
    "null",
    "-1",
    "0",
    "1e999",
    "NaN",
    ".nan",
    "-.inf",
    "18446744073709551616",
    "\u{0}",
    "\u{feff}",
    "é",
    "{levels: 99999999999}",
    "window: 0",
    "layers: {}",
    "state: [{input: h0}]",
    "chars: \"\"",
    "? ",
    "|\n",
    ">-\n",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "#",
    "\\u",
    "[[[[[[[[",
    "{{{{{{{{",
    "]]]]",
    "}}}}",
];

#[derive(Debug, Clone)]
enum Edit {
    Delete(f64, usize),
    Duplicate(f64, usize),
    Insert(f64, usize),
    Byte(f64, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0.0..1.0f64, 1..40usize).prop_map(|(p, n)| Edit::Delete(p, n)),
        (0.0..1.0f64, 1..80usize).prop_map(|(p, n)| Edit::Duplicate(p, n)),
        (0.0..1.0f64, 0..FRAGMENTS.len()).prop_map(|(p, i)| Edit::Insert(p, i)),
        (0.0..1.0f64, any::<u8>()).prop_map(|(p, b)| Edit::Byte(p, b)),
    ]
}

/// Applies the edits to the text's characters (so the result stays a
/// string; bytes come in as Latin-1 characters).
fn mutate(text: &str, edits: &[Edit]) -> String {
    let mut c: Vec<char> = text.chars().collect();
    for e in edits {
        let at = |p: f64, len: usize| ((p * len as f64) as usize).min(len);
        match *e {
            Edit::Delete(p, n) => {
                let s = at(p, c.len());
                let end = (s + n).min(c.len());
                c.drain(s..end);
            }
            Edit::Duplicate(p, n) => {
                let s = at(p, c.len());
                let end = (s + n).min(c.len());
                let piece: Vec<char> = c[s..end].to_vec();
                c.splice(end..end, piece);
            }
            Edit::Insert(p, i) => {
                let s = at(p, c.len());
                c.splice(s..s, FRAGMENTS[i].chars());
            }
            Edit::Byte(p, b) => {
                let s = at(p, c.len());
                c.insert(s, char::from(b));
            }
        }
    }
    c.into_iter().collect()
}

/// Inputs for one parser: arbitrary bytes (read as UTF-8, lossily) half of
/// the time, a mutated valid file otherwise.
fn inputs(valid: String) -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..600)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        prop::collection::vec(edit(), 1..5).prop_map(move |e| mutate(&valid, &e)),
    ]
}

/// Runs `parse` on every input, checking no panic and the time bound.
fn fuzz(what: &str, valid: String, parse: impl Fn(&str) -> bool) {
    let start = Instant::now();
    let ok = std::cell::Cell::new(0u32);
    let seen = std::cell::Cell::new(0u32);
    let longest = std::cell::Cell::new(Duration::ZERO);
    runner()
        .run(&inputs(valid), |text| {
            let t = Instant::now();
            let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(&text)));
            let took = t.elapsed();
            prop_assert!(parsed.is_ok(), "{what}: panicked on {text:?}");
            prop_assert!(took < BOUND, "{what}: {took:?} on {text:?}");
            seen.set(seen.get() + 1);
            longest.set(longest.get().max(took));
            ok.set(ok.get() + u32::from(parsed.unwrap_or(false)));
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    println!(
        "fuzz {what}: {} inputs, {} parsed, longest {:.1} ms, {:.1} s in all",
        seen.get(),
        ok.get(),
        longest.get().as_secs_f64() * 1e3,
        start.elapsed().as_secs_f64()
    );
}

#[test]
fn cards_give_a_card_or_an_error_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("lstm_ids.onnx"), dir.path().join("lstm_ids.onnx")).unwrap();
    let valid = std::fs::read_to_string(fixture("lstm_ids.luigi.yaml"))
        .unwrap()
        .replace("input:\n", "model: lstm_ids.onnx\ninput:\n");
    let path = dir.path().join("fuzz.luigi.yaml");
    fuzz("card", valid, |text| {
        std::fs::write(&path, text).unwrap();
        match Card::load(&path) {
            Ok(card) => {
                // a card that reads is checked against the model
                let model = Model::from_card(card);
                if let Ok(m) = &model {
                    let _ = m.units("lstm");
                }
                model.is_ok()
            }
            Err(e) => {
                assert!(e.to_string().contains("fuzz.luigi.yaml"), "{e}");
                false
            }
        }
    });
}

#[test]
fn specs_give_a_spec_or_an_error_never_a_panic() {
    let valid = std::fs::read_to_string(root().join("specs/fixture_lstm_ids.yaml")).unwrap();
    let path = root().join("specs/fuzz.yaml");
    fuzz("spec", valid, |text| Spec::parse(text, &path).is_ok());
}

#[test]
fn hypothesis_lists_give_a_set_or_an_error_never_a_panic() {
    let valid = std::fs::read_to_string(root().join("examples/cmodel/claims.yaml")).unwrap();
    let corpus = Corpus::from_strings("fuzz", ["int f(x) {\n  return (x);\n}\n"]).unwrap();
    fuzz("hypothesis list", valid, |text| {
        HypothesisSet::from_yaml_str(text, Path::new("fuzz.yaml"), Some(&corpus)).is_ok()
    });
}
