//! Ranking snapshots: what a layer encodes, stored as an insta YAML
//! snapshot, and a diff that follows units across retraining.
//!
//! A [`Capture`] scores a hypothesis set against a recorded layer (Pearson
//! r and η only: one matrix product, cheap even in a debug build) and keeps, for each hypothesis, its best units with their ranking score
//! (|r| for numeric and binary hypotheses, η for categorical ones), and for
//! each unit its best hypothesis, all rounded to
//! [`SnapshotOptions::decimals`] places. Scores are deterministic for any
//! thread count (see [`crate::score`]); rounding keeps the last bits of
//! different CPUs' kernels out of the file. p- and q-values are left out
//! (they span hundreds of orders of magnitude).
//!
//! ```no_run
//! use luigi_test::hypothesis::boolean;
//! use luigi_test::snapshot::{Capture, SnapshotOptions};
//!
//! let capture = Capture::record(
//!     "examples/boolean/boolean.luigi.yaml",
//!     "examples/boolean/heldout.txt",
//!     None,
//!     "lstm",
//!     &boolean::candidates()?,
//!     &SnapshotOptions::default(),
//! )?;
//! luigi_test::assert_ranking_snapshot!("boolean_ranking", capture);
//! # Ok::<(), luigi_test::Error>(())
//! ```
//!
//! # Following units across checkpoints
//!
//! The snapshot header (insta's `info`, not compared) records the
//! checkpoint it was taken from: the card's path relative to the snapshot
//! and the model's fingerprint. When the stored ranking differs from the
//! current one, Luigi matches the old checkpoint's units to the current
//! ones before describing the difference:
//!
//! 1. same model fingerprint: units are the same units;
//! 2. the old checkpoint's card still exists with the recorded fingerprint:
//!    both models are recorded on the *current* corpus and units are paired
//!    one-to-one to maximise the total |Pearson r| of their activations
//!    (the Hungarian method, optimal, not greedy);
//! 3. otherwise (the checkpoint was overwritten): units are paired
//!    one-to-one to minimise the L1 distance between their score profiles
//!    (each unit's scores on the snapshot's hypotheses, from the stored and
//!    the current rankings), also with the Hungarian method. This is weaker:
//!    units with similar roles can be swapped.
//!
//! The diff then reads `bool_eval: unit 2 → unit 0, η 0.990 → 0.990`, lists
//! the units that moved, and gives rank-stability figures after matching:
//! the mean top-k overlap of each hypothesis' best units and Kendall's τ-b
//! between the old and new best scores of the hypotheses.
//!
//! # Updating
//!
//! [`assert_ranking_snapshot!`](crate::assert_ranking_snapshot) uses insta
//! itself (its `INSTA_UPDATE`, `.snap.new` files and `cargo insta review`).
//! Specs ([`crate::spec`]) write the same format with [`check_file`],
//! following `INSTA_UPDATE` the same way (see [`Update`]).

mod file;
pub(crate) mod matching;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

pub use file::{read, relative, write, StoredSnapshot};

use crate::error::{Error, Result};
use crate::expect::report::{table, tidy, Origin, Report};
use crate::expect::{load_corpus, load_model, metric_name, push_subject, Subject, DEFAULT_SEED};
use crate::hypothesis::HypothesisSet;
use crate::model::Model;
use crate::ranking::{round_to, Ranking};
use crate::score::{score_all, Metric, ScoreConfig};

/// What a snapshot keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotOptions {
    /// Best units kept per hypothesis (default 3).
    pub top: usize,
    /// Decimal places of every score (default 3).
    pub decimals: u32,
    /// Seed of the score engine's draws (default [`DEFAULT_SEED`]).
    pub seed: u64,
    /// Use only the first this many sequences of the corpus (default: all).
    pub sequences: Option<usize>,
    /// Compare units by name only (spec `snapshot: {units: exact}`). By
    /// default a ranking that equals the stored one once the units are
    /// renamed by activation matching (a retrained model whose units came
    /// out in another order) passes, and the renaming is printed.
    pub exact_units: bool,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            top: 3,
            decimals: 3,
            seed: DEFAULT_SEED,
            sequences: None,
            exact_units: false,
        }
    }
}

/// One unit's score for a hypothesis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitScore {
    /// Unit name.
    pub unit: String,
    /// Ranking score in [0, 1], rounded.
    pub score: f64,
}

/// A hypothesis and its best units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HypothesisEntry {
    /// Hypothesis name.
    pub name: String,
    /// The metric of `score` (`pearson` means |r|).
    pub metric: String,
    /// Best units first.
    pub top: Vec<UnitScore>,
}

