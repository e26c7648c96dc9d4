//! YAML specs: a model, a corpus, a layer, and what the layer must show,
//! checked by `cargo test` (through a harness test) and by `luigi check`.
//!
//! ```yaml
//! # specs/boolean.yaml — paths are relative to this file
//! model: ../examples/boolean/boolean.luigi.yaml   # the model card
//! layer: lstm                    # tensor name or the card's alias; `any` (every
//!                                # layer of the card) or a list `[lstm, lstm2]`
//!                                # ranks the units of all of them, named `lstm2:110`
//! corpus: ../examples/boolean/heldout.txt
//! window: 256                    # optional: windows of N characters instead of lines
//! sequences: 1000                # optional: only the first N sequences
//! seed: 7                        # optional: seed of every random draw
//! expectations:
//!   - name: evaluator            # optional; default `expectations[i]`
//!     hypothesis: {fsm: {file: automata/bool_eval.yaml}}
//!     expect: some_unit          # some_unit | {units: [2, 3]} | {at_most: 2} | probe | {probe: [0, 1]}
//!     metric: eta                # pearson | spearman | mi | auc | eta
//!     min: 0.95
//!     max_q: 0.001               # optional
//!     verify: perturb            # optional: the units that meet it must pass perturbation,
//!                                # `intervene` (holding them makes the model write it) or `both` (crate::verify)
//!     response: class(digit)     # optional, intervene: what is measured on what the model writes
//!     samples: 32                # optional, intervene: continuations per condition
//!     steps: 48                  # optional, intervene: characters per continuation
//!   - hypothesis: {boolean: last_op}
//!     expect: {at_most: 2}
//!     metric: eta
//!     min: 0.5
//! snapshot:                      # optional: a ranking snapshot (see crate::snapshot)
//!   hypotheses:                  # an inline hypothesis list, or the path of a list file
//!     - {fsm: {file: automata/bool_eval.yaml}}
//!     - chars: "|&"
//!   top: 3                       # best units kept per hypothesis (default 3)
//!   decimals: 3                  # rounding (default 3)
//!   file: snapshots/boolean.snap # default: snapshots/<spec name>.snap beside the spec
//!   units: exact                 # optional: compare unit names; by default a ranking equal to the
//!                                # stored one after renaming units (matched by activations) passes
//! ```
//!
//! - An expectation's `hypothesis` is one item of the hypothesis-list
//!   format ([`crate::hypothesis::list`]) plus `boolean: NAME`, exactly as
//!   `builtin(...)` of `#[neural_assert]` ([`crate::expect::builtin`]); it
//!   must give exactly one hypothesis. Expectations and thresholds mean
//!   what they mean in [`crate::expect`]; `probe` fits a logistic-regression
//!   probe (see [`crate::probe`]).
//! - A spec needs `expectations`, `snapshot`, or both.
//! - Unknown keys, missing keys, values of the wrong type or range, paths
//!   that do not exist and hypotheses that cannot be built are
//!   [`Error::Spec`] errors naming the file, line, column and key path
//!   (`expectations[2].metric`). Errors found later (an unknown layer or
//!   unit, a metric that does not fit the hypothesis) name the file, the
//!   key and the line of the key or item.
//! - Every expectation, and the snapshot, is one *case*: it passes, fails
//!   (the model was judged; the report says why) or has a setup error.
//!
//! [`check_paths`] runs every spec of some files and folders (a folder
//! means the `*.yaml`/`*.yml` files directly inside it; one that holds none
//! is an error) and gives the exit code `luigi check` uses: 0 all passed,
//! 1 a case failed, 2 a setup error. [`junit_xml`] writes the result as
//! JUnit XML.

mod harness;
mod junit;
mod parse;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

pub use harness::{test_main, trials};
pub use junit::junit_xml;

