//! Rankings: single-unit pairings in order, with every score, significance
//! figure and interval, plus what was odd about the inputs.
//!
//! A [`Ranking`] holds, for each hypothesis, all units in order of its
//! ranking metric ([`Ranking::by_hypothesis`]) and, for each unit, all
//! hypotheses in order ([`Ranking::by_unit`]). Order is by score (higher
//! first) with pairings on a constant or numerically constant unit or
//! hypothesis last; ties are broken by unit index (per hypothesis) or
//! hypothesis index (per unit), so the order is total and reproducible.
//!
//! Scores are never NaN: a metric that does not apply to a hypothesis kind
//! (Pearson for a categorical hypothesis), or that was not computed (Spearman
//! outside the second pass's selection) is `None` and left out of the
//! serialised form. Degenerate inputs give defined values (r = 0, η = 0,
//! MI = 0, AUC = 0.5, p = 1) and a [`Flag`].
//!
//! `Ranking` is serde-serialisable (JSON, YAML). For snapshots use
//! [`Ranking::rounded`] (e.g. 4 decimals) and [`Ranking::truncated`].

use serde::{Deserialize, Serialize};

use super::{Metric, NullModel, ScoreConfig};
use crate::hypothesis::HypothesisKind;

/// Single-unit pairings of one layer against a set of hypotheses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranking {
    /// Timesteps scored.
    pub n_rows: u64,
    /// Sequences scored.
    pub n_sequences: u64,
    /// The settings the scores were computed with.
    pub config: ScoreConfig,
    /// The null model the permutation p-values used, when there were any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_model: Option<NullModel>,
    /// Every unit, in column order.
    pub units: Vec<UnitInfo>,
    /// Every hypothesis, in column order.
    pub hypotheses: Vec<HypothesisInfo>,
    /// Per hypothesis (column order), all units in ranking order.
    pub by_hypothesis: Vec<HypothesisRanking>,
    /// Per unit (column order), all hypotheses in ranking order.
    pub by_unit: Vec<UnitRanking>,
    /// What was odd about the inputs (constant, rare or position-like
    /// hypotheses, constant units, null-model fallbacks).
    #[serde(default)]
    pub warnings: Vec<Warning>,
}

/// Summary of one unit over the scored rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitInfo {
    /// Unit name.
    pub name: String,
    /// Column index.
    pub index: usize,
    /// Mean activation.
    pub mean: f64,
    /// Sample standard deviation.
    pub sd: f64,
    /// Lag-1 autocorrelation within sequences.
    pub lag1: f64,
    /// Degeneracy flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Flag>,
}

/// Summary of one hypothesis over the scored rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HypothesisInfo {
    /// Hypothesis name.
    pub name: String,
    /// Column index.
    pub index: usize,
    /// Kind of values.
    pub kind: HypothesisKind,
    /// Mean value (for categorical: 0; see `state_counts`).
    pub mean: f64,
    /// Sample standard deviation (for categorical: 0).
    pub sd: f64,
    /// Lag-1 autocorrelation within sequences (for categorical: of the
    /// one-hot state vector).
    pub lag1: f64,
    /// |r| with the position inside the sequence (η for categorical).
    pub position_association: f64,
    /// Binary: timesteps where it is 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fires: Option<u64>,
    /// Categorical: timesteps in each state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_counts: Option<Vec<u64>>,
    /// Degeneracy flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Flag>,
}

/// All units for one hypothesis, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HypothesisRanking {
    /// Hypothesis name.
    pub hypothesis: String,
    /// Hypothesis column index.
    pub index: usize,
    /// Metric the units are ordered by.
    pub metric: Metric,
    /// Pairings, best first.
    pub units: Vec<Pairing>,
}

/// All hypotheses for one unit, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitRanking {
    /// Unit name.
    pub unit: String,
    /// Unit column index.
    pub index: usize,
    /// Pairings, best first (each scored by its hypothesis' metric).
    pub hypotheses: Vec<Pairing>,
}

