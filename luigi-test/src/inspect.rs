//! Inspection: the whole single-unit pipeline in one call. Record a layer of
//! a model over a corpus, evaluate a hypothesis set on the same sequences,
//! score every unit against every hypothesis, and rank the pairings.
//!
//! Memory stays bounded by one recording chunk plus the score engine's
//! `O(units × hypotheses)` state. The second pass (Spearman, AUC,
//! permutation p-values, bootstrap intervals for the best units of each
//! hypothesis) needs the rows again: chunks are kept in memory while they
//! fit in [`InspectOptions::cache_bytes`], otherwise the model is run a
//! second time.

use ndarray::Array2;
use serde::Serialize;

use crate::corpus::Corpus;
use crate::error::{Error, Result};
use crate::hypothesis::{HypothesisSet, LongValues};
use crate::model::{Model, RecordOptions, RecordedChunk};
use crate::ranking::{Pairing, Ranking};
use crate::score::{Engine, ScoreConfig, SecondPass};

/// Called when an inspection enters a phase, with its name (for progress
/// display).
pub type PhaseHook = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// Settings of an inspection.
pub struct InspectOptions {
    /// Score engine settings.
    pub score: ScoreConfig,
    /// Recording settings (batch size, chunk size, progress).
    pub record: RecordOptions,
    /// Run the second pass (Spearman, AUC, permutation, bootstrap). Default true.
    pub second_pass: bool,
    /// Keep the recorded chunks for the second pass when all of them take
    /// at most this many bytes (default 1 GiB); otherwise the model is run
    /// again for the second pass.
    pub cache_bytes: usize,
    /// Told each phase as it starts: `recording and scoring`, `finishing
    /// the scores`, `second pass: recording again` (the record progress
    /// then counts from 0 again), `second pass: ranks, permutations,
    /// bootstrap`.
    pub phase: Option<PhaseHook>,
}

impl std::fmt::Debug for InspectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InspectOptions")
            .field("score", &self.score)
            .field("record", &self.record)
            .field("second_pass", &self.second_pass)
            .field("cache_bytes", &self.cache_bytes)
            .finish()
    }
}

impl Default for InspectOptions {
    fn default() -> Self {
        InspectOptions {
            score: ScoreConfig::default(),
            record: RecordOptions::default(),
            second_pass: true,
            cache_bytes: 1 << 30,
            phase: None,
        }
    }
}

/// An input reported rather than silently scored (a constant, rare or
/// position-like hypothesis, constant units, a permutation-null fallback).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    /// The hypothesis or unit(s) concerned.
    pub hypothesis: String,
    /// What was found, in words.
    pub message: String,
}

/// What an inspection found.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The ONNX file.
    pub model: String,
    /// A fingerprint of the model bytes and card.
    pub model_fingerprint: String,
    /// The layer as asked for (alias or tensor).
    pub layer: String,
    /// The tensor it was read from.
    pub tensor: String,
    /// The corpus name.
    pub corpus: String,
    /// A fingerprint of the corpus content.
    pub corpus_fingerprint: String,
    /// Inputs flagged by the score engine.
    pub issues: Vec<Issue>,
    /// Every pairing, ranked.
    pub ranking: Ranking,
    /// Verification verdicts of the best pairings, when asked for
    /// (`luigi inspect --verify`); empty otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub verified: Vec<VerifiedPairing>,
}

/// A best pairing and its perturbation verdict (see [`crate::verify`]).
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedPairing {
    /// The hypothesis.
    pub hypothesis: String,
    /// Its best unit.
    pub unit: String,
    /// `confirmed`, `refuted` or `inconclusive`.
    pub verdict: crate::verify::Verdict,
    /// The mean response (unit sd).
    pub effect: f64,
    /// The verification's p-value.
    pub p_value: f64,
    /// Informative edits.
    pub informative: usize,
}

type Cached = Vec<(Array2<f32>, Array2<f32>, Vec<u32>)>;

