//! From raw `key = value` entries to a validated [`Spec`]: every key once,
//! every value of the right shape and range, no contradictions. Errors carry
//! the span of the offending token and are collected, never returned early.

use proc_macro2::Span;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Expr, ExprCall, ExprPath, Ident, ItemFn, Lit, LitStr, Path, UnOp};

use crate::args::{Entry, Errors};

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

/// A value as given: absent, given but invalid (already reported), or valid.
enum Slot<T> {
    Absent,
    Invalid(Ident),
    Given(Ident, T),
}

impl<T> Slot<T> {
    fn key(&self) -> Option<&Ident> {
        match self {
            Slot::Absent => None,
            Slot::Invalid(k) | Slot::Given(k, _) => Some(k),
        }
    }
    fn is_absent(&self) -> bool {
        matches!(self, Slot::Absent)
    }
    fn value(self) -> Option<T> {
        match self {
            Slot::Given(_, v) => Some(v),
            _ => None,
        }
    }
    fn as_value(&self) -> Option<&T> {
        match self {
            Slot::Given(_, v) => Some(v),
            _ => None,
        }
    }
}

/// `hypothesis = ...` as written.
enum HypothesisArg {
    FnPath(ExprPath),
    Builtin(Vec<LitStr>),
    Boxed(ExprCall),
}

/// `expect = ...` as written.
enum ExpectArg {
    SomeUnit,
    Units(Vec<LitStr>),
    AtMost(Int),
    Probe(Option<Vec<LitStr>>),
}

/// Every key's value as given.
struct Slots {
    krate: Slot<Path>,
    model: Slot<LitStr>,
    layer: Slot<LitStr>,
    corpus: Slot<LitStr>,
    window: Slot<Int>,
    hypothesis: Slot<HypothesisArg>,
    kind: Slot<Kind>,
    expect: Slot<(ExpectArg, proc_macro2::TokenStream)>,
    metric: Slot<Metric>,
    min: Slot<Float>,
    max_q: Slot<Float>,
    min_within_token: Slot<Float>,
    min_accuracy: Slot<Float>,
    min_selectivity: Slot<Float>,
    seed: Slot<Int>,
    verify: Slot<VerifyMode>,
    response: Slot<LitStr>,
    samples: Slot<Int>,
    steps: Slot<Int>,
}

/// Validates the entries against the annotated function. Every problem is
/// reported to `errors`; the caller emits the spec only when there is none.
/// Returns `None` only after reporting at least one error.
pub(crate) fn build(
    entries: Vec<Entry>,
    func: Option<&ItemFn>,
    errors: &mut Errors,
) -> Option<Spec> {
    let mut s = Slots {
        krate: Slot::Absent,
        model: Slot::Absent,
        layer: Slot::Absent,
        corpus: Slot::Absent,
        window: Slot::Absent,
        hypothesis: Slot::Absent,
        kind: Slot::Absent,
        expect: Slot::Absent,
        metric: Slot::Absent,
        min: Slot::Absent,
        max_q: Slot::Absent,
        min_within_token: Slot::Absent,
        min_accuracy: Slot::Absent,
        min_selectivity: Slot::Absent,
        seed: Slot::Absent,
        verify: Slot::Absent,
        response: Slot::Absent,
        samples: Slot::Absent,
        steps: Slot::Absent,
    };
    // Keys that are not missing though they have no valid value: malformed
    // values (reported), bare words such as `some_unit` (reported as
    // `expect = some_unit`), misspellings such as `modle` (reported as such).
    let mut not_missing: Vec<Ident> = Vec::new();
    for Entry { key, value } in entries {
        let name = key.to_string();
        let name = name.strip_prefix("r#").unwrap_or(&name);
        let Some(value) = value.map(ungroup) else {
            not_missing.push(key);
            continue;
        };
        match name {
            "crate" => fill(&mut s.krate, key, &value, errors, crate_path),
            "model" => fill(&mut s.model, key, &value, errors, path_string),
            "layer" => fill(&mut s.layer, key, &value, errors, string),
            "corpus" => fill(&mut s.corpus, key, &value, errors, path_string),
            "window" => fill(&mut s.window, key, &value, errors, window),
            "hypothesis" => fill(&mut s.hypothesis, key, &value, errors, hypothesis),
            "kind" => fill(&mut s.kind, key, &value, errors, kind),
            "expect" => match (s.expect.as_value(), expect(&key, &value)) {
                (Some((first, _)), Ok((again, _))) => errors.spanned(
                    &value,
                    format!(
                        "duplicate key `expect`: a test makes one expectation (`{}` here, `{}` \
                         before); write a second #[neural_assert] function for a second one",
                        expect_name(&again),
                        expect_name(first)
                    ),
                ),
                _ => fill(&mut s.expect, key, &value, errors, expect),
            },
            "metric" => fill(&mut s.metric, key, &value, errors, metric),
            "min" => fill(&mut s.min, key, &value, errors, float),
            "max_q" => fill(&mut s.max_q, key, &value, errors, |k, v| {
                unit_interval(k, v, false)
            }),
            "min_within_token" => fill(&mut s.min_within_token, key, &value, errors, |k, v| {
                unit_interval(k, v, true)
            }),
            "min_accuracy" => fill(&mut s.min_accuracy, key, &value, errors, |k, v| {
                unit_interval(k, v, true)
            }),
            "min_selectivity" => fill(&mut s.min_selectivity, key, &value, errors, |k, v| {
                unit_interval(k, v, true)
            }),
            "seed" => fill(&mut s.seed, key, &value, errors, |k, v| int(k, v, 0)),
            "verify" => fill(&mut s.verify, key, &value, errors, verify_mode),
            "response" => fill(&mut s.response, key, &value, errors, string),
            "samples" => fill(&mut s.samples, key, &value, errors, |k, v| int(k, v, 2)),
            "steps" => fill(&mut s.steps, key, &value, errors, |k, v| int(k, v, 1)),
            other => {
                if let Some(meant) = nearest(other, &key_names()) {
                    not_missing.push(Ident::new(meant, key.span()));
                }
                errors.at(key.span(), unknown_key(other));
            }
        }
    }
    for key in not_missing {
        let name = key.to_string();
        s.mark_invalid(name.strip_prefix("r#").unwrap_or(&name), key);
    }
    let spec = check(s, func, errors);
    if spec.is_none() && errors.is_empty() {
        // `check` reports whenever it gives up; keep that promise even if it did not.
        errors.at(Span::call_site(), "invalid #[neural_assert] arguments");
    }
    spec
}

