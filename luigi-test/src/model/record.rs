//! [`Model::record`] and its streaming forms: run a corpus through the
//! model and keep any layer's activations (how a tensor's axes become units:
//! [`crate::model::layout`]).
//!
//! ## Batching and padding
//! Sequences are taken in windows of consecutive sequences holding about
//! `chunk_timesteps` timesteps (one window is one emitted chunk), sorted by
//! length inside the window, and batched. A model whose card says
//! `input.causal: true` gets right-padded batches (padding cannot change
//! earlier timesteps, and padded positions are dropped); any other model is
//! only batched with sequences of exactly the same length, so padding never
//! reaches the results. Rows come out in corpus order.
//!
//! ## What runs
//! A session runs only the nodes that the recorded tensors need (the graph
//! is cut down to them, see [`crate::model::graph::pruned_to_outputs`]):
//! recording a hidden layer does not pay for the model's head.
//!
//! When a window holds several batches, they run in parallel on the rayon
//! thread pool: each batch runs whole on one worker's single-threaded ONNX
//! Runtime session (one session per worker, made on first need and kept
//! with the model), and its rows are copied into the chunk by that worker.
//! A window of a single batch runs on one session with ONNX Runtime's own
//! intra-op threads (`LUIGI_ORT_THREADS`, else one per core). Which way a
//! batch runs depends only on the corpus, the batch size and the chunk size,
//! and the workers' sessions are single-threaded, so the number of workers
//! (`RAYON_NUM_THREADS`) cannot change a value.

use std::sync::{Arc, Mutex};

use ndarray::Array2;
use rayon::prelude::*;

use crate::activations::{Activations, RowIndex};
use crate::corpus::Corpus;
use crate::error::{Error, Result};
use crate::model::layout::LayerLayout;
use crate::model::onnx_model::{Model, OneHotBuffer, ResolvedLayer, ValueTable};
use crate::model::plan;
use crate::model::session::OrtSession;

/// Output tensors at least this large (in floats) are copied into the chunk
/// by several threads.
const PARALLEL_COPY_FLOATS: usize = 1 << 20;

/// Options for [`Model::record_with`].
#[derive(Clone)]
pub struct RecordOptions {
    /// Sequences per ONNX Runtime call (default 32). The batches of a chunk
    /// run in parallel, one per worker thread.
    pub batch_size: usize,
    /// Rows per emitted chunk: a chunk holds whole consecutive sequences and
    /// ends at the first sequence boundary at or past this many rows
    /// (default 65,536). Memory use is about one chunk.
    pub chunk_timesteps: usize,
    /// Called after each batch with (timesteps done, timesteps in all).
    pub progress: Option<Arc<dyn Fn(usize, usize) + Send + Sync>>,
    /// Pieces of a long sequence (default 16,384 steps): when the card
    /// names its `state:` pairs and the input is `causal`, a sequence longer
    /// than this runs through the model in pieces of this many steps, each
    /// piece starting from the state the previous one ended in. The
    /// activations are those of one run over the whole sequence, and ONNX
    /// Runtime's memory is bounded by the piece, not the sequence.
    pub segment_steps: usize,
    /// When true, a sequence longer than [`RecordOptions::chunk_timesteps`]
    /// that runs in pieces may be handed over in several chunks (each
    /// chunk's [`RecordedChunk::part`] says which steps), so that memory
    /// stays bounded by the chunk size whatever the sequence length. When
    /// false (default) every chunk holds whole sequences.
    pub split_sequences: bool,
    /// Most bytes of activations in one emitted chunk (default 256 MiB):
    /// for wide layers (many units, or many layers at once) a chunk holds
    /// fewer timesteps than [`RecordOptions::chunk_timesteps`], at least one
    /// sequence. With the defaults, 128 units keep 65,536-row chunks (32
    /// MiB); 12 layers of 768 units get about 7,300 rows.
    pub max_chunk_bytes: usize,
    /// Most bytes of recorded outputs of one ONNX Runtime call (default 64
    /// MiB): the batch holds fewer sequences than
    /// [`RecordOptions::batch_size`] when the layers are wide or the
    /// sequences long, at least one.
    pub max_batch_bytes: usize,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            batch_size: 32,
            chunk_timesteps: 65_536,
            progress: None,
            segment_steps: 16_384,
            split_sequences: false,
            max_chunk_bytes: 256 << 20,
            max_batch_bytes: 64 << 20,
        }
    }
}

