//! Logistic-regression probes on standardised features, fitted with
//! `linfa-logistic` 0.8 (L-BFGS from argmin). This is the only module that
//! names `linfa`; its types stay here.
//!
//! How linfa-logistic 0.8.1 is driven, and why (read from its source):
//! - Its objective is *summed* over rows, `Σ log-loss + ½·alpha·‖w‖²`, so
//!   `alpha = 1/C` is scikit-learn's objective. Its stopping rule is an
//!   absolute bound on the L2 norm of that summed gradient (default `1e-4`),
//!   which a sum over 50,000 rows never meets: every fit ran to the
//!   iteration cap. We hand it the columns scaled by `1/√n` with
//!   `alpha/n` (the same minimiser) and a gradient bound of `tolerance·√n`,
//!   which is exactly "L2 norm of the gradient of the *mean* objective below
//!   `tolerance`" (scikit-learn bounds the max-norm of that gradient by
//!   `tol = 1e-4`; the L2 norm is stricter). The scaling also conditions the
//!   problem like the mean loss, so L-BFGS's first unit-length step no longer
//!   overshoots by a factor `n`.
//! - linfa's own intercept cannot be scaled with the columns and leaves the
//!   problem ill-conditioned by a factor `n` (measured: 3-8x slower), so
//!   the intercept is a constant column and carries a penalty `½·alpha·b²`,
//!   `O(1/n)` next to the data term.
//! - Records go in as a column-major `f64` view: the gradient's `Xᵀ·r` then
//!   runs as contiguous dot products (5 ms instead of 33 ms at 40,000 × 128).
//!   `f32` halves the memory traffic but its summed cost (≈ 10⁴ with an ulp
//!   of 10⁻³) is too coarse for the line search near the optimum: measured
//!   fits that stall for hundreds of milliseconds.
//! - `initial_params` gives warm starts when a unit set grows by one unit.
//! - It has an L2 penalty only: no L1 path for unit selection (argmin's
//!   L-BFGS has an OWL-QN mode but linfa-logistic does not expose its solver).
//! - What it cannot be told, and what therefore bounds its speed: the cost
//!   and the gradient are separate callbacks (each computes `X·w`) and
//!   argmin's L-BFGS recomputes the gradient at the point its line search
//!   just accepted, so one iteration costs at least three `X·w` and two
//!   `Xᵀ·r` (scipy's L-BFGS-B: one of each); and `X·w` is an `n×1` matrix
//!   product that matrixmultiply answers by repacking `X` (≈ 2.5-5x a
//!   matrix-vector product).

use linfa::dataset::DatasetBase;
use linfa::traits::Fit;
use linfa_logistic::{LogisticRegression, MultiLogisticRegression};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, ShapeBuilder, Slice};

use crate::error::{Error, Result};

/// Solver settings shared by every fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FitOptions {
    /// L2 penalty (`1/C` in scikit-learn terms).
    pub alpha: f64,
    /// Bound on the L2 norm of the mean-loss gradient at which L-BFGS stops.
    pub tolerance: f64,
    /// Maximum number of L-BFGS iterations.
    pub max_iterations: u64,
}

/// Per-column centring and scaling fitted on training rows
/// (scikit-learn's `StandardScaler`: population variance, constant columns
/// left unscaled).
#[derive(Debug, Clone)]
pub(crate) struct Standardizer {
    mean: Vec<f64>,
    scale: Vec<f64>,
}

impl Standardizer {
    /// Fits on the columns of `x` (any layout).
    pub(crate) fn fit(x: ArrayView2<'_, f64>) -> Self {
        let n = x.nrows().max(1) as f64;
        let mut mean = Vec::with_capacity(x.ncols());
        let mut scale = Vec::with_capacity(x.ncols());
        for col in x.axis_iter(Axis(1)) {
            let m = col.iter().sum::<f64>() / n;
            let var = col.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n;
            let sd = var.sqrt();
            mean.push(m);
            // scikit-learn treats a variance below ~10·eps·mean² as zero.
            scale.push(if sd > 1e-12 * (1.0 + m.abs()) {
                sd
            } else {
                1.0
            });
        }
        Standardizer { mean, scale }
    }

