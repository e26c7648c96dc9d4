//! Verification by intervention: hold the unit while the model writes, and
//! see whether the model writes the hypothesis (see the [module
//! docs](crate::verify)).

use std::fmt;

use serde::Serialize;

use crate::activations::Activations;
use crate::corpus::{Corpus, Sequence};
use crate::error::{Error, Result};
use crate::hypothesis::{evaluate_steps, Hypothesis, HypothesisKind};
use crate::model::generate::{Clamp, Force, GenerateOptions, Request, Sampling};
use crate::model::Model;
use crate::numeric::rng::Rng;

use super::stats::{bootstrap_ci, mean, p_positive};
use super::Verdict;

/// Default continuations per condition.
pub const DEFAULT_SAMPLES: usize = 32;
/// Default tokens generated per continuation.
pub const DEFAULT_STEPS: usize = 48;
/// Default prompt length in characters.
pub const DEFAULT_PROMPT_LEN: usize = 64;

/// Settings of an intervention verification.
#[derive(Debug, Clone)]
pub struct InterveneOptions {
    /// Continuations per condition (default [`DEFAULT_SAMPLES`]).
    pub samples: usize,
    /// Tokens generated per continuation (default [`DEFAULT_STEPS`]).
    pub steps: usize,
    /// Steps with the unit held, from the first (default: all).
    pub force_steps: Option<usize>,
    /// Prompt length in timesteps, characters or tokens (default [`DEFAULT_PROMPT_LEN`]); cut
    /// to the longest corpus sequence when the corpus holds none this long.
    pub prompt_len: usize,
    /// Random control units (default 4; fewer when the layer is smaller).
    pub control_units: usize,
    /// How tokens are drawn (default: temperature 1, no cut).
    pub sampling: Sampling,
    /// The "on" value (default: from the recording, see the module docs).
    pub on: Option<f32>,
    /// The "off" value (default: from the recording).
    pub off: Option<f32>,
    /// For a categorical hypothesis, the state that "on" stands for
    /// (default: the state where the unit's mean differs most from its mean
    /// elsewhere).
    pub state: Option<String>,
    /// Seed of the prompts, the control units and the sampling.
    pub seed: u64,
    /// Significance level of `confirmed` (default 0.01).
    pub alpha: f64,
    /// The smallest effect that matters, in standard deviations of the
    /// unforced responses (default 0.2): `refuted` needs the interval's
    /// upper end below the best control's effect plus this.
    pub min_effect: f64,
    /// Samples shown as text (default 3).
    pub shown: usize,
    /// Bootstrap resamples for the interval (default 1000).
    pub bootstrap: usize,
    /// Where forcing writes (default: the layer and its state).
    pub clamp: Clamp,
}

impl Default for InterveneOptions {
    fn default() -> Self {
        InterveneOptions {
            samples: DEFAULT_SAMPLES,
            steps: DEFAULT_STEPS,
            force_steps: None,
            prompt_len: DEFAULT_PROMPT_LEN,
            control_units: 4,
            sampling: Sampling::default(),
            on: None,
            off: None,
            state: None,
            seed: crate::score::DEFAULT_SEED,
            alpha: 0.01,
            min_effect: 0.2,
            shown: 3,
            bootstrap: 1000,
            clamp: Clamp::Layer,
        }
    }
}

/// Mean response per condition of the verified unit.
#[derive(Debug, Clone, Serialize)]
pub struct ResponseMeans {
    /// Unit held at its "on" value.
    pub on: f64,
    /// Unit held at its "off" value.
    pub off: f64,
    /// Nothing held.
    pub unforced: f64,
}

/// A control unit forced the same way.
#[derive(Debug, Clone, Serialize)]
pub struct ControlForce {
    /// The unit's name.
    pub unit: String,
    /// Its "on" value.
    pub on_value: f32,
    /// Its "off" value.
    pub off_value: f32,
    /// Mean response with it on − with it off.
    pub effect: f64,
}