impl std::fmt::Debug for RecordOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordOptions")
            .field("batch_size", &self.batch_size)
            .field("chunk_timesteps", &self.chunk_timesteps)
            .field("segment_steps", &self.segment_steps)
            .field("split_sequences", &self.split_sequences)
            .field("max_chunk_bytes", &self.max_chunk_bytes)
            .field("max_batch_bytes", &self.max_batch_bytes)
            .finish()
    }
}

/// One chunk of a streamed recording: whole sequences, in corpus order, or
/// (with [`RecordOptions::split_sequences`]) consecutive steps of one long
/// sequence.
#[derive(Debug, Clone)]
pub struct RecordedChunk {
    /// The corpus sequences this chunk holds (`start..end`).
    pub sequences: std::ops::Range<usize>,
    /// `Some(steps)` when the chunk holds only these steps of the one
    /// sequence `sequences.start` (its rows' positions are these steps);
    /// `None` when it holds its sequences whole.
    pub part: Option<std::ops::Range<usize>>,
    /// One entry per requested layer, in request order.
    pub layers: Vec<Activations>,
}

impl Model {
    /// Runs the whole corpus and returns each requested layer's activations
    /// (in memory; see [`Model::record_with`] to stream).
    pub fn record(&self, corpus: &Corpus, layers: &[&str]) -> Result<Vec<Activations>> {
        let mut all: Option<Vec<Activations>> = None;
        self.record_with(corpus, layers, &RecordOptions::default(), |chunk| {
            match &mut all {
                None => all = Some(chunk.layers),
                Some(acc) => {
                    for (a, c) in acc.iter_mut().zip(&chunk.layers) {
                        a.append(c)?;
                    }
                }
            }
            Ok(())
        })?;
        all.ok_or_else(|| Error::Corpus {
            source_name: corpus.name().to_string(),
            message: "recorded nothing".to_string(),
        })
    }

    /// Runs the corpus and hands the activations over chunk by chunk, so
    /// memory does not grow with the corpus. Several layers are recorded in
    /// one pass. Each chunk is yours to keep; when you only read the chunks,
    /// [`Model::record_each`] is faster.
    pub fn record_with<F>(
        &self,
        corpus: &Corpus,
        layers: &[&str],
        opts: &RecordOptions,
        mut on_chunk: F,
    ) -> Result<()>
    where
        F: FnMut(RecordedChunk) -> Result<()>,
    {
        self.record_chunks(corpus, layers, opts, |chunk| {
            on_chunk(chunk)?;
            Ok(None)
        })
    }

    /// Like [`Model::record_with`], but lends each chunk instead of giving
    /// it away, and records the next chunk into the same buffers. After the
    /// first chunk no chunk buffer is allocated, which saves the page faults
    /// of touching a fresh chunk-sized buffer for every chunk. Use it to
    /// stream (write, accumulate statistics) when nothing needs to outlive
    /// the callback.
    pub fn record_each<F>(
        &self,
        corpus: &Corpus,
        layers: &[&str],
        opts: &RecordOptions,
        mut on_chunk: F,
    ) -> Result<()>
    where
        F: FnMut(&RecordedChunk) -> Result<()>,
    {
        self.record_chunks(corpus, layers, opts, |chunk| {
            on_chunk(&chunk)?;
            Ok(Some(chunk))
        })
    }

    /// The recording loop over the requested names, some of which may be
    /// selections of several layers ([`crate::model::selection`]): their
    /// members are recorded in the same pass and joined in each chunk.
    fn record_chunks<F>(
        &self,
        corpus: &Corpus,
        layers: &[&str],
        opts: &RecordOptions,
        mut emit: F,
    ) -> Result<()>
    where
        F: FnMut(RecordedChunk) -> Result<Option<RecordedChunk>>,
    {
        let plan = self.selection_plan(layers)?;
        if plan.is_plain() {
            return self.record_single_layers(corpus, layers, opts, emit);
        }
        let flat: Vec<&str> = plan.flat.iter().map(String::as_str).collect();
        self.record_single_layers(corpus, &flat, opts, |chunk| {
            emit(plan.merge(&chunk)?)?;
            // The joined chunk's buffers have other shapes; the recorded
            // chunk's are reused.
            Ok(Some(chunk))
        })
    }

