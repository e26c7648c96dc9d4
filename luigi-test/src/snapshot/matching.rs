//! Matching units of two checkpoints: a cost matrix and an optimal
//! one-to-one assignment (the Hungarian method).

use ndarray::{Array2, ArrayView2};

/// Pearson correlation of every column of `a` with every column of `b`
/// (same rows): `a.ncols() × b.ncols()`. A constant column correlates 0.
pub(crate) fn cross_correlation(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Array2<f64> {
    let n = a.nrows().min(b.nrows());
    let standardise = |x: ArrayView2<'_, f32>| -> Array2<f64> {
        let mut z = Array2::<f64>::zeros((n, x.ncols()));
        for j in 0..x.ncols() {
            let col = x.column(j);
            let mean = col.iter().take(n).map(|&v| f64::from(v)).sum::<f64>() / n.max(1) as f64;
            let ss: f64 = col
                .iter()
                .take(n)
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum();
            let sd = ss.sqrt();
            if sd > 1e-12 * (1.0 + mean.abs()) * (n as f64).sqrt() {
                for i in 0..n {
                    z[[i, j]] = (f64::from(col[i]) - mean) / sd;
                }
            }
        }
        z
    };
    let za = standardise(a);
    let zb = standardise(b);
    za.t().dot(&zb)
}

/// An assignment of rows to columns minimising the total cost: `result[i]`
/// is the column of row `i`, `None` when there are more rows than columns
/// and row `i` is left over. Ties are broken towards lower indices, so the
/// result is deterministic.
pub(crate) fn hungarian(cost: &Array2<f64>) -> Vec<Option<usize>> {
    let (rows, cols) = cost.dim();
    if rows == 0 || cols == 0 {
        return vec![None; rows];
    }
    if rows > cols {
        let t = cost.t().to_owned();
        let by_col = hungarian(&t);
        let mut out = vec![None; rows];
        for (c, r) in by_col.into_iter().enumerate() {
            if let Some(r) = r {
                out[r] = Some(c);
            }
        }
        return out;
    }
    // rows ≤ cols: potentials u (rows), v (cols), 1-based with a virtual column 0.
    let (n, m) = (rows, cols);
    let inf = f64::INFINITY;
    let mut u = vec![0.0f64; n + 1];
    let mut v = vec![0.0f64; m + 1];
    let mut p = vec![0usize; m + 1];
    let mut way = vec![0usize; m + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0usize;
        let mut minv = vec![inf; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = inf;
            let mut j1 = 0usize;
            for j in 1..=m {
                if used[j] {
                    continue;
                }
                let cur = cost[[i0 - 1, j - 1]] - u[i0] - v[j];
                if cur < minv[j] {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if minv[j] < delta {
                    delta = minv[j];
                    j1 = j;
                }
            }
            if j1 == 0 {
                break;
            }
            for j in 0..=m {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut out = vec![None; n];
    for j in 1..=m {
        if p[j] != 0 {
            out[p[j] - 1] = Some(j - 1);
        }
    }
    out
}

/// Kendall's τ-b of two paired samples; `None` with fewer than 2 pairs or
/// when either sample is constant.
pub(crate) fn kendall_tau_b(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let (mut conc, mut disc, mut tx, mut ty) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let dx = (x[i] - x[j]).partial_cmp(&0.0);
            let dy = (y[i] - y[j]).partial_cmp(&0.0);
            match (dx, dy) {
                (Some(std::cmp::Ordering::Equal), Some(std::cmp::Ordering::Equal)) => {}
                (Some(std::cmp::Ordering::Equal), _) => tx += 1,
                (_, Some(std::cmp::Ordering::Equal)) => ty += 1,
                (a, b) if a == b => conc += 1,
                _ => disc += 1,
            }
        }
    }
    let denom = (((conc + disc + tx) * (conc + disc + ty)) as f64).sqrt();
    (denom > 0.0).then(|| (conc - disc) as f64 / denom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hungarian_finds_the_optimum() {
        // Greedy (row by row) would take 0→0 (cost 1) and then pay 10.
        let c = Array2::from_shape_vec((2, 2), vec![1.0, 2.0, 2.0, 10.0]).unwrap();
        assert_eq!(hungarian(&c), [Some(1), Some(0)]);
        let c = Array2::from_shape_vec((3, 3), vec![4.0, 1.0, 3.0, 2.0, 0.0, 5.0, 3.0, 2.0, 2.0])
            .unwrap();
        let a = hungarian(&c);
        let total: f64 = a.iter().enumerate().map(|(i, j)| c[[i, j.unwrap()]]).sum();
        assert_eq!(total, 5.0);
    }

    #[test]
    fn hungarian_handles_rectangles() {
        let c = Array2::from_shape_vec((3, 2), vec![5.0, 9.0, 1.0, 9.0, 9.0, 0.0]).unwrap();
        assert_eq!(hungarian(&c), [None, Some(0), Some(1)]);
        let c = Array2::from_shape_vec((1, 3), vec![3.0, 1.0, 2.0]).unwrap();
        assert_eq!(hungarian(&c), [Some(1)]);
    }

    #[test]
    fn permuted_columns_correlate_one_to_one() {
        let a = Array2::from_shape_fn((50, 3), |(i, j)| ((i * (j + 2)) % 7) as f32 + j as f32);
        let mut b = Array2::<f32>::zeros((50, 3));
        for (jb, ja) in [2usize, 0, 1].into_iter().enumerate() {
            b.column_mut(jb).assign(&a.column(ja));
        }
        let r = cross_correlation(a.view(), b.view());
        let cost = r.mapv(|x| -x.abs());
        assert_eq!(hungarian(&cost), [Some(1), Some(2), Some(0)]);
        assert!((r[[2, 0]] - 1.0).abs() < 1e-9);
    }

    #[test]
    fn kendall_tau_matches_hand_counts() {
        assert_eq!(kendall_tau_b(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), Some(1.0));
        assert_eq!(
            kendall_tau_b(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]),
            Some(-1.0)
        );
        // scipy.stats.kendalltau([1,2,3,4],[1,3,2,4]) = 0.6667
        let t = kendall_tau_b(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!((t - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(kendall_tau_b(&[1.0, 1.0], &[1.0, 2.0]), None);
    }
}
