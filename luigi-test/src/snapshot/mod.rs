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

mod diff;
mod file;
pub(crate) mod matching;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use diff::{compare, BestChange, Matching, SnapshotDiff, UnitMove};
pub use file::{read, relative, write, StoredSnapshot};

use crate::error::{Error, Result};
use crate::hypothesis::HypothesisSet;
use crate::ranking::{round_to, Ranking};
use crate::report::failure::{Origin, Report};
use crate::score::DEFAULT_SEED;
use crate::score::{score_all, Metric, ScoreConfig};
use crate::subject::{load_corpus, load_model, push_subject, Subject};
use crate::text::{table, tidy};

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
    /// [`crate::model::Model::fingerprint`] of that checkpoint.
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
                metric: h.metric.name().to_string(),
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
#[doc(hidden)]
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
#[doc(hidden)] // called by `assert_ranking_snapshot!`, with the macro-support site
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
