//! Classification metrics (accuracy, balanced accuracy, macro-F1) with the
//! same conventions as scikit-learn, and their sequence-bootstrap intervals.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::numeric::rng::Rng;

/// The three scores of a set of predictions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// Fraction of rows predicted correctly.
    pub accuracy: f64,
    /// Mean recall over the classes that occur in the truth
    /// (scikit-learn's `balanced_accuracy_score`).
    pub balanced_accuracy: f64,
    /// Mean F1 over the classes that occur in the truth or the predictions
    /// (scikit-learn's `f1_score(average="macro")`, a class with no true or
    /// predicted positive scoring 0).
    pub macro_f1: f64,
}

/// A point estimate with a confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The value on the evaluated rows.
    pub value: f64,
    /// Lower end of the interval (equal to `value` when no bootstrap was run).
    pub lower: f64,
    /// Upper end of the interval.
    pub upper: f64,
}

impl Estimate {
    /// An estimate without an interval.
    pub fn exact(value: f64) -> Self {
        Estimate {
            value,
            lower: value,
            upper: value,
        }
    }
}

/// Accuracy, balanced accuracy and macro-F1, each with its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Accuracy.
    pub accuracy: Estimate,
    /// Balanced accuracy.
    pub balanced_accuracy: Estimate,
    /// Macro-averaged F1.
    pub macro_f1: Estimate,
}

/// Row-truth × column-prediction counts.
#[derive(Debug, Clone)]
pub(crate) struct Confusion {
    k: usize,
    counts: Vec<u64>,
}

impl Confusion {
    pub(crate) fn new(k: usize) -> Self {
        Confusion {
            k,
            counts: vec![0; k * k],
        }
    }

    pub(crate) fn add(&mut self, truth: usize, predicted: usize, n: u64) {
        self.counts[truth * self.k + predicted] += n;
    }

    fn clear(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
    }

    /// The scores, or `None` when no row was counted.
    pub(crate) fn scores(&self) -> Option<ClassScores> {
        let k = self.k;
        let total: u64 = self.counts.iter().sum();
        if total == 0 {
            return None;
        }
        let mut correct = 0u64;
        let mut recall_sum = 0.0;
        let mut recall_n = 0usize;
        let mut f1_sum = 0.0;
        let mut f1_n = 0usize;
        for c in 0..k {
            let tp = self.counts[c * k + c];
            correct += tp;
            let support: u64 = self.counts[c * k..(c + 1) * k].iter().sum();
            let predicted: u64 = (0..k).map(|r| self.counts[r * k + c]).sum();
            if support > 0 {
                recall_sum += tp as f64 / support as f64;
                recall_n += 1;
            }
            if support > 0 || predicted > 0 {
                // F1 = 2TP / (2TP + FP + FN) = 2TP / (support + predicted).
                f1_sum += 2.0 * tp as f64 / (support + predicted) as f64;
                f1_n += 1;
            }
        }
        Some(ClassScores {
            accuracy: correct as f64 / total as f64,
            balanced_accuracy: recall_sum / recall_n as f64,
            macro_f1: f1_sum / f1_n as f64,
        })
    }
}

fn check_pair(context: &str, truth: &[usize], predicted: &[usize]) -> Result<usize> {
    if truth.len() != predicted.len() {
        return Err(Error::invalid(
            context,
            format!(
                "{} true labels but {} predictions: pass one prediction per row",
                truth.len(),
                predicted.len()
            ),
        ));
    }
    if truth.is_empty() {
        return Err(Error::invalid(
            context,
            "no rows to score: pass at least one labelled row",
        ));
    }
    Ok(truth.iter().chain(predicted).max().map_or(0, |m| m + 1))
}

/// Accuracy, balanced accuracy and macro-F1 of `predicted` against `truth`
/// (class indices), with scikit-learn's conventions.
///
/// ```
/// use luigi_test::probe::scores;
/// let s = scores(&[0, 0, 1, 1], &[0, 1, 1, 1]).unwrap();
/// assert_eq!(s.accuracy, 0.75);
/// assert_eq!(s.balanced_accuracy, 0.75);
/// ```
pub fn scores(truth: &[usize], predicted: &[usize]) -> Result<ClassScores> {
    let k = check_pair("probe::scores", truth, predicted)?;
    let mut confusion = Confusion::new(k);
    for (t, p) in truth.iter().zip(predicted) {
        confusion.add(*t, *p, 1);
    }
    confusion
        .scores()
        .ok_or_else(|| Error::invalid("probe::scores", "no rows to score"))
}

