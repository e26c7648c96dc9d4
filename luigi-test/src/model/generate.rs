//! Free generation, batched, with units forced while the model samples.
//!
//! [`Model::generator`] runs many sequences at once: each step is one ONNX
//! Runtime call for the whole batch. With a layer to force, the model runs
//! split at that layer: the *front* (tokens
//! and state in → the layer's tensor and the state out), then the forced
//! units are overwritten in the layer's tensor *and* in the state output
//! that carries the layer's last step (the card's `state[i].layer`), then
//! the *back* (the edited layer → logits), so the head and the next step
//! both see the forced value. The cell state (a state pair without
//! `layer:`) is left alone.
//!
//! Sampling is seeded per *stream*: one uniform draw per step from
//! `(seed, stream)`, turned into a token by the inverse of the sampling
//! distribution's cumulative sum. Sequences that share a stream therefore
//! draw the same uniforms (common random numbers): two conditions that
//! differ only in what is forced differ in their samples only where forcing
//! moved the distribution, which makes paired comparisons sharp.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::graph::Dim;
use crate::model::layout::LayerLayout;
use crate::model::onnx_model::{Model, OneHotBuffer, ResolvedLayer};
use crate::model::session::{Feed, Fetched, OrtSession};
use crate::model::split::{back_part, SplitError};
use crate::numeric::rng::Rng;

/// One unit held at a value while the model generates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Force {
    /// The unit's column in the layer (its index among the layer's units).
    pub unit: usize,
    /// The value it is held at.
    pub value: f32,
}

/// How the next token is drawn from the logits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Softmax temperature; 0 takes the most likely token.
    pub temperature: f32,
    /// Keep only the `k` most likely tokens.
    pub top_k: Option<usize>,
    /// Keep the smallest set of most likely tokens whose probability
    /// reaches `p` (nucleus sampling).
    pub top_p: Option<f32>,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 1.0,
            top_k: None,
            top_p: None,
        }
    }
}

impl Sampling {
    /// Checks the settings: temperature finite and ≥ 0, `top_k` ≥ 1,
    /// `top_p` in (0, 1].
    pub fn check(&self) -> Result<()> {
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return Err(Error::invalid(
                "sampling",
                format!(
                    "temperature {} must be a finite number ≥ 0 (0 = most likely token)",
                    self.temperature
                ),
            ));
        }
        if self.top_k == Some(0) {
            return Err(Error::invalid("sampling", "top-k must be at least 1"));
        }
        if let Some(p) = self.top_p {
            if !(p > 0.0 && p <= 1.0) {
                return Err(Error::invalid(
                    "sampling",
                    format!("top-p {p} must be in (0, 1]"),
                ));
            }
        }
        Ok(())
    }
}

/// Where forcing writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clamp {
    /// The layer's tensor (what the head reads) and the state that carries
    /// the layer (what the next step reads): the unit as everything
    /// downstream sees it.
    #[default]
    Layer,
    /// Only the state between steps, as a recurrent-state clamp does. Kept
    /// to show what it misses: a unit that the head reads but that does not
    /// pass through the state is not forced at all.
    StateOnly,
}

/// One sequence to generate.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Prompt token ids (at least one); all requests of a call have the
    /// same prompt length.
    pub prompt: &'a [i64],
    /// Units to hold, from the last prompt token on.
    pub forces: &'a [Force],
    /// The sampling stream (see the module docs).
    pub stream: u64,
}

/// What one sequence gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// The sampled token ids (the continuation, without the prompt).
    pub tokens: Vec<i64>,
    /// The next-token distribution (softmax of the logits, temperature 1)
    /// at the first generated step, after forcing.
    pub first_probs: Vec<f32>,
}

/// Generation settings for [`Generator::run`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenerateOptions {
    /// Tokens to generate per sequence.
    pub steps: usize,
    /// Steps with the forces on (from the first); `None`: all of them.
    pub force_steps: Option<usize>,
    /// How tokens are drawn.
    pub sampling: Sampling,
    /// Where forcing writes.
    pub clamp: Clamp,
    /// Sampling seed.
    pub seed: u64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            steps: 64,
            force_steps: None,
            sampling: Sampling::default(),
            clamp: Clamp::Layer,
            seed: 0,
        }
    }
}

/// Where a state carries the forced layer: state index, and per-unit
/// offsets for each batch item.
#[derive(Debug, Clone)]
struct CarriedState {
    state: usize,
    /// Offset of unit 0 of batch item 0, the batch stride, the unit stride.
    base: usize,
    batch_stride: usize,
    unit_stride: usize,
}

