//! Models of numeric sequences: a corpus of feature vectors from `.npy`
//! (with lengths), a card of `input.encoding: float`, hypotheses over
//! values, and perturbation that edits the vectors. Known answers from the
//! hand-set fixture `numeric.onnx` (`copy:f` is feature f, `cum:f` its
//! running sum, `parity:0` the number of events, feature 1 > 0.5, so far mod
//! 2), see tests/fixtures/make_numeric_fixture.py.

use luigi_test::corpus::values::Values;
use luigi_test::hypothesis::{families, HypothesisSet};
use luigi_test::inspect::{inspect, InspectOptions};
use luigi_test::model::Model;
use luigi_test::verify::{perturb, PerturbOptions, Verdict};
use luigi_test::{Corpus, CorpusFormat};

use crate::fixture;

fn corpus() -> Corpus {
    Corpus::load(fixture("numeric.npy"), CorpusFormat::Lines).unwrap()
}

const PARITY: &str = "- fsm: {name: parity, states: [even, odd], start: even, default: stay, transitions: [{from: even, on: '1', to: odd}, {from: odd, on: '1', to: even}], over: {feature: 1, cuts: [0.5]}}\n";

fn list(dir: &std::path::Path, text: &str) -> HypothesisSet {
    let p = dir.join("h.yaml");
    std::fs::write(&p, text).unwrap();
    HypothesisSet::load(&p).unwrap()
}

#[test]
fn a_numeric_corpus_feeds_its_vectors_and_keeps_its_lengths() {
    let c = corpus();
    assert!(c.is_numeric());
    assert_eq!(c.len(), 20);
    assert_eq!(c.features(), Some(2));
    // lengths come from numeric.lengths.npy beside the data
    let (_, lengths) = luigi_test::npy::read::<i64>(&fixture("numeric.lengths.npy")).unwrap();
    let want: usize = lengths.iter().map(|&l| l as usize).sum();
    assert_eq!(c.timesteps(), want);
    let m = Model::load(fixture("numeric.luigi.yaml")).unwrap();
    assert_eq!(m.input_features(), Some(2));
    let rec = m.record(&c, &["copy", "parity"]).unwrap();
    let mut row = 0;
    for s in c.sequences() {
        let v = s.values().unwrap();
        let mut events = 0;
        for t in 0..v.len() {
            assert_eq!(rec[0].values[[row, 0]], v.data()[2 * t]);
            assert_eq!(rec[0].values[[row, 1]], v.data()[2 * t + 1]);
            events += usize::from(v.data()[2 * t + 1] > 0.5);
            assert_eq!(rec[1].values[[row, 0]], (events % 2) as f32);
            row += 1;
        }
    }
    assert_eq!(row, rec[0].n_rows());
}

#[test]
fn hypotheses_over_values_find_their_units_and_the_families_cover_each_feature() {
    let d = tempfile::tempdir().unwrap();
    let m = Model::load(fixture("numeric.luigi.yaml")).unwrap();
    let c = corpus();
    let text = format!(
        "- feature: 0\n- above: {{feature: 1, threshold: 0.5}}\n- running_max: 0\n{PARITY}"
    );
    let set = list(d.path(), &text);
    let ins = inspect(&m, &c, "any", &set, &InspectOptions::default()).unwrap();
    let best = |name: &str| {
        ins.best_per_hypothesis()
            .into_iter()
            .find(|p| p.hypothesis == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .clone()
    };
    let f = best("feature(0)");
    assert_eq!(f.unit, "copy:0");
    assert!(f.pearson.unwrap() > 0.9999);
    let parity = best("parity@feature(1)");
    assert_eq!(parity.unit, "parity:0");
    assert!(parity.score > 0.9999, "{parity:?}");
    assert_eq!(best("above(1,0.5)").unit, "copy:1");
    let auto = families::auto(&c).unwrap();
    for name in [
        "feature(0)",
        "feature(1)",
        "running_mean(0)",
        "moving_mean(1,8)",
    ] {
        assert!(auto.contains(name), "{name} in {:?}", auto.names());
    }
    assert!(!auto.contains("position"));
}

#[test]
fn perturbation_edits_the_vectors_confirms_the_parity_unit_and_refutes_the_event_detector() {
    let d = tempfile::tempdir().unwrap();
    let m = Model::load(fixture("numeric.luigi.yaml")).unwrap();
    let c = corpus();
    let set = list(d.path(), PARITY);
    let parity = set.get("parity@feature(1)").unwrap();
    let opts = PerturbOptions {
        cases: 128,
        ..PerturbOptions::default()
    };
    let p = m.record(&c, &["parity"]).unwrap().remove(0);
    let v = perturb(&m, "parity", &c, &p, parity, 0, &[], &opts).unwrap();
    assert_eq!(v.verdict, Verdict::Confirmed, "{v}");
    // the event detector (copy:1) follows the current vector, not the
    // parity: with the vector held fixed, an earlier edit does not move it
    let copy = m.record(&c, &["copy"]).unwrap().remove(0);
    let v = perturb(&m, "copy", &c, &copy, parity, 1, &[], &opts).unwrap();
    assert_eq!(v.verdict, Verdict::Refuted, "{v}");
    for cx in &v.counterexamples {
        assert!(cx.before.starts_with('['), "values shown: {}", cx.before);
    }
}

#[test]
fn numeric_inputs_give_clear_errors() {
    let d = tempfile::tempdir().unwrap();
    let m = Model::load(fixture("numeric.luigi.yaml")).unwrap();
    let c = corpus();
    // a hypothesis over characters on values, and a feature it does not have
    let e = m
        .card()
        .prepare(&Corpus::from_strings("t", ["abc"]).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("reads feature vectors"), "{e}");
    let chars = Model::load(fixture("lstm_ids.luigi.yaml")).unwrap();
    let e = chars.card().prepare(&c).unwrap_err().to_string();
    assert!(e.contains("numeric corpus"), "{e}");
    let set = list(d.path(), "- feature: 7\n");
    let e = inspect(&m, &c, "copy", &set, &InspectOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("feature 7") && e.contains("2 features"), "{e}");
    let set = list(d.path(), "- {char: a}\n");
    let e = inspect(&m, &c, "copy", &set, &InspectOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("over characters"), "{e}");
    // windows, three features for a model of two, bad lengths, NaN
    let e = Corpus::load(fixture("numeric.npy"), CorpusFormat::Windows(8))
        .unwrap_err()
        .to_string();
    assert!(e.contains("windows"), "{e}");
    let three = Corpus::from_values("three", vec![Values::new(3, vec![0.0; 9]).unwrap()]).unwrap();
    let e = m.record(&three, &["copy"]).unwrap_err().to_string();
    assert!(e.contains("3 features") && e.contains("takes 2"), "{e}");
    let x = d.path().join("x.npy");
    luigi_test::npy::write(&x, &[2, 3, 1], &[0f32; 6]).unwrap();
    luigi_test::npy::write(&d.path().join("x.lengths.npy"), &[2], &[4i64, 1]).unwrap();
    let e = Corpus::load(&x, CorpusFormat::Lines)
        .unwrap_err()
        .to_string();
    assert!(e.contains("length 4"), "{e}");
    assert!(Values::new(1, vec![f32::NAN])
        .unwrap_err()
        .to_string()
        .contains("finite"));
}
