//! The inputs of a probe checked once, and turned into standardised
//! column-major design matrices per training/test split.

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2, Axis, ShapeBuilder};

use super::labels::Labels;
use super::logistic::Standardizer;
use crate::activations::RowIndex;
use crate::error::{Error, Result};

/// Activations, row index and labels that have been checked to fit together.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Problem<'a> {
    pub x: ArrayView2<'a, f32>,
    pub index: &'a RowIndex,
    pub y: &'a [usize],
    pub n_classes: usize,
}

impl<'a> Problem<'a> {
    /// Checks shapes and values; `context` names the caller in errors.
    pub(crate) fn new(
        context: &str,
        x: ArrayView2<'a, f32>,
        index: &'a RowIndex,
        labels: &'a Labels,
    ) -> Result<Self> {
        let n = x.nrows();
        if n == 0 || x.ncols() == 0 {
            return Err(Error::invalid(
                context,
                format!(
                    "activations are {} × {}: record at least one timestep of a layer with units",
                    x.nrows(),
                    x.ncols()
                ),
            ));
        }
        let lens = [
            ("row index `sequence`", index.sequence.len()),
            ("row index `position`", index.position.len()),
            ("row index `token`", index.token.len()),
            ("labels", labels.len()),
        ];
        for (what, len) in lens {
            if len != n {
                return Err(Error::invalid(
                    context,
                    format!("activations have {n} rows but {what} has {len}: pass the row index and labels recorded with these activations"),
                ));
            }
        }
        for (r, row) in x.axis_iter(Axis(0)).enumerate() {
            if let Some(u) = row.iter().position(|v| !v.is_finite()) {
                return Err(Error::invalid(
                    context,
                    format!(
                        "activation at row {r} (sequence {}, position {}), unit {u} is {}: the layer produced non-finite values",
                        index.sequence[r], index.position[r], row[u]
                    ),
                ));
            }
        }
        Ok(Problem {
            x,
            index,
            y: labels.values(),
            n_classes: labels.n_classes(),
        })
    }

    /// Checks a unit list: non-empty, in range, no repeats.
    pub(crate) fn check_units(&self, context: &str, units: &[usize]) -> Result<()> {
        if units.is_empty() {
            return Err(Error::invalid(
                context,
                "the unit set is empty: name at least one unit",
            ));
        }
        let mut seen = vec![false; self.x.ncols()];
        for &u in units {
            if u >= self.x.ncols() {
                return Err(Error::invalid(
                    context,
                    format!(
                        "unit {u} does not exist: the layer has {} units (0..{})",
                        self.x.ncols(),
                        self.x.ncols()
                    ),
                ));
            }
            if seen[u] {
                return Err(Error::invalid(context, format!("unit {u} is listed twice")));
            }
            seen[u] = true;
        }
        Ok(())
    }

    /// Labels of `rows`.
    pub(crate) fn labels_of(&self, rows: &[usize]) -> Vec<usize> {
        rows.iter().map(|&r| self.y[r]).collect()
    }

    /// Sequence ids of `rows`.
    pub(crate) fn sequences_of(&self, rows: &[usize]) -> Vec<u32> {
        rows.iter().map(|&r| self.index.sequence[r]).collect()
    }
}

/// Columns `units` of `x` at `rows`, as a column-major `f64` matrix.
pub(crate) fn gather_dense(x: ArrayView2<'_, f32>, rows: &[usize], units: &[usize]) -> Array2<f64> {
    let n = rows.len();
    let mut out = Array2::<f64>::zeros((n, units.len()).f());
    // Blocks of rows keep the source rows in cache while each column is
    // written contiguously.
    const BLOCK: usize = 64;
    for start in (0..n).step_by(BLOCK) {
        let end = (start + BLOCK).min(n);
        for (k, &u) in units.iter().enumerate() {
            let mut col = out.column_mut(k);
            for i in start..end {
                col[i] = f64::from(x[[rows[i], u]]);
            }
        }
    }
    out
}

/// One-hot encoding of `codes` (each `< width`) as a column-major matrix.
pub(crate) fn one_hot(codes: &[usize], width: usize) -> Array2<f64> {
    let mut out = Array2::<f64>::zeros((codes.len(), width).f());
    for (i, &c) in codes.iter().enumerate() {
        out[[i, c]] = 1.0;
    }
    out
}

/// Training and test design matrices, standardised with training statistics.
#[derive(Debug, Clone)]
pub(crate) struct Split {
    pub x_train: Array2<f64>,
    pub x_test: Array2<f64>,
}

impl Split {
    /// Standardises both with the statistics of `x_train`.
    pub(crate) fn standardised(mut x_train: Array2<f64>, mut x_test: Array2<f64>) -> Self {
        let s = Standardizer::fit(x_train.view());
        s.apply(&mut x_train);
        s.apply(&mut x_test);
        Split { x_train, x_test }
    }

    /// Dense features of `units` at the given rows.
    pub(crate) fn dense(p: &Problem<'_>, units: &[usize], train: &[usize], test: &[usize]) -> Self {
        Split::standardised(
            gather_dense(p.x, train, units),
            gather_dense(p.x, test, units),
        )
    }