/// A unit and the hypothesis it scores highest on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitEntry {
    /// Unit name.
    pub unit: String,
    /// Its best hypothesis.
    pub best: String,
    /// That score, rounded.
    pub score: f64,
}

/// The compared content of a ranking snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankingSnapshot {
    /// The layer as named.
    pub layer: String,
    /// Timesteps scored.
    pub timesteps: u64,
    /// Sequences scored.
    pub sequences: u64,
    /// Decimal places of the scores.
    pub decimals: u32,
    /// Every hypothesis, in set order, with its best units.
    pub hypotheses: Vec<HypothesisEntry>,
    /// Every unit, in layer order, with its best hypothesis.
    pub units: Vec<UnitEntry>,
}

/// Which checkpoint a snapshot was taken from (stored in the header, not compared).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// The model card, relative to the snapshot file's folder.
    pub checkpoint: String,
    /// [`Model::fingerprint`] of that checkpoint.
    pub model_fingerprint: String,
    /// [`crate::Corpus::fingerprint`] of the corpus.
    pub corpus_fingerprint: String,
}

/// A layer scored against a hypothesis set, ready to snapshot.
#[derive(Debug, Clone)]
pub struct Capture {
    content: RankingSnapshot,
    ranking: Ranking,
    subject: Subject,
    exact_units: bool,
}

impl Capture {
    /// Loads the model and corpus, records the layer (shared with
    /// assertions, see [`crate::expect::cache`]) and scores `hypotheses`.
    pub fn record(
        card: impl AsRef<Path>,
        corpus: impl AsRef<Path>,
        window: Option<usize>,
        layer: &str,
        hypotheses: &HypothesisSet,
        opts: &SnapshotOptions,
    ) -> Result<Capture> {
        let model = load_model(card.as_ref())?;
        let corpus = load_corpus(corpus.as_ref(), window, opts.sequences)?;
        Capture::of(Subject::record(model, corpus, layer)?, hypotheses, opts)
    }

    pub(crate) fn of(
        subject: Subject,
        hypotheses: &HypothesisSet,
        opts: &SnapshotOptions,
    ) -> Result<Capture> {
        if hypotheses.is_empty() {
            return Err(Error::invalid(
                "ranking snapshot",
                "the hypothesis set is empty: give at least one hypothesis",
            ));
        }
        let acts = &subject.acts;
        let values = hypotheses.evaluate(subject.corpus.sequences())?;
        if values.nrows() != acts.n_rows() {
            return Err(Error::invalid(
                "ranking snapshot",
                format!(
                    "{} hypothesis rows for {} recorded timesteps",
                    values.nrows(),
                    acts.n_rows()
                ),
            ));
        }
        let kinds: Vec<_> = hypotheses
            .names()
            .into_iter()
            .map(str::to_string)
            .zip(hypotheses.kinds())
            .collect();
        let cfg = ScoreConfig::default()
            .metrics(&[Metric::Pearson, Metric::Eta])
            .permutations(0)
            .bootstrap(0)
            .top_k_second_pass(0)
            .seed(opts.seed);
        let ranking = score_all(
            acts.values.view(),
            values.view(),
            &acts.rows.sequence,
            &acts.units,
            &kinds,
            &cfg,
        )?;
        let content = content_of(&ranking, &subject.layer, opts);
        Ok(Capture {
            content,
            ranking,
            subject,
            exact_units: opts.exact_units,
        })
    }

    /// The content that is snapshotted.
    pub fn content(&self) -> &RankingSnapshot {
        &self.content
    }

    /// The full, unrounded ranking.
    pub fn ranking(&self) -> &Ranking {
        &self.ranking
    }

    /// The header info, with the checkpoint relative to `snapshot_dir`.
    pub fn info(&self, snapshot_dir: &Path) -> SnapshotInfo {
        SnapshotInfo {
            checkpoint: relative(&self.subject.model.card().path, snapshot_dir),
            model_fingerprint: self.subject.model.fingerprint(),
            corpus_fingerprint: self.subject.corpus.fingerprint(),
        }
    }

    /// The model's card.
    pub fn card(&self) -> &Path {
        &self.subject.model.card().path
    }
}