/// How much a token's probability moved at the first forced step.
#[derive(Debug, Clone, Serialize)]
pub struct TokenShift {
    /// The token, as text.
    pub token: String,
    /// Mean probability unforced.
    pub before: f64,
    /// Mean probability with the unit on.
    pub after: f64,
    /// `after − before`.
    pub delta: f64,
}

/// The tokens whose probability rose and fell most.
#[derive(Debug, Clone, Serialize)]
pub struct TopTokens {
    /// Rose most (largest first).
    pub up: Vec<TokenShift>,
    /// Fell most (largest fall first).
    pub down: Vec<TokenShift>,
}

/// Mean KL divergence of the forced next-token distribution from the
/// unforced one, at the first forced step (nats).
#[derive(Debug, Clone, Serialize)]
pub struct Kl {
    /// Unit on.
    pub on: f64,
    /// Unit off.
    pub off: f64,
}

/// One prompt and its three continuations.
#[derive(Debug, Clone, Serialize)]
pub struct SampleText {
    /// The prompt's last characters.
    pub prompt: String,
    /// With the unit on.
    pub on: String,
    /// With the unit off.
    pub off: String,
    /// With nothing held.
    pub unforced: String,
}

/// The result of an intervention verification.
#[derive(Debug, Clone, Serialize)]
pub struct Intervention {
    /// The verdict.
    pub verdict: Verdict,
    /// `intervene`.
    pub mode: String,
    /// The hypothesis paired with the unit.
    pub hypothesis: String,
    /// What is measured on each continuation.
    pub response: String,
    /// The unit's name.
    pub unit: String,
    /// The unit's column in the layer.
    pub unit_index: usize,
    /// The layer.
    pub layer: String,
    /// The value held for "on".
    pub on_value: f32,
    /// The value held for "off".
    pub off_value: f32,
    /// True when the held value reaches the next step as well as the head:
    /// a state pair of the card carries the layer (`layer:`), or the model
    /// has no state (a transformer, re-run on the whole sequence each step).
    pub state_carried: bool,
    /// Where the values come from (`recording` or `given`).
    pub values_from: String,
    /// For a categorical hypothesis, the state "on" stands for.
    pub state: Option<String>,
    /// Mean response on − off, over samples.
    pub effect: f64,
    /// 95% bootstrap interval of `effect`.
    pub effect_ci: [f64; 2],
    /// The larger of `p_spread` and `p_controls`.
    pub p_value: f64,
    /// One-sided p-value of effect > 0 across samples (paired t-test).
    pub p_spread: f64,
    /// The largest over control units of the one-sided paired p-value of
    /// effect > the control's effect (0 with no control units).
    pub p_controls: f64,
    /// Mean responses.
    pub responses: ResponseMeans,
    /// Control units forced the same way.
    pub controls_effect: Vec<ControlForce>,
    /// KL divergence at the first forced step.
    pub kl: Kl,
    /// Tokens that rose and fell most at the first forced step (unit on).
    pub top_tokens: TopTokens,
    /// A few prompts and continuations.
    pub samples: Vec<SampleText>,
    /// Continuations per condition.
    pub n_samples: usize,
    /// Tokens per continuation.
    pub steps: usize,
    /// Steps with the unit held.
    pub force_steps: usize,
    /// Prompt length used.
    pub prompt_len: usize,
    /// Sampling temperature.
    pub temperature: f32,
    /// Why the verdict is inconclusive, or what refuted it.
    pub reason: Option<String>,
    /// The seed.
    pub seed: u64,
}

