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

use crate::corpus::tokens::{Align, Tokens};
use crate::corpus::values::Values;
use crate::corpus::Sequence;
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
    /// For hypotheses about the tokens themselves ([`library::TokenIs`],
    /// [`library::WordStart`]): one value per token of a tokenized
    /// sequence, written into `out`, and `true`. The default, `false`,
    /// says the hypothesis is about characters: it is evaluated on the text
    /// and each token takes a value by the corpus's [`Align`] rule
    /// ([`evaluate_steps`]).
    fn evaluate_tokens(&self, _seq: &Sequence, _tokens: &Tokens, _out: &mut Vec<f32>) -> bool {
        false
    }
    /// For hypotheses over the feature vectors of a numeric corpus
    /// ([`library::Feature`] and its kin): the highest feature index they
    /// read. `None` (the default): a hypothesis over characters.
    fn reads_values(&self) -> Option<usize> {
        None
    }
    /// For hypotheses over values: one value per timestep of `values`,
    /// written into `out`, and `true`. The default, `false`: the hypothesis
    /// does not read values.
    fn evaluate_values(&self, _values: &Values, _out: &mut Vec<f32>) -> bool {
        false
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
    check_values(h, &out, seq.len(), "characters")?;
    Ok(out)
}

/// Evaluates `h` on every timestep of `seq` and checks the result: on its
/// characters, or, for a tokenized sequence, on its tokens. A hypothesis
/// over characters is evaluated on the text and each token takes the value
/// its [`Align`] rule gives: at the token's last character (`last`, the
/// default), its first (`first`), the largest over its characters (`any`),
/// their mean (`mean`; binary: at least half; categorical: the most
/// frequent state). A token that covers no character takes the value at
/// the character before it (at the first character when it opens the text).
pub fn evaluate_steps(h: &dyn Hypothesis, seq: &Sequence) -> Result<Vec<f32>> {
    let err = |message: String| Error::Hypothesis {
        name: h.name().to_string(),
        message,
    };
    if let Some(values) = seq.values() {
        let f = values.features();
        match h.reads_values() {
            Some(i) if i >= f => {
                return Err(err(format!(
                    "reads feature {i}, but the corpus has {f} features (0..{}): name one of them",
                    f - 1
                )))
            }
            Some(_) => {}
            None => {
                return Err(err(
                    "is a hypothesis over characters, but the corpus holds feature vectors: use hypotheses over values (feature, above, crossing, running_mean, running_max, moving_mean, an automaton `over` a feature)".to_string(),
                ))
            }
        }
        let mut out = Vec::with_capacity(values.len());
        h.evaluate_values(values, &mut out);
        check_values(h, &out, values.len(), "timesteps")?;
        return Ok(out);
    }
    if h.reads_values().is_some() {
        return Err(err(
            "reads feature vectors, but the corpus is text: use it on a numeric corpus (a float32 .npy) with a model of `input.encoding: float`".to_string(),
        ));
    }
    let Some(tokens) = seq.tokens() else {
        return evaluate_checked(h, seq.chars());
    };
    let mut out = Vec::with_capacity(tokens.len());
    if !h.evaluate_tokens(seq, tokens, &mut out) {
        let per_char = evaluate_checked(h, seq.chars())?;
        align_values(&per_char, &h.kind(), tokens, &mut out);
    }
    check_values(h, &out, tokens.len(), "tokens")?;
    Ok(out)
}

/// Gives each token a value of `per_char` by the tokens' [`Align`] rule.
fn align_values(per_char: &[f32], kind: &HypothesisKind, tokens: &Tokens, out: &mut Vec<f32>) {
    out.clear();
    let n = per_char.len();
    for &(s, e) in tokens.spans() {
        let (s, e) = (s as usize, (e as usize).min(n));
        let span: &[f32] = if s < e {
            &per_char[s..e]
        } else if n == 0 {
            &[0.0]
        } else {
            let at = s.min(n).saturating_sub(1);
            &per_char[at..=at]
        };
        let last = span[span.len() - 1];
        let categorical = matches!(kind, HypothesisKind::Categorical { .. });
        let v = match tokens.align() {
            Align::Last => last,
            Align::First => span[0],
            Align::Any if categorical => last,
            Align::Any => span.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)),
            Align::Mean => match kind {
                HypothesisKind::Numeric => span.iter().sum::<f32>() / span.len() as f32,
                HypothesisKind::Binary => {
                    let ones = span.iter().filter(|&&v| v == 1.0).count();
                    f32::from(u8::from(2 * ones >= span.len()))
                }
                HypothesisKind::Categorical { .. } => mode(span),
            },
        };
        out.push(v);
    }
}

/// The most frequent value; ties go to the one seen last.
fn mode(span: &[f32]) -> f32 {
    let mut best = (0usize, 0usize, span[span.len() - 1]);
    for (i, &v) in span.iter().enumerate() {
        let count = span.iter().filter(|&&w| w == v).count();
        let last = span.iter().rposition(|&w| w == v).unwrap_or(i);
        if (count, last) > (best.0, best.1) {
            best = (count, last, v);
        }
    }
    best.2
}

fn check_values(h: &dyn Hypothesis, out: &[f32], want: usize, what: &str) -> Result<()> {
    if out.len() != want {
        return Err(Error::Hypothesis {
            name: h.name().to_string(),
            message: format!(
                "gave {} values for a sequence of {want} {what}: it must give one per {}",
                out.len(),
                what.trim_end_matches('s')
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
    Ok(())
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
