//! Streaming sufficient statistics: per-column means and squared deviations,
//! cross-products of two column sets, and lag-1 autocovariances.
//!
//! Every block of rows is first centred on its own (f64-computed, f32-rounded)
//! column means, the centred block is multiplied in f32 by one GEMM, and the
//! block's co-moments are merged into f64 totals with Chan et al.'s pairwise
//! update. The f32 products therefore only ever see values of the size of the
//! spread within a block, never the raw offsets: a unit whose mean is 10^4
//! times its spread keeps full precision.

use ndarray::{linalg::general_mat_mul, Array2, ArrayView2};

/// One block of rows, centred column by column.
pub(crate) struct Centred {
    /// `rows × cols`: the input minus `shift`, in f32.
    pub data: Array2<f32>,
    /// Per column: the f32-rounded block mean that was subtracted.
    pub shift: Vec<f32>,
    /// Per column: the exact (f64) mean of `data` (small, not exactly 0).
    pub resid: Vec<f64>,
    /// Per column: the sum of squared deviations from the block mean.
    pub m2: Vec<f64>,
}

impl Centred {
    /// Centres `x` (`rows × cols`) on its column means.
    pub fn new(x: ArrayView2<'_, f32>) -> Self {
        let (rows, cols) = x.dim();
        let mut sum = vec![0.0_f64; cols];
        for row in x.rows() {
            for (s, &v) in sum.iter_mut().zip(row.iter()) {
                *s += f64::from(v);
            }
        }
        let n = rows.max(1) as f64;
        let shift: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
        let mut data = Array2::<f32>::zeros((rows, cols));
        let mut s1 = vec![0.0_f64; cols];
        let mut s2 = vec![0.0_f64; cols];
        for (mut drow, xrow) in data.rows_mut().into_iter().zip(x.rows()) {
            for ((((d, &v), &sh), a1), a2) in drow
                .iter_mut()
                .zip(xrow.iter())
                .zip(shift.iter())
                .zip(s1.iter_mut())
                .zip(s2.iter_mut())
            {
                let c = v - sh;
                *d = c;
                let c = f64::from(c);
                *a1 += c;
                *a2 += c * c;
            }
        }
        let resid: Vec<f64> = s1.iter().map(|s| s / n).collect();
        let m2 = s2
            .iter()
            .zip(&resid)
            .map(|(s, r)| (s - n * r * r).max(0.0))
            .collect();
        Centred {
            data,
            shift,
            resid,
            m2,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.data.nrows()
    }

    /// Exact block mean of column `j`.
    pub fn mean(&self, j: usize) -> f64 {
        f64::from(self.shift[j]) + self.resid[j]
    }
}

/// Count, mean and sum of squared deviations per column, merged block by block.
#[derive(Debug, Clone)]
pub(crate) struct ColumnStats {
    pub n: f64,
    pub mean: Vec<f64>,
    pub m2: Vec<f64>,
}

impl ColumnStats {
    pub fn new(cols: usize) -> Self {
        ColumnStats {
            n: 0.0,
            mean: vec![0.0; cols],
            m2: vec![0.0; cols],
        }
    }

    /// Chan et al.'s merge of a centred block into the totals.
    pub fn merge(&mut self, c: &Centred) {
        let nb = c.rows() as f64;
        if nb == 0.0 {
            return;
        }
        let n = self.n + nb;
        let w = self.n * nb / n;
        for j in 0..self.mean.len() {
            let delta = c.mean(j) - self.mean[j];
            self.mean[j] += delta * nb / n;
            self.m2[j] += c.m2[j] + delta * delta * w;
        }
        self.n = n;
    }

