//! The paper's multi-unit experiment, reproduced on the committed boolean
//! model (examples/boolean, a 4-unit LSTM) through Luigi's own runtime: a
//! logistic probe on the LSTM's hidden state reads off the state of the
//! automaton that evaluates the expression; the plausible wrong automata
//! rank below it; the untrained twin does clearly worse; a small unit set
//! suffices; and the PCA data of Figure 3b comes out whole.
//!
//! The held-out corpus is cut to its first 300 sequences (4,500 timesteps;
//! the file is already shuffled) and bootstrap/stability resamples are
//! reduced so the module stays fast in a debug build. The README's numbers
//! (examples/README.md) come from `luigi inspect --probe` on all 5,000.

use luigi_test::hypothesis::{boolean, HypothesisSet};
use luigi_test::model::{Model, RecordOptions};
use luigi_test::probe::{
    Controls, LayerData, LayerProbeConfig, ProbeConfig, ProbeFlag, UnitSetConfig,
};
use luigi_test::{Corpus, CorpusFormat};

use crate::root;

const SEQUENCES: usize = 300;

fn heldout() -> Corpus {
    let all = Corpus::load(
        root().join("examples/boolean/heldout.txt"),
        CorpusFormat::Lines,
    )
    .unwrap();
    let texts: Vec<String> = all.sequences()[..SEQUENCES]
        .iter()
        .map(|s| s.text())
        .collect();
    Corpus::from_strings("heldout (first 300)", texts).unwrap()
}

fn record(set: &HypothesisSet) -> LayerData {
    let m = Model::load(root().join("examples/boolean/boolean.luigi.yaml")).unwrap();
    LayerData::record(&m, &heldout(), "lstm", set, true, &RecordOptions::default()).unwrap()
}

fn probe_config() -> ProbeConfig {
    ProbeConfig {
        seed: 7,
        bootstrap_resamples: 200,
        controls: Controls {
            control_task: true,
            token: true,
            position: false,
            ..Controls::default()
        },
        ..ProbeConfig::default()
    }
}

#[test]
fn probe_reads_the_evaluator_state_beyond_twin_and_with_a_small_unit_set() {
    let data = record(&boolean::candidates().unwrap());
    assert!(data.untrained.is_some(), "the card names an untrained twin");
    let probe = probe_config();
    let config = LayerProbeConfig {
        unit_set: Some(UnitSetConfig {
            probe: ProbeConfig {
                controls: Controls::none(),
                ..probe.clone()
            },
            // Bootstrap stability is exercised by the probe module's own
            // tests and by `luigi inspect --probe` (20 resamples); here the
            // full-data set is reported, to keep the module fast.
            stability_resamples: 0,
            ..UnitSetConfig::default()
        }),
        probe,
        untrained: true,
    };
    let p = data
        .probe_all(&["bool_eval".to_string()], &config, &|_, _, _| {})
        .unwrap();
    println!("{}", p.table());
    let r = &p.probes[0].report;
    // (a) > 99% held-out accuracy on the value-tracking automaton's state
    // (measured: 1.0000, interval [1.0000, 1.0000] over 60 held-out sequences).
    assert!(r.probe.accuracy.value > 0.99, "{:?}", r.probe.accuracy);
    assert!(r.probe.accuracy.lower > 0.98, "{:?}", r.probe.accuracy);
    assert!(
        r.probe.accuracy.value - r.majority_baseline.accuracy.value > 0.5,
        "majority {:?}",
        r.majority_baseline.accuracy
    );
    // (c) The untrained twin reads it clearly worse (measured 0.8233: a
    // margin of 0.18); the current token alone reads much less (measured
    // below 0.8).
    let twin = r.untrained.expect("twin probed");
    assert!(twin.gain > 0.1, "twin gain {}", twin.gain);
    assert!(
        !r.flags.contains(&ProbeFlag::UntrainedMatches),
        "{:?}",
        r.flags
    );
    let token = r.token_probe.expect("token probe ran").accuracy.value;
    assert!(r.probe.accuracy.value - token > 0.15, "token-only {token}");
    // The Hewitt–Liang control task is *not* clearly lower here: with five
    // input symbols and a hidden state that encodes the current one, a
    // probe memorises a random label per symbol almost as well (seed 7:
    // 1.0000, selectivity 0.0; other seeds draw other labels, e.g. 0.905 on
    // the first 1,000 sequences with the CLI's seed). Luigi must say so, not hide it.
    let control = r.control_task.expect("control task ran");
    assert!(control.metrics.accuracy.value > 0.95, "{control:?}");
    assert!(r.flags.contains(&ProbeFlag::NotSelective), "{:?}", r.flags);
    // (d) The smallest sufficient set is found, reported, and reaches the
    // stated fraction of the whole layer (measured: units {1, 3}, 0.96).
    let set = p.probes[0].unit_set.as_ref().expect("unit set searched");
    assert!(set.reached_target, "{set:?}");
    let chosen = p.probes[0].chosen.as_ref().expect("a chosen set");
    assert!(!chosen.units.is_empty() && chosen.units.len() < data.units.len());
    assert!(
        chosen.accuracy.value >= set.config.fraction * r.probe.accuracy.value,
        "set {:?} accuracy {} < {} of the layer's {}",
        chosen.unit_names,
        chosen.accuracy.value,
        set.config.fraction,
        r.probe.accuracy.value
    );
    let table = p.table();
    assert!(
        table.contains("bool_eval")
            && table.contains(&format!("{{{}}}", chosen.unit_names.join(","))),
        "{table}"
    );
}

