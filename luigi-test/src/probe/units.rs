//! The smallest unit set whose probe keeps a stated fraction of the whole
//! layer's held-out accuracy, and how stable that set is across bootstrap
//! resamples of the sequences.
//!
//! Orderings: by single-unit probe, by the caller's ranking (e.g. single-unit
//! correlations from the score engine), or greedy forward selection. An
//! L1-regularised path is not offered: the probes' solver fits an L2
//! penalty only, so greedy forward selection is the regularisation-free
//! alternative.

use ndarray::{Array2, ShapeBuilder};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::{Problem, Split};
use super::labels::Labels;
use super::lbfgs::Preconditioner;
use super::logistic::{select_columns, FitOptions, Model};
use super::metrics::{bootstrap_metrics, Bootstrap, Estimate};
use super::report::round_estimate;
use super::run::ProbeConfig;
use super::split::{folds, resample_sequences, Evaluation};
use crate::activations::RowIndex;
use crate::error::{Error, Result};
use crate::numeric::rng::Rng;
use crate::numeric::round_to;
use ndarray::ArrayView2;

/// How candidate units are ordered before the set-size sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitOrdering {
    /// By the training-split log-loss of a probe on that unit alone.
    SingleUnit,
    /// Greedy forward selection: each step adds the unit that most improves
    /// accuracy on a validation split carved (by sequence) out of the
    /// training sequences; the held-out test sequences are never used to choose.
    GreedyForward,
    /// The caller's order (best first); unlisted units are never added.
    Given(Vec<usize>),
}

/// Settings of [`find_unit_set`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitSetConfig {
    /// Probe settings; the evaluation must be a hold-out split.
    pub probe: ProbeConfig,
    /// The set must reach this fraction of the whole layer's accuracy.
    pub fraction: f64,
    /// How units are ordered.
    pub ordering: UnitOrdering,
    /// Largest set size tried (`None`: every ordered unit).
    pub max_units: Option<usize>,
    /// The sweep stops after this many sizes in a row that do not beat the
    /// upper end of the best size's accuracy interval.
    pub patience: usize,
    /// Bootstrap resamples of the sequences for the stability of each unit.
    pub stability_resamples: usize,
    /// Units chosen in at least this fraction of resamples form the set.
    pub stability_threshold: f64,
    /// Share of training sequences used for validation by greedy selection.
    pub validation_fraction: f64,
}

impl Default for UnitSetConfig {
    fn default() -> Self {
        UnitSetConfig {
            probe: ProbeConfig::default(),
            fraction: 0.95,
            ordering: UnitOrdering::SingleUnit,
            max_units: None,
            patience: 3,
            stability_resamples: 20,
            stability_threshold: 0.5,
            validation_fraction: 0.25,
        }
    }
}

impl UnitSetConfig {
    /// Checks every setting, naming the bad one.
    pub fn validate(&self) -> Result<()> {
        self.probe.validate()?;
        let bad = |key: &str, msg: String| Err(Error::invalid(format!("UnitSetConfig.{key}"), msg));
        if !matches!(self.probe.evaluation, Evaluation::HoldOut { .. }) {
            return bad(
                "probe.evaluation",
                "the unit-set sweep needs one hold-out split (Evaluation::HoldOut); k-fold would choose a different set per fold".to_string(),
            );
        }
        if !(self.fraction > 0.0 && self.fraction <= 1.0) {
            return bad(
                "fraction",
                format!("is {}; use a value in (0, 1] such as 0.95", self.fraction),
            );
        }
        if self.max_units == Some(0) {
            return bad("max_units", "is 0; use at least 1 or None".to_string());
        }
        if self.patience == 0 {
            return bad("patience", "is 0; use at least 1 (default 3)".to_string());
        }
        if !(self.stability_threshold > 0.0 && self.stability_threshold <= 1.0) {
            return bad(
                "stability_threshold",
                format!(
                    "is {}; use a value in (0, 1] such as 0.5",
                    self.stability_threshold
                ),
            );
        }
        if !(self.validation_fraction > 0.0 && self.validation_fraction < 1.0) {
            return bad(
                "validation_fraction",
                format!(
                    "is {}; use a value in (0, 1) such as 0.25",
                    self.validation_fraction
                ),
            );
        }
        Ok(())
    }
}