    /// The recording loop. `emit` may hand a chunk back; its buffers are then
    /// reused for the next chunk.
    fn record_single_layers<F>(
        &self,
        corpus: &Corpus,
        layers: &[&str],
        opts: &RecordOptions,
        mut emit: F,
    ) -> Result<()>
    where
        F: FnMut(RecordedChunk) -> Result<Option<RecordedChunk>>,
    {
        if layers.is_empty() {
            return Err(Error::invalid(
                "Model::record",
                "no layer requested: name at least one (run `luigi layers` to list them)",
            ));
        }
        if opts.batch_size == 0 {
            return Err(Error::invalid(
                "Model::record",
                "batch_size is 0: use at least 1",
            ));
        }
        let resolved: Vec<ResolvedLayer> = layers
            .iter()
            .map(|l| self.resolve(l))
            .collect::<Result<_>>()?;
        let layouts: Vec<LayerLayout> = resolved
            .iter()
            .map(|r| self.layout(&r.tensor))
            .collect::<Result<_>>()?;
        let tensors: Vec<String> = resolved.iter().map(|r| r.tensor.clone()).collect();
        let segment = opts.segment_steps.max(1);
        let carries = self.carries_state();
        if !(carries && opts.split_sequences) {
            check_sequence_lengths(corpus, &layouts, carries)?;
        }
        // The shared session, for chunks of a single batch; made when needed.
        let mut shared: Option<Arc<OrtSession>> = None;
        let seqs = corpus.sequences();
        let lengths: Vec<usize> = seqs.iter().map(|s| s.len()).collect();
        let total = corpus.timesteps();
        let causal = self.card.file.input.causal;
        // Bytes per timestep of every recorded layer: wide layers get
        // shorter chunks and smaller batches, so memory stays bounded.
        let row_bytes = 4 * layouts.iter().map(|l| l.units.len()).sum::<usize>().max(1);
        let chunk_target = opts
            .chunk_timesteps
            .min(opts.max_chunk_bytes / row_bytes)
            .max(1);
        let mut done = 0usize;
        // Buffers of the last chunk handed back by `emit`, for reuse.
        let mut spare_bufs: Vec<Vec<f32>> = Vec::new();
        let mut spare_rows = RowIndex::default();
        let mut onehot = OneHotBuffer::default();
        // A float input: the corpus's feature vectors, each sequence's
        // "ids" being its rows in the table; every row's token is 0 (no
        // token groups).
        let float = self.card.file.input.encoding == crate::model::card::Encoding::Float;
        let (table, starts) = if float {
            if let (Some(want), Some(have)) = (self.input_features(), corpus.features()) {
                if want != have {
                    return Err(Error::Corpus {
                        source_name: corpus.name().to_string(),
                        message: format!(
                            "has {have} features per timestep, but {} takes {want}",
                            self.path().display()
                        ),
                    });
                }
            }
            let (t, s) = ValueTable::of(corpus);
            (Some(t), s)
        } else {
            (None, Vec::new())
        };
        let encode = |i: usize| -> Result<Vec<i64>> {
            if float {
                let n = seqs[i].len();
                Ok((starts[i]..starts[i] + n).map(|r| r as i64).collect())
            } else {
                self.card.encode_sequence(&seqs[i], corpus.name(), i)
            }
        };

        let mut wstart = 0;
        while wstart < seqs.len() {
            if carries && seqs[wstart].len() > segment {
                // A long sequence: alone, in pieces, the state carried.
                let ids = encode(wstart)?;
                let job = LongJob {
                    index: wstart,
                    ids: &ids,
                    values: table.as_ref(),
                    resolved: &resolved,
                    layouts: &layouts,
                    tensors: &tensors,
                    segment,
                    chunk_rows: if opts.split_sequences {
                        chunk_target.max(segment)
                    } else {
                        ids.len()
                    },
                };
                let mut report = |n: usize| {
                    done += n;
                    if let Some(p) = &opts.progress {
                        p(done, total);
                    }
                };
                self.record_long(&job, &mut onehot, &mut report, &mut emit)?;
                wstart += 1;
                continue;
            }
            // A window: consecutive sequences up to the chunk size (at least
            // one), stopping before a sequence that runs in pieces.
            let wend = plan::window_end(&lengths, wstart, chunk_target, carries, segment);
            let mut encoded: Vec<Vec<i64>> = Vec::with_capacity(wend - wstart);
            for i in wstart..wend {
                encoded.push(encode(i)?);
            }
            let mut rows = std::mem::take(&mut spare_rows);
            rows.sequence.clear();
            rows.position.clear();
            rows.token.clear();
            for (i, ids) in encoded.iter().enumerate() {
                rows.sequence
                    .extend(std::iter::repeat_n((wstart + i) as u32, ids.len()));
                rows.position.extend(0..ids.len() as u32);
                if float {
                    rows.token.extend(std::iter::repeat_n(0, ids.len()));
                } else {
                    rows.token.extend_from_slice(ids);
                }
            }
            let n_rows = rows.len();
            // Every row of the window is written below (each sequence is in
            // exactly one batch and all its steps are copied), so a reused
            // buffer only needs the right length, not zeroing.
            let sizes: Vec<usize> = layouts.iter().map(|l| n_rows * l.units.len()).collect();
            let mut bufs = plan::reuse_buffers(std::mem::take(&mut spare_bufs), &sizes);
            let lens: Vec<usize> = encoded.iter().map(Vec::len).collect();
            let longest = lens.iter().copied().max().unwrap_or(1).max(1);
            let batch_size = opts
                .batch_size
                .min(opts.max_batch_bytes / (row_bytes * longest))
                .max(1);
            let batches = plan::batches(&lens, batch_size, causal);
            // Each sequence's block of rows of each layer's chunk buffer
            // (sequences follow one another in window order), handed to the
            // batch that records the sequence.
            let mut blocks: Vec<Vec<Option<&mut [f32]>>> = bufs
                .iter_mut()
                .zip(&layouts)
                .map(|(buf, l)| {
                    let u = l.units.len();
                    let mut rest: &mut [f32] = buf;
                    encoded
                        .iter()
                        .map(|ids| {
                            let (block, tail) =
                                std::mem::take(&mut rest).split_at_mut(ids.len() * u);
                            rest = tail;
                            Some(block)
                        })
                        .collect()
                })
                .collect();
            let mut jobs: Vec<BatchJob<'_>> = Vec::with_capacity(batches.len());
            for batch in &batches {
                let ids: Vec<&[i64]> = batch.iter().map(|&i| encoded[i].as_slice()).collect();
                let mut per_layer = Vec::with_capacity(blocks.len());
                for layer in blocks.iter_mut() {
                    let mut v = Vec::with_capacity(batch.len());
                    for (bi, &si) in batch.iter().enumerate() {
                        let block = layer[si].take().ok_or_else(|| {
                            Error::invalid("Model::record", "a sequence was batched twice")
                        })?;
                        v.push((bi, block));
                    }
                    per_layer.push(v);
                }
                jobs.push(BatchJob {
                    ids,
                    blocks: per_layer,
                    values: table.as_ref(),
                });
            }
            let recorded = |n: usize, done: &mut usize| {
                *done += n;
                if let Some(p) = &opts.progress {
                    p(*done, total);
                }
            };
            if jobs.len() >= 2 {
                // Several batches: each runs whole on one worker's
                // single-threaded session, workers in parallel. Small
                // batches gain most (ONNX Runtime's own threads would sync
                // at every timestep), and every batch is computed the same
                // way whatever the number of workers.
                let pool = self.pool_for(&tensors)?;
                let progress = Mutex::new(done);
                jobs.into_par_iter()
                    .map(|mut job| {
                        let mut w = pool.take()?;
                        let r = self.run_batch(
                            &w.session,
                            &mut w.onehot,
                            &mut job,
                            &tensors,
                            &layouts,
                            false,
                        );
                        pool.put(w);
                        recorded(r?, &mut progress.lock().unwrap_or_else(|e| e.into_inner()));
                        Ok(())
                    })
                    .collect::<Result<Vec<()>>>()?;
                done = progress.into_inner().unwrap_or_else(|e| e.into_inner());
            } else {
                // One batch: ONNX Runtime's threads share its work.
                let session = match &shared {
                    Some(s) => Arc::clone(s),
                    None => shared.insert(self.session_for(&tensors)?).clone(),
                };
                for mut job in jobs {
                    let n =
                        self.run_batch(&session, &mut onehot, &mut job, &tensors, &layouts, true)?;
                    recorded(n, &mut done);
                }
            }
            if let Some(back) = emit(make_chunk(wstart..wend, &resolved, &layouts, bufs, rows)?)? {
                let last = back.layers.len().saturating_sub(1);
                for (i, a) in back.layers.into_iter().enumerate() {
                    if i == last {
                        spare_rows = a.rows;
                    }
                    let (values, offset) = a.values.into_raw_vec_and_offset();
                    // A chunk's arrays are built from whole vectors (offset 0).
                    if offset == Some(0) {
                        spare_bufs.push(values);
                    }
                }
            }
            wstart = wend;
        }
        Ok(())
    }
}

