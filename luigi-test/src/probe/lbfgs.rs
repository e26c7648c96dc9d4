//! A small limited-memory BFGS minimiser with a strong-Wolfe line search,
//! written for the logistic probes ([`super::logistic`]).
//!
//! - The objective hands back its value and gradient from one call
//!   ([`Objective::evaluate`]), so one line-search trial costs one
//!   evaluation, and the point the line search accepts is never evaluated
//!   again.
//! - The search direction comes from the usual two-loop recursion over the
//!   last [`Settings::memory`] pairs `(s, y)`, with the initial inverse
//!   Hessian `γ·I`, `γ = sᵀy / yᵀy` of the newest pair (Nocedal & Wright,
//!   *Numerical Optimization*, 2nd ed., Algorithm 7.4 and eq. 7.20). A pair
//!   whose curvature `sᵀy` is not safely positive is dropped.
//! - The line search is Nocedal & Wright's Algorithm 3.5 (expand until the
//!   minimum along the ray is bracketed) with Algorithm 3.6 (zoom), trial
//!   steps from the cubic interpolating both ends' values and slopes, falling
//!   back to a quadratic and then to bisection when the cubic's minimiser is
//!   not safely inside the bracket. Constants `c₁ = 10⁻⁴`, `c₂ = 0.9`.
//! - It stops when the gradient's L2 norm is at most [`Settings::tolerance`],
//!   after [`Settings::max_iterations`] iterations, or when a line search
//!   can make no further progress (the objective is flat to rounding along
//!   the steepest-descent direction too).
//!
//! Everything is sequential and in a fixed order: the same objective and
//! start give the same iterates bit for bit.

use crate::error::{Error, Result};
use crate::numeric::linalg::{chol_solve, cholesky};

/// A differentiable function of a parameter vector.
pub(crate) trait Objective {
    /// Number of parameters.
    fn dimension(&self) -> usize;

    /// The value at `x`, with the gradient written into `gradient`
    /// (`gradient.len() == x.len()`). A non-finite value means "outside the
    /// domain" and makes the line search step back.
    fn evaluate(&self, x: &[f64], gradient: &mut [f64]) -> f64;
}

/// Stopping rule and memory of [`minimize`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Settings {
    /// Number of `(s, y)` pairs kept (scipy's default is 10).
    pub memory: usize,
    /// Stop when the L2 norm of the gradient is at most this.
    pub tolerance: f64,
    /// Stop after this many iterations (line searches).
    pub max_iterations: u64,
}

/// Where [`minimize`] stopped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Minimum {
    /// The last accepted point.
    pub x: Vec<f64>,
    /// The objective there.
    pub value: f64,
    /// L2 norm of the gradient there.
    pub gradient_norm: f64,
    /// Iterations (accepted line searches) run.
    pub iterations: u64,
    /// Calls to [`Objective::evaluate`].
    pub evaluations: u64,
}

/// A fixed approximation `H₀` of the objective's Hessian (say, a similar
/// problem's Hessian at its minimum), held as its Cholesky factor: the
/// solver starts its inverse-Hessian model from `H₀⁻¹` instead of a
/// multiple of the identity (preconditioned L-BFGS). With a close `H₀`, a
/// warm start needs a few iterations instead of dozens.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Preconditioner {
    factor: Vec<f64>,
    dimension: usize,
}

impl Preconditioner {
    /// From a symmetric `d × d` row-major `hessian`; `None` unless it is
    /// positive definite.
    pub(crate) fn new(hessian: &[f64], dimension: usize) -> Option<Self> {
        if hessian.len() != dimension * dimension {
            return None;
        }
        cholesky(hessian, dimension).map(|factor| Preconditioner { factor, dimension })
    }

    /// `H₀⁻¹·q`.
    fn apply(&self, q: &[f64]) -> Vec<f64> {
        chol_solve(&self.factor, self.dimension, q)
    }
}

