//! The second pass: statistics that need whole columns (ranks) or whole
//! sequences (permutation, bootstrap), for a selection of units and pairs.
//!
//! The caller streams the same rows again ([`SecondPass::update`]); only
//! the selected units' and hypotheses' columns are kept, so memory is
//! `rows × (selected units + selected hypotheses)` f32 values.

use std::collections::BTreeMap;

use ndarray::{Array2, ArrayView2, Axis, Slice};
use rayon::prelude::*;

use super::engine::{check_chunk, SeqTracker};
use super::moments::{Centred, CoMoments, ColumnStats};
use super::scores::Scores;
use super::stats::{average_ranks, quantile_sorted};
use super::{Metric, NullModel, ScoreConfig};
use crate::error::{Error, Result};
use crate::hypothesis::HypothesisKind;
use crate::numeric::rng::Rng;
use crate::ranking::{Warning, WarningKind};

const PERM_SALT: u64 = 0x7065_726D_7574_6521;
/// With fewer sequences than this, the bootstrap resamples blocks of
/// timesteps within sequences instead of whole sequences.
pub const MIN_BOOTSTRAP_SEQUENCES: usize = 10;
/// Blocks of the block bootstrap: at least this many timesteps...
const MIN_BLOCK: usize = 64;
/// ...and at most this many blocks in all (longer blocks keep more of the
/// series' dependence).
const MAX_BLOCKS: usize = 200;
const BOOT_SALT: u64 = 0x626F_6F74_7374_7261;

/// What a [`SecondPass`] computes: Spearman and AUC for every
/// `units × hypotheses` combination, permutation p-values and bootstrap
/// intervals for `pairs`. Indices are column indices.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    /// Units whose columns are gathered (pairs' units are added).
    pub units: Vec<usize>,
    /// Hypotheses whose columns are gathered (pairs' hypotheses are added).
    pub hypotheses: Vec<usize>,
    /// (unit, hypothesis) pairs that get permutation and bootstrap.
    pub pairs: Vec<(usize, usize)>,
}

impl Selection {
    /// The best `k` units of each hypothesis (see [`Scores::select_top`]).
    pub fn top(scores: &Scores, k: usize) -> Selection {
        scores.select_top(k)
    }

    /// Every unit and hypothesis (Spearman and AUC for all pairs), with
    /// permutation and bootstrap for the best `top_k_second_pass` units of
    /// each hypothesis. Gathers every column: for data already in memory.
    pub fn all_units(scores: &Scores) -> Selection {
        let mut s = scores.select_top(scores.config().top_k_second_pass);
        s.units = (0..scores.units().len()).collect();
        s.hypotheses = (0..scores.hypotheses().len()).collect();
        s
    }
}

/// Rows per block of the second pass's sample (when its columns would pass
/// [`ScoreConfig::second_pass_bytes`]).
pub const SAMPLE_BLOCK: usize = 4096;
const SAMPLE_SALT: u64 = 0x7361_6D70_6C65_2121;

/// Which blocks of rows the second pass keeps when it cannot keep them all.
struct Sample {
    keep: Vec<bool>,
    kept: usize,
    /// The (block, sequence) of the last row kept, and the stored id it got.
    last: Option<(usize, u32, u32)>,
    next_id: u32,
}

/// Second pass over the same rows as the first.
pub struct SecondPass {
    cfg: ScoreConfig,
    unit_names: Vec<String>,
    hyps: Vec<(String, HypothesisKind)>,
    /// Gathered units (sorted) and hypotheses (sorted).
    units: Vec<usize>,
    hyp_sel: Vec<usize>,
    /// Requested Spearman/AUC combinations (subsets of the above).
    rank_units: Vec<usize>,
    rank_hyps: Vec<usize>,
    pairs: Vec<(usize, usize)>,
    ucols: Vec<Vec<f32>>,
    hcols: Vec<Vec<f32>>,
    seq: Vec<u32>,
    seqs: SeqTracker,
    expected_rows: u64,
    expected_lengths: Vec<u32>,
    /// Rows streamed so far (kept or not).
    rows_seen: u64,
    sample: Option<Sample>,
}

