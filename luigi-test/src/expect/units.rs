//! Judging single units: each unit's score against a threshold, for
//! `some_unit` and `units([...])`, and the table of competing units.

use ndarray::{Array2, ArrayView2};

use super::Threshold;
use crate::activations::Activations;
use crate::error::{Error, Result};
use crate::hypothesis::HypothesisKind;
use crate::ranking::{Flag, Pairing, Ranking};
use crate::score::{score_all, score_all_with_tokens, Metric, ScoreConfig};
use crate::text::{fmt_q, table};

/// Units listed as competitors in a report.
pub(super) const COMPETING: usize = 5;

/// One hypothesis' values on every row, with its name and kind.
pub(super) struct Column<'a> {
    pub(super) values: &'a [f32],
    pub(super) name: &'a str,
    pub(super) kind: &'a HypothesisKind,
}

/// Scores one hypothesis column against every unit of `acts`.
pub(super) fn score_one(
    acts: &Activations,
    col: &Column<'_>,
    metric: Metric,
    seed: u64,
) -> Result<Ranking> {
    score_column(
        acts.values.view(),
        &acts.rows.sequence,
        Some(&acts.rows.token),
        &acts.units,
        col,
        metric,
        seed,
    )
}

/// Scores `values` (for the hypothesis `col`) against every column of `acts`.
pub(super) fn score_column(
    acts: ArrayView2<'_, f32>,
    seq: &[u32],
    tokens: Option<&[i64]>,
    units: &[String],
    col: &Column<'_>,
    metric: Metric,
    seed: u64,
) -> Result<Ranking> {
    let (values, name, kind) = (col.values, col.name, col.kind);
    let metrics = metrics_for(metric);
    let cfg = ScoreConfig::default()
        .metrics(&metrics)
        .permutations(0)
        .bootstrap(0)
        .top_k_second_pass(0)
        .seed(seed)
        .rank_by(metric);
    let h = Array2::from_shape_vec((values.len(), 1), values.to_vec())
        .map_err(|e| Error::invalid("score", e.to_string()))?;
    let hyps = [(name.to_string(), kind.clone())];
    match tokens.filter(|t| t.len() == seq.len()) {
        Some(t) => score_all_with_tokens(acts, h.view(), seq, t, units, &hyps, &cfg),
        None => score_all(acts, h.view(), seq, units, &hyps, &cfg),
    }
}

/// What to compute for an assertion on `metric`: Pearson r and η (one
/// GEMM; their p-values give the q-values) and the asserted metric. Mutual
/// information and the rank statistics cost more and are left out unless asserted.
pub(super) fn metrics_for(metric: Metric) -> Vec<Metric> {
    let mut m = vec![Metric::Pearson, Metric::Eta];
    if !m.contains(&metric) {
        m.push(metric);
    }
    m
}

/// The raw value of a metric in a pairing.
pub(super) fn raw(p: &Pairing, metric: Metric) -> Option<f64> {
    match metric {
        Metric::Pearson => p.pearson,
        Metric::Spearman => p.spearman,
        Metric::MutualInfo => p.nmi,
        Metric::Auc => p.auc,
        Metric::Eta => p.eta,
    }
}

/// One unit judged against a threshold.
#[derive(Debug, Clone)]
pub(super) struct UnitScore {
    pub(super) pairing: Pairing,
    pub(super) raw: Option<f64>,
    pub(super) strength: f64,
}

impl UnitScore {
    fn passes(&self, t: &Threshold) -> bool {
        self.raw.is_some()
            && !self.pairing.is_degenerate()
            && self.strength >= t.needed()
            && t.max_q
                .is_none_or(|m| self.pairing.q_value.is_some_and(|q| q <= m))
            && self.within_ok(t)
    }

    /// The within-token condition (true when the threshold sets none).
    fn within_ok(&self, t: &Threshold) -> bool {
        t.min_within_token
            .is_none_or(|m| self.pairing.within_token.is_some_and(|w| w.abs() >= m))
    }
}

/// Every unit, strongest first (degenerate last, then by index).
pub(super) fn unit_scores(ranking: &Ranking, t: &Threshold) -> Vec<UnitScore> {
    let mut v: Vec<UnitScore> = ranking
        .by_hypothesis
        .first()
        .map(|h| h.units.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            let r = raw(&p, t.metric);
            let strength = match r {
                Some(x) if !p.is_degenerate() => t.strength(x),
                _ => f64::NEG_INFINITY,
            };
            UnitScore {
                pairing: p,
                raw: r,
                strength,
            }
        })
        .collect();
    v.sort_by(|a, b| {
        b.strength
            .total_cmp(&a.strength)
            .then(a.pairing.unit_index.cmp(&b.pairing.unit_index))
    });
    v
}