use crate::corpus::Corpus;
use crate::error::{Error, Result};
use crate::expect::{judge, seed_from_env, verify_outcome, Expectation};
use crate::hypothesis::{Hypothesis, HypothesisSet};
use crate::report::failure::{Origin, Report};
use crate::snapshot::{check_file, relative, Capture, SnapshotOptions, Update};
use crate::subject::{load_corpus, load_model, Subject};
use crate::text::tidy;
use crate::yaml;

/// One expectation of a spec.
#[derive(Debug)]
pub struct SpecExpectation {
    /// Its `name`, or its key path.
    pub name: String,
    /// Its key path, `expectations[i]`.
    pub key: String,
    /// 1-based line of its item, 0 when unknown.
    pub line: usize,
    /// The hypothesis.
    pub hypothesis: Box<dyn Hypothesis>,
    /// What it demands.
    pub expectation: Expectation,
    /// `verify:`, when the units that meet it must also pass verification.
    pub verify: Option<crate::expect::Verify>,
    /// `response:`, `samples:`, `steps:` of an intervention check.
    pub verify_settings: crate::expect::VerifySettings,
}

/// The snapshot section of a spec.
#[derive(Debug)]
pub struct SpecSnapshot {
    /// The hypotheses ranked.
    pub hypotheses: HypothesisSet,
    /// Rounding and size.
    pub options: SnapshotOptions,
    /// The snapshot file.
    pub file: PathBuf,
    /// 1-based line of the `snapshot` key.
    pub line: usize,
}

/// A parsed spec.
#[derive(Debug)]
pub struct Spec {
    /// The spec file.
    pub path: PathBuf,
    /// The model card.
    pub model: PathBuf,
    /// The layer.
    pub layer: String,
    /// The corpus file or folder.
    pub corpus: PathBuf,
    /// Windows of this many characters, or lines.
    pub window: Option<usize>,
    /// Only the first this many sequences.
    pub sequences: Option<usize>,
    /// Seed of every random draw.
    pub seed: u64,
    /// The expectations, in order.
    pub expectations: Vec<SpecExpectation>,
    /// The ranking snapshot, if any.
    pub snapshot: Option<SpecSnapshot>,
    /// Where a failing case's HTML page goes (a folder per case); `None`:
    /// `luigi/` in cargo's target directory under `cargo test`, nowhere
    /// elsewhere. `luigi check --report-dir DIR` sets it.
    pub report_dir: Option<PathBuf>,
    text: String,
    corpus_loaded: Option<Arc<Corpus>>,
}

