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
use rayon::prelude::*;

/// Per-column moments of one block that was centred in place.
#[derive(Debug, Clone)]
pub(crate) struct BlockMoments {
    /// Rows in the block.
    pub rows: usize,
    /// Per column: the f32-rounded block mean that was subtracted.
    pub shift: Vec<f32>,
    /// Per column: the exact (f64) mean of the centred values (small, not exactly 0).
    pub resid: Vec<f64>,
    /// Per column: the sum of squared deviations from the block mean.
    pub m2: Vec<f64>,
    /// Per column: the power of two the centred values were divided by
    /// before the f32 products (1 unless they were too large for them; see
    /// [`centre_in_place`]).
    pub scale: Vec<f64>,
}

impl BlockMoments {
    /// Exact block mean of column `j`.
    pub fn mean(&self, j: usize) -> f64 {
        f64::from(self.shift[j]) + self.resid[j]
    }
}

/// Centred values above this (2^50) are scaled down before the f32 GEMM:
/// products of two of them, summed over a block, stay far below f32's
/// largest value (2^128).
const LARGEST: f64 = 1_125_899_906_842_624.0;

/// Blocks are cut into this many row ranges for the parallel passes. The
/// cut does not depend on the thread count and partial sums are combined in
/// range order, so results are the same for any number of threads.
const PARTS: usize = 8;

fn part_rows(rows: usize) -> usize {
    rows.div_ceil(PARTS).max(1)
}

/// Sums of one range of rows (see [`centre_in_place`]).
struct PartSums {
    s2: Vec<f64>,
    lag: Vec<f64>,
    pairs: f64,
}

/// Centres one range of rows; `prev` is the (centred) row just before the
/// range when it belongs to the same sequence as the range's first row.
#[inline(never)]
fn centre_part(
    data: &mut [f32],
    cols: usize,
    shift: &[f32],
    seq: &[u32],
    prev: Option<&[f32]>,
    with_lag: bool,
) -> PartSums {
    let rows = data.len() / cols;
    let mut p = PartSums {
        s2: vec![0.0; cols],
        lag: vec![0.0; if with_lag { cols } else { 0 }],
        pairs: 0.0,
    };
    let shift = &shift[..cols];
    for i in 0..rows {
        let (before, rest) = data.split_at_mut(i * cols);
        let row = &mut rest[..cols];
        let s2 = &mut p.s2[..cols];
        let prev_row: Option<&[f32]> = if !with_lag {
            None
        } else if i == 0 {
            prev
        } else if seq[i - 1] == seq[i] {
            Some(&before[(i - 1) * cols..])
        } else {
            None
        };
        match prev_row {
            Some(prev_row) => {
                p.pairs += 1.0;
                centre_row_lag(row, shift, s2, &mut p.lag[..cols], &prev_row[..cols]);
            }
            None => centre_row(row, shift, s2),
        }
    }
    p
}

// One row at a time through functions whose slice arguments cannot alias,
// so the loops vectorise.
#[inline(never)]
fn centre_row(row: &mut [f32], shift: &[f32], s2: &mut [f64]) {
    let n = row.len().min(shift.len()).min(s2.len());
    let (row, shift, s2) = (&mut row[..n], &shift[..n], &mut s2[..n]);
    for j in 0..n {
        let c = row[j] - shift[j];
        row[j] = c;
        let c = f64::from(c);
        s2[j] += c * c;
    }
}

#[inline(never)]
fn centre_row_lag(row: &mut [f32], shift: &[f32], s2: &mut [f64], lag: &mut [f64], prev: &[f32]) {
    let n = row
        .len()
        .min(shift.len())
        .min(s2.len())
        .min(lag.len())
        .min(prev.len());
    let (row, shift, s2, lag, prev) = (
        &mut row[..n],
        &shift[..n],
        &mut s2[..n],
        &mut lag[..n],
        &prev[..n],
    );
    for j in 0..n {
        let c = row[j] - shift[j];
        row[j] = c;
        let c = f64::from(c);
        s2[j] += c * c;
        lag[j] += c * f64::from(prev[j]);
    }
}

