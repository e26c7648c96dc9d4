//! From raw `key = value` entries to a validated [`Spec`]: every key once,
//! every value of the right shape and range, no contradictions. Errors carry
//! the span of the offending token and are collected, never returned early.
//!
//! This module owns the validated data model (what [`Spec`] holds) and the
//! key table; the work is split by concern:
//! - [`validate`]: collecting the entries into slots and the cross-key checks
//!   that turn them into a [`Spec`];
//! - [`values`]: parsing each key's value as written;
//! - [`messages`]: the text of diagnostics (unknown and missing keys, bare
//!   words, "did you mean" suggestions).

mod messages;
mod validate;
mod values;

use proc_macro2::Span;
use syn::{ExprCall, ExprPath, LitStr, Path};

pub(crate) use messages::{bare_word_hint, key_meant_by_bare_word};
pub(crate) use validate::build;

/// Every key, in the order the documentation gives them, with an example.
pub(crate) const KEYS: &[(&str, &str)] = &[
    ("model", "model = \"examples/cmodel/cmodel.luigi.yaml\""),
    ("layer", "layer = \"lstm\""),
    ("corpus", "corpus = \"examples/cmodel/eval.c\""),
    ("window", "window = 256"),
    ("hypothesis", "hypothesis = builtin(\"comment\")"),
    ("kind", "kind = \"binary\""),
    ("expect", "expect = some_unit"),
    ("metric", "metric = \"pearson\""),
    ("min", "min = 0.9"),
    ("max_q", "max_q = 0.01"),
    ("min_within_token", "min_within_token = 0.3"),
    ("min_accuracy", "min_accuracy = 0.99"),
    ("min_selectivity", "min_selectivity = 0.2"),
    ("seed", "seed = 7"),
    ("verify", "verify = perturb"),
    ("response", "response = \"class(digit)\""),
    ("samples", "samples = 32"),
    ("steps", "steps = 48"),
    ("crate", "crate = \"::luigi_test\""),
];

/// The forms of `expect`.
const EXPECT_FORMS: &str = "some_unit, units([53, 127]), at_most(3), probe or probe([53, 127])";
/// The metric names.
const METRICS: &str = "\"pearson\", \"spearman\", \"mi\", \"auc\", \"eta\"";

/// A validated `#[neural_assert(...)]`.
pub(crate) struct Spec {
    /// The facade crate's path (`::luigi_test` unless `crate = "..."`).
    pub(crate) krate: Path,
    /// Path of the model card as written.
    pub(crate) model: LitStr,
    /// Layer name or alias.
    pub(crate) layer: LitStr,
    /// Path of the corpus as written.
    pub(crate) corpus: LitStr,
    /// Window length in characters.
    pub(crate) window: Option<Int>,
    /// Where the hypothesis comes from.
    pub(crate) hypothesis: Hypothesis,
    /// The expectation.
    pub(crate) expect: Expect,
    /// Seed of the runtime's random draws.
    pub(crate) seed: Option<Int>,
    /// `verify = perturb | intervene | both`: verify the units that met
    /// the threshold.
    pub(crate) verify: Option<VerifyMode>,
    /// `response = "..."` of an intervention.
    pub(crate) response: Option<LitStr>,
    /// `samples = N` of an intervention.
    pub(crate) samples: Option<Int>,
    /// `steps = N` of an intervention.
    pub(crate) steps: Option<Int>,
}

/// The verification modes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum VerifyMode {
    Perturb,
    Intervene,
    Both,
}

/// Where the hypothesis comes from.
pub(crate) enum Hypothesis {
    /// The annotated function is the hypothesis.
    Item(Kind),
    /// `hypothesis = some::path`: a `fn(&[char]) -> Vec<f32>`.
    FnPath(ExprPath, Kind),
    /// `hypothesis = builtin("name", "arg", ...)`.
    Builtin(Vec<LitStr>),
    /// `hypothesis = make()`: an expression giving a `Box<dyn Hypothesis>`.
    Boxed(ExprCall),
}

