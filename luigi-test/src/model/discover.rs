//! Finding a layer's [`LayerLayout`] by running the model once.
//!
//! ## How a layer's tensor becomes `timesteps × units`
//! - The sequence output `Y` of an ONNX `LSTM`/`GRU`/`RNN` node is
//!   `[time, directions, batch, hidden]` (or `[batch, time, directions,
//!   hidden]` when the node's `layout` attribute is 1). Units are
//!   `directions × hidden`, named `0…H-1` for one direction and `fwd.i` /
//!   `bwd.i` for a bidirectional layer.
//! - Any other tensor must have a batch axis and a time axis, as its first
//!   two axes in either order. Luigi finds them once per tensor with a probe
//!   run of batch 2 and length 3 (so the two axes cannot be confused); every
//!   remaining axis is flattened, in order, into units named `i` (rank 3) or
//!   `i.j…` (higher ranks); a rank-2 tensor (e.g. a per-step probability
//!   `[batch, time]`) is one unit named `0`.
//! - The last-state outputs `Y_h`/`Y_c` have no time axis and are refused with
//!   a pointer to `Y`.

use crate::error::{Error, Result};
use crate::model::layout::{is_recurrent, LayerLayout};
use crate::model::onnx_model::{Model, OneHotBuffer, ValueTable};

impl Model {
    /// Finds how the tensor's axes map to batch, time and units.
    pub(crate) fn layout(&self, tensor: &str) -> Result<LayerLayout> {
        if let Some(l) = self
            .layouts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(tensor)
        {
            return Ok(l.clone());
        }
        let layout = self.find_layout(tensor)?;
        self.layouts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tensor.to_string(), layout.clone());
        Ok(layout)
    }

    pub(crate) fn find_layout(&self, tensor: &str) -> Result<LayerLayout> {
        let ctx = || format!("layer `{tensor}` of {}", self.path().display());
        // A session of its own, dropped after this one run: the layout is
        // cached, and keeping a session per discovered tensor would hold a
        // copy of the weights for each (12 for a 12-layer `--layer all`).
        let session = self.uncached_session(&[tensor.to_string()])?;
        let (b, t) = (2usize, 3usize);
        let pad = self.card.file.vocabulary.unknown.unwrap_or(0);
        let row = vec![pad; t];
        let ids: Vec<&[i64]> = vec![row.as_slice(); b];
        let mut onehot = OneHotBuffer::default();
        // a float input: zero feature vectors, every "id" pointing at row 0
        let zeros = self.input_features().map(ValueTable::zeros);
        let feeds = self.feeds(&ids, t, None, &mut onehot, zeros.as_ref())?;
        let out = session.run(feeds, &[tensor.to_string()])?;
        let shape = out
            .first()
            .map(|f| f.shape.clone())
            .ok_or_else(|| Error::invalid(ctx(), "no output"))?;
        let recurrent = self
            .graph
            .producer(tensor)
            .filter(|(n, idx)| is_recurrent(&n.op_type) && *idx == 0)
            .map(|(n, _)| n.attributes.get("layout").cloned());
        let (time_axis, batch_axis) = if let Some(layout_attr) = recurrent.clone() {
            let batch_first = matches!(layout_attr, Some(crate::model::graph::Attr::Int(1)));
            if shape.len() != 4 {
                return Err(Error::invalid(
                    ctx(),
                    format!("recurrent output has shape {shape:?}, expected rank 4"),
                ));
            }
            if batch_first {
                (1, 0)
            } else {
                (0, 2)
            }
        } else {
            if shape.len() < 2 {
                return Err(Error::invalid(
                    ctx(),
                    format!("tensor has shape {shape:?} for a batch of {b} sequences of {t} steps; Luigi records tensors with a batch axis and a time axis"),
                ));
            }
            let ta: Vec<usize> = (0..shape.len()).filter(|a| shape[*a] == t).collect();
            let ba: Vec<usize> = (0..shape.len()).filter(|a| shape[*a] == b).collect();
            match (ta.first(), ba.first()) {
                (Some(&ta0), Some(&ba0)) if ta0 < 2 && ba0 < 2 => (ta0, ba0),
                _ => {
                    return Err(Error::invalid(
                        ctx(),
                        format!("cannot find the batch and time axes: for a batch of {b} sequences of {t} steps the tensor's shape is {shape:?}; Luigi expects them to be the first two axes"),
                    ))
                }
            }
        };
        if shape[time_axis] != t || shape[batch_axis] != b {
            return Err(Error::invalid(ctx(), format!("shape {shape:?} does not have the batch ({b}) and time ({t}) axes where expected")));
        }
        let unit_axes: Vec<usize> = (0..shape.len())
            .filter(|a| *a != time_axis && *a != batch_axis)
            .collect();
        let unit_dims: Vec<usize> = unit_axes.iter().map(|a| shape[*a]).collect();
        let n: usize = unit_dims.iter().product();
        if n == 0 {
            return Err(Error::invalid(
                ctx(),
                format!("tensor has no units (shape {shape:?})"),
            ));
        }
        let units: Vec<String> = if unit_dims.is_empty() {
            vec!["0".to_string()]
        } else if recurrent.is_some() {
            let (d, h) = (unit_dims[0], unit_dims[1]);
            (0..d)
                .flat_map(|di| {
                    (0..h).map(move |hi| match (d, di) {
                        (1, _) => hi.to_string(),
                        (2, 0) => format!("fwd.{hi}"),
                        (2, _) => format!("bwd.{hi}"),
                        _ => format!("{di}.{hi}"),
                    })
                })
                .collect()
        } else {
            let mut names = Vec::with_capacity(n);
            let mut idx = vec![0usize; unit_dims.len()];
            for _ in 0..n {
                names.push(
                    idx.iter()
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join("."),
                );
                for k in (0..idx.len()).rev() {
                    idx[k] += 1;
                    if idx[k] < unit_dims[k] {
                        break;
                    }
                    idx[k] = 0;
                }
            }
            names
        };
        Ok(LayerLayout {
            tensor: tensor.to_string(),
            rank: shape.len(),
            time_axis,
            batch_axis,
            units,
            unit_dims,
        })
    }

    /// Unit names of a layer (by alias or tensor name).
    pub fn units(&self, layer: &str) -> Result<Vec<String>> {
        if let Some(members) = self.layer_members(layer)? {
            return self.selection_units(&members);
        }
        let r = self.resolve(layer)?;
        Ok(self.layout(&r.tensor)?.units)
    }
}
