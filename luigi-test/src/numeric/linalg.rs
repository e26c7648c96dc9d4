//! Small dense linear algebra on row-major `m × m` slices: Cholesky
//! factor and solves, used by the least-squares read-out of `at_most`.

/// Lower Cholesky factor of a symmetric positive-definite `m × m` matrix.
pub(crate) fn cholesky(a: &[f64], m: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..=i {
            let mut s = a[i * m + j];
            for k in 0..j {
                s -= l[i * m + k] * l[j * m + k];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * m + i] = s.sqrt();
            } else {
                l[i * m + j] = s / l[j * m + j];
            }
        }
    }
    Some(l)
}

pub(crate) fn chol_solve(l: &[f64], m: usize, b: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; m];
    for i in 0..m {
        let s: f64 = (0..i).map(|k| l[i * m + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * m + i];
    }
    upper_solve_lt(l, m, &y)
}

/// Solves `Lᵀ x = y`.
pub(crate) fn upper_solve_lt(l: &[f64], m: usize, y: &[f64]) -> Vec<f64> {
    let mut x = vec![0.0; m];
    for i in (0..m).rev() {
        let s: f64 = (i + 1..m).map(|k| l[k * m + i] * x[k]).sum();
        x[i] = (y[i] - s) / l[i * m + i];
    }
    x
}

/// `L⁻¹ B` for a square `B` (row-major), column by column.
pub(crate) fn lower_solve_cols(l: &[f64], m: usize, b: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; m * m];
    for c in 0..m {
        for i in 0..m {
            let s: f64 = (0..i).map(|k| l[i * m + k] * out[k * m + c]).sum();
            out[i * m + c] = (b[i * m + c] - s) / l[i * m + i];
        }
    }
    out
}

pub(crate) fn transpose(a: &[f64], m: usize) -> Vec<f64> {
    let mut t = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..m {
            t[j * m + i] = a[i * m + j];
        }
    }
    t
}
