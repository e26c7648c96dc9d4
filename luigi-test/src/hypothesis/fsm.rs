//! Finite-state machines as hypotheses.
//!
//! An automaton is a transition table over characters. Its hypothesis
//! ([`Fsm`], categorical) gives the index of the current state *after
//! reading* each character (state rule: the start state is never output,
//! only the states reached). Its accepting variant ([`FsmAccepting`],
//! binary, named `NAME.accepting`) gives 1 while the current state is
//! accepting.
//!
//! # Rules
//!
//! - A transition `from, on, to` applies when the current state is `from`
//!   (one state or a list) and the character is in `on`: one character, a
//!   named character (`newline`, `tab`, `space`, `cr`), a class (`digit`,
//!   `letter`, `alnum`, `ident`, `whitespace`, `punct`, `upper`, `lower`,
//!   `hex`, `any`; see [`CharClass`]) or a list of these.
//! - The table must be deterministic: two transitions from the same state
//!   whose character sets overlap must go to the same state (overlaps to
//!   the same state are allowed and harmless).
//! - A character that no transition from the current state matches follows
//!   the `default`: `stay` (remain in the state), `error` (go to an extra
//!   sink state named `error`, appended after the declared states, which is
//!   never left), or `{goto: STATE}`. The default is `error`, so a missing
//!   transition shows up as a visit to `error` rather than passing silently.
//! - With `default: error` no declared state may be called `error`.
//!
//! # YAML
//!
//! ```yaml
//! name: last_op            # optional in a file (the file stem is used)
//! states: [none, or, and]
//! start: none
//! accepting: [or]          # optional; needed for the `accepting` output
//! default: stay            # stay | error | {goto: STATE}; optional, `error` if absent
//! transitions:
//!   - {from: [none, or, and], on: '|', to: or}
//!   - {from: [none, or, and], on: '&', to: and}
//! ```
//!
//! In YAML, quote characters that YAML itself gives a meaning (`'|'`,
//! `'&'`, `'*'`, `'!'`, `'#'`, `':'`, `'['`, `'{'`, …); quoting digits
//! (`'0'`) is clearer too, although a bare single digit is accepted. Write
//! a newline as `newline` (or `"\n"` in double quotes).
//!
//! Structural problems (a state that is not declared, a missing start
//! state, nondeterminism) are [`Error::Hypothesis`] errors naming the key
//! path (`transitions[3].to`) and the fix; malformed YAML is an
//! [`Error::Spec`] with the line and column.

use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

#[cfg(doc)]
use super::library::CharClass;
use super::library::CharSet;
use super::{Hypothesis, HypothesisKind};
use crate::error::{Error, Result};
use crate::yaml;

/// The name of the sink state added by `default: error`.
pub const ERROR_STATE: &str = "error";

/// What happens on a character no transition matches. In YAML: `stay`,
/// `error` or `{goto: STATE}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fallback {
    /// Remain in the current state.
    Stay,
    /// Go to the sink state [`ERROR_STATE`].
    Error,
    /// Go to the named state.
    Goto(String),
}

const FALLBACK_EXPECTED: &str = "`stay`, `error` or `{goto: STATE}`";

impl<'de> Deserialize<'de> for Fallback {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fallback;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(FALLBACK_EXPECTED)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Fallback, E> {
                match v {
                    "stay" => Ok(Fallback::Stay),
                    "error" => Ok(Fallback::Error),
                    other => Err(E::custom(format!(
                        "unknown default `{other}`: write {FALLBACK_EXPECTED}"
                    ))),
                }
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Fallback, A::Error> {
                let key: String = map.next_key()?.ok_or_else(|| {
                    de::Error::custom(format!("empty map: write {FALLBACK_EXPECTED}"))
                })?;
                if key != "goto" {
                    return Err(de::Error::custom(format!(
                        "unknown key `{key}`: write {FALLBACK_EXPECTED}"
                    )));
                }
                let target: String = map.next_value()?;
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "unexpected key `{extra}` next to `goto`: write {FALLBACK_EXPECTED}"
                    )));
                }
                Ok(Fallback::Goto(target))
            }
        }
        d.deserialize_any(V)
    }
}