/// A model ready to generate (see the module docs).
pub struct Generator<'m> {
    model: &'m Model,
    layer: Option<(ResolvedLayer, LayerLayout)>,
    front: Arc<OrtSession>,
    front_outputs: Vec<String>,
    back: Option<OrtSession>,
    logits: String,
    logits_layout: LayerLayout,
    batch_axes: Vec<usize>,
}

impl std::fmt::Debug for Generator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("model", &self.model.path())
            .field("layer", &self.layer.as_ref().map(|(r, _)| &r.name))
            .finish()
    }
}

impl Model {
    /// A generator that can force units of `layer` (`None`: free sampling
    /// only). Needs a card with `logits:`; forcing needs the layer to be
    /// carried by a state pair (`layer:` on it) when the model feeds the
    /// layer to the next step, and a head that reads nothing computed
    /// before the layer but the layer.
    ///
    /// A model whose card names no `state:` (a transformer) is run on the
    /// whole sequence so far at every step (no cache): the forced units are
    /// overwritten at every position from the last prompt token on, so the
    /// head and every later position that attends to them see the held
    /// value.
    pub fn generator(&self, layer: Option<&str>) -> Result<Generator<'_>> {
        let card = self.card();
        let card_err = |key: &str, message: String| Error::Card {
            path: card.path.clone(),
            key: key.to_string(),
            message,
        };
        if card.file.state.is_empty() && !card.file.input.causal {
            return Err(card_err("state", "the card names no `state:` pairs and says `input.causal: false`: without state, generation re-runs the whole sequence at every step, which needs a causal model (each step sees only the steps before it). Set `causal: true` if the model is (a transformer with a causal mask), or export the recurrent state as inputs and outputs and name it under `state:`".to_string()));
        }
        let Some(logits) = card.file.logits.clone() else {
            return Err(card_err(
                "logits",
                "the card names no `logits:` output; generation samples the next token from it"
                    .to_string(),
            ));
        };
        let mut batch_axes = Vec::new();
        for (i, p) in card.file.state.iter().enumerate() {
            let axis = self
                .graph()
                .input(&p.input)
                .and_then(|info| info.shape.as_ref())
                .and_then(|s| s.iter().position(|d| !matches!(d, Dim::Fixed(_))));
            match axis {
                Some(a) => batch_axes.push(a),
                None => return Err(card_err(&format!("state[{i}].input"), format!("graph input `{}` has no symbolic batch dim; generation runs many sequences in one batch (export it with a dynamic batch axis)", p.input))),
            }
        }
        let logits_layout = self.layout(&logits)?;
        let states: Vec<String> = card.file.state.iter().map(|p| p.output.clone()).collect();
        let what = self.path().display().to_string();
        let Some(name) = layer else {
            let mut front_outputs = states;
            front_outputs.push(logits.clone());
            let front = self.session_for(&front_outputs)?;
            return Ok(Generator {
                model: self,
                layer: None,
                front,
                front_outputs,
                back: None,
                logits,
                logits_layout,
                batch_axes,
            });
        };
        let resolved = self.resolve(name)?;
        let layout = self.layout(&resolved.tensor)?;
        let back_bytes = back_part(
            self.model_bytes(),
            self.graph(),
            &resolved.tensor,
            &[logits.as_str()],
            crate::model::graph::ElemType::Float,
            layout.rank,
        )
        .map_err(|e| {
            let place = format!("forcing layer `{name}` of {what}");
            match e {
                SplitError::ReadsMore(t, from) => {
                    let list = |v: &[String]| v.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", ");
                    Error::invalid(place, format!(
                        "the logits `{logits}` read more than the layer: also {} (computed from the graph input {}). Forcing needs a head that reads only the layer: force a later layer, or export the model so that its head reads the layer alone",
                        list(&t), list(&from)
                    ))
                }
                SplitError::NotDownstream => {
                    let root = self.graph().view_root(&resolved.tensor);
                    let hint = if root == resolved.tensor {
                        String::new()
                    } else {
                        let alias = card.file.layers.iter().find(|(_, t)| **t == root).map(|(a, _)| format!(" (card alias `{a}`)")).unwrap_or_default();
                        format!(". `{}` is a reshaped copy of `{root}`{alias}, which the rest of the model reads: force that tensor instead", resolved.tensor)
                    };
                    Error::invalid(place, format!("the logits `{logits}` do not depend on `{}`; forcing it cannot change what the model writes{hint}", resolved.tensor))
                }
                SplitError::Subgraph(n) => Error::invalid(place, format!("node `{n}` between the layer and the logits holds a subgraph (If/Loop/Scan); Luigi cannot split such a graph")),
                SplitError::Undecodable => Error::invalid(place, "the model bytes could not be cut at the layer"),
            }
        })?;
        let back = OrtSession::with_threads(
            &back_bytes,
            &format!("{what} (from `{name}` to the logits)"),
            crate::model::session::intra_threads(),
        )?;
        let mut front_outputs = vec![resolved.tensor.clone()];
        front_outputs.extend(states);
        let front = self.session_for(&front_outputs)?;
        Ok(Generator {
            model: self,
            layer: Some((resolved, layout)),
            front,
            front_outputs,
            back: Some(back),
            logits,
            logits_layout,
            batch_axes,
        })
    }
}

