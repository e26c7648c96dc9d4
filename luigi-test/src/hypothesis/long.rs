//! Hypothesis values of one long sequence, evaluated once over the whole
//! sequence (hypotheses may depend on everything before a step, or after
//! it) and kept in a compact, exact form, to be read out part by part as
//! the recording hands the sequence over in chunks.

use std::ops::Range;

use ndarray::Array2;
use rayon::prelude::*;

use super::{evaluate_steps, HypothesisSet};
use crate::corpus::Sequence;
use crate::error::{Error, Result};

/// One hypothesis's values over a sequence, in the narrowest type that holds
/// every value exactly (bit for bit).
#[derive(Debug, Clone, PartialEq)]
enum Column {
    /// Every value 0.0 or 1.0, and few 1.0s: the steps of the 1.0s.
    Ones(Vec<u32>),
    /// Every value 0.0 or 1.0: one bit per step.
    Bits(Vec<u64>),
    /// Every value a whole number 0..=255.
    U8(Vec<u8>),
    /// Every value a whole number 0..=65,535.
    U16(Vec<u16>),
    /// Anything else.
    F32(Vec<f32>),
}

impl Column {
    fn pack(values: Vec<f32>) -> Column {
        let exact =
            |v: f32, max: f32| v >= 0.0 && v <= max && (v as u32 as f32).to_bits() == v.to_bits();
        let binary = values
            .iter()
            .all(|&v| v.to_bits() == 0f32.to_bits() || v.to_bits() == 1f32.to_bits());
        let ones = values.iter().filter(|&&v| v == 1.0).count();
        if binary && ones * 32 < values.len() && values.len() <= u32::MAX as usize {
            Column::Ones(
                values
                    .iter()
                    .enumerate()
                    .filter(|(_, &v)| v == 1.0)
                    .map(|(i, _)| i as u32)
                    .collect(),
            )
        } else if binary {
            let mut bits = vec![0u64; values.len().div_ceil(64)];
            for (i, v) in values.iter().enumerate() {
                if *v == 1.0 {
                    bits[i / 64] |= 1 << (i % 64);
                }
            }
            Column::Bits(bits)
        } else if values.iter().all(|&v| exact(v, 255.0)) {
            Column::U8(values.iter().map(|&v| v as u8).collect())
        } else if values.iter().all(|&v| exact(v, 65_535.0)) {
            Column::U16(values.iter().map(|&v| v as u16).collect())
        } else {
            Column::F32(values)
        }
    }

    /// Writes the values at `steps` into `out`, one every `stride` floats
    /// (a column of a row-major matrix), which must be zeros.
    fn write(&self, steps: Range<usize>, out: &mut [f32], stride: usize) {
        let mut put = |t: usize, v: f32| out[(t - steps.start) * stride] = v;
        match self {
            Column::Ones(ones) => {
                let from = ones.partition_point(|&t| (t as usize) < steps.start);
                for &t in ones[from..]
                    .iter()
                    .take_while(|&&t| (t as usize) < steps.end)
                {
                    put(t as usize, 1.0);
                }
            }
            Column::Bits(b) => {
                for t in steps.clone() {
                    put(t, ((b[t / 64] >> (t % 64)) & 1) as f32);
                }
            }
            Column::U8(v) => {
                for t in steps.clone() {
                    put(t, f32::from(v[t]));
                }
            }
            Column::U16(v) => {
                for t in steps.clone() {
                    put(t, f32::from(v[t]));
                }
            }
            Column::F32(v) => {
                for t in steps.clone() {
                    put(t, v[t]);
                }
            }
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Column::Ones(o) => o.len() * 4,
            Column::Bits(b) => b.len() * 8,
            Column::U8(v) => v.len(),
            Column::U16(v) => v.len() * 2,
            Column::F32(v) => v.len() * 4,
        }
    }
}

/// A hypothesis set's values over one sequence, read out by steps.
///
/// Memory: per hypothesis 4 bytes per 1.0 for 0/1 values that are mostly 0,
/// else 1 bit per step for 0/1 values, 1 or 2 bytes for
/// small whole numbers, 4 bytes otherwise (a 5,000,000-step sequence: 0.6 MB
/// for a binary hypothesis, 20 MB for a real-valued one), plus, while it is
/// evaluated, 4 bytes per step for each hypothesis being evaluated (one per
/// thread).
#[derive(Debug, Clone)]
pub struct LongValues {
    sequence: usize,
    len: usize,
    columns: Vec<Column>,
}

impl HypothesisSet {
    /// Evaluates every hypothesis on the whole of `seq` (sequence `index` of
    /// its corpus), one hypothesis at a time per thread, and keeps the values
    /// compactly. [`LongValues::rows`] then gives exactly the rows that
    /// [`HypothesisSet::evaluate`] would give for those steps.
    pub fn evaluate_long(&self, index: usize, seq: &Sequence) -> Result<LongValues> {
        let columns: Vec<Column> = (0..self.len())
            .into_par_iter()
            .map(|k| {
                let h = self.item(k).ok_or_else(|| {
                    Error::invalid(
                        "HypothesisSet::evaluate_long",
                        "internal: column out of range",
                    )
                })?;
                Ok(Column::pack(evaluate_steps(h, seq)?))
            })
            .collect::<Result<_>>()?;
        Ok(LongValues {
            sequence: index,
            len: seq.len(),
            columns,
        })
    }
}