impl SecondPass {
    /// Prepares a second pass for `selection` over the rows `first` was computed on.
    pub fn new(first: &Scores, selection: Selection) -> Result<SecondPass> {
        let (u_n, k_n) = (first.units().len(), first.hypotheses().len());
        let ctx = "SecondPass::new";
        for &u in &selection.units {
            if u >= u_n {
                return Err(Error::invalid(
                    ctx,
                    format!("unit index {u} is out of range (0..{u_n})"),
                ));
            }
        }
        for &k in &selection.hypotheses {
            if k >= k_n {
                return Err(Error::invalid(
                    ctx,
                    format!("hypothesis index {k} is out of range (0..{k_n})"),
                ));
            }
        }
        for &(u, k) in &selection.pairs {
            if u >= u_n || k >= k_n {
                return Err(Error::invalid(
                    ctx,
                    format!("pair ({u}, {k}) is out of range ({u_n} units, {k_n} hypotheses)"),
                ));
            }
        }
        let sorted = |mut v: Vec<usize>| {
            v.sort_unstable();
            v.dedup();
            v
        };
        let rank_units = sorted(selection.units.clone());
        let rank_hyps = sorted(selection.hypotheses.clone());
        let units = sorted(
            selection
                .units
                .iter()
                .copied()
                .chain(selection.pairs.iter().map(|p| p.0))
                .collect(),
        );
        let hyp_sel = sorted(
            selection
                .hypotheses
                .iter()
                .copied()
                .chain(selection.pairs.iter().map(|p| p.1))
                .collect(),
        );
        let mut pairs = selection.pairs;
        pairs.sort_unstable();
        pairs.dedup();
        let cfg = first.config();
        let rows = first.n_rows() as usize;
        let row_bytes = 4 * (units.len() + hyp_sel.len() + 1);
        let sample = (rows.saturating_mul(row_bytes) > cfg.second_pass_bytes).then(|| {
            let blocks = rows.div_ceil(SAMPLE_BLOCK);
            let kept = (cfg.second_pass_bytes / (row_bytes * SAMPLE_BLOCK)).clamp(1, blocks);
            let mut order: Vec<usize> = (0..blocks).collect();
            Rng::from_state(cfg.seed ^ SAMPLE_SALT).shuffle_by_rejection(&mut order);
            let mut keep = vec![false; blocks];
            for &b in &order[..kept] {
                keep[b] = true;
            }
            Sample {
                keep,
                kept,
                last: None,
                next_id: 0,
            }
        });
        Ok(SecondPass {
            rows_seen: 0,
            sample,
            cfg: first.config().clone(),
            unit_names: first.units().iter().map(|u| u.name.clone()).collect(),
            hyps: first
                .hypotheses()
                .iter()
                .map(|h| (h.name.clone(), h.kind.clone()))
                .collect(),
            ucols: vec![Vec::new(); units.len()],
            hcols: vec![Vec::new(); hyp_sel.len()],
            units,
            hyp_sel,
            rank_units,
            rank_hyps,
            pairs,
            seq: Vec::new(),
            seqs: SeqTracker::default(),
            expected_rows: first.n_rows(),
            expected_lengths: first.seq_lengths.clone(),
        })
    }

    /// Feeds one chunk of the same stream (same shapes as the first pass).
    pub fn update(
        &mut self,
        acts: ArrayView2<'_, f32>,
        values: ArrayView2<'_, f32>,
        seq_ids: &[u32],
    ) -> Result<()> {
        let ctx = "SecondPass::update";
        let first_row = self.rows_seen;
        check_chunk(
            ctx,
            &self.unit_names,
            &self.hyps,
            acts,
            values,
            seq_ids,
            first_row,
        )?;
        self.seqs.check(ctx, seq_ids, first_row)?;
        for &s in seq_ids {
            self.seqs.push(s);
        }
        self.rows_seen += seq_ids.len() as u64;
        let Some(sample) = self.sample.as_mut() else {
            for (col, &u) in self.ucols.iter_mut().zip(&self.units) {
                col.extend(acts.column(u).iter().copied());
            }
            for (col, &k) in self.hcols.iter_mut().zip(&self.hyp_sel) {
                col.extend(values.column(k).iter().copied());
            }
            self.seq.extend_from_slice(seq_ids);
            return Ok(());
        };
        // Runs of rows in one kept block and one sequence; each run is kept
        // as a sequence of its own (the resampling unit).
        let mut i = 0;
        while i < seq_ids.len() {
            let global = first_row as usize + i;
            let block = global / SAMPLE_BLOCK;
            let block_end = ((block + 1) * SAMPLE_BLOCK - first_row as usize).min(seq_ids.len());
            let s = seq_ids[i];
            let mut end = i + 1;
            while end < block_end && seq_ids[end] == s {
                end += 1;
            }
            if sample.keep.get(block).copied().unwrap_or(false) {
                let id = match sample.last {
                    Some((b, q, id)) if b == block && q == s => id,
                    _ => {
                        let id = sample.next_id;
                        sample.next_id += 1;
                        sample.last = Some((block, s, id));
                        id
                    }
                };
                let rows = Slice::from(i..end);
                for (col, &u) in self.ucols.iter_mut().zip(&self.units) {
                    col.extend(acts.column(u).slice_axis(Axis(0), rows).iter().copied());
                }
                for (col, &k) in self.hcols.iter_mut().zip(&self.hyp_sel) {
                    col.extend(values.column(k).slice_axis(Axis(0), rows).iter().copied());
                }
                self.seq.extend(std::iter::repeat_n(id, end - i));
            }
            i = end;
        }
        Ok(())
    }

