//! Single-unit pairing scores: every unit of a layer against every
//! hypothesis, streamed chunk by chunk in memory `O(units × hypotheses)`.
//!
//! # Use
//!
//! In memory, one call: [`score_all`]. Streaming: create an [`Engine`],
//! feed it chunks with [`Engine::update`] (activations `rows × units`,
//! hypothesis values `rows × hypotheses`, and each row's sequence id; rows of
//! one sequence are contiguous and a sequence may continue into the next
//! chunk), then [`Engine::finish`] gives [`Scores`]. Optionally run a
//! [`SecondPass`] over the same rows for the statistics that need the whole
//! column, then [`Scores::ranking`].
//!
//! ```
//! use luigi_test::hypothesis::HypothesisKind;
//! use luigi_test::score::{score_all, ScoreConfig};
//! use ndarray::Array2;
//!
//! // 2 sequences × 50 steps; unit 0 follows the hypothesis, unit 1 does not.
//! let h = Array2::from_shape_fn((100, 1), |(t, _)| ((t / 5) % 2) as f32);
//! let acts = Array2::from_shape_fn((100, 2), |(t, u)| {
//!     if u == 0 { h[[t, 0]] * 2.0 + 0.1 * ((t * 7) % 3) as f32 } else { ((t * 13) % 7) as f32 }
//! });
//! let seq: Vec<u32> = (0..100).map(|t| (t / 50) as u32).collect();
//! let ranking = score_all(
//!     acts.view(), h.view(), &seq,
//!     &["u0".to_string(), "u1".to_string()],
//!     &[("blink".to_string(), HypothesisKind::Binary)],
//!     &ScoreConfig::default(),
//! )?;
//! assert_eq!(ranking.best_unit("blink").unwrap().unit, "u0");
//! # Ok::<(), luigi_test::Error>(())
//! ```
//!
//! # What is computed, and where
//!
//! | statistic | pass | how |
//! |---|---|---|
//! | Pearson r (numeric, binary) | first, exact | per-block centring, f32 GEMM, f64 Chan merge |
//! | correlation ratio η (categorical) | first, exact | same GEMM against one-hot state columns: `η² = Σₛ Cₛ²/nₛ / SSₓ` |
//! | p-value, q-value | first | AR(1) effective-sample-size t-test (F-test for η); BH over all pairs |
//! | mutual information | first | quantile bins (edges from the calibration rows), indicator GEMM |
//! | Spearman ρ | second | ranks of the gathered columns, then the same GEMM path |
//! | ROC-AUC (binary) | second, exact | Mann–Whitney from the rank co-moment (ties count ½) |
//! | permutation p-value | second | sequence-respecting null, selected pairs |
//! | bootstrap interval | second | resampling whole sequences, selected pairs |
//!
//! *Exact* means no approximation beyond the f32 rounding of the per-block
//! products (relative error ~1e-7; within 1e-4 of scipy even for a unit
//! whose mean is 10^4 times its spread, which the tests check). Streaming a
//! corpus in any chunk sizes gives bit-identical values to [`score_all`].
//! The second pass keeps the selected columns in memory
//! (`rows × (selected units + hypotheses)` f32 values); with
//! [`Selection::top`] that is a few units per hypothesis.
//!
//! **Mutual information.** Each unit is cut into [`ScoreConfig::bins`]
//! quantile bins (numeric hypotheses into [`ScoreConfig::hypothesis_bins`];
//! binary hypotheses have 2 bins, categorical ones one per state). Edges are
//! estimated once, on the first [`ScoreConfig::calibration_rows`] rows
//! (rounded up to whole blocks of [`ScoreConfig::block_rows`]), which the
//! engine buffers; edge `j` is the sample value at index `⌊j·n/B⌋` and `x`
//! falls in bin `#{edges < x}`. `mutual_info` is the plug-in estimate in
//! nats (sklearn's `mutual_info_score` on the same bins). `nmi` applies the
//! Miller–Madow correction `(m−1)/(2n)` (m = non-empty cells) to each
//! entropy and divides the corrected MI by the smaller corrected marginal
//! entropy, clamped to [0, 1]: 1 means the binned unit determines the
//! hypothesis (or vice versa). The correction assumes independent rows, so
//! `nmi` is biased slightly upward on strongly autocorrelated data. The
//! indicator GEMM costs `⌈(B−1)/2⌉·(B'−1)` times Pearson's (two unit bins
//! share one exact f32 column), which is why the defaults are 4 and 4.
//!
//! **Significance.** Timesteps of one sequence are not independent. The
//! p-value of every pair uses an effective sample size
//! `n_eff = n (1 − ρₓρᵧ)/(1 + ρₓρᵧ)` (Bartlett; Bretherton et al. 1999),
//! where ρ are lag-1 autocorrelations measured within sequences (for a
//! categorical hypothesis, of its one-hot state vector), in a t-test on r
//! with `n_eff − 2` degrees of freedom or an F-test on η with
//! `(states − 1, n_eff − states)`. This is cheap for all pairs and honest for
//! AR(1)-like series; it under-corrects for long-memory series, so the second
//! pass adds a permutation p-value for the best pairs under a null that keeps
//! each sequence intact: hypothesis values of whole sequences are permuted
//! among sequences of equal length ([`NullModel::SequencePermutation`]), or,
//! when most sequences have a unique length, rotated by a random offset
//! within each sequence ([`NullModel::CircularShift`]). q-values are
//! Benjamini–Hochberg over all `units × hypotheses` p-values. Bootstrap
//! intervals resample whole sequences with replacement and report the
//! percentile interval of r (η for categorical hypotheses).
//!
//! # Inputs that are not fine
//!
//! - A NaN or ±inf activation is an error naming the unit, row and sequence;
//!   so is a hypothesis value that is not finite, a binary value other than
//!   0/1 or a categorical value that is not a state index. The chunk is
//!   rejected whole (nothing of it is counted) and the engine can still be
//!   used.
//! - A constant unit or hypothesis (or one whose spread is below 1e-6 of its
//!   mean, i.e. f32 rounding noise) scores r = η = MI = 0, AUC = 0.5, p = 1,
//!   carries a [`Flag`](self::ranking::Flag) and ranks last.
//! - Hypotheses that never or always fire, fire on fewer than
//!   [`ScoreConfig::rare_fraction`] of rows, or are collinear with position
//!   (|r| > [`ScoreConfig::position_collinearity`]) are scored and listed in
//!   `warnings`.
//! - Zero units or zero hypotheses give an empty ranking; an empty chunk is a
//!   no-op; finishing with zero rows is an error.
//!
//! # Determinism
//!
//! The engine re-cuts the stream into blocks of `block_rows` rows on a fixed
//! grid (row 0, `block_rows`, …), so every block, sum and merge is the same
//! whatever chunk sizes the caller used: scores are bit-identical across
//! chunkings. matrixmultiply's threads split the GEMM by output tiles, never
//! along the summed dimension, so each entry is summed in the same order for
//! any thread count (checked by a test that reruns itself with
//! `MATMUL_NUM_THREADS=1,2,4` and `RAYON_NUM_THREADS=1,2,4`). The other
//! per-block passes (column sums, centring, checks) run on rayon over a
//! fixed cut of each block into 8 row ranges whose partial sums are added
//! in range order, and per-pair finishing work computes every value from
//! its own inputs only, so neither depends on the thread count. Different
//! CPUs may pick different GEMM kernels (AVX-512 vs AVX2), which can change
//! the last bits. Ties in a ranking are broken by unit index (per
//! hypothesis) and hypothesis index (per unit). Random draws come from
//! [`ScoreConfig::seed`].
//!
//! # Cost
//!
//! Pearson/η: one f32 GEMM of `rows × units` by `rows × design columns`
//! (one per numeric or binary hypothesis, one per state of a categorical
//! one), plus a few memory-bound passes. MI: the indicator GEMM, about
//! `⌈(bins − 1)/2⌉ · (hypothesis bins − 1)` times that for numeric hypotheses
//! and `⌈(bins − 1)/2⌉` times for binary ones (2× and 6× with the defaults). `benches/score.rs` measures both against
//! numpy (`cargo bench -p luigi-test --bench score`).

