//! Serialisable probe reports, their warning flags, and rounding for stable
//! snapshots.

use serde::{Deserialize, Serialize};

use super::metrics::{Estimate, Metrics};
use super::split::Evaluation;
use super::ProbeConfig;
use crate::error::{Error, Result};
use crate::numeric::round_to;

/// A class and how many rows carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassCount {
    /// Class name.
    pub name: String,
    /// Rows with this label (all rows, before any split).
    pub rows: usize,
}

/// The Hewitt–Liang control task: the same probe trained on labels that
/// each token type draws at random, so it can only memorise tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ControlTaskReport {
    /// Scores of the control probe against the control labels.
    pub metrics: Metrics,
    /// Probe accuracy minus control accuracy, with a paired-bootstrap interval.
    pub selectivity: Estimate,
}

/// The same probe on the untrained (randomly initialised) twin of the model,
/// attached with [`ProbeReport::attach_untrained`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UntrainedReport {
    /// The untrained twin's probe scores.
    pub metrics: Metrics,
    /// Trained accuracy minus untrained accuracy.
    pub gain: f64,
}

/// A warning about what a probe's accuracy means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeFlag {
    /// The lower end of the probe's accuracy interval does not exceed the
    /// majority-class baseline.
    NotAboveBaseline,
    /// The control task's accuracy reaches the lower end of the probe's
    /// interval: the features let a probe memorise token types as well.
    NotSelective,
    /// A probe from token identity alone reaches the lower end of the
    /// probe's interval: the input explains the hypothesis without the model.
    TokenExplains,
    /// A probe from position alone reaches the lower end of the probe's interval.
    PositionExplains,
    /// The untrained twin's probe reaches the lower end of the probe's interval.
    UntrainedMatches,
    /// At least one fit stopped at `max_iterations` before meeting `tolerance`.
    NotConverged,
}

/// Held-out evaluation of one probe, next to its baseline and controls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// The units the probe reads (all of the layer's when `whole_layer`).
    pub units: Vec<usize>,
    /// Whether the probe reads the whole layer.
    pub whole_layer: bool,
    /// Rows (timesteps) in the input.
    pub rows: usize,
    /// Distinct sequences in the input.
    pub sequences: usize,
    /// Label counts over all rows.
    pub classes: Vec<ClassCount>,
    /// How held-out rows were chosen.
    pub evaluation: Evaluation,
    /// Rows scored (the test rows; all rows under k-fold).
    pub evaluated_rows: usize,
    /// Sequences those rows come from.
    pub evaluated_sequences: usize,
    /// Held-out scores of the probe, with sequence-bootstrap intervals.
    pub probe: Metrics,
    /// Accuracy on the rows it was trained on (mean over folds).
    pub train_accuracy: f64,
    /// Always predicting the training split's most frequent class.
    pub majority_baseline: Metrics,
    /// The control task, when enabled.
    pub control_task: Option<ControlTaskReport>,
    /// A probe from token identity alone (one-hot token), when enabled.
    pub token_probe: Option<Metrics>,
    /// A probe from position alone (one-hot, binned position), when enabled.
    pub position_probe: Option<Metrics>,
    /// The untrained twin's probe, when attached.
    pub untrained: Option<UntrainedReport>,
    /// Largest L2 norm of the mean-loss gradient at the end of any probe fit.
    pub max_gradient_norm: f64,
    /// Warnings, in a fixed order.
    pub flags: Vec<ProbeFlag>,
    /// The settings that produced this report.
    pub config: ProbeConfig,
}

impl ProbeReport {
    /// Recomputes [`ProbeReport::flags`] from the scores.
    pub(crate) fn update_flags(&mut self) {
        let floor = self.probe.accuracy.lower;
        let mut flags = Vec::new();
        if floor <= self.majority_baseline.accuracy.value {
            flags.push(ProbeFlag::NotAboveBaseline);
        }
        if self
            .control_task
            .is_some_and(|c| c.metrics.accuracy.value >= floor)
        {
            flags.push(ProbeFlag::NotSelective);
        }
        if self.token_probe.is_some_and(|m| m.accuracy.value >= floor) {
            flags.push(ProbeFlag::TokenExplains);
        }
        if self
            .position_probe
            .is_some_and(|m| m.accuracy.value >= floor)
        {
            flags.push(ProbeFlag::PositionExplains);
        }
        if self
            .untrained
            .is_some_and(|u| u.metrics.accuracy.value >= floor)
        {
            flags.push(ProbeFlag::UntrainedMatches);
        }
        if self.max_gradient_norm > self.config.tolerance * (1.0 + 1e-6) {
            flags.push(ProbeFlag::NotConverged);
        }
        self.flags = flags;
    }

