//! First-pass results: every score of every pair, and the ranking built from them.

use ndarray::Array2;
use rayon::prelude::*;

use super::ranking::{
    Flag, HypothesisInfo, HypothesisRanking, Interval, Pairing, Ranking, UnitInfo, UnitRanking,
    Warning,
};
use super::stats::{anova_p, ar1_n_eff, bh_qvalues, pearson_p};
use super::{Metric, NullModel, ScoreConfig};
use crate::hypothesis::HypothesisKind;

/// Every score of every (unit, hypothesis) pair, from the first pass and,
/// after [`SecondPass::finish`](super::SecondPass::finish), the second.
///
/// Values are read through [`Scores::pair`] / [`Scores::value`] (a metric
/// that does not apply or was not computed is `None`, never NaN) or turned
/// into a [`Ranking`] with [`Scores::ranking`].
#[derive(Debug, Clone)]
pub struct Scores {
    pub(crate) cfg: ScoreConfig,
    pub(crate) units: Vec<UnitInfo>,
    pub(crate) hyps: Vec<HypothesisInfo>,
    pub(crate) n: f64,
    pub(crate) seq_lengths: Vec<u32>,
    pub(crate) unit_degenerate: Vec<bool>,
    pub(crate) hyp_degenerate: Vec<bool>,
    /// Non-empty states per categorical hypothesis (1 otherwise).
    pub(crate) hyp_groups: Vec<usize>,
    // U × K matrices; NaN = not applicable / not computed.
    pub(crate) pearson: Option<Array2<f64>>,
    pub(crate) eta: Option<Array2<f64>>,
    pub(crate) p: Option<Array2<f64>>,
    pub(crate) q: Option<Array2<f64>>,
    pub(crate) mi: Option<Array2<f64>>,
    pub(crate) nmi: Option<Array2<f64>>,
    pub(crate) spearman: Option<Array2<f64>>,
    pub(crate) auc: Option<Array2<f64>>,
    pub(crate) p_perm: Option<Array2<f64>>,
    /// Within-token r (numeric, binary) or η (categorical); `None` when the
    /// rows came without tokens.
    pub(crate) within_token: Option<Array2<f64>>,
    /// Within-position r or η.
    pub(crate) within_position: Option<Array2<f64>>,
    pub(crate) ci: Option<(Array2<f64>, Array2<f64>)>,
    pub(crate) null_model: Option<NullModel>,
    pub(crate) warnings: Vec<Warning>,
}

/// Fewer effective samples than this get [`Flag::FewEffectiveSamples`].
pub(super) const FEW_EFFECTIVE: f64 = 10.0;

pub(super) fn is_categorical(kind: &HypothesisKind) -> bool {
    matches!(kind, HypothesisKind::Categorical { .. })
}

/// A within-group score below this share of the plain one means the
/// token (or position) explains the pairing: flag it.
pub const EXPLAINS_BELOW: f64 = 0.5;

fn get(m: &Option<Array2<f64>>, u: usize, k: usize) -> Option<f64> {
    m.as_ref().map(|a| a[[u, k]]).filter(|v| v.is_finite())
}

impl Scores {
    /// Timesteps scored.
    pub fn n_rows(&self) -> u64 {
        self.n as u64
    }

    /// Sequences scored.
    pub fn n_sequences(&self) -> usize {
        self.seq_lengths.len()
    }

    /// Per-unit summaries.
    pub fn units(&self) -> &[UnitInfo] {
        &self.units
    }

    /// Per-hypothesis summaries.
    pub fn hypotheses(&self) -> &[HypothesisInfo] {
        &self.hyps
    }

    /// Findings about the inputs.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The settings used.
    pub fn config(&self) -> &ScoreConfig {
        &self.cfg
    }

    /// One statistic of one pair, `None` when it does not apply to the
    /// hypothesis kind, is disabled, or was not computed (second-pass
    /// statistics outside the selection).
    pub fn value(&self, metric: Metric, unit: usize, hypothesis: usize) -> Option<f64> {
        if unit >= self.units.len() || hypothesis >= self.hyps.len() {
            return None;
        }
        let m = match metric {
            Metric::Pearson => &self.pearson,
            Metric::Spearman => &self.spearman,
            Metric::MutualInfo => &self.mi,
            Metric::Auc => &self.auc,
            Metric::Eta => &self.eta,
        };
        get(m, unit, hypothesis)
    }