fn content_of(ranking: &Ranking, layer: &str, opts: &SnapshotOptions) -> RankingSnapshot {
    let r = |x: f64| round_to(x, opts.decimals);
    RankingSnapshot {
        layer: layer.to_string(),
        timesteps: ranking.n_rows,
        sequences: ranking.n_sequences,
        decimals: opts.decimals,
        hypotheses: ranking
            .by_hypothesis
            .iter()
            .map(|h| HypothesisEntry {
                name: h.hypothesis.clone(),
                metric: metric_name(h.metric).to_string(),
                top: h
                    .units
                    .iter()
                    .filter(|p| !p.is_degenerate())
                    .take(opts.top)
                    .map(|p| UnitScore {
                        unit: p.unit.clone(),
                        score: r(p.score),
                    })
                    .collect(),
            })
            .collect(),
        units: ranking
            .by_unit
            .iter()
            .map(
                |u| match u.hypotheses.first().filter(|p| !p.is_degenerate()) {
                    Some(p) => UnitEntry {
                        unit: u.unit.clone(),
                        best: p.hypothesis.clone(),
                        score: r(p.score),
                    },
                    None => UnitEntry {
                        unit: u.unit.clone(),
                        best: "(constant)".to_string(),
                        score: 0.0,
                    },
                },
            )
            .collect(),
    }
}

/// How the units of the stored checkpoint were paired with the current ones.
#[derive(Debug, Clone, PartialEq)]
pub enum Matching {
    /// Same model: units are themselves.
    SameModel,
    /// By activation correlation on the current corpus (Hungarian).
    Activations {
        /// The stored checkpoint's card.
        checkpoint: PathBuf,
        /// Mean |r| of the matched pairs.
        mean_abs_r: f64,
    },
    /// By score profiles (Hungarian on L1 distance); the reason the
    /// activations could not be used.
    Profiles {
        /// Why activation matching was not possible.
        reason: String,
    },
}

/// A unit of the stored checkpoint and its match now.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitMove {
    /// Unit name in the stored checkpoint.
    pub from: String,
    /// Matched unit now (`None`: no counterpart, the layer shrank).
    pub to: Option<String>,
    /// |r| of their activations (activation matching only).
    pub abs_r: Option<f64>,
}

/// A hypothesis' best unit before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct BestChange {
    /// Hypothesis name.
    pub hypothesis: String,
    /// The metric's name.
    pub metric: String,
    /// Best unit and score in the snapshot.
    pub old: Option<UnitScore>,
    /// The old best unit's match now.
    pub old_matched: Option<String>,
    /// Best unit and score now.
    pub new: Option<UnitScore>,
}

impl BestChange {
    /// Whether the best unit is the (matched) same unit.
    pub fn kept(&self) -> bool {
        match (&self.old_matched, &self.new) {
            (Some(m), Some(n)) => *m == n.unit,
            (None, None) => true,
            _ => false,
        }
    }
}

/// How a stored ranking snapshot differs from the current ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotDiff {
    /// The stored file.
    pub path: PathBuf,
    /// Whether the contents are equal.
    pub equal: bool,
    /// How units were matched.
    pub matching: Matching,
    /// Units whose match has another name (moved), in stored order.
    pub moves: Vec<UnitMove>,
    /// Per hypothesis present in both, in the current order.
    pub best: Vec<BestChange>,
    /// Hypotheses only in the snapshot.
    pub removed: Vec<String>,
    /// Hypotheses only now.
    pub added: Vec<String>,
    /// Mean over hypotheses of |matched old top-k ∩ new top-k| / k.
    pub top_k_overlap: Option<f64>,
    /// Kendall's τ-b between old and new best scores of the hypotheses.
    pub kendall_tau: Option<f64>,
    /// Whether the layer, corpus size or rounding changed too.
    pub other_changes: Vec<String>,
}

impl SnapshotDiff {
    /// Hypotheses whose best unit is the matched same unit.
    pub fn best_kept(&self) -> usize {
        self.best.iter().filter(|b| b.kept()).count()
    }

    /// The rank-stability line.
    pub fn stability(&self) -> String {
        let f = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{v:.2}"));
        format!(
            "top-k overlap {} after matching, Kendall τ-b of the hypotheses' best scores {}, best unit kept by {} of {} hypotheses",
            f(self.top_k_overlap),
            f(self.kendall_tau),
            self.best_kept(),
            self.best.len()
        )
    }

