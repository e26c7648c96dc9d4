//! The probes' objective, value and gradient in one pass over the rows:
//! mean log-loss (binary logistic or multinomial softmax) plus
//! `½·(alpha/n)·‖θ‖²`, where `θ` holds every class's weights *and* its
//! intercept (the intercept is penalised like a weight on a constant column,
//! as the linfa-logistic path always did).
//!
//! The rows are read in blocks of [`BLOCK`] from column-major storage: per
//! block, `z = X_b·W + b` (one contiguous `axpy` per column and class), the
//! per-row loss and residual `r = ∂loss/∂z`, then `Xᵀ_b·r` (one contiguous dot
//! product per column and class) while the block is still in cache. So one
//! evaluation reads `X` from memory once, for both products.
//!
//! Blocks are grouped into tasks of [`TASK_ROWS`] rows that rayon may run in
//! parallel; each task sums its own blocks in order and the tasks' partial
//! sums are added in task order, so the result is the same bit for bit on
//! any number of threads.

use std::borrow::Cow;

use ndarray::ArrayView2;
use rayon::prelude::*;

use super::lbfgs::Objective;
use super::newton::SecondOrder;

/// Rows per block: 2 KiB per column, so a block of 128 columns (256 KiB)
/// stays in L2 between the forward and the backward product.
const BLOCK: usize = 256;
/// Rows per parallel task (a multiple of [`BLOCK`]); fixed, so the summation
/// order does not depend on the thread count.
const TASK_ROWS: usize = 16 * BLOCK;

/// What each row's label is, in the parametrisation's terms.
#[derive(Debug, Clone)]
pub(crate) enum Targets {
    /// One logistic score per row; `+1.0` for the positive class, `-1.0`
    /// otherwise.
    Binary(Vec<f64>),
    /// Softmax over `classes` scores; each row's class index.
    Multi {
        /// Number of classes (≥ 2).
        classes: usize,
        /// Index of every row's class.
        index: Vec<usize>,
    },
}

impl Targets {
    pub(crate) fn scores(&self) -> usize {
        match self {
            Targets::Binary(_) => 1,
            Targets::Multi { classes, .. } => *classes,
        }
    }

    fn len(&self) -> usize {
        match self {
            Targets::Binary(s) => s.len(),
            Targets::Multi { index, .. } => index.len(),
        }
    }
}

/// The penalised mean log-loss of a linear model on `rows × features`.
///
/// Parameters are laid out score by score: score `k` owns
/// `θ[k·(p+1) .. k·(p+1)+p]` (weights) and `θ[k·(p+1)+p]` (intercept).
pub(crate) struct LogLoss<'a> {
    /// The features, column-major (`column j = columns[j·n .. (j+1)·n]`).
    columns: Cow<'a, [f64]>,
    rows: usize,
    features: usize,
    targets: Targets,
    /// Per-row weights (a row of weight `w` counts as `w` copies of it);
    /// `None`: every row once.
    weights: Option<&'a [f64]>,
    /// `Σ weights` (or the row count): the `n` of the mean.
    total: f64,
    /// `alpha / total`.
    penalty: f64,
}

impl<'a> LogLoss<'a> {
    /// The objective for features `x` (any layout; column-major is used in
    /// place, others are copied) and `targets` (one per row), with L2
    /// penalty `alpha` on the summed loss.
    #[cfg(test)]
    pub(crate) fn new(x: ArrayView2<'a, f64>, targets: Targets, alpha: f64) -> Self {
        Self::weighted(x, targets, None, alpha)
    }

