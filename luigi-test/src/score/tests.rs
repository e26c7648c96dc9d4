//! Tests of the score engine against scipy/sklearn reference numbers, and
//! of its streaming, determinism, robustness and error behaviour.
#![allow(clippy::unwrap_used)]

use ndarray::{Array2, ArrayView2, Axis, Slice};

use super::ranking::{Flag, Pairing, WarningKind};
use super::stats::pearson_p;
use super::*;
use crate::numeric::rng::Rng;

struct Reference {
    seq: Vec<u32>,
    units: Vec<String>,
    hyps: Vec<(String, HypothesisKind)>,
    acts: Array2<f32>,
    values: Array2<f32>,
    json: serde_json::Value,
}

fn matrix(v: &serde_json::Value) -> Array2<f32> {
    let rows: Vec<Vec<f32>> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect();
    let (n, m) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, m), rows.into_iter().flatten().collect()).unwrap()
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/score/reference.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let seq = json["seq_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    let units = json["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let hyps = json["hypotheses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let kind: HypothesisKind = serde_json::from_value(h["kind"].clone()).unwrap();
            (h["name"].as_str().unwrap().to_string(), kind)
        })
        .collect();
    Reference {
        seq,
        units,
        hyps,
        acts: matrix(&json["acts"]),
        values: matrix(&json["hyps"]),
        json,
    }
}

fn expected(r: &Reference, metric: &str, u: usize, k: usize) -> Option<f64> {
    r.json["expected"][metric][u][k].as_f64()
}

/// Small second pass so debug-build tests stay fast.
fn test_config() -> ScoreConfig {
    ScoreConfig::default()
        .block_rows(16)
        .permutations(49)
        .bootstrap(60)
}

fn all_finite(p: &Pairing) -> bool {
    let opts = [
        p.pearson,
        p.spearman,
        p.mutual_info,
        p.nmi,
        p.auc,
        p.eta,
        p.p_value,
        p.q_value,
        p.n_eff,
        p.p_perm,
    ];
    p.score.is_finite()
        && opts.iter().flatten().all(|v| v.is_finite())
        && p.ci.is_none_or(|c| c.lo.is_finite() && c.hi.is_finite())
}

#[test]
fn every_metric_matches_scipy_and_sklearn() {
    let r = reference();
    let ranking = score_all(
        r.acts.view(),
        r.values.view(),
        &r.seq,
        &r.units,
        &r.hyps,
        &test_config(),
    )
    .unwrap();
    let close =
        |what: &str, got: Option<f64>, want: Option<f64>, u: usize, k: usize| match (got, want) {
            (Some(g), Some(w)) => assert!(
                (g - w).abs() <= 1e-4,
                "{what} of ({}, {}): engine {g}, reference {w}",
                r.units[u],
                r.hyps[k].0
            ),
            (None, None) => {}
            _ => panic!(
                "{what} of ({}, {}): engine {got:?}, reference {want:?}",
                r.units[u], r.hyps[k].0
            ),
        };
    let mut checked = 0;
    for u in 0..r.units.len() {
        for k in 0..r.hyps.len() {
            let p = ranking.pair(&r.units[u], &r.hyps[k].0).unwrap();
            close("pearson", p.pearson, expected(&r, "pearson", u, k), u, k);
            close("spearman", p.spearman, expected(&r, "spearman", u, k), u, k);
            close("auc", p.auc, expected(&r, "auc", u, k), u, k);
            close("eta", p.eta, expected(&r, "eta", u, k), u, k);
            close("mutual_info", p.mutual_info, expected(&r, "mi", u, k), u, k);
            close("nmi", p.nmi, expected(&r, "nmi", u, k), u, k);
            close("p_value", p.p_value, expected(&r, "p", u, k), u, k);
            close("q_value", p.q_value, expected(&r, "q", u, k), u, k);
            // Small p-values: agree in relative terms too.
            let (pg, pw) = (p.p_value.unwrap(), expected(&r, "p", u, k).unwrap());
            if pw > 1e-300 && pw < 1e-4 {
                assert!(
                    (pg.ln() - pw.ln()).abs() < 1e-3,
                    "p of ({u},{k}): {pg} vs {pw}"
                );
            }
            let ne = expected(&r, "n_eff", u, k).unwrap();
            assert!(
                (p.n_eff.unwrap() - ne).abs() <= 1e-6 * ne,
                "n_eff ({u},{k})"
            );
            assert!(all_finite(p), "{p:?}");
            checked += 1;
        }
    }
    assert_eq!(checked, 30);
    for (u, info) in ranking.units.iter().enumerate() {
        let want = r.json["lag1_units"][u].as_f64().unwrap();
        assert!(
            (info.lag1 - want).abs() < 1e-6,
            "lag1 of {}: {} vs {want}",
            info.name,
            info.lag1
        );
    }
    for (k, info) in ranking.hypotheses.iter().enumerate() {
        let want = r.json["lag1_hyps"][k].as_f64().unwrap();
        assert!(
            (info.lag1 - want).abs() < 1e-6,
            "lag1 of {}: {} vs {want}",
            info.name,
            info.lag1
        );
    }
}