    /// Standardises `x` in place with the fitted statistics.
    pub(crate) fn apply(&self, x: &mut Array2<f64>) {
        for (j, mut col) in x.axis_iter_mut(Axis(1)).enumerate() {
            let (m, s) = (self.mean[j], self.scale[j]);
            col.mapv_inplace(|v| (v - m) / s);
        }
    }
}

/// Copies columns `cols` of column-major `x` into a new column-major matrix.
pub(crate) fn select_columns(x: &Array2<f64>, cols: &[usize]) -> Array2<f64> {
    let mut out = Array2::<f64>::zeros((x.nrows(), cols.len()).f());
    for (k, &c) in cols.iter().enumerate() {
        out.column_mut(k).assign(&x.column(c));
    }
    out
}

/// A fitted probe in standardised feature space.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Model {
    /// The training rows held a single class.
    Constant {
        /// That class.
        class: usize,
    },
    /// Two classes: `positive` when `x·w + b ≥ 0`.
    Binary {
        weights: Array1<f64>,
        intercept: f64,
        positive: usize,
        negative: usize,
    },
    /// Three or more classes, softmax over `classes` (sorted).
    Multi {
        /// `features × classes`.
        weights: Array2<f64>,
        intercept: Array1<f64>,
        classes: Vec<usize>,
    },
}

/// What a fit reports besides the model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FitInfo {
    /// L2 norm of the gradient of the mean loss at the solution (in the
    /// solver's parametrisation); at most `tolerance` when it converged.
    pub gradient_norm: f64,
    /// Whether `gradient_norm <= tolerance`.
    pub converged: bool,
}

fn linfa_error(e: linfa_logistic::error::Error) -> Error {
    Error::invalid("logistic probe (linfa-logistic)", e.to_string())
}

/// The matrix handed to linfa: standardised columns and a constant column,
/// all multiplied by `1/√n` (see [`Model::fit`]).
fn solver_design(x: ArrayView2<'_, f64>, scale: f64) -> Array2<f64> {
    let (n, p) = x.dim();
    let mut d = Array2::<f64>::zeros((n, p + 1).f());
    for (mut dst, src) in d.axis_iter_mut(Axis(1)).zip(x.axis_iter(Axis(1))) {
        dst.zip_mut_with(&src, |a, b| *a = b * scale);
    }
    d.column_mut(p).fill(scale);
    d
}