/// Fraction of rows where `predicted` equals `truth`.
pub fn accuracy(truth: &[usize], predicted: &[usize]) -> Result<f64> {
    Ok(scores(truth, predicted)?.accuracy)
}

/// Mean per-class recall over the classes present in `truth`.
pub fn balanced_accuracy(truth: &[usize], predicted: &[usize]) -> Result<f64> {
    Ok(scores(truth, predicted)?.balanced_accuracy)
}

/// Unweighted mean of per-class F1 over the classes present in `truth` or `predicted`.
pub fn macro_f1(truth: &[usize], predicted: &[usize]) -> Result<f64> {
    Ok(scores(truth, predicted)?.macro_f1)
}

/// Value at quantile `q` of sorted `xs`, interpolating linearly (numpy's default).
pub(crate) fn quantile_sorted(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (xs.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    xs[lo] + (xs[hi] - xs[lo]) * frac
}

/// How the interval of a [`Metrics`] is computed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bootstrap {
    pub resamples: usize,
    pub confidence: f64,
    pub seed: u64,
}

/// ClassScores of predictions on `rows` with a percentile interval from resampling
/// whole sequences with replacement (rows of one sequence stay together, so
/// the interval reflects sequence-level dependence).
///
/// `sequence[r]` is row `r`'s sequence id; `truth`/`predicted` are indexed by
/// position in `rows`.
///
/// Also returns the accuracy of every resample, in draw order: two calls
/// with the same `sequence_of` and seed draw the same resamples, so their
/// draws can be paired (e.g. for a difference of accuracies).
pub(crate) fn bootstrap_metrics(
    truth: &[usize],
    predicted: &[usize],
    sequence_of: &[u32],
    n_classes: usize,
    boot: Bootstrap,
) -> Option<(Metrics, Vec<f64>)> {
    let k = n_classes.max(truth.iter().chain(predicted).max().map_or(0, |m| m + 1));
    let mut full = Confusion::new(k);
    // Group the confusion counts by sequence (sparse: a sequence touches few cells).
    let mut order: Vec<usize> = (0..truth.len()).collect();
    order.sort_by_key(|&i| sequence_of[i]);
    let mut groups: Vec<Vec<(usize, u64)>> = Vec::new();
    let mut last: Option<u32> = None;
    let mut cells: Vec<u64> = vec![0; k * k];
    let mut touched: Vec<usize> = Vec::new();
    let flush =
        |cells: &mut Vec<u64>, touched: &mut Vec<usize>, groups: &mut Vec<Vec<(usize, u64)>>| {
            touched.sort_unstable();
            let g = touched.iter().map(|&c| (c, cells[c])).collect();
            for &c in touched.iter() {
                cells[c] = 0;
            }
            touched.clear();
            groups.push(g);
        };
    for &i in &order {
        let s = sequence_of[i];
        if last.is_some_and(|l| l != s) {
            flush(&mut cells, &mut touched, &mut groups);
        }
        last = Some(s);
        let cell = truth[i] * k + predicted[i];
        if cells[cell] == 0 {
            touched.push(cell);
        }
        cells[cell] += 1;
        full.add(truth[i], predicted[i], 1);
    }
    if last.is_some() {
        flush(&mut cells, &mut touched, &mut groups);
    }
    let point = full.scores()?;
    if boot.resamples == 0 || groups.is_empty() {
        let exact = Metrics {
            accuracy: Estimate::exact(point.accuracy),
            balanced_accuracy: Estimate::exact(point.balanced_accuracy),
            macro_f1: Estimate::exact(point.macro_f1),
        };
        return Some((exact, Vec::new()));
    }
    let mut rng = Rng::new(boot.seed);
    let mut acc = Vec::with_capacity(boot.resamples);
    let mut bal = Vec::with_capacity(boot.resamples);
    let mut f1 = Vec::with_capacity(boot.resamples);
    let mut confusion = Confusion::new(k);
    for _ in 0..boot.resamples {
        confusion.clear();
        for _ in 0..groups.len() {
            for &(cell, n) in &groups[rng.below(groups.len())] {
                confusion.counts[cell] += n;
            }
        }
        if let Some(s) = confusion.scores() {
            acc.push(s.accuracy);
            bal.push(s.balanced_accuracy);
            f1.push(s.macro_f1);
        }
    }
    let draws = acc.clone();
    let metrics = Metrics {
        accuracy: percentile_interval(acc, point.accuracy, boot.confidence),
        balanced_accuracy: percentile_interval(bal, point.balanced_accuracy, boot.confidence),
        macro_f1: percentile_interval(f1, point.macro_f1, boot.confidence),
    };
    Some((metrics, draws))
}