/// Runs the pipeline: record `layer`, evaluate `hypotheses`, score, rank.
pub fn inspect(
    model: &Model,
    corpus: &Corpus,
    layer: &str,
    hypotheses: &HypothesisSet,
    opts: &InspectOptions,
) -> Result<Inspection> {
    if hypotheses.is_empty() {
        return Err(Error::invalid(
            "inspect",
            "the hypothesis set is empty: add hypotheses or generate families from the corpus",
        ));
    }
    // a corpus of text for a model of subword tokens: tokenize it here
    let prepared;
    let corpus = if model.card().reads(corpus) {
        corpus
    } else {
        prepared = model.card().prepare(corpus)?;
        &prepared
    };
    let units = model.units(layer)?;
    let n_units = units.len();
    let kinds: Vec<_> = hypotheses
        .names()
        .into_iter()
        .map(str::to_string)
        .zip(hypotheses.kinds())
        .collect();
    let mut engine = Engine::new(units, kinds, opts.score.clone())?;
    // The cache holds every row's activations, hypothesis values and
    // sequence id; when that cannot fit, the model runs again instead and
    // nothing is cached.
    let row_bytes = 4 * (n_units + hypotheses.len() + 1);
    let fits = corpus.timesteps().saturating_mul(row_bytes) <= opts.cache_bytes;
    let mut cache: Option<Cached> = (opts.second_pass && fits).then(Vec::new);
    let mut cached_bytes = 0usize;
    let mut tensor = String::new();
    let mut issue_list: Vec<Issue> = Vec::new();
    let mut nonfinite: Vec<NonFinite> = Vec::new();
    // A long sequence may come in parts, so memory stays bounded by the chunk.
    let record = RecordOptions {
        split_sequences: true,
        ..opts.record.clone()
    };
    let mut chunk_values = ChunkValues::new(hypotheses, corpus);
    model.record_with(corpus, &[layer], &record, |chunk| {
        let values = chunk_values.of(&chunk)?;
        let mut acts = chunk
            .layers
            .into_iter()
            .next()
            .ok_or_else(|| Error::invalid("inspect", "no layer recorded"))?;
        zero_nonfinite(&mut acts, Some(&mut nonfinite));
        tensor.clone_from(&acts.tensor);
        engine.update_with_tokens(
            acts.values.view(),
            values.view(),
            &acts.rows.sequence,
            &acts.rows.token,
        )?;
        if let Some(c) = cache.as_mut() {
            let bytes = 4 * (acts.values.len() + values.len() + acts.rows.len());
            if cached_bytes + bytes <= opts.cache_bytes {
                cached_bytes += bytes;
                c.push((acts.values, values, acts.rows.sequence));
            } else {
                cache = None;
            }
        }
        Ok(())
    })?;
    for (u, (count, first)) in nonfinite.iter().enumerate() {
        if let (true, Some((seq, pos, v))) = (*count > 0, first) {
            engine.exclude_unit(
                u,
                format!("{v} on {count} timestep(s), first at sequence {seq}, position {pos}"),
            );
        }
    }
    let phase = |name: &str| {
        if let Some(p) = &opts.phase {
            p(name);
        }
    };
    phase("finishing the scores");
    let mut scores = engine.finish()?;
    if opts.second_pass {
        let selection = scores.select_top(opts.score.top_k_second_pass);
        let mut second = SecondPass::new(&scores, selection)?;
        match cache.take() {
            Some(chunks) => {
                for (a, h, s) in &chunks {
                    second.update(a.view(), h.view(), s)?;
                }
            }
            None => {
                phase("second pass: recording again");
                let again = RecordOptions { ..record.clone() };
                let mut chunk_values = ChunkValues::new(hypotheses, corpus);
                model.record_each(corpus, &[layer], &again, |chunk| {
                    let values = chunk_values.of(chunk)?;
                    let mut acts = chunk
                        .layers
                        .first()
                        .cloned()
                        .ok_or_else(|| Error::invalid("inspect", "no layer recorded"))?;
                    zero_nonfinite(&mut acts, None);
                    second.update(acts.values.view(), values.view(), &acts.rows.sequence)
                })?;
            }
        }
        phase("second pass: ranks, permutations, bootstrap");
        scores = second.finish(scores)?;
    }
    let ranking = scores.ranking();
    // Warnings about the whole run (how significance was computed, what was
    // sampled or excluded) first, then those about single hypotheses.
    use crate::ranking::WarningKind as K;
    let run_wide = |k: &K| {
        matches!(
            k,
            K::SecondPassSampled | K::BlockResampling | K::PermutationNull | K::NonFiniteUnits
        )
    };
    let (first, rest): (Vec<_>, Vec<_>) = ranking.warnings.iter().partition(|w| run_wide(&w.kind));
    for w in first.into_iter().chain(rest) {
        issue_list.push(Issue {
            hypothesis: w.subject.clone(),
            message: w.message.clone(),
        });
    }
    Ok(Inspection {
        model: model.path().display().to_string(),
        model_fingerprint: model.fingerprint(),
        layer: layer.to_string(),
        tensor,
        corpus: corpus.name().to_string(),
        corpus_fingerprint: corpus.fingerprint(),
        issues: issue_list,
        ranking,
        verified: Vec::new(),
    })
}

