//! Hypotheses: functions of a sequence giving one value per timestep.
//!
//! The value at position `t` describes the sequence *after* reading the
//! character at `t` (the same moment the model's hidden state at `t` describes).
//!
//! - [`library`]: built-in hypotheses (characters and classes, position,
//!   column, line, indentation, bracket depth, comments and literals,
//!   identifiers and keywords, n-grams, regular expressions, counters);
//! - [`fsm`]: finite-state machines from a Rust builder or YAML;
//! - [`families`]: hypotheses generated from a corpus (frequent
//!   characters, n-grams, words, …);
//! - [`list`]: the YAML hypothesis-list format ([`HypothesisSet::load`]);
//! - [`set`]: [`HypothesisSet`], evaluated into a `timesteps × hypotheses` matrix;
//! - [`check`](mod@check): flags constant, never-firing and position-like hypotheses
//!   before scoring;
//! - [`boolean`]: the paper's boolean toy task and its candidate automata.

use crate::error::{Error, Result};

/// What kind of values a hypothesis gives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HypothesisKind {
    /// Any real number (depth, column, count).
    Numeric,
    /// 0 or 1 (inside a comment, this character).
    Binary,
    /// A state index `0..states.len()` (an automaton's state).
    Categorical {
        /// State names, index = value.
        states: Vec<String>,
    },
}

/// A function of a sequence giving one value per timestep.
pub trait Hypothesis: Send + Sync {
    /// A unique, human-readable name (e.g. `depth(()`, `keyword(return)`).
    fn name(&self) -> &str;
    /// The kind of values it gives.
    fn kind(&self) -> HypothesisKind;
    /// One value per character of `seq`: `out.len()` must equal `seq.len()`
    /// when it returns. Binary values are 0/1, categorical values state indices.
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>);
    /// The characters and strings that move the hypothesis (a bracket
    /// depth's brackets, a comment's delimiters, a keyword's word, an
    /// automaton's transition symbols). Perturbation verification
    /// ([`crate::verify`]) draws its substitutions and insertions from them
    /// as well as from the corpus's alphabet. Default: none (the corpus
    /// alphabet alone).
    fn triggers(&self) -> Vec<String> {
        Vec::new()
    }
}

impl std::fmt::Debug for dyn Hypothesis + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hypothesis")
            .field("name", &self.name())
            .field("kind", &self.kind())
            .finish()
    }
}

/// Evaluates `h` on `seq` and checks the result: right length, finite values,
/// binary values 0/1, categorical values in range.
pub fn evaluate_checked(h: &dyn Hypothesis, seq: &[char]) -> Result<Vec<f32>> {
    let mut out = Vec::with_capacity(seq.len());
    h.evaluate(seq, &mut out);
    if out.len() != seq.len() {
        return Err(Error::Hypothesis {
            name: h.name().to_string(),
            message: format!(
                "gave {} values for a sequence of {} characters: it must give one per character",
                out.len(),
                seq.len()
            ),
        });
    }
    let kind = h.kind();
    for (i, v) in out.iter().enumerate() {
        let bad = match &kind {
            HypothesisKind::Numeric => !v.is_finite(),
            HypothesisKind::Binary => *v != 0.0 && *v != 1.0,
            HypothesisKind::Categorical { states } => {
                !(v.is_finite() && *v >= 0.0 && v.fract() == 0.0 && (*v as usize) < states.len())
            }
        };
        if bad {
            return Err(Error::Hypothesis {
                name: h.name().to_string(),
                message: format!(
                    "value {v} at position {i} is not valid for a {kind:?} hypothesis"
                ),
            });
        }
    }
    Ok(out)
}

/// A hypothesis made from a closure.
pub struct FnHypothesis<F> {
    name: String,
    kind: HypothesisKind,
    f: F,
    triggers: Vec<String>,
}

impl<F> FnHypothesis<F> {
    /// Declares the characters and strings that move this hypothesis, for
    /// perturbation verification (see [`Hypothesis::triggers`]).
    pub fn with_triggers<I, S>(mut self, triggers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.triggers = triggers.into_iter().map(Into::into).collect();
        self
    }
}

impl<F> Hypothesis for FnHypothesis<F>
where
    F: Fn(&[char]) -> Vec<f32> + Send + Sync,
{
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> HypothesisKind {
        self.kind.clone()
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        out.clear();
        out.extend((self.f)(seq));
    }
    fn triggers(&self) -> Vec<String> {
        self.triggers.clone()
    }
}

/// Makes a hypothesis from a closure over the whole sequence.
///
/// ```
/// use luigi_test::hypothesis::{from_fn, HypothesisKind, Hypothesis};
/// let vowels = from_fn("vowel", HypothesisKind::Binary, |s| {
///     s.iter().map(|c| f32::from(u8::from("aeiou".contains(*c)))).collect()
/// });
/// let mut out = Vec::new();
/// vowels.evaluate(&['h', 'a'], &mut out);
/// assert_eq!(out, vec![0.0, 1.0]);
/// ```
pub fn from_fn<F>(name: impl Into<String>, kind: HypothesisKind, f: F) -> FnHypothesis<F>
where
    F: Fn(&[char]) -> Vec<f32> + Send + Sync,
{
    FnHypothesis {
        name: name.into(),
        kind,
        f,
        triggers: Vec::new(),
    }
}

pub mod boolean;
pub mod check;
pub mod families;
pub mod fsm;
pub mod library;
pub mod list;
pub mod long;
pub mod set;

pub use check::{check, HypothesisIssue};
pub use long::LongValues;
pub use set::HypothesisSet;
