//! Discretisation and joint bin counts for mutual information.
//!
//! Bins are quantile bins with edges estimated on a calibration sample (the
//! first whole blocks of the stream, see `ScoreConfig::calibration_rows`):
//! for sorted sample values `v[0..n)` and `B` bins, edge `j` (1 ≤ j < B) is
//! `v[⌊j·n/B⌋]`, and a value `x` falls in bin `#{j : edge_j < x}` (numpy:
//! `searchsorted(edges, x, side="left")`). Tied edges merge bins, so a unit
//! that is 0 on most rows still separates its zeros from its positive values.
//!
//! Joint counts for all (unit, hypothesis) pairs are one GEMM of indicator
//! matrices per `SUB` rows: `(rows × U·⌈(B−1)/2⌉)ᵀ · (rows × Σ(B'ₖ−1))`.
//! The last bin of each side is implied by the marginals, and two unit bins
//! share one f32 column (the second weighted by `SUB + 1`), which halves the
//! unit side. Every product and partial sum is a whole number below 2^23,
//! so the f32 GEMM is exact, and therefore independent of summation order
//! and thread count; the counts are unpacked into u64 after each GEMM.

use ndarray::{linalg::general_mat_mul, Array2, ArrayView2, Axis, Slice};
use rayon::prelude::*;

use super::stats::entropy;
use crate::hypothesis::HypothesisKind;

/// Rows per indicator GEMM. Two unit bins share one f32 column, as
/// `count_even + PACK · count_odd` with `PACK = SUB + 1`; every partial sum
/// is then a whole number below `SUB + PACK · SUB < 2^23`, so the f32 GEMM
/// is exact in any summation order.
const SUB: usize = 2048;
const PACK: f32 = (SUB + 1) as f32;

/// Quantile edges of `values` (sorted in place): `bins − 1` edges.
pub(crate) fn quantile_edges(values: &mut [f32], bins: usize) -> Vec<f32> {
    values.sort_by(f32::total_cmp);
    let n = values.len();
    if n == 0 {
        return vec![0.0; bins.saturating_sub(1)];
    }
    (1..bins).map(|j| values[(j * n) / bins]).collect()
}

/// Bin of `x` given sorted `edges`: the number of edges strictly below `x`.
#[inline]
pub(crate) fn bin_of(x: f32, edges: &[f32]) -> usize {
    edges.partition_point(|&e| e < x)
}

/// How one hypothesis is discretised.
#[derive(Debug, Clone)]
pub(crate) struct HypBins {
    /// First indicator column of this hypothesis.
    pub offset: usize,
    /// Number of bins (states for categorical, 2 for binary).
    pub bins: usize,
    /// Quantile edges for numeric hypotheses.
    pub edges: Option<Vec<f32>>,
}

impl HypBins {
    #[inline]
    fn bin(&self, v: f32) -> usize {
        match &self.edges {
            Some(e) => bin_of(v, e),
            // Binary 0/1 and categorical state indices were validated on entry.
            None => (v as usize).min(self.bins - 1),
        }
    }
}

/// Joint and marginal bin counts for every (unit, hypothesis) pair.
pub(crate) struct MiCounts {
    unit_bins: usize,
    unit_edges: Vec<Vec<f32>>,
    hyp: Vec<HypBins>,
    /// Total hypothesis indicator columns.
    g: usize,
    /// Packed unit columns per unit: ⌈(bins − 1) / 2⌉.
    packed: usize,
    j32: Array2<f32>,
    /// Joint counts, `units·(bins − 1) × g`.
    joint: Array2<u64>,
    unit_counts: Array2<u64>,
    hyp_counts: Vec<Vec<u64>>,
    n: u64,
    ind_a: Array2<f32>,
    ind_h: Array2<f32>,
}

/// Result of the MI pass for one pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MiPair {
    /// Plug-in mutual information in nats (sklearn's `mutual_info_score`).
    pub mi: f64,
    /// Miller–Madow corrected MI over the smaller corrected entropy, in [0, 1].
    pub nmi: f64,
}