impl Slots {
    /// Marks an absent key as given but invalid (its error is reported elsewhere).
    fn mark_invalid(&mut self, name: &str, key: Ident) {
        fn mark<T>(slot: &mut Slot<T>, key: Ident) {
            if slot.is_absent() {
                *slot = Slot::Invalid(key);
            }
        }
        match name {
            "crate" => mark(&mut self.krate, key),
            "model" => mark(&mut self.model, key),
            "layer" => mark(&mut self.layer, key),
            "corpus" => mark(&mut self.corpus, key),
            "window" => mark(&mut self.window, key),
            "hypothesis" => mark(&mut self.hypothesis, key),
            "kind" => mark(&mut self.kind, key),
            "expect" => mark(&mut self.expect, key),
            "metric" => mark(&mut self.metric, key),
            "min" => mark(&mut self.min, key),
            "max_q" => mark(&mut self.max_q, key),
            "min_within_token" => mark(&mut self.min_within_token, key),
            "min_accuracy" => mark(&mut self.min_accuracy, key),
            "min_selectivity" => mark(&mut self.min_selectivity, key),
            "seed" => mark(&mut self.seed, key),
            "verify" => mark(&mut self.verify, key),
            "response" => mark(&mut self.response, key),
            "samples" => mark(&mut self.samples, key),
            "steps" => mark(&mut self.steps, key),
            _ => {}
        }
    }
}

/// Stores a key's parsed value, reporting duplicates and parse errors.
fn fill<T>(
    slot: &mut Slot<T>,
    key: Ident,
    value: &Expr,
    errors: &mut Errors,
    parse: impl FnOnce(&Ident, &Expr) -> syn::Result<T>,
) {
    if !slot.is_absent() {
        errors.at(
            key.span(),
            format!("duplicate key `{key}`: give each key once"),
        );
        return;
    }
    *slot = match parse(&key, value) {
        Ok(v) => Slot::Given(key, v),
        Err(e) => {
            errors.push(e);
            Slot::Invalid(key)
        }
    };
}

