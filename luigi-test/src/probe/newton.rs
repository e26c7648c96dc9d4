//! Newton's method with a backtracking line search, for probes with few
//! parameters (a unit or a handful of units): the single-unit fits that
//! order the units for the unit-set sweep, and the first sizes of the sweep.
//!
//! The objective is the same penalised mean log-loss as L-BFGS minimises
//! ([`super::loss::LogLoss`]), strictly convex because of the L2 penalty, so
//! both reach the same minimiser; Newton gets there in a few passes over the
//! rows (quadratic convergence) where L-BFGS on a two-parameter problem
//! spends several times as many. The stopping rule is L-BFGS's: the L2 norm
//! of the gradient at most the tolerance.
//!
//! [`minimize`] gives up (returns `None`) when the Hessian is not safely
//! positive definite, a line search finds no decrease, or the iteration
//! budget runs out; the caller then runs L-BFGS, so a fit never ends worse
//! than before.
//!
//! Everything is sequential and in a fixed order: the same objective and
//! start give the same iterates bit for bit.

use super::lbfgs::Settings;
use crate::numeric::linalg::{chol_solve, cholesky};

/// Largest parameter count handed to Newton (the Hessian is dense,
/// `d × d`, accumulated per row).
pub(crate) const MAX_DIMENSION: usize = 24;

/// Sufficient-decrease constant of the backtracking line search.
const C1: f64 = 1e-4;
/// Most halvings of the step in one line search.
const MAX_BACKTRACK: usize = 30;

/// An objective that also hands back its Hessian.
pub(crate) trait SecondOrder {
    /// Number of parameters.
    fn dimension(&self) -> usize;

    /// The gradient at `x` written into `gradient` and the Hessian into
    /// `hessian` (row-major `d × d`); the value at `x` is returned when
    /// `value` is true (else NaN: most steps need no value, and the value
    /// costs a logarithm per row).
    fn evaluate_second_order(
        &self,
        x: &[f64],
        gradient: &mut [f64],
        hessian: &mut [f64],
        value: bool,
    ) -> f64;
}

/// Where [`minimize`] stopped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Solution {
    /// The point.
    pub x: Vec<f64>,
    /// L2 norm of the gradient there (at most the tolerance).
    pub gradient_norm: f64,
    /// Newton steps taken.
    pub iterations: u64,
    /// The objective at `x`, when the last pass computed it (it is asked
    /// for once the gradient is within `√tolerance`, where the next full
    /// step usually finishes).
    pub value: Option<f64>,
}

