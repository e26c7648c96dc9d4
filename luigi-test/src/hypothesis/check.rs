//! Checks that run before scoring: hypotheses whose scores would mislead.
//!
//! [`check`] evaluates a set on a corpus and flags, per hypothesis:
//!
//! - **never fires**: a binary hypothesis that is 0 on every timestep;
//! - **nearly constant**: one value covers more than
//!   [`CheckOptions::constant_fraction`] (default 99.9%) of the timesteps
//!   (exactly constant included; a binary one that never fires is reported
//!   as *never fires* instead);
//! - **collinear with position**: |Pearson r| between the hypothesis and the
//!   position within the sequence (0-based) above
//!   [`CheckOptions::position_correlation`] (default 0.99), so a unit that
//!   merely counts timesteps would match it. Not computed when either side
//!   is constant. (The `position` hypothesis itself is flagged by design.)
//!
//! Issues come in hypothesis order and carry the numbers, for the caller to
//! report before scoring rather than score silently.

use std::fmt;

use ndarray::{Array2, Axis, Slice};
use rayon::prelude::*;

use super::{HypothesisKind, HypothesisSet};
use crate::corpus::{Corpus, Sequence};
use crate::error::{Error, Result};

/// Thresholds of [`check_with`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckOptions {
    /// Flag when one value covers more than this fraction of timesteps
    /// (must be in (0.5, 1]; default 0.999).
    pub constant_fraction: f64,
    /// Flag when |Pearson r| with position exceeds this (default 0.99).
    pub position_correlation: f64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            constant_fraction: 0.999,
            position_correlation: 0.99,
        }
    }
}

/// What is wrong with a hypothesis.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum IssueKind {
    /// A binary hypothesis with no 1 on any timestep.
    NeverFires {
        /// Timesteps checked.
        timesteps: usize,
    },
    /// One value covers more than the threshold fraction of timesteps.
    NearlyConstant {
        /// The dominant value.
        value: f32,
        /// The fraction of timesteps it covers.
        fraction: f64,
        /// Timesteps checked.
        timesteps: usize,
    },
    /// |Pearson r| with the position within the sequence above the threshold.
    CollinearWithPosition {
        /// Pearson's r.
        r: f64,
    },
}

/// One flagged hypothesis.
#[derive(Debug, Clone, PartialEq)]
pub struct HypothesisIssue {
    /// The hypothesis name.
    pub name: String,
    /// Its column in the set.
    pub index: usize,
    /// What was found.
    pub kind: IssueKind,
}

impl fmt::Display for HypothesisIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            IssueKind::NeverFires { timesteps } => write!(
                f,
                "hypothesis `{}` never fires (0 of {timesteps} timesteps are 1): it cannot be scored; \
                 drop it or use a corpus where it occurs",
                self.name
            ),
            IssueKind::NearlyConstant {
                value,
                fraction,
                timesteps,
            } => write!(
                f,
                "hypothesis `{}` is nearly constant: value {value} covers {:.3}% of {timesteps} timesteps, \
                 so any score rests on {} timesteps; drop it or use a corpus where it varies",
                self.name,
                fraction * 100.0,
                timesteps - (fraction * *timesteps as f64).round() as usize
            ),
            IssueKind::CollinearWithPosition { r } => write!(
                f,
                "hypothesis `{}` is collinear with position (Pearson r = {r:.4}): a unit that only \
                 counts timesteps would match it; compare its score with `position`'s or vary \
                 sequence lengths",
                self.name
            ),
        }
    }
}

/// [`check_with`] with default thresholds.
pub fn check(set: &HypothesisSet, corpus: &Corpus) -> Result<Vec<HypothesisIssue>> {
    check_with(set, corpus, &CheckOptions::default())
}

/// Evaluates `set` on `corpus` and flags hypotheses (see the module docs).
pub fn check_with(
    set: &HypothesisSet,
    corpus: &Corpus,
    options: &CheckOptions,
) -> Result<Vec<HypothesisIssue>> {
    let values = set.evaluate(corpus.sequences())?;
    check_values(set, corpus.sequences(), &values, options)
}