impl Generator<'_> {
    /// True when a held value reaches the next step as well as the head: a
    /// `state:` pair of the card carries the forced layer (its `layer:`
    /// key), or the model has no state at all (every step re-runs the
    /// sequence with the value held at each forced position). False
    /// without a layer.
    pub fn state_carries_layer(&self) -> bool {
        let card = self.model.card();
        self.layer.as_ref().is_some_and(|(r, _)| {
            card.file.state.is_empty()
                || card
                    .file
                    .state
                    .iter()
                    .any(|p| p.slot_of(card, &r.name).is_some())
        })
    }

    /// The forced layer's unit names (empty without a layer).
    pub fn units(&self) -> &[String] {
        self.layer.as_ref().map_or(&[], |(_, l)| &l.units)
    }

    /// Where each state pair that carries the forced layer holds it, for a
    /// state of `shape` (batch axis `batch_axis`).
    fn carried(&self, states_shapes: &[Vec<usize>]) -> Result<Vec<CarriedState>> {
        let Some((r, layout)) = &self.layer else {
            return Ok(Vec::new());
        };
        let card = self.model.card();
        let units = layout.units.len();
        let mut out = Vec::new();
        for (i, p) in card.file.state.iter().enumerate() {
            let Some(slot) = p.slot_of(card, &r.name) else {
                continue;
            };
            let shape = &states_shapes[i];
            let ba = self.batch_axes[i];
            let last = shape.len().saturating_sub(1);
            let err = |m: String| Error::Card {
                path: card.path.clone(),
                key: format!("state[{i}].layer"),
                message: m,
            };
            if last == ba || shape.get(last) != Some(&units) {
                return Err(err(format!(
                    "state `{}` has shape {shape:?} (batch axis {ba}); to carry layer `{}` ({units} units) its last axis must hold the units",
                    p.output, r.name
                )));
            }
            let mut strides = vec![1usize; shape.len()];
            for k in (0..last).rev() {
                strides[k] = strides[k + 1] * shape[k + 1];
            }
            let slot_axes: Vec<usize> = (0..last).filter(|a| *a != ba).collect();
            let slots: usize = slot_axes.iter().map(|a| shape[*a]).product();
            if slot >= slots {
                return Err(err(format!(
                    "state `{}` holds {slots} layer(s) but `layer` puts `{}` at position {slot}",
                    p.output, r.name
                )));
            }
            let mut rest = slot;
            let mut base = 0;
            for a in slot_axes.iter().rev() {
                base += (rest % shape[*a]) * strides[*a];
                rest /= shape[*a];
            }
            out.push(CarriedState {
                state: i,
                base,
                batch_stride: strides[ba],
                unit_stride: strides[last],
            });
        }
        Ok(out)
    }

    /// Generates one continuation per request, all in one batch: one
    /// front (and back) call per step.
    pub fn run(&self, requests: &[Request<'_>], opts: &GenerateOptions) -> Result<Vec<Generated>> {
        opts.sampling.check()?;
        let b = requests.len();
        if b == 0 {
            return Ok(Vec::new());
        }
        let card = self.model.card();
        let vocab = card.vocab_size() as i64;
        let plen = requests[0].prompt.len();
        if plen == 0 {
            return Err(Error::invalid(
                "generation",
                "the prompt is empty; give at least one character",
            ));
        }
        for (i, r) in requests.iter().enumerate() {
            if r.prompt.len() != plen {
                return Err(Error::invalid("generation", format!("request {i} has a prompt of {} tokens, request 0 of {plen}; one batch needs one prompt length", r.prompt.len())));
            }
            if let Some(t) = r.prompt.iter().find(|t| **t < 0 || **t >= vocab) {
                return Err(Error::invalid(
                    "generation",
                    format!("token id {t} is outside the vocabulary (0..{vocab})"),
                ));
            }
            let units = self.units().len();
            if let Some(f) = r.forces.iter().find(|f| f.unit >= units) {
                return Err(Error::invalid(
                    "generation",
                    if units == 0 {
                        "forcing needs a layer: name one".to_string()
                    } else {
                        format!(
                            "unit {} is out of range: the layer has {units} units",
                            f.unit
                        )
                    },
                ));
            }
            if let Some(f) = r.forces.iter().find(|f| !f.value.is_finite()) {
                return Err(Error::invalid(
                    "generation",
                    format!(
                        "unit {} would be forced to {}, not a finite number",
                        f.unit, f.value
                    ),
                ));
            }
        }
        if card.file.state.is_empty() {
            return self.run_stateless(requests, opts);
        }
        let ns = card.file.state.len();
        let mut onehot = OneHotBuffer::default();
        // the prompt but its last token, in one call
        let mut state: Option<Vec<Vec<f32>>> = None;
        let mut shapes: Vec<Vec<usize>> = Vec::new();
        let off = usize::from(self.layer.is_some());
        if plen > 1 {
            let ids: Vec<&[i64]> = requests.iter().map(|r| &r.prompt[..plen - 1]).collect();
            let feeds = self.model.feeds(&ids, plen - 1, None, &mut onehot, None)?;
            let out = self.front.run(feeds, &self.front_outputs)?;
            shapes = out[off..off + ns].iter().map(|f| f.shape.clone()).collect();
            state = Some(out[off..off + ns].iter().map(|f| f.data.clone()).collect());
        }
        let mut rngs: Vec<Rng> = requests
            .iter()
            .map(|r| Rng::stream(opts.seed, r.stream))
            .collect();
        let mut current: Vec<i64> = requests.iter().map(|r| r.prompt[plen - 1]).collect();
        let mut results: Vec<Generated> = (0..b)
            .map(|_| Generated {
                tokens: Vec::with_capacity(opts.steps),
                first_probs: Vec::new(),
            })
            .collect();
        let mut carried: Option<Vec<CarriedState>> = None;
        let force_steps = opts.force_steps.unwrap_or(opts.steps);
        for step in 0..opts.steps {
            let ids: Vec<[i64; 1]> = current.iter().map(|t| [*t]).collect();
            let slices: Vec<&[i64]> = ids.iter().map(|x| &x[..]).collect();
            let feeds = self
                .model
                .feeds(&slices, 1, state.as_deref(), &mut onehot, None)?;
            let mut out = self.front.run(feeds, &self.front_outputs)?;
            if shapes.is_empty() {
                shapes = out[off..off + ns].iter().map(|f| f.shape.clone()).collect();
            }
            let logits = match (&self.layer, &self.back) {
                (Some((r, layout)), Some(back)) => {
                    let (offsets, bs, _) = layout.offsets(&out[0].shape)?;
                    let carry = match &carried {
                        Some(c) => c,
                        None => {
                            let c = self.carried(&shapes)?;
                            check_carried(card, &c, &out, &offsets, bs, r)?;
                            carried.insert(c)
                        }
                    };
                    if step < force_steps {
                        for (bi, req) in requests.iter().enumerate() {
                            for f in req.forces {
                                if opts.clamp == Clamp::Layer {
                                    out[0].data[bi * bs + offsets[f.unit]] = f.value;
                                }
                                for c in carry.iter() {
                                    let at = c.base + bi * c.batch_stride + f.unit * c.unit_stride;
                                    out[1 + c.state].data[at] = f.value;
                                }
                            }
                        }
                    }
                    self.head(back, r, out[0].clone())?
                }
                _ => out
                    .pop()
                    .ok_or_else(|| Error::invalid("generation", "no logits fetched"))?,
            };
            let next = self.draw(&logits, 0, step, &opts.sampling, &mut rngs, &mut results)?;
            state = Some(out[off..off + ns].iter().map(|f| f.data.clone()).collect());
            current = next;
        }
        Ok(results)
    }
}