/// One point of the accuracy-versus-set-size curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Number of units.
    pub size: usize,
    /// The unit added at this size.
    pub unit: usize,
    /// Held-out accuracy of the probe on the first `size` units.
    pub accuracy: Estimate,
}

/// How often a unit was in the chosen set across bootstrap resamples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UnitStability {
    /// The unit.
    pub unit: usize,
    /// Fraction of resamples whose chosen set contains it.
    pub frequency: f64,
}

/// The smallest sufficient unit set, its curve and its stability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitSetReport {
    /// Held-out accuracy of the probe on the whole layer.
    pub layer_accuracy: Estimate,
    /// `fraction × layer_accuracy`.
    pub target_accuracy: f64,
    /// Accuracy against set size, in sweep order.
    pub curve: Vec<CurvePoint>,
    /// Whether some size reached the target.
    pub reached_target: bool,
    /// The chosen size on the full data: the first size reaching the target,
    /// else the best size before the sweep stopped.
    pub size: usize,
    /// The units of that size on the full data, in order.
    pub candidate: Vec<usize>,
    /// The reported set: units chosen in at least `stability_threshold` of the
    /// resamples (most stable first). Equal to `candidate` when no
    /// resampling was asked for.
    pub chosen: Vec<usize>,
    /// Every unit chosen in some resample, most often first.
    pub stability: Vec<UnitStability>,
    /// Chosen size in each resample.
    pub resample_sizes: Vec<usize>,
    /// The settings that produced this report.
    pub config: UnitSetConfig,
}

impl UnitSetReport {
    /// A copy with every score rounded to `digits` decimals.
    pub fn rounded(&self, digits: u32) -> UnitSetReport {
        let mut r = self.clone();
        r.layer_accuracy = round_estimate(&r.layer_accuracy, digits);
        r.target_accuracy = round_to(r.target_accuracy, digits);
        for p in &mut r.curve {
            p.accuracy = round_estimate(&p.accuracy, digits);
        }
        for s in &mut r.stability {
            s.frequency = round_to(s.frequency, digits);
        }
        r
    }
}

/// Finds the smallest unit set whose probe reaches `config.fraction` of the
/// whole layer's held-out accuracy, then measures how often each unit is
/// chosen when the whole procedure is rerun on bootstrap resamples of the
/// sequences.
pub fn find_unit_set(
    activations: ArrayView2<'_, f32>,
    rows: &RowIndex,
    labels: &Labels,
    config: &UnitSetConfig,
) -> Result<UnitSetReport> {
    config.validate()?;
    let problem = Problem::new("probe::find_unit_set", activations.reborrow(), rows, labels)?;
    if let UnitOrdering::Given(order) = &config.ordering {
        problem.check_units("probe::find_unit_set (UnitOrdering::Given)", order)?;
    }
    let all_rows: Vec<usize> = (0..rows.len()).collect();
    let main = select(
        &problem,
        &all_rows,
        config,
        config.probe.seed,
        Start::First {
            curvature: config.stability_resamples > 0,
        },
    )?;

    let resamples: Vec<Result<Selection>> = (0..config.stability_resamples)
        .into_par_iter()
        .map(|b| {
            let mut rng = Rng::stream(config.probe.seed, 0x5_7AB1 + b as u64);
            let picked = resample_sequences(&rows.sequence, &mut rng);
            select(
                &problem,
                &picked,
                config,
                rng.next_u64(),
                Start::From(&main.start),
            )
        })
        .collect();
    let mut counts = vec![0usize; activations.ncols()];
    let mut resample_sizes = Vec::with_capacity(resamples.len());
    let n_seq = {
        let mut ids: Vec<u32> = rows.sequence.clone();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    };
    for (b, r) in resamples.into_iter().enumerate() {
        let sel = r.map_err(|e| {
            Error::invalid(
                "probe unit set (stability)",
                format!(
                    "stability resample {} of {} failed: {e}. A bootstrap resample of the {n_seq} sequence(s) repeats some and can leave too few distinct ones to split: record more sequences, or turn the stability resamples off (`--probe-stability 0`, `UnitSetConfig::stability_resamples = 0`)",
                    b + 1,
                    config.stability_resamples
                ),
            )
        })?;
        for &u in &sel.order[..sel.size] {
            counts[u] += 1;
        }
        resample_sizes.push(sel.size);
    }
    let total = config.stability_resamples.max(1) as f64;
    let mut stability: Vec<UnitStability> = counts
        .iter()
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(unit, &c)| UnitStability {
            unit,
            frequency: c as f64 / total,
        })
        .collect();
    stability.sort_by(|a, b| {
        b.frequency
            .total_cmp(&a.frequency)
            .then(a.unit.cmp(&b.unit))
    });
    let candidate = main.order[..main.size].to_vec();
    let chosen = if config.stability_resamples == 0 {
        candidate.clone()
    } else {
        stability
            .iter()
            .filter(|s| s.frequency >= config.stability_threshold)
            .map(|s| s.unit)
            .collect()
    };
    Ok(UnitSetReport {
        layer_accuracy: main.layer_accuracy,
        target_accuracy: main.target,
        curve: main.curve,
        reached_target: main.reached,
        size: main.size,
        candidate,
        chosen,
        stability,
        resample_sizes,
        config: config.clone(),
    })
}