/// The value a unit is held at for "on" and "off", from the recording.
fn on_off(
    col: &[f32],
    h: &[f32],
    kind: &HypothesisKind,
    state: Option<usize>,
) -> std::result::Result<(f32, f32), String> {
    let mean_of = |pick: &dyn Fn(f32) -> bool| -> Option<f32> {
        let (s, n) = col
            .iter()
            .zip(h)
            .filter(|(_, y)| pick(**y))
            .fold((0f64, 0usize), |(s, n), (x, _)| (s + f64::from(*x), n + 1));
        (n > 0).then(|| (s / n as f64) as f32)
    };
    match kind {
        HypothesisKind::Binary => match (mean_of(&|y| y > 0.5), mean_of(&|y| y <= 0.5)) {
            (Some(on), Some(off)) => Ok((on, off)),
            _ => Err("the hypothesis is constant on the corpus, so the recording gives no \"on\" and \"off\" values (give --on and --off)".into()),
        },
        HypothesisKind::Numeric => {
            let mut sorted: Vec<f32> = h.to_vec();
            sorted.sort_by(f32::total_cmp);
            let lo = sorted.first().copied().unwrap_or(0.0);
            let q90 = sorted[((sorted.len() as f64 - 1.0) * 0.9).round() as usize];
            let cut = if q90 > lo { q90 } else { f32::INFINITY };
            let on = if cut.is_finite() {
                mean_of(&|y| y >= cut)
            } else {
                mean_of(&|y| y > lo)
            };
            let off = if cut.is_finite() {
                mean_of(&|y| y < cut)
            } else {
                mean_of(&|y| y <= lo)
            };
            match (on, off) {
                (Some(on), Some(off)) => Ok((on, off)),
                _ => Err("the hypothesis is constant on the corpus, so the recording gives no \"on\" and \"off\" values (give --on and --off)".into()),
            }
        }
        HypothesisKind::Categorical { .. } => {
            let s = state.unwrap_or(0) as f32;
            match (mean_of(&|y| y == s), mean_of(&|y| y != s)) {
                (Some(on), Some(off)) => Ok((on, off)),
                _ => Err("the chosen state never occurs on the corpus, or nothing else does (give --on and --off)".into()),
            }
        }
    }
}

/// The state of a categorical hypothesis where `col`'s mean differs most
/// from its mean elsewhere.
fn best_state(col: &[f32], h: &[f32], states: usize) -> usize {
    let total: f64 = col.iter().map(|x| f64::from(*x)).sum();
    let n = col.len() as f64;
    let mut best = (0usize, -1.0f64);
    for s in 0..states {
        let (sum, k) = col
            .iter()
            .zip(h)
            .filter(|(_, y)| **y as usize == s)
            .fold((0f64, 0usize), |(a, k), (x, _)| (a + f64::from(*x), k + 1));
        if k == 0 || k as f64 == n {
            continue;
        }
        let diff = (sum / k as f64 - (total - sum) / (n - k as f64)).abs();
        if diff > best.1 {
            best = (s, diff);
        }
    }
    best.0
}