    /// [`LogLoss::new`] with a weight per row (`weights.len()` rows, each
    /// positive): the objective of the data with each row repeated its
    /// weight's number of times, without repeating it.
    pub(crate) fn weighted(
        x: ArrayView2<'a, f64>,
        targets: Targets,
        weights: Option<&'a [f64]>,
        alpha: f64,
    ) -> Self {
        let (rows, features) = x.dim();
        debug_assert_eq!(rows, targets.len());
        debug_assert!(weights.is_none_or(|w| w.len() == rows));
        let total = weights.map_or(rows.max(1) as f64, |w| w.iter().sum::<f64>());
        // Column-major `x` is row-major `xᵀ`: borrowed when contiguous.
        let xt = x.reversed_axes();
        let columns = match xt.to_slice() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(xt.iter().copied().collect()),
        };
        LogLoss {
            columns,
            rows,
            features,
            targets,
            weights,
            total,
            penalty: alpha / total,
        }
    }

    fn column(&self, j: usize, from: usize, to: usize) -> &[f64] {
        &self.columns[j * self.rows + from..j * self.rows + to]
    }

    /// The penalty term `½·(alpha/n)·‖θ‖²` of the objective at `theta`.
    pub(crate) fn penalty_at(&self, theta: &[f64]) -> f64 {
        0.5 * self.penalty * theta.iter().map(|t| t * t).sum::<f64>()
    }

    /// The weight of row `i` (1 when unweighted: multiplying by 1 is exact,
    /// so an unweighted objective is unchanged to the bit).
    #[inline(always)]
    fn weight(&self, i: usize) -> f64 {
        self.weights.map_or(1.0, |w| w[i])
    }

    /// Summed loss and summed loss gradient of rows `from..to`.
    fn partial(&self, theta: &[f64], from: usize, to: usize) -> (f64, Vec<f64>) {
        let p = self.features;
        let k = self.targets.scores();
        let stride = p + 1;
        let mut gradient = vec![0.0; k * stride];
        let mut loss = 0.0;
        let mut z = vec![0.0; k * BLOCK];
        let mut start = from;
        while start < to {
            let end = (start + BLOCK).min(to);
            let m = end - start;
            for (c, zc) in z.chunks_exact_mut(BLOCK).enumerate() {
                zc[..m].fill(theta[c * stride + p]);
            }
            for j in 0..p {
                let col = self.column(j, start, end);
                for (c, zc) in z.chunks_exact_mut(BLOCK).enumerate() {
                    axpy(&mut zc[..m], theta[c * stride + j], col);
                }
            }
            // Scores become residuals r = ∂loss/∂z in place.
            match &self.targets {
                Targets::Binary(sign) => {
                    for (i, (zi, &t)) in z[..m].iter_mut().zip(&sign[start..end]).enumerate() {
                        let weight = self.weight(start + i);
                        let (row_loss, sigma) = binary_row(t, *zi, true);
                        loss += weight * row_loss;
                        *zi = -t * sigma * weight;
                    }
                }
                Targets::Multi { index, .. } => {
                    for (i, &yi) in index[start..end].iter().enumerate() {
                        // ∂/∂z_c = softmax_c − [c = y].
                        let weight = self.weight(start + i);
                        loss += weight * softmax_row(&mut z, i, k, yi, true);
                        z[yi * BLOCK + i] -= 1.0;
                        for c in 0..k {
                            z[c * BLOCK + i] *= weight;
                        }
                    }
                }
            }
            for j in 0..p {
                let col = self.column(j, start, end);
                for (c, zc) in z.chunks_exact(BLOCK).enumerate() {
                    gradient[c * stride + j] += dot(col, &zc[..m]);
                }
            }
            for (c, zc) in z.chunks_exact(BLOCK).enumerate() {
                gradient[c * stride + p] += zc[..m].iter().sum::<f64>();
            }
            start = end;
        }
        (loss, gradient)
    }
}

impl LogLoss<'_> {
    /// [`SecondOrder::evaluate_second_order`] for one feature and two
    /// classes (the unit-set search's single-unit probes): one loop over the
    /// rows with five running sums, in row order.
    fn single_binary(
        &self,
        sign: &[f64],
        theta: &[f64],
        gradient: &mut [f64],
        hessian: &mut [f64],
        value: bool,
    ) -> f64 {
        let (w, b) = (theta[0], theta[1]);
        let x = &self.columns[..self.rows];
        let (mut g0, mut g1, mut h00, mut h01, mut h11, mut loss) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        for (i, (&xi, &t)) in x.iter().zip(sign).enumerate() {
            let weight = self.weight(i);
            let (row_loss, sigma) = binary_row(t, b + w * xi, value);
            if value {
                loss += weight * row_loss;
            }
            let r = -t * sigma * weight;
            let c = sigma * (1.0 - sigma) * weight;
            g0 += r * xi;
            g1 += r;
            let cx = c * xi;
            h00 += cx * xi;
            h01 += cx;
            h11 += c;
        }
        let inv_n = 1.0 / self.total;
        gradient[0] = g0 * inv_n + self.penalty * w;
        gradient[1] = g1 * inv_n + self.penalty * b;
        hessian[0] = h00 * inv_n + self.penalty;
        hessian[1] = h01 * inv_n;
        hessian[2] = h01 * inv_n;
        hessian[3] = h11 * inv_n + self.penalty;
        if value {
            loss * inv_n + 0.5 * self.penalty * (w * w + b * b)
        } else {
            f64::NAN
        }
    }
}