pub(super) fn fmt_strength(s: f64) -> String {
    if s.is_finite() {
        format!("{s:.3}")
    } else {
        "n/a".to_string()
    }
}

/// `|r| = 0.713 (r = -0.713)` for a unit.
pub(super) fn value_text(u: &UnitScore, t: &Threshold) -> String {
    let q = t.quantity();
    match u.raw {
        None => format!("{q} n/a ({})", degenerate_reason(&u.pairing)),
        Some(r) => {
            let s = fmt_strength(u.strength);
            let show = if matches!(t.metric, Metric::Pearson | Metric::Spearman) && t.min < 0.0 {
                format!("{q} = {r:.3}")
            } else {
                format!("{q} = {s}")
            };
            let signed = match t.metric {
                Metric::Pearson if t.min >= 0.0 => format!(" (r = {r:.3})"),
                Metric::Spearman if t.min >= 0.0 => format!(" (ρ = {r:.3})"),
                Metric::Auc => format!(" (AUC = {r:.3})"),
                _ => String::new(),
            };
            let within = u
                .pairing
                .within_token
                .map(|w| format!(", within-token {w:.3}"))
                .unwrap_or_default();
            format!("{show}{signed}{within}")
        }
    }
}

pub(super) fn degenerate_reason(p: &Pairing) -> String {
    if p.flags.contains(&Flag::ConstantUnit) {
        "the unit is constant".to_string()
    } else {
        "not computed".to_string()
    }
}

/// What a judgement computes before the verdict, for the report.
pub(super) struct Found {
    pub(super) passed: bool,
    /// A suggestion for the accept section (e.g. a unit that meets it instead).
    pub(super) hint: Option<String>,
    pub(super) observed: Option<f64>,
    pub(super) units: Vec<String>,
    pub(super) headline: String,
    pub(super) observed_text: String,
}

pub(super) fn some_unit(
    scores: &[UnitScore],
    t: &Threshold,
    layer: &str,
    name: &str,
    n_line: &str,
) -> Found {
    let passing: Vec<&UnitScore> = scores.iter().filter(|u| u.passes(t)).collect();
    let best = scores.first();
    let q_text = |u: &UnitScore| {
        format!(
            "q = {}{}",
            fmt_q(u.pairing.q_value),
            u.pairing
                .n_eff
                .map(|n| format!(", n_eff = {n:.0}"))
                .unwrap_or_default()
        )
    };
    if let Some(u) = passing.first() {
        let others: Vec<&str> = passing[1..]
            .iter()
            .map(|u| u.pairing.unit.as_str())
            .collect();
        return Found {
            hint: None,
            passed: true,
            observed: Some(u.strength),
            units: passing.iter().map(|u| u.pairing.unit.clone()).collect(),
            headline: format!(
                "passed: unit {} of layer `{layer}` has {} for `{name}` (needed {})",
                u.pairing.unit,
                value_text(u, t),
                t.describe()
            ),
            observed_text: format!(
                "unit {}: {}, {}; needed {}{}\n{n_line}",
                u.pairing.unit,
                value_text(u, t),
                q_text(u),
                t.describe(),
                if others.is_empty() {
                    String::new()
                } else {
                    format!("; also passing: {}", others.join(", "))
                }
            ),
        };
    }
    let (headline, text, observed) = match best {
        Some(b) => {
            let q_ok = t
                .max_q
                .is_none_or(|m| b.pairing.q_value.is_some_and(|q| q <= m));
            let why = if b.strength >= t.needed() && !q_ok {
                format!(
                    "its q = {} is above max_q = {}",
                    fmt_q(b.pairing.q_value),
                    t.max_q.unwrap_or(1.0)
                )
            } else if b.strength >= t.needed() && !b.within_ok(t) {
                format!(
                    "its within-token score {} is below min_within_token = {}: the current input token explains the pairing",
                    b.pairing
                        .within_token
                        .map_or("n/a".to_string(), |w| format!("{:.3}", w.abs())),
                    t.min_within_token.unwrap_or(0.0)
                )
            } else {
                format!("{} < {}", fmt_strength(b.strength), t.needed())
            };
            (
                format!(
                    "FAILED: no unit of layer `{layer}` has {} for `{name}` (best: unit {}, {})",
                    t.describe(),
                    b.pairing.unit,
                    value_text(b, t)
                ),
                format!(
                    "best unit {}: {}, {}; needed {}: {why}\n{n_line}",
                    b.pairing.unit,
                    value_text(b, t),
                    q_text(b),
                    t.describe()
                ),
                b.strength.is_finite().then_some(b.strength),
            )
        }
        None => (
            format!("FAILED: layer `{layer}` has no unit to pair with `{name}`"),
            format!("no units\n{n_line}"),
            None,
        ),
    };
    Found {
        hint: None,
        passed: false,
        observed,
        units: best
            .map(|b| vec![b.pairing.unit.clone()])
            .unwrap_or_default(),
        headline,
        observed_text: text,
    }
}