    /// The diff's lines, one per change (for reports).
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.push(match &self.matching {
            Matching::SameModel => "same model as the snapshot: units compared by name".to_string(),
            Matching::Activations {
                checkpoint,
                mean_abs_r,
            } => format!(
                "units matched to the snapshot's checkpoint {} by activation correlation on this corpus (Hungarian, mean |r| = {mean_abs_r:.3})",
                tidy(&checkpoint.display().to_string())
            ),
            Matching::Profiles { reason } => format!(
                "units matched by score profiles (Hungarian on L1 distance; weaker: {reason})"
            ),
        });
        if !self.moves.is_empty() {
            let m: Vec<String> = self
                .moves
                .iter()
                .map(|m| {
                    let to =
                        m.to.as_deref()
                            .map_or("(none)".to_string(), |t| format!("unit {t}"));
                    match m.abs_r {
                        Some(r) => format!("unit {} → {to} (|r| = {r:.3})", m.from),
                        None => format!("unit {} → {to}", m.from),
                    }
                })
                .collect();
            out.push(format!("moved ({}):", m.len()));
            out.extend(m.into_iter().map(|l| format!("  {l}")));
        }
        for b in &self.best {
            let s = |u: &Option<UnitScore>| {
                u.as_ref()
                    .map_or("-".to_string(), |u| format!("{:.prec$}", u.score, prec = 3))
            };
            let (old_u, new_u) = (
                b.old.as_ref().map_or("-", |u| u.unit.as_str()),
                b.new.as_ref().map_or("-", |u| u.unit.as_str()),
            );
            let metric = if b.metric == "pearson" {
                "|r|"
            } else if b.metric == "eta" {
                "η"
            } else {
                b.metric.as_str()
            };
            let same_score = b.old.as_ref().map(|u| u.score) == b.new.as_ref().map(|u| u.score);
            if b.kept() && old_u == new_u && same_score {
                continue;
            }
            let line = if b.kept() {
                format!(
                    "{}: unit {old_u} → unit {new_u}, {metric} {} → {}",
                    b.hypothesis,
                    s(&b.old),
                    s(&b.new)
                )
            } else {
                format!(
                    "{}: best unit changed: was unit {old_u}{}, now unit {new_u}; {metric} {} → {}",
                    b.hypothesis,
                    b.old_matched
                        .as_ref()
                        .filter(|m| m.as_str() != old_u)
                        .map_or(String::new(), |m| format!(" (unit {m} after matching)")),
                    s(&b.old),
                    s(&b.new)
                )
            };
            out.push(line);
        }
        for h in &self.removed {
            out.push(format!("{h}: only in the snapshot"));
        }
        for h in &self.added {
            out.push(format!("{h}: new, not in the snapshot"));
        }
        out.extend(self.other_changes.iter().cloned());
        out
    }
}

impl std::fmt::Display for SnapshotDiff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "ranking snapshot {} {} the current ranking:",
            tidy(&self.path.display().to_string()),
            if self.equal {
                "matches"
            } else {
                "differs from"
            }
        )?;
        for l in self.lines() {
            writeln!(f, "  {l}")?;
        }
        writeln!(f, "  rank stability: {}", self.stability())
    }
}

impl SnapshotDiff {
    /// Whether the stored content equals `current` once every stored unit
    /// is renamed to its match: the same ranking, other unit names. Only
    /// for units matched by their activations (a match by score profiles
    /// proves nothing about the units), and only when every unit has a
    /// match.
    pub fn equal_after_renaming(
        &self,
        stored: &RankingSnapshot,
        current: &RankingSnapshot,
    ) -> bool {
        if !matches!(self.matching, Matching::Activations { .. })
            || self.moves.iter().any(|m| m.to.is_none())
        {
            return false;
        }
        let rename = |u: &str| -> String {
            self.moves
                .iter()
                .find(|m| m.from == u)
                .and_then(|m| m.to.clone())
                .unwrap_or_else(|| u.to_string())
        };
        let mut renamed = stored.clone();
        for h in &mut renamed.hypotheses {
            for t in &mut h.top {
                t.unit = rename(&t.unit);
            }
        }
        for u in &mut renamed.units {
            u.unit = rename(&u.unit);
        }
        let key = |v: &[UnitEntry]| {
            let mut v: Vec<(String, String, u64)> = v
                .iter()
                .map(|u| (u.unit.clone(), u.best.clone(), u.score.to_bits()))
                .collect();
            v.sort();
            v
        };
        renamed.layer == current.layer
            && renamed.timesteps == current.timesteps
            && renamed.sequences == current.sequences
            && renamed.decimals == current.decimals
            && renamed.hypotheses == current.hypotheses
            && key(&renamed.units) == key(&current.units)
    }
}