impl MiCounts {
    /// Estimates the bin edges from calibration blocks and prepares the counters.
    pub fn calibrate(
        acts: &[Array2<f32>],
        hyps: &[Array2<f32>],
        kinds: &[HypothesisKind],
        unit_bins: usize,
        hyp_bins: usize,
    ) -> Self {
        let u = acts.first().map_or(0, |a| a.ncols());
        let rows: usize = acts.iter().map(|a| a.nrows()).sum();
        let mut col = Vec::with_capacity(rows);
        let mut unit_edges = Vec::with_capacity(u);
        for j in 0..u {
            col.clear();
            for a in acts {
                col.extend(a.column(j).iter().copied());
            }
            unit_edges.push(quantile_edges(&mut col, unit_bins));
        }
        let mut hyp = Vec::with_capacity(kinds.len());
        let mut offset = 0;
        for (k, kind) in kinds.iter().enumerate() {
            let (bins, edges) = match kind {
                HypothesisKind::Binary => (2, None),
                HypothesisKind::Categorical { states } => (states.len().max(1), None),
                HypothesisKind::Numeric => {
                    col.clear();
                    for h in hyps {
                        col.extend(h.column(k).iter().copied());
                    }
                    (hyp_bins, Some(quantile_edges(&mut col, hyp_bins)))
                }
            };
            hyp.push(HypBins {
                offset,
                bins,
                edges,
            });
            offset += bins - 1;
        }
        let g = offset;
        let a_cols = u * (unit_bins - 1);
        let packed = (unit_bins - 1).div_ceil(2);
        MiCounts {
            unit_bins,
            unit_edges,
            hyp_counts: hyp.iter().map(|h| vec![0; h.bins]).collect(),
            hyp,
            g,
            packed,
            j32: Array2::zeros((u * packed, g)),
            joint: Array2::zeros((a_cols, g)),
            unit_counts: Array2::zeros((u, unit_bins)),
            n: 0,
            ind_a: Array2::zeros((SUB, u * packed)),
            ind_h: Array2::zeros((SUB, g)),
        }
    }

    /// Counts one block of raw rows.
    pub fn count(&mut self, acts: ArrayView2<'_, f32>, hyps: ArrayView2<'_, f32>) {
        let rows = acts.nrows();
        let mut start = 0;
        while start < rows {
            let end = (start + SUB).min(rows);
            let range = Slice::from(start..end);
            self.count_sub(
                acts.slice_axis(Axis(0), range),
                hyps.slice_axis(Axis(0), range),
            );
            start = end;
        }
    }

    /// Counts at most `SUB` rows: indicator matrices (built in parallel over
    /// row ranges), one exact f32 GEMM, then unpacking into u64 counts.
    fn count_sub(&mut self, acts: ArrayView2<'_, f32>, hyps: ArrayView2<'_, f32>) {
        let rows = acts.nrows();
        if rows == 0 {
            return;
        }
        let u = self.unit_edges.len();
        let (last_a, packed) = (self.unit_bins - 1, self.packed);
        let part = rows.div_ceil(8).max(1);
        // Units: packed indicators and marginal counts.
        {
            let mut ind_a = self.ind_a.slice_axis_mut(Axis(0), Slice::from(..rows));
            ind_a.fill(0.0);
            let width = u * packed;
            let edges = &self.unit_edges;
            let unit_bins = self.unit_bins;
            let counts: Vec<Vec<u64>> = match ind_a.as_slice_mut() {
                Some(flat) if width > 0 => flat
                    .par_chunks_mut(part * width)
                    .zip(
                        acts.axis_chunks_iter(Axis(0), part)
                            .collect::<Vec<_>>()
                            .into_par_iter(),
                    )
                    .map(|(dst, src)| {
                        let mut c = vec![0u64; u * unit_bins];
                        for (irow, arow) in dst.chunks_exact_mut(width).zip(src.rows()) {
                            for (uidx, (&x, e)) in arow.iter().zip(edges).enumerate() {
                                let b = bin_of(x, e);
                                c[uidx * unit_bins + b] += 1;
                                if b < last_a {
                                    irow[uidx * packed + b / 2] =
                                        if b.is_multiple_of(2) { 1.0 } else { PACK };
                                }
                            }
                        }
                        c
                    })
                    .collect(),
                _ => Vec::new(),
            };
            for c in counts {
                for (dst, src) in self.unit_counts.iter_mut().zip(c) {
                    *dst += src;
                }
            }
        }
        // Hypotheses: plain 0/1 indicators and marginal counts.
        {
            let mut ind_h = self.ind_h.slice_axis_mut(Axis(0), Slice::from(..rows));
            ind_h.fill(0.0);
            for (mut irow, hrow) in ind_h.rows_mut().into_iter().zip(hyps.rows()) {
                for ((hb, counts), &v) in self.hyp.iter().zip(self.hyp_counts.iter_mut()).zip(hrow)
                {
                    let b = hb.bin(v);
                    counts[b] += 1;
                    if b + 1 < hb.bins {
                        irow[hb.offset + b] = 1.0;
                    }
                }
            }
        }
        let ind_a = self.ind_a.slice_axis(Axis(0), Slice::from(..rows));
        let ind_h = self.ind_h.slice_axis(Axis(0), Slice::from(..rows));
        general_mat_mul(1.0, &ind_a.t(), &ind_h, 0.0, &mut self.j32);
        // Unpack: packed row (unit, p) holds bins 2p (low) and 2p + 1 (high).
        let g = self.g;
        let pack = PACK as u64;
        if let (Some(joint), Some(j32)) = (self.joint.as_slice_mut(), self.j32.as_slice()) {
            if g > 0 && last_a > 0 {
                joint
                    .par_chunks_mut(last_a * g)
                    .zip(j32.par_chunks(packed * g))
                    .for_each(|(dst, src)| {
                        for (p, srow) in src.chunks_exact(g).enumerate() {
                            let lo_bin = 2 * p;
                            let hi_bin = lo_bin + 1;
                            for (col, &v) in srow.iter().enumerate() {
                                let v = v as u64;
                                dst[lo_bin * g + col] += v % pack;
                                if hi_bin < last_a {
                                    dst[hi_bin * g + col] += v / pack;
                                }
                            }
                        }
                    });
            }
        }
        self.n += rows as u64;
    }