impl Model {
    /// Fits a probe of `y` on the rows of `x` (standardised, ideally
    /// column-major). `warm`, when given, is a model fitted on the first
    /// `k ≤ x.ncols()` columns of the same rows and labels: its weights start
    /// the solver, the new columns at 0.
    ///
    /// linfa-logistic minimises `Σᵢ loss + ½·alpha·‖w‖²` (a sum over rows).
    /// Handing it the columns scaled by `s = 1/√n` with `alpha·s²` gives the
    /// same minimiser in `w` (`w = s·w'`) but a problem conditioned like the
    /// *mean* loss, so L-BFGS's first unit step is sensible instead of a
    /// jump of size `n` that the line search must undo. The intercept is a
    /// constant column (linfa's own intercept is not scaled and makes the
    /// problem ill-conditioned by a factor `n`); it therefore carries a
    /// penalty `½·alpha·b²`, negligible next to a sum over `n` rows.
    pub(crate) fn fit(
        x: ArrayView2<'_, f64>,
        y: &[usize],
        options: FitOptions,
        warm: Option<&Model>,
    ) -> Result<(Model, FitInfo)> {
        if x.nrows() != y.len() {
            return Err(Error::invalid(
                "logistic probe",
                format!("{} feature rows but {} labels", x.nrows(), y.len()),
            ));
        }
        if x.nrows() == 0 {
            return Err(Error::invalid(
                "logistic probe",
                "no training rows: the training split is empty",
            ));
        }
        let mut classes: Vec<usize> = y.to_vec();
        classes.sort_unstable();
        classes.dedup();
        if classes.len() < 2 {
            let info = FitInfo {
                gradient_norm: 0.0,
                converged: true,
            };
            return Ok((Model::Constant { class: classes[0] }, info));
        }
        let (n, p) = x.dim();
        let nf = n as f64;
        let s = 1.0 / nf.sqrt();
        let design = solver_design(x, s);
        let alpha = options.alpha / nf;
        let tolerance = options.tolerance * nf.sqrt();
        let targets = ArrayView1::from(y);
        let dataset = DatasetBase::new(design.view(), targets);
        let model = if classes.len() == 2 {
            let mut params = LogisticRegression::<f64>::default()
                .with_intercept(false)
                .alpha(alpha)
                .gradient_tolerance(tolerance)
                .max_iterations(options.max_iterations);
            if let Some(Model::Binary {
                weights,
                intercept,
                positive,
                ..
            }) = warm
            {
                // linfa makes the more frequent class the positive one.
                let sign = if *positive == majority_class(y, &classes) {
                    1.0
                } else {
                    -1.0
                };
                if weights.len() <= p {
                    let mut init = Array1::<f64>::zeros(p + 1);
                    for (dst, w) in init.iter_mut().zip(weights) {
                        *dst = sign * w / s;
                    }
                    init[p] = sign * intercept / s;
                    params = params.initial_params(init);
                }
            }
            let fitted = params.fit(&dataset).map_err(linfa_error)?;
            let labels = fitted.labels();
            let w = fitted.params();
            Model::Binary {
                weights: w.slice_axis(Axis(0), Slice::from(..p)).mapv(|v| v * s),
                intercept: w[p] * s,
                positive: labels.pos.class,
                negative: labels.neg.class,
            }
        } else {
            let mut params = MultiLogisticRegression::<f64>::default()
                .with_intercept(false)
                .alpha(alpha)
                .gradient_tolerance(tolerance)
                .max_iterations(options.max_iterations);
            if let Some(Model::Multi {
                weights,
                intercept,
                classes: warm_classes,
            }) = warm
            {
                if *warm_classes == classes && weights.nrows() <= p {
                    let mut init = Array2::<f64>::zeros((p + 1, classes.len()));
                    init.slice_axis_mut(Axis(0), Slice::from(..weights.nrows()))
                        .assign(&weights.mapv(|v| v / s));
                    init.row_mut(p).assign(&intercept.mapv(|v| v / s));
                    params = params.initial_params(init);
                }
            }
            let fitted = params.fit(&dataset).map_err(linfa_error)?;
            let w = fitted.params();
            Model::Multi {
                weights: w.slice_axis(Axis(0), Slice::from(..p)).mapv(|v| v * s),
                intercept: w.row(p).mapv(|v| v * s),
                classes: fitted.classes().to_vec(),
            }
        };
        // linfa stops when ‖∇_{w'}‖ = √n·‖∇_w (objective/n)‖ < tolerance·√n.
        let gradient_norm = model.mean_gradient_norm(x, y, options.alpha);
        let info = FitInfo {
            gradient_norm,
            converged: gradient_norm <= options.tolerance * (1.0 + 1e-6),
        };
        Ok((model, info))
    }

    /// Class scores `x·W + b`: one column per class of a multinomial model,
    /// one column (score of `positive`) for a binary one.
    fn logits(&self, x: ArrayView2<'_, f64>) -> Array2<f64> {
        let n = x.nrows();
        let (weights, intercept): (ArrayView2<'_, f64>, Vec<f64>) = match self {
            Model::Constant { .. } => return Array2::zeros((n, 0)),
            Model::Binary {
                weights, intercept, ..
            } => (weights.view().insert_axis(Axis(1)), vec![*intercept]),
            Model::Multi {
                weights, intercept, ..
            } => (weights.view(), intercept.to_vec()),
        };
        // Column-wise accumulation: contiguous for column-major `x`, and the
        // same summation order whatever the layout or thread count.
        let mut z = Array2::<f64>::zeros((n, intercept.len()).f());
        for (k, mut zk) in z.axis_iter_mut(Axis(1)).enumerate() {
            zk.fill(intercept[k]);
            for (col, w) in x.axis_iter(Axis(1)).zip(weights.column(k)) {
                zk.zip_mut_with(&col, |a, v| *a += w * v);
            }
        }
        z
    }

    /// The predicted class of every row of `x` (standardised like the training rows).
    pub(crate) fn predict(&self, x: ArrayView2<'_, f64>) -> Vec<usize> {
        match self {
            Model::Constant { class } => vec![*class; x.nrows()],
            Model::Binary {
                positive, negative, ..
            } => self
                .logits(x)
                .iter()
                .map(|&v| if v >= 0.0 { *positive } else { *negative })
                .collect(),
            Model::Multi { classes, .. } => self
                .logits(x)
                .axis_iter(Axis(0))
                .map(|row| {
                    let mut best = 0;
                    for k in 1..row.len() {
                        if row[k] > row[best] {
                            best = k;
                        }
                    }
                    classes[best]
                })
                .collect(),
        }
    }