impl Spec {
    /// Reads and checks a spec file.
    pub fn load(path: impl AsRef<Path>) -> Result<Spec> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Spec::parse(&text, path)
    }

    /// Checks a spec's text; `path` names it in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Spec> {
        yaml::check_depth(text, path, "a spec")?;
        let dir = path.parent().unwrap_or(Path::new("."));
        // The corpus first: generated hypothesis families need it.
        let (corpus, corpus_error) = match yaml::from_str::<parse::Head>(text) {
            Ok(parse::Head {
                model,
                corpus: Some(c),
                window,
                sequences,
            }) => match load_corpus(&dir.join(c), window, sequences) {
                // A model that reads subword tokens: the corpus its
                // generated families see is tokenized (a card that does not
                // load is reported when the model is loaded, at run time).
                Ok(c) => match model.and_then(|m| crate::model::card::Card::load(dir.join(m)).ok())
                {
                    Some(card) if card.tokenizer.is_some() => match card.prepare(&c) {
                        Ok(t) => (Some(std::sync::Arc::new(t)), None),
                        Err(e) => (
                            None,
                            Some(format!("the spec's corpus could not be tokenized: {e}")),
                        ),
                    },
                    _ => (Some(c), None),
                },
                Err(e) => (
                    None,
                    Some(format!("the spec's corpus could not be loaded: {e}")),
                ),
            },
            _ => (None, None),
        };
        let ctx = parse::context_for(path, corpus.clone(), corpus_error);
        let file: parse::SpecFile = parse::with_context(ctx, || yaml::from_str(text))
            .map_err(|e| yaml::spec_error(path, "", &e))?;
        let spec_err = |key: &str, line: usize, message: String| Error::Spec {
            path: path.to_path_buf(),
            line,
            column: if line > 0 { 1 } else { 0 },
            key: key.to_string(),
            message,
        };
        if file.expectations.is_empty() && file.snapshot.is_none() {
            return Err(spec_err(
                "(document)",
                1,
                "the spec checks nothing: add `expectations:` (a list) or `snapshot:`".to_string(),
            ));
        }
        let layer = file.layer.name();
        if layer.trim().is_empty() {
            return Err(spec_err(
                "layer",
                parse::key_line(text, "layer"),
                "is empty: name a layer (run `luigi layers MODEL`)".to_string(),
            ));
        }
        let lines = parse::item_lines(text, "expectations");
        let list_line = parse::key_line(text, "expectations");
        let expectations = file
            .expectations
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let key = format!("expectations[{i}]");
                SpecExpectation {
                    name: item.name.clone().unwrap_or_else(|| key.clone()),
                    line: lines.get(i).copied().unwrap_or(list_line),
                    key,
                    hypothesis: item.hypothesis,
                    expectation: item.expectation,
                    verify: item.verify,
                    verify_settings: item.verify_settings,
                }
            })
            .collect();
        let seed = match file.seed {
            Some(s) => s,
            None => seed_from_env()?,
        };
        let sequences = file.sequences.map(|p| p.0);
        let snapshot = file.snapshot.map(|s| {
            let stem = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let stem = stem
                .strip_suffix(".yaml")
                .or_else(|| stem.strip_suffix(".yml"))
                .unwrap_or(&stem)
                .to_string();
            SpecSnapshot {
                hypotheses: s.hypotheses.0,
                options: SnapshotOptions {
                    top: s.top.map_or(3, |t| t.0),
                    decimals: s.decimals.unwrap_or(3),
                    seed,
                    sequences,
                    exact_units: s.units == Some(parse::SnapshotUnits::Exact),
                },
                file: match s.file {
                    Some(f) => dir.join(f),
                    None => dir.join("snapshots").join(format!("{stem}.snap")),
                },
                line: parse::key_line(text, "snapshot"),
            }
        });
        Ok(Spec {
            path: path.to_path_buf(),
            model: file.model.0,
            layer,
            corpus: file.corpus.0,
            window: file.window.map(|p| p.0),
            sequences,
            seed,
            expectations,
            snapshot,
            report_dir: None,
            text: text.to_string(),
            corpus_loaded: corpus,
        })
    }

    fn located(&self, key: &str, e: Error) -> Error {
        if matches!(e, Error::Spec { .. }) {
            return e;
        }
        let line = parse::key_line(&self.text, key);
        Error::Spec {
            path: self.path.clone(),
            line,
            column: if line > 0 { 1 } else { 0 },
            key: key.to_string(),
            message: e.to_string(),
        }
    }

    /// Records the layer (shared through [`crate::expect::cache`]) and
    /// judges every case. `Err` is a setup error of the whole spec (model,
    /// corpus or layer); a case's own setup error is in its [`Case`].
    pub fn run(&self, update: Update) -> Result<SpecReport> {
        let model = load_model(&self.model).map_err(|e| self.located("model", e))?;
        let corpus = match &self.corpus_loaded {
            Some(c) => c.clone(),
            None => load_corpus(&self.corpus, self.window, self.sequences)
                .map_err(|e| self.located("corpus", e))?,
        };
        let subject = Subject::record(model, corpus, &self.layer).map_err(|e| match e {
            Error::UnknownLayer { .. } => self.located("layer", e),
            other => self.located("model", other),
        })?;
        let mut cases = Vec::new();
        for x in &self.expectations {
            let start = Instant::now();
            let origin = Origin::Spec {
                path: self.path.clone(),
                key: x.key.clone(),
                line: x.line,
                name: (x.name != x.key).then(|| x.name.clone()),
            };
            let judged = judge(
                &subject,
                x.hypothesis.as_ref(),
                &x.expectation,
                self.seed,
                origin.clone(),
            )
            .and_then(|o| match x.verify {
                Some(mode) => verify_outcome(
                    &subject,
                    x.hypothesis.as_ref(),
                    mode,
                    &x.verify_settings,
                    self.seed,
                    &origin,
                    o,
                ),
                None => Ok(o),
            })
            .map(|mut o| {
                crate::expect::attach_page(
                    &subject,
                    x.hypothesis.as_ref(),
                    &origin,
                    self.report_dir.as_deref(),
                    &mut o,
                );
                o
            });
            let result = match judged {
                Ok(o) if o.passed => CaseResult::Passed(o.report),
                Ok(o) => CaseResult::Failed(o.report),
                Err(e) => CaseResult::SetupError(Error::Spec {
                    path: self.path.clone(),
                    line: x.line,
                    column: if x.line > 0 { 1 } else { 0 },
                    key: x.key.clone(),
                    message: e.to_string(),
                }),
            };
            cases.push(Case {
                name: x.name.clone(),
                key: x.key.clone(),
                line: x.line,
                result,
                seconds: start.elapsed().as_secs_f64(),
            });
        }
        if let Some(s) = &self.snapshot {
            let start = Instant::now();
            let origin = Origin::Spec {
                path: self.path.clone(),
                key: "snapshot".to_string(),
                line: s.line,
                name: None,
            };
            let dir = s.file.parent().unwrap_or(Path::new("."));
            let source = relative(&self.path, dir);
            let result = Capture::of(subject.clone(), &s.hypotheses, &s.options)
                .and_then(|c| check_file(&s.file, &c, &source, &origin, update));
            let result = match result {
                Ok(o) if o.passed => CaseResult::Passed(o.report),
                Ok(o) => CaseResult::Failed(o.report),
                Err(e) => CaseResult::SetupError(self.located("snapshot", e)),
            };
            cases.push(Case {
                name: "snapshot".to_string(),
                key: "snapshot".to_string(),
                line: s.line,
                result,
                seconds: start.elapsed().as_secs_f64(),
            });
        }
        Ok(SpecReport {
            path: self.path.clone(),
            cases,
        })
    }
}