fn norm(a: &[f64]) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// Minimises `objective` from `start` by Newton's method; `None` when it
/// cannot finish (see the module docs).
///
/// A full Newton step is taken when it shrinks the gradient's norm (no
/// value needed). Otherwise the step is halved until the value decreases
/// enough (Armijo, `c₁ = 10⁻⁴`) or, near the minimum where the decrease is
/// below rounding, until the value does not rise and the gradient shrinks.
pub(crate) fn minimize<F: SecondOrder>(
    objective: &F,
    start: Vec<f64>,
    settings: Settings,
) -> Option<Solution> {
    let d = objective.dimension();
    if d == 0 || start.len() != d {
        return None;
    }
    let mut x = start;
    let mut gradient = vec![0.0; d];
    let mut hessian = vec![0.0; d * d];
    // The value at `x`, once some step needed it.
    let mut value: Option<f64> = None;
    objective.evaluate_second_order(&x, &mut gradient, &mut hessian, false);
    let mut trial_gradient = vec![0.0; d];
    let mut trial_hessian = vec![0.0; d * d];
    let mut iterations = 0u64;
    loop {
        let gradient_norm = norm(&gradient);
        if !gradient_norm.is_finite() {
            return None;
        }
        if gradient_norm <= settings.tolerance {
            return Some(Solution {
                x,
                gradient_norm,
                iterations,
                value,
            });
        }
        if iterations >= settings.max_iterations {
            return None;
        }
        let factor = cholesky(&hessian, d)?;
        let negative: Vec<f64> = gradient.iter().map(|g| -g).collect();
        let direction = chol_solve(&factor, d, &negative);
        let slope: f64 = direction.iter().zip(&gradient).map(|(a, b)| a * b).sum();
        if slope.is_nan() || slope >= 0.0 {
            return None;
        }
        let at = |step: f64| -> Vec<f64> {
            x.iter()
                .zip(&direction)
                .map(|(xi, di)| xi + step * di)
                .collect()
        };
        let full = at(1.0);
        let near = gradient_norm <= settings.tolerance.sqrt();
        let v =
            objective.evaluate_second_order(&full, &mut trial_gradient, &mut trial_hessian, near);
        let accepted = if norm(&trial_gradient) < gradient_norm && (!near || v.is_finite()) {
            Some((full, near.then_some(v)))
        } else {
            let current = match value {
                Some(v) => v,
                None => objective.evaluate_second_order(
                    &x,
                    &mut vec![0.0; d],
                    &mut vec![0.0; d * d],
                    true,
                ),
            };
            if !current.is_finite() {
                return None;
            }
            let mut step = 1.0;
            let mut found = None;
            for _ in 0..MAX_BACKTRACK {
                let trial = at(step);
                let v = objective.evaluate_second_order(
                    &trial,
                    &mut trial_gradient,
                    &mut trial_hessian,
                    true,
                );
                let decrease = v <= current + C1 * step * slope;
                let flat = v <= current && norm(&trial_gradient) < gradient_norm;
                if v.is_finite() && (decrease || flat) {
                    found = Some((trial, Some(v)));
                    break;
                }
                step *= 0.5;
            }
            found
        };
        let (next, next_value) = accepted?;
        x = next;
        value = next_value;
        std::mem::swap(&mut gradient, &mut trial_gradient);
        std::mem::swap(&mut hessian, &mut trial_hessian);
        iterations += 1;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// `f(x) = Σ aᵢ·(xᵢ − cᵢ)² + ε·(Σ xᵢ)⁴`, convex with a known gradient and Hessian.
    struct Bowl {
        a: Vec<f64>,
        c: Vec<f64>,
    }

    impl SecondOrder for Bowl {
        fn dimension(&self) -> usize {
            self.a.len()
        }
        fn evaluate_second_order(&self, x: &[f64], g: &mut [f64], h: &mut [f64], _: bool) -> f64 {
            let d = x.len();
            let s: f64 = x.iter().sum();
            let eps = 0.01;
            h.iter_mut().for_each(|v| *v = 12.0 * eps * s * s);
            let mut f = eps * s.powi(4);
            for i in 0..d {
                f += self.a[i] * (x[i] - self.c[i]).powi(2);
                g[i] = 2.0 * self.a[i] * (x[i] - self.c[i]) + 4.0 * eps * s.powi(3);
                h[i * d + i] += 2.0 * self.a[i];
            }
            f
        }
    }

    #[test]
    fn reaches_the_tolerance_in_few_iterations() {
        let bowl = Bowl {
            a: vec![1.0, 10.0, 0.1],
            c: vec![1.0, -2.0, 3.0],
        };
        let settings = Settings {
            memory: 0,
            tolerance: 1e-10,
            max_iterations: 50,
        };
        let m = minimize(&bowl, vec![0.0; 3], settings).unwrap();
        assert!(m.gradient_norm <= 1e-10);
        assert!(m.iterations < 20, "{} iterations", m.iterations);
    }

    #[test]
    fn gives_up_on_a_budget_it_cannot_meet() {
        let bowl = Bowl {
            a: vec![1.0, 10.0],
            c: vec![5.0, -5.0],
        };
        let settings = Settings {
            memory: 0,
            tolerance: 1e-12,
            max_iterations: 0,
        };
        assert!(minimize(&bowl, vec![0.0; 2], settings).is_none());
    }
}