    /// Per-row probability of every class in `classes` order (binary:
    /// `[negative, positive]`), with the model's class list.
    fn probabilities(&self, x: ArrayView2<'_, f64>) -> (Array2<f64>, Vec<usize>) {
        let z = self.logits(x);
        match self {
            Model::Constant { class } => (Array2::ones((x.nrows(), 1)), vec![*class]),
            Model::Binary {
                positive, negative, ..
            } => {
                let mut pr = Array2::<f64>::zeros((x.nrows(), 2));
                for (mut row, &zi) in pr.axis_iter_mut(Axis(0)).zip(z.iter()) {
                    let pp = 1.0 / (1.0 + (-zi).exp());
                    row[0] = 1.0 - pp;
                    row[1] = pp;
                }
                (pr, vec![*negative, *positive])
            }
            Model::Multi { classes, .. } => {
                let mut pr = z;
                for mut row in pr.axis_iter_mut(Axis(0)) {
                    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    row.mapv_inplace(|v| (v - max).exp());
                    let sum = row.sum();
                    row.mapv_inplace(|v| v / sum);
                }
                (pr, classes.clone())
            }
        }
    }

    /// Mean log-loss on `(x, y)` (lower is better); a class the model never
    /// saw gets probability 1e-15 (scikit-learn's clamp).
    pub(crate) fn log_loss(&self, x: ArrayView2<'_, f64>, y: &[usize]) -> f64 {
        if y.is_empty() {
            return 0.0;
        }
        let eps = 1e-15f64;
        let (pr, classes) = self.probabilities(x);
        let total: f64 = pr
            .axis_iter(Axis(0))
            .zip(y)
            .map(|(row, t)| {
                let p = classes.iter().position(|c| c == t).map_or(0.0, |k| row[k]);
                -p.clamp(eps, 1.0).ln()
            })
            .sum();
        total / y.len() as f64
    }

    /// L2 norm of the gradient of the solver's objective divided by `n`
    /// (`(Σ loss + ½·alpha·(‖w‖² + b²)) / n`), with respect to (w, b).
    fn mean_gradient_norm(&self, x: ArrayView2<'_, f64>, y: &[usize], alpha: f64) -> f64 {
        let n = y.len() as f64;
        let (pr, classes) = self.probabilities(x);
        // residual r = p − onehot(y), per class column.
        let mut r = pr;
        for (mut row, t) in r.axis_iter_mut(Axis(0)).zip(y) {
            if let Some(k) = classes.iter().position(|c| c == t) {
                row[k] -= 1.0;
            }
        }
        let (w, b): (Array2<f64>, Array1<f64>) = match self {
            Model::Constant { .. } => return 0.0,
            // Binary: the gradient of the logistic loss in the positive score
            // is p(positive) − [y = positive], column 1 of `r`.
            Model::Binary {
                weights, intercept, ..
            } => {
                let col = r.column(1).to_owned();
                r = col.insert_axis(Axis(1));
                (
                    weights.clone().insert_axis(Axis(1)),
                    Array1::from(vec![*intercept]),
                )
            }
            Model::Multi {
                weights, intercept, ..
            } => (weights.clone(), intercept.clone()),
        };
        let mut sq = 0.0;
        for k in 0..r.ncols() {
            let rk = r.column(k);
            for (j, col) in x.axis_iter(Axis(1)).enumerate() {
                let g = (col.dot(&rk) + alpha * w[[j, k]]) / n;
                sq += g * g;
            }
            let gb = (rk.sum() + alpha * b[k]) / n;
            sq += gb * gb;
        }
        sq.sqrt()
    }
}