mod bins;
mod engine;
mod finish;
mod moments;
pub mod ranking;
mod resample;
mod rows;
mod scores;
mod second;
mod stats;
mod within;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

pub use engine::Engine;
pub use scores::{Scores, Selection, EXPLAINS_BELOW};
pub use second::SecondPass;

use crate::error::{Error, Result};
use crate::hypothesis::HypothesisKind;
use ranking::Ranking;

/// The default seed of every random draw: the score engine's nulls and
/// bootstraps, assertions, specs, snapshots and verification.
pub const DEFAULT_SEED: u64 = 0x5EED;

/// A statistic of a (unit, hypothesis) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Pearson correlation (numeric and binary hypotheses).
    Pearson,
    /// Spearman rank correlation (second pass).
    Spearman,
    /// Mutual information of the binned variables (normalised for ranking).
    MutualInfo,
    /// ROC-AUC for binary hypotheses (second pass).
    Auc,
    /// Correlation ratio η for categorical hypotheses.
    Eta,
}

impl std::fmt::Display for Metric {
    /// The name as written in specs, attributes and the CLI: `pearson`,
    /// `spearman`, `mi`, `auc`, `eta`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Metric {
    type Err = Error;

    /// Parses `pearson`, `spearman`, `mi` (or `mutual_info`), `auc`, `eta`.
    fn from_str(name: &str) -> Result<Metric> {
        match name {
            "pearson" => Ok(Metric::Pearson),
            "spearman" => Ok(Metric::Spearman),
            "mi" | "mutual_info" => Ok(Metric::MutualInfo),
            "auc" => Ok(Metric::Auc),
            "eta" => Ok(Metric::Eta),
            other => Err(Error::invalid(
                "metric",
                format!("`{other}` is not a metric: use pearson, spearman, mi, auc or eta"),
            )),
        }
    }
}