    /// The metric hypothesis `k` is ranked by: `rank_by` when it applies and
    /// was computed for every unit, else Pearson (numeric, binary) or η
    /// (categorical), else normalised MI.
    /// `None` when the index is out of range.
    pub fn metric_for(&self, hypothesis: usize) -> Option<Metric> {
        (hypothesis < self.hyps.len()).then(|| self.metric_of(hypothesis))
    }

    fn metric_of(&self, hypothesis: usize) -> Metric {
        let kind = &self.hyps[hypothesis].kind;
        let available = |m: Metric| {
            let mat = match m {
                Metric::Pearson => &self.pearson,
                Metric::Spearman => &self.spearman,
                Metric::MutualInfo => &self.nmi,
                Metric::Auc => &self.auc,
                Metric::Eta => &self.eta,
            };
            m.applies_to(kind)
                && mat
                    .as_ref()
                    .is_some_and(|a| a.column(hypothesis).iter().all(|v| v.is_finite()))
        };
        if let Some(m) = self.cfg.rank_by {
            if available(m) {
                return m;
            }
        }
        [
            Metric::Pearson,
            Metric::Eta,
            Metric::MutualInfo,
            Metric::Spearman,
            Metric::Auc,
        ]
        .into_iter()
        .find(|&m| available(m))
        .unwrap_or(Metric::MutualInfo)
    }

    /// The ranking score of a pair under `metric`, in [0, 1].
    fn score_of(&self, metric: Metric, u: usize, k: usize) -> f64 {
        let v = match metric {
            Metric::Pearson => get(&self.pearson, u, k).map(f64::abs),
            Metric::Spearman => get(&self.spearman, u, k).map(f64::abs),
            Metric::MutualInfo => get(&self.nmi, u, k),
            Metric::Auc => get(&self.auc, u, k).map(|a| (2.0 * a - 1.0).abs()),
            Metric::Eta => get(&self.eta, u, k),
        };
        v.unwrap_or(0.0)
    }

    /// The ranking score of a pair (see [`Scores::metric_for`]).
    /// `None` when an index is out of range.
    pub fn score(&self, unit: usize, hypothesis: usize) -> Option<f64> {
        (unit < self.units.len() && hypothesis < self.hyps.len())
            .then(|| self.score_of(self.metric_of(hypothesis), unit, hypothesis))
    }

    fn degenerate(&self, u: usize, k: usize) -> bool {
        self.unit_degenerate[u] || self.hyp_degenerate[k]
    }

    /// Computes p-values (AR(1) effective-sample-size t-test on r, F-test
    /// on η) and Benjamini–Hochberg q-values for every pair, unless already
    /// there. [`Engine::finish`](super::Engine::finish) calls it when
    /// [`ScoreConfig::significance`] is on (the default).
    pub fn add_significance(&mut self) {
        if self.p.is_some() || (self.pearson.is_none() && self.eta.is_none()) {
            return;
        }
        let (u_n, k_n) = (self.units.len(), self.hyps.len());
        let this = &*self;
        let rows: Vec<Vec<f64>> = (0..u_n)
            .into_par_iter()
            .map(|u| {
                (0..k_n)
                    .map(|k| {
                        let n_eff = this.n_eff_of(u, k);
                        let degenerate = this.degenerate(u, k);
                        if is_categorical(&this.hyps[k].kind) {
                            match get(&this.eta, u, k) {
                                Some(_) if degenerate => 1.0,
                                Some(e) => {
                                    let g = this.hyp_groups[k] as f64;
                                    anova_p(e * e, g - 1.0, n_eff - g)
                                }
                                None => f64::NAN,
                            }
                        } else {
                            match get(&this.pearson, u, k) {
                                Some(_) if degenerate => 1.0,
                                Some(r) => pearson_p(r, n_eff - 2.0),
                                None => f64::NAN,
                            }
                        }
                    })
                    .collect()
            })
            .collect();
        let mut p_m = Array2::from_elem((u_n, k_n), f64::NAN);
        for (u, row) in rows.into_iter().enumerate() {
            for (k, v) in row.into_iter().enumerate() {
                p_m[[u, k]] = v;
            }
        }
        let finite: Vec<f64> = p_m.iter().copied().filter(|v| v.is_finite()).collect();
        let mut qs = bh_qvalues(&finite).into_iter();
        let mut q_m = Array2::from_elem((u_n, k_n), f64::NAN);
        for (qv, pv) in q_m.iter_mut().zip(p_m.iter()) {
            if pv.is_finite() {
                *qv = qs.next().unwrap_or(1.0);
            }
        }
        self.p = Some(p_m);
        self.q = Some(q_m);
    }

