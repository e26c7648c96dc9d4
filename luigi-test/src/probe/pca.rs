//! A 2-D projection of the rows on their first two principal components,
//! coloured by label: the data behind the paper's Figure 3b.
//!
//! Columns are standardised, the `units × units` covariance is formed, and
//! its top eigenvectors are found by block power (subspace) iteration with
//! a Rayleigh–Ritz step, solved by cyclic Jacobi rotations: no LAPACK, the
//! same numbers on every machine and thread count.

use ndarray::{Array1, Array2, ArrayView2, Axis, ShapeBuilder};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::labels::Labels;
use crate::error::{Error, Result};
use crate::numeric::eigen::jacobi_eigen;
use crate::numeric::rng::Rng;

/// Rows projected on the first two principal components of the
/// standardised activations.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// `rows × 2`: each row's coordinates on components 1 and 2.
    pub components: Array2<f32>,
    /// Variance along each component (eigenvalues of the covariance with
    /// `n − 1` in the denominator, like scikit-learn's `explained_variance_`).
    pub explained_variance: [f64; 2],
    /// Those variances as fractions of the total variance.
    pub explained_variance_ratio: [f64; 2],
    /// Unit loadings of each component, `units × 2` (sign fixed so that the
    /// largest loading is positive).
    pub loadings: Array2<f64>,
    /// Each row's class.
    pub labels: Vec<usize>,
    /// Class names, index = class.
    pub label_names: Vec<String>,
    /// Whether the power iteration met its tolerance (false only for a
    /// near-degenerate spectrum, where the components are ill-defined).
    pub converged: bool,
}

impl Serialize for Projection {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let points: Vec<[f32; 2]> = self
            .components
            .axis_iter(Axis(0))
            .map(|r| [r[0], r[1]])
            .collect();
        let loadings: Vec<[f64; 2]> = self
            .loadings
            .axis_iter(Axis(0))
            .map(|r| [r[0], r[1]])
            .collect();
        let mut s = serializer.serialize_struct("Projection", 7)?;
        s.serialize_field("components", &points)?;
        s.serialize_field("explained_variance", &self.explained_variance)?;
        s.serialize_field("explained_variance_ratio", &self.explained_variance_ratio)?;
        s.serialize_field("loadings", &loadings)?;
        s.serialize_field("labels", &self.labels)?;
        s.serialize_field("label_names", &self.label_names)?;
        s.serialize_field("converged", &self.converged)?;
        s.end()
    }
}

/// Projects the standardised rows of `activations` on their first two
/// principal components, keeping each row's label.
pub fn project(activations: ArrayView2<'_, f32>, labels: &Labels) -> Result<Projection> {
    let (n, u) = activations.dim();
    if n < 2 || u < 2 {
        return Err(Error::invalid(
            "probe::project",
            format!(
                "activations are {n} × {u}; a 2-D projection needs at least 2 rows and 2 units"
            ),
        ));
    }
    if labels.len() != n {
        return Err(Error::invalid(
            "probe::project",
            format!("{n} activation rows but {} labels", labels.len()),
        ));
    }
    if let Some((i, v)) = activations.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::invalid(
            "probe::project",
            format!(
                "activation at row {}, unit {} is {v}: the layer produced non-finite values",
                i / u,
                i % u
            ),
        ));
    }
    // Standardise (population variance, constant columns left at 0).
    let mut z = Array2::<f64>::zeros((n, u).f());
    for (j, mut col) in z.axis_iter_mut(Axis(1)).enumerate() {
        col.zip_mut_with(&activations.column(j), |a, b| *a = f64::from(*b));
        let mean = col.sum() / n as f64;
        let sd = (col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64).sqrt();
        let scale = if sd > 1e-12 * (1.0 + mean.abs()) {
            sd
        } else {
            1.0
        };
        col.mapv_inplace(|v| (v - mean) / scale);
    }
    let cov = z.t().dot(&z) / (n as f64 - 1.0);
    let total: f64 = cov.diag().sum();
    let (values, vectors, converged) = top_eigen(&cov, 2);
    let mut loadings = vectors;
    for mut col in loadings.axis_iter_mut(Axis(1)) {
        let mut arg = 0;
        for (i, v) in col.iter().enumerate() {
            if v.abs() > col[arg].abs() {
                arg = i;
            }
        }
        if col[arg] < 0.0 {
            col.mapv_inplace(|v| -v);
        }
    }
    let scores = z.dot(&loadings);
    let ratio = |v: f64| if total > 0.0 { v / total } else { 0.0 };
    Ok(Projection {
        components: scores.mapv(|v| v as f32),
        explained_variance: [values[0], values[1]],
        explained_variance_ratio: [ratio(values[0]), ratio(values[1])],
        loadings,
        labels: labels.values().to_vec(),
        label_names: labels.names().to_vec(),
        converged,
    })
}