/// Cross-key checks: required keys, contradictions, ranges that depend on
/// another key, the function's signature.
fn check(s: Slots, func: Option<&ItemFn>, errors: &mut Errors) -> Option<Spec> {
    for (absent, name) in [
        (s.model.is_absent(), "model"),
        (s.layer.is_absent(), "layer"),
        (s.corpus.is_absent(), "corpus"),
        (s.expect.is_absent(), "expect"),
    ] {
        if absent {
            errors.at(Span::call_site(), missing_key(name));
        }
    }

    // The hypothesis, the function's shape, and the kind.
    let hypothesis = match (s.hypothesis, func) {
        (Slot::Invalid(_), _) | (Slot::Absent, None) => None,
        (Slot::Absent, Some(f)) => {
            check_hypothesis_fn(f, errors);
            Some(Source::Item)
        }
        (Slot::Given(_, arg), f) => {
            if let Some(f) = f {
                check_test_fn(f, errors);
            }
            Some(Source::Arg(arg))
        }
    };
    let kind_applies = !matches!(
        hypothesis,
        Some(Source::Arg(
            HypothesisArg::Builtin(_) | HypothesisArg::Boxed(_)
        ))
    );
    if let (false, Some(key)) = (kind_applies, s.kind.key()) {
        errors.at(
            key.span(),
            "`kind` applies only to a hypothesis given as a function (the annotated fn or \
             `hypothesis = path::to::fn`); builtin(..) and boxed hypotheses carry their own kind",
        );
    }
    let kind = match s.kind {
        Slot::Absent => Some(Kind::Numeric),
        Slot::Invalid(_) => None,
        Slot::Given(_, k) => Some(k),
    };

    // The expectation and the keys that go with it.
    let threshold_keys = [
        s.metric.key(),
        s.min.key(),
        s.max_q.key(),
        s.min_within_token.key(),
    ];
    let probe_keys = [s.min_accuracy.key(), s.min_selectivity.key()];
    match s.expect.as_value() {
        Some((ExpectArg::Probe(_), _)) => {
            for key in threshold_keys.into_iter().flatten() {
                errors.at(
                    key.span(),
                    format!(
                        "`{key}` does not apply to expect = probe, which takes `min_accuracy` \
                         and `min_selectivity`"
                    ),
                );
            }
        }
        Some((arg, span)) => {
            for key in probe_keys.into_iter().flatten() {
                errors.at(
                    key.span(),
                    format!(
                        "`{key}` applies only to expect = probe; with a metric the threshold \
                         is `min` (and `max_q`)"
                    ),
                );
            }
            let name = expect_name(arg);
            if s.metric.is_absent() {
                errors.spanned(
                    span,
                    format!("expect = {name} needs `metric = ...`, one of {METRICS}"),
                );
            }
            if s.min.is_absent() {
                errors.spanned(
                    span,
                    format!("expect = {name} needs `min = ...`, the least value of the metric"),
                );
            }
        }
        None => {}
    }
    let kind_known = matches!(
        hypothesis,
        Some(Source::Item | Source::Arg(HypothesisArg::FnPath(_)))
    );
    if let (Some(m), Some(kind), true, Some(key)) =
        (s.metric.as_value(), &kind, kind_known, s.metric.key())
    {
        if let Some(why) = m.mismatch(kind) {
            errors.at(
                key.span(),
                format!(
                    "metric \"{}\" does not fit this hypothesis: {why}",
                    m.name()
                ),
            );
        }
    }
    if let (Some(m), Some(v)) = (s.metric.as_value(), s.min.as_value()) {
        let (lo, hi) = m.range();
        if !(lo..=hi).contains(&v.value) {
            errors.spanned(
                &v.source,
                format!(
                    "min = {} is outside the range of \"{}\", which is [{lo}, {hi}]",
                    v.value,
                    m.name()
                ),
            );
        }
    }
    let no_probe_threshold = s.min_accuracy.is_absent() && s.min_selectivity.is_absent();
    let min_accuracy = s.min_accuracy.value();
    let min_selectivity = s.min_selectivity.value();
    let expect = match s.expect.value()? {
        (ExpectArg::Probe(units), span) => {
            if no_probe_threshold {
                errors.spanned(
                    span,
                    "expect = probe needs `min_accuracy = ...`, `min_selectivity = ...` or both",
                );
            }
            Expect::Probe {
                units,
                min_accuracy,
                min_selectivity,
            }
        }
        (arg, _) => {
            if let (ExpectArg::AtMost(_), Some(key)) = (&arg, s.min_within_token.key()) {
                errors.at(
                    key.span(),
                    "`min_within_token` applies to some_unit and units; a read-out of several \
                     units (at_most) has no within-token score",
                );
                return None;
            }
            let threshold = Threshold {
                metric: s.metric.value()?,
                min: s.min.value()?,
                max_q: s.max_q.value(),
                min_within_token: s.min_within_token.value(),
            };
            match arg {
                ExpectArg::SomeUnit => Expect::SomeUnit(threshold),
                ExpectArg::Units(units) => Expect::Units(units, threshold),
                ExpectArg::AtMost(k) => Expect::AtMost(k, threshold),
                ExpectArg::Probe(_) => return None,
            }
        }
    };

    let verify_key = s.verify.key().cloned();
    let verify = s.verify.value();
    let intervenes = matches!(verify, Some(VerifyMode::Intervene | VerifyMode::Both));
    for key in [s.response.key(), s.samples.key(), s.steps.key()]
        .into_iter()
        .flatten()
    {
        if !intervenes {
            errors.at(
                key.span(),
                format!(
                    "`{key}` sets how `verify = intervene` (or `both`) samples; add `verify = \
                     intervene`, or remove `{key}`"
                ),
            );
            return None;
        }
    }
    if verify.is_some() && matches!(expect, Expect::AtMost(..) | Expect::Probe { .. }) {
        if let Some(key) = verify_key {
            errors.at(
                key.span(),
                "`verify` applies to `expect = some_unit` and `expect = units([..])`; with \
                 `at_most` or `probe` it is not built yet",
            );
        }
        return None;
    }
    let hypothesis = match hypothesis? {
        Source::Item => Hypothesis::Item(kind?),
        Source::Arg(HypothesisArg::FnPath(p)) => Hypothesis::FnPath(p, kind?),
        Source::Arg(HypothesisArg::Builtin(args)) => Hypothesis::Builtin(args),
        Source::Arg(HypothesisArg::Boxed(call)) => Hypothesis::Boxed(call),
    };
    Some(Spec {
        krate: s
            .krate
            .value()
            .unwrap_or_else(|| syn::parse_quote!(::luigi_test)),
        model: s.model.value()?,
        layer: s.layer.value()?,
        corpus: s.corpus.value()?,
        window: s.window.value(),
        hypothesis,
        expect,
        seed: s.seed.value(),
        verify,
        response: s.response.value(),
        samples: s.samples.value(),
        steps: s.steps.value(),
    })
}