    /// Effective sample size behind the p-value of a pair.
    /// `None` when an index is out of range.
    pub fn n_eff(&self, unit: usize, hypothesis: usize) -> Option<f64> {
        (unit < self.units.len() && hypothesis < self.hyps.len())
            .then(|| self.n_eff_of(unit, hypothesis))
    }

    fn n_eff_of(&self, unit: usize, hypothesis: usize) -> f64 {
        ar1_n_eff(self.n, self.units[unit].lag1, self.hyps[hypothesis].lag1)
    }

    /// Everything known about one pair, `None` for indices out of range.
    pub fn pair(&self, unit: usize, hypothesis: usize) -> Option<Pairing> {
        if unit >= self.units.len() || hypothesis >= self.hyps.len() {
            return None;
        }
        let metric = self.metric_of(hypothesis);
        Some(self.pair_with(metric, unit, hypothesis))
    }

    fn pair_with(&self, metric: Metric, u: usize, k: usize) -> Pairing {
        let p_value = get(&self.p, u, k);
        let n_eff = p_value.map(|_| self.n_eff_of(u, k));
        let mut flags: Vec<Flag> = self.units[u]
            .flags
            .iter()
            .chain(&self.hyps[k].flags)
            .copied()
            .collect();
        if n_eff.is_some_and(|ne| ne < FEW_EFFECTIVE) && !self.degenerate(u, k) {
            flags.push(Flag::FewEffectiveSamples);
        }
        let within_token = get(&self.within_token, u, k);
        let within_position = get(&self.within_position, u, k);
        if !self.degenerate(u, k) {
            let plain = if is_categorical(&self.hyps[k].kind) {
                get(&self.eta, u, k)
            } else {
                get(&self.pearson, u, k).map(f64::abs)
            };
            if let Some(plain) = plain.filter(|&p| p > 0.0) {
                if within_token.is_some_and(|w| w.abs() < EXPLAINS_BELOW * plain) {
                    flags.push(Flag::TokenExplains);
                }
                if within_position.is_some_and(|w| w.abs() < EXPLAINS_BELOW * plain) {
                    flags.push(Flag::PositionExplains);
                }
            }
        }
        flags.sort_unstable();
        flags.dedup();
        let ci = self.ci.as_ref().and_then(|(lo, hi)| {
            let (lo, hi) = (lo[[u, k]], hi[[u, k]]);
            (lo.is_finite() && hi.is_finite()).then(|| Interval {
                metric: if is_categorical(&self.hyps[k].kind) {
                    Metric::Eta
                } else {
                    Metric::Pearson
                },
                level: self.cfg.confidence,
                lo,
                hi,
            })
        });
        Pairing {
            unit: self.units[u].name.clone(),
            unit_index: u,
            hypothesis: self.hyps[k].name.clone(),
            hypothesis_index: k,
            metric,
            score: self.score_of(metric, u, k),
            pearson: get(&self.pearson, u, k),
            spearman: get(&self.spearman, u, k),
            mutual_info: get(&self.mi, u, k),
            nmi: get(&self.nmi, u, k),
            auc: get(&self.auc, u, k),
            eta: get(&self.eta, u, k),
            p_value,
            q_value: get(&self.q, u, k),
            n_eff,
            p_perm: get(&self.p_perm, u, k),
            within_token,
            within_position,
            ci,
            flags,
        }
    }