/// Sufficient-decrease constant of the Wolfe conditions.
const C1: f64 = 1e-4;
/// Curvature constant of the strong Wolfe conditions.
const C2: f64 = 0.9;
/// Most objective evaluations one line search may spend.
const MAX_LINE_SEARCH: usize = 40;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    // Four interleaved partial sums (vectorises; fixed order).
    let mut acc = [0.0f64; 4];
    let (ca, ra) = a.split_at(a.len() - a.len() % 4);
    let (cb, rb) = b.split_at(ca.len());
    for (x, y) in ca.chunks_exact(4).zip(cb.chunks_exact(4)) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// One evaluated point on the search ray `x + step·d`.
#[derive(Debug, Clone)]
struct Trial {
    step: f64,
    value: f64,
    /// Directional derivative `∇f(x + step·d)·d`.
    slope: f64,
    x: Vec<f64>,
    gradient: Vec<f64>,
}

/// The minimiser of the cubic through `(a, fa, da)` and `(b, fb, db)`, if
/// it exists and is finite.
fn cubic_minimizer(a: f64, fa: f64, da: f64, b: f64, fb: f64, db: f64) -> Option<f64> {
    // Nocedal & Wright eq. 3.59.
    let d1 = da + db - 3.0 * (fa - fb) / (a - b);
    let disc = d1 * d1 - da * db;
    if disc.is_nan() || disc < 0.0 {
        return None;
    }
    let d2 = (b - a).signum() * disc.sqrt();
    let t = b - (b - a) * (db + d2 - d1) / (db - da + 2.0 * d2);
    t.is_finite().then_some(t)
}

/// The minimiser of the quadratic through `(a, fa)` with slope `da` and `(b, fb)`.
fn quadratic_minimizer(a: f64, fa: f64, da: f64, b: f64, fb: f64) -> Option<f64> {
    let h = b - a;
    let curvature = (fb - fa - da * h) / (h * h);
    if curvature.is_nan() || curvature <= 0.0 {
        return None;
    }
    let t = a - da / (2.0 * curvature);
    t.is_finite().then_some(t)
}

/// A trial step strictly inside the bracket `[lo, hi]` (either order):
/// cubic, else quadratic, else the midpoint; kept at least 10% of the
/// bracket away from both ends.
fn interpolate(lo: &Trial, hi: &Trial) -> f64 {
    let (a, b) = (lo.step, hi.step);
    let (left, right) = (a.min(b), a.max(b));
    let margin = 0.1 * (right - left);
    let inside = |t: f64| t >= left + margin && t <= right - margin;
    let cubic = if hi.value.is_finite() && hi.slope.is_finite() {
        cubic_minimizer(a, lo.value, lo.slope, b, hi.value, hi.slope)
    } else {
        None
    };
    if let Some(t) = cubic.filter(|&t| inside(t)) {
        return t;
    }
    let quadratic = if hi.value.is_finite() {
        quadratic_minimizer(a, lo.value, lo.slope, b, hi.value)
    } else {
        None
    };
    if let Some(t) = quadratic.filter(|&t| inside(t)) {
        return t;
    }
    0.5 * (a + b)
}

/// Line-search state shared by the bracketing and zoom phases.
struct Ray<'a, F: Objective> {
    objective: &'a F,
    x: &'a [f64],
    direction: &'a [f64],
    value: f64,
    slope: f64,
    evaluations: u64,
}

