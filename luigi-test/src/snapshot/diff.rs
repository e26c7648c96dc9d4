//! Comparing a stored ranking snapshot with the current one: units paired
//! (same model, or matched by activations or by score profiles when the
//! model was retrained), then what moved, appeared, vanished or changed.

use std::path::PathBuf;
use std::sync::Arc;

use ndarray::Array2;

use super::{matching, Capture, RankingSnapshot, StoredSnapshot, UnitEntry, UnitScore};
use crate::error::Result;
use crate::model::Model;
use crate::subject::Subject;
use crate::text::tidy;

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
