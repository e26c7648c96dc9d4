//! Judging an expectation: score the hypothesis against the recorded layer,
//! decide, and write the report.

use std::sync::Arc;

use super::{Expectation, Outcome, Threshold};
use crate::activations::Activations;
use crate::error::{Error, Result};
use crate::hypothesis::{Hypothesis, HypothesisKind};
use crate::ranking::Flag;
use crate::report::failure::{Origin, Report};
use crate::score::Metric;
use crate::subject::{push_subject, resolve_unit, Subject};

use super::at_most::{at_most, readout_score};
use super::units::{
    competing, fmt_strength, listed_units, score_one, some_unit, unit_scores, Column,
};

/// Draws of the shuffled-sequence null.
const NULL_DRAWS: u64 = 5;

/// The threshold forms, as judged here (a probe goes to `probe.rs`).
enum Form<'a> {
    /// `some_unit`, and `at_most(1)`, which is the same.
    One,
    /// `units([...])`.
    Listed(&'a [String]),
    /// `at_most(k)` with k ≥ 2: a read-out of several units.
    AtMost(usize),
}

/// Judges `expectation` for hypothesis `h` on the subject.
pub(crate) fn judge(
    subject: &Subject,
    h: &dyn Hypothesis,
    expectation: &Expectation,
    seed: u64,
    origin: Origin,
) -> Result<Outcome> {
    expectation.validate()?;
    // The one place where a probe and a threshold part ways.
    let (form, t) = match expectation {
        Expectation::Probe { .. } => {
            return super::probe::judge_probe(subject, h, expectation, seed, origin)
        }
        Expectation::SomeUnit(t) | Expectation::AtMost { k: 1, threshold: t } => (Form::One, *t),
        Expectation::Units { units, threshold } => (Form::Listed(units), *threshold),
        Expectation::AtMost { k, threshold } => (Form::AtMost(*k), *threshold),
    };
    let kind = h.kind();
    let name = h.name().to_string();
    if !t.metric.applies_to(&kind) {
        let fits = match kind {
            HypothesisKind::Categorical { .. } => "eta or mi",
            HypothesisKind::Binary => "auc, pearson, spearman or mi",
            HypothesisKind::Numeric => "pearson, spearman or mi",
        };
        return Err(Error::Hypothesis {
            name,
            message: format!(
                "metric {} does not fit a {} hypothesis: use {fits}",
                t.metric.name(),
                kind_name(&kind)
            ),
        });
    }
    let acts = &subject.acts;
    let values = subject.values(h)?;
    let col = Column {
        values: &values,
        name: &name,
        kind: &kind,
    };
    let ranking = score_one(acts, &col, t.metric, seed)?;
    if let Some(info) = ranking.hypotheses.first() {
        if info
            .flags
            .iter()
            .any(|f| matches!(f, Flag::ConstantHypothesis | Flag::NearlyConstantHypothesis))
        {
            return Err(Error::Hypothesis {
                name,
                message: format!(
                    "is constant on corpus {} ({} timesteps): it cannot be paired with any unit; use a corpus where it varies",
                    subject.corpus.name(),
                    acts.n_rows()
                ),
            });
        }
    }
    let scores = unit_scores(&ranking, &t);
    let layer = &subject.layer;
    let n_line = format!(
        "n = {} timesteps in {} sequences, seed {seed}",
        ranking.n_rows, ranking.n_sequences
    );
    let found = match form {
        Form::One => some_unit(&scores, &t, layer, &name, &n_line),
        Form::Listed(units) => {
            let idx: Vec<usize> = units
                .iter()
                .map(|u| resolve_unit(acts, u))
                .collect::<Result<_>>()?;
            listed_units(&scores, &idx, &t, layer, &name, &n_line)
        }
        Form::AtMost(k) => at_most(subject, &values, &kind, &name, k, &t, seed)?,
    };
    let mut report = Report::new(found.headline.clone());
    report.push(
        "asserted",
        format!("`{name}` in layer `{layer}`: {}", expectation.describe()),
    );
    push_subject(&mut report, subject, &origin);
    report.push("observed", found.observed_text.clone());
    if !found.passed {
        report.push(
            "chance",
            baseline(subject, &values, &kind, &name, expectation, &t, seed),
        );
    }
    report.push("competing", competing(&scores, &t));
    let warnings: Vec<String> = ranking
        .warnings
        .iter()
        .map(|w| format!("{}: {}", w.subject, w.message))
        .collect();
    if !warnings.is_empty() {
        report.push("notes", warnings.join("\n"));
    }
    report.push("reproduce", origin.reproduce());
    report.push(
        "accept",
        accept_text(&origin, &t, found.observed, found.hint.as_deref()),
    );
    Ok(Outcome {
        passed: found.passed,
        observed: found.observed,
        units: found.units,
        report,
    })
}

