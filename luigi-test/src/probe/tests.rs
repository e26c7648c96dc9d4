//! End-to-end tests of the probe pipeline on synthetic layers whose answer
//! is known by construction.

use ndarray::Array2;

use super::*;
use crate::activations::RowIndex;
use crate::numeric::rng::Rng;

/// A synthetic corpus: `n_seq` sequences of `len` tokens from a vocabulary of 6.
fn corpus(n_seq: usize, len: usize, seed: u64) -> RowIndex {
    let mut rng = Rng::new(seed);
    let mut rows = RowIndex::default();
    for s in 0..n_seq {
        for t in 0..len {
            rows.sequence.push(s as u32);
            rows.position.push(t as u32);
            rows.token.push(rng.below(6) as i64);
        }
    }
    rows
}

/// Label = parity of the number of token-0s read so far: a function of the
/// history that neither the current token nor the position gives away.
fn parity_labels(rows: &RowIndex) -> Vec<usize> {
    let mut out = Vec::with_capacity(rows.len());
    let mut parity = 0;
    for i in 0..rows.len() {
        if rows.position[i] == 0 {
            parity = 0;
        }
        if rows.token[i] == 0 {
            parity ^= 1;
        }
        out.push(parity);
    }
    out
}

/// A layer of `units` units: unit 2 carries `signal` (±1) plus noise, unit 3
/// one-hot-ish token identity, the rest noise.
fn layer(rows: &RowIndex, signal: &[usize], units: usize, noise: f64, seed: u64) -> Array2<f32> {
    let mut rng = Rng::new(seed);
    Array2::from_shape_fn((rows.len(), units), |(i, u)| {
        let e = rng.normal() * noise;
        let v = match u {
            2 => (signal[i] as f64 * 2.0 - 1.0) + e,
            3 => rows.token[i] as f64 + e,
            _ => rng.normal(),
        };
        v as f32
    })
}

fn binary(y: Vec<usize>) -> Labels {
    Labels::from_classes(y, vec!["0".into(), "1".into()]).unwrap()
}

fn quick() -> ProbeConfig {
    ProbeConfig {
        bootstrap_resamples: 200,
        ..ProbeConfig::default()
    }
}

#[test]
fn probe_reads_a_history_feature_and_passes_its_controls() {
    let rows = corpus(60, 20, 1);
    let y = parity_labels(&rows);
    let x = layer(&rows, &y, 6, 0.3, 2);
    let labels = binary(y);
    let r = fit(x.view(), &rows, &labels, None, &quick()).unwrap();
    assert!(r.whole_layer && r.units.len() == 6);
    assert_eq!(r.evaluated_sequences, 12);
    assert!(r.probe.accuracy.value > 0.95, "{:?}", r.probe);
    let a = r.probe.accuracy;
    assert!(
        a.lower <= a.value && a.value <= a.upper && a.upper - a.lower < 0.1,
        "{a:?}"
    );
    // Neither the token nor the position explains parity; the control task
    // cannot be learnt from features that do not memorise tokens well.
    assert!(r.token_probe.unwrap().accuracy.value < 0.8);
    assert!(r.position_probe.unwrap().accuracy.value < 0.8);
    let c = r.control_task.unwrap();
    assert!(c.selectivity.value > 0.1, "{c:?}");
    assert!(r.flags.is_empty(), "{:?}", r.flags);
    assert!(r.max_gradient_norm <= 1e-4);
}

#[test]
fn a_hypothesis_the_token_explains_is_flagged() {
    let rows = corpus(60, 20, 3);
    // "the current token is 0 or 1": the input alone answers it.
    let y: Vec<usize> = rows.token.iter().map(|&t| usize::from(t < 2)).collect();
    // An embedding-like layer: one unit per token type, plus noise.
    let mut rng = Rng::new(4);
    let x = Array2::from_shape_fn((rows.len(), 7), |(i, u)| {
        let hot = f64::from(u8::from(rows.token[i] == u as i64));
        (hot + 0.1 * rng.normal()) as f32
    });
    let r = fit(x.view(), &rows, &binary(y), None, &quick()).unwrap();
    assert!(r.probe.accuracy.value > 0.95);
    assert!(r.flags.contains(&ProbeFlag::TokenExplains), "{:?}", r.flags);
    // A label that is a function of the token is no more selective than the
    // control task on these token-encoding features.
    assert!(
        r.flags.contains(&ProbeFlag::NotSelective),
        "{:?}",
        r.control_task
    );
    assert!(!r.flags.contains(&ProbeFlag::PositionExplains));
}