    /// Population variance (`m2 / n`), 0 when empty.
    pub fn var(&self, j: usize) -> f64 {
        if self.n > 0.0 {
            self.m2[j] / self.n
        } else {
            0.0
        }
    }
}

/// Co-moments `Σ (a_i − ā)(b_j − b̄)` between every column of one set and
/// every column of another, merged block by block in f64.
pub(crate) struct CoMoments {
    n: f64,
    mean_a: Vec<f64>,
    mean_b: Vec<f64>,
    /// `cols_a × cols_b` totals.
    pub c: Array2<f64>,
    scratch: Array2<f32>,
}

impl CoMoments {
    pub fn new(cols_a: usize, cols_b: usize) -> Self {
        CoMoments {
            n: 0.0,
            mean_a: vec![0.0; cols_a],
            mean_b: vec![0.0; cols_b],
            c: Array2::zeros((cols_a, cols_b)),
            scratch: Array2::zeros((cols_a, cols_b)),
        }
    }

    /// Adds one block (the same rows of `a` and `b`, both centred).
    ///
    /// The block's cross-product is one f32 GEMM (`aᵀ·b`); matrixmultiply
    /// splits that product over threads by output tiles only, so every
    /// entry is summed in the same order whatever the thread count.
    pub fn merge(&mut self, a: &Centred, b: &Centred) {
        let rows = a.rows();
        debug_assert_eq!(rows, b.rows());
        if rows == 0 {
            return;
        }
        general_mat_mul(1.0, &a.data.t(), &b.data, 0.0, &mut self.scratch);
        let nb = rows as f64;
        let n = self.n + nb;
        let w = self.n * nb / n;
        let db: Vec<f64> = (0..self.mean_b.len())
            .map(|j| b.mean(j) - self.mean_b[j])
            .collect();
        for (i, (mut crow, srow)) in self
            .c
            .rows_mut()
            .into_iter()
            .zip(self.scratch.rows())
            .enumerate()
        {
            let da = a.mean(i) - self.mean_a[i];
            let ra = a.resid[i] * nb;
            let wa = da * w;
            for (((c, &s), &rb), &dbj) in crow.iter_mut().zip(srow.iter()).zip(&b.resid).zip(&db) {
                // Σ over the block of (a−ā_b)(b−b̄_b) = Σ data_a·data_b − n·resid_a·resid_b
                *c += f64::from(s) - ra * rb + wa * dbj;
            }
        }
        for (i, m) in self.mean_a.iter_mut().enumerate() {
            *m += (a.mean(i) - *m) * nb / n;
        }
        for (j, m) in self.mean_b.iter_mut().enumerate() {
            *m += db[j] * nb / n;
        }
        self.n = n;
    }
}

/// Lag-1 autocovariance per column over consecutive rows of the same
/// sequence, accumulated around a fixed per-column shift (the first block's
/// mean) so no precision is lost to large offsets.
#[derive(Debug, Clone)]
pub(crate) struct LagStats {
    shift: Vec<f64>,
    prod: Vec<f64>,
    sum_a: Vec<f64>,
    sum_b: Vec<f64>,
    pairs: f64,
    last: Option<(u32, Vec<f32>)>,
}

impl LagStats {
    pub fn new(cols: usize) -> Self {
        LagStats {
            shift: Vec::new(),
            prod: vec![0.0; cols],
            sum_a: vec![0.0; cols],
            sum_b: vec![0.0; cols],
            pairs: 0.0,
            last: None,
        }
    }

    /// Adds the lag pairs of one block of raw rows; `shift` seeds the
    /// per-column reference on the first call.
    pub fn update(&mut self, x: ArrayView2<'_, f32>, seq: &[u32], shift: &[f32]) {
        if self.shift.is_empty() {
            self.shift = shift.iter().map(|&s| f64::from(s)).collect();
        }
        let rows = x.nrows();
        for i in 0..rows {
            if i == 0 {
                if let Some((ls, lv)) = self.last.take() {
                    if ls == seq[0] {
                        self.add_pair(lv.iter().copied(), x.row(0).iter().copied());
                    }
                }
            } else if seq[i - 1] == seq[i] {
                self.add_pair(x.row(i - 1).iter().copied(), x.row(i).iter().copied());
            }
        }
        if rows > 0 {
            self.last = Some((seq[rows - 1], x.row(rows - 1).to_vec()));
        }
    }

