//! Scores *within groups*: the correlation of a unit and a hypothesis after
//! each is centred on its own mean in every group of rows that share the
//! current input token (or the position in the sequence).
//!
//! A unit that only reads the current character correlates with every
//! hypothesis the character determines (`char(e)`, `identifier`, …). Once
//! both sides are centred within token groups, what is left is the part of
//! the hypothesis the token does not say, and the part of the unit the
//! token does not drive: a unit that tracks bracket depth keeps its score,
//! a character detector drops to 0.
//!
//! Exact and streaming: per group it keeps the count and the column sums of
//! the units and of the design columns (shifted by the first row, in f64).
//! At the end, with `S'` the group sums of the globally centred values and
//! `C` the global co-moment matrix of the first pass,
//!
//! ```text
//! within co-moment  W  = C − S'ᵤᵀ · diag(1/n_g) · S'ₕ
//! within SS         Wᵤ = SSᵤ − Σ_g S'ᵤ[g]² / n_g      (likewise for a design column)
//! ```
//!
//! so `r_within = W / √(Wᵤ Wₕ)` (the Pearson r of the one-hot-regression
//! residuals), and for a categorical hypothesis `η²_within = Σₛ W[u,s]² /
//! nₛ / Wᵤ`, the correlation ratio of the unit's within-group residual by
//! state. Where the group determines the hypothesis (`Wₕ` ≈ 0) there is
//! nothing left to explain and the score is 0.
//!
//! Groups: every distinct key gets its own group up to `cap` groups
//! (first come, first served, in row order, so the result does not depend
//! on chunking or threads); later new keys share one pooled group, and the
//! caller is told how many rows and keys were pooled.

use std::collections::HashMap;

use ndarray::Array2;

use super::moments::ColumnStats;

/// At most this many groups keep their own sums (tokens or positions);
/// keys beyond share one pooled group.
pub(crate) const GROUP_CAP: usize = 4096;

/// Per-group counts and column sums of two column sets.
#[derive(Debug, Clone)]
pub(crate) struct GroupSums {
    cols_a: usize,
    cols_b: usize,
    cap: usize,
    slot_of: HashMap<i64, usize>,
    counts: Vec<f64>,
    /// `groups × cols_a`, values minus `shift_a`.
    sum_a: Vec<f64>,
    /// `groups × cols_b`, values minus `shift_b`.
    sum_b: Vec<f64>,
    shift_a: Option<Vec<f32>>,
    shift_b: Option<Vec<f32>>,
    pooled_rows: u64,
    pooled_keys: u64,
    pooled_slot: Option<usize>,
}

/// What a finished [`GroupSums`] gives: the within-group co-moments of
/// every (a, b) column pair and the within-group sums of squares.
#[derive(Debug, Clone)]
pub(crate) struct Within {
    /// `cols_a × cols_b` within-group co-moments.
    pub c: Array2<f64>,
    /// Per `a` column: within-group sum of squared deviations.
    pub ss_a: Vec<f64>,
    /// Per `b` column: within-group sum of squared deviations.
    pub ss_b: Vec<f64>,
    /// Distinct keys seen.
    pub keys: u64,
    /// Rows whose key fell in the pooled group (0 when none did).
    pub pooled_rows: u64,
    /// Keys pooled together.
    pub pooled_keys: u64,
}

impl GroupSums {
    pub fn new(cols_a: usize, cols_b: usize, cap: usize) -> Self {
        GroupSums {
            cols_a,
            cols_b,
            cap: cap.max(1),
            slot_of: HashMap::new(),
            counts: Vec::new(),
            sum_a: Vec::new(),
            sum_b: Vec::new(),
            shift_a: None,
            shift_b: None,
            pooled_rows: 0,
            pooled_keys: 0,
            pooled_slot: None,
        }
    }