/// A sequence that runs in pieces with its state carried.
struct LongJob<'a> {
    /// Its index in the corpus.
    index: usize,
    /// Its token ids (rows of `values` for a float input).
    ids: &'a [i64],
    /// The feature vectors of a float input.
    values: Option<&'a ValueTable>,
    resolved: &'a [ResolvedLayer],
    layouts: &'a [LayerLayout],
    tensors: &'a [String],
    /// Steps per model run.
    segment: usize,
    /// Steps per emitted chunk (the whole sequence when it is not split).
    chunk_rows: usize,
}

impl Model {
    /// Adds the card and what was fed to an ONNX Runtime failure, so the
    /// message points at the card keys involved.
    pub(crate) fn explain_run_error(&self, e: Error, batch: usize, time: usize) -> Error {
        match e {
            Error::Ort { context, message } if context == "running the model" => {
                let input = &self.card.file.input;
                let state: Vec<String> = self
                    .card
                    .file
                    .state
                    .iter()
                    .map(|p| format!("`{}` (state, zeros or carried)", p.input))
                    .collect();
                Error::Ort {
                    context: format!(
                        "running {} for card {} on a batch of {batch} sequence(s) of {time} step(s), feeding `{}` ({:?}, {:?}, card keys `input.*` and `vocabulary`){}",
                        self.path().display(),
                        self.card.path.display(),
                        input.name,
                        input.encoding,
                        input.layout,
                        if state.is_empty() {
                            String::new()
                        } else {
                            format!(" and {} (card key `state`)", state.join(", "))
                        }
                    ),
                    message,
                }
            }
            other => other,
        }
    }