impl Metric {
    /// The name as written in specs, attributes and the CLI (see the
    /// `Display` and `FromStr` impls).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Pearson => "pearson",
            Metric::Spearman => "spearman",
            Metric::MutualInfo => "mi",
            Metric::Auc => "auc",
            Metric::Eta => "eta",
        }
    }

    /// Whether the metric is defined for a hypothesis of this kind.
    pub fn applies_to(self, kind: &HypothesisKind) -> bool {
        match self {
            Metric::Pearson | Metric::Spearman => {
                !matches!(kind, HypothesisKind::Categorical { .. })
            }
            Metric::Auc => matches!(kind, HypothesisKind::Binary),
            Metric::Eta => matches!(kind, HypothesisKind::Categorical { .. }),
            Metric::MutualInfo => true,
        }
    }

    /// Whether it needs the second pass.
    pub fn is_second_pass(self) -> bool {
        matches!(self, Metric::Spearman | Metric::Auc)
    }
}

/// The null model of the permutation p-values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NullModel {
    /// Sequence permutation when at least half of the rows are in sequences
    /// that share their length with another one, else circular shifts.
    Auto,
    /// Hypothesis values of whole sequences permuted among sequences of equal
    /// length; a sequence with a unique length keeps its own values
    /// (conservative).
    SequencePermutation,
    /// Each sequence's hypothesis values rotated by an independent uniform
    /// offset within the sequence.
    CircularShift,
}