impl<F: Objective> Ray<'_, F> {
    fn trial(&mut self, step: f64) -> Trial {
        let x: Vec<f64> = self
            .x
            .iter()
            .zip(self.direction)
            .map(|(xi, di)| xi + step * di)
            .collect();
        let mut gradient = vec![0.0; x.len()];
        let value = self.objective.evaluate(&x, &mut gradient);
        self.evaluations += 1;
        let slope = dot(&gradient, self.direction);
        Trial {
            step,
            value: if value.is_finite() {
                value
            } else {
                f64::INFINITY
            },
            slope: if slope.is_finite() { slope } else { f64::NAN },
            x,
            gradient,
        }
    }

    fn sufficient_decrease(&self, t: &Trial) -> bool {
        t.value <= self.value + C1 * t.step * self.slope
    }

    fn curvature(&self, t: &Trial) -> bool {
        t.slope.abs() <= -C2 * self.slope
    }

    /// Strong-Wolfe search from `step`; `None` when no step decreased the
    /// objective. May return a point with sufficient decrease only, when the
    /// evaluation budget ran out or the bracket shrank to rounding.
    fn search(&mut self, mut step: f64) -> Option<Trial> {
        let origin = Trial {
            step: 0.0,
            value: self.value,
            slope: self.slope,
            x: Vec::new(),
            gradient: Vec::new(),
        };
        let mut previous = origin;
        let mut first = true;
        while (self.evaluations as usize) < MAX_LINE_SEARCH {
            let t = self.trial(step);
            if !self.sufficient_decrease(&t) || (!first && t.value >= previous.value) {
                return self.zoom(previous, t);
            }
            if self.curvature(&t) {
                return Some(t);
            }
            if t.slope >= 0.0 {
                return self.zoom(t, previous);
            }
            // Still descending: extrapolate, between 1.1x and 4x the step.
            let next = cubic_minimizer(
                previous.step,
                previous.value,
                previous.slope,
                t.step,
                t.value,
                t.slope,
            )
            .filter(|&s| s > t.step)
            .unwrap_or(2.0 * t.step)
            .clamp(1.1 * t.step, 4.0 * t.step);
            previous = t;
            first = false;
            step = next;
        }
        (previous.step > 0.0).then_some(previous)
    }

    /// Algorithm 3.6: `lo` satisfies sufficient decrease and has the lowest
    /// value seen; the minimum lies between `lo` and `hi`.
    fn zoom(&mut self, mut lo: Trial, mut hi: Trial) -> Option<Trial> {
        while (self.evaluations as usize) < MAX_LINE_SEARCH {
            let width = (hi.step - lo.step).abs();
            if width <= f64::EPSILON * lo.step.abs().max(hi.step.abs()) {
                break;
            }
            let step = interpolate(&lo, &hi);
            let t = self.trial(step);
            if !self.sufficient_decrease(&t) || t.value >= lo.value {
                hi = t;
            } else {
                if self.curvature(&t) {
                    return Some(t);
                }
                if t.slope * (hi.step - lo.step) >= 0.0 {
                    hi = lo;
                }
                lo = t;
            }
        }
        // Out of budget or bracket: the best point with sufficient decrease.
        (lo.step > 0.0 && lo.value < self.value).then_some(lo)
    }
}

/// The last `memory` curvature pairs, oldest first.
struct History {
    memory: usize,
    s: Vec<Vec<f64>>,
    y: Vec<Vec<f64>>,
    rho: Vec<f64>,
}

