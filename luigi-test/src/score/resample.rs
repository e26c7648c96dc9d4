//! The second pass's resampling: sequence boundaries ([`SeqLayout`]), the
//! permutation null (whole sequences within a length, or rotations within
//! each sequence) and the bootstrap (whole sequences, or blocks within
//! sequences when there are few).

use std::collections::BTreeMap;

use super::NullModel;
use crate::hypothesis::HypothesisKind;
use crate::numeric::rng::Rng;

/// Blocks of the block bootstrap: at least this many timesteps...
const MIN_BLOCK: usize = 64;
/// ...and at most this many blocks in all (longer blocks keep more of the
/// series' dependence).
const MAX_BLOCKS: usize = 200;

/// Sequence boundaries of the gathered rows.
pub(crate) struct SeqLayout {
    pub(crate) start: Vec<usize>,
    pub(crate) len: Vec<usize>,
}

/// Where each row's hypothesis value comes from in one permutation.
pub(crate) enum NullMap {
    /// `src[s]` = the sequence whose values sequence `s` receives.
    Sequences(Vec<usize>),
    /// Rotation offset per sequence.
    Shifts(Vec<usize>),
}

impl SeqLayout {
    pub(crate) fn new(seq: &[u32]) -> Self {
        let mut start = Vec::new();
        let mut len = Vec::new();
        for (i, s) in seq.iter().enumerate() {
            if i == 0 || seq[i - 1] != *s {
                start.push(i);
                len.push(0);
            }
            if let Some(l) = len.last_mut() {
                *l += 1;
            }
        }
        SeqLayout { start, len }
    }

    /// Sequences grouped by length, in length order.
    pub(crate) fn strata(&self) -> BTreeMap<usize, Vec<usize>> {
        let mut m: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (s, &l) in self.len.iter().enumerate() {
            m.entry(l).or_default().push(s);
        }
        m
    }

    /// The same rows cut into blocks: every sequence into pieces of
    /// `max(MIN_BLOCK, ⌈rows / MAX_BLOCKS⌉)` timesteps (its last piece
    /// shorter), each piece then resampled as a whole.
    pub(crate) fn blocks(&self) -> SeqLayout {
        let total: usize = self.len.iter().sum();
        let block = MIN_BLOCK.max(total.div_ceil(MAX_BLOCKS));
        let mut start = Vec::new();
        let mut len = Vec::new();
        for (&st, &l) in self.start.iter().zip(&self.len) {
            let mut at = 0;
            while at < l {
                let n = block.min(l - at);
                start.push(st + at);
                len.push(n);
                at += n;
            }
        }
        SeqLayout { start, len }
    }

    /// log of the number of distinct orderings the sequence permutation can
    /// draw (sequences move only within their length).
    pub(crate) fn ln_orderings(&self) -> f64 {
        self.strata()
            .values()
            .map(|v| (2..=v.len()).map(|i| (i as f64).ln()).sum::<f64>())
            .sum()
    }

    pub(crate) fn choose_null(
        &self,
        asked: NullModel,
        permutations: usize,
    ) -> (NullModel, Option<String>) {
        let total: usize = self.len.iter().sum();
        if asked == NullModel::Auto && self.ln_orderings() < ((permutations + 1) as f64).ln() {
            return (
                NullModel::CircularShift,
                Some(format!(
                    "{} sequence(s) allow fewer distinct orderings than the {permutations} permutations asked, so the permutation null rotates each sequence's hypothesis values instead of permuting whole sequences",
                    self.len.len()
                )),
            );
        }
        let movable: usize = self
            .strata()
            .iter()
            .filter(|(_, v)| v.len() >= 2)
            .map(|(l, v)| l * v.len())
            .sum();
        let frac = if total > 0 {
            movable as f64 / total as f64
        } else {
            0.0
        };
        let fixed = 100.0 * (1.0 - frac);
        match asked {
            NullModel::CircularShift => (NullModel::CircularShift, None),
            NullModel::SequencePermutation => (
                NullModel::SequencePermutation,
                (movable < total).then(|| {
                    format!(
                        "{fixed:.0}% of timesteps are in sequences whose length no other sequence \
                         shares; they keep their own hypothesis values, which makes permutation \
                         p-values conservative"
                    )
                }),
            ),
            NullModel::Auto if frac >= 0.5 => (
                NullModel::SequencePermutation,
                (movable < total).then(|| {
                    format!(
                        "{fixed:.0}% of timesteps are in sequences of unique length and keep their \
                         own hypothesis values (conservative)"
                    )
                }),
            ),
            NullModel::Auto => (
                NullModel::CircularShift,
                Some(format!(
                    "only {:.0}% of timesteps are in sequences that share their length, so the \
                     permutation null rotates each sequence's hypothesis values instead of \
                     permuting whole sequences",
                    100.0 * frac
                )),
            ),
        }
    }