/// The kind of a hypothesis given as a function.
pub(crate) enum Kind {
    /// Real values.
    Numeric,
    /// 0/1 values.
    Binary,
    /// State indices, with the states' names.
    Categorical(Vec<LitStr>),
}

/// What the test demands.
pub(crate) enum Expect {
    /// Some single unit meets the threshold.
    SomeUnit(Threshold),
    /// Each listed unit meets the threshold.
    Units(Vec<LitStr>, Threshold),
    /// Some set of at most `k` units, read together, meets the threshold.
    AtMost(Int, Threshold),
    /// A probe on the layer's units (or the listed ones) reads the hypothesis.
    Probe {
        /// The units, or all units of the layer.
        units: Option<Vec<LitStr>>,
        /// Least held-out accuracy.
        min_accuracy: Option<Float>,
        /// Least selectivity (accuracy over a control task's).
        min_selectivity: Option<Float>,
    },
}

/// A metric and its thresholds.
pub(crate) struct Threshold {
    /// The metric.
    pub(crate) metric: Metric,
    /// Least value of the metric.
    pub(crate) min: Float,
    /// Largest q-value.
    pub(crate) max_q: Option<Float>,
    /// Least within-token score (`some_unit` and `units`).
    pub(crate) min_within_token: Option<Float>,
}

/// A statistic of a (unit, hypothesis) pairing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Metric {
    /// Pearson correlation.
    Pearson,
    /// Spearman rank correlation.
    Spearman,
    /// Normalised mutual information.
    MutualInfo,
    /// ROC-AUC.
    Auc,
    /// Correlation ratio.
    Eta,
}

impl Metric {
    /// The runtime's variant name.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            Metric::Pearson => "Pearson",
            Metric::Spearman => "Spearman",
            Metric::MutualInfo => "MutualInfo",
            Metric::Auc => "Auc",
            Metric::Eta => "Eta",
        }
    }

    /// The name users write.
    fn name(self) -> &'static str {
        match self {
            Metric::Pearson => "pearson",
            Metric::Spearman => "spearman",
            Metric::MutualInfo => "mi",
            Metric::Auc => "auc",
            Metric::Eta => "eta",
        }
    }

    /// The values the metric can take.
    fn range(self) -> (f64, f64) {
        match self {
            Metric::Pearson | Metric::Spearman => (-1.0, 1.0),
            Metric::MutualInfo | Metric::Auc | Metric::Eta => (0.0, 1.0),
        }
    }

    /// Why the metric does not apply to a hypothesis of this kind, if it does not.
    fn mismatch(self, kind: &Kind) -> Option<&'static str> {
        match (self, kind) {
            (Metric::Pearson | Metric::Spearman, Kind::Categorical(_)) => Some(
                "correlation needs ordered values; for a categorical hypothesis use metric = \"eta\" or \"mi\"",
            ),
            (Metric::Auc, Kind::Numeric) | (Metric::Auc, Kind::Categorical(_)) => Some(
                "auc needs a binary hypothesis (kind = \"binary\")",
            ),
            (Metric::Eta, Kind::Numeric) | (Metric::Eta, Kind::Binary) => Some(
                "eta needs a categorical hypothesis (kind = categorical(...)); for a numeric or binary one use \"pearson\", \"spearman\", \"auc\" or \"mi\"",
            ),
            _ => None,
        }
    }
}

/// An integer and where it was written.
#[derive(Clone, Copy)]
pub(crate) struct Int {
    /// The value.
    pub(crate) value: u64,
    /// The literal's span.
    pub(crate) span: Span,
}

/// A number and where it was written.
#[derive(Clone)]
pub(crate) struct Float {
    /// The value.
    pub(crate) value: f64,
    /// The span of the literal (without its sign).
    pub(crate) span: Span,
    /// The tokens as written (with the sign), for errors.
    source: proc_macro2::TokenStream,
}
