//! Verification: evidence beyond correlation, by perturbation
//! ([`perturb`]) and by intervention ([`intervene`]).
//!
//! A unit that correlates with a hypothesis may compute it, or may follow
//! something that merely travels with it (the current character, the
//! column, the position). Verification changes the input and watches the
//! unit.
//!
//! # Perturbation ([`perturb`])
//!
//! The paper's first verification mode: alter the inputs so that the
//! hypothesis changes but nothing else that could explain the unit does,
//! and check that the unit changes with it.
//!
//! 1. **Edits, drawn by proptest.** Each case draws, from its own 32-byte
//!    ChaCha seed (so a case is replayed from its seed, as proptest
//!    persists it), a corpus sequence and an edit of it: substitute, insert
//!    or delete one to three characters at a position. The text put in comes
//!    from the corpus's alphabet and from the hypothesis's *triggers*
//!    ([`Hypothesis::triggers`]: a bracket depth's brackets, a comment's
//!    delimiters, a keyword's word, an automaton's transition symbols).
//! 2. **Only the hypothesis changes.** The edited sequence is aligned with
//!    the original ([`Edit::aligned`]): every timestep after the edit (and,
//!    for a model whose card is not `causal`, before it) reads the same
//!    character in both. An aligned timestep is *informative* when the
//!    hypothesis differs there while the controls do not: the current
//!    input token (always), and the *control hypotheses* (by default the
//!    unit's strongest competing hypotheses, see [`competitors`]). An edit
//!    is informative when it has an informative timestep; the others are
//!    dropped, and counted by reason.
//! 3. **The unit must follow.** Originals and edited sequences are recorded
//!    together, in batches. At each informative timestep the unit's change
//!    `Δu` is divided by its standard deviation on the corpus and signed by
//!    the direction the recording predicts: for a numeric or binary
//!    hypothesis, the sign of the unit's correlation with it times the sign
//!    of the hypothesis's change; for a categorical one, the direction from
//!    the unit's mean in the old state to its mean in the new state. An
//!    edit's *response* is the mean of these over its informative
//!    timesteps: about +1 when the unit moves by one standard deviation the
//!    way the hypothesis says, 0 when it does not move, negative when it
//!    moves the wrong way.
//! 4. **Against control units.** The same responses are computed, on the
//!    same edits, for control units: random units of the layer (each signed
//!    by its own correlation with the hypothesis) and the unit's best
//!    competitor (the other unit that correlates most with the hypothesis;
//!    reported, not tested against, since a second unit may compute the
//!    same thing). A unit that moves with *every* edit gains nothing: its
//!    responses cancel between edits that raise and lower the hypothesis.
//!
//! **Verdict** (over all informative edits, never one):
//! - `inconclusive` with fewer than `min_informative` informative edits
//!   (the reason says how many were drawn and why they were dropped);
//! - `confirmed` when the mean response (the *effect*) is above 0 with a
//!   one-sided t-test p-value (`p_zero`) at most `alpha`, above the best
//!   random control's with a paired one-sided p-value (`p_controls`) at
//!   most `alpha`, and above every random control's; `p_value` is the
//!   larger of the two;
//! - `refuted` when it is not confirmed and the upper end of the 95%
//!   bootstrap interval of (effect − best control's effect) is below
//!   `min_effect` (so the unit's advantage is known to be too small to
//!   matter), or the effect's own interval lies below `min_effect`;
//! - `inconclusive` otherwise (the interval is too wide to tell).
//!
//! A refuted pairing comes with counterexamples: the informative edits
//! where the unit followed least, each shrunk (proptest's
//! [`ValueTree`](proptest::strategy::ValueTree) protocol: cut the sequence
//! from the left and the right around the edit, shorten the edit) while
//! the unit still does not follow, and printed as text. With
//! [`PerturbOptions::regressions`] their seeds are kept in proptest's
//! regression-file format and replayed first on the next run.
//!
//! # Intervention ([`intervene`])
//!
//! The paper's second mode: hold the unit at a value while the model
//! writes freely, and check that what it writes shows the hypothesis.
//!
//! 1. **Forcing, as everything downstream sees it.** The model runs split
//!    at the layer ([`Model::generator`](crate::model::Model::generator)):
//!    each step runs the front (tokens and state → the layer and the next
//!    state), overwrites the unit in the layer's tensor and in the state
//!    output that carries the layer (the card's `state[i].layer`), runs the
//!    back (the layer → logits) on the edited tensor, samples, and feeds
//!    the edited state back. A state-only clamp would miss a unit that the
//!    head reads but that does not pass through the state. A model whose
//!    card names no `state:` (a transformer) runs the whole sequence so far
//!    at every step instead, with the unit held at every position from the
//!    last prompt token on; its prompt and continuation must fit its
//!    context length (`prompt_len` + `steps`).
//! 2. **On and off.** By default from the recording: "on" is the unit's
//!    mean where the hypothesis holds (binary: where it is 1; numeric: its
//!    top decile; categorical: the chosen state), "off" its mean elsewhere.
//! 3. **Conditions, batched.** For each of `samples` prompts (corpus
//!    windows cut to `prompt_len`, drawn with the seed) the model writes
//!    `steps` characters with the unit on, off and unforced, and with each
//!    of `control_units` random units of the layer on and off (their own
//!    values): one ONNX Runtime call per step for all of them. A prompt's
//!    continuations share their random draws (common random numbers), so
//!    conditions differ only where forcing moved the distribution.
//! 4. **The response** of a continuation is the hypothesis (or another one,
//!    the `response`) averaged over the written characters: a rate for a
//!    binary one, a mean for a numeric one, the share of steps in the
//!    state for a categorical one.
//!
//! **Verdict**, over the per-prompt differences on − off:
//! - `inconclusive` when no continuation's response differs from another's
//!   (nothing moved it), or when the interval is too wide to tell;
//! - `confirmed` when the mean difference (the *effect*) is positive with a
//!   one-sided paired t-test p-value (`p_spread`) at most `alpha`, above
//!   every control unit's effect with the paired p-value against the
//!   hardest control (`p_controls`) at most `alpha`; `p_value` is the
//!   larger;
//! - `refuted` when it is not confirmed and the upper end of the effect's
//!   95% bootstrap interval lies below the best control's effect (or 0)
//!   plus `min_effect` standard deviations of the unforced responses.
//!
//! Besides the verdict: the KL divergence of the next-token distribution
//! with the unit held from the unforced one at the first forced step, the
//! tokens whose probability rises and falls most there (what the unit
//! *does* to the output), and a few prompts with their three
//! continuations as text.
//!
//! [`Hypothesis::triggers`]: crate::hypothesis::Hypothesis::triggers

