//! A model of numeric sequences through the real binary: a `.npy` corpus
//! (lengths beside it), hypotheses over values, perturbation that edits
//! feature vectors, and the modes that need text refused with the reason.

use super::{best_unit, fixture, luigi, luigi_inspect, text};

#[test]
fn inspect_and_verify_a_model_of_feature_vectors() {
    let card = fixture("numeric.luigi.yaml");
    let corpus = fixture("numeric.npy");
    let o = luigi_inspect(&card, &corpus, &["--layer", "all", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let best = |name: &str| best_unit(&json, name);
    // the generated `values` family, ranked against the hand-set units
    let f = best("feature(0)");
    assert_eq!(f["unit"], "copy:0", "{f}");
    assert!(f["pearson"].as_f64().unwrap() > 0.9999, "{f}");
    assert_eq!(best("running_max(1)")["unit"], "cum:1");
    assert!(
        text(&o).contains("over 434 timesteps (20 sequences)"),
        "{}",
        text(&o)
    );
    // the automaton over feature 1, verified by editing vectors
    let d = tempfile::tempdir().unwrap();
    let list = d.path().join("h.yaml");
    std::fs::write(
        &list,
        "- fsm: {name: parity, states: [even, odd], start: even, default: stay, transitions: [{from: even, on: '1', to: odd}, {from: odd, on: '1', to: even}], over: {feature: 1, cuts: [0.5]}}\n",
    )
    .unwrap();
    let verify = |unit: &str, mode: &str| {
        luigi(&[
            "verify",
            card.to_str().unwrap(),
            "--corpus",
            corpus.to_str().unwrap(),
            "--layer",
            "all",
            "--hypotheses",
            list.to_str().unwrap(),
            "--hypothesis",
            "parity@feature(1)",
            "--unit",
            unit,
            "--mode",
            mode,
        ])
    };
    let o = verify("parity:0", "perturb");
    assert!(text(&o).contains("confirmed"), "{}", text(&o));
    let o = verify("copy:1", "perturb");
    assert!(text(&o).contains("refuted"), "{}", text(&o));
    let o = verify("parity:0", "intervene");
    assert_ne!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("writes text"), "{}", text(&o));
    // a numeric corpus is not cut into windows; a model of text does not read it
    let o = luigi_inspect(&card, &corpus, &["--window", "8"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("windows"), "{}", text(&o));
    let o = luigi_inspect(&fixture("lstm_ids.luigi.yaml"), &corpus, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("numeric corpus"), "{}", text(&o));
}