#[test]
fn candidate_automata_rank_with_the_evaluator_first() {
    let data = record(&boolean::candidates().unwrap());
    let states: Vec<String> = boolean::candidate_automata()
        .unwrap()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    let config = LayerProbeConfig {
        probe: ProbeConfig {
            controls: Controls::none(),
            ..probe_config()
        },
        unit_set: None,
        untrained: true,
    };
    let p = data.probe_all(&states, &config, &|_, _, _| {}).unwrap();
    println!("{}", p.table());
    // Rank by balanced accuracy: plain accuracy favours automata whose
    // states are unbalanced (and_all sits in `some0` 75% of the time).
    let mut ranked: Vec<(&str, f64)> = p
        .probes
        .iter()
        .map(|h| {
            (
                h.hypothesis.as_str(),
                h.report.probe.balanced_accuracy.value,
            )
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let order: Vec<&str> = ranked.iter().map(|r| r.0).collect();
    // Measured (seed 7, 300 sequences): bool_eval 1.000, last_op 0.870,
    // last_digit 0.856, and_all 0.713, or_all 0.689, operand_parity 0.539.
    // It makes sense: the evaluator first; then automata whose state
    // follows from the last one or two symbols (which any recurrent state
    // keeps); then the partial evaluators that ignore one operator; the
    // operand-count parity, which the task never needs, at chance.
    assert_eq!(
        order,
        [
            "bool_eval",
            "last_op",
            "last_digit",
            "and_all",
            "or_all",
            "operand_parity"
        ],
        "{ranked:?}"
    );
    assert!(ranked[0].1 - ranked[1].1 > 0.1, "{ranked:?}");
    let parity = p.get("operand_parity").unwrap();
    assert!(parity.report.flags.contains(&ProbeFlag::NotAboveBaseline));
    // The wrong automata that are not at chance are read as well (or
    // better) from the untrained twin: nothing the training put there.
    for name in ["last_digit", "and_all", "or_all"] {
        let r = &p.get(name).unwrap().report;
        assert!(
            r.flags.contains(&ProbeFlag::UntrainedMatches),
            "{name}: {:?}",
            r.flags
        );
    }
    let eval = &p.get("bool_eval").unwrap().report;
    assert!(eval.flags.is_empty(), "{:?} {eval:?}", eval.flags);
}

#[test]
fn pca_export_has_a_point_per_timestep() {
    let data = record(&boolean::candidates().unwrap());
    let pca = data.project("bool_eval").unwrap();
    assert_eq!(pca.points.len(), data.rows.len());
    assert_eq!(pca.points.len(), 15 * SEQUENCES);
    for r in pca.explained_variance_ratio {
        assert!(r > 0.0 && r <= 1.0, "{:?}", pca.explained_variance_ratio);
    }
    assert!(pca.explained_variance_ratio[0] >= pca.explained_variance_ratio[1]);
    assert!(pca.explained_variance_ratio.iter().sum::<f64>() <= 1.0 + 1e-9);
    assert_eq!(pca.loadings.len(), 4);
    let first = &pca.points[0];
    assert_eq!((first.sequence, first.position), (0, 0));
    assert!(pca.classes.contains(&first.class));
    // The last point of sequence 0 is at position 14, class of its final state.
    assert_eq!(pca.points[14].position, 14);
    let json = serde_json::to_value(&pca).unwrap();
    assert!(json["points"][0]["x"].is_number() && json["points"][0]["class"].is_string());
    let e = data.project("no_such").unwrap_err().to_string();
    assert!(e.contains("no_such") && e.contains("not among"), "{e}");
}

#[test]
fn candidates_yaml_matches_the_library_candidates() {
    let yaml = HypothesisSet::load(root().join("examples/boolean/candidates.yaml")).unwrap();
    let lib = boolean::candidates().unwrap();
    let mut a: Vec<&str> = yaml.names();
    let mut b: Vec<&str> = lib.names();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
    let c = heldout();
    let vy = yaml.evaluate(c.sequences()).unwrap();
    let vl = lib.evaluate(c.sequences()).unwrap();
    for name in lib.names() {
        let (i, j) = (yaml.index_of(name).unwrap(), lib.index_of(name).unwrap());
        assert_eq!(vy.column(i), vl.column(j), "{name}");
    }
}