/// One unit paired with one hypothesis, with every score computed for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pairing {
    /// Unit name.
    pub unit: String,
    /// Unit column index.
    pub unit_index: usize,
    /// Hypothesis name.
    pub hypothesis: String,
    /// Hypothesis column index.
    pub hypothesis_index: usize,
    /// Metric `score` is taken from.
    pub metric: Metric,
    /// Ranking score in [0, 1], higher is stronger: |r|, |ρ|, normalised
    /// MI, |2·AUC − 1| or η depending on `metric`.
    pub score: f64,
    /// Pearson correlation (numeric and binary hypotheses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pearson: Option<f64>,
    /// Spearman correlation (second pass; numeric and binary hypotheses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spearman: Option<f64>,
    /// Plug-in mutual information of the binned variables, in nats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutual_info: Option<f64>,
    /// Miller–Madow corrected MI over the smaller corrected entropy, in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nmi: Option<f64>,
    /// ROC-AUC of the unit as a score for a binary hypothesis (second pass, exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auc: Option<f64>,
    /// Correlation ratio η (categorical hypotheses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta: Option<f64>,
    /// Two-sided p-value of r (t-test) or η (F-test) with the AR(1)
    /// effective sample size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// Benjamini–Hochberg q-value of `p_value` across all pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q_value: Option<f64>,
    /// Effective sample size used for `p_value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_eff: Option<f64>,
    /// Permutation p-value under the sequence-respecting null (second pass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_perm: Option<f64>,
    /// The score *within tokens*: unit and hypothesis each centred on their
    /// mean for the current input token, then Pearson r (signed; numeric
    /// and binary hypotheses) or η of the unit's residual by state
    /// (categorical). What the pairing shows beyond what the input token
    /// says; 0 when the token determines the hypothesis. `None` when the
    /// rows came without tokens (see [`crate::score`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_token: Option<f64>,
    /// The same with groups by position in the sequence (positions past
    /// 4,095 share one group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_position: Option<f64>,
    /// Sequence-bootstrap percentile interval of r (or η) (second pass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<Interval>,
    /// Degeneracy flags of the unit, the hypothesis or the pair.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Flag>,
}

impl Pairing {
    /// True when the unit or hypothesis is (numerically) constant, so the
    /// scores are the defined defaults rather than measurements.
    pub fn is_degenerate(&self) -> bool {
        self.flags.iter().any(|f| f.is_degenerate())
    }
}

/// A confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// The statistic (Pearson r or η).
    pub metric: Metric,
    /// Confidence level, e.g. 0.95.
    pub level: f64,
    /// Lower end.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
}

/// Something about a unit, hypothesis or pair that qualifies its scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// The unit has one value on every row: scores are 0, p = 1.
    ConstantUnit,
    /// The unit's spread is at the level of f32 rounding (sd under 4 f32
    /// epsilons of |mean|): scored (its moments are exact), but its values
    /// are coarse steps.
    NearlyConstantUnit,
    /// The unit gave NaN or ±inf on some timesteps: it is not scored
    /// (scores are the defaults, and it ranks last), the others are.
    NonFiniteUnit,
    /// The hypothesis has one value on every row: scores are 0, p = 1.
    ConstantHypothesis,
    /// The numeric hypothesis' spread is at f32 rounding level: treated as constant.
    NearlyConstantHypothesis,
    /// Binary hypothesis firing (or not firing) on very few rows, or a
    /// categorical one almost always in one state: scored, but fragile.
    RareHypothesis,
    /// The hypothesis is almost a function of position (|r| or η > threshold):
    /// a unit that counts time will score on it too.
    PositionCollinear,
    /// Fewer than 10 effective samples behind the p-value.
    FewEffectiveSamples,
    /// The current input token explains the pairing: the within-token score
    /// is below half the plain one (|r| or η) — the unit may only be
    /// reading its input.
    TokenExplains,
    /// The position in the sequence explains the pairing: the
    /// within-position score is below half the plain one.
    PositionExplains,
}

impl Flag {
    /// Whether the flag means the scores are defaults, not measurements.
    pub fn is_degenerate(self) -> bool {
        matches!(
            self,
            Flag::ConstantUnit
                | Flag::NonFiniteUnit
                | Flag::ConstantHypothesis
                | Flag::NearlyConstantHypothesis
        )
    }
}

/// A finding about the inputs, reported rather than silently scored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// What kind of finding.
    pub kind: WarningKind,
    /// The hypothesis or unit(s) concerned.
    pub subject: String,
    /// A sentence for the user.
    pub message: String,
}