/// Centres the row-major block `data` (`rows × cols`) in place on its column
/// means, given the columns' f64 sums. When `lag` is given, the lag-1
/// products of consecutive rows of the same sequence (`seq`) are accumulated
/// in the same sweep. Row ranges are processed in parallel.
pub(crate) fn centre_in_place(
    data: &mut [f32],
    cols: usize,
    sums: &[f64],
    seq: &[u32],
    lag: Option<&mut LagStats>,
) -> BlockMoments {
    let rows = seq.len();
    let n = rows.max(1) as f64;
    let shift: Vec<f32> = sums.iter().map(|s| (s / n) as f32).collect();
    if cols == 0 || rows == 0 {
        return BlockMoments {
            rows,
            shift,
            resid: vec![0.0; cols],
            m2: vec![0.0; cols],
            scale: vec![1.0; cols],
        };
    }
    let mut lag = lag;
    let with_lag = lag.is_some();
    if let Some(l) = lag.as_deref_mut() {
        l.begin_block(data, cols, seq, &shift);
    }
    let pr = part_rows(rows);
    // The centred row before each range, computed from the raw row exactly
    // as the range that owns it will compute it.
    let prevs: Vec<Option<Vec<f32>>> = (0..rows.div_ceil(pr))
        .map(|p| {
            let start = p * pr;
            (with_lag && start > 0 && seq[start - 1] == seq[start]).then(|| {
                data[(start - 1) * cols..start * cols]
                    .iter()
                    .zip(&shift)
                    .map(|(&x, &sh)| x - sh)
                    .collect()
            })
        })
        .collect();
    let parts: Vec<PartSums> = data
        .par_chunks_mut(pr * cols)
        .zip(seq.par_chunks(pr))
        .zip(prevs.par_iter())
        .map(|((chunk, sq), prev)| centre_part(chunk, cols, &shift, sq, prev.as_deref(), with_lag))
        .collect();
    // Σ (x − shift) from the exact f64 sums; it differs from the sum of the
    // f32-rounded centred values only by their rounding, far below what
    // the f32 products contribute.
    let s1: Vec<f64> = sums
        .iter()
        .zip(&shift)
        .map(|(&s, &sh)| s - n * f64::from(sh))
        .collect();
    let mut s2 = vec![0.0_f64; cols];
    let mut block_prod = vec![0.0_f64; if with_lag { cols } else { 0 }];
    let mut pairs = 0.0;
    for p in parts {
        s2.iter_mut().zip(&p.s2).for_each(|(a, b)| *a += b);
        block_prod.iter_mut().zip(&p.lag).for_each(|(a, b)| *a += b);
        pairs += p.pairs;
    }
    if let Some(l) = lag {
        l.end_block(data, cols, seq, &shift, &s1, &block_prod, pairs);
    }
    let resid: Vec<f64> = s1.iter().map(|s| s / n).collect();
    let m2 = s2
        .iter()
        .zip(&resid)
        .map(|(s, r)| (s - n * r * r).max(0.0))
        .collect();
    // A column whose centred values are huge (|x| up to √Σx²) would
    // overflow the f32 products of the GEMM (1e38 × a hypothesis value is
    // infinite): divide it by a power of two, exactly, so that its values
    // stay below 2^50, and let the merge multiply the products back in f64.
    // Ordinary columns are left untouched (scale 1).
    let scale: Vec<f64> = s2
        .iter()
        .map(|&s| {
            let max = s.sqrt();
            if max > LARGEST {
                (max / LARGEST).log2().ceil().exp2()
            } else {
                1.0
            }
        })
        .collect();
    if scale.iter().any(|&k| k != 1.0) {
        let inv: Vec<f32> = scale.iter().map(|&k| (1.0 / k) as f32).collect();
        for row in data.chunks_exact_mut(cols) {
            for (v, &i) in row.iter_mut().zip(&inv) {
                *v *= i;
            }
        }
    }
    BlockMoments {
        rows,
        shift,
        resid,
        m2,
        scale,
    }
}

/// Column sums of a row-major block, in f64 (row ranges in parallel,
/// combined in a fixed order).
pub(crate) fn column_sums(data: &[f32], cols: usize) -> Vec<f64> {
    let mut sum = vec![0.0_f64; cols];
    if cols == 0 || data.is_empty() {
        return sum;
    }
    let pr = part_rows(data.len() / cols);
    let parts: Vec<Vec<f64>> = data
        .par_chunks(pr * cols)
        .map(|chunk| sum_part(chunk, cols))
        .collect();
    for p in parts {
        sum.iter_mut().zip(&p).for_each(|(a, b)| *a += b);
    }
    sum
}

#[inline(never)]
fn sum_part(chunk: &[f32], cols: usize) -> Vec<f64> {
    let mut s = vec![0.0_f64; cols];
    for row in chunk.chunks_exact(cols) {
        add_row(&mut s, row);
    }
    s
}

