//! Recorded activations: one row per timestep, one column per unit, with the
//! row index (sequence, position, token) kept.

use ndarray::Array2;

/// Which timestep each row of an activation matrix is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowIndex {
    /// Index of the sequence in the corpus.
    pub sequence: Vec<u32>,
    /// Position (0-based) within the sequence.
    pub position: Vec<u32>,
    /// Token id fed to the model at that position.
    pub token: Vec<i64>,
}

impl RowIndex {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.sequence.len()
    }
    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.sequence.is_empty()
    }
    /// Appends the rows of `other`.
    pub fn extend(&mut self, other: &RowIndex) {
        self.sequence.extend_from_slice(&other.sequence);
        self.position.extend_from_slice(&other.position);
        self.token.extend_from_slice(&other.token);
    }
}

/// Activations of one layer: `timesteps × units`.
///
/// Rows are in corpus order: sequence 0 position 0, 1, …, then sequence 1, …
/// (within one chunk when streamed).
#[derive(Debug, Clone)]
pub struct Activations {
    /// The layer as the user named it (alias or tensor name).
    pub layer: String,
    /// The graph tensor it was read from.
    pub tensor: String,
    /// One name per unit (column), e.g. `17`, or `fwd.17` / `bwd.17` for a
    /// bidirectional layer.
    pub units: Vec<String>,
    /// `timesteps × units`.
    pub values: Array2<f32>,
    /// Which timestep each row is.
    pub rows: RowIndex,
}

impl Activations {
    /// Number of units (columns).
    pub fn n_units(&self) -> usize {
        self.values.ncols()
    }
    /// Number of timesteps (rows).
    pub fn n_rows(&self) -> usize {
        self.values.nrows()
    }
    /// Appends another chunk of the same layer.
    pub fn append(&mut self, other: &Activations) -> crate::Result<()> {
        if other.units.len() != self.units.len() {
            return Err(crate::Error::invalid(
                format!("activations of layer `{}`", self.layer),
                format!(
                    "chunks disagree on the number of units ({} vs {})",
                    self.units.len(),
                    other.units.len()
                ),
            ));
        }
        self.values
            .append(ndarray::Axis(0), other.values.view())
            .map_err(|e| crate::Error::invalid("Activations::append", e.to_string()))?;
        self.rows.extend(&other.rows);
        Ok(())
    }
}