    /// Units of hypothesis `k` in ranking order: non-degenerate first, then
    /// score descending, then unit index.
    /// Empty when the index is out of range.
    pub fn units_in_order(&self, hypothesis: usize) -> Vec<usize> {
        if hypothesis >= self.hyps.len() {
            return Vec::new();
        }
        let metric = self.metric_of(hypothesis);
        let mut idx: Vec<usize> = (0..self.units.len()).collect();
        let key: Vec<(bool, f64)> = idx
            .iter()
            .map(|&u| {
                (
                    self.degenerate(u, hypothesis),
                    self.score_of(metric, u, hypothesis),
                )
            })
            .collect();
        idx.sort_by(|&a, &b| {
            key[a]
                .0
                .cmp(&key[b].0)
                .then(key[b].1.total_cmp(&key[a].1))
                .then(a.cmp(&b))
        });
        idx
    }

    /// The best `k` non-degenerate units of every hypothesis, for a
    /// [`SecondPass`](super::SecondPass).
    pub fn select_top(&self, k: usize) -> Selection {
        let mut pairs = Vec::new();
        for h in 0..self.hyps.len() {
            if self.hyp_degenerate[h] {
                continue;
            }
            for u in self.units_in_order(h).into_iter().take(k) {
                if !self.degenerate(u, h) {
                    pairs.push((u, h));
                }
            }
        }
        let mut units: Vec<usize> = pairs.iter().map(|&(u, _)| u).collect();
        units.sort_unstable();
        units.dedup();
        Selection {
            units,
            hypotheses: (0..self.hyps.len()).collect(),
            pairs,
        }
    }

    /// The full ranking: per hypothesis all units in order, per unit all
    /// hypotheses in order (non-degenerate first, score descending, then
    /// hypothesis index).
    pub fn ranking(&self) -> Ranking {
        let metrics: Vec<Metric> = (0..self.hyps.len()).map(|k| self.metric_of(k)).collect();
        let by_hypothesis = (0..self.hyps.len())
            .map(|k| HypothesisRanking {
                hypothesis: self.hyps[k].name.clone(),
                index: k,
                metric: metrics[k],
                units: self
                    .units_in_order(k)
                    .into_iter()
                    .map(|u| self.pair_with(metrics[k], u, k))
                    .collect(),
            })
            .collect();
        let by_unit = (0..self.units.len())
            .map(|u| {
                let mut idx: Vec<usize> = (0..self.hyps.len()).collect();
                let key: Vec<(bool, f64)> = idx
                    .iter()
                    .map(|&k| (self.degenerate(u, k), self.score_of(metrics[k], u, k)))
                    .collect();
                idx.sort_by(|&a, &b| {
                    key[a]
                        .0
                        .cmp(&key[b].0)
                        .then(key[b].1.total_cmp(&key[a].1))
                        .then(a.cmp(&b))
                });
                UnitRanking {
                    unit: self.units[u].name.clone(),
                    index: u,
                    hypotheses: idx
                        .into_iter()
                        .map(|k| self.pair_with(metrics[k], u, k))
                        .collect(),
                }
            })
            .collect();
        Ranking {
            n_rows: self.n_rows(),
            n_sequences: self.seq_lengths.len() as u64,
            config: self.cfg.clone(),
            null_model: self.null_model,
            units: self.units.clone(),
            hypotheses: self.hyps.clone(),
            by_hypothesis,
            by_unit,
            warnings: self.warnings.clone(),
        }
    }
}

/// What a [`SecondPass`](super::SecondPass) computes: Spearman and AUC for every
/// `units × hypotheses` combination, permutation p-values and bootstrap
/// intervals for `pairs`. Indices are column indices.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    /// Units whose columns are gathered (pairs' units are added).
    pub units: Vec<usize>,
    /// Hypotheses whose columns are gathered (pairs' hypotheses are added).
    pub hypotheses: Vec<usize>,
    /// (unit, hypothesis) pairs that get permutation and bootstrap.
    pub pairs: Vec<(usize, usize)>,
}

impl Selection {
    /// The best `k` units of each hypothesis (see [`Scores::select_top`]).
    pub fn top(scores: &Scores, k: usize) -> Selection {
        scores.select_top(k)
    }

    /// Every unit and hypothesis (Spearman and AUC for all pairs), with
    /// permutation and bootstrap for the best `top_k_second_pass` units of
    /// each hypothesis. Gathers every column: for data already in memory.
    pub fn all_units(scores: &Scores) -> Selection {
        let mut s = scores.select_top(scores.config().top_k_second_pass);
        s.units = (0..scores.units().len()).collect();
        s.hypotheses = (0..scores.hypotheses().len()).collect();
        s
    }
}
