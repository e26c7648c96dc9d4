//! Judging an expectation: score the hypothesis against the recorded layer,
//! decide, and write the report.

use std::sync::Arc;

use ndarray::{Array2, ArrayView2};

use super::{Expectation, Outcome, Threshold};
use crate::activations::Activations;
use crate::error::{Error, Result};
use crate::hypothesis::{Hypothesis, HypothesisKind};
use crate::probe::readout;
use crate::ranking::{Flag, Pairing, Ranking};
use crate::report::failure::{Origin, Report};
use crate::score::{score_all, score_all_with_tokens, Metric, ScoreConfig};
use crate::subject::{push_subject, resolve_unit, Subject};
use crate::text::{fmt_q, table};

/// Units listed as competitors in a report.
const COMPETING: usize = 5;
/// Draws of the shuffled-sequence null.
const NULL_DRAWS: u64 = 5;

/// One hypothesis' values on every row, with its name and kind.
struct Column<'a> {
    values: &'a [f32],
    name: &'a str,
    kind: &'a HypothesisKind,
}

/// Scores one hypothesis column against every unit of `acts`.
fn score_one(acts: &Activations, col: &Column<'_>, metric: Metric, seed: u64) -> Result<Ranking> {
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
fn score_column(
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
fn metrics_for(metric: Metric) -> Vec<Metric> {
    let mut m = vec![Metric::Pearson, Metric::Eta];
    if !m.contains(&metric) {
        m.push(metric);
    }
    m
}

/// The raw value of a metric in a pairing.
fn raw(p: &Pairing, metric: Metric) -> Option<f64> {
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
struct UnitScore {
    pairing: Pairing,
    raw: Option<f64>,
    strength: f64,
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
fn unit_scores(ranking: &Ranking, t: &Threshold) -> Vec<UnitScore> {
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

fn fmt_strength(s: f64) -> String {
    if s.is_finite() {
        format!("{s:.3}")
    } else {
        "n/a".to_string()
    }
}

/// `|r| = 0.713 (r = -0.713)` for a unit.
fn value_text(u: &UnitScore, t: &Threshold) -> String {
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

fn degenerate_reason(p: &Pairing) -> String {
    if p.flags.contains(&Flag::ConstantUnit) {
        "the unit is constant".to_string()
    } else {
        "not computed".to_string()
    }
}

/// What a judgement computes before the verdict, for the report.
struct Found {
    passed: bool,
    /// A suggestion for the accept section (e.g. a unit that meets it instead).
    hint: Option<String>,
    observed: Option<f64>,
    units: Vec<String>,
    headline: String,
    observed_text: String,
}

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

fn some_unit(scores: &[UnitScore], t: &Threshold, layer: &str, name: &str, n_line: &str) -> Found {
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

fn listed_units(
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

/// The read-out of at most `k` units, scored on the held-out rows.
struct ReadoutScore {
    units: Vec<String>,
    /// Per prefix: (strength, raw, q).
    prefixes: Vec<(f64, Option<f64>, Option<f64>)>,
    train_fit: Vec<f64>,
    test_rows: usize,
    train_rows: usize,
    split: &'static str,
}

fn readout_score(
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

fn at_most(
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

/// The best competing units, as a table.
fn competing(scores: &[UnitScore], t: &Threshold) -> String {
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