fn kind_name(k: &HypothesisKind) -> &'static str {
    match k {
        HypothesisKind::Numeric => "numeric",
        HypothesisKind::Binary => "binary",
        HypothesisKind::Categorical { .. } => "categorical",
    }
}

/// The chance baseline: the untrained twin's best, or a shuffled null.
fn baseline(
    subject: &Subject,
    values: &[f32],
    kind: &HypothesisKind,
    name: &str,
    expectation: &Expectation,
    t: &Threshold,
    seed: u64,
) -> String {
    let best_of = |acts: &Activations, vals: &[f32]| -> Result<(f64, String)> {
        match expectation {
            Expectation::AtMost { k, .. } if *k > 1 => {
                let rs = readout_score(acts, vals, kind, name, *k, t, seed)?;
                let (j, s) = rs
                    .prefixes
                    .iter()
                    .enumerate()
                    .map(|(j, p)| (j, p.0))
                    .fold((0, f64::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
                Ok((s, format!("units {{{}}}", rs.units[..=j].join(", "))))
            }
            _ => {
                let col = Column {
                    values: vals,
                    name,
                    kind,
                };
                let r = score_one(acts, &col, t.metric, seed)?;
                let s = unit_scores(&r, t);
                Ok(s.first()
                    .map(|u| (u.strength, format!("unit {}", u.pairing.unit)))
                    .unwrap_or((f64::NEG_INFINITY, "no unit".to_string())))
            }
        }
    };
    let q = t.quantity();
    match subject.model.untrained() {
        Ok(Some(twin)) => {
            let path = twin.path().display().to_string();
            let r = Subject::record(Arc::new(twin), subject.corpus.clone(), &subject.layer)
                .and_then(|tw| best_of(&tw.acts, values));
            return match r {
                Ok((s, who)) => format!(
                    "untrained twin {path}: best {who}, {q} = {} (same corpus, layer and hypothesis)",
                    fmt_strength(s)
                ),
                Err(e) => format!("untrained twin {path} could not be scored: {e}"),
            };
        }
        Ok(None) => {}
        Err(e) => return format!("the card's untrained twin could not be loaded: {e}"),
    }
    // Shuffled-sequence null: rotate each sequence's hypothesis values.
    let seq = &subject.acts.rows.sequence;
    let mut draws = Vec::new();
    for d in 0..NULL_DRAWS {
        let mut shuffled = values.to_vec();
        let mut start = 0;
        while start < seq.len() {
            let mut end = start;
            while end < seq.len() && seq[end] == seq[start] {
                end += 1;
            }
            let len = end - start;
            let off = (crate::numeric::rng::hash64(
                seed ^ crate::numeric::rng::hash64(d * 1_000_003 + u64::from(seq[start])),
            ) % len as u64) as usize;
            shuffled[start..end].rotate_left(off);
            start = end;
        }
        match best_of(&subject.acts, &shuffled) {
            Ok((s, _)) => draws.push(s),
            Err(e) => return format!("shuffled null could not be scored: {e}"),
        }
    }
    let finite: Vec<f64> = draws.iter().copied().filter(|s| s.is_finite()).collect();
    if finite.is_empty() {
        return "shuffled null: no finite score".to_string();
    }
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = finite.iter().sum::<f64>() / finite.len() as f64;
    format!(
        "shuffled-sequence null (each sequence's hypothesis values rotated, {NULL_DRAWS} draws, seed {seed}): best {q} = {} (mean {}); the card names no untrained twin",
        fmt_strength(max),
        fmt_strength(mean)
    )
}

fn accept_text(
    origin: &Origin,
    t: &Threshold,
    observed: Option<f64>,
    hint: Option<&str>,
) -> String {
    let at = origin.edit_at();
    if let Some(h) = hint {
        let snap = match origin {
            Origin::Spec { .. } => {
                "ranking snapshots: `cargo insta review` or `luigi check --accept`"
            }
            _ => "ranking snapshots: `cargo insta review`",
        };
        return format!("{h}: edit the expectation at {at}\n{snap}");
    }
    let suggestion = observed
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(|s| {
            let floor = (s * 0.95 * 100.0).floor() / 100.0;
            let min = if matches!(t.metric, Metric::Pearson | Metric::Spearman) && t.min < 0.0 {
                -floor
            } else {
                floor
            };
            format!(
                " (observed {}; min = {min} keeps a 5% margin)",
                fmt_strength(s)
            )
        })
        .unwrap_or_default();
    let snap = match origin {
        Origin::Spec { .. } => "ranking snapshots: `cargo insta review` or `luigi check --accept`",
        _ => "ranking snapshots: `cargo insta review`",
    };
    format!("if the model changed on purpose, edit the expectation at {at}{suggestion}\n{snap}")
}
