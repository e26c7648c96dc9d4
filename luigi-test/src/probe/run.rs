//! Fitting and evaluating one probe, with its baseline and controls.

use std::collections::{BTreeMap, BTreeSet};

use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::{Problem, Split};
use super::labels::Labels;
use super::logistic::{FitInfo, FitOptions, Model};
use super::metrics::{bootstrap_metrics, percentile_interval, Bootstrap, Metrics};
use super::report::{ClassCount, ControlTaskReport, ProbeReport};
use super::split::{folds, Evaluation};
use crate::activations::RowIndex;
use crate::error::{Error, Result};
use crate::numeric::rng::Rng;

/// Which controls a probe report carries.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Controls {
    /// Hewitt–Liang control task (random label per token type).
    pub control_task: bool,
    /// A probe from the one-hot token alone.
    pub token: bool,
    /// A probe from the (binned) position alone.
    pub position: bool,
    /// Most frequent training tokens given their own one-hot column; the
    /// rest share one column.
    pub max_tokens: usize,
    /// Most position columns: one per position up to this many, else
    /// equal-width bins.
    pub position_bins: usize,
}

impl Default for Controls {
    fn default() -> Self {
        Controls {
            control_task: true,
            token: true,
            position: true,
            max_tokens: 128,
            position_bins: 32,
        }
    }
}

impl Controls {
    /// No controls (faster; the report then cannot flag trivial probes).
    pub fn none() -> Self {
        Controls {
            control_task: false,
            token: false,
            position: false,
            ..Controls::default()
        }
    }
}

/// Settings of a probe. `ProbeConfig::default()` matches scikit-learn's
/// `LogisticRegression()` (C = 1, tol = 1e-4, 100 iterations) on
/// standardised features, holds out 20% of sequences, and reports 95%
/// sequence-bootstrap intervals and all controls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeConfig {
    /// Seed of every random choice (split, bootstrap, control labels).
    pub seed: u64,
    /// How held-out rows are chosen.
    pub evaluation: Evaluation,
    /// L2 penalty `alpha` on the weights (`1/C`); must be positive.
    pub l2_penalty: f64,
    /// The solver stops when the L2 norm of the gradient of the mean loss
    /// is below this.
    pub tolerance: f64,
    /// Most L-BFGS iterations per fit.
    pub max_iterations: u64,
    /// Sequence-bootstrap resamples for intervals (0: no intervals).
    pub bootstrap_resamples: usize,
    /// Confidence level of the intervals, in `(0, 1)`.
    pub confidence: f64,
    /// Which controls to run.
    pub controls: Controls,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            seed: 0,
            evaluation: Evaluation::default(),
            l2_penalty: 1.0,
            tolerance: 1e-4,
            max_iterations: 100,
            bootstrap_resamples: 1000,
            confidence: 0.95,
            controls: Controls::default(),
        }
    }
}

impl ProbeConfig {
    /// Checks every setting, naming the bad one and a valid value.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, msg: String| Err(Error::invalid(format!("ProbeConfig.{key}"), msg));
        self.evaluation.validate()?;
        if !(self.l2_penalty.is_finite() && self.l2_penalty > 0.0) {
            return bad(
                "l2_penalty",
                format!(
                    "is {}; use a positive number (1.0 = scikit-learn's C = 1)",
                    self.l2_penalty
                ),
            );
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return bad(
                "tolerance",
                format!("is {}; use a positive number such as 1e-4", self.tolerance),
            );
        }
        if self.max_iterations == 0 {
            return bad(
                "max_iterations",
                "is 0; use at least 1 (default 100)".to_string(),
            );
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return bad(
                "confidence",
                format!("is {}; use a level in (0, 1) such as 0.95", self.confidence),
            );
        }
        if self.controls.max_tokens == 0 || self.controls.position_bins == 0 {
            return bad(
                "controls",
                "max_tokens and position_bins must be at least 1".to_string(),
            );
        }
        Ok(())
    }

    pub(crate) fn fit_options(&self) -> FitOptions {
        FitOptions {
            alpha: self.l2_penalty,
            tolerance: self.tolerance,
            max_iterations: self.max_iterations,
        }
    }

    pub(crate) fn bootstrap(&self) -> Bootstrap {
        Bootstrap {
            resamples: self.bootstrap_resamples,
            confidence: self.confidence,
            seed: self.seed ^ 0xB007_5742_u64,
        }
    }
}