/// Flags hypotheses from an already evaluated matrix (`values` as returned
/// by [`HypothesisSet::evaluate`] on `seqs`), avoiding a second evaluation.
pub fn check_values(
    set: &HypothesisSet,
    seqs: &[Sequence],
    values: &Array2<f32>,
    options: &CheckOptions,
) -> Result<Vec<HypothesisIssue>> {
    let rows: usize = seqs.iter().map(Sequence::len).sum();
    if values.nrows() != rows || values.ncols() != set.len() {
        return Err(Error::invalid(
            "hypothesis check",
            format!(
                "matrix is {}×{} but the sequences have {rows} timesteps and the set {} hypotheses: \
                 pass the matrix that HypothesisSet::evaluate returned for these sequences",
                values.nrows(),
                values.ncols(),
                set.len()
            ),
        ));
    }
    if rows == 0 {
        return Err(Error::invalid(
            "hypothesis check",
            "no timesteps: check on a corpus with at least one character",
        ));
    }
    if !(options.constant_fraction > 0.5 && options.constant_fraction <= 1.0) {
        return Err(Error::invalid(
            "CheckOptions::constant_fraction",
            format!(
                "{} is not in (0.5, 1]: give e.g. 0.999",
                options.constant_fraction
            ),
        ));
    }
    // Position within the sequence, centred on its mean.
    let mut position = Vec::with_capacity(rows);
    for s in seqs {
        position.extend((0..s.len()).map(|t| t as f64));
    }
    let mean_p = position.iter().sum::<f64>() / rows as f64;
    for p in &mut position {
        *p -= mean_p;
    }
    let var_p: f64 = position.iter().map(|p| p * p).sum();

    // Streams the matrix row by row (contiguous) in fixed blocks of rows,
    // in parallel; partial results are merged in block order, so the
    // outcome does not depend on the number of threads.
    let k = values.ncols();
    let shift: Vec<f64> = values.row(0).iter().map(|&v| f64::from(v)).collect();
    let blocks: Vec<(usize, usize)> = (0..rows)
        .step_by(CHECK_BLOCK)
        .map(|a| (a, (a + CHECK_BLOCK).min(rows)))
        .collect();
    // Pass 1: shifted sums, squares, cross-products with position, and a
    // Boyer–Moore majority summary per column.
    let partials: Vec<Moments> = blocks
        .par_iter()
        .map(|&(a, b)| {
            let mut m = Moments::new(k);
            for (row, p) in values
                .slice_axis(Axis(0), Slice::from(a..b))
                .rows()
                .into_iter()
                .zip(&position[a..b])
            {
                m.add_row(row.iter().copied(), &shift, *p);
            }
            m
        })
        .collect();
    let mut total = Moments::new(k);
    for p in &partials {
        total.merge(p);
    }
    // Pass 2: exact count of each column's majority candidate.
    let counts: Vec<Vec<usize>> = blocks
        .par_iter()
        .map(|&(a, b)| {
            let mut c = vec![0usize; k];
            for row in values.slice_axis(Axis(0), Slice::from(a..b)).rows() {
                for ((n, &v), &cand) in c.iter_mut().zip(row.iter()).zip(&total.cand) {
                    *n += usize::from(v == cand);
                }
            }
            c
        })
        .collect();
    let mut mode_count = vec![0usize; k];
    for c in &counts {
        for (m, n) in mode_count.iter_mut().zip(c) {
            *m += n;
        }
    }
    let n = rows as f64;
    let per_column: Vec<ColumnStats> = (0..k)
        .map(|j| {
            let (sx, sxx, sxp) = (total.sum[j], total.sq[j], total.cross[j]);
            ColumnStats {
                any_nonzero: total.nonzero[j],
                mode: total.cand[j],
                mode_count: mode_count[j],
                // Position is centred (its sum is 0), so cov = Σxp.
                var: (sxx - sx * sx / n).max(0.0),
                cov: sxp,
            }
        })
        .collect();

    let kinds = set.kinds();
    let names = set.names();
    let mut issues = Vec::new();
    for (index, st) in per_column.into_iter().enumerate() {
        let name = names[index].to_string();
        if kinds[index] == HypothesisKind::Binary && !st.any_nonzero {
            issues.push(HypothesisIssue {
                name,
                index,
                kind: IssueKind::NeverFires { timesteps: rows },
            });
            continue;
        }
        let fraction = st.mode_count as f64 / rows as f64;
        if fraction > options.constant_fraction {
            issues.push(HypothesisIssue {
                name: name.clone(),
                index,
                kind: IssueKind::NearlyConstant {
                    value: st.mode,
                    fraction,
                    timesteps: rows,
                },
            });
        }
        if st.var > 0.0 && var_p > 0.0 {
            let r = st.cov / (st.var.sqrt() * var_p.sqrt());
            if r.abs() > options.position_correlation {
                issues.push(HypothesisIssue {
                    name,
                    index,
                    kind: IssueKind::CollinearWithPosition { r },
                });
            }
        }
    }
    Ok(issues)
}