    /// Computes the second-pass statistics and adds them to `scores`.
    pub fn finish(self, mut scores: Scores) -> Result<Scores> {
        let ctx = "SecondPass::finish";
        if self.rows_seen != self.expected_rows || self.seqs.lengths() != self.expected_lengths {
            return Err(Error::invalid(
                ctx,
                format!(
                    "the second pass saw {} rows in {} sequences but the first pass saw {} rows in {} \
                     sequences: stream exactly the same rows again",
                    self.rows_seen,
                    self.seqs.lengths().len(),
                    self.expected_rows,
                    self.expected_lengths.len()
                ),
            ));
        }
        if let Some(sample) = &self.sample {
            scores.warnings.push(Warning {
                kind: WarningKind::SecondPassSampled,
                subject: "second pass".into(),
                message: format!(
                    "the selected columns of all {} rows would take {} MiB, over the second pass's {} MiB (ScoreConfig::second_pass_bytes, `--second-pass-mb`): Spearman, AUC, permutation p-values and intervals come from {} of {} blocks of {SAMPLE_BLOCK} rows ({} rows), drawn with the seed",
                    self.expected_rows,
                    (self.expected_rows as usize * 4 * (self.units.len() + self.hyp_sel.len() + 1)) >> 20,
                    self.cfg.second_pass_bytes >> 20,
                    sample.kept,
                    sample.keep.len(),
                    self.seq.len()
                ),
            });
        }
        let (u_n, k_n) = (scores.units().len(), scores.hypotheses().len());
        let unit_pos = |u: usize| self.units.binary_search(&u).ok();
        let hyp_pos = |k: usize| self.hyp_sel.binary_search(&k).ok();

        if self.cfg.has(Metric::Spearman) || self.cfg.has(Metric::Auc) {
            let (sp, auc) = self.rank_statistics(&scores, &unit_pos, &hyp_pos);
            if self.cfg.has(Metric::Spearman) {
                scores.spearman = Some(sp);
            }
            if self.cfg.has(Metric::Auc) {
                scores.auc = Some(auc);
            }
        }

        let layout = SeqLayout::new(&self.seq);
        let pair_data: Vec<(usize, usize, usize, usize)> = self
            .pairs
            .iter()
            .filter(|&&(u, k)| !(scores.unit_degenerate[u] || scores.hyp_degenerate[k]))
            .filter_map(|&(u, k)| Some((u, k, unit_pos(u)?, hyp_pos(k)?)))
            .collect();

        if self.cfg.permutations > 0 && !self.pairs.is_empty() {
            let (null, note) = layout.choose_null(self.cfg.permutation_null, self.cfg.permutations);
            if let Some(message) = note {
                scores.warnings.push(Warning {
                    kind: WarningKind::PermutationNull,
                    subject: "permutation".into(),
                    message,
                });
            }
            let maps = layout.draw(null, self.cfg.permutations, self.cfg.seed ^ PERM_SALT);
            let mut p_perm = Array2::from_elem((u_n, k_n), f64::NAN);
            for &(u, k) in &self.pairs {
                if scores.unit_degenerate[u] || scores.hyp_degenerate[k] {
                    p_perm[[u, k]] = 1.0;
                }
            }
            let results: Vec<f64> = pair_data
                .par_iter()
                .map(|&(_, k, ui, hi)| {
                    let x = &self.ucols[ui];
                    let h = &self.hcols[hi];
                    permutation_p(x, h, &self.hyps[k].1, &layout, &maps)
                })
                .collect();
            for (&(u, k, _, _), p) in pair_data.iter().zip(results) {
                p_perm[[u, k]] = p;
            }
            scores.p_perm = Some(p_perm);
            scores.null_model = Some(null);
        }

        if self.cfg.bootstrap > 0 && !self.pairs.is_empty() {
            let sequences = layout.len.len();
            let blocks;
            let layout = if sequences < MIN_BOOTSTRAP_SEQUENCES {
                blocks = layout.blocks();
                scores.warnings.push(Warning {
                    kind: WarningKind::BlockResampling,
                    subject: "bootstrap".into(),
                    message: format!(
                        "only {sequences} sequence(s): the {:.0}% intervals resample {} blocks of {} consecutive timesteps within sequences instead of whole sequences, so they hold only as far as steps more than a block apart are independent",
                        100.0 * self.cfg.confidence,
                        blocks.len.len(),
                        blocks.len.iter().max().copied().unwrap_or(0)
                    ),
                });
                &blocks
            } else {
                &layout
            };
            let weights = layout.bootstrap_weights(self.cfg.bootstrap, self.cfg.seed ^ BOOT_SALT);
            let alpha = (1.0 - self.cfg.confidence) / 2.0;
            let mut lo = Array2::from_elem((u_n, k_n), f64::NAN);
            let mut hi = Array2::from_elem((u_n, k_n), f64::NAN);
            for &(u, k) in &self.pairs {
                if scores.unit_degenerate[u] || scores.hyp_degenerate[k] {
                    lo[[u, k]] = 0.0;
                    hi[[u, k]] = 0.0;
                }
            }
            let results: Vec<(f64, f64)> = pair_data
                .par_iter()
                .map(|&(_, k, ui, hi)| {
                    let mut reps = bootstrap(
                        &self.ucols[ui],
                        &self.hcols[hi],
                        &self.hyps[k].1,
                        layout,
                        &weights,
                    );
                    reps.sort_by(f64::total_cmp);
                    (
                        quantile_sorted(&reps, alpha),
                        quantile_sorted(&reps, 1.0 - alpha),
                    )
                })
                .collect();
            for (&(u, k, _, _), (l, h)) in pair_data.iter().zip(results) {
                lo[[u, k]] = l;
                hi[[u, k]] = h;
            }
            scores.ci = Some((lo, hi));
        }
        Ok(scores)
    }