/// `verify = perturb | intervene | both`.
fn verify_mode(_key: &Ident, value: &Expr) -> syn::Result<VerifyMode> {
    match value {
        Expr::Path(p) if p.path.is_ident("perturb") => Ok(VerifyMode::Perturb),
        Expr::Path(p) if p.path.is_ident("intervene") => Ok(VerifyMode::Intervene),
        Expr::Path(p) if p.path.is_ident("both") => Ok(VerifyMode::Both),
        other => Err(syn::Error::new_spanned(
            other,
            "`verify` takes `perturb` (the unit follows edits that change only the \
             hypothesis), `intervene` (holding the unit makes the model write the hypothesis) \
             or `both`",
        )),
    }
}

/// The hypothesis as given, or the annotated function.
enum Source {
    Item,
    Arg(HypothesisArg),
}

/// The annotated function is the hypothesis: one argument, a return value.
fn check_hypothesis_fn(f: &ItemFn, errors: &mut Errors) {
    check_any_fn(f, errors);
    let shape = "without `hypothesis = ...` the function is the hypothesis: \
                 `fn name(seq: &[char]) -> Vec<f32>`, one value per character; \
                 for a built-in hypothesis write `hypothesis = builtin(\"name\")`";
    match (f.sig.inputs.first(), f.sig.inputs.len()) {
        (None, _) => errors.at(f.sig.paren_token.span.join(), shape),
        (Some(syn::FnArg::Receiver(r)), _) => errors.spanned(r, shape),
        (_, 2..) => errors.spanned(&f.sig.inputs, shape),
        _ if matches!(f.sig.output, syn::ReturnType::Default) => {
            errors.at(f.sig.ident.span(), shape)
        }
        _ => {}
    }
}

/// The annotated function is the test itself: no arguments.
fn check_test_fn(f: &ItemFn, errors: &mut Errors) {
    check_any_fn(f, errors);
    if !f.sig.inputs.is_empty() {
        errors.spanned(
            &f.sig.inputs,
            "with `hypothesis = ...` the function is the test: it takes no arguments, \
             and its body runs after the assertion passes",
        );
    }
}

/// What no annotated function may have.
fn check_any_fn(f: &ItemFn, errors: &mut Errors) {
    if let Some(a) = &f.sig.asyncness {
        errors.spanned(a, "#[neural_assert] functions cannot be `async`");
    }
    for p in &f.sig.generics.params {
        if !matches!(p, syn::GenericParam::Lifetime(_)) {
            errors.spanned(p, "#[neural_assert] functions cannot be generic");
        }
    }
    if let Some(v) = &f.sig.variadic {
        errors.spanned(v, "#[neural_assert] functions cannot be variadic");
    }
    for a in &f.attrs {
        let last = a.path().segments.last().map(|s| s.ident.to_string());
        match last.as_deref() {
            Some("test") => errors.spanned(
                a,
                "remove this test attribute: #[neural_assert] already makes the function a test",
            ),
            Some("neural_assert") => errors.spanned(
                a,
                "one #[neural_assert] per function: write a second function for a second expectation",
            ),
            _ => {}
        }
    }
}