    /// True when a long sequence can run in pieces: the card names the
    /// recurrent state and the input is causal (a bidirectional layer's
    /// outputs depend on steps after the piece).
    pub(crate) fn carries_state(&self) -> bool {
        self.card.file.input.causal && !self.card.file.state.is_empty()
    }

    /// Runs one long sequence in pieces of `job.segment` steps on one
    /// (multi-threaded) session, feeding each piece the state the previous
    /// piece ended in, and emits its rows in chunks of `job.chunk_rows`.
    fn record_long<F>(
        &self,
        job: &LongJob<'_>,
        onehot: &mut OneHotBuffer,
        report: &mut dyn FnMut(usize),
        emit: &mut F,
    ) -> Result<()>
    where
        F: FnMut(RecordedChunk) -> Result<Option<RecordedChunk>>,
    {
        let n = job.ids.len();
        let nl = job.tensors.len();
        let mut outputs = job.tensors.to_vec();
        outputs.extend(self.card.file.state.iter().map(|p| p.output.clone()));
        let session = self.session_for(&outputs)?;
        let mut state: Vec<Vec<f32>> = (0..self.card.file.state.len())
            .map(|i| {
                let shape = self.state_shape(i, 1)?;
                Ok(vec![
                    0f32;
                    shape.iter().map(|d| (*d).max(0) as usize).product()
                ])
            })
            .collect::<Result<_>>()?;
        let mut chunk_start = 0usize;
        while chunk_start < n {
            let chunk_end = (chunk_start + job.chunk_rows.max(1)).min(n);
            let rows_here = chunk_end - chunk_start;
            let mut bufs: Vec<Vec<f32>> = job
                .layouts
                .iter()
                .map(|l| vec![0f32; rows_here * l.units.len()])
                .collect();
            let mut start = chunk_start;
            while start < chunk_end {
                let end = (start + job.segment).min(chunk_end);
                let piece = &job.ids[start..end];
                let time = piece.len();
                let feeds = self.feeds(&[piece], time, Some(&state), onehot, job.values)?;
                let mut next: Vec<Vec<f32>> = vec![Vec::new(); state.len()];
                session.run_with(feeds, &outputs, |li, shape, data| {
                    if li >= nl {
                        let k = li - nl;
                        if data.len() != state[k].len() {
                            let pair = &self.card.file.state[k];
                            return Err(self.card_err(
                                &format!("state[{k}].output"),
                                format!(
                                    "output `{}` has {} values but input `{}` takes {}; a state pair must name an output of the input's shape",
                                    pair.output,
                                    data.len(),
                                    pair.input,
                                    state[k].len()
                                ),
                            ));
                        }
                        next[k] = data.to_vec();
                        return Ok(());
                    }
                    let layout = &job.layouts[li];
                    check_batch_time(shape, layout, 1, time)?;
                    let (offsets, _, st) = layout.offsets(shape)?;
                    let u = offsets.len();
                    let dst = &mut bufs[li][(start - chunk_start) * u..(end - chunk_start) * u];
                    for (t, row) in dst.chunks_exact_mut(u.max(1)).enumerate() {
                        for (d, o) in row.iter_mut().zip(&offsets) {
                            *d = data[t * st + o];
                        }
                    }
                    Ok(())
                })
                .map_err(|e| self.explain_run_error(e, 1, time))?;
                state = next;
                report(time);
                start = end;
            }
            let rows = RowIndex {
                sequence: vec![job.index as u32; rows_here],
                position: (chunk_start as u32..chunk_end as u32).collect(),
                token: if job.values.is_some() {
                    vec![0; rows_here]
                } else {
                    job.ids[chunk_start..chunk_end].to_vec()
                },
            };
            let mut chunk = make_chunk(
                job.index..job.index + 1,
                job.resolved,
                job.layouts,
                bufs,
                rows,
            )?;
            if rows_here < n {
                chunk.part = Some(chunk_start..chunk_end);
            }
            emit(chunk)?;
            chunk_start = chunk_end;
        }
        Ok(())
    }
}