pub(super) fn listed_units(
    scores: &[UnitScore],
    idx: &[usize],
    t: &Threshold,
    layer: &str,
    name: &str,
    n_line: &str,
) -> Found {
    let mut lines = Vec::new();
    let mut failing = Vec::new();
    let mut weakest: Option<f64> = None;
    for &i in idx {
        let Some(u) = scores.iter().find(|u| u.pairing.unit_index == i) else {
            continue;
        };
        let ok = u.passes(t);
        if !ok {
            failing.push(u);
        }
        weakest = Some(weakest.map_or(u.strength, |w: f64| w.min(u.strength)));
        lines.push(format!(
            "unit {}: {}, q = {} {}",
            u.pairing.unit,
            value_text(u, t),
            fmt_q(u.pairing.q_value),
            if ok { "ok" } else { "MISSES" }
        ));
    }
    lines.push(format!("each needs {}", t.describe()));
    lines.push(n_line.to_string());
    let units: Vec<String> = idx
        .iter()
        .filter_map(|&i| scores.iter().find(|u| u.pairing.unit_index == i))
        .map(|u| u.pairing.unit.clone())
        .collect();
    let headline = if failing.is_empty() {
        format!(
            "passed: units {} of layer `{layer}` each have {} for `{name}`",
            units.join(", "),
            t.describe()
        )
    } else {
        let f: Vec<String> = failing
            .iter()
            .map(|u| format!("unit {}: {}", u.pairing.unit, value_text(u, t)))
            .collect();
        format!(
            "FAILED: {} of layer `{layer}` {} {} for `{name}` ({})",
            if failing.len() == 1 {
                "a listed unit"
            } else {
                "listed units"
            },
            if failing.len() == 1 { "misses" } else { "miss" },
            t.describe(),
            f.join("; ")
        )
    };
    let hint = if failing.is_empty() {
        None
    } else {
        scores
            .iter()
            .find(|u| u.passes(t) && !idx.contains(&u.pairing.unit_index))
            .map(|u| {
                format!(
                    "unit {} meets it ({}): if the units moved (a retrained model), list it or use some_unit",
                    u.pairing.unit,
                    value_text(u, t)
                )
            })
    };
    Found {
        hint,
        passed: failing.is_empty(),
        observed: weakest.filter(|w| w.is_finite()),
        units,
        headline,
        observed_text: lines.join("\n"),
    }
}

/// The best competing units, as a table.
pub(super) fn competing(scores: &[UnitScore], t: &Threshold) -> String {
    // Beside the asserted metric, r (or η) when that is not the metric.
    let extra = match t.metric {
        Metric::Pearson | Metric::Eta => None,
        _ if scores.iter().any(|u| u.pairing.eta.is_some()) => Some(("eta", Metric::Eta)),
        _ => Some(("pearson", Metric::Pearson)),
    };
    let rows: Vec<Vec<String>> = scores
        .iter()
        .take(COMPETING)
        .map(|u| {
            let mut row = vec![
                u.pairing.unit.clone(),
                fmt_strength(u.strength),
                u.raw.map_or("-".to_string(), |r| format!("{r:.3}")),
                fmt_q(u.pairing.q_value),
            ];
            if let Some((_, m)) = extra {
                row.push(raw(&u.pairing, m).map_or("-".to_string(), |v| format!("{v:.3}")));
            }
            row
        })
        .collect();
    let mut header = vec!["unit", t.quantity(), t.metric.name(), "q"];
    if let Some((name, _)) = extra {
        header.push(name);
    }
    let mut out = format!(
        "best {} of {} units for this hypothesis:\n",
        rows.len(),
        scores.len()
    );
    out.push_str(&table(&header, &rows));
    out
}