#[test]
fn a_hypothesis_the_position_explains_is_flagged() {
    let rows = corpus(50, 12, 5);
    let y: Vec<usize> = rows.position.iter().map(|&p| usize::from(p < 4)).collect();
    let x = layer(&rows, &y, 4, 0.2, 6);
    let r = fit(x.view(), &rows, &binary(y), None, &quick()).unwrap();
    assert!(
        r.flags.contains(&ProbeFlag::PositionExplains),
        "{:?}",
        r.flags
    );
    assert!(!r.flags.contains(&ProbeFlag::TokenExplains));
}

#[test]
fn a_noise_unit_is_no_better_than_the_baseline() {
    let rows = corpus(60, 20, 7);
    let y = parity_labels(&rows);
    let x = layer(&rows, &y, 6, 0.3, 8);
    let labels = binary(y);
    let config = ProbeConfig {
        controls: Controls::none(),
        ..quick()
    };
    let r = fit(x.view(), &rows, &labels, Some(&[0]), &config).unwrap();
    assert!(!r.whole_layer);
    assert!(
        r.flags.contains(&ProbeFlag::NotAboveBaseline),
        "{:?} vs {:?}",
        r.probe,
        r.majority_baseline
    );
    assert!(r.control_task.is_none() && r.token_probe.is_none());
    let good = fit(x.view(), &rows, &labels, Some(&[2]), &config).unwrap();
    assert!(good.probe.accuracy.value > 0.95);
    let e = fit(x.view(), &rows, &labels, Some(&[9]), &config)
        .unwrap_err()
        .to_string();
    assert!(e.contains("unit 9 does not exist"), "{e}");
}

#[test]
fn kfold_scores_every_row_and_multiclass_works() {
    let rows = corpus(30, 10, 9);
    // Three classes: (number of token-0s so far) mod 3.
    let mut y = Vec::new();
    let mut c = 0;
    for i in 0..rows.len() {
        if rows.position[i] == 0 {
            c = 0;
        }
        if rows.token[i] == 0 {
            c = (c + 1) % 3;
        }
        y.push(c);
    }
    let mut rng = Rng::new(10);
    let x = Array2::from_shape_fn((rows.len(), 4), |(i, u)| {
        let e = rng.normal() as f32 * 0.2;
        if u < 3 {
            f32::from(u8::from(y[i] == u)) + e
        } else {
            e
        }
    });
    let labels = Labels::from_classes(y, vec!["a".into(), "b".into(), "c".into()]).unwrap();
    let config = ProbeConfig {
        evaluation: Evaluation::KFold { folds: 5 },
        ..quick()
    };
    let r = fit(x.view(), &rows, &labels, None, &config).unwrap();
    assert_eq!(r.evaluated_rows, rows.len());
    assert_eq!(r.classes.len(), 3);
    assert!(r.probe.macro_f1.value > 0.9, "{:?}", r.probe);
    assert!(r.probe.balanced_accuracy.value > 0.9);
}

#[test]
fn untrained_twin_attaches_and_mismatches_are_refused() {
    let rows = corpus(40, 15, 11);
    let y = parity_labels(&rows);
    let labels = binary(y.clone());
    let trained = layer(&rows, &y, 5, 0.3, 12);
    let mut rng = Rng::new(13);
    let untrained = Array2::from_shape_fn((rows.len(), 5), |_| rng.normal() as f32);
    let config = quick();
    let mut r = fit(trained.view(), &rows, &labels, None, &config).unwrap();
    let u = fit(untrained.view(), &rows, &labels, None, &config).unwrap();
    r.attach_untrained(&u).unwrap();
    let att = r.untrained.unwrap();
    assert!(att.gain > 0.2, "{att:?}");
    assert!(!r.flags.contains(&ProbeFlag::UntrainedMatches));
    let other = fit(
        trained.view(),
        &rows,
        &labels,
        None,
        &ProbeConfig { seed: 99, ..config },
    )
    .unwrap();
    assert!(r.attach_untrained(&other).is_err());
}