/// The hypothesis values of recorded chunks: whole sequences are evaluated
/// as they come; a long sequence handed over in parts is evaluated once,
/// whole (a hypothesis may depend on any step of it), kept compactly
/// ([`LongValues`]) while its parts arrive, and dropped after its last part.
struct ChunkValues<'a> {
    hypotheses: &'a HypothesisSet,
    corpus: &'a Corpus,
    long: Option<LongValues>,
}

impl<'a> ChunkValues<'a> {
    fn new(hypotheses: &'a HypothesisSet, corpus: &'a Corpus) -> Self {
        ChunkValues {
            hypotheses,
            corpus,
            long: None,
        }
    }

    fn of(&mut self, chunk: &RecordedChunk) -> Result<Array2<f32>> {
        let seqs = &self.corpus.sequences()[chunk.sequences.clone()];
        let Some(steps) = chunk.part.clone() else {
            self.long = None;
            return self.hypotheses.evaluate(seqs);
        };
        let index = chunk.sequences.start;
        let seq = seqs.first().ok_or_else(|| {
            Error::invalid("inspect", "internal: a part of no sequence was recorded")
        })?;
        let long = match self.long.take() {
            Some(l) if l.sequence() == index => l,
            _ => self.hypotheses.evaluate_long(index, seq)?,
        };
        let values = long.rows(steps.clone())?;
        if steps.end < seq.len() {
            self.long = Some(long);
        }
        Ok(values)
    }
}

/// Per unit: how many non-finite activations, and the first one's
/// (sequence, position, value).
type NonFinite = (u64, Option<(u32, u32, f32)>);

/// Replaces NaN and ±inf activations by 0 (so that the sums stay finite)
/// and counts them per unit with the first place each was seen; the units
/// are then excluded from scoring ([`Engine::exclude_unit`]), not scored on
/// the replaced values.
fn zero_nonfinite(acts: &mut crate::Activations, counts: Option<&mut Vec<NonFinite>>) {
    let units = acts.values.ncols();
    let mut local = vec![(0u64, None); units];
    for (r, mut row) in acts.values.rows_mut().into_iter().enumerate() {
        for (u, v) in row.iter_mut().enumerate() {
            if !v.is_finite() {
                let e = &mut local[u];
                e.0 += 1;
                if e.1.is_none() {
                    let seq = acts.rows.sequence.get(r).copied().unwrap_or(0);
                    let pos = acts.rows.position.get(r).copied().unwrap_or(0);
                    e.1 = Some((seq, pos, *v));
                }
                *v = 0.0;
            }
        }
    }
    if let Some(c) = counts {
        if c.len() < units {
            c.resize(units, (0, None));
        }
        for (acc, (n, first)) in c.iter_mut().zip(local) {
            acc.0 += n;
            if acc.1.is_none() {
                acc.1 = first;
            }
        }
    }
}

fn fmt_opt(x: Option<f64>, digits: usize) -> String {
    x.map(|v| format!("{v:.digits$}"))
        .unwrap_or_else(|| "-".to_string())
}

fn fmt_q(x: Option<f64>) -> String {
    match x {
        Some(q) if q <= 0.0 => "<1e-300".to_string(),
        Some(q) if q < 1e-4 => format!("{q:.1e}"),
        Some(q) => format!("{q:.4}"),
        None => "-".to_string(),
    }
}

/// The order of the rows of [`Inspection::table`] (one row per hypothesis:
/// its best unit by the plain score).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RowOrder {
    /// By |within-token score| of the row's pairing, strongest first: what
    /// the input token does not explain leads, and single-character
    /// detectors the token determines sink to the end. Rows without a
    /// within-token score (no tokens) use the plain score.
    #[default]
    Within,
    /// By the plain ranking score, as ranked.
    Plain,
}

impl Inspection {
    /// The best pairing of each hypothesis (its first unit by the plain
    /// score), ordered by [`RowOrder::Within`] (ties by name).
    pub fn best_per_hypothesis(&self) -> Vec<&Pairing> {
        self.best_per_hypothesis_by(RowOrder::Within)
    }