impl History {
    fn new(memory: usize) -> Self {
        History {
            memory: memory.max(1),
            s: Vec::new(),
            y: Vec::new(),
            rho: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.s.clear();
        self.y.clear();
        self.rho.clear();
    }

    fn is_empty(&self) -> bool {
        self.s.is_empty()
    }

    /// Adds `(s, y)` when its curvature is safely positive.
    fn push(&mut self, s: Vec<f64>, y: Vec<f64>) {
        let sy = dot(&s, &y);
        let yy = dot(&y, &y);
        if !sy.is_finite() || sy <= f64::EPSILON * yy {
            return;
        }
        if self.s.len() == self.memory {
            self.s.remove(0);
            self.y.remove(0);
            self.rho.remove(0);
        }
        self.s.push(s);
        self.y.push(y);
        self.rho.push(1.0 / sy);
    }

    /// `−H·g` by the two-loop recursion; the initial inverse Hessian is
    /// `H₀⁻¹` when preconditioned, else `γ·I`.
    fn direction(&self, g: &[f64], pre: Option<&Preconditioner>) -> Vec<f64> {
        let mut q = g.to_vec();
        let m = self.s.len();
        let mut a = vec![0.0; m];
        for i in (0..m).rev() {
            a[i] = self.rho[i] * dot(&self.s[i], &q);
            for (qj, yj) in q.iter_mut().zip(&self.y[i]) {
                *qj -= a[i] * yj;
            }
        }
        if let Some(p) = pre {
            // `H₀⁻¹`, scaled like `γ·I` is (γ = sᵀy / yᵀH₀⁻¹y): a start
            // Hessian far from the minimum's (a separable problem, where
            // the curvature fades) then only sets the shape, not the size.
            q = p.apply(&q);
            if let (Some(s), Some(y)) = (self.s.last(), self.y.last()) {
                let gamma = dot(s, y) / dot(y, &p.apply(y));
                if gamma.is_finite() && gamma > 0.0 {
                    q.iter_mut().for_each(|v| *v *= gamma);
                }
            }
        } else if let (Some(s), Some(y)) = (self.s.last(), self.y.last()) {
            let gamma = dot(s, y) / dot(y, y);
            q.iter_mut().for_each(|v| *v *= gamma);
        }
        for (((ai, rho), s), y) in a.iter().zip(&self.rho).zip(&self.s).zip(&self.y) {
            let b = rho * dot(y, &q);
            for (qj, sj) in q.iter_mut().zip(s) {
                *qj += (ai - b) * sj;
            }
        }
        q.iter_mut().for_each(|v| *v = -*v);
        q
    }
}

/// Minimises `objective` from `start`.
///
/// Errors when `start` has the wrong length or the objective or its
/// gradient is not finite there.
#[cfg(test)]
pub(crate) fn minimize<F: Objective>(
    objective: &F,
    start: Vec<f64>,
    settings: Settings,
) -> Result<Minimum> {
    minimize_preconditioned(objective, start, settings, None)
}

/// [`minimize`] with the inverse-Hessian model started from `pre`
/// (see [`Preconditioner`]); the first step is then the full step `−H₀⁻¹g`.
pub(crate) fn minimize_preconditioned<F: Objective>(
    objective: &F,
    start: Vec<f64>,
    settings: Settings,
    pre: Option<&Preconditioner>,
) -> Result<Minimum> {
    let n = objective.dimension();
    if start.len() != n {
        return Err(Error::invalid(
            "L-BFGS",
            format!("start has {} parameters, objective {n}", start.len()),
        ));
    }
    let pre = pre.filter(|p| p.dimension == n);
    let mut x = start;
    let mut g = vec![0.0; n];
    let mut value = objective.evaluate(&x, &mut g);
    let mut evaluations = 1u64;
    if !value.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid(
            "L-BFGS",
            "the objective or its gradient is not finite at the starting point",
        ));
    }
    let mut gradient_norm = norm(&g);
    let mut history = History::new(settings.memory);
    let mut iterations = 0u64;
    while gradient_norm > settings.tolerance && iterations < settings.max_iterations {
        let mut direction = history.direction(&g, pre);
        let mut slope = dot(&direction, &g);
        if slope.is_nan() || slope >= 0.0 {
            // Not a descent direction (rounding): restart from steepest descent.
            history.clear();
            direction = g.iter().map(|v| -v).collect();
            slope = -gradient_norm * gradient_norm;
        }
        // The first step of a fresh memory moves a unit distance at most;
        // afterwards the quasi-Newton step is scaled already (and so is a
        // preconditioned one: `H₀⁻¹g` is a Newton step).
        let step = if history.is_empty() && pre.is_none() {
            (1.0 / gradient_norm).min(1.0)
        } else {
            1.0
        };
        let mut ray = Ray {
            objective,
            x: &x,
            direction: &direction,
            value,
            slope,
            evaluations: 0,
        };
        let found = ray.search(step);
        evaluations += ray.evaluations;
        let Some(t) = found else {
            if history.is_empty() {
                // Not even steepest descent decreases the objective: it is
                // flat to rounding here.
                break;
            }
            history.clear();
            continue;
        };
        iterations += 1;
        let s: Vec<f64> = t.x.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = t.gradient.iter().zip(&g).map(|(a, b)| a - b).collect();
        history.push(s, y);
        x = t.x;
        g = t.gradient;
        value = t.value;
        gradient_norm = norm(&g);
        if !gradient_norm.is_finite() {
            return Err(Error::invalid(
                "L-BFGS",
                "the gradient became non-finite at an accepted point",
            ));
        }
    }
    Ok(Minimum {
        x,
        value,
        gradient_norm,
        iterations,
        evaluations,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// `Σ cᵢ (xᵢ − 1)²`: an ill-conditioned quadratic with minimum at 1.
    struct Quadratic(Vec<f64>);

    impl Objective for Quadratic {
        fn dimension(&self) -> usize {
            self.0.len()
        }
        fn evaluate(&self, x: &[f64], g: &mut [f64]) -> f64 {
            let mut f = 0.0;
            for ((gi, xi), ci) in g.iter_mut().zip(x).zip(&self.0) {
                f += ci * (xi - 1.0) * (xi - 1.0);
                *gi = 2.0 * ci * (xi - 1.0);
            }
            f
        }
    }

    /// The Rosenbrock function in `n` dimensions (minimum at 1).
    struct Rosenbrock(usize);

    impl Objective for Rosenbrock {
        fn dimension(&self) -> usize {
            self.0
        }
        fn evaluate(&self, x: &[f64], g: &mut [f64]) -> f64 {
            g.iter_mut().for_each(|v| *v = 0.0);
            let mut f = 0.0;
            for i in 0..x.len() - 1 {
                let a = x[i + 1] - x[i] * x[i];
                let b = 1.0 - x[i];
                f += 100.0 * a * a + b * b;
                g[i] += -400.0 * a * x[i] - 2.0 * b;
                g[i + 1] += 200.0 * a;
            }
            f
        }
    }

    fn settings(tolerance: f64, max_iterations: u64) -> Settings {
        Settings {
            memory: 10,
            tolerance,
            max_iterations,
        }
    }

    #[test]
    fn quadratic_converges() {
        let c: Vec<f64> = (0..50).map(|i| 1.0 + i as f64 * 20.0).collect();
        let m = minimize(&Quadratic(c), vec![0.0; 50], settings(1e-10, 500)).unwrap();
        assert!(m.gradient_norm <= 1e-10, "{m:?}");
        assert!(m.x.iter().all(|v| (v - 1.0).abs() < 1e-9));
    }

    #[test]
    fn rosenbrock_converges() {
        let start: Vec<f64> = (0..6)
            .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
            .collect();
        let m = minimize(&Rosenbrock(6), start, settings(1e-8, 1000)).unwrap();
        assert!(m.gradient_norm <= 1e-8, "{m:?}");
        assert!(m.x.iter().all(|v| (v - 1.0).abs() < 1e-6), "{m:?}");
        // a strong-Wolfe L-BFGS needs well under 100 iterations here
        assert!(m.iterations < 100, "{m:?}");
    }

    #[test]
    fn starts_at_the_minimum_and_rejects_bad_starts() {
        let m = minimize(&Quadratic(vec![1.0; 3]), vec![1.0; 3], settings(1e-6, 10)).unwrap();
        assert_eq!((m.iterations, m.evaluations), (0, 1));
        assert!(minimize(&Quadratic(vec![1.0; 3]), vec![1.0; 2], settings(1e-6, 10)).is_err());
        assert!(minimize(
            &Quadratic(vec![1.0; 3]),
            vec![f64::NAN; 3],
            settings(1e-6, 10)
        )
        .is_err());
    }

    #[test]
    fn respects_the_iteration_cap() {
        let m = minimize(
            &Rosenbrock(4),
            vec![-1.2, 1.0, -1.2, 1.0],
            settings(1e-12, 3),
        )
        .unwrap();
        assert_eq!(m.iterations, 3);
    }
}
