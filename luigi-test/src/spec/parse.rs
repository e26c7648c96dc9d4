//! Parsing a spec: YAML with every value checked where it is read, so
//! that each error carries the line, column and key path of its node.
//!
//! Hypotheses are built while parsing (an unknown name or a broken
//! automaton file is reported at its item). Building them needs the
//! spec's folder and, for generated families, its corpus: both are handed
//! to the deserialisers through a thread-local [`Context`] set for the
//! duration of one parse.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::corpus::Corpus;
use crate::expect::builtin::from_item;
use crate::expect::{Expectation, Threshold};
use crate::hypothesis::{Hypothesis, HypothesisSet};
use crate::score::Metric;
use crate::yaml::{self, Value};

/// What the deserialisers need besides the text.
pub(super) struct Context {
    pub base: PathBuf,
    pub origin: PathBuf,
    pub corpus: Option<Arc<Corpus>>,
    pub corpus_error: Option<String>,
}

thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// Runs `f` with `ctx` installed for the deserialisers of this thread.
pub(super) fn with_context<R>(ctx: Context, f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            CONTEXT.with(|c| *c.borrow_mut() = None);
        }
    }
    CONTEXT.with(|c| *c.borrow_mut() = Some(ctx));
    let _reset = Reset;
    f()
}

fn base() -> PathBuf {
    CONTEXT.with(|c| {
        c.borrow()
            .as_ref()
            .map(|c| c.base.clone())
            .unwrap_or_default()
    })
}

/// The top-level keys read first, before the hypotheses are built.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Head {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub corpus: Option<String>,
    #[serde(default)]
    pub window: Option<usize>,
    #[serde(default)]
    pub sequences: Option<usize>,
}

/// A spec as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SpecFile {
    pub model: ExistingPath,
    pub layer: LayerField,
    pub corpus: ExistingPath,
    #[serde(default)]
    pub window: Option<Positive>,
    #[serde(default)]
    pub sequences: Option<Positive>,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub expectations: Vec<ExpectationItem>,
    #[serde(default)]
    pub snapshot: Option<SnapshotItem>,
}

/// `layer:` as written: one name (a layer, `any`, or `a,b`) or a list of
/// layers, recorded together.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum LayerField {
    /// One name.
    One(String),
    /// Several layers.
    Many(Vec<String>),
}

impl LayerField {
    /// The name the model reads (a list joined by commas).
    pub(super) fn name(&self) -> String {
        match self {
            LayerField::One(s) => s.clone(),
            LayerField::Many(v) => v.join(","),
        }
    }
}

/// A path, relative to the spec's folder, that must exist.
#[derive(Debug)]
pub(super) struct ExistingPath(pub PathBuf);

impl<'de> Deserialize<'de> for ExistingPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ExistingPath;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a path relative to the spec's folder")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ExistingPath, E> {
                let p = base().join(v);
                if p.exists() {
                    Ok(ExistingPath(p))
                } else {
                    Err(E::custom(format!(
                        "{} does not exist (paths are relative to the spec's folder)",
                        p.display()
                    )))
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// An integer of at least 1.
#[derive(Debug, Clone, Copy)]
pub(super) struct Positive(pub usize);

impl<'de> Deserialize<'de> for Positive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Positive;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer of at least 1")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Positive, E> {
                if v == 0 {
                    return Err(E::custom("must be at least 1"));
                }
                usize::try_from(v)
                    .map(Positive)
                    .map_err(|_| E::custom("is too large"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Positive, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::custom(format!(
                        "{v} is negative: give an integer of at least 1"
                    ))),
                }
            }
        }
        d.deserialize_u64(V)
    }
}

/// One hypothesis, as one item of the hypothesis-list format.
pub(super) struct OneHypothesis(pub Box<dyn Hypothesis>);

impl fmt::Debug for OneHypothesis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OneHypothesis")
            .field(&self.0.name())
            .finish()
    }
}