impl Generator<'_> {
    /// [`Generator::run`] for a model without state: every step runs the
    /// whole sequence so far; forced units are held at every position from
    /// the last prompt token on (for the first `force_steps` of them).
    fn run_stateless(
        &self,
        requests: &[Request<'_>],
        opts: &GenerateOptions,
    ) -> Result<Vec<Generated>> {
        if opts.clamp == Clamp::StateOnly && self.layer.is_some() {
            return Err(Error::invalid(
                "generation",
                "the model has no state between steps (its card names no `state:`): a state-only clamp holds nothing; force the layer",
            ));
        }
        let b = requests.len();
        let plen = requests[0].prompt.len();
        let mut seqs: Vec<Vec<i64>> = requests.iter().map(|r| r.prompt.to_vec()).collect();
        let mut rngs: Vec<Rng> = requests
            .iter()
            .map(|r| Rng::stream(opts.seed, r.stream))
            .collect();
        let mut results: Vec<Generated> = (0..b)
            .map(|_| Generated {
                tokens: Vec::with_capacity(opts.steps),
                first_probs: Vec::new(),
            })
            .collect();
        let force_steps = opts.force_steps.unwrap_or(opts.steps);
        let mut onehot = OneHotBuffer::default();
        for step in 0..opts.steps {
            let t = plen + step;
            let ids: Vec<&[i64]> = seqs.iter().map(Vec::as_slice).collect();
            let feeds = self.model.feeds(&ids, t, None, &mut onehot, None)?;
            let mut out = self.front.run(feeds, &self.front_outputs).map_err(|e| {
                Error::invalid(
                    "generation",
                    format!("running {} on {t} tokens failed: {e}. A transformer reads at most its context length (its position table): use a shorter prompt or fewer steps", self.model.path().display()),
                )
            })?;
            let logits = match (&self.layer, &self.back) {
                (Some((r, layout)), Some(back)) => {
                    let (offsets, bs, ts) = layout.offsets(&out[0].shape)?;
                    // Positions plen-1 .. plen-1+step are the steps taken so
                    // far; the first `force_steps` of them are held.
                    let last_forced =
                        (plen - 1 + step).min(plen - 1 + force_steps.saturating_sub(1));
                    if force_steps > 0 {
                        for (bi, req) in requests.iter().enumerate() {
                            for f in req.forces {
                                for pos in plen - 1..=last_forced {
                                    out[0].data[bi * bs + pos * ts + offsets[f.unit]] = f.value;
                                }
                            }
                        }
                    }
                    self.head(back, r, out.swap_remove(0))?
                }
                _ => out
                    .pop()
                    .ok_or_else(|| Error::invalid("generation", "no logits fetched"))?,
            };
            let next = self.draw(
                &logits,
                t - 1,
                step,
                &opts.sampling,
                &mut rngs,
                &mut results,
            )?;
            for (seq, tok) in seqs.iter_mut().zip(next) {
                seq.push(tok);
            }
        }
        Ok(results)
    }

    /// The logits of the back part (the layer → logits) run on the edited
    /// layer tensor.
    fn head(&self, back: &OrtSession, r: &ResolvedLayer, layer: Fetched) -> Result<Fetched> {
        let shape: Vec<i64> = layer.shape.iter().map(|d| *d as i64).collect();
        let mut l = back.run(
            vec![(r.tensor.clone(), Feed::F32(shape, layer.data))],
            std::slice::from_ref(&self.logits),
        )?;
        if l.is_empty() {
            return Err(Error::invalid("generation", "no logits fetched"));
        }
        Ok(l.remove(0))
    }

    /// Draws each sequence's next token from its row of `logits` at time
    /// index `time`, appends it to its result (with the distribution on
    /// the first step) and returns the tokens drawn.
    fn draw(
        &self,
        logits: &Fetched,
        time: usize,
        step: usize,
        sampling: &Sampling,
        rngs: &mut [Rng],
        results: &mut [Generated],
    ) -> Result<Vec<i64>> {
        let (loff, lbs, lts) = self.logits_layout.offsets(&logits.shape)?;
        let mut next = Vec::with_capacity(rngs.len());
        for (bi, (rng, result)) in rngs.iter_mut().zip(results.iter_mut()).enumerate() {
            let row: Vec<f32> = loff
                .iter()
                .map(|o| logits.data[bi * lbs + time * lts + o])
                .collect();
            if row.iter().any(|x| !x.is_finite()) {
                return Err(Error::invalid("generation", format!("the logits at step {step} hold a non-finite value (NaN or infinity); the model or the forced value is broken")));
            }
            if step == 0 {
                result.first_probs = softmax(&row, 1.0);
            }
            let tok = sample(&row, sampling, rng.uniform()) as i64;
            result.tokens.push(tok);
            next.push(tok);
        }
        Ok(next)
    }
}