#[test]
fn offset_unit_keeps_precision_where_raw_f32_moments_fail() {
    // Unit `offset` has mean 1e4 and spread ~1; scipy's r is the reference.
    let r = reference();
    let u = r.units.iter().position(|n| n == "offset").unwrap();
    let k = 1; // depth
    let want = expected(&r, "pearson", u, k).unwrap();
    let x = r.acts.column(u);
    let h = r.values.column(k);
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len() as f64;
    let sd = (x
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / x.len() as f64)
        .sqrt();
    assert!(
        mean / sd > 5e3,
        "the unit must be offset: mean {mean}, sd {sd}"
    );
    // The textbook raw-moment formula in f32 is far off on this unit…
    let n = x.len() as f32;
    let (mut sx, mut sy, mut sxx, mut syy, mut sxy) = (0f32, 0f32, 0f32, 0f32, 0f32);
    for (&a, &b) in x.iter().zip(h.iter()) {
        sx += a;
        sy += b;
        sxx += a * a;
        syy += b * b;
        sxy += a * b;
    }
    let naive = f64::from((n * sxy - sx * sy) / ((n * sxx - sx * sx) * (n * syy - sy * sy)).sqrt());
    assert!(
        naive.is_nan() || (naive - want).abs() > 1e-2,
        "naive f32 gave {naive}, want {want}"
    );
    // …while the engine, with tiny blocks and with one big block, is not.
    for block in [16, 4096] {
        let cfg = ScoreConfig::default()
            .metrics(&[Metric::Pearson])
            .block_rows(block);
        let mut e = Engine::new(r.units.clone(), r.hyps.clone(), cfg).unwrap();
        e.update(r.acts.view(), r.values.view(), &r.seq).unwrap();
        let s = e.finish().unwrap();
        let got = s.value(Metric::Pearson, u, k).unwrap();
        assert!((got - want).abs() < 1e-4, "block {block}: {got} vs {want}");
    }
}

fn stream(r: &Reference, cfg: &ScoreConfig, chunk: usize, second: bool) -> Scores {
    let mut e = Engine::new(r.units.clone(), r.hyps.clone(), cfg.clone()).unwrap();
    let n = r.seq.len();
    let mut start = 0;
    while start < n {
        let end = (start + chunk).min(n);
        let sl = Slice::from(start..end);
        e.update(
            r.acts.slice_axis(Axis(0), sl),
            r.values.slice_axis(Axis(0), sl),
            &r.seq[start..end],
        )
        .unwrap();
        start = end;
    }
    let scores = e.finish().unwrap();
    if !second {
        return scores;
    }
    let sel = scores.select_top(2);
    let mut pass = SecondPass::new(&scores, sel).unwrap();
    let mut start = 0;
    while start < n {
        let end = (start + chunk + 3).min(n);
        let sl = Slice::from(start..end);
        pass.update(
            r.acts.slice_axis(Axis(0), sl),
            r.values.slice_axis(Axis(0), sl),
            &r.seq[start..end],
        )
        .unwrap();
        start = end;
    }
    pass.finish(scores).unwrap()
}

fn all_values(s: &Scores) -> Vec<Option<u64>> {
    let mut out = Vec::new();
    for u in 0..s.units().len() {
        for k in 0..s.hypotheses().len() {
            let p = s.pair(u, k).unwrap();
            for v in [
                Some(p.score),
                p.pearson,
                p.spearman,
                p.mutual_info,
                p.nmi,
                p.auc,
                p.eta,
                p.p_value,
                p.q_value,
                p.p_perm,
                p.ci.map(|c| c.lo),
                p.ci.map(|c| c.hi),
            ] {
                out.push(v.map(f64::to_bits));
            }
        }
    }
    out
}

#[test]
fn chunk_size_does_not_change_a_single_bit() {
    let r = reference();
    let cfg = test_config();
    let base = all_values(&stream(&r, &cfg, r.seq.len(), true));
    for chunk in [1, 7, 100] {
        assert_eq!(
            all_values(&stream(&r, &cfg, chunk, true)),
            base,
            "chunk size {chunk}"
        );
    }
}

#[test]
fn block_size_changes_scores_by_less_than_1e6_and_not_the_order() {
    let r = reference();
    let small = score_all(
        r.acts.view(),
        r.values.view(),
        &r.seq,
        &r.units,
        &r.hyps,
        &test_config(),
    )
    .unwrap();
    let big_cfg = test_config().block_rows(4096);
    let big = score_all(
        r.acts.view(),
        r.values.view(),
        &r.seq,
        &r.units,
        &r.hyps,
        &big_cfg,
    )
    .unwrap();
    for (a, b) in small.by_hypothesis.iter().zip(&big.by_hypothesis) {
        let order_a: Vec<usize> = a.units.iter().map(|p| p.unit_index).collect();
        let order_b: Vec<usize> = b.units.iter().map(|p| p.unit_index).collect();
        assert_eq!(order_a, order_b, "order of {}", a.hypothesis);
        for (pa, pb) in a.units.iter().zip(&b.units) {
            assert!((pa.score - pb.score).abs() < 1e-6);
            for (x, y) in [
                (pa.pearson, pb.pearson),
                (pa.eta, pb.eta),
                (pa.spearman, pb.spearman),
                (pa.auc, pb.auc),
            ] {
                assert!((x.unwrap_or(0.0) - y.unwrap_or(0.0)).abs() < 1e-6);
            }
        }
    }
}

type Problem = (
    Array2<f32>,
    Array2<f32>,
    Vec<u32>,
    Vec<String>,
    Vec<(String, HypothesisKind)>,
);

