//! The streaming first pass: sufficient statistics, block by block.

use ndarray::{Array2, ArrayView2, Axis, Slice};

use super::bins::MiCounts;
use super::finish::{self, FirstPass};
use super::moments::{add_row, centre_in_place, CoMoments, ColumnStats, LagStats};
use super::rows::{check_chunk, check_shapes, check_unique, Layout, RowCheck, SeqTracker};
use super::scores::Scores;
use super::within::{GroupSums, GROUP_CAP};
use super::{Metric, ScoreConfig};
use crate::error::{Error, Result};
use crate::hypothesis::HypothesisKind;

enum MiStage {
    Calibrating {
        acts: Vec<Array2<f32>>,
        hyps: Vec<Array2<f32>>,
        rows: usize,
    },
    Counting(Box<MiCounts>),
}

/// The streaming score engine (first pass).
///
/// Memory is `O(units × hypotheses)` for the totals, plus at most five
/// blocks of rows in its buffers (a chunk of up to four blocks is copied
/// whole before it is committed; a larger one is checked first and then
/// taken four blocks at a time) and, while bin edges are being estimated,
/// the calibration rows. It does not grow with the corpus.
pub struct Engine {
    units: Vec<String>,
    hyps: Vec<(String, HypothesisKind)>,
    cfg: ScoreConfig,
    layout: Layout,
    buf_acts: Vec<f32>,
    buf_hyps: Vec<f32>,
    buf_seq: Vec<u32>,
    buf_pos: Vec<f32>,
    /// Each buffered row's input token, when the caller gives tokens.
    buf_tok: Vec<i64>,
    /// Whether rows come with their tokens: unknown until the first
    /// non-empty chunk, then fixed.
    with_tokens: Option<bool>,
    /// Group sums for the within-token scores.
    token_groups: GroupSums,
    /// Group sums for the within-position scores.
    pos_groups: GroupSums,
    /// Units excluded from scoring (non-finite activations), with why.
    excluded: Vec<Option<String>>,
    /// Column sums of the open (incomplete) block in the buffers.
    open_sums: (Vec<f64>, Vec<f64>),
    /// Column sums of complete blocks waiting in the buffers.
    pending: Vec<(Vec<f64>, Vec<f64>)>,
    check: RowCheck,
    design_buf: Vec<f32>,
    rows: u64,
    seqs: SeqTracker,
    unit_stats: ColumnStats,
    design_stats: ColumnStats,
    pos_stats: ColumnStats,
    unit_lag: LagStats,
    design_lag: LagStats,
    co: Option<CoMoments>,
    pos_co: CoMoments,
    mi: Option<MiStage>,
}

impl Engine {
    /// An engine for these units and hypotheses.
    ///
    /// Errors: invalid config, duplicate names, or a categorical hypothesis
    /// without states.
    pub fn new(
        units: Vec<String>,
        hyps: Vec<(String, HypothesisKind)>,
        cfg: ScoreConfig,
    ) -> Result<Engine> {
        cfg.validate()?;
        if !(cfg.has(Metric::Pearson) || cfg.has(Metric::Eta) || cfg.has(Metric::MutualInfo)) {
            return Err(Error::invalid(
                "ScoreConfig.metrics",
                "the first pass needs Pearson, Eta or MutualInfo to rank by; add one of them",
            ));
        }
        check_unique("unit", units.iter())?;
        check_unique("hypothesis", hyps.iter().map(|(n, _)| n))?;
        for (name, kind) in &hyps {
            if let HypothesisKind::Categorical { states } = kind {
                if states.is_empty() {
                    return Err(Error::Hypothesis {
                        name: name.clone(),
                        message: "categorical hypothesis with no states: list its states".into(),
                    });
                }
            }
        }
        let layout = Layout::new(hyps.iter().map(|(_, k)| k.clone()).collect());
        let (u, d) = (units.len(), layout.d);
        let rows = cfg.block_rows;
        let co = (cfg.has(Metric::Pearson) || cfg.has(Metric::Eta)).then(|| CoMoments::new(u, d));
        let mi = cfg.has(Metric::MutualInfo).then(|| MiStage::Calibrating {
            acts: Vec::new(),
            hyps: Vec::new(),
            rows: 0,
        });
        Ok(Engine {
            buf_acts: Vec::with_capacity(rows * u),
            buf_hyps: Vec::with_capacity(rows * hyps.len()),
            buf_seq: Vec::with_capacity(rows),
            buf_pos: Vec::with_capacity(rows),
            buf_tok: Vec::with_capacity(rows),
            with_tokens: None,
            token_groups: GroupSums::new(u, d, GROUP_CAP),
            pos_groups: GroupSums::new(u, d, GROUP_CAP),
            excluded: vec![None; u],
            open_sums: (vec![0.0; u], vec![0.0; hyps.len()]),
            pending: Vec::new(),
            check: RowCheck::new(&hyps),
            design_buf: Vec::new(),
            rows: 0,
            seqs: SeqTracker::default(),
            unit_stats: ColumnStats::new(u),
            design_stats: ColumnStats::new(d),
            pos_stats: ColumnStats::new(1),
            unit_lag: LagStats::new(u),
            design_lag: LagStats::new(d),
            co,
            pos_co: CoMoments::new(1, d),
            mi,
            units,
            hyps,
            cfg,
            layout,
        })
    }