/// `sum += row` in f64.
#[inline(never)]
pub(crate) fn add_row(sum: &mut [f64], row: &[f32]) {
    for (s, &v) in sum.iter_mut().zip(row) {
        *s += f64::from(v);
    }
}

/// An owned, centred copy of a block (used where the input must be kept).
pub(crate) struct Centred {
    /// `rows × cols`: the input minus the block means, in f32.
    pub data: Array2<f32>,
    /// Its moments.
    pub m: BlockMoments,
}

impl Centred {
    /// Centres a copy of `x` (`rows × cols`) on its column means.
    pub fn new(x: ArrayView2<'_, f32>) -> Self {
        let (rows, cols) = x.dim();
        let mut flat: Vec<f32> = Vec::with_capacity(rows * cols);
        for row in x.rows() {
            flat.extend(row.iter().copied());
        }
        let sums = column_sums(&flat, cols);
        let seq = vec![0u32; rows];
        let m = centre_in_place(&mut flat, cols, &sums, &seq, None);
        let data = Array2::from_shape_vec((rows, cols), flat)
            .unwrap_or_else(|_| Array2::zeros((rows, cols)));
        Centred { data, m }
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
    pub fn merge(&mut self, c: &BlockMoments) {
        let nb = c.rows as f64;
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

    /// Adds one block given as owned centred copies.
    pub fn merge_centred(&mut self, a: &Centred, b: &Centred) {
        self.merge(a.data.view(), &a.m, b.data.view(), &b.m);
    }

    /// Adds one block: the same rows of `a` and `b`, both centred, with
    /// their moments.
    ///
    /// The block's cross-product is one f32 GEMM (`aᵀ·b`); matrixmultiply
    /// splits that product over threads by output tiles only, so every
    /// entry is summed in the same order whatever the thread count.
    pub fn merge(
        &mut self,
        a: ArrayView2<'_, f32>,
        ma: &BlockMoments,
        b: ArrayView2<'_, f32>,
        mb: &BlockMoments,
    ) {
        let rows = ma.rows;
        debug_assert_eq!(rows, mb.rows);
        if rows == 0 {
            return;
        }
        general_mat_mul(1.0, &a.t(), &b, 0.0, &mut self.scratch);
        let nb = rows as f64;
        let n = self.n + nb;
        let w = self.n * nb / n;
        let db: Vec<f64> = (0..self.mean_b.len())
            .map(|j| mb.mean(j) - self.mean_b[j])
            .collect();
        let mean_a = &self.mean_a;
        let resid_b = &mb.resid;
        let db_ref = &db;
        let scaled_b = mb.scale.iter().any(|&k| k != 1.0);
        let scale_b = &mb.scale;
        let update_row = |i: usize, crow: &mut [f64], srow: &[f32]| {
            let da = ma.mean(i) - mean_a[i];
            let ra = ma.resid[i] * nb;
            let wa = da * w;
            let ka = ma.scale.get(i).copied().unwrap_or(1.0);
            if ka == 1.0 && !scaled_b {
                for (((c, &s), &rb), &dbj) in crow.iter_mut().zip(srow).zip(resid_b).zip(db_ref) {
                    // Σ over the block of (a−ā_b)(b−b̄_b) = Σ data_a·data_b − n·resid_a·resid_b
                    *c += f64::from(s) - ra * rb + wa * dbj;
                }
            } else {
                for ((((c, &s), &rb), &dbj), &kb) in crow
                    .iter_mut()
                    .zip(srow)
                    .zip(resid_b)
                    .zip(db_ref)
                    .zip(scale_b)
                {
                    *c += f64::from(s) * ka * kb - ra * rb + wa * dbj;
                }
            }
        };
        let cols = self.mean_b.len();
        match (self.c.as_slice_mut(), self.scratch.as_slice()) {
            // Rows are independent: the result does not depend on the thread count.
            (Some(c), Some(s)) if cols > 0 => c
                .par_chunks_mut(cols)
                .zip(s.par_chunks(cols))
                .enumerate()
                .for_each(|(i, (crow, srow))| update_row(i, crow, srow)),
            _ => {
                for (i, (mut crow, srow)) in self
                    .c
                    .rows_mut()
                    .into_iter()
                    .zip(self.scratch.rows())
                    .enumerate()
                {
                    let srow: Vec<f32> = srow.to_vec();
                    let mut tmp: Vec<f64> = crow.to_vec();
                    update_row(i, &mut tmp, &srow);
                    crow.iter_mut().zip(tmp).for_each(|(c, t)| *c = t);
                }
            }
        }
        for (i, m) in self.mean_a.iter_mut().enumerate() {
            *m += (ma.mean(i) - *m) * nb / n;
        }
        for (j, m) in self.mean_b.iter_mut().enumerate() {
            *m += db[j] * nb / n;
        }
        self.n = n;
    }
}

/// Lag-1 autocovariance per column over consecutive rows of the same
/// sequence, accumulated around a fixed per-column reference (the first
/// block's mean) so no precision is lost to large offsets.
#[derive(Debug, Clone)]
pub(crate) struct LagStats {
    reference: Vec<f64>,
    prod: Vec<f64>,
    sum_a: Vec<f64>,
    sum_b: Vec<f64>,
    pairs: f64,
    /// Sequence and raw values of the previous block's last row.
    last: Option<(u32, Vec<f32>)>,
}

impl LagStats {
    pub fn new(cols: usize) -> Self {
        LagStats {
            reference: Vec::new(),
            prod: vec![0.0; cols],
            sum_a: vec![0.0; cols],
            sum_b: vec![0.0; cols],
            pairs: 0.0,
            last: None,
        }
    }

    /// Before centring: the pair that straddles two blocks (raw values), and
    /// the raw last row for the next block.
    fn begin_block(&mut self, data: &[f32], cols: usize, seq: &[u32], shift: &[f32]) {
        if self.reference.is_empty() {
            self.reference = shift.iter().map(|&s| f64::from(s)).collect();
        }
        let rows = seq.len();
        if rows == 0 {
            return;
        }
        if let Some((s, prev)) = self.last.take() {
            if s == seq[0] {
                for j in 0..cols {
                    let a = f64::from(prev[j]) - self.reference[j];
                    let b = f64::from(data[j]) - self.reference[j];
                    self.prod[j] += a * b;
                    self.sum_a[j] += a;
                    self.sum_b[j] += b;
                }
                self.pairs += 1.0;
            }
        }
        self.last = Some((seq[rows - 1], data[(rows - 1) * cols..rows * cols].to_vec()));
    }

    /// After centring: moves the block's pair sums (around the block shift)
    /// onto the fixed reference.
    #[allow(clippy::too_many_arguments)]
    fn end_block(
        &mut self,
        data: &[f32],
        cols: usize,
        seq: &[u32],
        shift: &[f32],
        s1: &[f64],
        block_prod: &[f64],
        pairs: f64,
    ) {
        let rows = seq.len();
        if pairs == 0.0 || rows == 0 {
            return;
        }
        // Σ over pairs of the first (second) element = Σ all − rows without
        // a successor (predecessor) inside the block.
        let mut a = s1.to_vec();
        let mut b = s1.to_vec();
        for i in 0..rows {
            let row = &data[i * cols..(i + 1) * cols];
            if i + 1 == rows || seq[i + 1] != seq[i] {
                for (x, &v) in a.iter_mut().zip(row) {
                    *x -= f64::from(v);
                }
            }
            if i == 0 || seq[i - 1] != seq[i] {
                for (x, &v) in b.iter_mut().zip(row) {
                    *x -= f64::from(v);
                }
            }
        }
        for j in 0..cols {
            let d = f64::from(shift[j]) - self.reference[j];
            self.prod[j] += block_prod[j] + d * (a[j] + b[j]) + pairs * d * d;
            self.sum_a[j] += a[j] + pairs * d;
            self.sum_b[j] += b[j] + pairs * d;
        }
        self.pairs += pairs;
    }

    /// Number of lag pairs seen.
    #[cfg(test)]
    pub fn pairs(&self) -> f64 {
        self.pairs
    }

    /// Mean lag-1 cross-product of column `j` around the global `mean`.
    pub fn autocov(&self, j: usize, mean: f64) -> f64 {
        if self.pairs == 0.0 || self.reference.is_empty() {
            return 0.0;
        }
        let d = self.reference[j] - mean;
        (self.prod[j] + d * (self.sum_a[j] + self.sum_b[j]) + self.pairs * d * d) / self.pairs
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
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
            co.merge_centred(&ca, &cb);
            sa.merge(&ca.m);
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
            let mut block = x[lo..hi].to_vec();
            let sums = column_sums(&block, 1);
            centre_in_place(&mut block, 1, &sums, &seq[lo..hi], Some(&mut lag));
        }
        assert_eq!(lag.pairs(), 3.0);
        // pairs (1,2) (2,3) (10,20) around mean 0: (2 + 6 + 200) / 3
        assert!((lag.autocov(0, 0.0) - 208.0 / 3.0).abs() < 1e-12);
    }
}