    fn slot(&mut self, key: i64) -> (usize, bool) {
        if let Some(&s) = self.slot_of.get(&key) {
            return (s, s == self.pooled_slot.unwrap_or(usize::MAX));
        }
        let own = self.counts.len() - usize::from(self.pooled_slot.is_some());
        let slot = if own + 1 < self.cap {
            self.new_slot()
        } else {
            self.pooled_keys += 1;
            match self.pooled_slot {
                Some(s) => s,
                None => {
                    let s = self.new_slot();
                    self.pooled_slot = Some(s);
                    s
                }
            }
        };
        self.slot_of.insert(key, slot);
        (slot, Some(slot) == self.pooled_slot)
    }

    fn new_slot(&mut self) -> usize {
        self.counts.push(0.0);
        self.sum_a.resize(self.sum_a.len() + self.cols_a, 0.0);
        self.sum_b.resize(self.sum_b.len() + self.cols_b, 0.0);
        self.counts.len() - 1
    }

    /// Adds rows: `keys[i]` is row `i`'s group; `a` and `b` are row-major
    /// (`rows × cols_a`, `rows × cols_b`), raw (not centred) values.
    pub fn add(&mut self, keys: &[i64], a: &[f32], b: &[f32]) {
        if keys.is_empty() {
            return;
        }
        let (ca, cb) = (self.cols_a, self.cols_b);
        if self.shift_a.is_none() {
            self.shift_a = Some(a.get(..ca).map(<[f32]>::to_vec).unwrap_or_default());
            self.shift_b = Some(b.get(..cb).map(<[f32]>::to_vec).unwrap_or_default());
        }
        let shift_a = self.shift_a.clone().unwrap_or_default();
        let shift_b = self.shift_b.clone().unwrap_or_default();
        for (i, &key) in keys.iter().enumerate() {
            let (slot, pooled) = self.slot(key);
            if pooled {
                self.pooled_rows += 1;
            }
            self.counts[slot] += 1.0;
            let arow = &a[i * ca..(i + 1) * ca];
            let sa = &mut self.sum_a[slot * ca..(slot + 1) * ca];
            for ((s, &v), &sh) in sa.iter_mut().zip(arow).zip(&shift_a) {
                *s += f64::from(v) - f64::from(sh);
            }
            let brow = &b[i * cb..(i + 1) * cb];
            let sb = &mut self.sum_b[slot * cb..(slot + 1) * cb];
            for ((s, &v), &sh) in sb.iter_mut().zip(brow).zip(&shift_b) {
                *s += f64::from(v) - f64::from(sh);
            }
        }
    }

    /// The within-group co-moments, given the first pass's totals: the
    /// global column statistics of both sets and their co-moment matrix.
    pub fn finish(&self, stats_a: &ColumnStats, stats_b: &ColumnStats, co: &Array2<f64>) -> Within {
        let (ca, cb, g) = (self.cols_a, self.cols_b, self.counts.len());
        let shift_a = self.shift_a.clone().unwrap_or_else(|| vec![0.0; ca]);
        let shift_b = self.shift_b.clone().unwrap_or_else(|| vec![0.0; cb]);
        // S'[g] = Σ_{t∈g} (x_t − x̄) = sum[g] − n_g (x̄ − shift)
        let centred = |sums: &[f64], cols: usize, stats: &ColumnStats, shift: &[f32]| {
            let mut m = Array2::<f64>::zeros((g, cols));
            for (gi, mut row) in m.rows_mut().into_iter().enumerate() {
                let n = self.counts[gi];
                for (j, v) in row.iter_mut().enumerate() {
                    *v = sums[gi * cols + j] - n * (stats.mean[j] - f64::from(shift[j]));
                }
            }
            m
        };
        let sa = centred(&self.sum_a, ca, stats_a, &shift_a);
        let sb = centred(&self.sum_b, cb, stats_b, &shift_b);
        let mut scaled = sa.clone();
        for (gi, mut row) in scaled.rows_mut().into_iter().enumerate() {
            let n = self.counts[gi];
            row.mapv_inplace(|v| if n > 0.0 { v / n } else { 0.0 });
        }
        let between = scaled.t().dot(&sb);
        let c = co - &between;
        let ss = |m: &Array2<f64>, stats: &ColumnStats| -> Vec<f64> {
            (0..m.ncols())
                .map(|j| {
                    let b: f64 = m
                        .column(j)
                        .iter()
                        .zip(&self.counts)
                        .map(|(&s, &n)| if n > 0.0 { s * s / n } else { 0.0 })
                        .sum();
                    (stats.m2[j] - b).max(0.0)
                })
                .collect()
        };
        Within {
            c,
            ss_a: ss(&sa, stats_a),
            ss_b: ss(&sb, stats_b),
            keys: self.slot_of.len() as u64,
            pooled_rows: self.pooled_rows,
            pooled_keys: self.pooled_keys,
        }
    }
}