/// The first step's check that each state carrying the layer really holds
/// its last timestep.
fn check_carried(
    card: &crate::model::card::Card,
    carried: &[CarriedState],
    out: &[crate::model::session::Fetched],
    offsets: &[usize],
    bs: usize,
    r: &ResolvedLayer,
) -> Result<()> {
    let batch = out[0].shape.iter().product::<usize>() / offsets.len().max(1);
    for c in carried {
        let st = &out[1 + c.state];
        let mut worst = 0f32;
        for bi in 0..batch {
            for (u, o) in offsets.iter().enumerate() {
                let a = out[0].data[bi * bs + o];
                let s = st
                    .data
                    .get(c.base + bi * c.batch_stride + u * c.unit_stride)
                    .copied()
                    .unwrap_or(f32::NAN);
                let d = (a - s).abs() / a.abs().max(1.0);
                let d = if d.is_nan() { f32::INFINITY } else { d };
                worst = worst.max(d);
            }
        }
        if worst > 1e-4 {
            let p = &card.file.state[c.state];
            return Err(Error::Card {
                path: card.path.clone(),
                key: format!("state[{}].layer", c.state),
                message: format!(
                    "state output `{}` does not hold layer `{}`'s last step (largest relative difference {worst:.3}); name under `layer:` the layer this state carries, or drop the key",
                    p.output, r.name
                ),
            });
        }
    }
    Ok(())
}