/// Verifies by intervention that holding `unit` of `layer` makes the model
/// write `hypothesis` (or raise `response`, when given): see the [module
/// docs](crate::verify).
///
/// `acts` is the recording of `layer` over `corpus` (rows in corpus order).
#[allow(clippy::too_many_arguments)]
pub fn intervene(
    model: &Model,
    layer: &str,
    corpus: &Corpus,
    acts: &Activations,
    hypothesis: &dyn Hypothesis,
    response: Option<&dyn Hypothesis>,
    unit: usize,
    opts: &InterveneOptions,
) -> Result<Intervention> {
    super::check_subject(layer, corpus, acts, unit)?;
    if corpus.is_numeric() {
        return Err(Error::invalid(
            "verify",
            "intervention forces a unit while the model writes text; a model of numeric sequences writes none: verify it by perturbation (`mode: perturb`), which edits the feature vectors",
        ));
    }
    // A unit of several layers recorded together is forced on its own layer.
    if let Some((member, sub, local)) = model.narrow_to_member(layer, acts, unit)? {
        return intervene(
            model, &member, corpus, &sub, hypothesis, response, local, opts,
        );
    }
    let n_units = acts.n_units();
    if opts.samples < 2 || opts.steps == 0 || opts.prompt_len == 0 {
        return Err(Error::invalid(
            "verify",
            "intervention needs at least 2 samples, 1 step and a prompt of 1 character",
        ));
    }
    opts.sampling.check()?;
    let generator = model.generator(Some(layer))?;
    let kind = hypothesis.kind();
    let mut h_all = Vec::with_capacity(corpus.timesteps());
    for s in corpus.sequences() {
        h_all.extend(evaluate_steps(hypothesis, s)?);
    }
    let col: Vec<f32> = acts.values.column(unit).to_vec();
    let states: Vec<String> = match &kind {
        HypothesisKind::Categorical { states } => states.clone(),
        _ => Vec::new(),
    };
    let state = match (&opts.state, states.is_empty()) {
        (Some(_), true) => {
            return Err(Error::invalid(
                "verify",
                format!(
                    "--state is for a categorical hypothesis; `{}` is not one",
                    hypothesis.name()
                ),
            ))
        }
        (Some(name), false) => Some(states.iter().position(|s| s == name).ok_or_else(|| {
            Error::invalid(
                "verify",
                format!(
                    "`{name}` is not a state of `{}`; its states are {}",
                    hypothesis.name(),
                    states.join(", ")
                ),
            )
        })?),
        (None, false) => Some(best_state(&col, &h_all, states.len())),
        (None, true) => None,
    };
    let response_h: &dyn Hypothesis = response.unwrap_or(hypothesis);
    if response.is_some() {
        if let HypothesisKind::Categorical { .. } = response_h.kind() {
            return Err(Error::invalid("verify", format!("the response `{}` is categorical; a response must be numeric or binary (its mean over the continuation is measured)", response_h.name())));
        }
    }

    let mut result = Intervention {
        verdict: Verdict::Inconclusive,
        mode: "intervene".to_string(),
        hypothesis: hypothesis.name().to_string(),
        response: response_h.name().to_string(),
        unit: acts.units[unit].clone(),
        unit_index: unit,
        layer: layer.to_string(),
        on_value: 0.0,
        off_value: 0.0,
        state_carried: generator.state_carries_layer(),
        values_from: "recording".to_string(),
        state: state.map(|s| states[s].clone()),
        effect: 0.0,
        effect_ci: [0.0, 0.0],
        p_value: 1.0,
        p_spread: 1.0,
        p_controls: 1.0,
        responses: ResponseMeans {
            on: 0.0,
            off: 0.0,
            unforced: 0.0,
        },
        controls_effect: Vec::new(),
        kl: Kl { on: 0.0, off: 0.0 },
        top_tokens: TopTokens {
            up: Vec::new(),
            down: Vec::new(),
        },
        samples: Vec::new(),
        n_samples: opts.samples,
        steps: opts.steps,
        force_steps: opts.force_steps.unwrap_or(opts.steps).min(opts.steps),
        prompt_len: 0,
        temperature: opts.sampling.temperature,
        reason: None,
        seed: opts.seed,
    };
    let (on, off) = match (opts.on, opts.off) {
        (Some(on), Some(off)) => {
            result.values_from = "given".into();
            (on, off)
        }
        (on, off) => match on_off(&col, &h_all, &kind, state) {
            Ok((a, b)) => {
                if on.is_some() || off.is_some() {
                    result.values_from = "given and recording".into();
                }
                (on.unwrap_or(a), off.unwrap_or(b))
            }
            Err(why) => {
                result.reason = Some(why);
                return Ok(result);
            }
        },
    };
    result.on_value = on;
    result.off_value = off;

    // control units: random units of the layer that vary, each with its own
    // on/off values from the recording
    let mut pool: Vec<usize> = (0..n_units)
        .filter(|&j| j != unit)
        .filter(|&j| {
            let c = acts.values.column(j);
            c.iter().any(|x| *x != c[0])
        })
        .collect();
    let mut rng = Rng::stream(opts.seed, 0x1A7E_57E5);
    rng.shuffle(&mut pool);
    pool.truncate(opts.control_units);
    pool.sort_unstable();
    let mut controls: Vec<(usize, f32, f32)> = Vec::new();
    for j in pool {
        let c: Vec<f32> = acts.values.column(j).to_vec();
        let st = state.map(|_| best_state(&c, &h_all, states.len()));
        if let Ok((a, b)) = on_off(&c, &h_all, &kind, st.or(state)) {
            controls.push((j, a, b));
        }
    }

    // prompts: corpus windows cut to prompt_len, drawn with the seed
    let card = model.card();
    let longest = corpus
        .sequences()
        .iter()
        .map(|s| s.len())
        .max()
        .unwrap_or(0);
    if longest == 0 {
        return Err(Error::invalid(
            "verify",
            format!(
                "corpus `{}` is empty: intervention needs prompts",
                corpus.name()
            ),
        ));
    }
    let plen = opts.prompt_len.min(longest);
    result.prompt_len = plen;
    let eligible: Vec<usize> = (0..corpus.len())
        .filter(|i| corpus.sequences()[*i].len() >= plen)
        .collect();
    let mut prng = Rng::stream(opts.seed, 0x9A0_3A7);
    let mut prompts: Vec<(Sequence, Vec<i64>)> = Vec::with_capacity(opts.samples);
    for _ in 0..opts.samples {
        let si = eligible[prng.below(eligible.len())];
        let seq = &corpus.sequences()[si];
        let start = prng.below(seq.len() - plen + 1);
        prompts.push(prompt_of(card, corpus, si, seq, start, plen)?);
    }

    // conditions: unforced, on, off, then each control on and off
    let mut forces: Vec<Vec<Force>> = vec![
        vec![],
        vec![Force { unit, value: on }],
        vec![Force { unit, value: off }],
    ];
    for (j, a, b) in &controls {
        forces.push(vec![Force {
            unit: *j,
            value: *a,
        }]);
        forces.push(vec![Force {
            unit: *j,
            value: *b,
        }]);
    }
    let n = opts.samples;
    let mut requests = Vec::with_capacity(forces.len() * n);
    for f in &forces {
        for (i, (_, ids)) in prompts.iter().enumerate() {
            requests.push(Request {
                prompt: ids,
                forces: f,
                stream: i as u64,
            });
        }
    }
    let gen = generator.run(
        &requests,
        &GenerateOptions {
            steps: opts.steps,
            force_steps: opts.force_steps,
            sampling: opts.sampling,
            clamp: opts.clamp,
            seed: opts.seed,
        },
    )?;

    // responses
    let target = state.map(|s| s as f32);
    let mut resp = Vec::with_capacity(gen.len());
    for (k, g) in gen.iter().enumerate() {
        let (prompt, ids) = &prompts[k % n];
        let full = card.grown(prompt, ids, &g.tokens)?;
        let v = evaluate_steps(response_h, &full)?;
        let cont = &v[plen.min(v.len())..];
        if cont.is_empty() {
            return Err(Error::invalid(
                "verify",
                "the model generated nothing after the prompt: give `steps` of at least 1",
            ));
        }
        let r = if response.is_none() {
            match target {
                Some(s) => cont.iter().filter(|x| **x == s).count() as f64 / cont.len() as f64,
                None => cont.iter().map(|x| f64::from(*x)).sum::<f64>() / cont.len() as f64,
            }
        } else {
            cont.iter().map(|x| f64::from(*x)).sum::<f64>() / cont.len() as f64
        };
        resp.push(r);
    }
    let cond = |c: usize| &resp[c * n..(c + 1) * n];
    let d: Vec<f64> = cond(1).iter().zip(cond(2)).map(|(a, b)| a - b).collect();
    result.responses = ResponseMeans {
        on: mean(cond(1)),
        off: mean(cond(2)),
        unforced: mean(cond(0)),
    };
    result.effect = mean(&d);
    result.effect_ci = bootstrap_ci(&d, opts.bootstrap, opts.seed, 0x1E7);
    result.p_spread = p_positive(&d);
    let mut p_controls: f64 = 0.0;
    let mut best_control = f64::NEG_INFINITY;
    for (k, (j, a, b)) in controls.iter().enumerate() {
        let dk: Vec<f64> = cond(3 + 2 * k)
            .iter()
            .zip(cond(4 + 2 * k))
            .map(|(x, y)| x - y)
            .collect();
        let ek = mean(&dk);
        best_control = best_control.max(ek);
        let diff: Vec<f64> = d.iter().zip(&dk).map(|(x, y)| x - y).collect();
        p_controls = p_controls.max(p_positive(&diff));
        result.controls_effect.push(ControlForce {
            unit: acts.units[*j].clone(),
            on_value: *a,
            off_value: *b,
            effect: ek,
        });
    }
    result.p_controls = p_controls;
    result.p_value = result.p_spread.max(p_controls);

    // the first forced step: what the unit does to the next-token distribution
    let v = card.vocab_size();
    let mut up = vec![0f64; v];
    let mut before = vec![0f64; v];
    let (mut kl_on, mut kl_off) = (0f64, 0f64);
    let kl = |p: &[f32], q: &[f32]| -> f64 {
        p.iter()
            .zip(q)
            .filter(|(a, _)| **a > 0.0)
            .map(|(a, b)| f64::from(*a) * (f64::from(*a) / f64::from(b.max(1e-30))).ln())
            .sum::<f64>()
    };
    for i in 0..n {
        let (p0, p1, p2) = (
            &gen[i].first_probs,
            &gen[n + i].first_probs,
            &gen[2 * n + i].first_probs,
        );
        kl_on += kl(p1, p0);
        kl_off += kl(p2, p0);
        for t in 0..v.min(p0.len()).min(p1.len()) {
            up[t] += f64::from(p1[t]);
            before[t] += f64::from(p0[t]);
        }
    }
    result.kl = Kl {
        on: kl_on / n as f64,
        off: kl_off / n as f64,
    };
    let mut shifts: Vec<TokenShift> = (0..v)
        .map(|t| TokenShift {
            token: card.token_label(t as i64),
            before: before[t] / n as f64,
            after: up[t] / n as f64,
            delta: (up[t] - before[t]) / n as f64,
        })
        .collect();
    shifts.sort_by(|a, b| b.delta.total_cmp(&a.delta));
    result.top_tokens.up = shifts
        .iter()
        .take(5)
        .filter(|s| s.delta > 0.0)
        .cloned()
        .collect();
    result.top_tokens.down = shifts
        .iter()
        .rev()
        .take(5)
        .filter(|s| s.delta < 0.0)
        .cloned()
        .collect();
    for i in 0..opts.shown.min(n) {
        let (prompt, ids) = &prompts[i];
        let tail: String = {
            let c = prompt.chars();
            c[c.len().saturating_sub(40)..].iter().collect()
        };
        let text = |g: &[i64]| -> Result<String> { Ok(card.continuation(ids, g)?.concat()) };
        result.samples.push(SampleText {
            prompt: tail,
            on: text(&gen[n + i].tokens)?,
            off: text(&gen[2 * n + i].tokens)?,
            unforced: text(&gen[i].tokens)?,
        });
    }

    // the verdict
    let varied = resp.iter().any(|r| *r != resp[0]);
    let unforced_sd = sd(cond(0));
    let scale = if unforced_sd > 0.0 {
        unforced_sd
    } else {
        sd(&resp)
    };
    let beats_controls = controls.is_empty() || result.effect > best_control;
    let best = best_control.max(0.0);
    if !varied {
        result.reason = Some(format!(
            "the response `{}` was {} on every continuation of every condition: nothing forced moved it (longer --steps, other prompts or another --response may)",
            result.response, resp[0]
        ));
    } else if result.effect > 0.0 && result.p_value <= opts.alpha && beats_controls {
        result.verdict = Verdict::Confirmed;
    } else if result.effect_ci[1] < best + opts.min_effect * scale {
        result.verdict = Verdict::Refuted;
        result.reason = Some(if result.effect <= best_control && !controls.is_empty() {
            format!("holding the unit moved `{}` by {:+.4}, no more than a random control unit did ({:+.4})", result.response, result.effect, best_control)
        } else {
            format!("holding the unit on rather than off moved `{}` by {:+.4} [{:+.4}, {:+.4}], below the smallest effect that matters ({:.4} = {} sd of the unforced responses)", result.response, result.effect, result.effect_ci[0], result.effect_ci[1], opts.min_effect * scale, opts.min_effect)
        });
    } else {
        result.reason = Some(format!(
            "the effect {:+.4} [{:+.4}, {:+.4}] is not significant at alpha {} (p {:.2e}) and cannot be ruled out either; more samples may decide",
            result.effect, result.effect_ci[0], result.effect_ci[1], opts.alpha, result.p_value
        ));
    }
    Ok(result)
}