    /// [`Split::dense`] with a weight per training row (its number of
    /// copies), standardised with the weighted statistics.
    pub(crate) fn dense_weighted(
        p: &Problem<'_>,
        units: &[usize],
        train: &[usize],
        weights: Option<&[f64]>,
        test: &[usize],
    ) -> Self {
        let mut x_train = gather_dense(p.x, train, units);
        let mut x_test = gather_dense(p.x, test, units);
        let s = Standardizer::fit_weighted(x_train.view(), weights);
        s.apply(&mut x_train);
        s.apply(&mut x_test);
        Split { x_train, x_test }
    }

    /// One-hot token identity: the `max_tokens` most frequent training tokens
    /// (ties: smaller id first) get a column each, everything else one
    /// shared column.
    pub(crate) fn tokens(
        p: &Problem<'_>,
        max_tokens: usize,
        train: &[usize],
        test: &[usize],
    ) -> Self {
        let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
        for &r in train {
            *counts.entry(p.index.token[r]).or_default() += 1;
        }
        let mut by_count: Vec<(i64, usize)> = counts.into_iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        by_count.truncate(max_tokens);
        let vocab: BTreeMap<i64, usize> = by_count
            .iter()
            .enumerate()
            .map(|(i, (t, _))| (*t, i))
            .collect();
        let other = vocab.len();
        let code = |r: &usize| vocab.get(&p.index.token[*r]).copied().unwrap_or(other);
        let train_codes: Vec<usize> = train.iter().map(code).collect();
        let test_codes: Vec<usize> = test.iter().map(code).collect();
        Split::standardised(
            one_hot(&train_codes, other + 1),
            one_hot(&test_codes, other + 1),
        )
    }

    /// One-hot position: one column per position when the training rows
    /// have at most `bins` distinct positions `0..=max`, else `bins`
    /// equal-width bins over `0..=max`; later positions go to the last column.
    pub(crate) fn positions(p: &Problem<'_>, bins: usize, train: &[usize], test: &[usize]) -> Self {
        let max = train
            .iter()
            .map(|&r| p.index.position[r] as usize)
            .max()
            .unwrap_or(0);
        let width = (max + 1).min(bins.max(1));
        let code = |r: &usize| {
            let pos = (p.index.position[*r] as usize).min(max);
            if max < width {
                pos
            } else {
                (pos * width / (max + 1)).min(width - 1)
            }
        };
        let train_codes: Vec<usize> = train.iter().map(code).collect();
        let test_codes: Vec<usize> = test.iter().map(code).collect();
        Split::standardised(one_hot(&train_codes, width), one_hot(&test_codes, width))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ndarray::array;

    fn index(n: usize) -> RowIndex {
        RowIndex {
            sequence: (0..n as u32).map(|i| i / 4).collect(),
            position: (0..n as u32).map(|i| i % 4).collect(),
            token: (0..n as i64).map(|i| i % 3).collect(),
        }
    }

    #[test]
    fn problem_rejects_mismatch_and_non_finite() {
        let x = Array2::<f32>::zeros((8, 2));
        let idx = index(8);
        let labels = Labels::from_classes(vec![0; 7], vec!["a".into()]).unwrap();
        let e = Problem::new("t", x.view(), &idx, &labels)
            .unwrap_err()
            .to_string();
        assert!(e.contains("labels has 7"), "{e}");
        let mut x = Array2::<f32>::zeros((8, 2));
        x[[5, 1]] = f32::NAN;
        let labels = Labels::from_classes(vec![0; 8], vec!["a".into()]).unwrap();
        let e = Problem::new("t", x.view(), &idx, &labels)
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 5") && e.contains("unit 1"), "{e}");
        let x = Array2::<f32>::zeros((8, 2));
        let p = Problem::new("t", x.view(), &idx, &labels).unwrap();
        assert!(p
            .check_units("t", &[0, 2])
            .unwrap_err()
            .to_string()
            .contains("unit 2"));
        assert!(p.check_units("t", &[1, 1]).is_err());
        assert!(p.check_units("t", &[]).is_err());
    }

    #[test]
    fn gather_picks_rows_and_units() {
        let x = array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]];
        let g = gather_dense(x.view(), &[2, 0], &[2, 0]);
        assert_eq!(g, array![[9.0, 7.0], [3.0, 1.0]]);
        assert!(g.t().is_standard_layout());
    }

    #[test]
    fn token_and_position_codes() {
        let x = Array2::<f32>::zeros((12, 1));
        let idx = index(12);
        let labels = Labels::from_classes(vec![0; 12], vec!["a".into()]).unwrap();
        let p = Problem::new("t", x.view(), &idx, &labels).unwrap();
        let train: Vec<usize> = (0..8).collect();
        let test: Vec<usize> = (8..12).collect();
        let t = Split::tokens(&p, 2, &train, &test);
        // tokens 0,1,2 with counts 3,3,2 in train: 0 and 1 kept, 2 -> other.
        assert_eq!(t.x_train.ncols(), 3);
        let pos = Split::positions(&p, 2, &train, &test);
        assert_eq!(pos.x_train.ncols(), 2);
        let pos = Split::positions(&p, 10, &train, &test);
        assert_eq!(pos.x_train.ncols(), 4);
    }
}
