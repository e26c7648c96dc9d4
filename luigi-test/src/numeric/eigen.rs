//! Eigenpairs of small symmetric matrices (PCA of a probe's units, the
//! read-out of `at_most` expectations).

use ndarray::Array2;

/// All eigenpairs of a small symmetric matrix by cyclic Jacobi rotations,
/// eigenvalues descending, eigenvectors as columns.
pub(crate) fn jacobi_eigen(t: &Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let n = t.nrows();
    let mut a = t.clone();
    let mut v = Array2::<f64>::eye(n);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[[i, j]] * a[[i, j]])
            .sum();
        let diag: f64 = (0..n).map(|i| a[[i, i]] * a[[i, i]]).sum();
        if off <= 1e-30 * diag.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..n {
            for r in p + 1..n {
                let apr = a[[p, r]];
                if apr == 0.0 {
                    continue;
                }
                let theta = (a[[r, r]] - a[[p, p]]) / (2.0 * apr);
                let tan = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let tan = if theta == 0.0 { 1.0 } else { tan };
                let c = 1.0 / (tan * tan + 1.0).sqrt();
                let s = tan * c;
                for k in 0..n {
                    let akp = a[[k, p]];
                    let akr = a[[k, r]];
                    a[[k, p]] = c * akp - s * akr;
                    a[[k, r]] = s * akp + c * akr;
                }
                for k in 0..n {
                    let apk = a[[p, k]];
                    let ark = a[[r, k]];
                    a[[p, k]] = c * apk - s * ark;
                    a[[r, k]] = s * apk + c * ark;
                }
                for k in 0..n {
                    let vkp = v[[k, p]];
                    let vkr = v[[k, r]];
                    v[[k, p]] = c * vkp - s * vkr;
                    v[[k, r]] = s * vkp + c * vkr;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[[j, j]].total_cmp(&a[[i, i]]).then(i.cmp(&j)));
    let values = order.iter().map(|&i| a[[i, i]]).collect();
    let mut vectors = Array2::<f64>::zeros((n, n));
    for (dst, &src) in order.iter().enumerate() {
        vectors.column_mut(dst).assign(&v.column(src));
    }
    (values, vectors)
}