/// Fits a logistic-regression probe of `labels` on `activations` (rows ×
/// units; all units, or only `units`) and evaluates it on held-out sequences,
/// next to the majority-class baseline and the enabled controls.
///
/// Features are standardised with training-split statistics only; rows are
/// split by `rows.sequence`, never by timestep. Results do not depend on the
/// number of threads.
pub fn fit(
    activations: ArrayView2<'_, f32>,
    rows: &RowIndex,
    labels: &Labels,
    units: Option<&[usize]>,
    config: &ProbeConfig,
) -> Result<ProbeReport> {
    config.validate()?;
    let problem = Problem::new("probe::fit", activations.reborrow(), rows, labels)?;
    let all_units: Vec<usize> = (0..activations.ncols()).collect();
    let units = match units {
        Some(u) => {
            problem.check_units("probe::fit", u)?;
            u.to_vec()
        }
        None => all_units.clone(),
    };
    let whole_layer = units == all_units;
    // One token type at every row (a numeric corpus feeds values, not
    // tokens): the control task and the token probe would be trivial.
    let mut controls = config.controls;
    if rows.token.windows(2).all(|w| w[0] == w[1]) {
        controls.control_task = false;
        controls.token = false;
    }
    let control_labels = if controls.control_task {
        Some(control_task_labels(rows, labels, config.seed))
    } else {
        None
    };
    let splits = folds(&rows.sequence, config.evaluation, config.seed)?;
    let options = config.fit_options();

    let mut eval_rows: Vec<usize> = Vec::new();
    let mut preds: BTreeMap<Task, Vec<usize>> = BTreeMap::new();
    let mut train_accuracy = 0.0;
    let mut max_gradient_norm: f64 = 0.0;
    for fold in &splits {
        let y_train = problem.labels_of(&fold.train);
        let tasks = tasks(&controls);
        let dense = Split::dense(&problem, &units, &fold.train, &fold.test);
        let results: Vec<Result<TaskOutcome>> = tasks
            .par_iter()
            .map(|&task| {
                let owned;
                let split = match task {
                    Task::Probe | Task::Control | Task::Baseline => &dense,
                    Task::Token => {
                        owned =
                            Split::tokens(&problem, controls.max_tokens, &fold.train, &fold.test);
                        &owned
                    }
                    Task::Position => {
                        owned = Split::positions(
                            &problem,
                            controls.position_bins,
                            &fold.train,
                            &fold.test,
                        );
                        &owned
                    }
                };
                let y: Vec<usize> = match (task, &control_labels) {
                    (Task::Control, Some(c)) => fold.train.iter().map(|&r| c[r]).collect(),
                    _ => y_train.clone(),
                };
                let (model, info) = Model::fit(split.x_train.view(), &y, options, None)?;
                let train_acc = if task == Task::Probe {
                    let p = model.predict(split.x_train.view());
                    p.iter().zip(&y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
                } else {
                    0.0
                };
                Ok((task, model.predict(split.x_test.view()), info, train_acc))
            })
            .collect();
        for r in results {
            let (task, p, info, train_acc) = r?;
            if matches!(task, Task::Probe) {
                train_accuracy += train_acc / splits.len() as f64;
                max_gradient_norm = max_gradient_norm.max(info.gradient_norm);
            }
            preds.entry(task).or_default().extend(p);
        }
        let majority = majority(&y_train, problem.n_classes);
        preds
            .entry(Task::Baseline)
            .or_default()
            .extend(std::iter::repeat_n(majority, fold.test.len()));
        eval_rows.extend_from_slice(&fold.test);
    }

    let truth = problem.labels_of(&eval_rows);
    let seqs = problem.sequences_of(&eval_rows);
    let boot = config.bootstrap();
    let score = |truth: &[usize], task: Task| -> Result<(Metrics, Vec<f64>)> {
        let p = preds.get(&task).map(Vec::as_slice).unwrap_or(&[]);
        bootstrap_metrics(truth, p, &seqs, problem.n_classes, boot)
            .ok_or_else(|| Error::invalid("probe::fit", "no held-out rows to score"))
    };
    let (probe, probe_draws) = score(&truth, Task::Probe)?;
    let (majority_baseline, _) = score(&truth, Task::Baseline)?;
    let control_task = match &control_labels {
        Some(c) => {
            let control_truth: Vec<usize> = eval_rows.iter().map(|&r| c[r]).collect();
            let (metrics, draws) = score(&control_truth, Task::Control)?;
            let diffs: Vec<f64> = probe_draws.iter().zip(&draws).map(|(a, b)| a - b).collect();
            Some(ControlTaskReport {
                metrics,
                selectivity: percentile_interval(
                    diffs,
                    probe.accuracy.value - metrics.accuracy.value,
                    config.confidence,
                ),
            })
        }
        None => None,
    };
    let token_probe = if controls.token {
        Some(score(&truth, Task::Token)?.0)
    } else {
        None
    };
    let position_probe = if controls.position {
        Some(score(&truth, Task::Position)?.0)
    } else {
        None
    };
    let all_seqs: BTreeSet<u32> = rows.sequence.iter().copied().collect();
    let eval_seqs: BTreeSet<u32> = seqs.iter().copied().collect();
    let mut report = ProbeReport {
        units,
        whole_layer,
        rows: rows.len(),
        sequences: all_seqs.len(),
        classes: labels
            .names()
            .iter()
            .zip(labels.counts())
            .map(|(name, rows)| ClassCount {
                name: name.clone(),
                rows,
            })
            .collect(),
        evaluation: config.evaluation,
        evaluated_rows: eval_rows.len(),
        evaluated_sequences: eval_seqs.len(),
        probe,
        train_accuracy,
        majority_baseline,
        control_task,
        token_probe,
        position_probe,
        untrained: None,
        max_gradient_norm,
        flags: Vec::new(),
        config: config.clone(),
    };
    report.update_flags();
    Ok(report)
}

/// A task's held-out predictions, its fit diagnostics and (probe only) its
/// training accuracy.
type TaskOutcome = (Task, Vec<usize>, FitInfo, f64);

/// The fits made per split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Task {
    Probe,
    Control,
    Token,
    Position,
    Baseline,
}