/// The verdict on one case.
#[derive(Debug)]
pub enum CaseResult {
    /// The model met the expectation (or the snapshot matched).
    Passed(Report),
    /// The model was judged and fell short.
    Failed(Report),
    /// The case could not be judged.
    SetupError(Error),
}

/// One expectation (or the snapshot) of a spec, judged.
#[derive(Debug)]
pub struct Case {
    /// Its name.
    pub name: String,
    /// Its key path.
    pub key: String,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// The verdict.
    pub result: CaseResult,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl Case {
    /// Whether it passed.
    pub fn passed(&self) -> bool {
        matches!(self.result, CaseResult::Passed(_))
    }
}

/// Every case of one spec.
#[derive(Debug)]
pub struct SpecReport {
    /// The spec file.
    pub path: PathBuf,
    /// Its cases, in order (the snapshot last).
    pub cases: Vec<Case>,
}

impl SpecReport {
    /// Whether every case passed.
    pub fn passed(&self) -> bool {
        self.cases.iter().all(Case::passed)
    }
}

/// One spec's outcome in a run: its report, or the setup error that kept it
/// from running.
#[derive(Debug)]
pub struct SpecRun {
    /// The spec file.
    pub path: PathBuf,
    /// The report, or the spec-level setup error.
    pub result: Result<SpecReport>,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// The outcome of [`check_paths`].
#[derive(Debug)]
pub struct CheckRun {
    /// One entry per spec, in order.
    pub specs: Vec<SpecRun>,
}

/// Totals of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed.
    pub failed: usize,
    /// Cases (or whole specs) with a setup error.
    pub errors: usize,
}

impl CheckRun {
    /// Passed, failed and setup-error totals.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for s in &self.specs {
            match &s.result {
                Err(_) => c.errors += 1,
                Ok(r) => {
                    for case in &r.cases {
                        match case.result {
                            CaseResult::Passed(_) => c.passed += 1,
                            CaseResult::Failed(_) => c.failed += 1,
                            CaseResult::SetupError(_) => c.errors += 1,
                        }
                    }
                }
            }
        }
        c
    }

    /// `luigi check`'s exit code: 2 with any setup error, else 1 with any
    /// failure, else 0.
    pub fn exit_code(&self) -> u8 {
        let c = self.counts();
        if c.errors > 0 {
            2
        } else if c.failed > 0 {
            1
        } else {
            0
        }
    }
}