/// One or more states as written in `from:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateRef {
    /// One state.
    One(String),
    /// Several states.
    Many(Vec<String>),
}

impl StateRef {
    fn names(&self) -> Vec<&str> {
        match self {
            StateRef::One(s) => vec![s.as_str()],
            StateRef::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

impl<'de> Deserialize<'de> for StateRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StateRef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a state name or a list of state names, e.g. `from: a` or `from: [a, b]`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<StateRef, E> {
                Ok(StateRef::One(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<StateRef, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    v.push(s);
                }
                Ok(StateRef::Many(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl From<&str> for StateRef {
    fn from(s: &str) -> Self {
        StateRef::One(s.to_string())
    }
}
impl<const N: usize> From<[&str; N]> for StateRef {
    fn from(v: [&str; N]) -> Self {
        StateRef::Many(v.iter().map(|s| s.to_string()).collect())
    }
}

/// The characters of a transition as written in `on:`: one item or a list
/// of items, each a character, a named character or a class name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OnSpec(pub Vec<String>);

impl From<char> for OnSpec {
    fn from(c: char) -> Self {
        OnSpec(vec![c.to_string()])
    }
}
impl From<&str> for OnSpec {
    fn from(s: &str) -> Self {
        OnSpec(vec![s.to_string()])
    }
}
impl<const N: usize> From<[&str; N]> for OnSpec {
    fn from(v: [&str; N]) -> Self {
        OnSpec(v.iter().map(|s| s.to_string()).collect())
    }
}
impl<const N: usize> From<[char; N]> for OnSpec {
    fn from(v: [char; N]) -> Self {
        OnSpec(v.iter().map(|c| c.to_string()).collect())
    }
}

impl<'de> Deserialize<'de> for OnSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OnSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a character, a class name (e.g. digit) or a list of them")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<OnSpec, E> {
                Ok(OnSpec(vec![v.to_string()]))
            }
            fn visit_char<E: de::Error>(self, v: char) -> std::result::Result<OnSpec, E> {
                Ok(OnSpec(vec![v.to_string()]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<OnSpec, E> {
                Ok(OnSpec(vec![v.to_string()]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<OnSpec, E> {
                Ok(OnSpec(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<OnSpec, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<OnSpec>()? {
                    items.extend(item.0);
                }
                Ok(OnSpec(items))
            }
        }
        d.deserialize_any(V)
    }
}

/// One transition as written in YAML (or given to the builder).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionSpec {
    /// Source state(s).
    pub from: StateRef,
    /// Characters that trigger it.
    pub on: OnSpec,
    /// Target state.
    pub to: String,
}

/// An automaton as written in YAML, before validation ([`FsmSpec::build`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FsmSpec {
    /// The hypothesis name (in a file, defaults to the file stem).
    #[serde(default)]
    pub name: Option<String>,
    /// State names, in output order (value = index).
    #[serde(default)]
    pub states: Vec<String>,
    /// The start state.
    #[serde(default)]
    pub start: Option<String>,
    /// Accepting states (for the binary `accepting` output).
    #[serde(default)]
    pub accepting: Vec<String>,
    /// What unmatched characters do (`error` when absent).
    #[serde(default)]
    pub default: Option<Fallback>,
    /// The transition table.
    #[serde(default)]
    pub transitions: Vec<TransitionSpec>,
}

const STAY: u32 = u32::MAX;

/// A validated, compiled automaton; as a [`Hypothesis`] it is categorical
/// (the state index after each character).
#[derive(Debug, Clone)]
pub struct Fsm {
    name: String,
    states: Vec<String>,
    start: usize,
    accepting: Vec<bool>,
    /// `rules[s]`: (characters, target) from state `s`, in table order.
    rules: Vec<Vec<(CharSet, usize)>>,
    /// Target of unmatched characters per state.
    fallback: Vec<usize>,
    /// `ascii[s * 128 + c]`: resolved next state for ASCII `c`.
    ascii: Vec<u32>,
}

/// Builds an [`Fsm`] in Rust; `build` applies the same validation as YAML,
/// with key paths counting `transition` calls as `transitions[i]`.
///
/// ```
/// use luigi_test::hypothesis::fsm::{Fsm, Fallback};
/// let parity = Fsm::builder("parity")
///     .states(["even", "odd"])
///     .start("even")
///     .accepting(["odd"])
///     .default(Fallback::Stay)
///     .transition("even", "1", "odd")
///     .transition("odd", "1", "even")
///     .build()
///     .unwrap();
/// assert_eq!(parity.run(&['1', '0', '1', '1']), vec![1, 1, 0, 1]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct FsmBuilder {
    spec: FsmSpec,
}

impl FsmBuilder {
    /// Declares the states (in output order).
    pub fn states<I: IntoIterator<Item = S>, S: Into<String>>(mut self, states: I) -> Self {
        self.spec.states = states.into_iter().map(Into::into).collect();
        self
    }
    /// Sets the start state.
    pub fn start(mut self, state: &str) -> Self {
        self.spec.start = Some(state.to_string());
        self
    }
    /// Sets the accepting states.
    pub fn accepting<I: IntoIterator<Item = S>, S: Into<String>>(mut self, states: I) -> Self {
        self.spec.accepting = states.into_iter().map(Into::into).collect();
        self
    }
    /// Sets what unmatched characters do.
    pub fn default(mut self, fallback: Fallback) -> Self {
        self.spec.default = Some(fallback);
        self
    }
    /// Adds a transition.
    pub fn transition(
        mut self,
        from: impl Into<StateRef>,
        on: impl Into<OnSpec>,
        to: &str,
    ) -> Self {
        self.spec.transitions.push(TransitionSpec {
            from: from.into(),
            on: on.into(),
            to: to.to_string(),
        });
        self
    }
    /// Validates and compiles.
    pub fn build(self) -> Result<Fsm> {
        self.spec.build(None)
    }
}

impl FsmSpec {
    /// Parses YAML text; `origin` names the file in errors.
    pub fn from_yaml_str(text: &str, origin: &Path) -> Result<FsmSpec> {
        yaml::from_str(text).map_err(|e| yaml::spec_error(origin, "", &e))
    }

    /// Validates and compiles the automaton. `origin` (the YAML file, if
    /// any) is named in errors and gives the default name (its stem).
    pub fn build(self, origin: Option<&Path>) -> Result<Fsm> {
        let name = match (&self.name, origin) {
            (Some(n), _) => n.clone(),
            (None, Some(p)) => p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "fsm".to_string()),
            (None, None) => "fsm".to_string(),
        };
        let fail = |key: &str, message: String| Error::Hypothesis {
            name: name.clone(),
            message: match origin {
                Some(p) => format!("{}: key `{key}`: {message}", p.display()),
                None => format!("key `{key}`: {message}"),
            },
        };
        if name.trim().is_empty() {
            return Err(fail(
                "name",
                "empty name: give the automaton a name".to_string(),
            ));
        }
        if self.states.is_empty() {
            return Err(fail(
                "states",
                "no states: list them, e.g. `states: [a, b]` (the output is the state's index)"
                    .to_string(),
            ));
        }
        let fallback = self.default.clone().unwrap_or(Fallback::Error);
        let mut states = self.states.clone();
        for (i, s) in states.iter().enumerate() {
            if s.trim().is_empty() {
                return Err(fail(
                    &format!("states[{i}]"),
                    "empty state name".to_string(),
                ));
            }
            if let Some(j) = states[..i].iter().position(|x| x == s) {
                return Err(fail(
                    &format!("states[{i}]"),
                    format!("state `{s}` is declared twice (also `states[{j}]`): give each state a distinct name"),
                ));
            }
            if s == ERROR_STATE && fallback == Fallback::Error {
                return Err(fail(
                    &format!("states[{i}]"),
                    format!(
                        "a state named `{ERROR_STATE}` clashes with the sink state that `default: error` adds: \
                         rename it, or write `default: {{goto: {ERROR_STATE}}}` to use your own state"
                    ),
                ));
            }
        }
        let declared = states.clone();
        let index_of = |key: &str, s: &str| -> Result<usize> {
            declared.iter().position(|x| x == s).ok_or_else(|| {
                let close = crate::error::closest_names(s, declared.iter().map(String::as_str), 3);
                let hint = if close.is_empty() {
                    String::new()
                } else {
                    format!(" (did you mean {}?)", close.join(", "))
                };
                fail(
                    key,
                    format!(
                        "unknown state `{s}`{hint}: declare it under `states` ({}) or correct the name",
                        declared.join(", ")
                    ),
                )
            })
        };
        let start = match &self.start {
            Some(s) => index_of("start", s)?,
            None => {
                return Err(fail(
                    "start",
                    format!(
                        "missing start state: add `start: STATE` with one of {}",
                        declared.join(", ")
                    ),
                ))
            }
        };
        let mut accepting = vec![false; declared.len()];
        for (i, s) in self.accepting.iter().enumerate() {
            accepting[index_of(&format!("accepting[{i}]"), s)?] = true;
        }
        let n_declared = declared.len();
        let fallback_target: Option<usize> = match &fallback {
            Fallback::Stay => None,
            Fallback::Error => {
                states.push(ERROR_STATE.to_string());
                accepting.push(false);
                Some(n_declared)
            }
            Fallback::Goto(s) => Some(index_of("default.goto", s)?),
        };
        let n = states.len();
        // (transition index, characters, target) per source state.
        let mut table: Vec<Vec<(usize, CharSet, usize)>> = vec![Vec::new(); n];
        for (i, t) in self.transitions.iter().enumerate() {
            let to = index_of(&format!("transitions[{i}].to"), &t.to)?;
            if t.on.0.is_empty() {
                return Err(fail(
                    &format!("transitions[{i}].on"),
                    "empty list of characters: give at least one character or class".to_string(),
                ));
            }
            let mut set: Option<CharSet> = None;
            for item in &t.on.0 {
                let one = CharSet::parse_item(item)
                    .map_err(|m| fail(&format!("transitions[{i}].on"), m))?;
                set = Some(match set {
                    None => one,
                    Some(s) => s.union(&one),
                });
            }
            let Some(set) = set else { continue };
            let froms = t.from.names();
            if froms.is_empty() {
                return Err(fail(
                    &format!("transitions[{i}].from"),
                    "empty list of states: give at least one source state".to_string(),
                ));
            }
            for f in froms {
                let from = index_of(&format!("transitions[{i}].from"), f)?;
                for (j, other, other_to) in &table[from] {
                    if *other_to != to {
                        if let Some(c) = set.intersection_witness(other) {
                            return Err(fail(
                                &format!("transitions[{i}].on"),
                                format!(
                                    "nondeterministic: from state `{}` both `transitions[{j}]` (to `{}`) and \
                                     `transitions[{i}]` (to `{}`) match {:?}: make their `on` sets disjoint \
                                     (list characters explicitly instead of overlapping classes) or use \
                                     `default` for the catch-all case",
                                    declared[from], states[*other_to], states[to], c
                                ),
                            ));
                        }
                    }
                }
                table[from].push((i, set.clone(), to));
            }
        }
        let rules: Vec<Vec<(CharSet, usize)>> = table
            .into_iter()
            .map(|r| r.into_iter().map(|(_, s, t)| (s, t)).collect())
            .collect();
        let fallback: Vec<usize> = (0..n)
            .map(|s| {
                if s >= n_declared {
                    s // the error sink is never left
                } else {
                    fallback_target.unwrap_or(s)
                }
            })
            .collect();
        let mut fsm = Fsm {
            name,
            states,
            start,
            accepting,
            rules,
            fallback,
            ascii: Vec::new(),
        };
        let mut ascii = vec![STAY; n * 128];
        for s in 0..n {
            for c in 0..128u8 {
                ascii[s * 128 + c as usize] = fsm.step_slow(s, c as char) as u32;
            }
        }
        fsm.ascii = ascii;
        Ok(fsm)
    }
}

impl Fsm {
    /// The characters its transitions name (explicit ones, and a few
    /// members of each class), one per string: the triggers that
    /// perturbation verification draws edits from.
    pub fn transition_symbols(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .rules
            .iter()
            .flatten()
            .flat_map(|(set, _)| set.sample_members(8))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Starts a builder for an automaton called `name`.
    pub fn builder(name: &str) -> FsmBuilder {
        FsmBuilder {
            spec: FsmSpec {
                name: Some(name.to_string()),
                ..FsmSpec::default()
            },
        }
    }

    /// Loads an automaton from a YAML file (see the module docs).
    pub fn load(path: impl AsRef<Path>) -> Result<Fsm> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        FsmSpec::from_yaml_str(&text, path)?.build(Some(path))
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The state names, index = output value (including `error` when added).
    pub fn states(&self) -> &[String] {
        &self.states
    }
    /// The start state's index.
    pub fn start(&self) -> usize {
        self.start
    }
    /// Whether each state is accepting.
    pub fn accepting_states(&self) -> &[bool] {
        &self.accepting
    }
    /// The index of the state called `name`.
    pub fn state_index(&self, name: &str) -> Option<usize> {
        self.states.iter().position(|s| s == name)
    }

    fn step_slow(&self, state: usize, c: char) -> usize {
        self.rules[state]
            .iter()
            .find(|(set, _)| set.contains(c))
            .map(|(_, t)| *t)
            .unwrap_or(self.fallback[state])
    }

    /// The state after reading `c` in `state`.
    #[inline]
    pub fn step(&self, state: usize, c: char) -> usize {
        if c.is_ascii() {
            self.ascii[state * 128 + c as usize] as usize
        } else {
            self.step_slow(state, c)
        }
    }

    /// The state index after each character of `seq`, starting from the start state.
    pub fn run(&self, seq: &[char]) -> Vec<usize> {
        let mut s = self.start;
        seq.iter()
            .map(|&c| {
                s = self.step(s, c);
                s
            })
            .collect()
    }

    /// The binary hypothesis "the current state is accepting", named
    /// `NAME.accepting`; an error when no state is accepting.
    pub fn accepting(&self) -> Result<FsmAccepting> {
        if !self.accepting.iter().any(|&a| a) {
            return Err(Error::Hypothesis {
                name: format!("{}.accepting", self.name),
                message: "key `accepting`: no accepting state: list at least one, e.g. `accepting: [STATE]`"
                    .to_string(),
            });
        }
        Ok(FsmAccepting {
            name: format!("{}.accepting", self.name),
            fsm: self.clone(),
        })
    }
}

impl Hypothesis for Fsm {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> HypothesisKind {
        HypothesisKind::Categorical {
            states: self.states.clone(),
        }
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        out.clear();
        let mut s = self.start;
        for &c in seq {
            s = self.step(s, c);
            out.push(s as f32);
        }
    }
    fn triggers(&self) -> Vec<String> {
        self.transition_symbols()
    }
}

/// `NAME.accepting` (binary): 1 while an [`Fsm`] is in an accepting state.
#[derive(Debug, Clone)]
pub struct FsmAccepting {
    name: String,
    fsm: Fsm,
}

impl FsmAccepting {
    /// The automaton.
    pub fn fsm(&self) -> &Fsm {
        &self.fsm
    }
}

impl Hypothesis for FsmAccepting {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> HypothesisKind {
        HypothesisKind::Binary
    }
    fn triggers(&self) -> Vec<String> {
        self.fsm.transition_symbols()
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        out.clear();
        let mut s = self.fsm.start;
        for &c in seq {
            s = self.fsm.step(s, c);
            out.push(if self.fsm.accepting[s] { 1.0 } else { 0.0 });
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hypothesis::evaluate_checked;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn last_op() -> Fsm {
        Fsm::builder("last_op")
            .states(["none", "or", "and"])
            .start("none")
            .accepting(["or"])
            .default(Fallback::Stay)
            .transition(["none", "or", "and"], '|', "or")
            .transition(["none", "or", "and"], '&', "and")
            .build()
            .unwrap()
    }

    #[test]
    fn builder_runs_and_outputs_state_indices() {
        let f = last_op();
        assert_eq!(f.run(&chars("1|0&1|")), [0, 1, 1, 2, 2, 1]);
        let v = evaluate_checked(&f, &chars("1|0&1|")).unwrap();
        assert_eq!(v, [0.0, 1.0, 1.0, 2.0, 2.0, 1.0]);
        assert_eq!(
            f.kind(),
            HypothesisKind::Categorical {
                states: vec!["none".into(), "or".into(), "and".into()]
            }
        );
        let acc = f.accepting().unwrap();
        assert_eq!(acc.name(), "last_op.accepting");
        assert_eq!(
            evaluate_checked(&acc, &chars("1|0&1|")).unwrap(),
            [0.0, 1.0, 1.0, 0.0, 0.0, 1.0]
        );
    }

    #[test]
    fn default_error_adds_a_sink() {
        let f = Fsm::builder("ab")
            .states(["a", "b"])
            .start("a")
            .transition("a", 'x', "b")
            .transition("b", 'y', "a")
            .build()
            .unwrap();
        assert_eq!(f.states(), ["a", "b", "error"]);
        assert_eq!(f.run(&chars("xyxzxy")), [1, 0, 1, 2, 2, 2]);
        let g = Fsm::builder("ab")
            .states(["a", "b"])
            .start("a")
            .default(Fallback::Goto("a".into()))
            .transition("a", 'x', "b")
            .build()
            .unwrap();
        assert_eq!(g.states(), ["a", "b"]);
        assert_eq!(g.run(&chars("xxqx")), [1, 0, 0, 1]);
    }

    #[test]
    fn classes_lists_and_non_ascii() {
        let f = Fsm::builder("num")
            .states(["out", "num", "word"])
            .start("out")
            .default(Fallback::Goto("out".into()))
            .transition(["out", "num"], "digit", "num")
            .transition(["out", "word"], ["letter", "_"], "word")
            .transition("word", "digit", "word")
            .build()
            .unwrap();
        assert_eq!(f.run(&chars("12 ab9 é1")), [1, 1, 0, 2, 2, 2, 0, 2, 2]);
    }

    #[test]
    fn yaml_round_trip_matches_builder() {
        let yaml = r#"
name: last_op
states: [none, or, and]
start: none
accepting: [or]
default: stay
transitions:
  - {from: [none, or, and], on: '|', to: or}
  - {from: [none, or, and], on: ['&'], to: and}
"#;
        let f = FsmSpec::from_yaml_str(yaml, Path::new("x.yaml"))
            .unwrap()
            .build(Some(Path::new("x.yaml")))
            .unwrap();
        let b = last_op();
        let s = chars("X1|0&&1||0&");
        assert_eq!(f.run(&s), b.run(&s));
        assert_eq!(f.name(), "last_op");
        let y =
            "states: [a]\nstart: a\ndefault: {goto: a}\ntransitions: [{from: a, on: 0, to: a}]\n";
        let g = FsmSpec::from_yaml_str(y, Path::new("dir/zero.yaml"))
            .unwrap()
            .build(Some(Path::new("dir/zero.yaml")))
            .unwrap();
        assert_eq!(g.name(), "zero");
    }

    fn build_err(yaml: &str) -> String {
        let spec = FsmSpec::from_yaml_str(yaml, Path::new("m.yaml")).unwrap();
        spec.build(Some(Path::new("m.yaml")))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn validation_names_key_and_fix() {
        let e = build_err("states: [a, b]\ntransitions: []\n");
        assert!(
            e.contains("key `start`") && e.contains("missing start state") && e.contains("a, b"),
            "{e}"
        );
        let e = build_err("states: [a, b]\nstart: a\ntransitions: [{from: a, on: x, to: bb}]\n");
        assert!(
            e.contains("m.yaml")
                && e.contains("`transitions[0].to`")
                && e.contains("unknown state `bb`"),
            "{e}"
        );
        assert!(e.contains("did you mean b"), "{e}");
        let e = build_err("states: [a]\nstart: c\n");
        assert!(
            e.contains("key `start`") && e.contains("unknown state `c`"),
            "{e}"
        );
        let e = build_err("states: [a, b]\nstart: a\ntransitions:\n - {from: a, on: hex, to: a}\n - {from: a, on: digit, to: b}\n");
        assert!(
            e.contains("nondeterministic")
                && e.contains("transitions[0]")
                && e.contains("transitions[1]"),
            "{e}"
        );
        assert!(e.contains("'0'"), "{e}");
        // same target: allowed
        build_err_ok("states: [a, b]\nstart: a\ntransitions:\n - {from: a, on: hex, to: b}\n - {from: a, on: digit, to: b}\n");
        // disjoint classes: allowed
        build_err_ok("states: [a, b]\nstart: a\ntransitions:\n - {from: a, on: letter, to: a}\n - {from: a, on: digit, to: b}\n");
        let e = build_err("states: [a]\nstart: a\ntransitions: [{from: a, on: digits, to: a}]\n");
        assert!(
            e.contains("transitions[0].on") && e.contains("`digits` is neither"),
            "{e}"
        );
        let e = build_err("states: [a, a]\nstart: a\n");
        assert!(
            e.contains("states[1]") && e.contains("declared twice"),
            "{e}"
        );
        let e = build_err("states: [a, error]\nstart: a\n");
        assert!(
            e.contains("states[1]") && e.contains("default: {goto: error}"),
            "{e}"
        );
        let e = build_err("states: [a]\nstart: a\ndefault: {goto: z}\n");
        assert!(e.contains("default.goto"), "{e}");
        let e = build_err("states: []\nstart: a\n");
        assert!(e.contains("key `states`"), "{e}");
        let e = build_err("states: [a]\nstart: a\naccepting: [q]\n");
        assert!(e.contains("accepting[0]"), "{e}");
        let e = last_op_no_accepting().accepting().unwrap_err().to_string();
        assert!(e.contains("no accepting state"), "{e}");
    }

    fn build_err_ok(yaml: &str) {
        FsmSpec::from_yaml_str(yaml, Path::new("m.yaml"))
            .unwrap()
            .build(None)
            .unwrap();
    }

    fn last_op_no_accepting() -> Fsm {
        Fsm::builder("x").states(["a"]).start("a").build().unwrap()
    }

    proptest::proptest! {
        /// The compiled ASCII table agrees with the rule list for any input,
        /// ASCII or not, and the run never leaves the state range.
        #[test]
        fn compiled_table_matches_rules(text in "[a-c0-9_|&Xé€ \n]{0,40}") {
            let f = Fsm::builder("mix")
                .states(["s", "num", "word", "op"])
                .start("s")
                .default(Fallback::Error)
                .transition(["s", "op", "num"], "digit", "num")
                .transition(["s", "op", "word"], ["letter", "_"], "word")
                .transition("word", "digit", "word")
                .transition(["num", "word", "s"], ['|', '&'], "op")
                .transition(["s", "op"], ["space", "newline"], "s")
                .build()
                .unwrap();
            let seq: Vec<char> = text.chars().collect();
            let mut s = f.start();
            for (&c, got) in seq.iter().zip(f.run(&seq)) {
                s = f.step_slow(s, c);
                proptest::prop_assert_eq!(s, got);
                proptest::prop_assert!(got < f.states().len());
            }
        }
    }

    #[test]
    fn yaml_syntax_errors_have_location_and_key() {
        let e = FsmSpec::from_yaml_str(
            "states: [a]\nstart: a\ntransitions:\n  - {from: a, on: x, too: a}\n",
            Path::new("m.yaml"),
        )
        .unwrap_err();
        match e {
            Error::Spec {
                line, key, message, ..
            } => {
                assert_eq!(line, 4);
                assert!(key.starts_with("transitions[0]"), "{key}");
                assert!(
                    message.contains("unknown field `too`") && message.contains("`to`"),
                    "{message}"
                );
            }
            other => panic!("{other}"),
        }
        let e = FsmSpec::from_yaml_str(
            "states: [a]\nstart: a\ndefault: maybe\n",
            Path::new("m.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("m.yaml:3") && e.contains("stay") && e.contains("goto"),
            "{e}"
        );
    }
}