impl<'de> Deserialize<'de> for OneHypothesis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        fn build<E: de::Error>(v: Value) -> Result<OneHypothesis, E> {
            from_item(&v, &base()).map(OneHypothesis).map_err(E::custom)
        }
        impl<'de> Visitor<'de> for V {
            type Value = OneHypothesis;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("one hypothesis: a name (`comment`) or a one-key map (`depth: '('`)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneHypothesis, E> {
                build(Value::String(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<OneHypothesis, A::Error> {
                let v = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                build(v)
            }
        }
        d.deserialize_any(V)
    }
}

/// A hypothesis set: an inline list, or the path of a list file.
pub(super) struct ListOrFile(pub HypothesisSet);

impl fmt::Debug for ListOrFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ListOrFile").field(&self.0.len()).finish()
    }
}

fn corpus_for_lists() -> Result<Option<Arc<Corpus>>, String> {
    CONTEXT.with(|c| {
        let c = c.borrow();
        match c.as_ref() {
            Some(c) => match (&c.corpus, &c.corpus_error) {
                (Some(corpus), _) => Ok(Some(corpus.clone())),
                (None, Some(e)) => Err(e.clone()),
                (None, None) => Ok(None),
            },
            None => Ok(None),
        }
    })
}

fn list_error(e: crate::Error, inline: bool) -> String {
    match e {
        crate::Error::Spec { key, message, .. } if inline => {
            if key.is_empty() || key == "(document)" {
                message
            } else {
                format!("item {key}: {message}")
            }
        }
        other => other.to_string(),
    }
}

