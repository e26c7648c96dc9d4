//! Expectations: what a test or spec demands of a layer, checked against a
//! model, with a failure report when the model falls short.
//!
//! The same runtime serves three front ends: the `#[neural_assert(...)]`
//! attribute (through [`crate::_macro_support`]), the plain-Rust
//! [`Assertion`] builder below, and YAML specs ([`crate::spec`]).
//!
//! ```no_run
//! use luigi_test::expect::{Assertion, Expectation, Threshold};
//! use luigi_test::score::Metric;
//!
//! let outcome = Assertion::new("examples/boolean/boolean.luigi.yaml")
//!     .layer("lstm")
//!     .corpus("examples/boolean/heldout.txt", None)
//!     .hypothesis_builtin(&["boolean", "bool_eval"])
//!     .expect(Expectation::some_unit(Threshold::new(Metric::Eta, 0.8)))
//!     .check()?;
//! assert!(outcome.passed, "{}", outcome.report);
//! # Ok::<(), luigi_test::Error>(())
//! ```
//!
//! # Expectations
//!
//! | form | passes when |
//! |---|---|
//! | [`Expectation::SomeUnit`] | some single unit meets the [`Threshold`]. Indices move when a model is retrained; this form does not care which unit it is. |
//! | [`Expectation::Units`] | every listed unit meets the threshold (pins units: for a model that is not retrained). |
//! | [`Expectation::AtMost`] | a linear read-out of at most `k` units meets the threshold on held-out sequences (see below). |
//! | [`Expectation::Probe`] | a probe reads the hypothesis with the given accuracy and selectivity. The probe is [`crate::probe::fit`] with its default controls, the expectation seed, and 200 bootstrap resamples; selectivity is the accuracy over the Hewitt–Liang control task's. |
//!
//! # Thresholds
//!
//! A [`Threshold`] is a metric, the least value `min`, and optionally the
//! largest q-value `max_q`: the Benjamini–Hochberg q-value, over the
//! layer's units for this one hypothesis, of the unit's Pearson r (η for a
//! categorical hypothesis) under the score engine's autocorrelation-aware
//! test (see [`crate::score`]); for `at_most`, of the read-out's r (η) on
//! the held-out rows. The value compared is direction-free, because the
//! sign of a unit is arbitrary and flips between trainings:
//!
//! | metric | compared with `min` |
//! |---|---|
//! | `pearson`, `spearman` | `\|r\|` when `min ≥ 0`; when `min < 0` the unit must be anti-correlated: `r ≤ min` |
//! | `auc` (binary hypotheses) | `max(AUC, 1 − AUC)` |
//! | `mi` (normalised mutual information), `eta` (categorical) | the value itself |
//!
//! `auc` needs a binary hypothesis, `eta` a categorical one, and `pearson` /
//! `spearman` a numeric or binary one; a mismatch is a setup error.
//!
//! # `at_most(k)`: a few units read together
//!
//! Sequences are split, with the seed, into about two thirds for training
//! and one third held out (with fewer than 6 sequences, the last third of
//! every sequence is held out instead). On the training rows, units are
//! chosen greedily (forward selection) to maximise the in-sample R² of a
//! least-squares read-out of the hypothesis
//! (numeric and binary hypotheses) or the η² of the best linear combination
//! (categorical hypotheses: the leading discriminant direction). The
//! read-out of the first 1, 2, …, `k` chosen units is then scored on the
//! held-out rows with the asserted metric, and the best of those is
//! compared with the threshold. `at_most(1)` is `some_unit`.
//!
//! # Setup errors and failures
//!
//! [`Assertion::check`] returns `Err` for setup problems (missing model,
//! unknown layer or unit, unknown built-in hypothesis, a metric that does
//! not fit the hypothesis, a hypothesis that is constant on the corpus) and
//! `Ok(Outcome)` when the model was judged; [`Outcome::passed`] says how.
//! [`Assertion::assert`] panics on both, saying which it is; a failure
//! prints the [`Report`] first.
//!
//! # Sharing recordings
//!
//! Assertions over the same model, corpus and layer record once per test
//! binary ([`cache`]); set `LUIGI_DISK_CACHE=1` to keep recordings on disk
//! under [`crate::runtime::cache_dir`] as well.
//!
//! # Environment
//!
//! | variable | values |
//! |---|---|
//! | `LUIGI_DISK_CACHE` | `1`/`on`/`true` keeps recordings on disk; `0`/`off`/`false` or unset does not; anything else is a setup error |
//! | `LUIGI_SEED` | overrides the default seed (an explicit `.seed(n)` wins) |