mod codec;
pub mod edit;
mod intervene;
mod persist;
mod perturb;
mod shrink;
mod stats;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

pub use edit::Edit;
pub use intervene::{
    intervene, ControlForce, InterveneOptions, Intervention, Kl, ResponseMeans, SampleText,
    TokenShift, TopTokens, DEFAULT_PROMPT_LEN, DEFAULT_SAMPLES, DEFAULT_STEPS,
};
pub use perturb::{competitors, perturb};

/// A setup error unless `unit` is a unit of the recording `acts` and the
/// recording covers `corpus` row for row.
pub(crate) fn check_subject(
    layer: &str,
    corpus: &crate::Corpus,
    acts: &crate::Activations,
    unit: usize,
) -> crate::Result<()> {
    let n_units = acts.n_units();
    if unit >= n_units {
        return Err(crate::Error::invalid(
            "verify",
            format!(
                "unit {unit} is out of range: layer `{layer}` has {n_units} units (0..{})",
                n_units.saturating_sub(1)
            ),
        ));
    }
    if acts.n_rows() != corpus.timesteps() {
        return Err(crate::Error::invalid(
            "verify",
            format!(
                "the recording has {} rows but the corpus {} timesteps: record `{layer}` over this corpus",
                acts.n_rows(),
                corpus.timesteps()
            ),
        ));
    }
    Ok(())
}

/// The default number of drawn edits.
pub const DEFAULT_CASES: usize = 256;

/// What a verification concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The unit follows the hypothesis, beyond the controls.
    Confirmed,
    /// It does not.
    Refuted,
    /// The evidence cannot tell (too few informative edits, or too wide an interval).
    Inconclusive,
}