impl LongValues {
    /// The corpus index of the sequence.
    pub fn sequence(&self) -> usize {
        self.sequence
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.columns.iter().map(Column::bytes).sum()
    }

    /// The values at `steps`: `steps.len() × hypotheses`.
    pub fn rows(&self, steps: Range<usize>) -> Result<Array2<f32>> {
        if steps.end > self.len || steps.start > steps.end {
            return Err(Error::invalid(
                "LongValues::rows",
                format!(
                    "steps {steps:?} are outside sequence {} of {} steps",
                    self.sequence, self.len
                ),
            ));
        }
        let k = self.columns.len();
        let mut flat = vec![0f32; steps.len() * k];
        for (c, col) in self.columns.iter().enumerate() {
            if let Some(column) = flat.get_mut(c..) {
                col.write(steps.clone(), column, k);
            }
        }
        Array2::from_shape_vec((steps.len(), k), flat)
            .map_err(|e| Error::invalid("LongValues::rows", e.to_string()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hypothesis::from_fn;
    use crate::hypothesis::library::{Bracket, CharIs, Column as ColumnH, Position};
    use crate::hypothesis::HypothesisKind;

    #[test]
    fn parts_equal_the_whole_evaluation_bit_for_bit() {
        let mut set = HypothesisSet::new();
        set.add(CharIs::new('(')).unwrap();
        set.add(Bracket::depth('(').unwrap()).unwrap();
        set.add(ColumnH::new()).unwrap();
        set.add(Position::new()).unwrap();
        set.add(from_fn("wave", HypothesisKind::Numeric, |s| {
            (0..s.len())
                .map(|i| (i as f32 * 0.37).sin() * 1e30 - 0.0)
                .collect()
        }))
        .unwrap();
        set.add(from_fn("neg", HypothesisKind::Numeric, |s| {
            (0..s.len()).map(|i| -((i % 3) as f32)).collect()
        }))
        .unwrap();
        let text: String = "int f(a) {\n  (x((y)))\n}\n"
            .chars()
            .cycle()
            .take(70_001)
            .collect();
        let seq = Sequence::new(&text);
        let whole = set.evaluate(std::slice::from_ref(&seq)).unwrap();
        let long = set.evaluate_long(3, &seq).unwrap();
        assert_eq!(long.sequence(), 3);
        for part in [0..1, 0..64, 63..65, 1000..5000, 69_000..70_001] {
            let got = long.rows(part.clone()).unwrap();
            let want = whole.slice_axis(ndarray::Axis(0), ndarray::Slice::from(part.clone()));
            let same = got
                .iter()
                .zip(want.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "part {part:?}");
        }
        // bits for char((), a byte for depth and column, f32 for the
        // position (past 65,535) and the two real-valued closures
        assert_eq!(
            long.bytes(),
            70_001_usize.div_ceil(64) * 8 + 2 * 70_001 + 3 * 4 * 70_001
        );
        // a rare 1.0: its steps only
        let mut rare = HypothesisSet::new();
        rare.add(CharIs::new('}')).unwrap(); // 1 step in 24: bits
        rare.add(CharIs::new('#')).unwrap(); // never: nothing
        rare.add(from_fn("every100", HypothesisKind::Binary, |s| {
            (0..s.len())
                .map(|i| f32::from(u8::from(i % 100 == 0)))
                .collect()
        }))
        .unwrap();
        let long = rare.evaluate_long(0, &seq).unwrap();
        assert_eq!(long.bytes(), 70_001_usize.div_ceil(64) * 8 + 4 * 701);
        let whole = rare.evaluate(std::slice::from_ref(&seq)).unwrap();
        for part in [0..1, 22..23, 23..70_001, 5..69_000] {
            let got = long.rows(part.clone()).unwrap();
            let want = whole.slice_axis(ndarray::Axis(0), ndarray::Slice::from(part.clone()));
            assert_eq!(got, want, "part {part:?}");
        }
        assert!(long.rows(70_000..70_002).is_err());
    }

    #[test]
    fn a_bad_value_is_the_same_error_as_in_a_whole_evaluation() {
        let mut set = HypothesisSet::new();
        set.add(from_fn("half", HypothesisKind::Binary, |s| {
            vec![0.5; s.len()]
        }))
        .unwrap();
        let seq = Sequence::new("abc");
        let a = set
            .evaluate(std::slice::from_ref(&seq))
            .unwrap_err()
            .to_string();
        let b = set.evaluate_long(0, &seq).unwrap_err().to_string();
        assert_eq!(a, b);
    }
}