mod at_most;
pub mod builtin;
mod judge;
#[doc(hidden)]
#[doc(hidden)]
pub mod macro_support;
mod page;
mod probe;
mod units;

mod verify;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hypothesis::{from_fn, Hypothesis, HypothesisKind};
use crate::score::Metric;
use crate::subject::{load_corpus, load_model};

pub use crate::report::failure::{Origin, Report};
pub use crate::subject::cache;
pub(crate) use judge::judge;
pub(crate) use page::attach_page;
pub use page::target_dir;
pub(crate) use verify::{check_fits as verify_fits, verify_outcome};
pub use verify::{regression_file, Verify, VerifySettings};

pub use crate::score::DEFAULT_SEED;

/// What a unit (or a read-out of units) must reach.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// The statistic.
    pub metric: Metric,
    /// The least value (see the module docs for how each metric compares).
    pub min: f64,
    /// The largest q-value allowed, if any.
    pub max_q: Option<f64>,
    /// The least within-token score (|r| or η after centring unit and
    /// hypothesis on their mean for the current input token; see
    /// [`crate::ranking::Pairing::within_token`]), if any: with it set, a
    /// unit that only passes on what the current token says fails.
    /// `some_unit` and `units` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_within_token: Option<f64>,
}

impl Threshold {
    /// `metric ≥ min`, no q-value limit.
    pub fn new(metric: Metric, min: f64) -> Self {
        Threshold {
            metric,
            min,
            max_q: None,
            min_within_token: None,
        }
    }

    /// Adds a q-value limit.
    pub fn max_q(mut self, q: f64) -> Self {
        self.max_q = Some(q);
        self
    }

    /// Adds a least within-token score.
    pub fn min_within_token(mut self, w: f64) -> Self {
        self.min_within_token = Some(w);
        self
    }

    /// Checks the ranges: `min` in [-1, 1] for pearson and spearman and in
    /// [0, 1] otherwise, `max_q` in (0, 1].
    pub fn validate(&self) -> Result<()> {
        let (lo, hi) = match self.metric {
            Metric::Pearson | Metric::Spearman => (-1.0, 1.0),
            _ => (0.0, 1.0),
        };
        if !(self.min.is_finite() && (lo..=hi).contains(&self.min)) {
            return Err(Error::invalid(
                "expectation",
                format!(
                    "min = {} is outside [{lo}, {hi}], the range of {}",
                    self.min,
                    self.metric.name()
                ),
            ));
        }
        if let Some(q) = self.max_q {
            if !(q > 0.0 && q <= 1.0) {
                return Err(Error::invalid(
                    "expectation",
                    format!("max_q = {q} is outside (0, 1]"),
                ));
            }
        }
        if let Some(w) = self.min_within_token {
            if !(w.is_finite() && (0.0..=1.0).contains(&w)) {
                return Err(Error::invalid(
                    "expectation",
                    format!("min_within_token = {w} is outside [0, 1] (it compares |r| or η within token groups)"),
                ));
            }
        }
        Ok(())
    }

    /// The direction-free strength of a raw metric value: what is compared
    /// with [`Threshold::needed`]. Higher is always better.
    pub fn strength(&self, raw: f64) -> f64 {
        match self.metric {
            Metric::Pearson | Metric::Spearman if self.min < 0.0 => -raw,
            Metric::Pearson | Metric::Spearman => raw.abs(),
            Metric::Auc => raw.max(1.0 - raw),
            Metric::MutualInfo | Metric::Eta => raw,
        }
    }