    /// Attaches the same probe run on the untrained twin's layer (same rows,
    /// labels and config; the twin may have another width) and updates the flags.
    pub fn attach_untrained(&mut self, untrained: &ProbeReport) -> Result<()> {
        let same_rows = self.rows == untrained.rows
            && self.sequences == untrained.sequences
            && self.classes == untrained.classes
            && self.evaluated_rows == untrained.evaluated_rows;
        if !same_rows {
            return Err(Error::invalid(
                "ProbeReport::attach_untrained",
                format!(
                    "the untrained report covers {} rows / {} sequences / {} evaluated rows, this one {} / {} / {}: run both on the same corpus, hypothesis and config",
                    untrained.rows, untrained.sequences, untrained.evaluated_rows,
                    self.rows, self.sequences, self.evaluated_rows
                ),
            ));
        }
        if self.config.seed != untrained.config.seed || self.evaluation != untrained.evaluation {
            return Err(Error::invalid(
                "ProbeReport::attach_untrained",
                "the untrained report used another seed or evaluation: use the same ProbeConfig so both are scored on the same held-out sequences",
            ));
        }
        self.untrained = Some(UntrainedReport {
            metrics: untrained.probe,
            gain: self.probe.accuracy.value - untrained.probe.accuracy.value,
        });
        self.update_flags();
        Ok(())
    }

    /// A copy with every score rounded to `digits` decimals, for snapshots
    /// that must not change with the last bits of floating point.
    /// `max_gradient_norm` becomes 0 unless the report is flagged
    /// [`ProbeFlag::NotConverged`] (below the tolerance its exact value is noise).
    pub fn rounded(&self, digits: u32) -> ProbeReport {
        let mut r = self.clone();
        let f = |x: &mut f64| *x = round_to(*x, digits);
        r.probe = round_metrics(&r.probe, digits);
        f(&mut r.train_accuracy);
        r.majority_baseline = round_metrics(&r.majority_baseline, digits);
        if let Some(c) = r.control_task.as_mut() {
            c.metrics = round_metrics(&c.metrics, digits);
            c.selectivity = round_estimate(&c.selectivity, digits);
        }
        r.token_probe = r.token_probe.map(|m| round_metrics(&m, digits));
        r.position_probe = r.position_probe.map(|m| round_metrics(&m, digits));
        if let Some(u) = r.untrained.as_mut() {
            u.metrics = round_metrics(&u.metrics, digits);
            f(&mut u.gain);
        }
        // The gradient norm is a convergence diagnostic, far below any
        // rounding: keep only whether it met the tolerance.
        r.max_gradient_norm = if r.flags.contains(&ProbeFlag::NotConverged) {
            round_to(r.max_gradient_norm, digits)
        } else {
            0.0
        };
        r
    }
}

pub(crate) fn round_estimate(e: &Estimate, digits: u32) -> Estimate {
    Estimate {
        value: round_to(e.value, digits),
        lower: round_to(e.lower, digits),
        upper: round_to(e.upper, digits),
    }
}

pub(crate) fn round_metrics(m: &Metrics, digits: u32) -> Metrics {
    Metrics {
        accuracy: round_estimate(&m.accuracy, digits),
        balanced_accuracy: round_estimate(&m.balanced_accuracy, digits),
        macro_f1: round_estimate(&m.macro_f1, digits),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_stable() {
        assert_eq!(round_to(0.123456, 3), 0.123);
        assert_eq!(round_to(-0.0001, 2), 0.0);
        assert!(round_to(-0.0001, 2).is_sign_positive());
        assert_eq!(round_to(0.9995, 3), 1.0);
    }
}