/// The `k` largest eigenpairs of symmetric positive semi-definite `a`
/// (eigenvalues descending, eigenvectors as columns) and whether the
/// iteration converged.
pub(crate) fn top_eigen(a: &Array2<f64>, k: usize) -> (Vec<f64>, Array2<f64>, bool) {
    let n = a.nrows();
    // A block wider than k makes convergence depend on λ_{b+1}/λ_k, not λ_{k+1}/λ_k.
    let b = n.min(k + 6);
    let mut rng = Rng::new(0x9CA);
    let mut q = Array2::<f64>::from_shape_fn((n, b), |_| rng.normal());
    orthonormalise(&mut q);
    let mut prev: Vec<f64> = vec![f64::NAN; k];
    let scale = a
        .diag()
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(f64::MIN_POSITIVE);
    let max_iterations = if b == n { 1 } else { 5000 };
    let mut converged = false;
    let mut values = vec![0.0; b];
    for it in 0..max_iterations {
        let aq = a.dot(&q);
        // Rayleigh–Ritz: eigen-decompose the b×b projection, rotate the block.
        let t = q.t().dot(&aq);
        let (vals, vecs) = jacobi_eigen(&t);
        q = q.dot(&vecs);
        values = vals;
        // Residual of the wanted pairs.
        let aq_rot = aq.dot(&vecs);
        let mut residual: f64 = 0.0;
        for (j, value) in values.iter().enumerate().take(k) {
            let r = &aq_rot.column(j) - &(&q.column(j) * *value);
            residual = residual.max(r.dot(&r).sqrt());
        }
        let stable = (0..k).all(|j| (values[j] - prev[j]).abs() <= 1e-13 * scale);
        prev = values[..k].to_vec();
        if b == n || (residual <= 1e-9 * scale && stable) {
            converged = true;
            break;
        }
        if it + 1 < max_iterations {
            q = aq_rot;
            orthonormalise(&mut q);
        }
    }
    let vectors = q.slice_axis(Axis(1), ndarray::Slice::from(..k)).to_owned();
    (values[..k].to_vec(), vectors, converged)
}

/// Modified Gram–Schmidt on the columns of `q` (a column that collapses is
/// replaced by a unit basis vector orthogonalised against the others).
fn orthonormalise(q: &mut Array2<f64>) {
    let (n, b) = q.dim();
    for j in 0..b {
        for attempt in 0..=n {
            for i in 0..j {
                let qi = q.column(i).to_owned();
                let proj = qi.dot(&q.column(j));
                q.column_mut(j).scaled_add(-proj, &qi);
            }
            let norm = q.column(j).dot(&q.column(j)).sqrt();
            if norm > 1e-10 {
                q.column_mut(j).mapv_inplace(|v| v / norm);
                break;
            }
            let mut e = Array1::<f64>::zeros(n);
            e[attempt % n] = 1.0;
            q.column_mut(j).assign(&e);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn jacobi_diagonalises() {
        let t = array![[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 1.0]];
        let (vals, vecs) = jacobi_eigen(&t);
        assert!(vals[0] >= vals[1] && vals[1] >= vals[2]);
        for (j, value) in vals.iter().enumerate() {
            let r = t.dot(&vecs.column(j)) - &(&vecs.column(j) * *value);
            assert!(r.dot(&r).sqrt() < 1e-12, "{r}");
        }
        assert!((vals.iter().sum::<f64>() - 8.0).abs() < 1e-12);
    }

    #[test]
    fn power_iteration_finds_top_pairs_of_a_large_matrix() {
        // Known spectrum: A = Q diag(d) Qᵀ with Q from a Householder reflection.
        let n = 30;
        let d: Vec<f64> = (0..n).map(|i| 10.0 / (1.0 + i as f64)).collect();
        let w = Array1::from_shape_fn(n, |i| ((i * 7 % 11) as f64) - 5.0);
        let w = &w / w.dot(&w).sqrt();
        let h = Array2::<f64>::eye(n)
            - 2.0
                * &w.view()
                    .insert_axis(Axis(1))
                    .dot(&w.view().insert_axis(Axis(0)));
        let a = h.dot(&Array2::from_diag(&Array1::from(d.clone()))).dot(&h);
        let (vals, vecs, ok) = top_eigen(&a, 2);
        assert!(ok);
        assert!(
            (vals[0] - 10.0).abs() < 1e-9 && (vals[1] - 5.0).abs() < 1e-9,
            "{vals:?}"
        );
        // First eigenvector is ±column 0 of h.
        let dot = vecs.column(0).dot(&h.column(0)).abs();
        assert!((dot - 1.0).abs() < 1e-9);
    }

    #[test]
    fn projection_separates_two_clusters() {
        let n = 40;
        let x = Array2::from_shape_fn((n, 3), |(i, j)| {
            let c = if i < 20 { 1.0 } else { -1.0 };
            c * [3.0, 2.0, 0.0][j] + ((i * (j + 2)) % 5) as f32 * 0.1
        });
        let y: Vec<usize> = (0..n).map(|i| usize::from(i >= 20)).collect();
        let labels = Labels::from_classes(y, vec!["a".into(), "b".into()]).unwrap();
        let p = project(x.view(), &labels).unwrap();
        assert_eq!(p.components.dim(), (40, 2));
        let first = p.components.column(0);
        assert!(first
            .iter()
            .take(20)
            .all(|v| v.signum() == first[0].signum()));
        assert!(first
            .iter()
            .skip(20)
            .all(|v| v.signum() != first[0].signum()));
        assert!(p.explained_variance_ratio[0] > 0.6);
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains("\"components\":[["));
        assert!(project(
            x.view().slice_axis(Axis(1), ndarray::Slice::from(..1)),
            &labels
        )
        .is_err());
    }
}