/// `value` with the central `confidence` percentile interval of `draws`
/// (no interval when there are no draws).
pub(crate) fn percentile_interval(mut draws: Vec<f64>, value: f64, confidence: f64) -> Estimate {
    if draws.is_empty() {
        return Estimate::exact(value);
    }
    let tail = (1.0 - confidence) / 2.0;
    draws.sort_by(f64::total_cmp);
    Estimate {
        value,
        lower: quantile_sorted(&draws, tail),
        upper: quantile_sorted(&draws, 1.0 - tail),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computed_values() {
        // truth 0,0,0,1,1,2 ; predictions 0,1,0,1,2,2
        let t = [0, 0, 0, 1, 1, 2];
        let p = [0, 1, 0, 1, 2, 2];
        let s = scores(&t, &p).unwrap();
        assert!((s.accuracy - 4.0 / 6.0).abs() < 1e-12);
        // recalls 2/3, 1/2, 1
        assert!((s.balanced_accuracy - (2.0 / 3.0 + 0.5 + 1.0) / 3.0).abs() < 1e-12);
        // F1: class0 2*2/(3+2)=0.8, class1 2*1/(2+2)=0.5, class2 2*1/(1+2)=2/3
        assert!((s.macro_f1 - (0.8 + 0.5 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn predicted_only_class_counts_in_f1_not_in_recall() {
        let s = scores(&[0, 0], &[0, 1]).unwrap();
        assert_eq!(s.balanced_accuracy, 0.5);
        // class 0: 2*1/(2+1) = 2/3; class 1: 0 -> mean 1/3
        assert!((s.macro_f1 - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(scores(&[], &[]).is_err());
        let e = scores(&[0, 1], &[0]).unwrap_err().to_string();
        assert!(e.contains("2 true labels but 1 predictions"), "{e}");
    }

    #[test]
    fn bootstrap_interval_brackets_value_and_is_reproducible() {
        let n = 400;
        let truth: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let pred: Vec<usize> = (0..n)
            .map(|i| if i % 7 == 0 { 1 - i % 2 } else { i % 2 })
            .collect();
        let seq: Vec<u32> = (0..n).map(|i| (i / 10) as u32).collect();
        let boot = Bootstrap {
            resamples: 300,
            confidence: 0.9,
            seed: 5,
        };
        let (m, draws) = bootstrap_metrics(&truth, &pred, &seq, 2, boot).unwrap();
        let (m2, draws2) = bootstrap_metrics(&truth, &pred, &seq, 2, boot).unwrap();
        assert_eq!(m, m2);
        assert_eq!(draws, draws2);
        assert_eq!(draws.len(), 300);
        let a = m.accuracy;
        assert!(a.lower < a.value && a.value < a.upper, "{a:?}");
        assert!(a.upper - a.lower < 0.1, "{a:?}");
        let (none, _) = bootstrap_metrics(
            &truth,
            &pred,
            &seq,
            2,
            Bootstrap {
                resamples: 0,
                ..boot
            },
        )
        .unwrap();
        assert_eq!(none.accuracy.lower, none.accuracy.value);
    }

    #[test]
    fn quantile_interpolates_like_numpy() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&xs, 0.5), 2.5);
        assert_eq!(quantile_sorted(&xs, 0.0), 1.0);
        assert!((quantile_sorted(&xs, 0.9) - 3.7).abs() < 1e-12);
    }
}