/// The models one selection run fitted, which start the resamples' fits
/// (same columns, other rows: only the starting point moves).
#[derive(Debug, Clone)]
struct Starts {
    /// The whole-layer probe.
    layer: Model,
    /// The whole-layer objective's Hessian at `layer`, which preconditions
    /// the resamples' whole-layer fits.
    curvature: Option<Preconditioner>,
    /// The single-unit probes by unit (empty unless the ordering fits them).
    single: Vec<Model>,
}

/// How a selection run starts its fits.
#[derive(Clone, Copy)]
enum Start<'a> {
    /// From scratch; `curvature`: also factor the whole-layer Hessian for
    /// the runs that follow.
    First { curvature: bool },
    /// From the first run's models.
    From(&'a Starts),
}

/// The outcome of one selection run.
#[derive(Debug, Clone)]
struct Selection {
    /// Its fitted models, to start the resamples from.
    start: Starts,
    layer_accuracy: Estimate,
    target: f64,
    order: Vec<usize>,
    curve: Vec<CurvePoint>,
    reached: bool,
    size: usize,
}

/// Held-out accuracy with its sequence-bootstrap interval.
fn held_out_accuracy(
    truth: &[usize],
    predicted: &[usize],
    seqs: &[u32],
    n_classes: usize,
    boot: Bootstrap,
) -> Result<Estimate> {
    bootstrap_metrics(truth, predicted, seqs, n_classes, boot)
        .map(|(m, _)| m.accuracy)
        .ok_or_else(|| Error::invalid("probe::find_unit_set", "the held-out split has no rows"))
}