fn tasks(controls: &Controls) -> Vec<Task> {
    let mut t = vec![Task::Probe];
    if controls.control_task {
        t.push(Task::Control);
    }
    if controls.token {
        t.push(Task::Token);
    }
    if controls.position {
        t.push(Task::Position);
    }
    t
}

/// The most frequent class (smallest index on a tie).
pub(crate) fn majority(y: &[usize], n_classes: usize) -> usize {
    let mut counts = vec![0usize; n_classes.max(y.iter().max().map_or(0, |m| m + 1))];
    for &v in y {
        counts[v] += 1;
    }
    let mut best = 0;
    for (c, &n) in counts.iter().enumerate() {
        if n > counts[best] {
            best = c;
        }
    }
    best
}

/// Hewitt–Liang control labels: every token type (in increasing id order)
/// draws one label from the empirical label distribution; each row gets its
/// token's label.
pub(crate) fn control_task_labels(rows: &RowIndex, labels: &Labels, seed: u64) -> Vec<usize> {
    let weights: Vec<f64> = labels.counts().iter().map(|&c| c as f64).collect();
    let types: BTreeSet<i64> = rows.token.iter().copied().collect();
    let mut rng = Rng::stream(seed, 0xC0_7E01);
    let label_of: BTreeMap<i64, usize> = types
        .into_iter()
        .map(|t| (t, rng.categorical(&weights)))
        .collect();
    rows.token.iter().map(|t| label_of[t]).collect()
}
