//! Numeric sequences: a corpus of feature vectors (`[N, T, F]` float32 in a
//! `.npy` file, with optional lengths) for a model whose card says
//! `input.encoding: float`. One timestep is one feature vector; hypotheses
//! over values ([`crate::hypothesis::library::Feature`] and its kin) read
//! them.

use std::path::Path;
use std::sync::Arc;

use super::{Corpus, Sequence};
use crate::error::{Error, Result};

/// The feature vectors of one sequence, row-major (`T × F`).
#[derive(Debug, Clone, PartialEq)]
pub struct Values {
    features: usize,
    data: Vec<f32>,
}

// Every value is finite (checked by `Values::new`), so equality is total.
impl Eq for Values {}

impl Values {
    /// `data` holds `T × features` values, one row per timestep; every value
    /// must be finite.
    pub fn new(features: usize, data: Vec<f32>) -> Result<Values> {
        if features == 0 || !data.len().is_multiple_of(features) {
            return Err(Error::invalid(
                "values",
                format!(
                    "{} values do not make rows of {features} features",
                    data.len()
                ),
            ));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid(
                "values",
                format!(
                    "timestep {}, feature {} is {}: give finite values (fill or drop missing ones)",
                    i / features,
                    i % features,
                    data[i]
                ),
            ));
        }
        Ok(Values { features, data })
    }
    /// Features per timestep.
    pub fn features(&self) -> usize {
        self.features
    }
    /// Number of timesteps.
    pub fn len(&self) -> usize {
        self.data.len() / self.features
    }
    /// True when there are no timesteps.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// The values, row-major (`T × F`).
    pub fn data(&self) -> &[f32] {
        &self.data
    }
    /// Feature `f` at every timestep.
    pub fn column(&self, f: usize) -> Vec<f32> {
        self.data
            .chunks_exact(self.features)
            .map(|r| r.get(f).copied().unwrap_or(0.0))
            .collect()
    }
}

impl Corpus {
    /// A corpus of numeric sequences, one per [`Values`].
    pub fn from_values(name: impl Into<String>, sequences: Vec<Values>) -> Result<Corpus> {
        let name = name.into();
        let features = sequences.first().map(Values::features);
        if let Some((i, v)) = sequences
            .iter()
            .enumerate()
            .find(|(_, v)| Some(v.features()) != features)
        {
            return Err(Error::Corpus {
                source_name: name,
                message: format!(
                    "sequence {i} has {} features, sequence 0 has {}: every sequence needs the same features",
                    v.features(),
                    features.unwrap_or(0)
                ),
            });
        }
        let seqs: Vec<Sequence> = sequences
            .into_iter()
            .filter(|v| !v.is_empty())
            .map(|v| Sequence::with_values(Arc::new(v)))
            .collect();
        Corpus::from_sequences(name, seqs)
    }

    /// Reads `[N, T, F]` (or `[N, T]`, one feature) float32 sequences from
    /// an `.npy` file. `lengths` (an int64 `.npy` of `N` lengths, each at
    /// most `T`) cuts each sequence; without it every sequence has `T`
    /// steps. A file `<stem>.lengths.npy` beside the data is used when
    /// `lengths` is not given.
    pub fn load_npy(path: impl AsRef<Path>, lengths: Option<&Path>) -> Result<Corpus> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let err = |message: String| Error::Corpus {
            source_name: name.clone(),
            message,
        };
        let (shape, data) = crate::npy::read::<f32>(path).map_err(|e| {
            err(format!(
                "{e}; a numeric corpus is a float32 array [sequences, time, features] (numpy: `np.save(path, x.astype(np.float32))`)"
            ))
        })?;
        let (n, t, f) = match shape.as_slice() {
            [n, t] => (*n, *t, 1),
            [n, t, f] => (*n, *t, *f),
            other => {
                return Err(err(format!(
                    "has shape {other:?}: give [sequences, time, features] (or [sequences, time] for one feature)"
                )))
            }
        };
        if n == 0 || t == 0 || f == 0 {
            return Err(err(format!(
                "has shape {shape:?}: no sequence, timestep or feature"
            )));
        }
        let beside = path.with_file_name(format!(
            "{}.lengths.npy",
            path.file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default()
        ));
        let lengths_path = lengths
            .map(Path::to_path_buf)
            .or_else(|| beside.is_file().then_some(beside));
        let lengths: Vec<usize> = match &lengths_path {
            None => vec![t; n],
            Some(lp) => {
                let (ls, lv) = crate::npy::read::<i64>(lp).map_err(|e| {
                    err(format!(
                        "lengths {}: {e}; give an int64 array of {n} lengths",
                        lp.display()
                    ))
                })?;
                if ls != [n] {
                    return Err(err(format!(
                        "lengths {} has shape {ls:?}, the data {n} sequences: give one length per sequence",
                        lp.display()
                    )));
                }
                let mut out = Vec::with_capacity(n);
                for (i, &l) in lv.iter().enumerate() {
                    if l < 0 || l as usize > t {
                        return Err(err(format!(
                            "lengths {}: sequence {i} has length {l}, outside 0..={t}",
                            lp.display()
                        )));
                    }
                    out.push(l as usize);
                }
                out
            }
        };
        let mut seqs = Vec::with_capacity(n);
        for (i, &len) in lengths.iter().enumerate() {
            let row = &data[i * t * f..(i * t + len) * f];
            let v = Values::new(f, row.to_vec()).map_err(|e| err(format!("sequence {i}: {e}")))?;
            seqs.push(v);
        }
        Corpus::from_values(name, seqs)
    }

    /// True when the sequences are feature vectors ([`Values`]).
    pub fn is_numeric(&self) -> bool {
        self.sequences.first().is_some_and(|s| s.values().is_some())
    }

    /// Features per timestep of a numeric corpus.
    pub fn features(&self) -> Option<usize> {
        self.sequences
            .first()
            .and_then(|s| s.values())
            .map(Values::features)
    }
}