    /// MI for every pair, `units × hypotheses`, computed in parallel by unit
    /// (each entry depends only on its own counts, so the result does not
    /// depend on the thread count).
    pub fn finish(self) -> (Array2<f64>, Array2<f64>) {
        let u = self.unit_edges.len();
        let k = self.hyp.len();
        let rows: Vec<Vec<MiPair>> = (0..u)
            .into_par_iter()
            .map(|ui| (0..k).map(|ki| self.pair(ui, ki)).collect())
            .collect();
        let mut mi = Array2::zeros((u, k));
        let mut nmi = Array2::zeros((u, k));
        for (ui, row) in rows.into_iter().enumerate() {
            for (ki, p) in row.into_iter().enumerate() {
                mi[[ui, ki]] = p.mi;
                nmi[[ui, ki]] = p.nmi;
            }
        }
        (mi, nmi)
    }

    fn pair(&self, ui: usize, ki: usize) -> MiPair {
        let ba = self.unit_bins;
        let hb = &self.hyp[ki];
        let bh = hb.bins;
        let n = self.n as f64;
        let a_marg: Vec<f64> = (0..ba).map(|b| self.unit_counts[[ui, b]] as f64).collect();
        let h_marg: Vec<f64> = self.hyp_counts[ki].iter().map(|&c| c as f64).collect();
        // Full joint table from the explicit cells and the marginals.
        let mut joint = vec![0.0_f64; ba * bh];
        for a in 0..ba - 1 {
            let row = ui * (ba - 1) + a;
            let mut rest = a_marg[a];
            for h in 0..bh - 1 {
                let v = self.joint[[row, hb.offset + h]] as f64;
                joint[a * bh + h] = v;
                rest -= v;
            }
            joint[a * bh + bh - 1] = rest;
        }
        for h in 0..bh {
            let above: f64 = (0..ba - 1).map(|a| joint[a * bh + h]).sum();
            joint[(ba - 1) * bh + h] = h_marg[h] - above;
        }
        let (hx, mx) = entropy(a_marg.iter().copied(), n);
        let (hy, my) = entropy(h_marg.iter().copied(), n);
        let (hxy, mxy) = entropy(joint.iter().map(|&c| c.max(0.0)), n);
        let mi = (hx + hy - hxy).max(0.0);
        // Miller–Madow: H_MM = H + (m − 1)/(2n), m = non-empty cells.
        let mm = |h: f64, m: usize| h + (m.max(1) - 1) as f64 / (2.0 * n);
        let (hx_mm, hy_mm, hxy_mm) = (mm(hx, mx), mm(hy, my), mm(hxy, mxy));
        let mi_mm = hx_mm + hy_mm - hxy_mm;
        let denom = hx_mm.min(hy_mm);
        let nmi = if mx <= 1 || my <= 1 || denom <= 0.0 {
            0.0
        } else {
            (mi_mm / denom).clamp(0.0, 1.0)
        };
        MiPair { mi, nmi }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn edges_and_bins_follow_the_documented_rule() {
        let mut v = vec![5.0, 1.0, 3.0, 2.0, 4.0, 0.0, 7.0, 6.0];
        let e = quantile_edges(&mut v, 4);
        assert_eq!(e, vec![2.0, 4.0, 6.0]);
        assert_eq!(bin_of(2.0, &e), 0);
        assert_eq!(bin_of(2.5, &e), 1);
        assert_eq!(bin_of(100.0, &e), 3);
        // A mostly-zero unit keeps zeros apart from positives.
        let mut z = vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0];
        let e = quantile_edges(&mut z, 4);
        assert_eq!(e, vec![0.0, 0.0, 1.0]);
        assert_eq!(bin_of(0.0, &e), 0);
        assert_eq!(bin_of(1.0, &e), 2);
        assert_eq!(bin_of(2.0, &e), 3);
    }