/// A dataset big enough for matrixmultiply to use several threads.
fn threaded_problem() -> Problem {
    let (t, u, k) = (4096, 192, 160);
    let mut rng = Rng::from_state(99);
    let mut uni = move || (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
    let values = Array2::from_shape_fn((t, k), |(_, j)| match j % 3 {
        0 => f32::from(uni() > 0.2),
        1 => (uni() * 5.0).round(),
        _ => f32::from(uni() > 0.0) + f32::from(uni() > 0.3),
    });
    let acts = Array2::from_shape_fn((t, u), |(i, j)| values[[i, j % k]] * 0.3 + uni() + 100.0);
    let seq = (0..t).map(|i| (i / 100) as u32).collect();
    let units = (0..u).map(|j| j.to_string()).collect();
    let hyps = (0..k)
        .map(|j| {
            let kind = match j % 3 {
                0 => HypothesisKind::Binary,
                1 => HypothesisKind::Numeric,
                _ => HypothesisKind::Categorical {
                    states: vec!["a".into(), "b".into(), "c".into()],
                },
            };
            (format!("h{j}"), kind)
        })
        .collect();
    (acts, values, seq, units, hyps)
}

/// Run by `thread_count_does_not_change_a_single_bit` in a child process.
#[test]
#[ignore = "helper: run by thread_count_does_not_change_a_single_bit"]
fn thread_hash_helper() {
    let (acts, values, seq, units, hyps) = threaded_problem();
    let cfg = ScoreConfig::default().metrics(&[Metric::Pearson, Metric::Eta, Metric::MutualInfo]);
    let mut e = Engine::new(units, hyps, cfg).unwrap();
    e.update(acts.view(), values.view(), &seq).unwrap();
    let s = e.finish().unwrap();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in all_values(&s).into_iter().flatten() {
        h = (h ^ v).wrapping_mul(0x0100_0000_01b3);
    }
    println!("LUIGI_SCORE_HASH={h:016x}");
}

#[test]
fn thread_count_does_not_change_a_single_bit() {
    let exe = std::env::current_exe().unwrap();
    let run = |threads: &str| {
        let out = std::process::Command::new(&exe)
            .args([
                "--ignored",
                "--exact",
                "score::tests::thread_hash_helper",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("MATMUL_NUM_THREADS", threads)
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.lines()
            .find_map(|l| {
                l.split_once("LUIGI_SCORE_HASH=")
                    .map(|(_, h)| h.trim().to_string())
            })
            .unwrap_or_else(|| {
                panic!(
                    "helper printed no hash: {text}{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
    };
    let one = run("1");
    assert_eq!(run("2"), one, "2 threads");
    assert_eq!(run("4"), one, "4 threads");
}

#[test]
fn nan_activation_is_an_error_naming_unit_row_and_sequence() {
    let r = reference();
    let mut acts = r.acts.clone();
    acts[[57, 3]] = f32::NAN;
    let mut e = Engine::new(r.units.clone(), r.hyps.clone(), test_config()).unwrap();
    let err = e
        .update(acts.view(), r.values.view(), &r.seq)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`offset`") && err.contains("row 57") && err.contains("sequence 1"),
        "{err}"
    );
    // The chunk was rejected whole; clean data still works afterwards.
    assert_eq!(e.rows(), 0);
    e.update(r.acts.view(), r.values.view(), &r.seq).unwrap();
    acts[[57, 3]] = f32::INFINITY;
    let mut e = Engine::new(r.units.clone(), r.hyps.clone(), test_config()).unwrap();
    assert!(e.update(acts.view(), r.values.view(), &r.seq).is_err());
}

#[test]
fn a_rejected_small_chunk_leaves_no_trace() {
    // Small chunks are checked while they are copied; a bad one (here
    // straddling a block boundary) must be rolled back completely.
    let r = reference();
    let cfg = test_config().metrics(&[Metric::Pearson, Metric::Eta, Metric::MutualInfo]);
    let feed = |bad: bool| {
        let mut e = Engine::new(r.units.clone(), r.hyps.clone(), cfg.clone()).unwrap();
        for start in (0..r.seq.len()).step_by(10) {
            let end = (start + 10).min(r.seq.len());
            let sl = Slice::from(start..end);
            let (a, h) = (
                r.acts.slice_axis(Axis(0), sl),
                r.values.slice_axis(Axis(0), sl),
            );
            if bad && start == 10 {
                let mut broken = h.to_owned();
                broken[[8, 0]] = 0.5; // binary hypothesis, row 18
                let err = e.update(a, broken.view(), &r.seq[start..end]).unwrap_err();
                assert!(err.to_string().contains("row 18"), "{err}");
                assert_eq!(e.rows(), 10);
            }
            e.update(a, h, &r.seq[start..end]).unwrap();
        }
        all_values(&e.finish().unwrap())
    };
    assert_eq!(feed(true), feed(false));
}

#[test]
fn invalid_hypothesis_values_are_errors_naming_the_hypothesis() {
    let r = reference();
    for (k, bad) in [(0, 2.0), (2, 3.0), (2, 0.5), (1, f32::NAN)] {
        let mut values = r.values.clone();
        values[[10, k]] = bad;
        let mut e = Engine::new(r.units.clone(), r.hyps.clone(), test_config()).unwrap();
        let err = e.update(r.acts.view(), values.view(), &r.seq).unwrap_err();
        assert!(
            matches!(&err, crate::Error::Hypothesis { name, message } if *name == r.hyps[k].0 && message.contains("row 10")),
            "{err}"
        );
    }
}

#[test]
fn shape_and_sequence_errors_say_what_to_fix() {
    let r = reference();
    let mut e = Engine::new(r.units.clone(), r.hyps.clone(), test_config()).unwrap();
    let narrow = r.acts.slice_axis(Axis(1), Slice::from(0..2));
    assert!(e
        .update(narrow, r.values.view(), &r.seq)
        .unwrap_err()
        .to_string()
        .contains("2 columns"));
    let err = e
        .update(r.acts.view(), r.values.view(), &r.seq[1..])
        .unwrap_err();
    assert!(err.to_string().contains("row counts differ"), "{err}");
    // Sequence 0 comes back after sequence 1.
    let mut seq = r.seq.clone();
    seq[45] = 0;
    let err = e
        .update(r.acts.view(), r.values.view(), &seq)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sequence 0 reappears") && err.contains("row 45"),
        "{err}"
    );
    // Across chunks too.
    let mut e = Engine::new(r.units.clone(), r.hyps.clone(), test_config()).unwrap();
    let head = Slice::from(0..50);
    e.update(
        r.acts.slice_axis(Axis(0), head),
        r.values.slice_axis(Axis(0), head),
        &r.seq[..50],
    )
    .unwrap();
    let err = e
        .update(
            r.acts.slice_axis(Axis(0), Slice::from(0..5)),
            r.values.slice_axis(Axis(0), Slice::from(0..5)),
            &[0; 5],
        )
        .unwrap_err();
    assert!(err.to_string().contains("row 50"), "{err}");
    // Duplicate names and bad configs.
    assert!(Engine::new(vec!["a".into(), "a".into()], vec![], test_config()).is_err());
    let err = Engine::new(vec![], vec![], ScoreConfig::default().bins(1))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("ScoreConfig.bins"), "{err}");
    let err = Engine::new(
        vec![],
        vec![],
        ScoreConfig::default().metrics(&[Metric::Spearman]),
    )
    .err()
    .unwrap();
    assert!(
        err.to_string().contains("Pearson, Eta or MutualInfo"),
        "{err}"
    );
}

#[test]
fn empty_inputs_have_defined_results() {
    let r = reference();
    let mut e = Engine::new(r.units.clone(), r.hyps.clone(), test_config()).unwrap();
    let none = Array2::<f32>::zeros((0, r.units.len()));
    let none_h = Array2::<f32>::zeros((0, r.hyps.len()));
    e.update(none.view(), none_h.view(), &[]).unwrap();
    let err = e.finish().unwrap_err().to_string();
    assert!(err.contains("no timesteps"), "{err}");
    // No units or no hypotheses: an empty ranking, not an error.
    let acts = Array2::<f32>::zeros((3, 0));
    let ranking = score_all(
        acts.view(),
        r.values.slice_axis(Axis(0), Slice::from(0..3)),
        &[0, 0, 0],
        &[],
        &r.hyps,
        &test_config(),
    )
    .unwrap();
    assert!(ranking.by_hypothesis.iter().all(|h| h.units.is_empty()));
    let values = Array2::<f32>::zeros((3, 0));
    let ranking = score_all(
        r.acts.slice_axis(Axis(0), Slice::from(0..3)),
        values.view(),
        &[0, 0, 0],
        &r.units,
        &[],
        &test_config(),
    )
    .unwrap();
    assert!(
        ranking.by_hypothesis.is_empty() && ranking.by_unit.iter().all(|u| u.hypotheses.is_empty())
    );
    // A single row: every unit is constant, every score defined.
    let one = score_all(
        r.acts.slice_axis(Axis(0), Slice::from(0..1)),
        r.values.slice_axis(Axis(0), Slice::from(0..1)),
        &[0],
        &r.units,
        &r.hyps,
        &test_config(),
    )
    .unwrap();
    for h in &one.by_hypothesis {
        for p in &h.units {
            assert!(
                all_finite(p) && p.is_degenerate() && p.score == 0.0,
                "{p:?}"
            );
        }
    }
}

#[test]
fn degenerate_inputs_are_flagged_warned_and_ranked_last() {
    let r = reference();
    let ranking = score_all(
        r.acts.view(),
        r.values.view(),
        &r.seq,
        &r.units,
        &r.hyps,
        &test_config(),
    )
    .unwrap();
    let c = ranking.pair("const", "depth").unwrap();
    assert_eq!(
        (c.pearson, c.p_value, c.nmi),
        (Some(0.0), Some(1.0), Some(0.0))
    );
    assert!(c.flags.contains(&Flag::ConstantUnit));
    for h in ranking
        .by_hypothesis
        .iter()
        .filter(|h| h.hypothesis != "never")
    {
        assert_eq!(h.units.last().unwrap().unit, "const", "{}", h.hypothesis);
    }
    let kinds: Vec<(WarningKind, &str)> = ranking
        .warnings
        .iter()
        .map(|w| (w.kind, w.subject.as_str()))
        .collect();
    assert!(
        kinds.contains(&(WarningKind::NeverFires, "never")),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(WarningKind::PositionCollinear, "position")),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(WarningKind::ConstantUnits, "const")),
        "{kinds:?}"
    );
    assert!(
        !kinds.iter().any(|(_, s)| *s == "depth" || *s == "bracket"),
        "{kinds:?}"
    );
    let never = ranking.pair("detector", "never").unwrap();
    assert!(never.flags.contains(&Flag::ConstantHypothesis) && never.auc == Some(0.5));
    assert!(ranking
        .pair("counter", "position")
        .unwrap()
        .flags
        .contains(&Flag::PositionCollinear));
    // The best units are the planted ones.
    assert_eq!(ranking.best_unit("bracket").unwrap().unit, "detector");
    assert_eq!(ranking.best_unit("depth").unwrap().unit, "counter");
    assert_eq!(ranking.best_unit("state").unwrap().unit, "relu");
    assert_eq!(ranking.hypothesis("state").unwrap().metric, Metric::Eta);
    assert_eq!(
        ranking.unit("detector").unwrap().hypotheses[0].hypothesis,
        "bracket"
    );
}

#[test]
fn rare_and_nearly_constant_hypotheses_are_reported_not_silently_scored() {
    let r = reference();
    let mut values = r.values.clone();
    values[[100, 4]] = 1.0; // `never` now fires on 2 of 422 timesteps
    values[[300, 4]] = 1.0;
    // `position` becomes 1e6 plus f32-rounding-level wiggle
    for (i, v) in values.column_mut(3).iter_mut().enumerate() {
        *v = 1.0e6 + if i % 2 == 0 { 0.0625 } else { 0.0 };
    }
    let ranking = score_all(
        r.acts.view(),
        values.view(),
        &r.seq,
        &r.units,
        &r.hyps,
        &test_config(),
    )
    .unwrap();
    let kinds: Vec<(WarningKind, &str)> = ranking
        .warnings
        .iter()
        .map(|w| (w.kind, w.subject.as_str()))
        .collect();
    assert!(
        kinds.contains(&(WarningKind::RareHypothesis, "never")),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(WarningKind::NearlyConstantHypothesis, "position")),
        "{kinds:?}"
    );
    let rare = ranking.pair("detector", "never").unwrap();
    assert!(rare.flags.contains(&Flag::RareHypothesis) && !rare.is_degenerate());
    let flat = ranking.pair("counter", "position").unwrap();
    assert!(flat.is_degenerate() && flat.pearson == Some(0.0) && flat.p_value == Some(1.0));
}