/// Rows per block of the check's passes.
const CHECK_BLOCK: usize = 4096;

struct ColumnStats {
    any_nonzero: bool,
    mode: f32,
    mode_count: usize,
    var: f64,
    cov: f64,
}

/// Per-column partial sums over a block of rows (values shifted by the
/// column's first value to keep the sums small), plus a Boyer–Moore
/// majority summary (candidate, votes), which merges exactly: a value held
/// by more than half of all rows survives any merge order.
struct Moments {
    sum: Vec<f64>,
    sq: Vec<f64>,
    cross: Vec<f64>,
    nonzero: Vec<bool>,
    cand: Vec<f32>,
    votes: Vec<usize>,
}

impl Moments {
    fn new(k: usize) -> Self {
        Moments {
            sum: vec![0.0; k],
            sq: vec![0.0; k],
            cross: vec![0.0; k],
            nonzero: vec![false; k],
            cand: vec![0.0; k],
            votes: vec![0; k],
        }
    }

    fn add_row(&mut self, row: impl Iterator<Item = f32>, shift: &[f64], p: f64) {
        for (j, v) in row.enumerate() {
            let x = f64::from(v) - shift[j];
            self.sum[j] += x;
            self.sq[j] += x * x;
            self.cross[j] += x * p;
            self.nonzero[j] |= v != 0.0;
            if self.votes[j] == 0 {
                self.cand[j] = v;
                self.votes[j] = 1;
            } else if self.cand[j] == v {
                self.votes[j] += 1;
            } else {
                self.votes[j] -= 1;
            }
        }
    }