/// Settings of the score engine. Build with `ScoreConfig::default()` and
/// consuming setters; [`ScoreConfig::validate`] checks them (the engine calls it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScoreConfig {
    /// Statistics to compute. Default: all five.
    pub metrics: Vec<Metric>,
    /// Quantile bins per unit for mutual information (2..=64). Default 4.
    pub bins: usize,
    /// Quantile bins per numeric hypothesis (2..=64). Default 4.
    pub hypothesis_bins: usize,
    /// Rows used to estimate bin edges (rounded up to whole blocks). Default 8192.
    pub calibration_rows: usize,
    /// Permutations per selected pair in the second pass (0 = none). Default 199.
    pub permutations: usize,
    /// Bootstrap replicates per selected pair in the second pass (0 = none). Default 200.
    pub bootstrap: usize,
    /// Level of the bootstrap intervals. Default 0.95.
    pub confidence: f64,
    /// Seed of every random draw. Default 0x5EED.
    pub seed: u64,
    /// Units per hypothesis that get permutation and bootstrap. Default 3.
    pub top_k_second_pass: usize,
    /// Metric to rank by; `None` = Pearson |r| for numeric and binary
    /// hypotheses, η for categorical ones (falling back to normalised MI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank_by: Option<Metric>,
    /// Null model of the permutation test. Default `Auto`.
    pub permutation_null: NullModel,
    /// Rows per internal block (16..=16384). Default 4096.
    pub block_rows: usize,
    /// Compute p- and q-values in [`Engine::finish`]. Default true; without
    /// them, [`Scores::add_significance`] adds them later.
    pub significance: bool,
    /// |r| (or η) with position above which a hypothesis is reported as
    /// collinear with position. Default 0.99.
    pub position_collinearity: f64,
    /// A binary hypothesis whose minority value covers less than this
    /// fraction of rows (or fewer than 5 rows) is reported as rare. Default 0.001.
    pub rare_fraction: f64,
    /// Most bytes of columns the [`SecondPass`] keeps (it keeps the selected
    /// units' and hypotheses' values for every row, 4 bytes each, and needs
    /// about as much again while it ranks them). Beyond this it keeps a
    /// seeded sample of whole blocks of 4,096 rows and says so in a
    /// warning. Default 256 MiB.
    pub second_pass_bytes: usize,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        ScoreConfig {
            metrics: vec![
                Metric::Pearson,
                Metric::Eta,
                Metric::MutualInfo,
                Metric::Spearman,
                Metric::Auc,
            ],
            bins: 4,
            hypothesis_bins: 4,
            calibration_rows: 8192,
            permutations: 199,
            bootstrap: 200,
            confidence: 0.95,
            seed: 0x5EED,
            top_k_second_pass: 3,
            rank_by: None,
            permutation_null: NullModel::Auto,
            block_rows: 4096,
            significance: true,
            position_collinearity: 0.99,
            rare_fraction: 0.001,
            second_pass_bytes: 256 << 20,
        }
    }
}

impl ScoreConfig {
    /// Sets the metrics.
    pub fn metrics(mut self, metrics: &[Metric]) -> Self {
        self.metrics = metrics.to_vec();
        self
    }
    /// Sets the unit bins.
    pub fn bins(mut self, bins: usize) -> Self {
        self.bins = bins;
        self
    }
    /// Sets the numeric hypothesis bins.
    pub fn hypothesis_bins(mut self, bins: usize) -> Self {
        self.hypothesis_bins = bins;
        self
    }
    /// Sets the number of permutations.
    pub fn permutations(mut self, n: usize) -> Self {
        self.permutations = n;
        self
    }
    /// Sets the number of bootstrap replicates.
    pub fn bootstrap(mut self, n: usize) -> Self {
        self.bootstrap = n;
        self
    }
    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Sets the number of units per hypothesis that get the second pass.
    pub fn top_k_second_pass(mut self, k: usize) -> Self {
        self.top_k_second_pass = k;
        self
    }
    /// Sets the ranking metric.
    pub fn rank_by(mut self, metric: Metric) -> Self {
        self.rank_by = Some(metric);
        self
    }
    /// Sets the null model.
    pub fn permutation_null(mut self, null: NullModel) -> Self {
        self.permutation_null = null;
        self
    }
    /// Sets the internal block size.
    pub fn block_rows(mut self, rows: usize) -> Self {
        self.block_rows = rows;
        self
    }
    /// Turns p- and q-values in [`Engine::finish`] on or off.
    pub fn significance(mut self, on: bool) -> Self {
        self.significance = on;
        self
    }
    /// Sets the most bytes of columns the second pass keeps.
    pub fn second_pass_bytes(mut self, bytes: usize) -> Self {
        self.second_pass_bytes = bytes;
        self
    }
    /// Sets the calibration sample size for bin edges.
    pub fn calibration_rows(mut self, rows: usize) -> Self {
        self.calibration_rows = rows;
        self
    }

    /// Whether a metric is enabled.
    pub fn has(&self, m: Metric) -> bool {
        self.metrics.contains(&m)
    }

    /// Whether anything is left for a [`SecondPass`].
    pub fn wants_second_pass(&self) -> bool {
        self.has(Metric::Spearman)
            || self.has(Metric::Auc)
            || (self.top_k_second_pass > 0 && (self.permutations > 0 || self.bootstrap > 0))
    }