    /// Excludes unit `unit` (column index) from scoring because its
    /// activations were not finite (`why` says where): the caller replaced
    /// those values before feeding them, and the unit is flagged
    /// [`Flag::NonFiniteUnit`](super::ranking::Flag::NonFiniteUnit), scored
    /// with the defaults and ranked last, while the other units are
    /// ranked as usual. Out-of-range indices are ignored.
    pub fn exclude_unit(&mut self, unit: usize, why: impl Into<String>) {
        if let Some(slot) = self.excluded.get_mut(unit) {
            *slot = Some(why.into());
        }
    }

    /// Rows fed so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Feeds one chunk: activations `rows × units`, hypothesis values
    /// `rows × hypotheses` and each row's sequence id. A chunk with an
    /// invalid value is rejected whole (nothing of it is counted).
    ///
    /// Without tokens the ranking has no within-token scores; use
    /// [`Engine::update_with_tokens`] for them.
    pub fn update(
        &mut self,
        acts: ArrayView2<'_, f32>,
        values: ArrayView2<'_, f32>,
        seq_ids: &[u32],
    ) -> Result<()> {
        self.update_inner(acts, values, seq_ids, None)
    }

    /// [`Engine::update`] with each row's input token id, for the
    /// within-token scores ([`super::ranking::Pairing::within_token`]).
    /// Every chunk of one engine must then come with its tokens.
    pub fn update_with_tokens(
        &mut self,
        acts: ArrayView2<'_, f32>,
        values: ArrayView2<'_, f32>,
        seq_ids: &[u32],
        tokens: &[i64],
    ) -> Result<()> {
        if tokens.len() != seq_ids.len() {
            return Err(Error::invalid(
                "Engine::update_with_tokens",
                format!(
                    "{} token ids for {} rows: give one token per timestep",
                    tokens.len(),
                    seq_ids.len()
                ),
            ));
        }
        self.update_inner(acts, values, seq_ids, Some(tokens))
    }

    fn update_inner(
        &mut self,
        acts: ArrayView2<'_, f32>,
        values: ArrayView2<'_, f32>,
        seq_ids: &[u32],
        tokens: Option<&[i64]>,
    ) -> Result<()> {
        let ctx = "Engine::update";
        check_shapes(ctx, &self.units, &self.hyps, acts, values, seq_ids)?;
        if !seq_ids.is_empty() {
            match self.with_tokens {
                None => self.with_tokens = Some(tokens.is_some()),
                Some(w) if w != tokens.is_some() => {
                    return Err(Error::invalid(
                        ctx,
                        if w {
                            "this chunk has no token ids but earlier ones had: call update_with_tokens for every chunk"
                        } else {
                            "this chunk has token ids but earlier ones had none: call update (or update_with_tokens) for every chunk alike"
                        },
                    ))
                }
                Some(_) => {}
            }
        }
        self.seqs.check(ctx, seq_ids, self.rows)?;
        // Small chunks are checked row by row while they are copied; a big
        // one is checked first (in parallel) and then taken in pieces, so
        // the buffers never hold more than a few blocks.
        let piece = 4 * self.cfg.block_rows;
        let n = seq_ids.len();
        if n <= piece {
            return self.ingest(acts, values, seq_ids, tokens, true);
        }
        check_chunk(
            ctx,
            &self.units,
            &self.hyps,
            acts,
            values,
            seq_ids,
            self.rows,
        )?;
        let mut start = 0;
        while start < n {
            let end = (start + piece).min(n);
            let rows = Slice::from(start..end);
            self.ingest(
                acts.slice_axis(Axis(0), rows),
                values.slice_axis(Axis(0), rows),
                &seq_ids[start..end],
                tokens.map(|t| &t[start..end]),
                false,
            )?;
            start = end;
        }
        Ok(())
    }

