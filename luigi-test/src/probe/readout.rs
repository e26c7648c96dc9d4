//! `at_most(k)`: a linear read-out of a few units, chosen greedily on
//! training sequences and evaluated on held-out ones (see the module docs
//! of [`super`]).

use ndarray::{Array2, ArrayView2};

use crate::error::{Error, Result};
use crate::hypothesis::HypothesisKind;
use crate::numeric::eigen::jacobi_eigen;
use crate::numeric::linalg::{chol_solve, cholesky, lower_solve_cols, transpose, upper_solve_lt};
use crate::probe::split::readout_split as split;

/// Rows per block when accumulating moments (f64, bounded memory).
const BLOCK: usize = 4096;

/// What the read-out found.
#[derive(Debug, Clone)]
pub(crate) struct Readout {
    /// Chosen units (column indices), in the order they were added.
    pub units: Vec<usize>,
    /// In-sample fit (R², or η² for categorical) of each prefix.
    pub train_fit: Vec<f64>,
    /// Training rows.
    pub train_rows: usize,
    /// `test rows × units.len()`: column `j` is the read-out of the first
    /// `j + 1` chosen units on the held-out rows.
    pub columns: Array2<f32>,
    /// The hypothesis on the held-out rows.
    pub test_h: Vec<f32>,
    /// Sequence id of each held-out row.
    pub test_seq: Vec<u32>,
    /// How the rows were split.
    pub split: &'static str,
}