/// One batch of a chunk: its sequences' ids and, per layer, each
/// sequence's block of rows (with the sequence's index in the batch).
struct BatchJob<'a> {
    ids: Vec<&'a [i64]>,
    blocks: Vec<Vec<(usize, &'a mut [f32])>>,
    /// The feature vectors of a float input.
    values: Option<&'a ValueTable>,
}

impl Model {
    /// Runs one batch on `session` and copies every layer's rows into the
    /// job's blocks (by several threads when `parallel_copy` and the output
    /// is large). Returns the number of timesteps recorded.
    fn run_batch(
        &self,
        session: &OrtSession,
        onehot: &mut OneHotBuffer,
        job: &mut BatchJob<'_>,
        tensors: &[String],
        layouts: &[LayerLayout],
        parallel_copy: bool,
    ) -> Result<usize> {
        let time = job.ids.iter().map(|s| s.len()).max().unwrap_or(0);
        let feeds = self.feeds(&job.ids, time, None, onehot, job.values)?;
        let batch = job.ids.len();
        let blocks = &mut job.blocks;
        let explain = |e| self.explain_run_error(e, batch, time);
        session
            .run_with(feeds, tensors, |li, shape, data| {
                let layout = &layouts[li];
                let (offsets, sb, st) = layout.offsets(shape)?;
                check_batch_time(shape, layout, batch, time)?;
                let u = offsets.len();
                let contiguous = offsets.iter().enumerate().all(|(k, o)| *o == k);
                let fill = |(bi, block): &mut (usize, &mut [f32])| {
                    for (t, dst) in block.chunks_exact_mut(u.max(1)).enumerate() {
                        let base = *bi * sb + t * st;
                        if contiguous {
                            dst.copy_from_slice(&data[base..base + u]);
                        } else {
                            for (d, o) in dst.iter_mut().zip(&offsets) {
                                *d = data[base + o];
                            }
                        }
                    }
                };
                // The copy is memory-bound and, for large batches, a sizeable
                // share of a run: split it by sequence over threads.
                if parallel_copy && data.len() >= PARALLEL_COPY_FLOATS {
                    blocks[li].par_iter_mut().for_each(fill);
                } else {
                    blocks[li].iter_mut().for_each(fill);
                }
                Ok(())
            })
            .map_err(explain)?;
        Ok(job.ids.iter().map(|s| s.len()).sum())
    }
}

