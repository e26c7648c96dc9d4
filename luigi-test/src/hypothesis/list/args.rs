//! The arguments of list items: each accepts a short scalar form and/or a
//! map form, and is checked where it is read (so an error carries the line,
//! column and key path of its node).
//!
//! The names of the derived types show in serde's messages (`expected
//! struct IndentArg`): renaming one changes an error message.

use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::error::Result;
use crate::hypothesis::families::KeywordAt;
use crate::hypothesis::fsm::{Fallback, FsmSpec, OnSpec, TransitionSpec};
use crate::hypothesis::library::{parse_char, CharSet, Indentation};
use crate::hypothesis::Hypothesis;

/// Deserializes a scalar (string or integer, read as text) with `short`, or
/// a map as `M` converted with `long`.
fn scalar_or_map<'de, D, T, M>(
    d: D,
    expecting: &'static str,
    short: fn(&str) -> std::result::Result<T, String>,
    long: fn(M) -> std::result::Result<T, String>,
) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    M: Deserialize<'de>,
{
    struct V<T, M> {
        expecting: &'static str,
        short: fn(&str) -> std::result::Result<T, String>,
        long: fn(M) -> std::result::Result<T, String>,
        marker: PhantomData<M>,
    }
    impl<'de, T, M: Deserialize<'de>> Visitor<'de> for V<T, M> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<T, E> {
            (self.short)(v).map_err(E::custom)
        }
        fn visit_char<E: de::Error>(self, v: char) -> std::result::Result<T, E> {
            (self.short)(&v.to_string()).map_err(E::custom)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<T, E> {
            (self.short)(&v.to_string()).map_err(E::custom)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<T, E> {
            (self.short)(&v.to_string()).map_err(E::custom)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<T, A::Error> {
            let m = M::deserialize(de::value::MapAccessDeserializer::new(map))?;
            (self.long)(m).map_err(de::Error::custom)
        }
    }
    d.deserialize_any(V {
        expecting,
        short,
        long,
        marker: PhantomData,
    })
}

/// No map form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoMap {}

fn no_map<T>(_: NoMap) -> std::result::Result<T, String> {
    Err("expected a single value here, not a map".to_string())
}

/// One character.
pub(super) struct CharArg(pub(super) char);

impl<'de> Deserialize<'de> for CharArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        scalar_or_map(
            d,
            "one character, e.g. '(' (quote it) or newline",
            |s| parse_char(s).map(CharArg),
            no_map,
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BracketMap {
    bracket: CharArg,
    #[serde(default)]
    code: bool,
    #[serde(default)]
    levels: Option<u32>,
}

pub(super) struct BracketArg {
    pub(super) bracket: char,
    pub(super) code: bool,
    pub(super) levels: Option<u32>,
}

impl<'de> Deserialize<'de> for BracketArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        scalar_or_map(
            d,
            "a bracket, e.g. '(', or {bracket: '(', code: true, levels: 3}",
            |s| {
                parse_char(s).map(|bracket| BracketArg {
                    bracket,
                    code: false,
                    levels: None,
                })
            },
            |m: BracketMap| {
                Ok(BracketArg {
                    bracket: m.bracket.0,
                    code: m.code,
                    levels: m.levels,
                })
            },
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IndentArg {
    #[serde(default)]
    unit: Option<usize>,
    #[serde(default)]
    tab: Option<usize>,
    #[serde(default)]
    pub(super) levels: Option<u32>,
}

impl IndentArg {
    pub(super) fn build(&self) -> Result<Indentation> {
        let h = match self.unit {
            Some(u) => Indentation::level(u)?,
            None => Indentation::width(),
        };
        match self.tab {
            Some(t) => h.tab_width(t),
            None => Ok(h),
        }
    }
}

pub(super) struct IndentLevelArg(pub(super) IndentArg);

impl<'de> Deserialize<'de> for IndentLevelArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        scalar_or_map(
            d,
            "an indent unit in columns, e.g. 4, or {unit: 4, tab: 4}",
            |s| {
                s.parse::<usize>()
                    .map(|u| {
                        IndentLevelArg(IndentArg {
                            unit: Some(u),
                            tab: None,
                            levels: None,
                        })
                    })
                    .map_err(|_| {
                        format!("`{s}` is not a number of columns: write e.g. `indent_level: 4`")
                    })
            },
            |m: IndentArg| {
                if m.unit.is_none() {
                    return Err("missing `unit`: write e.g. {unit: 4}".to_string());
                }
                Ok(IndentLevelArg(m))
            },
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeywordArg {
    pub(super) word: String,
    #[serde(default)]
    pub(super) at: KeywordAt,
}

impl KeywordArg {
    fn parse<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        scalar_or_map(
            d,
            "a word, e.g. return, or {word: return, at: end}",
            |s| {
                Ok(KeywordArg {
                    word: s.to_string(),
                    at: KeywordAt::Span,
                })
            },
            Ok,
        )
    }
}

/// `KeywordArg` has a derived map form; this wrapper adds the short form.
pub(super) struct KeywordItem(pub(super) KeywordArg);

impl<'de> Deserialize<'de> for KeywordItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        KeywordArg::parse(d).map(KeywordItem)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegexMap {
    #[serde(default)]
    name: Option<String>,
    pattern: String,
}

pub(super) struct RegexArg {
    pub(super) name: Option<String>,
    pub(super) pattern: String,
}

impl<'de> Deserialize<'de> for RegexArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        scalar_or_map(
            d,
            "a pattern, or {name: NAME, pattern: PATTERN}",
            |s| {
                Ok(RegexArg {
                    name: None,
                    pattern: s.to_string(),
                })
            },
            |m: RegexMap| {
                Ok(RegexArg {
                    name: m.name,
                    pattern: m.pattern,
                })
            },
        )
    }
}

/// A character set: one item or a list of items (characters, named
/// characters, classes).
pub(super) struct SetArg(pub(super) CharSet);

impl<'de> Deserialize<'de> for SetArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let on = OnSpec::deserialize(d)?;
        let mut set: Option<CharSet> = None;
        for item in &on.0 {
            let one = CharSet::parse_item(item).map_err(de::Error::custom)?;
            set = Some(match set {
                None => one,
                Some(s) => s.union(&one),
            });
        }
        set.map(SetArg)
            .ok_or_else(|| de::Error::custom("empty list: give at least one character or class"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CountMap {
    of: SetArg,
    #[serde(default)]
    reset: Option<SetArg>,
}

pub(super) struct CountArg {
    pub(super) of: SetArg,
    pub(super) reset: Option<SetArg>,
}

impl<'de> Deserialize<'de> for CountArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        scalar_or_map(
            d,
            "a character or class to count, or {of: ..., reset: ...}",
            |s| {
                CharSet::parse_item(s).map(|of| CountArg {
                    of: SetArg(of),
                    reset: None,
                })
            },
            |m: CountMap| {
                Ok(CountArg {
                    of: m.of,
                    reset: m.reset,
                })
            },
        )
    }
}

/// Which outputs of an automaton to add.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FsmOutput {
    /// The state index (categorical).
    #[default]
    State,
    /// Whether the state is accepting (binary).
    Accepting,
    /// Both.
    Both,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FsmArg {
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    output: FsmOutput,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    states: Option<Vec<String>>,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    accepting: Option<Vec<String>>,
    #[serde(default)]
    default: Option<Fallback>,
    #[serde(default)]
    transitions: Option<Vec<TransitionSpec>>,
    #[serde(default)]
    over: Option<OverArg>,
}

impl FsmArg {
    /// The feature and cuts the automaton reads, for a numeric corpus.
    pub(super) fn take_over(&mut self) -> Option<OverArg> {
        self.over.take()
    }

    pub(super) fn build(
        self,
        base: &Path,
        index: usize,
    ) -> std::result::Result<Vec<Box<dyn Hypothesis>>, String> {
        let inline = self.states.is_some()
            || self.start.is_some()
            || self.accepting.is_some()
            || self.default.is_some()
            || self.transitions.is_some();
        let fsm = match (&self.file, inline) {
            (Some(_), true) => {
                return Err(
                    "give either `file` or an inline automaton (states, start, transitions…), not both"
                        .to_string(),
                )
            }
            (Some(file), false) => {
                let path = base.join(file);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read automaton file {}: {e}", path.display()))?;
                let mut spec = FsmSpec::from_yaml_str(&text, &path).map_err(|e| e.to_string())?;
                if let Some(n) = self.name {
                    spec.name = Some(n);
                }
                spec.build(Some(&path)).map_err(|e| e.to_string())?
            }
            (None, false) => {
                return Err(
                    "empty automaton: give `file: PATH` or an inline automaton (name, states, start, transitions)"
                        .to_string(),
                )
            }
            (None, true) => {
                let Some(name) = self.name else {
                    return Err(format!("inline automaton without `name`: add e.g. `name: fsm{index}`"));
                };
                let spec = FsmSpec {
                    name: Some(name),
                    states: self.states.unwrap_or_default(),
                    start: self.start,
                    accepting: self.accepting.unwrap_or_default(),
                    default: self.default,
                    transitions: self.transitions.unwrap_or_default(),
                };
                spec.build(None).map_err(|e| e.to_string())?
            }
        };
        let mut out: Vec<Box<dyn Hypothesis>> = Vec::new();
        if matches!(self.output, FsmOutput::State | FsmOutput::Both) {
            out.push(Box::new(fsm.clone()));
        }
        if matches!(self.output, FsmOutput::Accepting | FsmOutput::Both) {
            out.push(Box::new(fsm.accepting().map_err(|e| e.to_string())?));
        }
        Ok(out)
    }
}

/// `above: {feature: 0, threshold: 0.5}`, `crossing: …`: a feature and a threshold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ThresholdArg {
    pub(super) feature: usize,
    pub(super) threshold: f32,
}

/// `moving_mean: {feature: 0, window: 8}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WindowArg {
    pub(super) feature: usize,
    pub(super) window: usize,
}

/// `over: {feature: 0, cuts: [0.5]}` in an `fsm` item: the automaton reads
/// feature `feature` of a numeric corpus, discretised at `cuts` (below the
/// first cut: `0`, then `1`, …).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OverArg {
    pub(super) feature: usize,
    pub(super) cuts: Vec<f32>,
}