/// Compares a stored snapshot with the current capture, matching units first.
pub fn compare(stored: &StoredSnapshot, current: &Capture) -> Result<SnapshotDiff> {
    let old_units: Vec<String> = stored
        .content
        .units
        .iter()
        .map(|u| u.unit.clone())
        .collect();
    let new_units: Vec<String> = current
        .content
        .units
        .iter()
        .map(|u| u.unit.clone())
        .collect();
    let fp_now = current.subject.model.fingerprint();
    let (matching, map, rs) = match &stored.info {
        Some(info) if info.model_fingerprint == fp_now => {
            let map = old_units
                .iter()
                .map(|u| new_units.iter().position(|n| n == u))
                .collect();
            (Matching::SameModel, map, None)
        }
        _ => match activation_match(stored, current, &old_units) {
            Ok((checkpoint, map, r)) => {
                let matched: Vec<f64> = r.iter().flatten().copied().collect();
                let mean_abs_r = if matched.is_empty() {
                    0.0
                } else {
                    matched.iter().sum::<f64>() / matched.len() as f64
                };
                (
                    Matching::Activations {
                        checkpoint,
                        mean_abs_r,
                    },
                    map,
                    Some(r),
                )
            }
            Err(reason) => (
                Matching::Profiles { reason },
                profile_match(&stored.content, &current.content),
                None,
            ),
        },
    };
    let name_of = |i: Option<usize>| i.map(|j| new_units[j].clone());
    let mapped = |old: &str| -> Option<String> {
        old_units
            .iter()
            .position(|u| u == old)
            .and_then(|i| name_of(map[i]))
    };
    let moves: Vec<UnitMove> = old_units
        .iter()
        .enumerate()
        .filter_map(|(i, u)| {
            let to = name_of(map[i]);
            (to.as_deref() != Some(u.as_str())).then(|| UnitMove {
                from: u.clone(),
                to,
                abs_r: rs.as_ref().and_then(|r| r[i]),
            })
        })
        .collect();
    let mut best = Vec::new();
    let mut overlaps = Vec::new();
    let (mut old_scores, mut new_scores) = (Vec::new(), Vec::new());
    for h in &current.content.hypotheses {
        let Some(o) = stored.content.hypotheses.iter().find(|x| x.name == h.name) else {
            continue;
        };
        let old = o.top.first().cloned();
        let new = h.top.first().cloned();
        best.push(BestChange {
            hypothesis: h.name.clone(),
            metric: h.metric.clone(),
            old_matched: old.as_ref().and_then(|u| mapped(&u.unit)),
            old: old.clone(),
            new: new.clone(),
        });
        let k = o.top.len().min(h.top.len());
        if k > 0 {
            let old_set: Vec<Option<String>> = o.top[..k].iter().map(|u| mapped(&u.unit)).collect();
            let hits = h.top[..k]
                .iter()
                .filter(|u| {
                    old_set
                        .iter()
                        .any(|m| m.as_deref() == Some(u.unit.as_str()))
                })
                .count();
            overlaps.push(hits as f64 / k as f64);
        }
        old_scores.push(old.map_or(0.0, |u| u.score));
        new_scores.push(new.map_or(0.0, |u| u.score));
    }
    let removed = stored
        .content
        .hypotheses
        .iter()
        .filter(|o| !current.content.hypotheses.iter().any(|h| h.name == o.name))
        .map(|o| o.name.clone())
        .collect();
    let added = current
        .content
        .hypotheses
        .iter()
        .filter(|h| !stored.content.hypotheses.iter().any(|o| o.name == h.name))
        .map(|h| h.name.clone())
        .collect();
    let (s, c) = (&stored.content, &current.content);
    let mut other_changes = Vec::new();
    if s.layer != c.layer {
        other_changes.push(format!("layer: `{}` → `{}`", s.layer, c.layer));
    }
    if (s.timesteps, s.sequences) != (c.timesteps, c.sequences) {
        other_changes.push(format!(
            "corpus: {} timesteps in {} sequences → {} in {}",
            s.timesteps, s.sequences, c.timesteps, c.sequences
        ));
    }
    if s.decimals != c.decimals {
        other_changes.push(format!("decimals: {} → {}", s.decimals, c.decimals));
    }
    if old_units.len() != new_units.len() {
        other_changes.push(format!("units: {} → {}", old_units.len(), new_units.len()));
    }
    Ok(SnapshotDiff {
        path: stored.path.clone(),
        equal: stored.content == current.content,
        matching,
        moves,
        best,
        removed,
        added,
        top_k_overlap: (!overlaps.is_empty())
            .then(|| overlaps.iter().sum::<f64>() / overlaps.len() as f64),
        kendall_tau: matching::kendall_tau_b(&old_scores, &new_scores),
        other_changes,
    })
}