/// Below this share of its total sum of squares, a column's within-group
/// spread is rounding noise: the group determines it.
pub(crate) const DETERMINED: f64 = 1e-9;

impl Within {
    /// Within-group r of unit `u` and design column `d` (numeric or binary
    /// hypotheses); 0 when the group determines either side.
    pub fn r(&self, u: usize, d: usize, ss_u: f64, ss_d: f64) -> f64 {
        let (wu, wd) = (self.ss_a[u], self.ss_b[d]);
        if wu <= DETERMINED * ss_u || wd <= DETERMINED * ss_d || wu <= 0.0 || wd <= 0.0 {
            return 0.0;
        }
        (self.c[[u, d]] / (wu * wd).sqrt()).clamp(-1.0, 1.0)
    }

    /// Within-group η of unit `u` by the states of a categorical hypothesis
    /// whose one-hot columns are `cols` with `counts` rows each; 0 when the
    /// group determines the unit or the state.
    pub fn eta(
        &self,
        u: usize,
        cols: std::ops::Range<usize>,
        counts: &[u64],
        ss_u: f64,
        ss_states: f64,
    ) -> f64 {
        let wu = self.ss_a[u];
        let wd: f64 = cols.clone().map(|d| self.ss_b[d]).sum();
        if wu <= DETERMINED * ss_u || wd <= DETERMINED * ss_states || wu <= 0.0 {
            return 0.0;
        }
        let between: f64 = cols
            .zip(counts)
            .filter(|(_, &n)| n > 0)
            .map(|(d, &n)| self.c[[u, d]].powi(2) / n as f64)
            .sum();
        (between / wu).clamp(0.0, 1.0).sqrt()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use ndarray::{Array2, Axis, Slice};

    use super::super::{Engine, ScoreConfig};
    use crate::hypothesis::HypothesisKind;
    use crate::numeric::rng::Rng;
    use crate::score::ranking::Flag;

    /// 40 sequences × 75 steps over 6 tokens. Unit 0 follows a slow random
    /// walk `h0` plus a token effect; unit 1 is a token detector
    /// (`token == 2`); unit 2 is noise. `h0` is the walk (numeric), `h1` is
    /// `token == 2` (binary, the token determines it), `h2` has three states
    /// that follow the walk's sign and the token (categorical).
    struct Data {
        acts: Array2<f32>,
        values: Array2<f32>,
        seq: Vec<u32>,
        tokens: Vec<i64>,
    }

    fn unit(rng: &mut Rng) -> f64 {
        (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn data() -> Data {
        let (seqs, len) = (40, 75);
        let n = seqs * len;
        let mut rng = Rng::from_state(11);
        let mut acts = Array2::zeros((n, 3));
        let mut values = Array2::zeros((n, 3));
        let mut seq = Vec::with_capacity(n);
        let mut tokens = Vec::with_capacity(n);
        for s in 0..seqs {
            let mut walk = 0.0_f64;
            for t in 0..len {
                let i = s * len + t;
                let tok = rng.below_by_rejection(6) as i64;
                walk += unit(&mut rng) - 0.5;
                let noise = unit(&mut rng) - 0.5;
                acts[[i, 0]] = (walk + 0.7 * tok as f64 + 0.3 * noise) as f32;
                acts[[i, 1]] = if tok == 2 { 1.5 } else { 0.1 * noise } as f32;
                acts[[i, 2]] = (unit(&mut rng) * 3.0) as f32;
                values[[i, 0]] = walk as f32;
                values[[i, 1]] = f32::from(u8::from(tok == 2));
                values[[i, 2]] = if tok == 5 {
                    2.0
                } else if walk > 0.0 {
                    1.0
                } else {
                    0.0
                };
                seq.push(s as u32);
                tokens.push(tok);
            }
        }
        Data {
            acts,
            values,
            seq,
            tokens,
        }
    }

    fn kinds() -> Vec<(String, HypothesisKind)> {
        vec![
            ("walk".into(), HypothesisKind::Numeric),
            ("tok2".into(), HypothesisKind::Binary),
            (
                "state".into(),
                HypothesisKind::Categorical {
                    states: vec!["neg".into(), "pos".into(), "five".into()],
                },
            ),
        ]
    }

    /// Residuals of `x` after centring on its mean within each group.
    fn residuals(x: &[f64], groups: &[i64]) -> Vec<f64> {
        let mut sums = std::collections::HashMap::<i64, (f64, f64)>::new();
        for (&v, &g) in x.iter().zip(groups) {
            let e = sums.entry(g).or_default();
            e.0 += v;
            e.1 += 1.0;
        }
        x.iter()
            .zip(groups)
            .map(|(&v, g)| v - sums[g].0 / sums[g].1)
            .collect()
    }

    fn direct_r(a: &[f64], b: &[f64], groups: &[i64]) -> f64 {
        let (ra, rb) = (residuals(a, groups), residuals(b, groups));
        let c: f64 = ra.iter().zip(&rb).map(|(x, y)| x * y).sum();
        let sa: f64 = ra.iter().map(|x| x * x).sum();
        let sb: f64 = rb.iter().map(|x| x * x).sum();
        if sb < 1e-9 || sa < 1e-9 {
            0.0
        } else {
            c / (sa * sb).sqrt()
        }
    }

    fn direct_eta(a: &[f64], states: &[usize], groups: &[i64]) -> f64 {
        let ra = residuals(a, groups);
        let mut by = [(0.0, 0.0); 3];
        for (&x, &s) in ra.iter().zip(states) {
            by[s].0 += x;
            by[s].1 += 1.0;
        }
        let between: f64 = by
            .iter()
            .filter(|b| b.1 > 0.0)
            .map(|b| b.0 * b.0 / b.1)
            .sum();
        let total: f64 = ra.iter().map(|x| x * x).sum();
        (between / total).sqrt()
    }

    fn col(m: &Array2<f32>, j: usize) -> Vec<f64> {
        m.column(j).iter().map(|&v| f64::from(v)).collect()
    }

    fn run(d: &Data, chunk: usize) -> crate::score::ranking::Ranking {
        let units = vec!["0".to_string(), "1".to_string(), "2".to_string()];
        let cfg = ScoreConfig::default().block_rows(64);
        let mut e = Engine::new(units, kinds(), cfg).unwrap();
        let n = d.seq.len();
        let mut start = 0;
        while start < n {
            let end = (start + chunk).min(n);
            let sl = Slice::from(start..end);
            e.update_with_tokens(
                d.acts.slice_axis(Axis(0), sl),
                d.values.slice_axis(Axis(0), sl),
                &d.seq[start..end],
                &d.tokens[start..end],
            )
            .unwrap();
            start = end;
        }
        e.finish().unwrap().ranking()
    }

    #[test]
    fn within_token_and_position_equal_a_direct_computation() {
        let d = data();
        let ranking = run(&d, 137);
        let positions: Vec<i64> = (0..d.seq.len()).map(|i| (i % 75) as i64).collect();
        let states: Vec<usize> = d.values.column(2).iter().map(|&v| v as usize).collect();
        for u in 0..3 {
            let a = col(&d.acts, u);
            for (k, name) in ["walk", "tok2", "state"].iter().enumerate() {
                let p = ranking.pair(&u.to_string(), name).unwrap();
                let (want_tok, want_pos) = if k == 2 {
                    (
                        direct_eta(&a, &states, &d.tokens),
                        direct_eta(&a, &states, &positions),
                    )
                } else {
                    let h = col(&d.values, k);
                    (direct_r(&a, &h, &d.tokens), direct_r(&a, &h, &positions))
                };
                let got_tok = p.within_token.unwrap();
                let got_pos = p.within_position.unwrap();
                assert!(
                    (got_tok - want_tok).abs() < 1e-4,
                    "unit {u} × {name}: within_token {got_tok} vs direct {want_tok}"
                );
                assert!(
                    (got_pos - want_pos).abs() < 1e-4,
                    "unit {u} × {name}: within_position {got_pos} vs direct {want_pos}"
                );
            }
        }
        // chunking does not change a bit
        assert_eq!(run(&d, 1000), ranking);
    }

    #[test]
    fn a_token_detector_is_flagged_and_a_walk_tracker_is_not() {
        let d = data();
        let ranking = run(&d, 500);
        let det = ranking.pair("1", "tok2").unwrap();
        assert!(det.score > 0.9, "the detector correlates: {}", det.score);
        assert_eq!(det.within_token, Some(0.0), "the token determines tok2");
        assert!(det.flags.contains(&Flag::TokenExplains));
        let walk = ranking.pair("0", "walk").unwrap();
        assert!(walk.within_token.unwrap() > walk.score, "{walk:?}");
        assert!(!walk.flags.contains(&Flag::TokenExplains));
        assert!(!walk.flags.contains(&Flag::PositionExplains));
    }

    #[test]
    fn without_tokens_there_is_no_within_token_score_and_mixing_is_an_error() {
        let d = data();
        let units = vec!["0".to_string(), "1".to_string(), "2".to_string()];
        let mut e = Engine::new(units, kinds(), ScoreConfig::default()).unwrap();
        e.update(d.acts.view(), d.values.view(), &d.seq).unwrap();
        let r = e.finish().unwrap().ranking();
        let p = r.pair("0", "walk").unwrap();
        assert_eq!(p.within_token, None);
        assert!(p.within_position.is_some());

        let units = vec!["0".to_string(), "1".to_string(), "2".to_string()];
        let mut e = Engine::new(units, kinds(), ScoreConfig::default()).unwrap();
        let half = Slice::from(0..100);
        e.update(
            d.acts.slice_axis(Axis(0), half),
            d.values.slice_axis(Axis(0), half),
            &d.seq[..100],
        )
        .unwrap();
        let rest = Slice::from(100..200);
        let err = e
            .update_with_tokens(
                d.acts.slice_axis(Axis(0), rest),
                d.values.slice_axis(Axis(0), rest),
                &d.seq[100..200],
                &d.tokens[100..200],
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("earlier ones had none"), "{err}");
        let err = e
            .update_with_tokens(
                d.acts.slice_axis(Axis(0), rest),
                d.values.slice_axis(Axis(0), rest),
                &d.seq[100..200],
                &d.tokens[100..150],
            )
            .unwrap_err()
            .to_string();
        assert!(err.contains("one token per timestep"), "{err}");
    }

    #[test]
    fn keys_past_the_cap_share_one_pooled_group() {
        let mut g = super::GroupSums::new(1, 1, 3);
        let keys = [0, 1, 2, 3, 4, 0];
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        g.add(&keys, &a, &a);
        // keys 0 and 1 own groups; 2, 3, 4 share the pooled one
        assert_eq!(g.counts, vec![2.0, 1.0, 3.0]);
        assert_eq!(g.pooled_keys, 3);
        assert_eq!(g.pooled_rows, 3);
    }
}