/// Kinds of [`Warning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// A hypothesis has a single value.
    ConstantHypothesis,
    /// A binary hypothesis is never 1.
    NeverFires,
    /// A binary hypothesis is always 1.
    AlwaysFires,
    /// A numeric hypothesis varies only at f32 rounding level.
    NearlyConstantHypothesis,
    /// A binary hypothesis fires (or stays off) on very few rows, or a
    /// categorical one is almost always in one state.
    RareHypothesis,
    /// A hypothesis is almost a function of the position in the sequence.
    PositionCollinear,
    /// Some units are constant or numerically constant.
    ConstantUnits,
    /// Some units gave NaN or ±inf and were not scored.
    NonFiniteUnits,
    /// The permutation null could not permute every sequence (lengths differ)
    /// or fell back to circular shifts.
    PermutationNull,
    /// Rare tokens (or late positions) share one group in the within-group
    /// scores.
    GroupsPooled,
    /// Too few sequences to resample whole: the bootstrap resampled blocks
    /// of timesteps within sequences.
    BlockResampling,
    /// The second pass kept a sample of whole blocks of rows, its columns
    /// for every row being over its memory cap.
    SecondPassSampled,
}

impl Ranking {
    /// The ranking of one hypothesis, by name.
    pub fn hypothesis(&self, name: &str) -> Option<&HypothesisRanking> {
        self.by_hypothesis.iter().find(|h| h.hypothesis == name)
    }

    /// The ranking of one unit, by name.
    pub fn unit(&self, name: &str) -> Option<&UnitRanking> {
        self.by_unit.iter().find(|u| u.unit == name)
    }

    /// The best unit for a hypothesis.
    pub fn best_unit(&self, hypothesis: &str) -> Option<&Pairing> {
        self.hypothesis(hypothesis).and_then(|h| h.units.first())
    }

    /// The pairing of a unit and a hypothesis, by names.
    pub fn pair(&self, unit: &str, hypothesis: &str) -> Option<&Pairing> {
        self.hypothesis(hypothesis)
            .and_then(|h| h.units.iter().find(|p| p.unit == unit))
    }

    /// Warnings about one subject (hypothesis or unit name).
    pub fn warnings_for<'a>(&'a self, subject: &'a str) -> impl Iterator<Item = &'a Warning> + 'a {
        self.warnings.iter().filter(move |w| w.subject == subject)
    }

    /// A copy keeping only the best `n` units per hypothesis and the best `n`
    /// hypotheses per unit.
    pub fn truncated(&self, n: usize) -> Ranking {
        let mut r = self.clone();
        for h in &mut r.by_hypothesis {
            h.units.truncate(n);
        }
        for u in &mut r.by_unit {
            u.hypotheses.truncate(n);
        }
        r
    }

    /// A copy with every floating-point figure rounded to `decimals` places
    /// (and −0 written as 0), so snapshots do not churn on the last bits.
    /// Order is kept as computed from the unrounded scores.
    pub fn rounded(&self, decimals: u32) -> Ranking {
        let f = |x: f64| round_to(x, decimals);
        let o = |x: Option<f64>| x.map(f);
        let mut r = self.clone();
        r.config.confidence = f(r.config.confidence);
        for u in &mut r.units {
            u.mean = f(u.mean);
            u.sd = f(u.sd);
            u.lag1 = f(u.lag1);
        }
        for h in &mut r.hypotheses {
            h.mean = f(h.mean);
            h.sd = f(h.sd);
            h.lag1 = f(h.lag1);
            h.position_association = f(h.position_association);
        }
        let round_pair = |p: &mut Pairing| {
            p.score = f(p.score);
            p.pearson = o(p.pearson);
            p.spearman = o(p.spearman);
            p.mutual_info = o(p.mutual_info);
            p.nmi = o(p.nmi);
            p.auc = o(p.auc);
            p.eta = o(p.eta);
            p.p_value = o(p.p_value);
            p.q_value = o(p.q_value);
            p.n_eff = o(p.n_eff);
            p.p_perm = o(p.p_perm);
            p.within_token = o(p.within_token);
            p.within_position = o(p.within_position);
            if let Some(ci) = &mut p.ci {
                ci.level = f(ci.level);
                ci.lo = f(ci.lo);
                ci.hi = f(ci.hi);
            }
        };
        for h in &mut r.by_hypothesis {
            h.units.iter_mut().for_each(round_pair);
        }
        for u in &mut r.by_unit {
            u.hypotheses.iter_mut().for_each(round_pair);
        }
        r
    }
}

/// Rounds to `decimals` places; −0 becomes 0, non-finite values become 0
/// (a ranking's numbers are finite or absent).
pub(crate) fn round_to(x: f64, decimals: u32) -> f64 {
    if x.is_finite() {
        crate::numeric::round_to(x, decimals)
    } else {
        0.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_stable_and_kills_negative_zero() {
        assert_eq!(round_to(0.123_456, 4), 0.1235);
        assert_eq!(round_to(-0.000_01, 4).to_bits(), 0.0_f64.to_bits());
        assert_eq!(round_to(f64::NAN, 4), 0.0);
    }
}