    /// The strength a unit needs.
    pub fn needed(&self) -> f64 {
        match self.metric {
            Metric::Pearson | Metric::Spearman if self.min < 0.0 => -self.min,
            _ => self.min,
        }
    }

    /// How the compared quantity is written in reports (`|r|`, `η`, …).
    pub fn quantity(&self) -> &'static str {
        match self.metric {
            Metric::Pearson if self.min < 0.0 => "r",
            Metric::Pearson => "|r|",
            Metric::Spearman if self.min < 0.0 => "ρ",
            Metric::Spearman => "|ρ|",
            Metric::Auc => "max(AUC, 1-AUC)",
            Metric::MutualInfo => "nmi",
            Metric::Eta => "η",
        }
    }

    /// The requirement in words, e.g. `|r| ≥ 0.9 and q ≤ 0.01`.
    pub fn describe(&self) -> String {
        let cmp = if matches!(self.metric, Metric::Pearson | Metric::Spearman) && self.min < 0.0 {
            format!("{} ≤ {}", self.quantity(), self.min)
        } else {
            format!("{} ≥ {}", self.quantity(), self.min)
        };
        let cmp = match self.max_q {
            Some(q) => format!("{cmp} and q ≤ {q}"),
            None => cmp,
        };
        match self.min_within_token {
            Some(w) => format!("{cmp} and within-token ≥ {w}"),
            None => cmp,
        }
    }
}

/// What a test demands of a layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    /// Some single unit meets the threshold.
    SomeUnit(Threshold),
    /// Every listed unit (by name, or index on the layer) meets the threshold.
    Units {
        /// Unit names or indices, as text.
        units: Vec<String>,
        /// What each must reach.
        threshold: Threshold,
    },
    /// A read-out of at most `k` units meets the threshold on held-out sequences.
    AtMost {
        /// Largest number of units.
        k: usize,
        /// What the read-out must reach.
        threshold: Threshold,
    },
    /// A logistic-regression probe reads the hypothesis on held-out sequences.
    Probe {
        /// The units the probe reads; all units when absent.
        units: Option<Vec<String>>,
        /// Least held-out accuracy.
        min_accuracy: Option<f64>,
        /// Least selectivity over a control task.
        min_selectivity: Option<f64>,
    },
}

impl Expectation {
    /// `some_unit` with a threshold.
    pub fn some_unit(threshold: Threshold) -> Self {
        Expectation::SomeUnit(threshold)
    }

    /// `units([..])` with a threshold; units by name or index.
    pub fn units<I, S>(units: I, threshold: Threshold) -> Self
    where
        I: IntoIterator<Item = S>,
        S: ToString,
    {
        Expectation::Units {
            units: units.into_iter().map(|u| u.to_string()).collect(),
            threshold,
        }
    }

    /// `at_most(k)` with a threshold.
    pub fn at_most(k: usize, threshold: Threshold) -> Self {
        Expectation::AtMost { k, threshold }
    }

    /// The threshold, for the forms that have one.
    pub fn threshold(&self) -> Option<&Threshold> {
        match self {
            Expectation::SomeUnit(t)
            | Expectation::Units { threshold: t, .. }
            | Expectation::AtMost { threshold: t, .. } => Some(t),
            Expectation::Probe { .. } => None,
        }
    }