#[test]
fn bad_settings_name_the_key() {
    let rows = corpus(4, 3, 1);
    let x = Array2::<f32>::zeros((12, 2));
    let labels = binary(vec![0; 12]);
    let config = ProbeConfig {
        l2_penalty: 0.0,
        ..ProbeConfig::default()
    };
    let e = fit(x.view(), &rows, &labels, None, &config)
        .unwrap_err()
        .to_string();
    assert!(e.contains("l2_penalty"), "{e}");
    let config = UnitSetConfig {
        fraction: 1.5,
        ..UnitSetConfig::default()
    };
    let e = find_unit_set(x.view(), &rows, &labels, &config)
        .unwrap_err()
        .to_string();
    assert!(e.contains("fraction"), "{e}");
}

/// Label = sign(u2 + u5): each unit alone gives ~75%, both together ~100%.
fn two_unit_problem(seed: u64) -> (RowIndex, Array2<f32>, Labels) {
    let rows = corpus(40, 15, seed);
    let mut rng = Rng::new(seed + 100);
    let x = Array2::from_shape_fn((rows.len(), 8), |_| rng.normal() as f32);
    let y: Vec<usize> = (0..rows.len())
        .map(|i| usize::from(x[[i, 2]] + x[[i, 5]] > 0.0))
        .collect();
    (rows, x, binary(y))
}

fn unit_config(ordering: UnitOrdering) -> UnitSetConfig {
    UnitSetConfig {
        probe: ProbeConfig {
            bootstrap_resamples: 50,
            controls: Controls::none(),
            ..ProbeConfig::default()
        },
        ordering,
        stability_resamples: 6,
        ..UnitSetConfig::default()
    }
}

#[test]
fn smallest_sufficient_set_is_found_and_stable() {
    let (rows, x, labels) = two_unit_problem(21);
    for ordering in [UnitOrdering::SingleUnit, UnitOrdering::GreedyForward] {
        let r = find_unit_set(x.view(), &rows, &labels, &unit_config(ordering.clone())).unwrap();
        assert!(r.layer_accuracy.value > 0.95, "{:?}", r.layer_accuracy);
        assert!(r.reached_target, "{ordering:?}: {:?}", r.curve);
        let mut candidate = r.candidate.clone();
        candidate.sort_unstable();
        assert_eq!(candidate, vec![2, 5], "{ordering:?}: {:?}", r.curve);
        let mut chosen = r.chosen.clone();
        chosen.sort_unstable();
        assert_eq!(chosen, vec![2, 5], "{ordering:?}: {:?}", r.stability);
        assert_eq!(r.resample_sizes.len(), 6);
        assert!(r.stability.iter().take(2).all(|s| s.frequency >= 0.5));
        // The curve ends at the chosen size and climbs to the target.
        assert_eq!(r.curve.last().unwrap().size, r.size);
        assert!(r.curve.last().unwrap().accuracy.value >= r.target_accuracy);
    }
}

#[test]
fn a_given_ordering_is_followed_and_a_plateau_stops_the_sweep() {
    let (rows, x, labels) = two_unit_problem(22);
    let order = vec![0, 1, 3, 4, 6, 7, 2, 5];
    let mut config = unit_config(UnitOrdering::Given(order.clone()));
    config.stability_resamples = 0;
    let r = find_unit_set(x.view(), &rows, &labels, &config).unwrap();
    let swept: Vec<usize> = r.curve.iter().map(|p| p.unit).collect();
    assert_eq!(swept, order[..swept.len()].to_vec());
    // Six noise units in a row: the sweep gives up after `patience` of them.
    assert!(!r.reached_target);
    assert!(swept.len() <= 1 + config.patience, "{swept:?}");
    assert_eq!(r.chosen, r.candidate);
    let bad = unit_config(UnitOrdering::Given(vec![0, 0]));
    assert!(find_unit_set(x.view(), &rows, &labels, &bad).is_err());
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let (rows, x, labels) = two_unit_problem(23);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let probe = fit(x.view(), &rows, &labels, None, &quick()).unwrap();
            let units = find_unit_set(
                x.view(),
                &rows,
                &labels,
                &unit_config(UnitOrdering::GreedyForward),
            )
            .unwrap();
            (probe, units)
        })
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn rounded_report_snapshot() {
    let rows = corpus(30, 10, 31);
    let y = parity_labels(&rows);
    let x = layer(&rows, &y, 4, 0.5, 32);
    let r = fit(x.view(), &rows, &binary(y), None, &quick()).unwrap();
    let rounded = r.rounded(3);
    assert_eq!(rounded.rounded(3), rounded);
    insta::assert_yaml_snapshot!(rounded);
}
