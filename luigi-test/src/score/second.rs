//! The second pass: statistics that need whole columns (ranks) or whole
//! sequences (permutation, bootstrap), for a selection of units and pairs.
//!
//! The caller streams the same rows again ([`SecondPass::update`]); only
//! the selected units' and hypotheses' columns are kept, so memory is
//! `rows × (selected units + selected hypotheses)` f32 values.

use ndarray::{Array2, ArrayView2, Axis, Slice};
use rayon::prelude::*;

use super::moments::{Centred, CoMoments, ColumnStats};
use super::ranking::{Warning, WarningKind};
use super::resample::{bootstrap, permutation_p, SeqLayout};
use super::rows::{check_chunk, SeqTracker};
use super::scores::{Scores, Selection};
use super::stats::{average_ranks, quantile_sorted};
use super::{Metric, ScoreConfig};
use crate::error::{Error, Result};
use crate::hypothesis::HypothesisKind;
use crate::numeric::rng::Rng;

const PERM_SALT: u64 = 0x7065_726D_7574_6521;
/// With fewer sequences than this, the bootstrap resamples blocks of
/// timesteps within sequences instead of whole sequences.
pub const MIN_BOOTSTRAP_SEQUENCES: usize = 10;
const BOOT_SALT: u64 = 0x626F_6F74_7374_7261;

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
