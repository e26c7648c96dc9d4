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
    fn scores(&self) -> usize {
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
    /// `alpha / n`.
    penalty: f64,
}

impl<'a> LogLoss<'a> {
    /// The objective for features `x` (any layout; column-major is used in
    /// place, others are copied) and `targets` (one per row), with L2
    /// penalty `alpha` on the summed loss.
    pub(crate) fn new(x: ArrayView2<'a, f64>, targets: Targets, alpha: f64) -> Self {
        let (rows, features) = x.dim();
        debug_assert_eq!(rows, targets.len());
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
            penalty: alpha / rows.max(1) as f64,
        }
    }

    fn column(&self, j: usize, from: usize, to: usize) -> &[f64] {
        &self.columns[j * self.rows + from..j * self.rows + to]
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
                    for (zi, &t) in z[..m].iter_mut().zip(&sign[start..end]) {
                        // loss = log(1 + e^u) with u = −t·z; ∂/∂z = −t·σ(u).
                        let u = -t * *zi;
                        let e = (-u.abs()).exp();
                        loss += u.max(0.0) + e.ln_1p();
                        let sigma = if u >= 0.0 {
                            1.0 / (1.0 + e)
                        } else {
                            e / (1.0 + e)
                        };
                        *zi = -t * sigma;
                    }
                }
                Targets::Multi { index, .. } => {
                    for (i, &yi) in index[start..end].iter().enumerate() {
                        let mut max = f64::NEG_INFINITY;
                        for c in 0..k {
                            max = max.max(z[c * BLOCK + i]);
                        }
                        // z_y − max, before z is overwritten (no underflow).
                        let zy = z[yi * BLOCK + i] - max;
                        let mut sum = 0.0;
                        for c in 0..k {
                            let e = (z[c * BLOCK + i] - max).exp();
                            z[c * BLOCK + i] = e;
                            sum += e;
                        }
                        // loss = log Σ e^{z_c} − z_y; ∂/∂z_c = softmax_c − [c = y].
                        loss += sum.ln() - zy;
                        for c in 0..k {
                            z[c * BLOCK + i] /= sum;
                        }
                        z[yi * BLOCK + i] -= 1.0;
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
        let inv_n = 1.0 / n.max(1) as f64;
        let mut squares = 0.0;
        for (g, &w) in gradient.iter_mut().zip(theta) {
            *g = *g * inv_n + self.penalty * w;
            squares += w * w;
        }
        loss * inv_n + 0.5 * self.penalty * squares
    }
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