impl LogLoss<'_> {
    /// The Hessian at `θ = 0` (row-major `d × d`): every row then has the
    /// same curvature (binary `¼`; softmax `δ_ce/k − 1/k²`), so it is that
    /// `k × k` matrix times the Gram matrix `X̃ᵀX̃/n` (`x̃ = (x, 1)`, rows
    /// weighted), plus the penalty: one matrix product, whatever the number
    /// of classes. `None` if the stored columns do not form a matrix.
    pub(crate) fn hessian_at_zero(&self) -> Option<Vec<f64>> {
        use ndarray::{linalg::general_mat_mul, Array2, Axis};
        let p = self.features;
        let k = self.targets.scores();
        let stride = p + 1;
        let d = k * stride;
        let n = self.rows;
        let xt = ArrayView2::from_shape((p, n), &self.columns[..]).ok()?;
        let mut gram = Array2::<f64>::zeros((p, p));
        let side: Vec<f64> = match self.weights {
            None => {
                general_mat_mul(1.0, &xt, &xt.t(), 0.0, &mut gram);
                xt.rows().into_iter().map(|r| r.sum()).collect()
            }
            Some(w) => {
                let mut scaled = xt.to_owned();
                scaled *= &ndarray::ArrayView1::from(w).insert_axis(Axis(0));
                general_mat_mul(1.0, &xt, &scaled.t(), 0.0, &mut gram);
                scaled.rows().into_iter().map(|r| r.sum()).collect()
            }
        };
        let inv_n = 1.0 / self.total;
        let g = |a: usize, b: usize| -> f64 {
            match (a < p, b < p) {
                (true, true) => gram[[a, b]],
                (true, false) => side[a],
                (false, true) => side[b],
                (false, false) => self.total,
            }
        };
        let m = |c: usize, e: usize| -> f64 {
            match self.targets {
                Targets::Binary(_) => 0.25,
                Targets::Multi { classes, .. } => {
                    let kf = classes as f64;
                    (if c == e { 1.0 / kf } else { 0.0 }) - 1.0 / (kf * kf)
                }
            }
        };
        let mut hessian = vec![0.0; d * d];
        for c in 0..k {
            for e in 0..k {
                let mce = m(c, e);
                for a in 0..stride {
                    for b in 0..stride {
                        hessian[(c * stride + a) * d + e * stride + b] = mce * g(a, b) * inv_n;
                    }
                }
            }
        }
        for j in 0..d {
            hessian[j * d + j] += self.penalty;
        }
        Some(hessian)
    }

    /// The Hessian at `theta` (row-major `d × d`), from matrix products:
    /// for many features, where [`SecondOrder`]'s per-pair dot products
    /// would be slow. `None` if the stored columns do not form a matrix.
    pub(crate) fn hessian(&self, theta: &[f64]) -> Option<Vec<f64>> {
        use ndarray::{linalg::general_mat_mul, Array1, Array2, Axis};
        let p = self.features;
        let k = self.targets.scores();
        let stride = p + 1;
        let d = k * stride;
        let n = self.rows;
        if theta.len() != d {
            return None;
        }
        // `xt` is features × rows (the column-major storage, read as rows).
        let xt = ArrayView2::from_shape((p, n), &self.columns[..]).ok()?;
        let scores: Vec<Array1<f64>> = (0..k)
            .map(|c| {
                let th = &theta[c * stride..(c + 1) * stride];
                let mut z = xt.t().dot(&ndarray::ArrayView1::from(&th[..p]));
                z.mapv_inplace(|v| v + th[p]);
                z
            })
            .collect();
        // Per-row curvature W_ce (upper triangle c ≤ e), times the row weight.
        let mut curvature: Vec<Array1<f64>> = Vec::with_capacity(k * (k + 1) / 2);
        match &self.targets {
            Targets::Binary(_) => {
                let w = Array1::from_shape_fn(n, |i| {
                    let sigma = 1.0 / (1.0 + (-scores[0][i]).exp());
                    sigma * (1.0 - sigma) * self.weight(i)
                });
                curvature.push(w);
            }
            Targets::Multi { .. } => {
                let mut prob = Array2::<f64>::zeros((k, n));
                for i in 0..n {
                    let max = (0..k)
                        .map(|c| scores[c][i])
                        .fold(f64::NEG_INFINITY, f64::max);
                    let mut sum = 0.0;
                    for c in 0..k {
                        let e = (scores[c][i] - max).exp();
                        prob[[c, i]] = e;
                        sum += e;
                    }
                    for c in 0..k {
                        prob[[c, i]] /= sum;
                    }
                }
                for c in 0..k {
                    for e in c..k {
                        curvature.push(Array1::from_shape_fn(n, |i| {
                            let diag = if c == e { prob[[c, i]] } else { 0.0 };
                            (diag - prob[[c, i]] * prob[[e, i]]) * self.weight(i)
                        }));
                    }
                }
            }
        }
        let inv_n = 1.0 / self.total;
        let mut hessian = vec![0.0; d * d];
        let mut scaled = Array2::<f64>::zeros((p, n));
        let mut block = Array2::<f64>::zeros((p, p));
        let mut ce = 0;
        for c in 0..k {
            for e in c..k {
                let w = &curvature[ce];
                ce += 1;
                scaled.assign(&xt);
                scaled *= &w.view().insert_axis(Axis(0));
                general_mat_mul(1.0, &xt, &scaled.t(), 0.0, &mut block);
                let side: Vec<f64> = scaled.rows().into_iter().map(|r| r.sum()).collect();
                let corner = w.sum();
                let value = |a: usize, b: usize| -> f64 {
                    match (a < p, b < p) {
                        (true, true) => block[[a, b]],
                        (true, false) => side[a],
                        (false, true) => side[b],
                        (false, false) => corner,
                    }
                };
                for a in 0..stride {
                    for b in 0..stride {
                        let v = value(a, b) * inv_n;
                        hessian[(c * stride + a) * d + e * stride + b] = v;
                        hessian[(e * stride + b) * d + c * stride + a] = v;
                    }
                }
            }
        }
        for j in 0..d {
            hessian[j * d + j] += self.penalty;
        }
        Some(hessian)
    }
}