fn sd(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = mean(v);
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

impl fmt::Display for Intervention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "verify intervene of unit {} on `{}` (layer `{}`): {}",
            self.unit, self.hypothesis, self.layer, self.verdict
        )?;
        if let Some(r) = &self.reason {
            writeln!(f, "  reason: {r}")?;
        }
        let state = self
            .state
            .as_ref()
            .map(|s| format!(", state {s}"))
            .unwrap_or_default();
        writeln!(
            f,
            "  held on {:.4} / off {:.4} ({}{state}) for {} of {} steps after a {}-step prompt; {} samples per condition, temperature {}",
            self.on_value, self.off_value, self.values_from, self.force_steps, self.steps, self.prompt_len, self.n_samples, self.temperature
        )?;
        if !self.state_carried {
            writeln!(
                f,
                "  note: no `state:` pair of the card names `{}` under `layer:`; the held value reached the head but not the next step (add `layer: {}` to the pair that carries it)",
                self.layer, self.layer
            )?;
        }
        writeln!(
            f,
            "  response `{}`: on {:.4}, off {:.4}, unforced {:.4}",
            self.response, self.responses.on, self.responses.off, self.responses.unforced
        )?;
        writeln!(
            f,
            "  effect {:+.4} [{:+.4}, {:+.4}] (on − off), p {:.2e} (spread: {:.2e}, vs controls: {:.2e})",
            self.effect, self.effect_ci[0], self.effect_ci[1], self.p_value, self.p_spread, self.p_controls
        )?;
        let controls: Vec<String> = self
            .controls_effect
            .iter()
            .map(|c| format!("{} {:+.4}", c.unit, c.effect))
            .collect();
        writeln!(
            f,
            "  control units: {}",
            if controls.is_empty() {
                "none".to_string()
            } else {
                controls.join(", ")
            }
        )?;
        let shift = |v: &[TokenShift]| -> String {
            v.iter()
                .map(|s| format!("{:?} {:+.3}", s.token, s.delta))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            f,
            "  first forced step: KL on {:.4}, off {:.4} nats; up: {}; down: {}",
            self.kl.on,
            self.kl.off,
            shift(&self.top_tokens.up),
            shift(&self.top_tokens.down)
        )?;
        for (i, s) in self.samples.iter().enumerate() {
            writeln!(f, "  sample {}: prompt …{:?}", i + 1, s.prompt)?;
            writeln!(f, "    on:       {:?}", s.on)?;
            writeln!(f, "    off:      {:?}", s.off)?;
            writeln!(f, "    unforced: {:?}", s.unforced)?;
        }
        Ok(())
    }
}

/// A prompt of `len` timesteps of sequence `si` from `start`: the
/// characters those timesteps cover, as the model reads them, and its ids.
fn prompt_of(
    card: &crate::model::card::Card,
    corpus: &Corpus,
    si: usize,
    seq: &Sequence,
    start: usize,
    len: usize,
) -> Result<(Sequence, Vec<i64>)> {
    match seq.tokens() {
        None => {
            let chars = &seq.chars()[start..start + len];
            let ids = card.encode(chars, corpus.name(), si)?;
            Ok((Sequence::new(&chars.iter().collect::<String>()), ids))
        }
        Some(t) => {
            let (c0, _) = seq.char_span(start);
            let c1 = (start..start + len)
                .map(|i| seq.char_span(i).1)
                .max()
                .unwrap_or(c0);
            let text: String = seq.chars()[c0..c1.max(c0)].iter().collect();
            let window = t.window(start, len, c0 as u32);
            let ids = window.ids().to_vec();
            Ok((Sequence::with_tokens(&text, window)?, ids))
        }
    }
}