type Map = Vec<Option<usize>>;

/// Records the stored checkpoint on the current corpus and pairs units by
/// |r| (Hungarian). `Err` says why it could not.
fn activation_match(
    stored: &StoredSnapshot,
    current: &Capture,
    old_units: &[String],
) -> std::result::Result<(PathBuf, Map, Vec<Option<f64>>), String> {
    let info = stored
        .info
        .as_ref()
        .ok_or("the snapshot records no checkpoint")?;
    let card = stored
        .checkpoint()
        .ok_or("the snapshot records no checkpoint")?;
    if !card.exists() {
        return Err(format!(
            "its checkpoint {} is gone",
            tidy(&card.display().to_string())
        ));
    }
    let model = Model::load(&card).map_err(|e| format!("its checkpoint cannot be loaded: {e}"))?;
    if model.fingerprint() != info.model_fingerprint {
        return Err(format!(
            "its checkpoint {} has changed since (fingerprint {} → {})",
            tidy(&card.display().to_string()),
            info.model_fingerprint,
            model.fingerprint()
        ));
    }
    let old = Subject::record(
        Arc::new(model),
        current.subject.corpus.clone(),
        &current.subject.layer,
    )
    .map_err(|e| format!("its checkpoint cannot be recorded: {e}"))?;
    if old.acts.units != old_units {
        return Err("the checkpoint's units are not the snapshot's".to_string());
    }
    let r = matching::cross_correlation(old.acts.values.view(), current.subject.acts.values.view());
    let cost = r.mapv(|x| -x.abs());
    let map = matching::hungarian(&cost);
    let abs: Vec<Option<f64>> = map
        .iter()
        .enumerate()
        .map(|(i, j)| j.map(|j| r[[i, j]].abs()))
        .collect();
    Ok((card, map, abs))
}

/// Pairs units by the L1 distance of their score profiles.
fn profile_match(old: &RankingSnapshot, new: &RankingSnapshot) -> Map {
    let names: Vec<&str> = old.hypotheses.iter().map(|h| h.name.as_str()).collect();
    let profile = |snap: &RankingSnapshot| -> Array2<f64> {
        let mut p = Array2::<f64>::zeros((snap.units.len(), names.len()));
        for (k, name) in names.iter().enumerate() {
            if let Some(h) = snap.hypotheses.iter().find(|h| h.name == *name) {
                for u in &h.top {
                    if let Some(i) = snap.units.iter().position(|x| x.unit == u.unit) {
                        p[[i, k]] = u.score;
                    }
                }
            }
        }
        for (i, u) in snap.units.iter().enumerate() {
            if let Some(k) = names.iter().position(|n| *n == u.best) {
                p[[i, k]] = p[[i, k]].max(u.score);
            }
        }
        p
    };
    let (po, pn) = (profile(old), profile(new));
    let cost = Array2::from_shape_fn((po.nrows(), pn.nrows()), |(i, j)| {
        po.row(i)
            .iter()
            .zip(pn.row(j))
            .map(|(a, b)| (a - b).abs())
            .sum::<f64>()
    });
    matching::hungarian(&cost)
}

/// What to write when a spec's snapshot is missing or differs (insta's
/// `INSTA_UPDATE` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// Write the `.snap` and pass (`always`, `force`, or `luigi check --accept`).
    Accept,
    /// Write a `.snap.new` for review and fail (`new`, or `auto` outside CI).
    New,
    /// Write a missing `.snap` and pass; a differing one as `.snap.new` (`unseen`).
    Unseen,
    /// Write nothing and fail (`no`, or `auto` in CI).
    No,
}

impl Update {
    /// From `INSTA_UPDATE` (and `CI`): unset or `auto` is `New`, or `No`
    /// when `CI` is set; an unknown value is an error.
    pub fn from_env() -> Result<Update> {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
        match std::env::var("INSTA_UPDATE").ok().as_deref().map(str::trim) {
            None | Some("") | Some("auto") => Ok(if ci { Update::No } else { Update::New }),
            Some("always") | Some("force") => Ok(Update::Accept),
            Some("new") => Ok(Update::New),
            Some("unseen") => Ok(Update::Unseen),
            Some("no") => Ok(Update::No),
            Some(other) => Err(Error::invalid(
                "INSTA_UPDATE",
                format!("`{other}` is not one of auto, always, force, new, unseen, no"),
            )),
        }
    }
}

