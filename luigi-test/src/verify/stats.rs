//! The numbers behind a perturbation verdict: per-unit statistics on the
//! recording, one-sided t-tests, bootstrap intervals, Pearson r and η.

use std::collections::BTreeMap;

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::activations::Activations;
use crate::hypothesis::HypothesisKind;
use crate::numeric::rng::Rng;

/// A unit's statistics on the corpus recording.
#[derive(Debug, Clone)]
pub(super) struct UnitStats {
    pub(super) sd: f64,
    /// Sign of its correlation with the hypothesis (numeric, binary).
    pub(super) sign: f64,
    /// |Pearson r| with the hypothesis (numeric, binary) or η (categorical).
    pub(super) strength: f64,
    /// Mean per state (categorical).
    pub(super) state_means: Vec<f64>,
}

pub(super) fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Per-unit statistics against the hypothesis on the whole recording.
pub(super) fn unit_stats(acts: &Activations, h: &[f32], kind: &HypothesisKind) -> Vec<UnitStats> {
    let n = h.len() as f64;
    let hm = h.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let hvar = h.iter().map(|&x| (f64::from(x) - hm).powi(2)).sum::<f64>();
    let states = match kind {
        HypothesisKind::Categorical { states } => states.len(),
        _ => 0,
    };
    (0..acts.n_units())
        .map(|j| {
            let col = acts.values.column(j);
            let m = col.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
            let mut var = 0.0;
            let mut cov = 0.0;
            let mut sums = vec![0.0; states];
            let mut counts = vec![0usize; states];
            for (&x, &y) in col.iter().zip(h) {
                let d = f64::from(x) - m;
                var += d * d;
                cov += d * (f64::from(y) - hm);
                if states > 0 {
                    let k = (y as usize).min(states - 1);
                    sums[k] += f64::from(x);
                    counts[k] += 1;
                }
            }
            let sd = (var / n).sqrt();
            let state_means: Vec<f64> = sums
                .iter()
                .zip(&counts)
                .map(|(s, &c)| if c > 0 { s / c as f64 } else { m })
                .collect();
            let strength = if states > 0 {
                // η: between-state over total sum of squares
                let between: f64 = state_means
                    .iter()
                    .zip(&counts)
                    .map(|(mk, &c)| c as f64 * (mk - m).powi(2))
                    .sum();
                if var > 0.0 {
                    (between / var).sqrt()
                } else {
                    0.0
                }
            } else if var > 0.0 && hvar > 0.0 {
                (cov / (var * hvar).sqrt()).abs()
            } else {
                0.0
            };
            UnitStats {
                sd,
                sign: sign(cov),
                strength,
                state_means,
            }
        })
        .collect()
}

pub(super) fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// One-sided p-value of mean(v) > 0 (Student's t).
pub(super) fn p_positive(v: &[f64]) -> f64 {
    let n = v.len();
    if n < 2 {
        return 1.0;
    }
    let m = mean(v);
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64;
    if var <= 0.0 || !var.is_finite() {
        return if m > 0.0 { 0.0 } else { 1.0 };
    }
    let t = m / (var / n as f64).sqrt();
    match StudentsT::new(0.0, 1.0, (n - 1) as f64) {
        Ok(d) => d.sf(t),
        Err(_) => 1.0,
    }
}

/// 95% percentile bootstrap interval of the mean of `v`.
pub(super) fn bootstrap_ci(v: &[f64], resamples: usize, seed: u64, stream: u64) -> [f64; 2] {
    if v.is_empty() {
        return [0.0, 0.0];
    }
    let mut rng = Rng::stream(seed, stream);
    let mut means: Vec<f64> = (0..resamples.max(1))
        .map(|_| {
            let s: f64 = (0..v.len()).map(|_| v[rng.below(v.len())]).sum();
            s / v.len() as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let q = |p: f64| means[((p * (means.len() - 1) as f64).round() as usize).min(means.len() - 1)];
    [q(0.025), q(0.975)]
}

pub(super) fn pearson(a: &[f32], b: &[f32]) -> Option<f64> {
    let n = a.len() as f64;
    let ma = a.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let mb = b.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (f64::from(x) - ma, f64::from(y) - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    (saa > 0.0 && sbb > 0.0).then(|| sab / (saa * sbb).sqrt())
}

pub(super) fn eta(x: &[f32], states: &[f32]) -> Option<f64> {
    let n = x.len() as f64;
    let m = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let mut groups: BTreeMap<i64, (f64, usize)> = BTreeMap::new();
    let mut total = 0.0;
    for (&v, &s) in x.iter().zip(states) {
        let g = groups.entry(s as i64).or_insert((0.0, 0));
        g.0 += f64::from(v);
        g.1 += 1;
        total += (f64::from(v) - m).powi(2);
    }
    if groups.len() < 2 || total <= 0.0 {
        return None;
    }
    let between: f64 = groups
        .values()
        .map(|(s, c)| *c as f64 * (s / *c as f64 - m).powi(2))
        .sum();
    Some((between / total).sqrt())
}