impl Objective for LogLoss<'_> {
    fn dimension(&self) -> usize {
        self.targets.scores() * (self.features + 1)
    }

    fn evaluate(&self, theta: &[f64], gradient: &mut [f64]) -> f64 {
        let n = self.rows;
        let tasks = n.div_ceil(TASK_ROWS).max(1);
        let partials: Vec<(f64, Vec<f64>)> = (0..tasks)
            .into_par_iter()
            .map(|t| self.partial(theta, t * TASK_ROWS, ((t + 1) * TASK_ROWS).min(n)))
            .collect();
        let mut loss = 0.0;
        gradient.iter_mut().for_each(|g| *g = 0.0);
        for (l, g) in &partials {
            loss += l;
            for (dst, v) in gradient.iter_mut().zip(g) {
                *dst += v;
            }
        }
        let inv_n = 1.0 / self.total;
        let mut squares = 0.0;
        for (g, &w) in gradient.iter_mut().zip(theta) {
            *g = *g * inv_n + self.penalty * w;
            squares += w * w;
        }
        loss * inv_n + 0.5 * self.penalty * squares
    }
}

impl SecondOrder for LogLoss<'_> {
    fn dimension(&self) -> usize {
        self.targets.scores() * (self.features + 1)
    }

    /// In blocks of rows, like [`Objective::evaluate`]: per block the scores
    /// `z`, the residuals `r = ∂loss/∂z` and the curvatures `W = ∂²loss/∂z²`
    /// (binary: `σ(1 − σ)`; softmax: `diag(p) − ppᵀ`), then the gradient
    /// `Σ r_c·x̃_a` and the Hessian `Σ W_ce·x̃_a·x̃_b` (with `x̃ = (x, 1)`) as
    /// contiguous dot products. Sequential, in row order.
    fn evaluate_second_order(
        &self,
        theta: &[f64],
        gradient: &mut [f64],
        hessian: &mut [f64],
        value: bool,
    ) -> f64 {
        if let (1, Targets::Binary(sign)) = (self.features, &self.targets) {
            return self.single_binary(sign, theta, gradient, hessian, value);
        }
        let p = self.features;
        let k = self.targets.scores();
        let stride = p + 1;
        let d = k * stride;
        let n = self.rows;
        let pairs = stride * (stride + 1) / 2;
        let curvatures = k * (k + 1) / 2;
        let mut sums = vec![0.0; curvatures * pairs];
        let mut g = vec![0.0; d];
        let mut z = vec![0.0; k * BLOCK];
        let mut w = vec![0.0; curvatures * BLOCK];
        let mut products = vec![0.0; BLOCK];
        let mut loss = 0.0;
        let ones = [1.0; BLOCK];
        let mut start = 0;
        while start < n {
            let end = (start + BLOCK).min(n);
            let m = end - start;
            for (c, zc) in z.chunks_exact_mut(BLOCK).enumerate() {
                zc[..m].fill(theta[c * stride + p]);
                for j in 0..p {
                    axpy(
                        &mut zc[..m],
                        theta[c * stride + j],
                        self.column(j, start, end),
                    );
                }
            }
            match &self.targets {
                Targets::Binary(sign) => {
                    for (i, ((zi, wi), &t)) in z[..m]
                        .iter_mut()
                        .zip(&mut w[..m])
                        .zip(&sign[start..end])
                        .enumerate()
                    {
                        let weight = self.weight(start + i);
                        let (row_loss, sigma) = binary_row(t, *zi, value);
                        if value {
                            loss += weight * row_loss;
                        }
                        *zi = -t * sigma * weight;
                        *wi = sigma * (1.0 - sigma) * weight;
                    }
                }
                Targets::Multi { index, .. } => {
                    for (i, &yi) in index[start..end].iter().enumerate() {
                        let weight = self.weight(start + i);
                        let row_loss = softmax_row(&mut z, i, k, yi, value);
                        if value {
                            loss += weight * row_loss;
                        }
                        let mut at = 0;
                        for c in 0..k {
                            let pc = z[c * BLOCK + i];
                            for e in c..k {
                                let diag = if c == e { pc } else { 0.0 };
                                w[at * BLOCK + i] = (diag - pc * z[e * BLOCK + i]) * weight;
                                at += 1;
                            }
                        }
                        z[yi * BLOCK + i] -= 1.0;
                        for c in 0..k {
                            z[c * BLOCK + i] *= weight;
                        }
                    }
                }
            }
            let col = |a: usize| -> &[f64] {
                if a < p {
                    self.column(a, start, end)
                } else {
                    &ones[..m]
                }
            };
            for (c, zc) in z.chunks_exact(BLOCK).enumerate() {
                for a in 0..stride {
                    g[c * stride + a] += dot(col(a), &zc[..m]);
                }
            }
            let mut pair = 0;
            for a in 0..stride {
                for b in a..stride {
                    for ((dst, xa), xb) in products[..m].iter_mut().zip(col(a)).zip(col(b)) {
                        *dst = xa * xb;
                    }
                    for (ce, wce) in w.chunks_exact(BLOCK).enumerate() {
                        sums[ce * pairs + pair] += dot(&wce[..m], &products[..m]);
                    }
                    pair += 1;
                }
            }
            start = end;
        }
        let inv_n = 1.0 / self.total;
        let mut squares = 0.0;
        for ((dst, gv), &t) in gradient.iter_mut().zip(&g).zip(theta) {
            *dst = gv * inv_n + self.penalty * t;
            squares += t * t;
        }
        hessian.iter_mut().for_each(|v| *v = 0.0);
        let mut ce = 0;
        for c in 0..k {
            for e in c..k {
                let mut pair = 0;
                for a in 0..stride {
                    for b in a..stride {
                        let v = sums[ce * pairs + pair] * inv_n;
                        pair += 1;
                        let (ca, cb) = (c * stride + a, c * stride + b);
                        let (ea, eb) = (e * stride + a, e * stride + b);
                        hessian[ca * d + eb] = v;
                        hessian[eb * d + ca] = v;
                        hessian[cb * d + ea] = v;
                        hessian[ea * d + cb] = v;
                    }
                }
                ce += 1;
            }
        }
        for j in 0..d {
            hessian[j * d + j] += self.penalty;
        }
        if value {
            loss * inv_n + 0.5 * self.penalty * squares
        } else {
            f64::NAN
        }
    }
}

