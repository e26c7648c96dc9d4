//! Validation: every entry stored once in its key's slot, then the cross-key
//! checks (required keys, contradictions, ranges that depend on another key,
//! the annotated function's shape) that turn the slots into a [`Spec`].

use proc_macro2::Span;
use syn::{Expr, Ident, ItemFn, LitStr, Path};

use super::messages::{key_names, missing_key, nearest, unknown_key};
use super::values::{
    crate_path, expect, expect_name, float, hypothesis, int, kind, metric, path_string, string,
    ungroup, unit_interval, verify_mode, window, ExpectArg, HypothesisArg,
};
use super::{Expect, Float, Hypothesis, Int, Kind, Metric, Spec, Threshold, VerifyMode, METRICS};
use crate::args::{Entry, Errors};

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