    /// Spearman ρ and exact AUC for `rank_units × rank_hyps` (non-categorical).
    fn rank_statistics(
        &self,
        scores: &Scores,
        unit_pos: &dyn Fn(usize) -> Option<usize>,
        hyp_pos: &dyn Fn(usize) -> Option<usize>,
    ) -> (Array2<f64>, Array2<f64>) {
        let (u_n, k_n) = (scores.units().len(), scores.hypotheses().len());
        let mut sp = Array2::from_elem((u_n, k_n), f64::NAN);
        let mut auc = Array2::from_elem((u_n, k_n), f64::NAN);
        let hyps: Vec<usize> = self
            .rank_hyps
            .iter()
            .copied()
            .filter(|&k| !matches!(self.hyps[k].1, HypothesisKind::Categorical { .. }))
            .collect();
        let units: Vec<usize> = self.rank_units.clone();
        let rows = self.seq.len();
        if units.is_empty() || hyps.is_empty() || rows == 0 {
            return (sp, auc);
        }
        // Rank matrices, rows × columns, ranks centred on (n+1)/2 (exact in f32).
        let centre = (rows as f64 + 1.0) / 2.0;
        let rank_matrix = |cols: Vec<&Vec<f32>>| -> Array2<f32> {
            let ranked: Vec<Vec<f64>> = cols.par_iter().map(|c| average_ranks(c)).collect();
            let mut m = Array2::zeros((rows, ranked.len()));
            for (j, r) in ranked.iter().enumerate() {
                for (dst, &v) in m.column_mut(j).iter_mut().zip(r) {
                    *dst = (v - centre) as f32;
                }
            }
            m
        };
        let ru = rank_matrix(
            units
                .iter()
                .filter_map(|&u| unit_pos(u))
                .map(|i| &self.ucols[i])
                .collect(),
        );
        let rh = rank_matrix(
            hyps.iter()
                .filter_map(|&k| hyp_pos(k))
                .map(|i| &self.hcols[i])
                .collect(),
        );
        let mut co = CoMoments::new(units.len(), hyps.len());
        let mut su = ColumnStats::new(units.len());
        let mut sh = ColumnStats::new(hyps.len());
        let block = self.cfg.block_rows;
        let mut start = 0;
        while start < rows {
            let end = (start + block).min(rows);
            let cu = Centred::new(ru.slice_axis(Axis(0), Slice::from(start..end)));
            let ch = Centred::new(rh.slice_axis(Axis(0), Slice::from(start..end)));
            co.merge_centred(&cu, &ch);
            su.merge(&cu.m);
            sh.merge(&ch.m);
            start = end;
        }
        let n = rows as f64;
        // Each binary hypothesis's ones among the kept rows (all rows unless
        // the second pass keeps a sample).
        let ones: Vec<Option<f64>> = hyps
            .iter()
            .map(|&k| {
                scores.hypotheses()[k].fires.map(|_| {
                    hyp_pos(k).map_or(0, |i| self.hcols[i].iter().filter(|&&v| v == 1.0).count())
                        as f64
                })
            })
            .collect();
        for (i, &u) in units.iter().enumerate() {
            for (j, &k) in hyps.iter().enumerate() {
                let degenerate = scores.unit_degenerate[u] || scores.hyp_degenerate[k];
                let denom = (su.m2[i] * sh.m2[j]).sqrt();
                let rho = if degenerate || denom <= 0.0 {
                    0.0
                } else {
                    (co.c[[i, j]] / denom).clamp(-1.0, 1.0)
                };
                sp[[u, k]] = rho;
                if let Some(n1) = ones[j] {
                    let n0 = n - n1;
                    auc[[u, k]] = if degenerate || n1 == 0.0 || n0 == 0.0 {
                        0.5
                    } else {
                        // rank(h) − mean = (h − h̄)·n/2 for 0/1 h, so
                        // Σ_{h=1} rank(x) = n1·(n+1)/2 + 2·C/n.
                        let pos_rank_sum = n1 * centre + 2.0 * co.c[[i, j]] / n;
                        ((pos_rank_sum - n1 * (n1 + 1.0) / 2.0) / (n1 * n0)).clamp(0.0, 1.0)
                    };
                }
            }
        }
        (sp, auc)
    }
}