    pub(crate) fn draw(&self, null: NullModel, count: usize, seed: u64) -> Vec<NullMap> {
        let mut rng = Rng::from_state(seed);
        let strata = self.strata();
        (0..count)
            .map(|_| match null {
                NullModel::CircularShift => NullMap::Shifts(
                    self.len
                        .iter()
                        .map(|&l| rng.below_by_rejection(l))
                        .collect(),
                ),
                _ => {
                    let mut src: Vec<usize> = (0..self.len.len()).collect();
                    for members in strata.values() {
                        if members.len() < 2 {
                            continue;
                        }
                        let mut shuffled = members.clone();
                        rng.shuffle_by_rejection(&mut shuffled);
                        for (&dst, &from) in members.iter().zip(&shuffled) {
                            src[dst] = from;
                        }
                    }
                    NullMap::Sequences(src)
                }
            })
            .collect()
    }

    /// Writes `h` as seen through `map` into `out`.
    pub(crate) fn apply(&self, map: &NullMap, h: &[f32], out: &mut Vec<f32>) {
        out.clear();
        for (s, (&st, &l)) in self.start.iter().zip(&self.len).enumerate() {
            match map {
                NullMap::Sequences(src) => {
                    let from = self.start[src[s]];
                    out.extend_from_slice(&h[from..from + l]);
                }
                NullMap::Shifts(off) => {
                    let o = off[s];
                    out.extend_from_slice(&h[st + o..st + l]);
                    out.extend_from_slice(&h[st..st + o]);
                }
            }
        }
    }

    /// Multinomial sequence counts for `count` bootstrap replicates.
    pub(crate) fn bootstrap_weights(&self, count: usize, seed: u64) -> Vec<Vec<u32>> {
        let mut rng = Rng::from_state(seed);
        let s = self.len.len();
        (0..count)
            .map(|_| {
                let mut w = vec![0u32; s];
                for _ in 0..s {
                    w[rng.below_by_rejection(s)] += 1;
                }
                w
            })
            .collect()
    }
}

/// |r| (numeric, binary) or η² (categorical) of `x` against `h`.
fn null_stat(
    xc: &[f64],
    sxx: f64,
    h: &[f32],
    kind: &HypothesisKind,
    h_mean: f64,
    shh: f64,
    counts: &[f64],
) -> f64 {
    if sxx <= 0.0 {
        return 0.0;
    }
    match kind {
        HypothesisKind::Categorical { .. } => {
            let mut sums = vec![0.0; counts.len()];
            for (&x, &v) in xc.iter().zip(h) {
                sums[v as usize] += x;
            }
            let between: f64 = sums
                .iter()
                .zip(counts)
                .filter(|(_, &c)| c > 0.0)
                .map(|(s, c)| s * s / c)
                .sum();
            between / sxx
        }
        _ => {
            if shh <= 0.0 {
                return 0.0;
            }
            let cross: f64 = xc
                .iter()
                .zip(h)
                .map(|(&x, &v)| x * (f64::from(v) - h_mean))
                .sum();
            (cross / (sxx * shh).sqrt()).abs()
        }
    }
}

