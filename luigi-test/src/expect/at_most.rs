//! Judging `at_most(k)`: a least-squares read-out of a few units
//! ([`crate::probe::readout`]) scored on held-out rows.

use ndarray::Array2;

use super::Threshold;
use crate::activations::Activations;
use crate::error::{Error, Result};
use crate::hypothesis::HypothesisKind;
use crate::probe::readout;
use crate::score::{score_all, ScoreConfig};
use crate::subject::Subject;
use crate::text::fmt_q;

use super::units::{fmt_strength, metrics_for, raw, Found};

/// The read-out of at most `k` units, scored on the held-out rows.
pub(super) struct ReadoutScore {
    pub(super) units: Vec<String>,
    /// Per prefix: (strength, raw, q).
    pub(super) prefixes: Vec<(f64, Option<f64>, Option<f64>)>,
    pub(super) train_fit: Vec<f64>,
    pub(super) test_rows: usize,
    pub(super) train_rows: usize,
    pub(super) split: &'static str,
}

pub(super) fn readout_score(
    acts: &Activations,
    values: &[f32],
    kind: &HypothesisKind,
    name: &str,
    k: usize,
    t: &Threshold,
    seed: u64,
) -> Result<ReadoutScore> {
    let r = readout::fit(
        acts.values.view(),
        values,
        &acts.rows.sequence,
        &acts.rows.position,
        kind,
        k,
        seed,
    )?;
    let cols: Vec<String> = (1..=r.units.len()).map(|j| format!("first {j}")).collect();
    let h = Array2::from_shape_vec((r.test_h.len(), 1), r.test_h.clone())
        .map_err(|e| Error::invalid("read-out", e.to_string()))?;
    let metrics = metrics_for(t.metric);
    let cfg = ScoreConfig::default()
        .metrics(&metrics)
        .permutations(0)
        .bootstrap(0)
        .top_k_second_pass(0)
        .seed(seed)
        .rank_by(t.metric);
    let ranking = score_all(
        r.columns.view(),
        h.view(),
        &r.test_seq,
        &cols,
        &[(name.to_string(), kind.clone())],
        &cfg,
    )?;
    let prefixes = (0..r.units.len())
        .map(|j| {
            let p = ranking.pair(&cols[j], name);
            let rv = p.and_then(|p| raw(p, t.metric));
            let s = rv.map_or(f64::NEG_INFINITY, |x| t.strength(x));
            (s, rv, p.and_then(|p| p.q_value))
        })
        .collect();
    Ok(ReadoutScore {
        units: r.units.iter().map(|&u| acts.units[u].clone()).collect(),
        prefixes,
        train_fit: r.train_fit,
        test_rows: r.test_h.len(),
        train_rows: r.train_rows,
        split: r.split,
    })
}

pub(super) fn at_most(
    subject: &Subject,
    values: &[f32],
    kind: &HypothesisKind,
    name: &str,
    k: usize,
    t: &Threshold,
    seed: u64,
) -> Result<Found> {
    let layer = &subject.layer;
    let rs = readout_score(&subject.acts, values, kind, name, k, t, seed)?;
    let ok = |p: &(f64, Option<f64>, Option<f64>)| {
        p.1.is_some() && p.0 >= t.needed() && t.max_q.is_none_or(|m| p.2.is_some_and(|q| q <= m))
    };
    let first_pass = rs.prefixes.iter().position(ok);
    let best = rs
        .prefixes
        .iter()
        .enumerate()
        .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0).then(b.0.cmp(&a.0)))
        .map(|(j, _)| j)
        .unwrap_or(0);
    let shown = first_pass.unwrap_or(best);
    let set = |j: usize| rs.units[..=j].join(", ");
    let q = t.quantity();
    let mut lines = vec![format!(
        "read-out of units {{{}}} on held-out rows: {q} = {}, q = {}; needed {}",
        set(shown),
        fmt_strength(rs.prefixes[shown].0),
        fmt_q(rs.prefixes[shown].2),
        t.describe()
    )];
    let steps: Vec<String> = rs
        .prefixes
        .iter()
        .enumerate()
        .map(|(j, p)| {
            format!(
                "{} unit{} (+{}): {} (in-sample fit {:.3})",
                j + 1,
                if j == 0 { "" } else { "s" },
                rs.units[j],
                fmt_strength(p.0),
                rs.train_fit[j]
            )
        })
        .collect();
    lines.push(format!("greedy steps: {}", steps.join("; ")));
    lines.push(format!(
        "n = {} held-out timesteps ({} for training; {}), seed {seed}",
        rs.test_rows, rs.train_rows, rs.split
    ));
    let passed = first_pass.is_some();
    let headline = if passed {
        format!(
            "passed: units {{{}}} of layer `{layer}` read together have {q} = {} for `{name}` (needed {})",
            set(shown),
            fmt_strength(rs.prefixes[shown].0),
            t.describe()
        )
    } else {
        format!(
            "FAILED: no read-out of at most {k} units of layer `{layer}` has {} for `{name}` (best: units {{{}}}, {q} = {})",
            t.describe(),
            set(shown),
            fmt_strength(rs.prefixes[shown].0)
        )
    };
    Ok(Found {
        hint: None,
        passed,
        observed: Some(rs.prefixes[shown].0).filter(|s| s.is_finite()),
        units: rs.units[..=shown].to_vec(),
        headline,
        observed_text: lines.join("\n"),
    })
}