/// Sequence boundaries of the gathered rows.
struct SeqLayout {
    start: Vec<usize>,
    len: Vec<usize>,
}

/// Where each row's hypothesis value comes from in one permutation.
enum NullMap {
    /// `src[s]` = the sequence whose values sequence `s` receives.
    Sequences(Vec<usize>),
    /// Rotation offset per sequence.
    Shifts(Vec<usize>),
}

impl SeqLayout {
    fn new(seq: &[u32]) -> Self {
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
    fn strata(&self) -> BTreeMap<usize, Vec<usize>> {
        let mut m: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (s, &l) in self.len.iter().enumerate() {
            m.entry(l).or_default().push(s);
        }
        m
    }

    /// The same rows cut into blocks: every sequence into pieces of
    /// `max(MIN_BLOCK, ⌈rows / MAX_BLOCKS⌉)` timesteps (its last piece
    /// shorter), each piece then resampled as a whole.
    fn blocks(&self) -> SeqLayout {
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
    fn ln_orderings(&self) -> f64 {
        self.strata()
            .values()
            .map(|v| (2..=v.len()).map(|i| (i as f64).ln()).sum::<f64>())
            .sum()
    }

    fn choose_null(&self, asked: NullModel, permutations: usize) -> (NullModel, Option<String>) {
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

    fn draw(&self, null: NullModel, count: usize, seed: u64) -> Vec<NullMap> {
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
    fn apply(&self, map: &NullMap, h: &[f32], out: &mut Vec<f32>) {
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
    fn bootstrap_weights(&self, count: usize, seed: u64) -> Vec<Vec<u32>> {
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

fn permutation_p(
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
fn bootstrap(
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