/// Fits the read-out of at most `k` units.
pub(crate) fn fit(
    acts: ArrayView2<'_, f32>,
    h: &[f32],
    seq: &[u32],
    pos: &[u32],
    kind: &HypothesisKind,
    k: usize,
    seed: u64,
) -> Result<Readout> {
    let (n, u_n) = acts.dim();
    let ctx = "at_most read-out";
    if h.len() != n || seq.len() != n || pos.len() != n {
        return Err(Error::invalid(
            ctx,
            "rows of activations and hypothesis differ",
        ));
    }
    let (held, how) = split(seq, pos, seed);
    let train: Vec<usize> = (0..n).filter(|&i| !held[i]).collect();
    let test: Vec<usize> = (0..n).filter(|&i| held[i]).collect();
    if train.len() < 3 || test.len() < 3 {
        return Err(Error::invalid(
            ctx,
            format!(
                "{n} timesteps are too few to hold some out ({} train, {} held out): use a larger corpus",
                train.len(),
                test.len()
            ),
        ));
    }
    let states = match kind {
        HypothesisKind::Categorical { states } => Some(states.len()),
        _ => None,
    };
    // Training moments in f64, block by block.
    let mut mean = vec![0.0f64; u_n];
    let mut h_mean = 0.0f64;
    for &i in &train {
        for (m, &x) in mean.iter_mut().zip(acts.row(i)) {
            *m += f64::from(x);
        }
        h_mean += f64::from(h[i]);
    }
    let nt = train.len() as f64;
    mean.iter_mut().for_each(|m| *m /= nt);
    h_mean /= nt;
    let mut cov = Array2::<f64>::zeros((u_n, u_n));
    let mut cross = vec![0.0f64; u_n];
    let mut h_ss = 0.0f64;
    let s_n = states.unwrap_or(0);
    let mut class_sum = Array2::<f64>::zeros((s_n, u_n));
    let mut class_n = vec![0usize; s_n];
    for block in train.chunks(BLOCK) {
        let mut xc = Array2::<f64>::zeros((block.len(), u_n));
        for (r, &i) in block.iter().enumerate() {
            let hc = f64::from(h[i]) - h_mean;
            h_ss += hc * hc;
            for (j, &x) in acts.row(i).iter().enumerate() {
                let v = f64::from(x) - mean[j];
                xc[[r, j]] = v;
                cross[j] += v * hc;
            }
            if s_n > 0 {
                let s = h[i] as usize;
                if s < s_n {
                    class_n[s] += 1;
                    class_sum
                        .row_mut(s)
                        .zip_mut_with(&xc.row(r), |a, b| *a += b);
                }
            }
        }
        cov += &xc.t().dot(&xc);
    }
    if h_ss <= 0.0 {
        return Err(Error::invalid(
            ctx,
            "the hypothesis is constant on the training rows: use a corpus where it varies",
        ));
    }
    let between = if s_n > 0 {
        let mut b = Array2::<f64>::zeros((u_n, u_n));
        for (s, &count) in class_n.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let c = count as f64;
            let m = class_sum.row(s).mapv(|v| v / c);
            for a in 0..u_n {
                for bb in 0..u_n {
                    b[[a, bb]] += c * m[a] * m[bb];
                }
            }
        }
        Some(b)
    } else {
        None
    };
    let max_var = (0..u_n).map(|j| cov[[j, j]]).fold(0.0f64, f64::max);
    let usable: Vec<usize> = (0..u_n)
        .filter(|&j| cov[[j, j]] > 1e-12 * max_var.max(1e-300))
        .collect();
    // Objective and weights of a subset.
    let eval = |set: &[usize]| -> Option<(f64, Vec<f64>)> {
        let m = set.len();
        let mut c = vec![0.0; m * m];
        for (a, &i) in set.iter().enumerate() {
            for (b, &j) in set.iter().enumerate() {
                c[a * m + b] = cov[[i, j]];
            }
        }
        let tr: f64 = (0..m).map(|a| c[a * m + a]).sum::<f64>() / m as f64;
        for a in 0..m {
            c[a * m + a] += 1e-9 * tr;
        }
        let l = cholesky(&c, m)?;
        match &between {
            None => {
                let rhs: Vec<f64> = set.iter().map(|&i| cross[i]).collect();
                let w = chol_solve(&l, m, &rhs);
                let fit = w.iter().zip(&rhs).map(|(a, b)| a * b).sum::<f64>() / h_ss;
                Some((fit.clamp(0.0, 1.0), w))
            }
            Some(b) => {
                // λ_max of C⁻¹B via L⁻¹ B L⁻ᵀ.
                let mut bm = vec![0.0; m * m];
                for (a, &i) in set.iter().enumerate() {
                    for (bb, &j) in set.iter().enumerate() {
                        bm[a * m + bb] = b[[i, j]];
                    }
                }
                let y = lower_solve_cols(&l, m, &bm); // L⁻¹ B
                let yt = transpose(&y, m);
                let s = lower_solve_cols(&l, m, &yt); // L⁻¹ (L⁻¹ B)ᵀ = L⁻¹ B L⁻ᵀ
                let s = Array2::from_shape_vec((m, m), s).ok()?;
                // eigenvalues descending: the first pair is the largest
                let (vals, vecs) = jacobi_eigen(&s);
                let wv: Vec<f64> = vecs.column(0).to_vec();
                let v = upper_solve_lt(&l, m, &wv); // L⁻ᵀ w
                Some((vals.first().copied().unwrap_or(0.0).clamp(0.0, 1.0), v))
            }
        }
    };
    let mut chosen: Vec<usize> = Vec::new();
    let mut weights: Vec<Vec<f64>> = Vec::new();
    let mut train_fit = Vec::new();
    for _ in 0..k.min(usable.len()) {
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for &cand in &usable {
            if chosen.contains(&cand) {
                continue;
            }
            let mut set = chosen.clone();
            set.push(cand);
            if let Some((f, w)) = eval(&set) {
                if best.as_ref().is_none_or(|b| f > b.0 + 1e-12) {
                    best = Some((f, cand, w));
                }
            }
        }
        let Some((f, cand, w)) = best else { break };
        chosen.push(cand);
        weights.push(w);
        train_fit.push(f);
    }
    if chosen.is_empty() {
        return Err(Error::invalid(
            ctx,
            "every unit is constant on the training rows: nothing to read out",
        ));
    }
    let kk = chosen.len();
    let mut columns = Array2::<f32>::zeros((test.len(), kk));
    for (r, &i) in test.iter().enumerate() {
        let row = acts.row(i);
        for (j, w) in weights.iter().enumerate() {
            let v: f64 = chosen[..=j]
                .iter()
                .zip(w)
                .map(|(&u, wu)| (f64::from(row[u]) - mean[u]) * wu)
                .sum();
            columns[[r, j]] = v as f32;
        }
    }
    Ok(Readout {
        units: chosen,
        train_fit,
        train_rows: train.len(),
        columns,
        test_h: test.iter().map(|&i| h[i]).collect(),
        test_seq: test.iter().map(|&i| seq[i]).collect(),
        split: how,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numeric::rng::hash64;
    use ndarray::Axis;

    fn column(a: &Array2<f32>, j: usize) -> Vec<f32> {
        a.index_axis(Axis(1), j).to_vec()
    }

    #[test]
    fn two_units_together_read_a_sum_one_cannot() {
        // h = a + b with a, b independent: each unit alone explains half.
        let n = 3000;
        let mut acts = Array2::<f32>::zeros((n, 3));
        let mut h = vec![0.0f32; n];
        for i in 0..n {
            let a = ((hash64(i as u64) % 1000) as f32) / 1000.0;
            let b = ((hash64(i as u64 + 77_777) % 1000) as f32) / 1000.0;
            let noise = ((hash64(i as u64 + 5) % 1000) as f32) / 1000.0;
            acts[[i, 0]] = noise;
            acts[[i, 1]] = a;
            acts[[i, 2]] = b;
            h[i] = a + b;
        }
        let seq: Vec<u32> = (0..n as u32).map(|i| i / 30).collect();
        let pos: Vec<u32> = (0..n as u32).map(|i| i % 30).collect();
        let r = fit(acts.view(), &h, &seq, &pos, &HypothesisKind::Numeric, 2, 1).unwrap();
        let mut u = r.units.clone();
        u.sort_unstable();
        assert_eq!(u, [1, 2]);
        assert!(
            r.train_fit[0] < 0.6 && r.train_fit[1] > 0.999,
            "{:?}",
            r.train_fit
        );
        // The two-unit read-out reproduces h on held-out rows.
        let col = column(&r.columns, 1);
        let hm = r.test_h.iter().sum::<f32>() / r.test_h.len() as f32;
        for (c, t) in col.iter().zip(&r.test_h) {
            assert!((c - (t - hm)).abs() < 0.05, "{c} vs {t}");
        }
    }

    #[test]
    fn categorical_readout_finds_the_discriminating_unit() {
        let n = 1200;
        let mut acts = Array2::<f32>::zeros((n, 2));
        let mut h = vec![0.0f32; n];
        for i in 0..n {
            let s = (i / 7) % 3;
            h[i] = s as f32;
            acts[[i, 0]] = ((hash64(i as u64) % 100) as f32) / 100.0;
            acts[[i, 1]] = s as f32 + 0.01 * ((hash64(i as u64 + 9) % 10) as f32);
        }
        let seq: Vec<u32> = (0..n as u32).map(|i| i / 20).collect();
        let pos: Vec<u32> = (0..n as u32).map(|i| i % 20).collect();
        let kind = HypothesisKind::Categorical {
            states: vec!["a".into(), "b".into(), "c".into()],
        };
        let r = fit(acts.view(), &h, &seq, &pos, &kind, 1, 3).unwrap();
        assert_eq!(r.units, [1]);
        assert!(r.train_fit[0] > 0.99, "{:?}", r.train_fit);
    }
}