/// Strips invisible groups that `macro_rules!` puts around `$e:expr`.
fn ungroup(mut e: Expr) -> Expr {
    while let Expr::Group(g) = e {
        e = *g.expr;
    }
    e
}

/// A string literal.
fn string(key: &Ident, value: &Expr) -> syn::Result<LitStr> {
    match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => {
            if s.value().trim().is_empty() {
                Err(syn::Error::new(
                    s.span(),
                    format!("`{key}` cannot be empty: {}", example(key)),
                ))
            } else {
                Ok(s.clone())
            }
        }
        Expr::Path(p) if p.path.get_ident().is_some() => Err(syn::Error::new_spanned(
            value,
            format!(
                "`{key}` takes a string: write `{key} = \"{}\"`",
                quote::quote!(#p)
            ),
        )),
        _ => Err(syn::Error::new_spanned(
            value,
            format!("`{key}` takes a string, e.g. `{}`", example(key)),
        )),
    }
}

/// A path relative to the crate root (or absolute).
fn path_string(key: &Ident, value: &Expr) -> syn::Result<LitStr> {
    let s = string(key, value)?;
    if s.value().contains('\0') {
        return Err(syn::Error::new(
            s.span(),
            format!("`{key}` contains a NUL character"),
        ));
    }
    Ok(s)
}

/// `crate = "::path"`.
fn crate_path(key: &Ident, value: &Expr) -> syn::Result<Path> {
    let s = string(key, value)?;
    s.parse::<Path>().map_err(|_| {
        syn::Error::new(
            s.span(),
            format!(
                "`crate` takes the path of the Luigi facade crate as a string, e.g. `crate = \"::luigi_test\"`; \"{}\" is not a path",
                s.value()
            ),
        )
    })
}

/// An unsigned integer literal of at least `least`.
fn int(key: &Ident, value: &Expr, least: u64) -> syn::Result<Int> {
    let wrong = || {
        syn::Error::new_spanned(
            value,
            format!("`{key}` takes a whole number, e.g. `{}`", example(key)),
        )
    };
    let Expr::Lit(syn::ExprLit {
        lit: Lit::Int(i), ..
    }) = value
    else {
        return Err(wrong());
    };
    let v: u64 = i.base10_parse().map_err(|_| wrong())?;
    if v < least {
        return Err(syn::Error::new(
            i.span(),
            format!("`{key}` must be at least {least}"),
        ));
    }
    Ok(Int {
        value: v,
        span: i.span(),
    })
}

/// `window = N`, N ≥ 1 and a `usize` on any target.
fn window(key: &Ident, value: &Expr) -> syn::Result<Int> {
    let w = int(key, value, 1)?;
    if w.value > u64::from(u32::MAX) {
        return Err(syn::Error::new(
            w.span,
            format!(
                "`window = {}` is too long a window (characters per window)",
                w.value
            ),
        ));
    }
    Ok(w)
}

/// A number literal (integer or float, optionally negative).
fn float(key: &Ident, value: &Expr) -> syn::Result<Float> {
    let wrong = || {
        syn::Error::new_spanned(
            value,
            format!("`{key}` takes a number, e.g. `{}`", example(key)),
        )
    };
    let (negative, lit) = match value {
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => (true, ungroup((*u.expr).clone())),
        other => (false, other.clone()),
    };
    let (v, span): (f64, Span) = match &lit {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(f), ..
        }) => (f.base10_parse().map_err(|_| wrong())?, f.span()),
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(i), ..
        }) => (i.base10_parse().map_err(|_| wrong())?, i.span()),
        _ => return Err(wrong()),
    };
    if !v.is_finite() {
        return Err(wrong());
    }
    Ok(Float {
        value: if negative { -v } else { v },
        span,
        source: value.to_token_stream(),
    })
}

/// A number in [0, 1] (`closed`) or (0, 1].
fn unit_interval(key: &Ident, value: &Expr, closed: bool) -> syn::Result<Float> {
    let f = float(key, value)?;
    let inside = if closed {
        (0.0..=1.0).contains(&f.value)
    } else {
        f.value > 0.0 && f.value <= 1.0
    };
    if !inside {
        let range = if closed { "[0, 1]" } else { "(0, 1]" };
        return Err(syn::Error::new_spanned(
            &f.source,
            format!("{key} = {} is outside {range}", f.value),
        ));
    }
    Ok(f)
}