    /// Checks every setting, naming the bad one and its valid range.
    pub fn validate(&self) -> Result<()> {
        let bad = |key: &str, msg: String| Err(Error::invalid(format!("ScoreConfig.{key}"), msg));
        if self.metrics.is_empty() {
            return bad(
                "metrics",
                "no metric selected: enable at least one (e.g. Metric::Pearson)".into(),
            );
        }
        if !(2..=64).contains(&self.bins) {
            return bad("bins", format!("{} is outside 2..=64", self.bins));
        }
        if !(2..=64).contains(&self.hypothesis_bins) {
            return bad(
                "hypothesis_bins",
                format!("{} is outside 2..=64", self.hypothesis_bins),
            );
        }
        if !(16..=4096).contains(&self.block_rows) {
            return bad(
                "block_rows",
                format!("{} is outside 16..=4096", self.block_rows),
            );
        }
        if self.calibration_rows == 0 {
            return bad("calibration_rows", "must be at least 1".into());
        }
        if self.second_pass_bytes < 1 << 20 {
            return bad(
                "second_pass_bytes",
                format!("{} is under 1 MiB (1048576)", self.second_pass_bytes),
            );
        }
        if !(self.confidence > 0.0 && self.confidence < 1.0) {
            return bad(
                "confidence",
                format!("{} is not inside (0, 1)", self.confidence),
            );
        }
        if !(self.position_collinearity > 0.0 && self.position_collinearity <= 1.0) {
            return bad(
                "position_collinearity",
                format!("{} is not inside (0, 1]", self.position_collinearity),
            );
        }
        if !(0.0..0.5).contains(&self.rare_fraction) {
            return bad(
                "rare_fraction",
                format!("{} is not inside [0, 0.5)", self.rare_fraction),
            );
        }
        if let Some(m) = self.rank_by {
            if !self.has(m) {
                return bad(
                    "rank_by",
                    format!("{m:?} is not among the enabled metrics {:?}", self.metrics),
                );
            }
        }
        Ok(())
    }
}

/// Scores every unit against every hypothesis for data held in memory: the
/// streaming [`Engine`] over all rows, then (if the config asks for it) a
/// [`SecondPass`] with Spearman and AUC for all pairs and permutation and
/// bootstrap for the best `top_k_second_pass` units of each hypothesis.
///
/// `acts` is `rows × units`, `hyps` is `rows × hypotheses`, `seq_ids` gives
/// each row's sequence (contiguous runs).
pub fn score_all(
    acts: ArrayView2<'_, f32>,
    hyps: ArrayView2<'_, f32>,
    seq_ids: &[u32],
    units: &[String],
    hypotheses: &[(String, HypothesisKind)],
    cfg: &ScoreConfig,
) -> Result<Ranking> {
    score_in_memory(acts, hyps, seq_ids, None, units, hypotheses, cfg)
}

/// [`score_all`] with each row's input token id, so that every pairing
/// also gets its within-token score
/// ([`Pairing::within_token`](self::ranking::Pairing::within_token)).
pub fn score_all_with_tokens(
    acts: ArrayView2<'_, f32>,
    hyps: ArrayView2<'_, f32>,
    seq_ids: &[u32],
    tokens: &[i64],
    units: &[String],
    hypotheses: &[(String, HypothesisKind)],
    cfg: &ScoreConfig,
) -> Result<Ranking> {
    score_in_memory(acts, hyps, seq_ids, Some(tokens), units, hypotheses, cfg)
}

fn score_in_memory(
    acts: ArrayView2<'_, f32>,
    hyps: ArrayView2<'_, f32>,
    seq_ids: &[u32],
    tokens: Option<&[i64]>,
    units: &[String],
    hypotheses: &[(String, HypothesisKind)],
    cfg: &ScoreConfig,
) -> Result<Ranking> {
    let mut engine = Engine::new(units.to_vec(), hypotheses.to_vec(), cfg.clone())?;
    match tokens {
        Some(t) => engine.update_with_tokens(acts, hyps, seq_ids, t)?,
        None => engine.update(acts, hyps, seq_ids)?,
    }
    let scores = engine.finish()?;
    let scores = if cfg.wants_second_pass() {
        let selection = Selection::all_units(&scores);
        let mut pass = SecondPass::new(&scores, selection)?;
        pass.update(acts, hyps, seq_ids)?;
        pass.finish(scores)?
    } else {
        scores
    };
    Ok(scores.ranking())
}

#[cfg(test)]
mod tests;