/// Softmax of `logits / temperature`.
pub(crate) fn softmax(logits: &[f32], temperature: f32) -> Vec<f32> {
    let t = temperature.max(1e-6);
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = logits
        .iter()
        .map(|x| f64::from((x - m) / t).exp())
        .collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| (x / s) as f32).collect()
}

/// The token drawn with uniform `u` under `sampling`.
pub(crate) fn sample(logits: &[f32], sampling: &Sampling, u: f64) -> usize {
    let argmax = || {
        logits
            .iter()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, v)| {
                if *v > bv {
                    (i, *v)
                } else {
                    (bi, bv)
                }
            })
            .0
    };
    if sampling.temperature == 0.0 {
        return argmax();
    }
    let p = softmax(logits, sampling.temperature);
    // most likely first (ties by id, so the order is deterministic)
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|a, b| p[*b].total_cmp(&p[*a]).then(a.cmp(b)));
    let mut keep = order.len();
    if let Some(k) = sampling.top_k {
        keep = keep.min(k);
    }
    if let Some(top) = sampling.top_p {
        let mut acc = 0.0f64;
        for (i, id) in order.iter().enumerate().take(keep) {
            acc += f64::from(p[*id]);
            if acc >= f64::from(top) {
                keep = i + 1;
                break;
            }
        }
    }
    let kept = &order[..keep.max(1)];
    let total: f64 = kept.iter().map(|i| f64::from(p[*i])).sum();
    let mut acc = 0.0;
    let target = u * total;
    for id in kept {
        acc += f64::from(p[*id]);
        if target < acc {
            return *id;
        }
    }
    kept[kept.len() - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_follows_the_distribution_and_its_cuts() {
        let logits = [0.0f32, (3f32).ln(), f32::NEG_INFINITY.max(-50.0)];
        let s = Sampling::default();
        // p = [0.25, 0.75, ~0]
        assert_eq!(sample(&logits, &s, 0.1), 1);
        assert_eq!(sample(&logits, &s, 0.8), 0);
        let greedy = Sampling {
            temperature: 0.0,
            ..s
        };
        assert_eq!(sample(&logits, &greedy, 0.99), 1);
        let k1 = Sampling {
            top_k: Some(1),
            ..s
        };
        assert_eq!(sample(&logits, &k1, 0.99), 1);
        let p = Sampling {
            top_p: Some(0.7),
            ..s
        };
        assert_eq!(sample(&logits, &p, 0.99), 1);
        assert!(Sampling {
            temperature: -1.0,
            ..s
        }
        .check()
        .is_err());
        assert!(Sampling {
            top_p: Some(1.5),
            ..s
        }
        .check()
        .is_err());
        let sm = softmax(&[1.0, 1.0], 1.0);
        assert!((sm[0] - 0.5).abs() < 1e-6);
    }
}