/// Runs split, whole-layer fit, ordering and sweep on `rows` (indices into
/// `p`, possibly repeated); `start`, when given, holds the models of the
/// run on all rows, which start the fits (fewer iterations to the same
/// optimum).
fn select(
    p: &Problem<'_>,
    rows: &[usize],
    config: &UnitSetConfig,
    seed: u64,
    start: Start<'_>,
) -> Result<Selection> {
    let (start, want_curvature) = match start {
        Start::First { curvature } => (None, curvature),
        Start::From(s) => (Some(s), false),
    };
    let seqs: Vec<u32> = p.sequences_of(rows);
    let split = folds(&seqs, config.probe.evaluation, seed)?;
    let fold = &split[0];
    // A bootstrap resample repeats sequences: their rows are fitted once,
    // with a weight, which is the same objective at a fraction of the cost.
    let (train, weights) = distinct(fold.train.iter().map(|&i| rows[i]), p.x.nrows());
    let weights = weights.as_deref();
    let test: Vec<usize> = fold.test.iter().map(|&i| rows[i]).collect();
    let all_units: Vec<usize> = (0..p.x.ncols()).collect();
    let data = Split::dense_weighted(p, &all_units, &train, weights, &test);
    let y_train = p.labels_of(&train);
    let y_test = p.labels_of(&test);
    let test_seqs = p.sequences_of(&test);
    let options = config.probe.fit_options();
    let boot = Bootstrap {
        seed: seed ^ 0xB007,
        ..config.probe.bootstrap()
    };

    let (layer, _) = Model::fit_weighted(
        data.x_train.view(),
        &y_train,
        weights,
        options,
        start.map(|s| &s.layer),
        start.and_then(|s| s.curvature.as_ref()),
    )?;
    let curvature = if want_curvature {
        layer.curvature(data.x_train.view(), &y_train, weights, options.alpha)
    } else {
        None
    };
    let layer_accuracy = held_out_accuracy(
        &y_test,
        &layer.predict(data.x_test.view()),
        &test_seqs,
        p.n_classes,
        boot,
    )?;
    let target = config.fraction * layer_accuracy.value;

    let singles = start.map_or(&[][..], |s| &s.single[..]);
    let (mut orderer, single) = Orderer::new(
        p,
        &data.x_train,
        &train,
        &y_train,
        weights,
        config,
        seed,
        options,
        singles,
    )?;
    let limit = config.max_units.unwrap_or(usize::MAX).min(orderer.len());
    let mut order: Vec<usize> = Vec::new();
    let mut curve: Vec<CurvePoint> = Vec::new();
    let mut warm: Option<Model> = None;
    let mut best: Option<(usize, Estimate)> = None;
    let mut stale = 0;
    let mut reached = false;
    while order.len() < limit {
        let Some(unit) = orderer.next(&order, warm.as_ref())? else {
            break;
        };
        order.push(unit);
        let (model, _) = Model::fit_weighted(
            select_columns(&data.x_train, &order).view(),
            &y_train,
            weights,
            options,
            warm.as_ref(),
            None,
        )?;
        let predicted = model.predict(select_columns(&data.x_test, &order).view());
        let accuracy = held_out_accuracy(&y_test, &predicted, &test_seqs, p.n_classes, boot)?;
        warm = Some(model);
        curve.push(CurvePoint {
            size: order.len(),
            unit,
            accuracy,
        });
        if accuracy.value >= target {
            reached = true;
            best = Some((order.len(), accuracy));
            break;
        }
        match best {
            Some((_, b)) if accuracy.value <= b.upper => {
                stale += 1;
                if stale >= config.patience {
                    break;
                }
            }
            _ => {
                best = Some((order.len(), accuracy));
                stale = 0;
            }
        }
    }
    let size = best.map_or(0, |(s, _)| s);
    Ok(Selection {
        start: Starts {
            layer,
            curvature,
            single,
        },
        layer_accuracy,
        target,
        order,
        curve,
        reached,
        size,
    })
}

/// The distinct values of `rows` in first-seen order, with how often each
/// occurs (`None` when none repeats); values are below `bound`.
fn distinct(rows: impl Iterator<Item = usize>, bound: usize) -> (Vec<usize>, Option<Vec<f64>>) {
    let mut slot: Vec<u32> = vec![u32::MAX; bound];
    let mut out = Vec::new();
    let mut counts: Vec<f64> = Vec::new();
    for r in rows {
        if slot[r] == u32::MAX {
            slot[r] = out.len() as u32;
            out.push(r);
            counts.push(1.0);
        } else {
            counts[slot[r] as usize] += 1.0;
        }
    }
    let repeats = counts.iter().any(|&c| c > 1.0);
    (out, repeats.then_some(counts))
}

/// Produces the next unit of the ordering.
#[allow(clippy::large_enum_variant)] // one per selection run
enum Orderer {
    Fixed(Vec<usize>),
    Greedy {
        x_fit: Array2<f64>,
        y_fit: Vec<usize>,
        w_fit: Option<Vec<f64>>,
        x_val: Array2<f64>,
        y_val: Vec<usize>,
        w_val: Option<Vec<f64>>,
        n_units: usize,
        options: FitOptions,
    },
}