    /// Copies rows into the buffers (checking them when `check` is set),
    /// then processes every block they complete.
    fn ingest(
        &mut self,
        acts: ArrayView2<'_, f32>,
        values: ArrayView2<'_, f32>,
        seq_ids: &[u32],
        tokens: Option<&[i64]>,
        check: bool,
    ) -> Result<()> {
        let ctx = "Engine::update";
        let (u, k) = (self.units.len(), self.hyps.len());
        let cap = self.cfg.block_rows;
        // One sweep: copy each row into the buffers, check it while it is
        // hot, and add it to its block's column sums. Blocks are processed
        // only once the whole chunk has passed, so a bad value rejects the
        // chunk whole (the buffers and sums are rolled back).
        let start_rows = self.buf_seq.len();
        let saved_sums = self.open_sums.clone();
        let saved_pending = self.pending.len();
        let mut failure = None;
        for (i, (arow, hrow)) in acts.rows().into_iter().zip(values.rows()).enumerate() {
            let at = self.buf_acts.len();
            match arow.as_slice() {
                Some(s) => self.buf_acts.extend_from_slice(s),
                None => self.buf_acts.extend(arow.iter().copied()),
            }
            let ah = self.buf_hyps.len();
            match hrow.as_slice() {
                Some(s) => self.buf_hyps.extend_from_slice(s),
                None => self.buf_hyps.extend(hrow.iter().copied()),
            }
            let (new_a, new_h) = (&self.buf_acts[at..], &self.buf_hyps[ah..]);
            let global = self.rows + i as u64;
            if check && !RowCheck::acts_ok(new_a) {
                failure = Some(RowCheck::act_error(
                    ctx,
                    &self.units,
                    new_a,
                    global,
                    seq_ids[i],
                ));
                break;
            }
            if check && !self.check.hyps_ok(new_h) {
                failure = Some(self.check.hyp_error(&self.hyps, new_h, global, seq_ids[i]));
                break;
            }
            add_row(&mut self.open_sums.0, new_a);
            add_row(&mut self.open_sums.1, new_h);
            if (start_rows + i + 1).is_multiple_of(cap) {
                let done = std::mem::replace(&mut self.open_sums, (vec![0.0; u], vec![0.0; k]));
                self.pending.push(done);
            }
        }
        if let Some(err) = failure {
            self.buf_acts.truncate(start_rows * u);
            self.buf_hyps.truncate(start_rows * k);
            self.open_sums = saved_sums;
            self.pending.truncate(saved_pending);
            return Err(err);
        }
        for &s in seq_ids {
            let pos = self.seqs.push(s);
            self.buf_seq.push(s);
            self.buf_pos.push(pos as f32);
        }
        if let Some(t) = tokens {
            self.buf_tok.extend_from_slice(t);
        }
        self.rows += seq_ids.len() as u64;
        // Process the complete blocks, then keep the open one's rows.
        let pending = std::mem::take(&mut self.pending);
        let blocks = pending.len();
        for (b, sums) in pending.into_iter().enumerate() {
            self.process_block(b * cap, cap, sums)?;
        }
        if blocks > 0 {
            let done = blocks * cap;
            self.buf_acts.drain(..done * u);
            self.buf_hyps.drain(..done * k);
            self.buf_seq.drain(..done);
            self.buf_pos.drain(..done);
            if !self.buf_tok.is_empty() {
                self.buf_tok.drain(..done.min(self.buf_tok.len()));
            }
        }
        Ok(())
    }