fn check_batch_time(
    shape: &[usize],
    layout: &LayerLayout,
    batch: usize,
    time: usize,
) -> Result<()> {
    if shape.get(layout.batch_axis) != Some(&batch) || shape.get(layout.time_axis) != Some(&time) {
        return Err(Error::invalid(
            format!("recording `{}`", layout.tensor),
            format!(
                "for a batch of {batch} sequences of {time} steps the tensor has shape {shape:?}"
            ),
        ));
    }
    Ok(())
}

fn make_chunk(
    range: std::ops::Range<usize>,
    resolved: &[ResolvedLayer],
    layouts: &[LayerLayout],
    bufs: Vec<Vec<f32>>,
    rows: RowIndex,
) -> Result<RecordedChunk> {
    let n = rows.len();
    let count = layouts.len();
    let mut rows = Some(rows);
    let mut layers = Vec::with_capacity(count);
    for (k, ((r, l), buf)) in resolved.iter().zip(layouts).zip(bufs).enumerate() {
        let values = Array2::from_shape_vec((n, l.units.len()), buf)
            .map_err(|e| Error::invalid("recording", e.to_string()))?;
        // The last layer gets the row index itself, the others a copy.
        let layer_rows = if k + 1 == count {
            rows.take().unwrap_or_default()
        } else {
            rows.clone().unwrap_or_default()
        };
        layers.push(Activations {
            layer: r.name.clone(),
            tensor: r.tensor.clone(),
            units: l.units.clone(),
            values,
            rows: layer_rows,
        });
    }
    Ok(RecordedChunk {
        sequences: range,
        part: None,
        layers,
    })
}

/// The longest sequence recorded in one run (characters), unless
/// `LUIGI_MAX_SEQUENCE` says otherwise.
pub const MAX_SEQUENCE: usize = 1 << 18;

