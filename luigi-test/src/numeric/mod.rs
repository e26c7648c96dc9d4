//! Numerical helpers shared by every layer: the seeded generator and a
//! small symmetric eigen-solver, Cholesky solves.

pub(crate) mod eigen;
pub(crate) mod linalg;
pub(crate) mod rng;

/// `x` rounded to `decimals` places (at most 15); `-0.0` becomes `0.0`, and
/// NaN and infinities stay as they are.
pub(crate) fn round_to(x: f64, decimals: u32) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(decimals.min(15) as i32);
    let r = (x * scale).round() / scale;
    if r == 0.0 {
        0.0
    } else {
        r
    }
}