    /// Plug-in MI from a directly counted contingency table.
    fn naive_mi(a: &[usize], b: &[usize]) -> f64 {
        let n = a.len() as f64;
        let (na, nb) = (a.iter().max().unwrap() + 1, b.iter().max().unwrap() + 1);
        let mut t = vec![0.0; na * nb];
        for (&x, &y) in a.iter().zip(b) {
            t[x * nb + y] += 1.0;
        }
        let ra: Vec<f64> = (0..na)
            .map(|i| (0..nb).map(|j| t[i * nb + j]).sum())
            .collect();
        let rb: Vec<f64> = (0..nb)
            .map(|j| (0..na).map(|i| t[i * nb + j]).sum())
            .collect();
        let mut mi = 0.0;
        for i in 0..na {
            for j in 0..nb {
                let c = t[i * nb + j];
                if c > 0.0 {
                    mi += c / n * (c * n / (ra[i] * rb[j])).ln();
                }
            }
        }
        mi
    }

    #[test]
    fn packed_counts_equal_direct_counts_for_any_bin_number() {
        // More rows than one indicator GEMM takes, odd and even bin numbers.
        let n = SUB + 300;
        let mut rng = crate::numeric::rng::Rng::from_state(11);
        let acts = Array2::from_shape_fn((n, 3), |(_, j)| rng.below_by_rejection(50 + j) as f32);
        let hyps = Array2::from_shape_fn((n, 2), |(i, j)| {
            if j == 0 {
                (acts[[i, 0]] / 10.0).floor().min(4.0)
            } else {
                ((i / 7) % 3) as f32
            }
        });
        let kinds = [
            HypothesisKind::Numeric,
            HypothesisKind::Categorical {
                states: vec!["a".into(), "b".into(), "c".into()],
            },
        ];
        for bins in [2, 3, 5, 8] {
            let mut c = MiCounts::calibrate(
                std::slice::from_ref(&acts),
                std::slice::from_ref(&hyps),
                &kinds,
                bins,
                3,
            );
            c.count(acts.view(), hyps.view());
            let unit_edges = c.unit_edges.clone();
            let hyp_bins: Vec<Vec<usize>> = (0..2)
                .map(|k| hyps.column(k).iter().map(|&v| c.hyp[k].bin(v)).collect())
                .collect();
            let (mi, _) = c.finish();
            for u in 0..3 {
                let ub: Vec<usize> = acts
                    .column(u)
                    .iter()
                    .map(|&x| bin_of(x, &unit_edges[u]))
                    .collect();
                for k in 0..2 {
                    let want = naive_mi(&ub, &hyp_bins[k]);
                    assert!(
                        (mi[[u, k]] - want).abs() < 1e-12,
                        "bins {bins} ({u},{k}): {} vs {want}",
                        mi[[u, k]]
                    );
                }
            }
        }
    }

    #[test]
    fn perfect_detector_has_nmi_one_and_independent_pair_near_zero() {
        // unit 0 copies the binary hypothesis, unit 1 alternates in blocks.
        let n = 400;
        let mut rng = crate::numeric::rng::Rng::from_state(3);
        let noise: Vec<f32> = (0..n)
            .map(|_| rng.below_by_rejection(1000) as f32)
            .collect();
        let acts = Array2::from_shape_fn((n, 2), |(i, j)| {
            if j == 0 {
                ((i / 3) % 2) as f32
            } else {
                noise[i]
            }
        });
        let hyps = Array2::from_shape_fn((n, 1), |(i, _)| ((i / 3) % 2) as f32);
        let mut c = MiCounts::calibrate(
            std::slice::from_ref(&acts),
            std::slice::from_ref(&hyps),
            &[HypothesisKind::Binary],
            4,
            4,
        );
        for start in (0..n).step_by(64) {
            let end = (start + 64).min(n);
            c.count(
                acts.slice_axis(Axis(0), Slice::from(start..end)),
                hyps.slice_axis(Axis(0), Slice::from(start..end)),
            );
        }
        let (mi, nmi) = c.finish();
        assert!((mi[[0, 0]] - std::f64::consts::LN_2).abs() < 1e-3, "{mi}");
        assert!((nmi[[0, 0]] - 1.0).abs() < 1e-9, "{nmi}");
        assert!(nmi[[1, 0]] < 0.05, "{nmi}");
    }
}