pub(crate) fn permutation_p(
    x: &[f32],
    h: &[f32],
    kind: &HypothesisKind,
    layout: &SeqLayout,
    maps: &[NullMap],
) -> f64 {
    let n = x.len() as f64;
    let mx = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let xc: Vec<f64> = x.iter().map(|&v| f64::from(v) - mx).collect();
    let sxx: f64 = xc.iter().map(|v| v * v).sum();
    let mh = h.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let shh: f64 = h.iter().map(|&v| (f64::from(v) - mh).powi(2)).sum();
    let counts: Vec<f64> = match kind {
        HypothesisKind::Categorical { states } => {
            let mut c = vec![0.0; states.len()];
            for &v in h {
                c[v as usize] += 1.0;
            }
            c
        }
        _ => Vec::new(),
    };
    let observed = null_stat(&xc, sxx, h, kind, mh, shh, &counts);
    let mut buf = Vec::with_capacity(h.len());
    let mut hits = 0usize;
    for map in maps {
        layout.apply(map, h, &mut buf);
        let stat = null_stat(&xc, sxx, &buf, kind, mh, shh, &counts);
        if stat >= observed * (1.0 - 1e-12) {
            hits += 1;
        }
    }
    (1.0 + hits as f64) / (1.0 + maps.len() as f64)
}

/// Bootstrap replicates of r (numeric, binary) or η (categorical),
/// resampling whole sequences with the given multinomial weights.
pub(crate) fn bootstrap(
    x: &[f32],
    h: &[f32],
    kind: &HypothesisKind,
    layout: &SeqLayout,
    weights: &[Vec<u32>],
) -> Vec<f64> {
    let n_states = match kind {
        HypothesisKind::Categorical { states } => states.len(),
        _ => 0,
    };
    // Per-sequence sufficient statistics (two-pass within each sequence).
    struct Seq {
        n: f64,
        mx: f64,
        mh: f64,
        sxx: f64,
        shh: f64,
        sxh: f64,
        state_n: Vec<f64>,
        state_dev: Vec<f64>,
    }
    let seqs: Vec<Seq> = layout
        .start
        .iter()
        .zip(&layout.len)
        .map(|(&st, &l)| {
            let xs = &x[st..st + l];
            let hs = &h[st..st + l];
            let n = l as f64;
            let mx = xs.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let mh = hs.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let (mut sxx, mut shh, mut sxh) = (0.0, 0.0, 0.0);
            let mut state_n = vec![0.0; n_states];
            let mut state_dev = vec![0.0; n_states];
            for (&a, &b) in xs.iter().zip(hs) {
                let dx = f64::from(a) - mx;
                let dh = f64::from(b) - mh;
                sxx += dx * dx;
                shh += dh * dh;
                sxh += dx * dh;
                if n_states > 0 {
                    state_n[b as usize] += 1.0;
                    state_dev[b as usize] += dx;
                }
            }
            Seq {
                n,
                mx,
                mh,
                sxx,
                shh,
                sxh,
                state_n,
                state_dev,
            }
        })
        .collect();
    weights
        .iter()
        .map(|w| {
            let (mut n, mut sx, mut sh) = (0.0, 0.0, 0.0);
            for (s, &wi) in seqs.iter().zip(w) {
                let wi = f64::from(wi);
                n += wi * s.n;
                sx += wi * s.n * s.mx;
                sh += wi * s.n * s.mh;
            }
            if n <= 0.0 {
                return 0.0;
            }
            let (mx, mh) = (sx / n, sh / n);
            let (mut cxx, mut chh, mut cxh) = (0.0, 0.0, 0.0);
            let mut state_n = vec![0.0; n_states];
            let mut state_dev = vec![0.0; n_states];
            for (s, &wi) in seqs.iter().zip(w) {
                if wi == 0 {
                    continue;
                }
                let wi = f64::from(wi);
                let dx = s.mx - mx;
                let dh = s.mh - mh;
                cxx += wi * (s.sxx + s.n * dx * dx);
                chh += wi * (s.shh + s.n * dh * dh);
                cxh += wi * (s.sxh + s.n * dx * dh);
                for c in 0..n_states {
                    state_n[c] += wi * s.state_n[c];
                    state_dev[c] += wi * (s.state_dev[c] + s.state_n[c] * dx);
                }
            }
            if cxx <= 0.0 {
                return 0.0;
            }
            if n_states > 0 {
                let between: f64 = state_dev
                    .iter()
                    .zip(&state_n)
                    .filter(|(_, &c)| c > 0.0)
                    .map(|(d, c)| d * d / c)
                    .sum();
                (between / cxx).clamp(0.0, 1.0).sqrt()
            } else if chh <= 0.0 {
                0.0
            } else {
                (cxh / (cxx * chh).sqrt()).clamp(-1.0, 1.0)
            }
        })
        .collect()
}
