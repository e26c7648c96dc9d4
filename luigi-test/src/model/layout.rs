//! How a recorded tensor's axes become batch, time and units
//! ([`LayerLayout`]). Finding it, with a short run of the model, is in
//! `discover.rs`.

use crate::error::{Error, Result};

/// Where the batch and time axes of a recorded tensor are, and how its other
/// axes become units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerLayout {
    /// The graph tensor.
    pub tensor: String,
    /// The tensor's rank.
    pub rank: usize,
    /// Index of the time axis.
    pub time_axis: usize,
    /// Index of the batch axis.
    pub batch_axis: usize,
    /// Unit names, in column order.
    pub units: Vec<String>,
    pub(crate) unit_dims: Vec<usize>,
}

impl LayerLayout {
    /// Offsets of each unit relative to the element at (batch b, time t), and
    /// the strides of batch and time, for a tensor of `shape`.
    pub(crate) fn offsets(&self, shape: &[usize]) -> Result<(Vec<usize>, usize, usize)> {
        if shape.len() != self.rank {
            return Err(Error::invalid(
                format!("recording `{}`", self.tensor),
                format!(
                    "rank changed between runs ({} vs {})",
                    shape.len(),
                    self.rank
                ),
            ));
        }
        let mut strides = vec![1usize; shape.len()];
        for i in (0..shape.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * shape[i + 1];
        }
        let unit_axes: Vec<usize> = (0..self.rank)
            .filter(|a| *a != self.time_axis && *a != self.batch_axis)
            .collect();
        let dims: Vec<usize> = unit_axes.iter().map(|a| shape[*a]).collect();
        if dims != self.unit_dims {
            return Err(Error::invalid(
                format!("recording `{}`", self.tensor),
                format!(
                    "unit axes changed between runs ({dims:?} vs {:?})",
                    self.unit_dims
                ),
            ));
        }
        let n: usize = dims.iter().product();
        let mut offsets = Vec::with_capacity(n);
        let mut idx = vec![0usize; dims.len()];
        for _ in 0..n {
            offsets.push(
                idx.iter()
                    .zip(&unit_axes)
                    .map(|(i, a)| i * strides[*a])
                    .sum(),
            );
            for k in (0..idx.len()).rev() {
                idx[k] += 1;
                if idx[k] < dims[k] {
                    break;
                }
                idx[k] = 0;
            }
        }
        Ok((offsets, strides[self.batch_axis], strides[self.time_axis]))
    }
}

/// True for the recurrent ONNX operators whose `Y` output Luigi reads.
pub(crate) fn is_recurrent(op: &str) -> bool {
    matches!(op, "LSTM" | "GRU" | "RNN")
}