#[test]
fn ties_are_broken_by_unit_index() {
    let r = reference();
    // Units 1 and 3 are the same column: identical scores, lower index first.
    let mut acts = r.acts.clone();
    let col = acts.column(1).to_owned();
    acts.column_mut(3).assign(&col);
    let ranking = score_all(
        acts.view(),
        r.values.view(),
        &r.seq,
        &r.units,
        &r.hyps,
        &test_config(),
    )
    .unwrap();
    let order: Vec<&str> = ranking
        .hypothesis("depth")
        .unwrap()
        .units
        .iter()
        .map(|p| p.unit.as_str())
        .collect();
    assert_eq!(&order[..2], &["counter", "offset"]);
}

#[test]
fn ar1_correction_keeps_false_positives_near_nominal() {
    // Independent AR(1) processes (ρ = 0.9) in 20 sequences: every pair is null.
    let (seqs, len, u_n, k_n) = (20, 100, 30, 10);
    let t = seqs * len;
    let mut rng = Rng::from_state(5);
    let mut gauss = move || {
        let u1 = ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    let mut ar1 = |cols: usize| {
        let mut m = Array2::<f32>::zeros((t, cols));
        for c in 0..cols {
            for s in 0..seqs {
                let mut v = gauss();
                for i in 0..len {
                    v = 0.9 * v + (1.0f64 - 0.81).sqrt() * gauss();
                    m[[s * len + i, c]] = v as f32;
                }
            }
        }
        m
    };
    let acts = ar1(u_n);
    let values = ar1(k_n);
    let seq: Vec<u32> = (0..t).map(|i| (i / len) as u32).collect();
    let units: Vec<String> = (0..u_n).map(|i| format!("u{i}")).collect();
    let hyps: Vec<(String, HypothesisKind)> = (0..k_n)
        .map(|i| (format!("h{i}"), HypothesisKind::Numeric))
        .collect();
    let cfg = ScoreConfig::default().metrics(&[Metric::Pearson]);
    let mut e = Engine::new(units, hyps, cfg).unwrap();
    e.update(acts.view(), values.view(), &seq).unwrap();
    let s = e.finish().unwrap();
    let (mut corrected, mut naive) = (0, 0);
    for u in 0..u_n {
        for k in 0..k_n {
            let p = s.pair(u, k).unwrap();
            corrected += usize::from(p.p_value.unwrap() < 0.05);
            naive += usize::from(pearson_p(p.pearson.unwrap(), t as f64 - 2.0) < 0.05);
        }
    }
    let pairs = (u_n * k_n) as f64;
    let (fc, fn_) = (corrected as f64 / pairs, naive as f64 / pairs);
    assert!(fn_ > 0.25, "the naive t-test should be fooled here: {fn_}");
    assert!(
        fc < 0.10,
        "AR(1)-corrected false-positive rate {fc} (naive {fn_})"
    );
}

#[test]
fn second_pass_streams_like_in_memory_and_is_seeded() {
    let r = reference();
    let cfg = test_config();
    let streamed = stream(&r, &cfg, 33, true);
    let sel = streamed.select_top(2);
    assert!(!sel.pairs.is_empty());
    // In memory, via the Selection that score_all uses, on the same pairs.
    let mut e = Engine::new(r.units.clone(), r.hyps.clone(), cfg.clone()).unwrap();
    e.update(r.acts.view(), r.values.view(), &r.seq).unwrap();
    let first = e.finish().unwrap();
    let mut pass = SecondPass::new(&first, sel.clone()).unwrap();
    pass.update(r.acts.view(), r.values.view(), &r.seq).unwrap();
    let mem = pass.finish(first).unwrap();
    assert_eq!(all_values(&streamed), all_values(&mem));
    for &(u, k) in &sel.pairs {
        let p = mem.pair(u, k).unwrap();
        let pp = p.p_perm.unwrap();
        assert!(pp > 0.0 && pp <= 1.0);
        let ci = p.ci.unwrap();
        let stat = p.pearson.or(p.eta).unwrap();
        assert!(ci.lo <= stat + 1e-9 && stat - 1e-9 <= ci.hi, "{p:?}");
    }
    // The planted detector is beyond every permutation; a null pair is not.
    let det = mem.pair(0, 0).unwrap();
    assert_eq!(det.p_perm, Some(1.0 / 50.0));
    assert!(det.ci.unwrap().lo > 0.7);
    // A second pass must see the same rows.
    let mut e = Engine::new(r.units.clone(), r.hyps.clone(), cfg.clone()).unwrap();
    e.update(r.acts.view(), r.values.view(), &r.seq).unwrap();
    let first = e.finish().unwrap();
    let mut pass = SecondPass::new(&first, sel.clone()).unwrap();
    let head = Slice::from(0..100);
    pass.update(
        r.acts.slice_axis(Axis(0), head),
        r.values.slice_axis(Axis(0), head),
        &r.seq[..100],
    )
    .unwrap();
    let err = pass.finish(first).err().unwrap().to_string();
    assert!(err.contains("same rows"), "{err}");
    // Another seed draws other permutations.
    let other = stream(&r, &cfg.clone().seed(7), 33, true);
    assert_ne!(all_values(&other), all_values(&streamed));
}

#[test]
fn permutation_null_follows_sequence_lengths() {
    let r = reference();
    let ranking = score_all(
        r.acts.view(),
        r.values.view(),
        &r.seq,
        &r.units,
        &r.hyps,
        &test_config(),
    )
    .unwrap();
    // 62 of 422 rows are in the one sequence of unique length.
    assert_eq!(ranking.null_model, Some(NullModel::SequencePermutation));
    assert!(ranking
        .warnings
        .iter()
        .any(|w| w.kind == WarningKind::PermutationNull && w.message.contains("15%")));
    let cfg = test_config().permutation_null(NullModel::CircularShift);
    let shifted = score_all(
        r.acts.view(),
        r.values.view(),
        &r.seq,
        &r.units,
        &r.hyps,
        &cfg,
    )
    .unwrap();
    assert_eq!(shifted.null_model, Some(NullModel::CircularShift));
    let p = shifted.pair("counter", "depth").unwrap().p_perm.unwrap();
    assert!(p <= 0.05, "{p}");
}

#[test]
fn ranking_serialises_to_json_and_yaml_with_rounding() {
    let r = reference();
    let ranking = score_all(
        r.acts.view(),
        r.values.view(),
        &r.seq,
        &r.units,
        &r.hyps,
        &test_config(),
    )
    .unwrap();
    let rounded = ranking.rounded(4);
    let json = serde_json::to_string_pretty(&rounded).unwrap();
    assert!(
        !json.contains("NaN") && !json.contains(": null"),
        "no NaN, no null in a ranking:\n{json}"
    );
    let back: super::ranking::Ranking = serde_json::from_str(&json).unwrap();
    assert_eq!(back, rounded);
    let yaml = crate::yaml::to_string(&rounded.truncated(2)).unwrap();
    let back: super::ranking::Ranking = crate::yaml::from_str(&yaml).unwrap();
    assert_eq!(back, rounded.truncated(2));
    assert!(back.by_hypothesis.iter().all(|h| h.units.len() == 2));
    let p = rounded.pair("detector", "bracket").unwrap();
    assert_eq!(p.pearson, Some(0.8527));
    // Categorical pairs have η and no Pearson.
    let s = rounded.pair("relu", "state").unwrap();
    assert!(s.pearson.is_none() && s.eta.is_some() && s.spearman.is_none());
}

#[test]
fn rank_by_picks_the_metric_and_falls_back_where_it_does_not_apply() {
    let r = reference();
    let cfg = test_config().rank_by(Metric::Auc);
    let ranking = score_all(
        r.acts.view(),
        r.values.view(),
        &r.seq,
        &r.units,
        &r.hyps,
        &cfg,
    )
    .unwrap();
    assert_eq!(ranking.hypothesis("bracket").unwrap().metric, Metric::Auc);
    assert_eq!(ranking.hypothesis("depth").unwrap().metric, Metric::Pearson);
    assert_eq!(ranking.hypothesis("state").unwrap().metric, Metric::Eta);
    let best = ranking.best_unit("bracket").unwrap();
    assert!((best.score - (2.0 * best.auc.unwrap() - 1.0).abs()).abs() < 1e-12);
    // Only MI: every hypothesis ranks by normalised MI, p-values are absent.
    let cfg = ScoreConfig::default().metrics(&[Metric::MutualInfo]);
    let ranking = score_all(
        r.acts.view(),
        r.values.view(),
        &r.seq,
        &r.units,
        &r.hyps,
        &cfg,
    )
    .unwrap();
    assert!(ranking
        .by_hypothesis
        .iter()
        .all(|h| h.metric == Metric::MutualInfo));
    assert_eq!(ranking.best_unit("state").unwrap().unit, "relu");
    assert!(ranking.pair("relu", "state").unwrap().p_value.is_none());
}

#[test]
fn mi_bins_use_the_calibration_rows_only() {
    // Edges come from the first block only; later rows beyond them land in
    // the end bins. Streaming and in-memory agree because the grid is fixed.
    let r = reference();
    let cfg = ScoreConfig::default()
        .metrics(&[Metric::MutualInfo])
        .block_rows(64)
        .calibration_rows(64);
    let a = stream(&r, &cfg, 5, false);
    let b = stream(&r, &cfg, 1000, false);
    assert_eq!(all_values(&a), all_values(&b));
    // With calibration on all rows the values are the reference ones.
    let full = stream(
        &r,
        &ScoreConfig::default().metrics(&[Metric::MutualInfo]),
        50,
        false,
    );
    let want = expected(&r, "mi", 0, 0).unwrap();
    assert!((full.value(Metric::MutualInfo, 0, 0).unwrap() - want).abs() < 1e-9);
    assert_ne!(
        a.value(Metric::MutualInfo, 0, 1),
        full.value(Metric::MutualInfo, 0, 1)
    );
}

#[test]
fn views_with_strides_are_accepted() {
    // A transposed (column-major) view is read correctly.
    let r = reference();
    let t_acts = r.acts.t().to_owned();
    let view: ArrayView2<'_, f32> = t_acts.t();
    let a = score_all(
        view,
        r.values.view(),
        &r.seq,
        &r.units,
        &r.hyps,
        &test_config(),
    )
    .unwrap();
    let b = score_all(
        r.acts.view(),
        r.values.view(),
        &r.seq,
        &r.units,
        &r.hyps,
        &test_config(),
    )
    .unwrap();
    assert_eq!(a, b);
}

/// A unit scaled by 1e38 (every value finite) scores what the unscaled unit
/// scores: its centred values are scaled by a power of two before the f32
/// products instead of overflowing them. A unit `1e6 + h` whose spread is
/// ten ulps is a signal, not a constant.
#[test]
fn huge_and_offset_units_score_like_the_plain_unit() {
    let r = reference();
    let n = r.acts.nrows();
    let mut acts = Array2::<f32>::zeros((n, 3));
    let max = r.acts.column(0).iter().fold(0.0_f32, |m, v| m.max(v.abs()));
    let big = 3.0e38 / max; // the largest value is 3e38, f32's is 3.4e38
    for i in 0..n {
        let x = r.acts[[i, 0]];
        acts[[i, 0]] = x;
        acts[[i, 1]] = x * big;
        acts[[i, 2]] = 1.0e6 + x;
    }
    let units = vec![
        "plain".to_string(),
        "huge".to_string(),
        "offset".to_string(),
    ];
    let cfg = ScoreConfig::default().block_rows(64);
    let ranking = score_all(acts.view(), r.values.view(), &r.seq, &units, &r.hyps, &cfg).unwrap();
    let sd = {
        let m = acts.column(0).mean().unwrap();
        (acts.column(0).iter().map(|v| (v - m).powi(2)).sum::<f32>() / n as f32).sqrt()
    };
    assert!(
        sd > 10.0 * 0.0625,
        "the offset unit's spread is ten ulps at 1e6: {sd}"
    );
    assert!(
        ranking.units.iter().all(|u| u.flags.is_empty()),
        "{:?}",
        ranking.units
    );
    for (name, _) in &r.hyps {
        let plain = ranking.pair("plain", name).unwrap();
        let huge = ranking.pair("huge", name).unwrap();
        let offset = ranking.pair("offset", name).unwrap();
        if plain.is_degenerate() {
            continue; // a constant hypothesis: nothing to compare
        }
        assert!(
            !huge.is_degenerate() && !offset.is_degenerate(),
            "{huge:?} {offset:?}"
        );
        let (p, h) = (plain.pearson.or(plain.eta), huge.pearson.or(huge.eta));
        assert!(
            (p.unwrap() - h.unwrap()).abs() < 1e-5,
            "{name}: {p:?} vs {h:?}"
        );
        let o = offset.pearson.or(offset.eta).unwrap();
        // 1e6 + x rounds x to 1/16: close to, not equal to, the plain score
        assert!((p.unwrap() - o).abs() < 0.05, "{name}: {p:?} vs {o}");
    }
}

#[test]
fn one_sequence_gets_block_intervals_and_a_rotation_null_and_says_so() {
    // One sequence of 3,000 steps: a slow square wave h and a unit that
    // follows it with noise (r about 0.7). Resampling the one sequence
    // whole would give the interval [r, r].
    let n = 3_000;
    let mut rng = Rng::from_state(11);
    let h: Vec<f32> = (0..n)
        .map(|t| f32::from(u8::from((t / 150) % 2 == 0)))
        .collect();
    let x: Vec<f32> = h
        .iter()
        .map(|&v| v + (rng.below_by_rejection(1000) as f32 / 1000.0 - 0.5) * 2.0)
        .collect();
    let acts = Array2::from_shape_vec((n, 1), x).unwrap();
    let values = Array2::from_shape_vec((n, 1), h).unwrap();
    let seq = vec![0u32; n];
    let units = vec!["u".to_string()];
    let hyps = vec![("wave".to_string(), HypothesisKind::Binary)];
    let cfg = ScoreConfig::default().permutations(99).bootstrap(200);
    let ranking = score_all(acts.view(), values.view(), &seq, &units, &hyps, &cfg).unwrap();
    let p = ranking.pair("u", "wave").unwrap();
    let r = p.pearson.unwrap();
    let ci = p.ci.unwrap();
    let (lo, hi) = (ci.lo, ci.hi);
    assert!(lo < r && r < hi && hi - lo > 0.01, "r {r} in [{lo}, {hi}]");
    assert!(hi - lo < 0.3, "[{lo}, {hi}]");
    let warned = |kind: WarningKind, text: &str| {
        ranking
            .warnings
            .iter()
            .any(|w| w.kind == kind && w.message.contains(text))
    };
    assert!(
        warned(WarningKind::BlockResampling, "only 1 sequence(s)"),
        "{:?}",
        ranking.warnings
    );
    assert!(warned(WarningKind::BlockResampling, "47 blocks of 64"));
    assert_eq!(ranking.null_model, Some(NullModel::CircularShift));
    assert!(p.p_perm.unwrap() <= 0.02);
    // Ten sequences of equal length: whole sequences, no block note.
    let seq10: Vec<u32> = (0..n).map(|t| (t / 300) as u32).collect();
    let ten = score_all(acts.view(), values.view(), &seq10, &units, &hyps, &cfg).unwrap();
    assert!(!ten
        .warnings
        .iter()
        .any(|w| w.kind == WarningKind::BlockResampling));
    assert_eq!(ten.null_model, Some(NullModel::SequencePermutation));
}

#[test]
fn a_second_pass_over_its_memory_cap_keeps_whole_blocks_and_says_so() {
    // 60,000 rows, 4 units, 2 hypotheses: the columns take about 1.7 MiB,
    // over a cap of 1 MiB.
    let n = 60_000;
    let mut rng = Rng::from_state(5);
    let mut noise = || rng.below_by_rejection(1000) as f32 / 1000.0 - 0.5;
    let h: Vec<[f32; 2]> = (0..n)
        .map(|t| {
            [
                f32::from(u8::from((t / 37) % 3 == 0)),
                ((t % 500) / 50) as f32,
            ]
        })
        .collect();
    let mut acts = Array2::<f32>::zeros((n, 4));
    for t in 0..n {
        acts[[t, 0]] = h[t][0] + noise();
        acts[[t, 1]] = h[t][1] * 0.1 + noise();
        acts[[t, 2]] = noise();
        acts[[t, 3]] = -h[t][0] + 2.0 * noise();
    }
    let values = Array2::from_shape_fn((n, 2), |(t, k)| h[t][k]);
    let seq: Vec<u32> = (0..n).map(|t| (t / 500) as u32).collect();
    let units: Vec<String> = (0..4).map(|u| u.to_string()).collect();
    let hyps = vec![
        ("fires".to_string(), HypothesisKind::Binary),
        ("ramp".to_string(), HypothesisKind::Numeric),
    ];
    let full_cfg = ScoreConfig::default().permutations(19).bootstrap(20);
    let capped_cfg = full_cfg.clone().second_pass_bytes(1 << 20);
    let full = score_all(acts.view(), values.view(), &seq, &units, &hyps, &full_cfg).unwrap();
    let capped = score_all(acts.view(), values.view(), &seq, &units, &hyps, &capped_cfg).unwrap();
    assert!(!full
        .warnings
        .iter()
        .any(|w| w.kind == WarningKind::SecondPassSampled));
    let note = capped
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::SecondPassSampled)
        .expect("a sampled second pass says so");
    // 1 MiB / (4 bytes x 7 columns x 4,096 rows) = 9 blocks of 15
    assert!(note.message.contains("9 of 15 blocks"), "{}", note.message);
    for (u, h) in [("0", "fires"), ("1", "ramp"), ("3", "fires")] {
        let (a, b) = (full.pair(u, h).unwrap(), capped.pair(u, h).unwrap());
        assert_eq!(a.pearson, b.pearson, "the first pass is not sampled");
        let (sa, sb) = (a.spearman.unwrap(), b.spearman.unwrap());
        assert!((sa - sb).abs() < 0.03, "{u} x {h}: spearman {sa} vs {sb}");
        if let (Some(x), Some(y)) = (a.auc, b.auc) {
            assert!((x - y).abs() < 0.02, "{u} x {h}: auc {x} vs {y}");
        }
    }
    // Streamed in other chunk sizes: the same sample, the same numbers.
    let r = Reference {
        acts,
        values,
        seq,
        units,
        hyps,
        json: serde_json::Value::Null,
    };
    let a = stream(&r, &capped_cfg, 1_000, true);
    let b = stream(&r, &capped_cfg, 4_999, true);
    assert_eq!(all_values(&a), all_values(&b));
}