    fn add_pair(&mut self, a: impl Iterator<Item = f32>, b: impl Iterator<Item = f32>) {
        for (((((&k, p), sa), sb), va), vb) in self
            .shift
            .iter()
            .zip(self.prod.iter_mut())
            .zip(self.sum_a.iter_mut())
            .zip(self.sum_b.iter_mut())
            .zip(a)
            .zip(b)
        {
            let da = f64::from(va) - k;
            let db = f64::from(vb) - k;
            *p += da * db;
            *sa += da;
            *sb += db;
        }
        self.pairs += 1.0;
    }

    /// Number of lag pairs seen.
    #[cfg(test)]
    pub fn pairs(&self) -> f64 {
        self.pairs
    }

    /// Mean lag-1 cross-product of column `j` around the global `mean`.
    pub fn autocov(&self, j: usize, mean: f64) -> f64 {
        if self.pairs == 0.0 || self.shift.is_empty() {
            return 0.0;
        }
        let d = self.shift[j] - mean;
        (self.prod[j] + d * (self.sum_a[j] + self.sum_b[j]) + self.pairs * d * d) / self.pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, Axis, Slice};

    fn naive_cov(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len() as f64;
        let ma = a.iter().sum::<f64>() / n;
        let mb = b.iter().sum::<f64>() / n;
        a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum()
    }

    #[test]
    fn blockwise_merge_equals_one_shot_moments() {
        let n = 37;
        let a = Array2::from_shape_fn((n, 2), |(i, j)| {
            1.0e4 + ((i * 7 + j * 3) % 11) as f32 * 0.25
        });
        let b = Array2::from_shape_fn((n, 3), |(i, j)| ((i * 5 + j) % 7) as f32 - 2.0);
        let mut co = CoMoments::new(2, 3);
        let mut sa = ColumnStats::new(2);
        for start in (0..n).step_by(10) {
            let end = (start + 10).min(n);
            let ca = Centred::new(a.slice_axis(Axis(0), Slice::from(start..end)));
            let cb = Centred::new(b.slice_axis(Axis(0), Slice::from(start..end)));
            co.merge(&ca, &cb);
            sa.merge(&ca);
        }
        for i in 0..2 {
            let ai: Vec<f64> = a.column(i).iter().map(|&v| f64::from(v)).collect();
            assert!((sa.m2[i] - naive_cov(&ai, &ai)).abs() < 1e-9);
            for j in 0..3 {
                let bj: Vec<f64> = b.column(j).iter().map(|&v| f64::from(v)).collect();
                let want = naive_cov(&ai, &bj);
                assert!(
                    (co.c[[i, j]] - want).abs() < 1e-4,
                    "{} vs {want}",
                    co.c[[i, j]]
                );
            }
        }
    }

    #[test]
    fn lag_pairs_stay_inside_sequences_and_cross_blocks() {
        // Two sequences: [1,2,3] and [10,20]; split into blocks [1,2] [3,10] [20].
        let x = [1.0_f32, 2.0, 3.0, 10.0, 20.0];
        let seq = [0_u32, 0, 0, 1, 1];
        let mut lag = LagStats::new(1);
        for (lo, hi) in [(0, 2), (2, 4), (4, 5)] {
            let v = ArrayView2::from_shape((hi - lo, 1), &x[lo..hi]).unwrap();
            lag.update(v, &seq[lo..hi], &[0.0]);
        }
        assert_eq!(lag.pairs(), 3.0);
        // pairs (1,2) (2,3) (10,20) around mean 0: (2 + 6 + 200) / 3
        assert!((lag.autocov(0, 0.0) - 208.0 / 3.0).abs() < 1e-12);
    }
}