/// One row of the binary loss at score `z` and sign `t`: the loss
/// `log(1 + e^u)` with `u = −t·z` (0 unless `value`) and `σ(u)`, so that
/// `∂loss/∂z = −t·σ(u)` and `∂²loss/∂z² = σ(u)·(1 − σ(u))`.
#[inline]
fn binary_row(t: f64, z: f64, value: bool) -> (f64, f64) {
    let u = -t * z;
    let e = (-u.abs()).exp();
    let loss = if value { u.max(0.0) + e.ln_1p() } else { 0.0 };
    let sigma = if u >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    };
    (loss, sigma)
}

/// Turns the `k` scores of row `i` of a block (`z[c·BLOCK + i]`) into the
/// softmax probabilities in place; returns the row's loss
/// `log Σ e^{z_c} − z_y` (0 unless `value`).
#[inline]
fn softmax_row(z: &mut [f64], i: usize, k: usize, y: usize, value: bool) -> f64 {
    let mut max = f64::NEG_INFINITY;
    for c in 0..k {
        max = max.max(z[c * BLOCK + i]);
    }
    // z_y − max, before z is overwritten (no underflow).
    let zy = z[y * BLOCK + i] - max;
    let mut sum = 0.0;
    for c in 0..k {
        let e = (z[c * BLOCK + i] - max).exp();
        z[c * BLOCK + i] = e;
        sum += e;
    }
    let loss = if value { sum.ln() - zy } else { 0.0 };
    for c in 0..k {
        z[c * BLOCK + i] /= sum;
    }
    loss
}