/// The verdict on a snapshot kept in a file.
#[derive(Debug, Clone)]
pub struct SnapshotOutcome {
    /// Whether the snapshot matched (or was accepted).
    pub passed: bool,
    /// What was found.
    pub report: Report,
    /// The diff against the stored snapshot, when there was one.
    pub diff: Option<SnapshotDiff>,
    /// The file written, if any (`.snap` when accepted, else `.snap.new`).
    pub written: Option<PathBuf>,
}

/// Compares `capture` with the snapshot at `path` (insta format), writing
/// per `update`; used by specs and `luigi check`.
pub fn check_file(
    path: &Path,
    capture: &Capture,
    source: &str,
    origin: &Origin,
    update: Update,
) -> Result<SnapshotOutcome> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let info = capture.info(dir);
    let expression = format!("ranking of layer `{}`", capture.content.layer);
    let pending = PathBuf::from(format!("{}.new", path.display()));
    let stored = read(path)?;
    let subject = &capture.subject;
    let mut report;
    let renamed = match &stored {
        Some(s) if s.content != capture.content && !capture.exact_units => {
            let d = compare(s, capture)?;
            d.equal_after_renaming(&s.content, &capture.content)
                .then_some(d)
        }
        _ => None,
    };
    let (passed, diff, written) = match &stored {
        Some(s) if s.content == capture.content => {
            report = Report::new(format!(
                "passed: ranking snapshot {} matches",
                tidy(&path.display().to_string())
            ));
            if pending.exists() {
                let _ = std::fs::remove_file(&pending);
            }
            (true, None, None)
        }
        Some(_) if renamed.is_some() => {
            let n = renamed.as_ref().map_or(0, |d| d.moves.len());
            report = Report::new(format!(
                "passed: ranking snapshot {} matches after renaming {n} unit(s) (`units: exact` in the spec's snapshot section compares names)",
                tidy(&path.display().to_string())
            ));
            if pending.exists() {
                let _ = std::fs::remove_file(&pending);
            }
            (true, renamed, None)
        }
        _ => {
            let diff = match &stored {
                Some(s) => Some(compare(s, capture)?),
                None => None,
            };
            let (passed, target) = match (update, stored.is_some()) {
                (Update::Accept, _) | (Update::Unseen, false) => (true, Some(path.to_path_buf())),
                (Update::New, _) | (Update::Unseen, true) => (false, Some(pending.clone())),
                (Update::No, _) => (false, None),
            };
            if let Some(t) = &target {
                write(t, source, &expression, &info, &capture.content)?;
                if t.as_path() == path && pending.exists() {
                    let _ = std::fs::remove_file(&pending);
                }
            }
            let headline = match (&stored, passed) {
                (None, true) => format!(
                    "passed: new ranking snapshot written to {}",
                    tidy(&path.display().to_string())
                ),
                (None, false) => format!(
                    "FAILED: no ranking snapshot at {} yet",
                    tidy(&path.display().to_string())
                ),
                (Some(_), true) => format!(
                    "passed: ranking snapshot {} updated",
                    tidy(&path.display().to_string())
                ),
                (Some(_), false) => format!(
                    "FAILED: ranking snapshot {} differs ({})",
                    tidy(&path.display().to_string()),
                    diff.as_ref().map_or(String::new(), |d| d.stability())
                ),
            };
            report = Report::new(headline);
            (passed, diff, target)
        }
    };
    report.push(
        "asserted",
        format!(
            "the ranking of {} hypotheses in layer `{}` matches {}",
            capture.content.hypotheses.len(),
            capture.content.layer,
            tidy(&path.display().to_string())
        ),
    );
    push_subject(&mut report, subject, origin);
    if let Some(d) = &diff {
        report.push("diff", d.lines().join("\n"));
        report.push("stability", d.stability());
    }
    report.push("current", best_table(&capture.content));
    report.push("reproduce", origin.reproduce());
    let accept = match (&written, passed) {
        (Some(w), false) => format!(
            "review the pending snapshot {} with `cargo insta review`, or accept it with `luigi check --accept`",
            tidy(&w.display().to_string())
        ),
        (None, false) => "nothing was written (INSTA_UPDATE=no or CI): run `luigi check --accept` locally, or INSTA_UPDATE=always".to_string(),
        (_, true) => "nothing to do".to_string(),
    };
    report.push("accept", accept);
    Ok(SnapshotOutcome {
        passed,
        report,
        diff,
        written,
    })
}