/// `metric = "pearson"`.
fn metric(key: &Ident, value: &Expr) -> syn::Result<Metric> {
    let s = string(key, value).map_err(|_| {
        let hint = match value {
            Expr::Path(p) if p.path.get_ident().is_some() => {
                format!("; write `metric = \"{}\"`", quote::quote!(#p))
            }
            _ => String::new(),
        };
        syn::Error::new_spanned(value, format!("`metric` takes one of {METRICS}{hint}"))
    })?;
    match s.value().as_str() {
        "pearson" => Ok(Metric::Pearson),
        "spearman" => Ok(Metric::Spearman),
        "mi" | "mutual_info" => Ok(Metric::MutualInfo),
        "auc" => Ok(Metric::Auc),
        "eta" => Ok(Metric::Eta),
        other => Err(syn::Error::new(
            s.span(),
            format!(
                "unknown metric \"{other}\"{}; the metrics are {METRICS}",
                suggest(other, &["pearson", "spearman", "mi", "auc", "eta"])
            ),
        )),
    }
}

/// `kind = "numeric" | "binary" | categorical("s0", "s1", ...)`.
fn kind(key: &Ident, value: &Expr) -> syn::Result<Kind> {
    let forms = "\"numeric\", \"binary\" or categorical(\"state\", \"state\", ...)";
    match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => match s.value().as_str() {
            "numeric" => Ok(Kind::Numeric),
            "binary" => Ok(Kind::Binary),
            "categorical" => Err(syn::Error::new(
                s.span(),
                "a categorical kind names its states: `kind = categorical(\"closed\", \"open\")`",
            )),
            other => Err(syn::Error::new(
                s.span(),
                format!("unknown kind \"{other}\"; `kind` takes {forms}"),
            )),
        },
        Expr::Call(c) if callee_is(c, "categorical") => {
            let states = string_args(&c.args, "a categorical kind's states")?;
            if states.len() < 2 {
                return Err(syn::Error::new_spanned(
                    c,
                    "a categorical hypothesis has at least two states: `kind = categorical(\"closed\", \"open\")`",
                ));
            }
            no_duplicates(&states, "state")?;
            Ok(Kind::Categorical(states))
        }
        Expr::Path(p) if p.path.is_ident("numeric") || p.path.is_ident("binary") => {
            Err(syn::Error::new_spanned(
                value,
                format!(
                    "`{key}` takes a string: write `kind = \"{}\"`",
                    quote::quote!(#p)
                ),
            ))
        }
        _ => Err(syn::Error::new_spanned(
            value,
            format!("`kind` takes {forms}"),
        )),
    }
}

/// `hypothesis = builtin(..) | path | call()`.
fn hypothesis(_key: &Ident, value: &Expr) -> syn::Result<HypothesisArg> {
    match value {
        Expr::Call(c) if callee_is(c, "builtin") => {
            if c.args.is_empty() {
                return Err(syn::Error::new_spanned(
                    c,
                    "builtin(..) names the built-in hypothesis: `hypothesis = builtin(\"comment\")`",
                ));
            }
            Ok(HypothesisArg::Builtin(string_args(&c.args, "builtin(..)'s arguments")?))
        }
        Expr::Call(c) if matches!(&*c.func, Expr::Path(_)) => Ok(HypothesisArg::Boxed(c.clone())),
        Expr::Path(p) if p.path.is_ident("builtin") => Err(syn::Error::new_spanned(
            p,
            "builtin(..) names the built-in hypothesis: `hypothesis = builtin(\"comment\")`",
        )),
        Expr::Path(p) => Ok(HypothesisArg::FnPath(p.clone())),
        Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => Err(syn::Error::new(
            s.span(),
            format!(
                "a built-in hypothesis is written `hypothesis = builtin({})`",
                quote::quote!(#s)
            ),
        )),
        _ => Err(syn::Error::new_spanned(
            value,
            "`hypothesis` takes builtin(\"name\", \"arg\", ...), the path of a `fn(&[char]) -> Vec<f32>`, \
             or a call giving a `Box<dyn Hypothesis>` such as `my_mod::depth()`",
        )),
    }
}

/// `expect = some_unit | units([..]) | at_most(k) | probe | probe([..])`.
fn expect(_key: &Ident, value: &Expr) -> syn::Result<(ExpectArg, proc_macro2::TokenStream)> {
    let unknown = |what: &dyn quote::ToTokens, name: &str| {
        let hint = suggest(name, &["some_unit", "units", "at_most", "probe"]);
        syn::Error::new_spanned(
            what,
            format!("unknown expectation `{name}`{hint}; `expect` takes {EXPECT_FORMS}"),
        )
    };
    let arg = match value {
        Expr::Path(p) if p.path.is_ident("some_unit") => ExpectArg::SomeUnit,
        Expr::Path(p) if p.path.is_ident("probe") => ExpectArg::Probe(None),
        Expr::Path(p) if p.path.is_ident("units") => {
            return Err(syn::Error::new_spanned(
                value,
                "`units` lists the units: `expect = units([53, 127])`",
            ))
        }
        Expr::Path(p) if p.path.is_ident("at_most") => {
            return Err(syn::Error::new_spanned(
                value,
                "`at_most` gives the largest number of units: `expect = at_most(3)`",
            ))
        }
        Expr::Call(c) if callee_is(c, "units") => ExpectArg::Units(unit_list(c, "units")?),
        Expr::Call(c) if callee_is(c, "probe") => ExpectArg::Probe(Some(unit_list(c, "probe")?)),
        Expr::Call(c) if callee_is(c, "some_unit") => return Err(syn::Error::new_spanned(
            c,
            "`some_unit` takes no arguments; to name the units write `expect = units([53, 127])`",
        )),
        Expr::Call(c) if callee_is(c, "at_most") => {
            let [k] = c.args.iter().collect::<Vec<_>>()[..] else {
                return Err(syn::Error::new_spanned(
                    c,
                    "`at_most` takes one whole number: `expect = at_most(3)`",
                ));
            };
            let k = ungroup(k.clone());
            match int(&Ident::new("at_most", c.span()), &k, 1) {
                Ok(k) => ExpectArg::AtMost(k),
                Err(_) => return Err(syn::Error::new_spanned(
                    &k,
                    "`at_most` takes a whole number of units, at least 1: `expect = at_most(3)`",
                )),
            }
        }
        Expr::Path(p) => {
            let name = quote::quote!(#p).to_string().replace(' ', "");
            return Err(unknown(p, &name));
        }
        Expr::Call(c) => {
            let f = &c.func;
            let name = quote::quote!(#f).to_string().replace(' ', "");
            return Err(unknown(f, &name));
        }
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => {
            return Err(syn::Error::new(
                s.span(),
                format!(
                    "`expect` takes a form, not a string: write `expect = {}` ({EXPECT_FORMS})",
                    s.value()
                ),
            ))
        }
        _ => {
            return Err(syn::Error::new_spanned(
                value,
                format!("`expect` takes {EXPECT_FORMS}"),
            ))
        }
    };
    Ok((arg, value.to_token_stream()))
}

/// The name of an expectation form, for messages.
fn expect_name(e: &ExpectArg) -> &'static str {
    match e {
        ExpectArg::SomeUnit => "some_unit",
        ExpectArg::Units(_) => "units(..)",
        ExpectArg::AtMost(_) => "at_most(..)",
        ExpectArg::Probe(_) => "probe",
    }
}

/// `units([53, "u7", ...])`: one bracketed list of unit indices or names.
fn unit_list(c: &ExprCall, form: &str) -> syn::Result<Vec<LitStr>> {
    let shape = format!("`{form}` takes one list of units in brackets: `{form}([53, 127])`");
    let [arg] = c.args.iter().collect::<Vec<_>>()[..] else {
        return Err(syn::Error::new_spanned(c, shape));
    };
    let Expr::Array(list) = ungroup(arg.clone()) else {
        return Err(syn::Error::new_spanned(arg, shape));
    };
    if list.elems.is_empty() {
        return Err(syn::Error::new_spanned(
            &list,
            format!("`{form}([])` names no unit: list at least one, e.g. `{form}([53])`"),
        ));
    }
    let mut units = Vec::new();
    let mut errors = Errors::default();
    for e in &list.elems {
        match ungroup(e.clone()) {
            Expr::Lit(syn::ExprLit { lit: Lit::Int(i), .. }) => match i.base10_parse::<u64>() {
                Ok(v) => units.push(LitStr::new(&v.to_string(), i.span())),
                Err(err) => errors.push(err),
            },
            Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) if !s.value().trim().is_empty() => {
                units.push(s)
            }
            _ => errors.spanned(
                e,
                "a unit is its index on the layer (`53`) or its name as the model card gives it (`\"53\"`)",
            ),
        }
    }
    if let Some(e) = errors.into_error() {
        return Err(e);
    }
    no_duplicates(&units, "unit")?;
    Ok(units)
}

/// Every argument a non-empty string literal.
fn string_args(
    args: &syn::punctuated::Punctuated<Expr, syn::Token![,]>,
    what: &str,
) -> syn::Result<Vec<LitStr>> {
    let mut out = Vec::new();
    let mut errors = Errors::default();
    for a in args {
        match ungroup(a.clone()) {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) if !s.value().is_empty() => out.push(s),
            _ => errors.spanned(a, format!("{what} are non-empty strings")),
        }
    }
    match errors.into_error() {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// No value listed twice.
fn no_duplicates(items: &[LitStr], what: &str) -> syn::Result<()> {
    for (i, s) in items.iter().enumerate() {
        if items[..i].iter().any(|t| t.value() == s.value()) {
            return Err(syn::Error::new(
                s.span(),
                format!("{what} \"{}\" is listed twice", s.value()),
            ));
        }
    }
    Ok(())
}

/// Whether `c` calls the single identifier `name`.
fn callee_is(c: &ExprCall, name: &str) -> bool {
    matches!(&*c.func, Expr::Path(p) if p.qself.is_none() && p.path.is_ident(name))
}

/// The example of a key.
fn example(key: &Ident) -> &'static str {
    let name = key.to_string();
    KEYS.iter()
        .find(|(k, _)| *k == name)
        .map(|(_, e)| *e)
        .unwrap_or("key = value")
}

/// The list of valid keys, for messages.
fn valid_keys() -> String {
    key_names().join(", ")
}

/// The message for an unknown key.
fn unknown_key(name: &str) -> String {
    let hint = match name {
        "some_unit" | "units" | "at_most" | "probe" => format!(
            "; `{name}` is a form of `expect`: write `expect = {}`",
            match name {
                "units" => "units([53, 127])",
                "at_most" => "at_most(3)",
                other => other,
            }
        ),
        "builtin" => "; write `hypothesis = builtin(\"name\")`".to_string(),
        "threshold" | "min_score" => "; the threshold is `min = ...`".to_string(),
        _ => suggest(name, &key_names()),
    };
    format!("unknown key `{name}`{hint}; valid keys: {}", valid_keys())
}

/// The message for a missing required key.
fn missing_key(name: &str) -> String {
    let what = match name {
        "model" => "the model card, relative to the crate root",
        "layer" => "the layer whose units are scored",
        "corpus" => "the input text, relative to the crate root",
        _ => "what the model must show",
    };
    let example = KEYS
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, e)| *e)
        .unwrap_or("");
    format!("missing key `{name}` ({what}), e.g. `{example}`")
}

/// The key a word written without `= value` stands for, if it is a value
/// form (`some_unit` stands for `expect = some_unit`).
pub(crate) fn key_meant_by_bare_word(word: &Ident) -> Option<&'static str> {
    match word.to_string().as_str() {
        "some_unit" | "probe" | "units" | "at_most" => Some("expect"),
        "builtin" => Some("hypothesis"),
        _ => None,
    }
}