impl Orderer {
    /// The orderer, with the single-unit models it fitted (by unit; empty
    /// for other orderings). `single`, when not empty, starts those fits.
    #[allow(clippy::too_many_arguments)]
    fn new(
        p: &Problem<'_>,
        x_train: &Array2<f64>,
        train: &[usize],
        y_train: &[usize],
        weights: Option<&[f64]>,
        config: &UnitSetConfig,
        seed: u64,
        options: FitOptions,
        single: &[Model],
    ) -> Result<(Self, Vec<Model>)> {
        match &config.ordering {
            UnitOrdering::Given(order) => Ok((Orderer::Fixed(order.clone()), Vec::new())),
            UnitOrdering::SingleUnit => {
                let scored: Vec<Result<(f64, usize, Model)>> = (0..x_train.ncols())
                    .into_par_iter()
                    .map(|u| {
                        let x = select_columns(x_train, &[u]);
                        let (m, info) = Model::fit_weighted(
                            x.view(),
                            y_train,
                            weights,
                            options,
                            single.get(u),
                            None,
                        )?;
                        // The solver's last pass usually has the loss already.
                        let loss = info
                            .data_loss
                            .unwrap_or_else(|| m.log_loss_weighted(x.view(), y_train, weights));
                        Ok((loss, u, m))
                    })
                    .collect();
                let scored = scored.into_iter().collect::<Result<Vec<_>>>()?;
                let mut order: Vec<(f64, usize)> = scored.iter().map(|s| (s.0, s.1)).collect();
                order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let models = scored.into_iter().map(|s| s.2).collect();
                Ok((
                    Orderer::Fixed(order.into_iter().map(|(_, u)| u).collect()),
                    models,
                ))
            }
            UnitOrdering::GreedyForward => {
                let seqs = p.sequences_of(train);
                let inner = folds(
                    &seqs,
                    Evaluation::HoldOut {
                        test_fraction: config.validation_fraction,
                    },
                    seed ^ 0x1A7E_u64,
                )
                .map_err(|e| {
                    Error::invalid(
                        "probe::find_unit_set (greedy validation split)",
                        e.to_string(),
                    )
                })?;
                let take = |idx: &[usize]| {
                    let x = ndarray::Array2::from_shape_fn(
                        (idx.len(), x_train.ncols()).f(),
                        |(i, j)| x_train[[idx[i], j]],
                    );
                    let y: Vec<usize> = idx.iter().map(|&i| y_train[i]).collect();
                    let w: Option<Vec<f64>> = weights.map(|w| idx.iter().map(|&i| w[i]).collect());
                    (x, y, w)
                };
                let (x_fit, y_fit, w_fit) = take(&inner[0].train);
                let (x_val, y_val, w_val) = take(&inner[0].test);
                Ok((
                    Orderer::Greedy {
                        x_fit,
                        y_fit,
                        w_fit,
                        x_val,
                        y_val,
                        w_val,
                        n_units: x_train.ncols(),
                        options,
                    },
                    Vec::new(),
                ))
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            Orderer::Fixed(o) => o.len(),
            Orderer::Greedy { n_units, .. } => *n_units,
        }
    }

    /// The next unit after `chosen`, or `None` when all are used.
    fn next(&mut self, chosen: &[usize], warm: Option<&Model>) -> Result<Option<usize>> {
        match self {
            Orderer::Fixed(o) => Ok(o.get(chosen.len()).copied()),
            Orderer::Greedy {
                x_fit,
                y_fit,
                w_fit,
                x_val,
                y_val,
                w_val,
                n_units,
                options,
            } => {
                let candidates: Vec<usize> =
                    (0..*n_units).filter(|u| !chosen.contains(u)).collect();
                // Warm starts are valid: the sweep's model was fitted on the
                // same `chosen` prefix (on other rows, which only moves the
                // starting point).
                let (w_fit, w_val) = (w_fit.as_deref(), w_val.as_deref());
                let scored: Vec<Result<(f64, f64, usize)>> = candidates
                    .par_iter()
                    .map(|&u| {
                        let mut cols = chosen.to_vec();
                        cols.push(u);
                        let x = select_columns(x_fit, &cols);
                        let (m, _) =
                            Model::fit_weighted(x.view(), y_fit, w_fit, *options, warm, None)?;
                        let xv = select_columns(x_val, &cols);
                        let pred = m.predict(xv.view());
                        // Correct rows, each counted by its weight (whole numbers).
                        let correct: f64 = pred
                            .iter()
                            .zip(y_val.iter())
                            .enumerate()
                            .filter(|(_, (a, b))| a == b)
                            .map(|(i, _)| w_val.map_or(1.0, |w| w[i]))
                            .sum();
                        Ok((correct, m.log_loss_weighted(xv.view(), y_val, w_val), u))
                    })
                    .collect();
                let mut best: Option<(f64, f64, usize)> = None;
                for s in scored {
                    let s = s?;
                    let better = match best {
                        None => true,
                        Some(b) => s.0 > b.0 || (s.0 == b.0 && s.1 < b.1),
                    };
                    if better {
                        best = Some(s);
                    }
                }
                Ok(best.map(|(_, _, u)| u))
            }
        }
    }
}
