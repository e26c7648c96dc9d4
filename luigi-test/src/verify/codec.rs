//! A numeric corpus as symbols, so that perturbation's edits (which work on
//! characters) substitute, insert and delete feature vectors the corpus
//! holds.

use std::collections::BTreeMap;

use crate::corpus::values::Values;
use crate::corpus::Corpus;
use crate::error::{Error, Result};

/// A numeric corpus as symbols: each distinct feature vector of the corpus
/// is one private-use character, so that edits (substitute, insert, delete
/// a timestep) draw from the vectors the corpus holds.
pub(crate) struct Codec {
    features: usize,
    vectors: Vec<Vec<f32>>,
    /// Each sequence of the corpus as symbols.
    pub(crate) texts: Vec<Vec<char>>,
}

/// The private-use code points: the BMP's area, then planes 15 and 16.
fn symbol(k: usize) -> Option<char> {
    const BMP: usize = 0xF8FF - 0xE000 + 1;
    const PLANE: usize = 0xFFFFD - 0xF0000 + 1;
    let code = if k < BMP {
        0xE000 + k
    } else if k < BMP + PLANE {
        0xF0000 + (k - BMP)
    } else if k < BMP + 2 * PLANE {
        0x100000 + (k - BMP - PLANE)
    } else {
        return None;
    };
    char::from_u32(code as u32)
}

fn symbol_index(c: char) -> Option<usize> {
    const BMP: usize = 0xF8FF - 0xE000 + 1;
    const PLANE: usize = 0xFFFFD - 0xF0000 + 1;
    let c = c as usize;
    match c {
        0xE000..=0xF8FF => Some(c - 0xE000),
        0xF0000..=0xFFFFD => Some(BMP + c - 0xF0000),
        0x100000..=0x10FFFD => Some(BMP + PLANE + c - 0x100000),
        _ => None,
    }
}

impl Codec {
    /// The symbols of every distinct feature vector of `corpus`.
    pub(crate) fn of(corpus: &Corpus) -> Result<Codec> {
        let features = corpus.features().unwrap_or(1);
        let mut index: BTreeMap<Vec<u32>, usize> = BTreeMap::new();
        let mut vectors = Vec::new();
        let mut texts = Vec::with_capacity(corpus.len());
        for s in corpus.sequences() {
            let Some(v) = s.values() else {
                texts.push(Vec::new());
                continue;
            };
            let mut text = Vec::with_capacity(v.len());
            for row in v.data().chunks_exact(features) {
                let key: Vec<u32> = row.iter().map(|x| x.to_bits()).collect();
                let k = *index.entry(key).or_insert_with(|| {
                    vectors.push(row.to_vec());
                    vectors.len() - 1
                });
                text.push(symbol(k).ok_or_else(|| {
                    Error::invalid(
                        "verify",
                        format!(
                            "the corpus holds more than {k} distinct feature vectors: perturbation draws from at most 137,468; give a shorter corpus",
                        ),
                    )
                })?);
            }
            texts.push(text);
        }
        Ok(Codec {
            features,
            vectors,
            texts,
        })
    }

    /// The feature vectors behind `symbols`.
    pub(crate) fn values(&self, symbols: &[char]) -> Result<Values> {
        let mut data = Vec::with_capacity(symbols.len() * self.features);
        for &c in symbols {
            let v = symbol_index(c)
                .and_then(|k| self.vectors.get(k))
                .ok_or_else(|| {
                    Error::invalid(
                        "verify",
                        "internal: an edit drew a symbol outside the corpus",
                    )
                })?;
            data.extend_from_slice(v);
        }
        Values::new(self.features, data)
    }

    /// The timesteps as text: `[0.1,2] [0.3,0]`.
    pub(crate) fn describe(&self, symbols: &[char]) -> String {
        symbols
            .iter()
            .map(|&c| {
                symbol_index(c)
                    .and_then(|k| self.vectors.get(k))
                    .map(|v| {
                        let xs: Vec<String> = v.iter().map(|x| format!("{x:.3}")).collect();
                        format!("[{}]", xs.join(","))
                    })
                    .unwrap_or_else(|| c.to_string())
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}