    /// [`Inspection::best_per_hypothesis`] in the given order.
    pub fn best_per_hypothesis_by(&self, order: RowOrder) -> Vec<&Pairing> {
        let mut best: Vec<&Pairing> = self
            .ranking
            .by_hypothesis
            .iter()
            .filter_map(|h| h.units.first())
            .collect();
        let key = |p: &Pairing| match order {
            RowOrder::Within => p.within_token.map(f64::abs).unwrap_or(p.score),
            RowOrder::Plain => p.score,
        };
        best.sort_by(|a, b| {
            key(b)
                .total_cmp(&key(a))
                .then_with(|| b.score.total_cmp(&a.score))
                .then_with(|| a.hypothesis.cmp(&b.hypothesis))
        });
        best
    }

    /// A terminal table: the best unit of each hypothesis (at most `top`
    /// rows) in [`RowOrder::Within`] order, with the runner-up unit.
    pub fn table(&self, top: usize) -> String {
        self.table_by(top, RowOrder::Within)
    }

    /// [`Inspection::table`] in the given row order.
    pub fn table_by(&self, top: usize, order: RowOrder) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "model {} layer {} ({}), corpus {}: {} timesteps in {} sequences, {} units x {} hypotheses\n",
            self.model,
            self.layer,
            self.tensor,
            self.corpus,
            self.ranking.n_rows,
            self.ranking.n_sequences,
            self.ranking.units.len(),
            self.ranking.hypotheses.len()
        ));
        let mut header = vec![
            "hypothesis",
            "unit",
            "metric",
            "score",
            "within",
            "pearson",
            "nmi",
            "auc/eta",
            "q",
            "p_perm",
            "95% ci",
            "runner-up",
        ];
        let with_verified = !self.verified.is_empty();
        if with_verified {
            header.push("verified");
        }
        let verified = |h: &str, u: &str| {
            self.verified
                .iter()
                .find(|v| v.hypothesis == h && v.unit == u)
                .map(|v| v.verdict.to_string())
        };
        let mut rows: Vec<Vec<String>> = Vec::new();
        for p in self.best_per_hypothesis_by(order).into_iter().take(top) {
            let runner = self
                .ranking
                .hypothesis(&p.hypothesis)
                .and_then(|h| h.units.get(1))
                .map(|r| format!("{} ({:.3})", r.unit, r.score))
                .unwrap_or_else(|| "-".to_string());
            let ci =
                p.ci.map(|c| format!("[{:.3}, {:.3}]", c.lo, c.hi))
                    .unwrap_or_else(|| "-".to_string());
            let auc_eta = p.auc.or(p.eta);
            let mut name = p.hypothesis.clone();
            if !p.flags.is_empty() {
                name.push_str(" *");
            }
            rows.push(vec![
                name,
                p.unit.clone(),
                format!("{:?}", p.metric).to_lowercase(),
                format!("{:.3}", p.score),
                fmt_opt(p.within_token, 3),
                fmt_opt(p.pearson, 3),
                fmt_opt(p.nmi, 3),
                fmt_opt(auc_eta, 3),
                fmt_q(p.q_value),
                fmt_opt(p.p_perm, 3),
                ci,
                runner,
            ]);
            if with_verified {
                if let Some(row) = rows.last_mut() {
                    row.push(verified(&p.hypothesis, &p.unit).unwrap_or_else(|| "-".to_string()));
                }
            }
        }
        out.push_str(&crate::text::table(&header, &rows));
        out.push('\n');
        out.push_str(&format!(
            "(rows {}; within: the score within input-token groups, what the token does not explain; \
             `token_explains` when it is below {}x the plain |r| or eta; auc: the raw ROC-AUC as in the JSON, \
             below 0.5 when the unit is low where the hypothesis fires)\n",
            match order {
                RowOrder::Within => "by |within|, strongest first",
                RowOrder::Plain => "by score",
            },
            crate::score::EXPLAINS_BELOW
        ));
        let explained: Vec<&str> = self
            .best_per_hypothesis_by(order)
            .into_iter()
            .take(top)
            .filter(|p| p.flags.contains(&crate::ranking::Flag::TokenExplains))
            .map(|p| p.hypothesis.as_str())
            .collect();
        if !explained.is_empty() {
            out.push_str(&format!(
                "token_explains ({} of these rows): {}\n",
                explained.len(),
                explained.join(", ")
            ));
        }
        if !self.issues.is_empty() {
            out.push_str(&format!(
                "\n{} warnings (* marks flagged pairings):\n",
                self.issues.len()
            ));
            for i in self.issues.iter().take(20) {
                out.push_str(&format!("  {}: {}\n", i.hypothesis, i.message));
            }
            if self.issues.len() > 20 {
                out.push_str(&format!(
                    "  … and {} more (see --format json)\n",
                    self.issues.len() - 20
                ));
            }
        }
        out
    }
}