/// A hint for a word written without `= value`.
pub(crate) fn bare_word_hint(word: &Ident) -> String {
    match word.to_string().as_str() {
        w @ ("some_unit" | "probe") => format!(": write `expect = {w}`"),
        "units" => ": write `expect = units([53, 127])`".to_string(),
        "at_most" => ": write `expect = at_most(3)`".to_string(),
        "builtin" => ": write `hypothesis = builtin(\"name\")`".to_string(),
        w if KEYS.iter().any(|(k, _)| *k == w) => {
            format!(", e.g. `{}`", example(word))
        }
        _ => format!("; valid keys: {}", valid_keys()),
    }
}

/// The candidate closest to `word`, if close enough to be a misspelling.
fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .min_by_key(|(d, _)| *d)
        .filter(|(d, c)| *d <= (word.len().max(c.len()) / 3).max(1))
        .map(|(_, c)| c)
}

/// ` (did you mean `x`?)` for the closest candidate, if close enough.
fn suggest(word: &str, candidates: &[&str]) -> String {
    match nearest(word, candidates) {
        Some(c) => format!(" (did you mean `{c}`?)"),
        None => String::new(),
    }
}

/// The valid keys' names.
fn key_names() -> Vec<&'static str> {
    KEYS.iter().map(|(k, _)| *k).collect()
}

/// Edit distance over characters counting insertions, deletions,
/// substitutions and swaps of two neighbours (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j]: distance between a[..i] and b[..j].
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("modle", "model"), 1);
        assert_eq!(edit_distance("corpsu", "corpus"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("seed", "seed"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("layers", "layer"), 1);
    }

    #[test]
    fn suggestions_only_when_close() {
        assert_eq!(
            suggest("layers", &["layer", "model"]),
            " (did you mean `layer`?)"
        );
        assert_eq!(
            suggest("modle", &["layer", "model"]),
            " (did you mean `model`?)"
        );
        assert_eq!(suggest("temperature", &["layer", "model"]), "");
    }

    #[test]
    fn every_key_has_an_example_that_starts_with_it() {
        for (k, e) in KEYS {
            assert!(e.starts_with(&format!("{k} = ")), "{k}: {e}");
        }
    }
}