impl fmt::Display for CheckRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.specs {
            let p = tidy(&s.path.display().to_string());
            match &s.result {
                Err(e) => writeln!(f, "spec {p}: SETUP ERROR (not judged)\n  {e}")?,
                Ok(r) => {
                    writeln!(f, "spec {p} ({:.1}s)", s.seconds)?;
                    for c in &r.cases {
                        let tag = match c.result {
                            CaseResult::Passed(_) => "ok   ",
                            CaseResult::Failed(_) => "FAIL ",
                            CaseResult::SetupError(_) => "ERROR",
                        };
                        writeln!(f, "  {tag} {} ({:.2}s)", c.name, c.seconds)?;
                    }
                }
            }
        }
        for s in &self.specs {
            if let Ok(r) = &s.result {
                for c in &r.cases {
                    match &c.result {
                        CaseResult::Failed(report) => writeln!(f, "\n{report}")?,
                        CaseResult::SetupError(e) => {
                            writeln!(f, "\nsetup error (the model was not judged): {e}")?
                        }
                        CaseResult::Passed(_) => {}
                    }
                }
            }
        }
        let c = self.counts();
        write!(
            f,
            "\n{} spec{}: {} passed, {} failed, {} setup error{}",
            self.specs.len(),
            if self.specs.len() == 1 { "" } else { "s" },
            c.passed,
            c.failed,
            c.errors,
            if c.errors == 1 { "" } else { "s" }
        )
    }
}

/// The spec files named by `paths`: files as given, folders as the
/// `*.yaml`/`*.yml` files directly inside them (sorted). A missing path,
/// or a folder with no spec, is an error.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| Error::io(p, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            if found.is_empty() {
                return Err(Error::invalid(
                    format!("spec folder {}", p.display()),
                    "holds no spec (*.yaml or *.yml directly inside it): name spec files or another folder",
                ));
            }
            found.sort();
            out.extend(found);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(Error::io(
                p,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such spec file or folder"),
            ));
        }
    }
    Ok(out)
}

/// Loads and runs every spec `paths` names. Errors finding the specs are
/// returned; a spec that cannot be read or run is a [`SpecRun`] with an error.
pub fn check_paths(paths: &[PathBuf], update: Update) -> Result<CheckRun> {
    check_paths_with(paths, update, None)
}

/// [`check_paths`], writing each failing case's HTML page into a folder of
/// `report_dir` (see [`Spec::report_dir`]).
pub fn check_paths_with(
    paths: &[PathBuf],
    update: Update,
    report_dir: Option<&Path>,
) -> Result<CheckRun> {
    let files = discover(paths)?;
    let specs = files
        .into_iter()
        .map(|path| {
            let start = Instant::now();
            let result = Spec::load(&path).and_then(|mut s| {
                s.report_dir = report_dir.map(Path::to_path_buf);
                s.run(update)
            });
            SpecRun {
                path,
                result,
                seconds: start.elapsed().as_secs_f64(),
            }
        })
        .collect();
    Ok(CheckRun { specs })
}