    /// Processes buffered rows `start..start + r` as one block, given their
    /// column sums (activations, hypothesis values).
    fn process_block(&mut self, start: usize, r: usize, sums: (Vec<f64>, Vec<f64>)) -> Result<()> {
        if r == 0 {
            return Ok(());
        }
        let (u, k, d) = (self.units.len(), self.hyps.len(), self.layout.d);
        let shape_err =
            |e: ndarray::ShapeError| Error::invalid("Engine (internal block)", e.to_string());
        let acts_buf = &mut self.buf_acts[start * u..(start + r) * u];
        let hyps_buf = &mut self.buf_hyps[start * k..(start + r) * k];
        let seq = &self.buf_seq[start..start + r];
        let pos_buf = &mut self.buf_pos[start..start + r];

        // Mutual information works on the raw values.
        let mut start_counting = false;
        {
            let acts = ArrayView2::from_shape((r, u), &*acts_buf).map_err(shape_err)?;
            let hyps = ArrayView2::from_shape((r, k), &*hyps_buf).map_err(shape_err)?;
            match &mut self.mi {
                Some(MiStage::Calibrating {
                    acts: ca_store,
                    hyps: ch_store,
                    rows,
                }) => {
                    ca_store.push(acts.to_owned());
                    ch_store.push(hyps.to_owned());
                    *rows += r;
                    start_counting = *rows >= self.cfg.calibration_rows;
                }
                Some(MiStage::Counting(c)) => c.count(acts, hyps),
                None => {}
            }
        }

        // The raw design (one-hot states for categorical hypotheses), then
        // the group sums of the raw values for the within-token and
        // within-position scores.
        let dsums = (!self.layout.simple)
            .then(|| self.layout.design_into(hyps_buf, r, &mut self.design_buf));
        {
            let raw_design: &[f32] = if self.layout.simple {
                hyps_buf
            } else {
                &self.design_buf
            };
            let positions: Vec<i64> = pos_buf.iter().map(|&p| p as i64).collect();
            self.pos_groups.add(&positions, acts_buf, raw_design);
            if self.with_tokens == Some(true) {
                let toks = &self.buf_tok[start..start + r];
                self.token_groups.add(toks, acts_buf, raw_design);
            }
        }

        // Centre everything in place (lag-1 sums in the same sweep), then
        // one GEMM for the cross-products.
        let ma = centre_in_place(acts_buf, u, &sums.0, seq, Some(&mut self.unit_lag));
        let md = match dsums {
            None => centre_in_place(hyps_buf, k, &sums.1, seq, Some(&mut self.design_lag)),
            Some(dsums) => centre_in_place(
                &mut self.design_buf,
                d,
                &dsums,
                seq,
                Some(&mut self.design_lag),
            ),
        };
        let pos_sum = [pos_buf.iter().map(|&p| f64::from(p)).sum::<f64>()];
        let mp = centre_in_place(pos_buf, 1, &pos_sum, seq, None);
        self.unit_stats.merge(&ma);
        self.design_stats.merge(&md);
        self.pos_stats.merge(&mp);
        let design: &[f32] = if self.layout.simple {
            hyps_buf
        } else {
            &self.design_buf
        };
        let design = ArrayView2::from_shape((r, d), design).map_err(shape_err)?;
        let pos = ArrayView2::from_shape((r, 1), &*pos_buf).map_err(shape_err)?;
        if let Some(co) = &mut self.co {
            let acts = ArrayView2::from_shape((r, u), &*acts_buf).map_err(shape_err)?;
            co.merge(acts, &ma, design, &md);
        }
        self.pos_co.merge(pos, &mp, design, &md);
        if start_counting {
            self.start_counting();
        }
        Ok(())
    }

    /// Freezes bin edges on the calibration rows and counts them.
    fn start_counting(&mut self) {
        if let Some(MiStage::Calibrating { acts, hyps, .. }) = self.mi.take() {
            let mut counts = MiCounts::calibrate(
                &acts,
                &hyps,
                &self.layout.kinds,
                self.cfg.bins,
                self.cfg.hypothesis_bins,
            );
            for (a, h) in acts.iter().zip(&hyps) {
                counts.count(a.view(), h.view());
            }
            self.mi = Some(MiStage::Counting(Box::new(counts)));
        }
    }

    /// Ends the first pass and computes every first-pass score.
    ///
    /// Errors when no row was fed.
    pub fn finish(mut self) -> Result<Scores> {
        let r = self.buf_seq.len();
        let sums = std::mem::take(&mut self.open_sums);
        self.process_block(0, r, sums)?;
        if self.rows == 0 {
            return Err(Error::invalid(
                "Engine::finish",
                "no timesteps were given: call update() with at least one row (is the corpus empty?)",
            ));
        }
        if matches!(self.mi, Some(MiStage::Calibrating { .. })) {
            self.start_counting();
        }
        let mi = match self.mi.take() {
            Some(MiStage::Counting(c)) => Some(c.finish()),
            _ => None,
        };
        finish::build(FirstPass {
            n: self.rows as f64,
            seq_lengths: self.seqs.lengths(),
            units: self.units,
            hyps: self.hyps,
            cfg: self.cfg,
            layout: self.layout,
            unit_stats: self.unit_stats,
            design_stats: self.design_stats,
            pos_stats: self.pos_stats,
            unit_lag: self.unit_lag,
            design_lag: self.design_lag,
            co: self.co,
            pos_co: self.pos_co,
            mi,
            token_groups: (self.with_tokens == Some(true)).then_some(self.token_groups),
            excluded: self.excluded,
            pos_groups: self.pos_groups,
        })
    }
}