/// Pearson r in f64, two passes, on the f32 values as given.
fn reference_r(x: &[f32], h: &[f32]) -> Option<f64> {
    let n = x.len() as f64;
    let mx = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let mh = h.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (mut sxx, mut shh, mut sxh) = (0.0, 0.0, 0.0);
    for (&a, &b) in x.iter().zip(h) {
        let (dx, dh) = (f64::from(a) - mx, f64::from(b) - mh);
        sxx += dx * dx;
        shh += dh * dh;
        sxh += dx * dh;
    }
    (sxx > 0.0 && shh > 0.0).then(|| sxh / (sxx * shh).sqrt())
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config {
        cases: 96,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    })]

    /// Units `offset + scale · (a·h + noise)` for scales 1e-30 … 1e38 and
    /// offsets up to ±1e7 score as an f64 two-pass Pearson on the same f32
    /// values does, and are called constant exactly when every value is
    /// the same.
    #[test]
    fn pearson_is_exact_at_any_scale_and_offset(
        scale_exp in -30.0f64..38.0,
        offset_exp in 0.0f64..7.0,
        offset_sign in proptest::prop_oneof![proptest::strategy::Just(0.0f64), proptest::strategy::Just(1.0), proptest::strategy::Just(-1.0)],
        a in 0.0f32..2.0,
        seed in 0u64..1_000_000,
        binary in proptest::bool::ANY,
    ) {
        let n = 600;
        let mut rng = Rng::from_state(seed);
        let h: Vec<f32> = (0..n)
            .map(|t| if binary { f32::from(u8::from((t / 7 + rng.below_by_rejection(3)).is_multiple_of(2))) } else { ((t % 50) as f32) / 10.0 + rng.below_by_rejection(10) as f32 / 10.0 })
            .collect();
        let scale = 10f64.powf(scale_exp);
        let offset = offset_sign * 10f64.powf(offset_exp);
        let unit = |h: &[f32], rng: &mut Rng, a: f32| -> Vec<f32> {
            h.iter()
                .map(|&v| {
                    let z = rng.below_by_rejection(2001) as f64 / 1000.0 - 1.0;
                    (offset + scale * (f64::from(a) * f64::from(v) / 5.0 + z)) as f32
                })
                .collect()
        };
        let cols = [unit(&h, &mut rng, a), unit(&h, &mut rng, 0.0), unit(&h, &mut rng, 2.0)];
        let acts = Array2::from_shape_fn((n, 3), |(t, j)| cols[j][t]);
        let values = Array2::from_shape_vec((n, 1), h.clone()).unwrap();
        let seq: Vec<u32> = (0..n).map(|t| (t / 150) as u32).collect();
        let units: Vec<String> = (0..3).map(|j| j.to_string()).collect();
        let kind = if binary { HypothesisKind::Binary } else { HypothesisKind::Numeric };
        let hyps = vec![("h".to_string(), kind)];
        let cfg = ScoreConfig::default().metrics(&[Metric::Pearson]).permutations(0).bootstrap(0);
        let ranking = score_all(acts.view(), values.view(), &seq, &units, &hyps, &cfg).unwrap();
        for (j, col) in cols.iter().enumerate() {
            let p = ranking.pair(&j.to_string(), "h").unwrap();
            let constant = col.iter().all(|&v| v == col[0]);
            proptest::prop_assert_eq!(
                p.flags.contains(&Flag::ConstantUnit),
                constant,
                "unit {} (scale {:e}, offset {:e}) constant: {}", j, scale, offset, constant
            );
            if let Some(want) = reference_r(col, &h) {
                let got = p.pearson.unwrap();
                proptest::prop_assert!(
                    (got - want).abs() <= 1e-4,
                    "unit {} scale {:e} offset {:e}: luigi {} reference {}", j, scale, offset, got, want
                );
            }
        }
    }
}