impl Verdict {
    /// `confirmed`, `refuted` or `inconclusive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Confirmed => "confirmed",
            Verdict::Refuted => "refuted",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Settings of a perturbation verification.
#[derive(Debug, Clone)]
pub struct PerturbOptions {
    /// Edits to draw (default: `PROPTEST_CASES` when set, else
    /// [`DEFAULT_CASES`]).
    pub cases: usize,
    /// Seed of every draw (edits, control units, bootstrap).
    pub seed: u64,
    /// Random control units (default 8; fewer when the layer is smaller).
    pub control_units: usize,
    /// Fewest informative edits for a verdict other than inconclusive (default 12).
    pub min_informative: usize,
    /// Significance level of `confirmed` (default 0.01).
    pub alpha: f64,
    /// The smallest response (in the unit's standard deviations) that
    /// counts as following (default 0.2); see the module docs.
    pub min_effect: f64,
    /// Counterexamples to shrink and report when refuted (default 3).
    pub counterexamples: usize,
    /// Model runs allowed per counterexample while shrinking (default 200).
    pub shrink_steps: usize,
    /// Bootstrap resamples of the edits for the intervals (default 1000).
    pub bootstrap: usize,
    /// A proptest regression file: seeds in it are replayed first, and the
    /// seeds of new counterexamples are appended (default: none).
    pub regressions: Option<PathBuf>,
    /// Sequences per ONNX Runtime call (default 32).
    pub batch_size: usize,
}

impl Default for PerturbOptions {
    fn default() -> Self {
        PerturbOptions {
            cases: DEFAULT_CASES,
            seed: crate::score::DEFAULT_SEED,
            control_units: 8,
            min_informative: 12,
            alpha: 0.01,
            min_effect: 0.2,
            counterexamples: 3,
            shrink_steps: 200,
            bootstrap: 1000,
            regressions: None,
            batch_size: 32,
        }
    }
}

impl PerturbOptions {
    /// The defaults, with `cases` from `PROPTEST_CASES` when it is set.
    pub fn from_env() -> crate::Result<Self> {
        let mut o = PerturbOptions::default();
        if let Some(n) = cases_from_env()? {
            o.cases = n;
        }
        Ok(o)
    }
}

/// `PROPTEST_CASES`, when set: a positive integer, or a setup error.
pub fn cases_from_env() -> crate::Result<Option<usize>> {
    match std::env::var("PROPTEST_CASES") {
        Ok(v) if !v.trim().is_empty() => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(crate::Error::invalid(
                "PROPTEST_CASES",
                format!(
                    "`{v}` is not a positive integer: unset it or write e.g. PROPTEST_CASES=256"
                ),
            )),
        },
        _ => Ok(None),
    }
}

/// A control unit's mean response on the same edits.
#[derive(Debug, Clone, Serialize)]
pub struct ControlEffect {
    /// The unit's name.
    pub unit: String,
    /// `random` or `competitor`.
    pub role: String,
    /// Its mean response.
    pub effect: f64,
}

/// A shrunk edit on which the unit does not follow the hypothesis.
#[derive(Debug, Clone, Serialize)]
pub struct Counterexample {
    /// The case's seed in proptest's persistence format (`cc <hex>`).
    pub seed: String,
    /// The edit, in words, on `before`.
    pub edit: String,
    /// The (shrunk) original text.
    pub before: String,
    /// The edited text.
    pub after: String,
    /// The timestep shown, in `before`.
    pub timestep: usize,
    /// The same timestep in `after`.
    pub timestep_after: usize,
    /// The character read there (the same in both).
    pub character: String,
    /// The hypothesis there, before and after the edit.
    pub hypothesis_before: f64,
    /// See `hypothesis_before`.
    pub hypothesis_after: f64,
    /// The unit there, before and after the edit.
    pub unit_before: f64,
    /// See `unit_before`.
    pub unit_after: f64,
    /// Which way the unit should have moved (`up` or `down`).
    pub expected: String,
    /// The edit's response (mean over its informative timesteps).
    pub response: f64,
    /// Informative timesteps of the shrunk edit.
    pub informative_timesteps: usize,
    /// Length of the sequence before shrinking.
    pub original_length: usize,
    /// Model runs spent shrinking.
    pub shrink_runs: usize,
}

impl fmt::Display for Counterexample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  {} (shrunk from {} to {} characters; {})",
            self.edit,
            self.original_length,
            self.before.chars().count(),
            self.seed
        )?;
        writeln!(f, "    before: {}", quoted(&self.before))?;
        writeln!(f, "    after:  {}", quoted(&self.after))?;
        write!(
            f,
            "    at {} (after: {}) reading {}: hypothesis {} -> {}, unit {:.4} -> {:.4} (expected {}; response {:+.3})",
            self.timestep,
            self.timestep_after,
            self.character,
            fmt_num(self.hypothesis_before),
            fmt_num(self.hypothesis_after),
            self.unit_before,
            self.unit_after,
            self.expected,
            self.response
        )
    }
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.3}")
    }
}

fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The result of a verification.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// The verdict.
    pub verdict: Verdict,
    /// `perturb`.
    pub mode: String,
    /// The hypothesis verified.
    pub hypothesis: String,
    /// The unit's name.
    pub unit: String,
    /// The unit's index on the layer's last axis.
    pub unit_index: usize,
    /// The layer.
    pub layer: String,
    /// Mean response over the informative edits (see the module docs).
    pub effect: f64,
    /// 95% bootstrap interval of `effect` (over edits).
    pub effect_ci: [f64; 2],
    /// The larger of `p_zero` and `p_controls`.
    pub p_value: f64,
    /// One-sided p-value of effect > 0.
    pub p_zero: f64,
    /// One-sided paired p-value of effect > the best random control's.
    pub p_controls: f64,
    /// 95% bootstrap interval of (effect − the best random control's effect).
    pub advantage_ci: [f64; 2],
    /// Informative edits.
    pub informative: usize,
    /// Informative timesteps over all informative edits.
    pub informative_timesteps: usize,
    /// Edits drawn (replayed ones included).
    pub drawn: usize,
    /// Edits replayed from the regression file.
    pub replayed: usize,
    /// Dropped edits by reason.
    pub dropped: BTreeMap<String, usize>,
    /// Why the verdict is inconclusive (or what refuted it).
    pub reason: Option<String>,
    /// Share of informative timesteps where the unit moved the expected way.
    pub agreement: Option<f64>,
    /// Pearson r of the unit's change and the hypothesis's change over the
    /// informative timesteps, signed as the recording predicts (numeric and
    /// binary hypotheses).
    pub change_correlation: Option<f64>,
    /// Control units and their effects.
    pub controls: Vec<ControlEffect>,
    /// Hypotheses held fixed at informative timesteps (besides the token).
    pub control_hypotheses: Vec<String>,
    /// Shrunk counterexamples (refuted only).
    pub counterexamples: Vec<Counterexample>,
    /// The seed.
    pub seed: u64,
    /// Edits asked for.
    pub cases: usize,
    /// The regression file used, if any.
    pub regressions: Option<String>,
}

impl fmt::Display for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "verify {} of unit {} on `{}` (layer `{}`): {}",
            self.mode, self.unit, self.hypothesis, self.layer, self.verdict
        )?;
        if let Some(r) = &self.reason {
            writeln!(f, "  reason: {r}")?;
        }
        writeln!(
            f,
            "  effect {:+.3} [{:+.3}, {:+.3}] (mean response in unit sd), p {:.2e} (vs 0: {:.2e}, vs controls: {:.2e})",
            self.effect, self.effect_ci[0], self.effect_ci[1], self.p_value, self.p_zero, self.p_controls
        )?;
        let dropped: Vec<String> = self
            .dropped
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        writeln!(
            f,
            "  edits: {} drawn ({} replayed), {} informative ({} timesteps); dropped: {}",
            self.drawn,
            self.replayed,
            self.informative,
            self.informative_timesteps,
            if dropped.is_empty() {
                "none".to_string()
            } else {
                dropped.join(", ")
            }
        )?;
        if let Some(a) = self.agreement {
            write!(f, "  agreement {a:.3}")?;
            if let Some(r) = self.change_correlation {
                write!(f, ", change correlation {r:+.3}")?;
            }
            writeln!(f)?;
        }
        let controls: Vec<String> = self
            .controls
            .iter()
            .map(|c| {
                let tag = if c.role == "competitor" {
                    " (competitor)"
                } else {
                    ""
                };
                format!("{}{tag} {:+.3}", c.unit, c.effect)
            })
            .collect();
        writeln!(f, "  control units: {}", controls.join(", "))?;
        if !self.control_hypotheses.is_empty() {
            writeln!(
                f,
                "  held fixed: the token, {}",
                self.control_hypotheses.join(", ")
            )?;
        }
        if !self.counterexamples.is_empty() {
            writeln!(f, "  counterexamples (shrunk):")?;
            for c in &self.counterexamples {
                writeln!(f, "{c}")?;
            }
        }
        if let Some(r) = &self.regressions {
            writeln!(f, "  regression file: {r}")?;
        }
        Ok(())
    }
}