fn majority_class(y: &[usize], classes: &[usize]) -> usize {
    // Mirrors linfa-logistic's choice: the more frequent class is positive;
    // on a tie, the class seen first.
    let count = |c: usize| y.iter().filter(|&&v| v == c).count();
    let (a, b) = (classes[0], classes[1]);
    let first = y.first().copied().unwrap_or(a);
    let (ca, cb) = (count(a), count(b));
    if ca > cb || (ca == cb && first == a) {
        a
    } else {
        b
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ndarray::array;

    /// A column-major `f64` matrix of `rows × columns`, filled by `value(row, j)`.
    fn gather(
        rows: &[usize],
        n_columns: usize,
        mut value: impl FnMut(usize, usize) -> f64,
    ) -> Array2<f64> {
        let mut x = Array2::<f64>::zeros((rows.len(), n_columns).f());
        for (j, mut col) in x.axis_iter_mut(Axis(1)).enumerate() {
            for (dst, &r) in col.iter_mut().zip(rows) {
                *dst = value(r, j);
            }
        }
        x
    }

    fn options() -> FitOptions {
        FitOptions {
            alpha: 1.0,
            tolerance: 1e-6,
            max_iterations: 200,
        }
    }

    #[test]
    fn standardizer_matches_population_moments() {
        let x = array![[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]];
        let s = Standardizer::fit(x.view());
        let mut y = x.clone();
        s.apply(&mut y);
        let sd = (8.0f64 / 3.0).sqrt();
        assert!((y[[0, 0]] + 2.0 / sd).abs() < 1e-12);
        // constant column: centred, not scaled
        assert_eq!(y.column(1).to_vec(), vec![0.0, 0.0, 0.0]);
    }

    #[test]
    fn binary_probe_separates_and_keeps_labels() {
        let x = gather(&(0..40).collect::<Vec<_>>(), 1, |r, _| {
            r as f64 / 10.0 - 2.0
        });
        let y: Vec<usize> = (0..40).map(|r| if r < 20 { 7 } else { 3 }).collect();
        let (m, info) = Model::fit(x.view(), &y, options(), None).unwrap();
        assert!(info.converged, "{info:?}");
        assert_eq!(m.predict(x.view()), y);
        assert!(m.log_loss(x.view(), &y) < 0.3);
    }

    #[test]
    fn multinomial_probe_and_warm_start_agree() {
        let n = 90;
        let rows: Vec<usize> = (0..n).collect();
        let x = gather(&rows, 2, |r, j| {
            let c = (r % 3) as f64;
            if j == 0 {
                c + 0.1 * ((r * 7 % 5) as f64)
            } else {
                ((r * 13) % 11) as f64 / 11.0
            }
        });
        let y: Vec<usize> = (0..n).map(|r| r % 3).collect();
        let (small, _) = Model::fit(select_columns(&x, &[0]).view(), &y, options(), None).unwrap();
        let (cold, _) = Model::fit(x.view(), &y, options(), None).unwrap();
        let (warm, _) = Model::fit(x.view(), &y, options(), Some(&small)).unwrap();
        let acc = |m: &Model| {
            m.predict(x.view())
                .iter()
                .zip(&y)
                .filter(|(a, b)| a == b)
                .count()
        };
        assert!(acc(&cold) >= 85, "{}", acc(&cold));
        assert_eq!(acc(&cold), acc(&warm));
        if let (Model::Multi { weights: a, .. }, Model::Multi { weights: b, .. }) = (&cold, &warm) {
            assert!((a - b).iter().all(|d| d.abs() < 1e-3), "{a} vs {b}");
        } else {
            panic!("expected multinomial models");
        }
    }

    #[test]
    fn single_class_gives_constant_model() {
        let x = gather(&[0, 1, 2], 1, |r, _| r as f64);
        let (m, _) = Model::fit(x.view(), &[4, 4, 4], options(), None).unwrap();
        assert_eq!(m, Model::Constant { class: 4 });
        assert_eq!(m.predict(x.view()), vec![4, 4, 4]);
    }

    #[test]
    fn binary_warm_start_with_minority_first_matches_cold() {
        let rows: Vec<usize> = (0..60).collect();
        let x = gather(&rows, 2, |r, j| {
            if j == 0 {
                (r % 4) as f64
            } else {
                ((r * 7) % 9) as f64
            }
        });
        let y: Vec<usize> = (0..60).map(|r| usize::from(r % 4 == 3)).collect();
        let (small, _) = Model::fit(select_columns(&x, &[0]).view(), &y, options(), None).unwrap();
        let (cold, _) = Model::fit(x.view(), &y, options(), None).unwrap();
        let (warm, _) = Model::fit(x.view(), &y, options(), Some(&small)).unwrap();
        assert_eq!(cold.predict(x.view()), warm.predict(x.view()));
    }
}