    fn merge(&mut self, o: &Moments) {
        for j in 0..self.sum.len() {
            self.sum[j] += o.sum[j];
            self.sq[j] += o.sq[j];
            self.cross[j] += o.cross[j];
            self.nonzero[j] |= o.nonzero[j];
            if self.cand[j] == o.cand[j] {
                self.votes[j] += o.votes[j];
            } else if o.votes[j] > self.votes[j] {
                self.cand[j] = o.cand[j];
                self.votes[j] = o.votes[j] - self.votes[j];
            } else {
                self.votes[j] -= o.votes[j];
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hypothesis::from_fn;
    use crate::hypothesis::library::{CharIs, Column, Position};

    #[test]
    fn flags_never_firing_constant_and_positional() {
        let corpus = Corpus::from_strings("t", ["abcabc", "ab", "cab"]).unwrap();
        let mut set = HypothesisSet::new();
        set.add(CharIs::new('a')).unwrap();
        set.add(CharIs::new('z')).unwrap();
        set.add(from_fn("seven", HypothesisKind::Numeric, |s| {
            vec![7.0; s.len()]
        }))
        .unwrap();
        set.add(Position).unwrap();
        set.add(Column).unwrap(); // column = position + 1 without line breaks
        set.add(from_fn("half", HypothesisKind::Numeric, |s| {
            (0..s.len()).map(|t| (t / 2) as f32).collect()
        }))
        .unwrap();
        let issues = check(&set, &corpus).unwrap();
        let summary: Vec<(usize, &IssueKind)> = issues.iter().map(|i| (i.index, &i.kind)).collect();
        assert_eq!(summary.len(), 4, "{issues:#?}");
        assert_eq!(summary[0], (1, &IssueKind::NeverFires { timesteps: 11 }));
        assert_eq!(
            summary[1],
            (
                2,
                &IssueKind::NearlyConstant {
                    value: 7.0,
                    fraction: 1.0,
                    timesteps: 11
                }
            )
        );
        for (i, (idx, kind)) in summary[2..4].iter().enumerate() {
            assert_eq!(*idx, 3 + i);
            match kind {
                IssueKind::CollinearWithPosition { r } => assert!((r - 1.0).abs() < 1e-12, "{r}"),
                other => panic!("{other:?}"),
            }
        }
        // floor(t/2) against t has r = 0.9505 here (numpy.corrcoef): below 0.99, not flagged
        let pos = [0., 1., 2., 3., 4., 5., 0., 1., 0., 1., 2.];
        let half: Vec<f64> = pos.iter().map(|&t: &f64| (t / 2.0).floor()).collect();
        assert!((pearson(&pos, &half) - 0.950_476_205_867_956_9).abs() < 1e-12);
        assert!(summary.iter().all(|(i, _)| *i != 5));
        let strict = CheckOptions {
            position_correlation: 0.95,
            ..CheckOptions::default()
        };
        let flagged = check_with(&set, &corpus, &strict).unwrap();
        match &flagged.last().unwrap().kind {
            IssueKind::CollinearWithPosition { r } => {
                assert!((r - 0.950_476_205_867_956_9).abs() < 1e-9, "{r}")
            }
            other => panic!("{other:?}"),
        }
        let text = issues[0].to_string();
        assert!(
            text.contains("`char(z)` never fires") && text.contains("0 of 11"),
            "{text}"
        );
        let text = issues[1].to_string();
        assert!(
            text.contains("`seven` is nearly constant") && text.contains("100.000%"),
            "{text}"
        );
    }

    fn pearson(x: &[f64], y: &[f64]) -> f64 {
        let n = x.len() as f64;
        let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
        let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
        let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
        let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
        cov / (vx * vy).sqrt()
    }

    #[test]
    fn nearly_constant_threshold() {
        // 'a' once in 2,000 timesteps: 99.95% zeros > 99.9%
        let mut text = "b".repeat(1999);
        text.push('a');
        let corpus = Corpus::from_strings("t", [text]).unwrap();
        let mut set = HypothesisSet::new();
        set.add(CharIs::new('a')).unwrap();
        set.add(CharIs::new('b')).unwrap();
        let issues = check(&set, &corpus).unwrap();
        assert_eq!(issues.len(), 2);
        match &issues[0].kind {
            IssueKind::NearlyConstant {
                value, fraction, ..
            } => {
                assert_eq!(*value, 0.0);
                assert!((fraction - 0.9995).abs() < 1e-12);
            }
            other => panic!("{other:?}"),
        }
        assert!(issues[0].to_string().contains("rests on 1 timesteps"));
        // with a looser threshold nothing is flagged
        let mut set = HypothesisSet::new();
        set.add(CharIs::new('a')).unwrap();
        let loose = CheckOptions {
            constant_fraction: 0.9999,
            ..CheckOptions::default()
        };
        assert!(check_with(&set, &corpus, &loose).unwrap().is_empty());
    }

    #[test]
    fn statistics_merge_across_row_blocks() {
        // 12,000 rows = 3 blocks; the majority value of `char(b)` (1) is
        // absent from the first block.
        let text = format!("{}{}", "a".repeat(4096), "b".repeat(7904));
        let corpus = Corpus::from_strings("t", [text.clone(), "ab".repeat(500)]).unwrap();
        let mut set = HypothesisSet::new();
        set.add(CharIs::new('b')).unwrap();
        set.add(from_fn("sqrt", HypothesisKind::Numeric, |s| {
            (0..s.len()).map(|t| (t as f32).sqrt()).collect()
        }))
        .unwrap();
        let opts = CheckOptions {
            constant_fraction: 0.6,
            position_correlation: 0.9,
        };
        let issues = check_with(&set, &corpus, &opts).unwrap();
        assert_eq!(
            issues[0].kind,
            IssueKind::NearlyConstant {
                value: 1.0,
                fraction: (7904.0 + 500.0) / 13000.0,
                timesteps: 13000
            }
        );
        let pos: Vec<f64> = (0..12000).chain(0..1000).map(f64::from).collect();
        let sq: Vec<f64> = pos.iter().map(|&t| f64::from((t as f32).sqrt())).collect();
        let r = pearson(&pos, &sq);
        match &issues[1].kind {
            IssueKind::CollinearWithPosition { r: got } => {
                assert!((got - r).abs() < 1e-9, "{got} vs {r}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(issues.len(), 2, "{issues:#?}");
    }

    #[test]
    fn mismatched_matrix_is_an_error() {
        let set = HypothesisSet::new();
        let seqs = vec![Sequence::new("ab")];
        let m = Array2::<f32>::zeros((3, 0));
        let e = check_values(&set, &seqs, &m, &CheckOptions::default()).unwrap_err();
        assert!(e.to_string().contains("3×0"), "{e}");
    }
}