    /// Checks ranges and shapes (no model needed).
    pub fn validate(&self) -> Result<()> {
        if let Some(t) = self.threshold() {
            t.validate()?;
        }
        match self {
            Expectation::Units { units, .. } if units.is_empty() => Err(Error::invalid(
                "expectation",
                "units([]) lists no unit: name at least one, or use some_unit",
            )),
            Expectation::AtMost { k: 0, .. } => Err(Error::invalid(
                "expectation",
                "at_most(0): give at least 1 unit",
            )),
            Expectation::AtMost { threshold, .. } if threshold.min_within_token.is_some() => {
                Err(Error::invalid(
                    "expectation",
                    "min_within_token applies to some_unit and units, not to at_most (a read-out of several units has no within-token score)",
                ))
            }
            Expectation::Probe {
                min_accuracy,
                min_selectivity,
                ..
            } => {
                for (name, v) in [
                    ("min_accuracy", min_accuracy),
                    ("min_selectivity", min_selectivity),
                ] {
                    if let Some(v) = v {
                        if !(0.0..=1.0).contains(v) {
                            return Err(Error::invalid(
                                "expectation",
                                format!("{name} = {v} is outside [0, 1]"),
                            ));
                        }
                    }
                }
                if min_accuracy.is_none() && min_selectivity.is_none() {
                    return Err(Error::invalid(
                        "expectation",
                        "a probe expectation needs min_accuracy or min_selectivity",
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The form in words, e.g. `some_unit`, `units([2, 3])`, `at_most(2)`.
    pub fn form(&self) -> String {
        match self {
            Expectation::SomeUnit(_) => "some_unit".to_string(),
            Expectation::Units { units, .. } => format!("units([{}])", units.join(", ")),
            Expectation::AtMost { k, .. } => format!("at_most({k})"),
            Expectation::Probe { units: None, .. } => "probe".to_string(),
            Expectation::Probe { units: Some(u), .. } => format!("probe([{}])", u.join(", ")),
        }
    }

    /// The whole requirement in words.
    pub fn describe(&self) -> String {
        match self {
            Expectation::Probe {
                min_accuracy,
                min_selectivity,
                ..
            } => {
                let mut parts = vec![self.form()];
                if let Some(a) = min_accuracy {
                    parts.push(format!("accuracy ≥ {a}"));
                }
                if let Some(s) = min_selectivity {
                    parts.push(format!("selectivity ≥ {s}"));
                }
                parts.join(", ")
            }
            _ => match self.threshold() {
                Some(t) => format!("{}: {}", self.form(), t.describe()),
                None => self.form(),
            },
        }
    }
}

/// The verdict on one assertion, with its report.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Whether the model met the expectation.
    pub passed: bool,
    /// The best observed strength (see [`Threshold::strength`]), when there is one.
    pub observed: Option<f64>,
    /// The unit(s) behind `observed`.
    pub units: Vec<String>,
    /// What was found, in the failure-report layout (also for a pass).
    pub report: Report,
}

/// Where an assertion's hypothesis comes from.
enum Source {
    Ready(Box<dyn Hypothesis>),
    Builtin(Vec<String>),
}

/// An assertion on a layer: the builder behind `#[neural_assert]`, usable
/// directly from Rust.
///
/// Paths are used as given (relative paths resolve against the current
/// directory, which `cargo test` sets to the crate root).
pub struct Assertion {
    card: PathBuf,
    origin: Origin,
    layer: Option<String>,
    corpus: Option<(PathBuf, Option<usize>)>,
    sequences: Option<usize>,
    hypothesis: Option<Source>,
    expectation: Option<Expectation>,
    seed: Option<u64>,
    verify: Option<Verify>,
    verify_settings: VerifySettings,
}

impl std::fmt::Debug for Assertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assertion")
            .field("card", &self.card)
            .field("layer", &self.layer)
            .field("corpus", &self.corpus)
            .field("expectation", &self.expectation)
            .finish()
    }
}

impl Assertion {
    /// An assertion on the model described by this card (or `.onnx` file
    /// with its card beside it).
    pub fn new(model_card: impl AsRef<Path>) -> Self {
        Assertion {
            card: model_card.as_ref().to_path_buf(),
            origin: Origin::Unknown,
            layer: None,
            corpus: None,
            sequences: None,
            hypothesis: None,
            expectation: None,
            seed: None,
            verify: None,
            verify_settings: VerifySettings::default(),
        }
    }

    /// Where the assertion is written: `file!()`, `line!()`,
    /// `module_path!()` and the test's name.
    pub fn at(mut self, file: &str, line: u32, module: &str, test: &str) -> Self {
        self.origin = Origin::Source {
            file: file.to_string(),
            line,
            module: module.to_string(),
            test: test.to_string(),
        };
        self
    }

    /// Sets where the assertion comes from (a spec uses this).
    pub fn origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }

    /// The layer, by tensor name or the card's alias.
    pub fn layer(mut self, layer: &str) -> Self {
        self.layer = Some(layer.to_string());
        self
    }

    /// The corpus: one sequence per line, or windows of `window` characters.
    pub fn corpus(mut self, path: impl AsRef<Path>, window: Option<usize>) -> Self {
        self.corpus = Some((path.as_ref().to_path_buf(), window));
        self
    }

    /// Uses only the first `n` sequences of the corpus (for fast tests).
    pub fn sequences(mut self, n: usize) -> Self {
        self.sequences = Some(n);
        self
    }

    /// The hypothesis is a function of the sequence (one value per character).
    pub fn hypothesis_fn<K, F>(mut self, name: &str, kind: K, f: F) -> Self
    where
        K: Into<HypothesisKind>,
        F: Fn(&[char]) -> Vec<f32> + Send + Sync + 'static,
    {
        self.hypothesis = Some(Source::Ready(Box::new(from_fn(name, kind.into(), f))));
        self
    }

    /// The hypothesis is one of Luigi's built-ins, by name and arguments
    /// (see [`builtin::builtin`]): `&["comment"]`, `&["depth", "("]`,
    /// `&["keyword", "return"]`, `&["fsm", "automata/x.yaml"]`.
    pub fn hypothesis_builtin(mut self, args: &[&str]) -> Self {
        self.hypothesis = Some(Source::Builtin(
            args.iter().map(|s| s.to_string()).collect(),
        ));
        self
    }

    /// The hypothesis is a boxed [`Hypothesis`] (it carries its name and kind).
    pub fn hypothesis_boxed(mut self, h: Box<dyn Hypothesis>) -> Self {
        self.hypothesis = Some(Source::Ready(h));
        self
    }

    /// The hypothesis is any [`Hypothesis`] value.
    pub fn hypothesis<H: Hypothesis + 'static>(self, h: H) -> Self {
        self.hypothesis_boxed(Box::new(h))
    }

    /// What the layer must show.
    pub fn expect(mut self, e: impl Into<Expectation>) -> Self {
        self.expectation = Some(e.into());
        self
    }

    /// The seed of every random draw (read-out splits, shuffled baselines).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// After the threshold is met, verify the unit(s) that met it (see
    /// [`Verify`]): `some_unit`'s best unit, every unit of `units`; a unit
    /// that is not confirmed fails the assertion with its counterexamples.
    pub fn verify(mut self, mode: Verify) -> Self {
        self.verify = Some(mode);
        self
    }

    /// [`Assertion::verify`] with the intervention's settings (the
    /// response measured, samples, steps).
    pub fn verify_with(mut self, mode: Verify, settings: VerifySettings) -> Self {
        self.verify = Some(mode);
        self.verify_settings = settings;
        self
    }

    /// Runs the assertion. `Err` is a setup error (the model was never
    /// judged); `Ok` holds the verdict and the report.
    #[track_caller]
    pub fn check(self) -> Result<Outcome> {
        let caller = std::panic::Location::caller();
        let origin = match self.origin {
            Origin::Unknown => Origin::Source {
                file: caller.file().to_string(),
                line: caller.line(),
                module: String::new(),
                test: String::new(),
            },
            o => o,
        };
        let layer = self.layer.ok_or_else(|| {
            Error::invalid(
                "assertion",
                "no layer: call .layer(\"lstm\") (run `luigi layers MODEL` to list them)",
            )
        })?;
        let (corpus_path, window) = self.corpus.ok_or_else(|| {
            Error::invalid(
                "assertion",
                "no corpus: call .corpus(\"eval.txt\", None) (or Some(window) to cut windows)",
            )
        })?;
        let expectation = self.expectation.ok_or_else(|| {
            Error::invalid(
                "assertion",
                "no expectation: call .expect(Expectation::some_unit(..))",
            )
        })?;
        expectation.validate()?;
        let hypothesis = match self.hypothesis {
            Some(Source::Ready(h)) => h,
            Some(Source::Builtin(args)) => {
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                builtin::builtin(&refs, &current_dir())?
            }
            None => {
                return Err(Error::invalid(
                    "assertion",
                    "no hypothesis: call .hypothesis_fn(..), .hypothesis_builtin(..) or .hypothesis(..)",
                ))
            }
        };
        let seed = match self.seed {
            Some(s) => s,
            None => seed_from_env()?,
        };
        let model = load_model(&self.card)?;
        let corpus = load_corpus(&corpus_path, window, self.sequences)?;
        if self.verify.is_some() {
            verify::check_fits(&expectation)?;
        }
        self.verify_settings.check(self.verify)?;
        let subject = crate::subject::Subject::record(model, corpus, &layer)?;
        let outcome = judge::judge(
            &subject,
            hypothesis.as_ref(),
            &expectation,
            seed,
            origin.clone(),
        )?;
        let mut outcome = match self.verify {
            Some(mode) => verify::verify_outcome(
                &subject,
                hypothesis.as_ref(),
                mode,
                &self.verify_settings,
                seed,
                &origin,
                outcome,
            )?,
            None => outcome,
        };
        page::attach_page(&subject, hypothesis.as_ref(), &origin, None, &mut outcome);
        Ok(outcome)
    }

    /// Runs the assertion and panics unless it passes: a failure prints
    /// the report to stderr and panics with one line; a setup error panics
    /// saying it is one.
    #[track_caller]
    pub fn assert(self) {
        let what = match &self.origin {
            Origin::Source { test, .. } if !test.is_empty() => format!("`{test}`"),
            _ => "assertion".to_string(),
        };
        let threshold = self
            .expectation
            .as_ref()
            .and_then(|e| e.threshold().cloned());
        match self.check() {
            Ok(o) if o.passed => {
                // one line per passing assertion, to calibrate thresholds:
                // captured by the test harness (shown with --nocapture), or
                // written past the capture with LUIGI_VERBOSE=1
                let observed = o
                    .report
                    .section("observed")
                    .and_then(|s| s.lines().next())
                    .map(|s| format!(": {s}"))
                    .unwrap_or_default();
                let margin = match (o.observed, &threshold) {
                    (Some(v), Some(t)) => format!(" (margin {:+.3})", v - t.min.abs()),
                    _ => String::new(),
                };
                let line = format!("luigi: {what} passed{observed}{margin}");
                if std::env::var("LUIGI_VERBOSE").is_ok_and(|v| v == "1") {
                    use std::io::Write;
                    let _ = writeln!(std::io::stderr(), "{line}");
                } else {
                    println!("{line}");
                }
            }
            Ok(o) => {
                eprintln!("{}", o.report);
                panic!("neural {what}: {}", o.report.short());
            }
            Err(e) => panic!("luigi setup error in {what} (the model was not judged): {e}"),
        }
    }
}

fn current_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

/// The seed from `LUIGI_SEED`, or [`DEFAULT_SEED`].
pub fn seed_from_env() -> Result<u64> {
    match std::env::var("LUIGI_SEED") {
        Ok(v) if !v.trim().is_empty() => v.trim().parse::<u64>().map_err(|_| {
            Error::invalid(
                "LUIGI_SEED",
                format!("`{v}` is not a non-negative integer: unset it or write e.g. LUIGI_SEED=7"),
            )
        }),
        _ => Ok(DEFAULT_SEED),
    }
}