impl<'de> Deserialize<'de> for ListOrFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ListOrFile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a hypothesis list (YAML sequence) or the path of a list file")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ListOrFile, E> {
                let p = base().join(v);
                let corpus = corpus_for_lists().map_err(E::custom)?;
                let set = match corpus {
                    Some(c) => HypothesisSet::load_with_corpus(&p, &c),
                    None => HypothesisSet::load(&p),
                };
                set.map(ListOrFile)
                    .map_err(|e| E::custom(list_error(e, false)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ListOrFile, A::Error> {
                let v = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                let text = yaml::to_string(&v).map_err(de::Error::custom)?;
                let origin = CONTEXT.with(|c| {
                    c.borrow()
                        .as_ref()
                        .map(|c| c.origin.clone())
                        .unwrap_or_default()
                });
                let corpus = corpus_for_lists().map_err(de::Error::custom)?;
                HypothesisSet::from_yaml_str(&text, &origin, corpus.as_deref())
                    .map(ListOrFile)
                    .map_err(|e| de::Error::custom(list_error(e, true)))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `snapshot` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SnapshotItem {
    pub hypotheses: ListOrFile,
    #[serde(default)]
    pub top: Option<Positive>,
    #[serde(default)]
    pub decimals: Option<u32>,
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub units: Option<SnapshotUnits>,
}

/// How a snapshot compares units (`snapshot: {units: exact}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum SnapshotUnits {
    /// Units matched by activations may carry other names (the default).
    Matched,
    /// Names must be equal.
    Exact,
}

/// A unit by index or name.
#[derive(Debug, Clone)]
pub(super) struct UnitRef(pub String);

impl<'de> Deserialize<'de> for UnitRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = UnitRef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a unit: its index (53) or its name (\"fwd.3\")")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<UnitRef, E> {
                Ok(UnitRef(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<UnitRef, E> {
                if v < 0 {
                    return Err(E::custom(format!("unit index {v} is negative")));
                }
                Ok(UnitRef(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<UnitRef, E> {
                Ok(UnitRef(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `expect` key.
#[derive(Debug, Clone)]
pub(super) enum Form {
    SomeUnit,
    Units(Vec<String>),
    AtMost(usize),
    Probe(Option<Vec<String>>),
}

const FORMS: &str =
    "`some_unit`, `{units: [53, 127]}`, `{at_most: 3}`, `probe` or `{probe: [53, 127]}`";

impl<'de> Deserialize<'de> for Form {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Form;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "one of {FORMS}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Form, E> {
                match v {
                    "some_unit" => Ok(Form::SomeUnit),
                    "probe" => Ok(Form::Probe(None)),
                    "units" | "at_most" => {
                        Err(E::custom(format!("`{v}` needs an argument: write {FORMS}")))
                    }
                    other => Err(E::custom(format!(
                        "unknown expectation `{other}`: write {FORMS}"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Form, A::Error> {
                let key: String = map
                    .next_key()?
                    .ok_or_else(|| de::Error::custom(format!("empty map: write {FORMS}")))?;
                let form = match key.as_str() {
                    "units" => {
                        let u: Vec<UnitRef> = map.next_value()?;
                        if u.is_empty() {
                            return Err(de::Error::custom(
                                "`units` lists no unit: name at least one, or use `some_unit`",
                            ));
                        }
                        Form::Units(u.into_iter().map(|u| u.0).collect())
                    }
                    "at_most" => {
                        let Positive(k) = map.next_value()?;
                        Form::AtMost(k)
                    }
                    "probe" => {
                        let u: Vec<UnitRef> = map.next_value()?;
                        Form::Probe(Some(u.into_iter().map(|u| u.0).collect()))
                    }
                    other => {
                        return Err(de::Error::custom(format!(
                            "unknown expectation `{other}`: write {FORMS}"
                        )))
                    }
                };
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "`expect` takes one form; `{extra}` is a second key (put it beside `expect`)"
                    )));
                }
                Ok(form)
            }
        }
        d.deserialize_any(V)
    }
}

/// A metric name.
#[derive(Debug, Clone, Copy)]
pub(super) struct MetricName(pub Metric);

impl<'de> Deserialize<'de> for MetricName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The check runs inside the visitor, so the error points at this node.
        struct V;
        impl Visitor<'_> for V {
            type Value = MetricName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a metric: pearson, spearman, mi (mutual_info), auc or eta")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<MetricName, E> {
                s.parse::<Metric>().ok().map(MetricName).ok_or_else(|| {
                    E::custom(format!(
                        "unknown metric `{s}`: use pearson, spearman, mi (mutual_info), auc or eta"
                    ))
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// The keys of one expectation as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpectation {
    #[serde(default)]
    name: Option<String>,
    hypothesis: OneHypothesis,
    expect: Form,
    #[serde(default)]
    metric: Option<MetricName>,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max_q: Option<f64>,
    #[serde(default)]
    min_within_token: Option<f64>,
    #[serde(default)]
    min_accuracy: Option<f64>,
    #[serde(default)]
    min_selectivity: Option<f64>,
    #[serde(default)]
    verify: Option<crate::expect::Verify>,
    #[serde(default)]
    response: Option<String>,
    #[serde(default)]
    samples: Option<usize>,
    #[serde(default)]
    steps: Option<usize>,
}

/// One checked expectation with its hypothesis.
#[derive(Debug)]
pub(super) struct ExpectationItem {
    pub name: Option<String>,
    pub hypothesis: Box<dyn Hypothesis>,
    pub expectation: Expectation,
    pub verify: Option<crate::expect::Verify>,
    pub verify_settings: crate::expect::VerifySettings,
}

fn check(raw: RawExpectation) -> Result<ExpectationItem, String> {
    let probe = matches!(raw.expect, Form::Probe(_));
    if probe {
        for (k, v) in [
            ("metric", raw.metric.is_some()),
            ("min", raw.min.is_some()),
            ("max_q", raw.max_q.is_some()),
            ("min_within_token", raw.min_within_token.is_some()),
        ] {
            if v {
                return Err(format!(
                    "`{k}` does not apply to `expect: probe`; a probe takes `min_accuracy` and `min_selectivity`"
                ));
            }
        }
    } else {
        for (k, v) in [
            ("min_accuracy", raw.min_accuracy.is_some()),
            ("min_selectivity", raw.min_selectivity.is_some()),
        ] {
            if v {
                return Err(format!(
                    "`{k}` applies only to `expect: probe`; this expectation takes `metric`, `min` and `max_q`"
                ));
            }
        }
    }
    let threshold = || -> Result<Threshold, String> {
        let metric = raw.metric.ok_or(
            "missing `metric`: one of pearson, spearman, mi, auc, eta (e.g. `metric: pearson`)",
        )?;
        let min = raw
            .min
            .ok_or("missing `min`: the least value of the metric (e.g. `min: 0.8`)")?;
        Ok(Threshold {
            metric: metric.0,
            min,
            max_q: raw.max_q,
            min_within_token: raw.min_within_token,
        })
    };
    let expectation = match raw.expect.clone() {
        Form::SomeUnit => Expectation::SomeUnit(threshold()?),
        Form::Units(units) => Expectation::Units {
            units,
            threshold: threshold()?,
        },
        Form::AtMost(k) => Expectation::AtMost {
            k,
            threshold: threshold()?,
        },
        Form::Probe(units) => Expectation::Probe {
            units,
            min_accuracy: raw.min_accuracy,
            min_selectivity: raw.min_selectivity,
        },
    };
    expectation.validate().map_err(|e| match e {
        crate::Error::Invalid { message, .. } => message,
        other => other.to_string(),
    })?;
    if raw.verify.is_some() {
        crate::expect::verify_fits(&expectation).map_err(|e| match e {
            crate::Error::Invalid { message, .. } => message,
            other => other.to_string(),
        })?;
    }
    let verify_settings = crate::expect::VerifySettings {
        response: raw.response,
        samples: raw.samples,
        steps: raw.steps,
    };
    verify_settings.check(raw.verify).map_err(|e| match e {
        crate::Error::Invalid { message, .. } => message,
        other => other.to_string(),
    })?;
    Ok(ExpectationItem {
        name: raw.name,
        hypothesis: raw.hypothesis.0,
        expectation,
        verify: raw.verify,
        verify_settings,
    })
}

impl<'de> Deserialize<'de> for ExpectationItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExpectationItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an expectation: a map with `hypothesis`, `expect`, `metric`, `min`, …")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ExpectationItem, A::Error> {
                let raw = RawExpectation::deserialize(de::value::MapAccessDeserializer::new(map))?;
                check(raw).map_err(de::Error::custom)
            }
        }
        d.deserialize_map(V)
    }
}

/// Line (1-based) of a top-level key, 0 when not found.
pub(super) fn key_line(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map_or(0, |i| i + 1)
}

/// Lines (1-based) of the items of a top-level block sequence `key:`
/// (`- ...` lines at the list's indentation); empty for a flow sequence.
pub(super) fn item_lines(text: &str, key: &str) -> Vec<usize> {
    let start = key_line(text, key);
    if start == 0 {
        return Vec::new();
    }
    let mut indent: Option<usize> = None;
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate().skip(start) {
        let trimmed = l.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let ind = l.len() - trimmed.len();
        if ind == 0 && !trimmed.starts_with('-') {
            break; // the next top-level key
        }
        if trimmed.starts_with("- ") || trimmed == "-" {
            match indent {
                None => {
                    indent = Some(ind);
                    out.push(i + 1);
                }
                Some(x) if x == ind => out.push(i + 1),
                _ => {}
            }
        }
    }
    out
}

/// The spec's folder and its path as seen by the list parser.
pub(super) fn context_for(
    path: &Path,
    corpus: Option<Arc<Corpus>>,
    corpus_error: Option<String>,
) -> Context {
    Context {
        base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        origin: path.to_path_buf(),
        corpus,
        corpus_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_lines_follow_block_lists() {
        let text = "model: m\nexpectations:\n  # first\n  - name: a\n    hypothesis: comment\n  - name: b\n    x: [1, 2]\nsnapshot:\n  hypotheses:\n    - position\n";
        assert_eq!(item_lines(text, "expectations"), [4, 6]);
        assert_eq!(key_line(text, "snapshot"), 8);
        assert_eq!(key_line(text, "missing"), 0);
        assert!(item_lines("expectations: [{a: 1}]\n", "expectations").is_empty());
    }
}