/// `y += a·x`.
fn axpy(y: &mut [f64], a: f64, x: &[f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// `x·y` with eight interleaved partial sums (vectorises; fixed order).
fn dot(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let split = n - n % 8;
    let mut acc = [0.0f64; 8];
    for (a, b) in x[..split].chunks_exact(8).zip(y[..split].chunks_exact(8)) {
        for l in 0..8 {
            acc[l] += a[l] * b[l];
        }
    }
    let mut tail = 0.0;
    for (a, b) in x[split..n].iter().zip(&y[split..n]) {
        tail += a * b;
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ndarray::{Array2, ShapeBuilder};

    fn data(n: usize, p: usize) -> Array2<f64> {
        Array2::from_shape_fn((n, p).f(), |(i, j)| {
            (((i * 31 + j * 17) % 23) as f64 - 11.0) / 7.0
        })
    }

    /// The gradient matches central differences of the value.
    fn check_gradient(loss: &LogLoss<'_>, theta: &[f64]) {
        let mut g = vec![0.0; theta.len()];
        loss.evaluate(theta, &mut g);
        let mut scratch = vec![0.0; theta.len()];
        for i in 0..theta.len() {
            let h = 1e-6;
            let mut plus = theta.to_vec();
            plus[i] += h;
            let mut minus = theta.to_vec();
            minus[i] -= h;
            let fd = (loss.evaluate(&plus, &mut scratch) - loss.evaluate(&minus, &mut scratch))
                / (2.0 * h);
            assert!((fd - g[i]).abs() < 1e-7, "θ[{i}]: {fd} vs {}", g[i]);
        }
    }

    #[test]
    fn binary_gradient_is_the_derivative() {
        let n = 700; // more than one block, a partial last block
        let x = data(n, 3);
        let signs = (0..n)
            .map(|i| if i % 3 == 0 { 1.0 } else { -1.0 })
            .collect();
        let loss = LogLoss::new(x.view(), Targets::Binary(signs), 0.5);
        check_gradient(&loss, &[0.3, -0.2, 0.1, 0.05]);
    }

    #[test]
    fn multinomial_gradient_is_the_derivative() {
        let n = 5000; // more than one task
        let x = data(n, 2);
        let index = (0..n).map(|i| (i * 7) % 3).collect();
        let loss = LogLoss::new(x.view(), Targets::Multi { classes: 3, index }, 2.0);
        check_gradient(&loss, &[0.3, -0.2, 0.1, 0.05, 0.4, -0.3, -0.1, 0.2, 0.0]);
    }

    /// The second-order pass agrees with the first-order one and its
    /// Hessian is the derivative of its gradient.
    fn check_hessian(loss: &LogLoss<'_>, theta: &[f64]) {
        let d = theta.len();
        let (mut g1, mut g2, mut h) = (vec![0.0; d], vec![0.0; d], vec![0.0; d * d]);
        let v1 = loss.evaluate(theta, &mut g1);
        let v2 = loss.evaluate_second_order(theta, &mut g2, &mut h, true);
        assert!((v1 - v2).abs() < 1e-12, "{v1} vs {v2}");
        for (a, b) in g1.iter().zip(&g2) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        let (mut gp, mut gm, mut scratch) = (vec![0.0; d], vec![0.0; d], vec![0.0; d * d]);
        for j in 0..d {
            let step = 1e-6;
            let mut plus = theta.to_vec();
            plus[j] += step;
            let mut minus = theta.to_vec();
            minus[j] -= step;
            loss.evaluate_second_order(&plus, &mut gp, &mut scratch, false);
            loss.evaluate_second_order(&minus, &mut gm, &mut scratch, false);
            for i in 0..d {
                let fd = (gp[i] - gm[i]) / (2.0 * step);
                assert!(
                    (fd - h[i * d + j]).abs() < 1e-7,
                    "H[{i},{j}]: {fd} vs {}",
                    h[i * d + j]
                );
            }
        }
    }

    #[test]
    fn hessians_are_the_derivative_of_the_gradient() {
        let n = 700;
        let x = data(n, 2);
        let signs = (0..n)
            .map(|i| if i % 3 == 0 { 1.0 } else { -1.0 })
            .collect();
        let binary = LogLoss::new(x.view(), Targets::Binary(signs), 0.5);
        check_hessian(&binary, &[0.3, -0.2, 0.1]);
        // One feature: the dedicated loop.
        let one = data(n, 1);
        let signs = (0..n).map(|i| if i % 5 < 2 { 1.0 } else { -1.0 }).collect();
        let single = LogLoss::new(one.view(), Targets::Binary(signs), 0.5);
        check_hessian(&single, &[0.7, -0.4]);
        let index = (0..n).map(|i| (i * 7) % 3).collect();
        let multi = LogLoss::new(x.view(), Targets::Multi { classes: 3, index }, 2.0);
        check_hessian(&multi, &[0.3, -0.2, 0.1, 0.05, 0.4, -0.3, -0.1, 0.2, 0.0]);
    }

    #[test]
    fn matrix_product_hessian_matches_the_row_by_row_one() {
        let n = 900;
        let x = data(n, 3);
        let one = data(n, 1);
        let weights: Vec<f64> = (0..n).map(|i| 1.0 + (i % 3) as f64).collect();
        let signs = (0..n)
            .map(|i| if i % 4 == 0 { 1.0 } else { -1.0 })
            .collect();
        let index = (0..n).map(|i| (i * 5) % 3).collect();
        let cases = [
            (
                LogLoss::weighted(x.view(), Targets::Binary(signs), Some(&weights), 0.7),
                vec![0.3, -0.2, 0.1, 0.05],
            ),
            (
                LogLoss::weighted(x.view(), Targets::Multi { classes: 3, index }, None, 1.5),
                (0..12).map(|i| (i as f64 - 5.0) / 10.0).collect(),
            ),
            (
                LogLoss::weighted(
                    one.view(),
                    Targets::Binary(
                        (0..n)
                            .map(|i| if i % 3 == 0 { 1.0 } else { -1.0 })
                            .collect(),
                    ),
                    Some(&weights),
                    0.7,
                ),
                vec![0.5, -0.25],
            ),
        ];
        for (loss, theta) in &cases {
            let d = theta.len();
            let (mut g, mut rows) = (vec![0.0; d], vec![0.0; d * d]);
            loss.evaluate_second_order(theta, &mut g, &mut rows, false);
            let gemm = loss.hessian(theta).unwrap();
            for (a, b) in rows.iter().zip(&gemm) {
                assert!((a - b).abs() < 1e-12, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn hessian_at_zero_is_the_hessian_at_zero() {
        let n = 600;
        let x = data(n, 3);
        let weights: Vec<f64> = (0..n).map(|i| 1.0 + (i % 4) as f64).collect();
        let signs: Vec<f64> = (0..n)
            .map(|i| if i % 3 == 0 { 1.0 } else { -1.0 })
            .collect();
        let index: Vec<usize> = (0..n).map(|i| (i * 7) % 4).collect();
        let cases = [
            LogLoss::weighted(x.view(), Targets::Binary(signs.clone()), None, 0.5),
            LogLoss::weighted(x.view(), Targets::Binary(signs), Some(&weights), 0.5),
            LogLoss::weighted(
                x.view(),
                Targets::Multi { classes: 4, index },
                Some(&weights),
                2.0,
            ),
        ];
        for loss in &cases {
            let zero = vec![0.0; SecondOrder::dimension(loss)];
            let general = loss.hessian(&zero).unwrap();
            let fast = loss.hessian_at_zero().unwrap();
            for (a, b) in general.iter().zip(&fast) {
                assert!((a - b).abs() < 1e-12, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn weights_count_as_repeated_rows() {
        let x = data(40, 2);
        let weights: Vec<f64> = (0..40).map(|i| (i % 3 + 1) as f64).collect();
        let mut repeated = Vec::new();
        let mut signs_rep = Vec::new();
        let signs: Vec<f64> = (0..40)
            .map(|i| if i % 5 < 2 { 1.0 } else { -1.0 })
            .collect();
        for i in 0..40 {
            for _ in 0..weights[i] as usize {
                repeated.push([x[[i, 0]], x[[i, 1]]]);
                signs_rep.push(signs[i]);
            }
        }
        let xr = Array2::from_shape_fn((repeated.len(), 2).f(), |(i, j)| repeated[i][j]);
        let a = LogLoss::weighted(x.view(), Targets::Binary(signs), Some(&weights), 1.0);
        let b = LogLoss::new(xr.view(), Targets::Binary(signs_rep), 1.0);
        let theta = [0.4, -0.3, 0.2];
        let (mut ga, mut gb) = (vec![0.0; 3], vec![0.0; 3]);
        let (va, vb) = (a.evaluate(&theta, &mut ga), b.evaluate(&theta, &mut gb));
        assert!((va - vb).abs() < 1e-12, "{va} vs {vb}");
        for (p, q) in ga.iter().zip(&gb) {
            assert!((p - q).abs() < 1e-12, "{p} vs {q}");
        }
    }

    #[test]
    fn layout_does_not_change_the_value() {
        let x = data(300, 4);
        let rows = x.as_standard_layout().to_owned();
        let signs: Vec<f64> = (0..300)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let a = LogLoss::new(x.view(), Targets::Binary(signs.clone()), 1.0);
        let b = LogLoss::new(rows.view(), Targets::Binary(signs), 1.0);
        let theta = [0.1, 0.2, -0.3, 0.4, 0.5];
        let (mut ga, mut gb) = (vec![0.0; 5], vec![0.0; 5]);
        assert_eq!(a.evaluate(&theta, &mut ga), b.evaluate(&theta, &mut gb));
        assert_eq!(ga, gb);
    }
}
