//! Stepwise runs: one token at a time with the recurrent state carried
//! between steps, and a hook that can read and change the state before each
//! step (the ground for interventions and sampling).
//!
//! Needs a card that names its `state:` input/output pairs.

use std::sync::Arc;

use ndarray::Array2;

use crate::activations::{Activations, RowIndex};
use crate::error::{Error, Result};
use crate::model::layout::LayerLayout;
use crate::model::onnx_model::{Model, OneHotBuffer, ResolvedLayer};
use crate::model::session::OrtSession;

/// One recurrent state tensor (batch 1), as fed at the next step.
#[derive(Debug, Clone, PartialEq)]
pub struct StateTensor {
    /// The graph input that takes it.
    pub input: String,
    /// The graph output that gives it.
    pub output: String,
    /// Its shape (batch axis = 1).
    pub shape: Vec<usize>,
    /// Its values, C order.
    pub values: Vec<f32>,
}

/// What one step gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Per requested layer, the units at this step.
    pub layers: Vec<Vec<f32>>,
    /// The logits at this step, when the card names them.
    pub logits: Option<Vec<f32>>,
}

/// A model run one token at a time (batch 1).
pub struct Stepper<'m> {
    model: &'m Model,
    session: Arc<OrtSession>,
    layers: Vec<(ResolvedLayer, LayerLayout)>,
    outputs: Vec<String>,
    state: Vec<StateTensor>,
    logits: bool,
}

impl std::fmt::Debug for Stepper<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stepper")
            .field("model", &self.model.path())
            .field("state", &self.state)
            .finish()
    }
}

impl Model {
    /// Starts a stepwise run recording `layers` at each step (may be empty).
    pub fn stepper(&self, layers: &[&str]) -> Result<Stepper<'_>> {
        if self.card().file.state.is_empty() {
            return Err(Error::Card {
                path: self.card().path.clone(),
                key: "state".to_string(),
                message: "the card names no state inputs/outputs; stepwise runs need them (e.g. `state: [{input: h0, output: hn}, {input: c0, output: cn}]`), and the model must be exported with its recurrent state as inputs and outputs".to_string(),
            });
        }
        let mut resolved = Vec::new();
        for l in layers {
            let r = self.resolve(l)?;
            let layout = self.layout(&r.tensor)?;
            resolved.push((r, layout));
        }
        let mut outputs: Vec<String> = resolved.iter().map(|(r, _)| r.tensor.clone()).collect();
        outputs.extend(self.card().file.state.iter().map(|p| p.output.clone()));
        let logits = self.card().file.logits.clone();
        if let Some(l) = &logits {
            outputs.push(l.clone());
        }
        let session = self.session_for(&outputs)?;
        let mut s = Stepper {
            model: self,
            session,
            layers: resolved,
            outputs,
            state: Vec::new(),
            logits: logits.is_some(),
        };
        s.reset()?;
        Ok(s)
    }
}

impl Stepper<'_> {
    /// Sets every state back to zeros.
    pub fn reset(&mut self) -> Result<()> {
        let mut state = Vec::new();
        for (i, p) in self.model.card().file.state.iter().enumerate() {
            let shape: Vec<usize> = self
                .model
                .state_shape(i, 1)?
                .iter()
                .map(|d| (*d).max(0) as usize)
                .collect();
            let n = shape.iter().product();
            state.push(StateTensor {
                input: p.input.clone(),
                output: p.output.clone(),
                shape,
                values: vec![0.0; n],
            });
        }
        self.state = state;
        Ok(())
    }

    /// The state that the next step will be fed.
    pub fn state(&self) -> &[StateTensor] {
        &self.state
    }

    /// The state, to change before the next step (e.g. force a unit).
    pub fn state_mut(&mut self) -> &mut [StateTensor] {
        &mut self.state
    }

    /// Feeds one character.
    pub fn step(&mut self, c: char) -> Result<Step> {
        let id = self.model.card().token_id(c).ok_or_else(|| Error::Corpus {
            source_name: "stepwise input".to_string(),
            message: format!(
                "character {c:?} is not in the vocabulary of {} and the card sets no `vocabulary.unknown` id",
                self.model.card().path.display()
            ),
        })?;
        self.step_id(id)
    }

    /// Feeds one token id.
    pub fn step_id(&mut self, id: i64) -> Result<Step> {
        let v = self.model.card().vocab_size() as i64;
        if id < 0 || id >= v {
            return Err(Error::invalid(
                "stepwise run",
                format!("token id {id} is outside the vocabulary (0..{v})"),
            ));
        }
        let values: Vec<Vec<f32>> = self.state.iter().map(|s| s.values.clone()).collect();
        let one = [id];
        let mut onehot = OneHotBuffer::default();
        let feeds = self
            .model
            .feeds(&[&one[..]], 1, Some(&values), &mut onehot, None)?;
        let out = self.session.run(feeds, &self.outputs)?;
        let mut layers = Vec::with_capacity(self.layers.len());
        for ((_, layout), f) in self.layers.iter().zip(&out) {
            let (offsets, _, _) = layout.offsets(&f.shape)?;
            layers.push(offsets.iter().map(|o| f.data[*o]).collect());
        }
        let nl = self.layers.len();
        for (i, s) in self.state.iter_mut().enumerate() {
            let f = &out[nl + i];
            if f.data.len() != s.values.len() {
                return Err(Error::invalid(
                    "stepwise run",
                    format!(
                        "state output `{}` has {} values but input `{}` takes {}; check the card's `state:` pairs",
                        s.output,
                        f.data.len(),
                        s.input,
                        s.values.len()
                    ),
                ));
            }
            s.values.copy_from_slice(&f.data);
        }
        let logits = if self.logits {
            out.last().map(|f| f.data.clone())
        } else {
            None
        };
        Ok(Step { layers, logits })
    }

    /// Runs a whole sequence from the current state, calling `hook(t, state)`
    /// before step `t` (it may change the state), and returns each requested
    /// layer's activations (`len × units`, sequence index 0).
    pub fn run<H>(&mut self, seq: &[char], mut hook: H) -> Result<Vec<Activations>>
    where
        H: FnMut(usize, &mut [StateTensor]),
    {
        let mut per_layer: Vec<Vec<f32>> = vec![Vec::new(); self.layers.len()];
        let mut rows = RowIndex::default();
        for (t, c) in seq.iter().enumerate() {
            hook(t, &mut self.state);
            let id = self
                .model
                .card()
                .token_id(*c)
                .ok_or_else(|| Error::Corpus {
                    source_name: "stepwise input".to_string(),
                    message: format!("position {t}: character {c:?} is not in the vocabulary"),
                })?;
            let step = self.step_id(id)?;
            for (acc, l) in per_layer.iter_mut().zip(step.layers) {
                acc.extend(l);
            }
            rows.sequence.push(0);
            rows.position.push(t as u32);
            rows.token.push(id);
        }
        let n = seq.len();
        self.layers
            .iter()
            .zip(per_layer)
            .map(|((r, layout), v)| {
                Ok(Activations {
                    layer: r.name.clone(),
                    tensor: r.tensor.clone(),
                    units: layout.units.clone(),
                    values: Array2::from_shape_vec((n, layout.units.len()), v)
                        .map_err(|e| Error::invalid("stepwise run", e.to_string()))?,
                    rows: rows.clone(),
                })
            })
            .collect()
    }
}