/// A sequence is run through the model in one piece, so its length bounds
/// the memory of a run (ONNX Runtime holds every step's gates and
/// outputs): refuse one longer than [`MAX_SEQUENCE`] before allocating
/// anything, and say how to cut it.
fn check_sequence_lengths(corpus: &Corpus, layouts: &[LayerLayout], carries: bool) -> Result<()> {
    let limit = std::env::var("LUIGI_MAX_SEQUENCE")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&v| v > 0)
        .unwrap_or(MAX_SEQUENCE);
    let Some((i, longest)) = corpus
        .sequences()
        .iter()
        .enumerate()
        .max_by_key(|(i, s)| (s.len(), std::cmp::Reverse(*i)))
    else {
        return Ok(());
    };
    if longest.len() <= limit {
        return Ok(());
    }
    let units: usize = layouts.iter().map(|l| l.units.len()).sum();
    let bytes = (longest.len() * units.max(1) * 4) as f64;
    let size = if bytes >= (1u64 << 30) as f64 {
        format!("{:.1} GiB", bytes / (1u64 << 30) as f64)
    } else {
        format!("{:.0} MiB", bytes / (1u64 << 20) as f64)
    };
    let how = if carries {
        format!("here each sequence's activations are held whole, and {} steps need at least {size} for the recorded layer(s) alone (`luigi inspect` and `luigi record` stream long sequences in chunks instead)", longest.len())
    } else {
        format!("Luigi runs each sequence through the model in one piece, and {} steps would need at least {size} for the recorded layer(s) alone (ONNX Runtime needs several times that); a causal recurrent model whose card names its state (`state: [{{input: h0, output: hn}}, ...]`) runs long sequences in pieces instead", longest.len())
    };
    Err(Error::Corpus {
        source_name: corpus.name().to_string(),
        message: format!(
            "sequence {i} has {} characters; {how}. Cut the corpus into windows: `--window 1024` (CLI), `window: 1024` (spec), `window = 1024` (#[neural_assert]); or raise the limit of {limit} characters with LUIGI_MAX_SEQUENCE",
            longest.len(),
        ),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use crate::model::graph::with_extra_outputs;
    use crate::model::onnx_model::{Model, OneHotBuffer};
    use crate::model::session::OrtSession;

    /// Every node output of every fixture model, recorded alone: the
    /// session runs the cut-down graph, and gives what the whole graph
    /// gives (the cut keeps the nodes' order and inputs, so to the bit).
    #[test]
    fn sessions_run_only_the_nodes_their_outputs_need_and_agree_with_the_whole_graph() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
        let mut checked = 0;
        for name in ["lstm_ids", "onehot_tm", "bilstm", "gru_ids", "cmodel"] {
            let card = match name {
                "cmodel" => dir.join("../../examples/cmodel/cmodel.luigi.yaml"),
                _ => dir.join(format!("{name}.luigi.yaml")),
            };
            let model = Model::load(card).unwrap();
            let pad = model.card().file.vocabulary.unknown.unwrap_or(0);
            let rows = [vec![pad, 1, 2, 3, 4], vec![5, 6, 7, 8, 9]];
            let ids: Vec<&[i64]> = rows.iter().map(Vec::as_slice).collect();
            let mut onehot = OneHotBuffer::default();
            for row in model.graph().tensors() {
                if row.node.is_none()
                    || row
                        .dtype
                        .is_some_and(|d| d != crate::model::graph::ElemType::Float)
                {
                    continue;
                }
                let t = row.name.clone();
                let cut = model.session_for(std::slice::from_ref(&t)).unwrap();
                assert!(cut.pruned, "{name}: `{t}` runs the whole graph");
                let whole = if model.graph().output(&t).is_some() {
                    model.bytes.clone()
                } else {
                    with_extra_outputs(&model.bytes, &[&t])
                };
                let whole = OrtSession::with_threads(&whole, name, None).unwrap();
                let feeds = model.feeds(&ids, 5, None, &mut onehot, None).unwrap();
                let (Ok(a), Ok(b)) = (
                    cut.run(feeds.clone(), std::slice::from_ref(&t)),
                    whole.run(feeds, std::slice::from_ref(&t)),
                ) else {
                    // not a float tensor (shape arithmetic): nothing to record
                    continue;
                };
                assert_eq!(a[0].shape, b[0].shape, "{name}: `{t}`");
                assert_eq!(a[0].data, b[0].data, "{name}: `{t}`");
                checked += 1;
            }
        }
        assert!(checked >= 12, "only {checked} tensors compared");
    }

    /// What a fresh one-hot buffer would hold.
    fn fresh(len: usize, ones: &[usize]) -> Vec<f32> {
        let mut d = vec![0f32; len];
        for &i in ones {
            if i < len {
                d[i] = 1.0;
            }
        }
        d
    }

    #[test]
    fn reused_one_hot_buffer_equals_a_fresh_one_as_it_grows_and_shrinks() {
        let mut buf = OneHotBuffer::default();
        let cases: [(usize, &[usize]); 6] = [
            (12, &[0, 5, 11]),
            (30, &[1, 2, 29]),
            (8, &[7, 3]),
            // an index past the end is skipped, not written
            (8, &[0, 8, 100]),
            (40, &[39]),
            (0, &[0]),
        ];
        for (len, ones) in cases {
            let got = buf.fill(len, ones.iter().copied()).to_vec();
            assert_eq!(got, fresh(len, ones), "len {len}, ones {ones:?}");
        }
    }
}