/// Each hypothesis' best unit, as a table.
fn best_table(s: &RankingSnapshot) -> String {
    let rows: Vec<Vec<String>> = s
        .hypotheses
        .iter()
        .map(|h| {
            let (u, v) = h
                .top
                .first()
                .map_or(("-".to_string(), "-".to_string()), |t| {
                    (t.unit.clone(), format!("{:.3}", t.score))
                });
            let runner = h
                .top
                .get(1)
                .map_or("-".to_string(), |t| format!("{} ({:.3})", t.unit, t.score));
            vec![h.name.clone(), h.metric.clone(), u, v, runner]
        })
        .collect();
    table(
        &["hypothesis", "metric", "unit", "score", "runner-up"],
        &rows,
    )
}

/// A snapshot assertion prepared for insta (used by
/// [`assert_ranking_snapshot!`](crate::assert_ranking_snapshot)).
#[derive(Debug)]
pub struct Prepared {
    dir: PathBuf,
    name: String,
    info: SnapshotInfo,
    content: RankingSnapshot,
    description: String,
}

impl Prepared {
    /// The snapshot's file name without `.snap`.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The snapshot file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.snap", self.name))
    }
    /// The content to assert.
    pub fn content(&self) -> &RankingSnapshot {
        &self.content
    }
    /// insta settings that put the snapshot where [`Prepared::path`] says,
    /// with the checkpoint in its header.
    pub fn settings(&self) -> insta::Settings {
        let mut s = insta::Settings::clone_current();
        s.set_snapshot_path(&self.dir);
        s.set_prepend_module_to_snapshot(false);
        s.set_info(&self.info);
        s.set_description(self.description.clone());
        s.set_omit_expression(true);
        s
    }
}

/// Where insta keeps a named snapshot of a call site: the folder
/// `snapshots/` beside the source file, the file
/// `<module path with __>__<name>.snap` (insta's defaults).
pub fn snapshot_location(site: &crate::_macro_support::Site, name: &str) -> (PathBuf, String) {
    let manifest = Path::new(site.manifest_dir);
    // `file!()` is relative to the workspace root: find the ancestor it exists under.
    let root = manifest
        .ancestors()
        .find(|a| a.join(site.file).is_file())
        .unwrap_or(manifest);
    let src = root.join(site.file);
    let dir = file::normalise(&src.parent().unwrap_or(root).join("snapshots"));
    let file = format!(
        "{}__{}",
        site.module.replace("::", "__"),
        name.replace(['/', '\\'], "__")
    );
    (dir, file)
}

/// Prepares a snapshot assertion: finds the snapshot file, and when a
/// stored snapshot differs from `capture`, prints the unit-matched diff to
/// stderr (before insta prints its own).
pub fn prepare(site: &crate::_macro_support::Site, name: &str, capture: &Capture) -> Prepared {
    let (dir, file_name) = snapshot_location(site, name);
    let path = dir.join(format!("{file_name}.snap"));
    match read(&path) {
        Ok(Some(stored)) if stored.content != capture.content => match compare(&stored, capture) {
            Ok(d) => eprintln!("{d}  accept with `cargo insta review` if the change is intended"),
            Err(e) => eprintln!("luigi: could not compare with {}: {e}", path.display()),
        },
        Ok(_) => {}
        Err(e) => eprintln!("luigi: {e}"),
    }
    Prepared {
        info: capture.info(&dir),
        description: format!(
            "Luigi ranking of layer `{}` ({} hypotheses), asserted at {}:{}",
            capture.content.layer,
            capture.content.hypotheses.len(),
            tidy(site.file),
            site.line
        ),
        content: capture.content.clone(),
        dir,
        name: file_name,
    }
}

/// Asserts a ranking snapshot with insta: `assert_ranking_snapshot!("name", capture)`.
///
/// The snapshot lives where insta would put it (`snapshots/` beside the
/// test file). When it differs, the unit-matched diff (see the
/// [`snapshot`](crate::snapshot) module) is printed before insta's diff;
/// accept changes with `cargo insta review`.
#[macro_export]
macro_rules! assert_ranking_snapshot {
    ($name:expr, $capture:expr $(,)?) => {{
        let __luigi_site = $crate::_macro_support::Site {
            file: ::core::file!(),
            line: ::core::line!(),
            module: ::core::module_path!(),
            manifest_dir: ::core::env!("CARGO_MANIFEST_DIR"),
        };
        let __luigi_prepared = $crate::snapshot::prepare(&__luigi_site, $name, &$capture);
        __luigi_prepared.settings().bind(|| {
            $crate::_macro_support::insta::assert_yaml_snapshot!(
                __luigi_prepared.name(),
                __luigi_prepared.content()
            );
        });
    }};
}
