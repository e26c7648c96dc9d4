//! Rows, chunks and sequences: how hypotheses map to design columns,
//! the checks every chunk passes before it is scored, and how rows are
//! grouped into sequences. Shared by the first pass ([`super::Engine`])
//! and the second ([`super::SecondPass`]).

use std::collections::HashSet;

use ndarray::{ArrayView2, Axis};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::hypothesis::HypothesisKind;

/// How hypotheses map to "design" columns: one column for a numeric or
/// binary hypothesis (its value), one 0/1 column per state for a
/// categorical one.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub kinds: Vec<HypothesisKind>,
    pub offset: Vec<usize>,
    pub width: Vec<usize>,
    pub d: usize,
    /// No categorical hypothesis: the design is the hypothesis values.
    pub simple: bool,
}

impl Layout {
    pub fn new(kinds: Vec<HypothesisKind>) -> Self {
        let mut offset = Vec::with_capacity(kinds.len());
        let mut width = Vec::with_capacity(kinds.len());
        let mut d = 0;
        for k in &kinds {
            let w = match k {
                HypothesisKind::Categorical { states } => states.len(),
                _ => 1,
            };
            offset.push(d);
            width.push(w);
            d += w;
        }
        let simple = !kinds
            .iter()
            .any(|k| matches!(k, HypothesisKind::Categorical { .. }));
        Layout {
            kinds,
            offset,
            width,
            d,
            simple,
        }
    }

    /// Fills `out` with the row-major design of `rows` rows of validated
    /// hypothesis values (`hyps`, row-major) and returns its column sums.
    pub fn design_into(&self, hyps: &[f32], rows: usize, out: &mut Vec<f32>) -> Vec<f64> {
        let k = self.kinds.len();
        out.clear();
        out.resize(rows * self.d, 0.0);
        let mut sums = vec![0.0_f64; self.d];
        if k == 0 {
            return sums;
        }
        for (hrow, orow) in hyps
            .chunks_exact(k)
            .zip(out.chunks_exact_mut(self.d.max(1)))
        {
            for (j, &v) in hrow.iter().enumerate() {
                let col = match self.kinds[j] {
                    HypothesisKind::Categorical { .. } => {
                        orow[self.offset[j] + v as usize] = 1.0;
                        self.offset[j] + v as usize
                    }
                    _ => {
                        orow[self.offset[j]] = v;
                        self.offset[j]
                    }
                };
                sums[col] += f64::from(orow[col]);
            }
        }
        sums
    }
}

/// Checks that a chunk's shapes fit the engine.
pub(crate) fn check_shapes(
    context: &str,
    units: &[String],
    hyps: &[(String, HypothesisKind)],
    acts: ArrayView2<'_, f32>,
    values: ArrayView2<'_, f32>,
    seq_ids: &[u32],
) -> Result<()> {
    if acts.ncols() != units.len() {
        return Err(Error::invalid(
            context,
            format!(
                "activations have {} columns but the engine was created with {} units",
                acts.ncols(),
                units.len()
            ),
        ));
    }
    if values.ncols() != hyps.len() {
        return Err(Error::invalid(
            context,
            format!(
                "hypothesis values have {} columns but the engine was created with {} hypotheses",
                values.ncols(),
                hyps.len()
            ),
        ));
    }
    if values.nrows() != acts.nrows() || seq_ids.len() != acts.nrows() {
        return Err(Error::invalid(
            context,
            format!(
                "row counts differ: {} activation rows, {} hypothesis rows, {} sequence ids; \
                 give one of each per timestep",
                acts.nrows(),
                values.nrows(),
                seq_ids.len()
            ),
        ));
    }
    Ok(())
}

/// Row validity: finite activations; hypothesis values in their kind's range.
#[derive(Debug, Clone)]
pub(crate) struct RowCheck {
    lo: Vec<f32>,
    hi: Vec<f32>,
    whole: Vec<bool>,
}

/// (v + 2^23) − 2^23 == v exactly when 0 ≤ v < 2^23 is a whole number.
const ROUNDER: f32 = 8_388_608.0;

impl RowCheck {
    /// Numeric: finite (NaN fails every comparison); binary: 0 or 1;
    /// categorical: a whole number in 0..states.
    pub fn new(hyps: &[(String, HypothesisKind)]) -> Self {
        let lo = hyps
            .iter()
            .map(|(_, k)| {
                if matches!(k, HypothesisKind::Numeric) {
                    f32::MIN
                } else {
                    0.0
                }
            })
            .collect();
        let hi = hyps
            .iter()
            .map(|(_, k)| match k {
                HypothesisKind::Numeric => f32::MAX,
                HypothesisKind::Binary => 1.0,
                HypothesisKind::Categorical { states } => states.len() as f32 - 1.0,
            })
            .collect();
        let whole = hyps
            .iter()
            .map(|(_, k)| !matches!(k, HypothesisKind::Numeric))
            .collect();
        RowCheck { lo, hi, whole }
    }

    #[inline]
    pub fn acts_ok(row: &[f32]) -> bool {
        row.iter().fold(true, |ok, v| ok & v.is_finite())
    }

    #[inline]
    fn value_ok(&self, j: usize, v: f32) -> bool {
        (v >= self.lo[j]) & (v <= self.hi[j]) & (!self.whole[j] | ((v + ROUNDER) - ROUNDER == v))
    }

    pub fn hyps_ok(&self, row: &[f32]) -> bool {
        let n = row.len().min(self.lo.len());
        let (row, lo, hi, whole) = (&row[..n], &self.lo[..n], &self.hi[..n], &self.whole[..n]);
        let mut ok = true;
        for j in 0..n {
            let v = row[j];
            ok &= (v >= lo[j]) & (v <= hi[j]) & (!whole[j] | ((v + ROUNDER) - ROUNDER == v));
        }
        ok
    }

    /// The error for an activation row that failed [`RowCheck::acts_ok`].
    pub fn act_error(
        context: &str,
        units: &[String],
        row: &[f32],
        global_row: u64,
        seq: u32,
    ) -> Error {
        let (u, v) = row
            .iter()
            .copied()
            .enumerate()
            .find(|(_, v)| !v.is_finite())
            .unwrap_or((0, f32::NAN));
        Error::invalid(
            context,
            format!(
                "activation of unit `{}` (column {u}) is {v} at row {global_row} (sequence {seq}): \
                 activations must be finite; check the model's inputs at that timestep",
                units.get(u).map_or("?", String::as_str)
            ),
        )
    }

    /// The error for a hypothesis row that failed [`RowCheck::hyps_ok`].
    pub fn hyp_error(
        &self,
        hyps: &[(String, HypothesisKind)],
        row: &[f32],
        global_row: u64,
        seq: u32,
    ) -> Error {
        let j = (0..row.len())
            .find(|&j| !self.value_ok(j, row[j]))
            .unwrap_or(0);
        let (name, kind) = &hyps[j];
        let expected = match kind {
            HypothesisKind::Numeric => "a finite number".to_string(),
            HypothesisKind::Binary => "0 or 1".to_string(),
            HypothesisKind::Categorical { states } => format!("a state index 0..{}", states.len()),
        };
        Error::Hypothesis {
            name: name.clone(),
            message: format!(
                "value {} at row {global_row} (sequence {seq}) is not {expected}",
                row[j]
            ),
        }
    }
}

/// Checks one chunk: shapes, finite activations, valid hypothesis values.
/// `first_row` is the global index of the chunk's first row, for messages.
pub(crate) fn check_chunk(
    context: &str,
    units: &[String],
    hyps: &[(String, HypothesisKind)],
    acts: ArrayView2<'_, f32>,
    values: ArrayView2<'_, f32>,
    seq_ids: &[u32],
    first_row: u64,
) -> Result<()> {
    check_shapes(context, units, hyps, acts, values, seq_ids)?;
    if let Some(i) = first_bad_row(acts, RowCheck::acts_ok) {
        let row = acts.row(i).to_vec();
        return Err(RowCheck::act_error(
            context,
            units,
            &row,
            first_row + i as u64,
            seq_ids[i],
        ));
    }
    let check = RowCheck::new(hyps);
    if let Some(i) = first_bad_row(values, |r| check.hyps_ok(r)) {
        let row = values.row(i).to_vec();
        return Err(check.hyp_error(hyps, &row, first_row + i as u64, seq_ids[i]));
    }
    Ok(())
}

/// Index of the first row for which `ok` is false (row ranges checked in
/// parallel).
fn first_bad_row<F>(m: ArrayView2<'_, f32>, ok: F) -> Option<usize>
where
    F: Fn(&[f32]) -> bool + Sync,
{
    let rows = m.nrows();
    if rows == 0 {
        return None;
    }
    let pr = rows.div_ceil(8).max(1);
    let parts: Vec<(usize, ArrayView2<'_, f32>)> = m
        .axis_chunks_iter(Axis(0), pr)
        .enumerate()
        .map(|(i, v)| (i * pr, v))
        .collect();
    let found: Vec<Option<usize>> = parts
        .par_iter()
        .map(|(start, v)| {
            let mut buf = Vec::new();
            for (i, row) in v.rows().into_iter().enumerate() {
                let slice = match row.as_slice() {
                    Some(s) => s,
                    None => {
                        buf.clear();
                        buf.extend(row.iter().copied());
                        &buf[..]
                    }
                };
                if !ok(slice) {
                    return Some(start + i);
                }
            }
            None
        })
        .collect();
    found.into_iter().flatten().next()
}

/// Sequence bookkeeping: contiguity, positions and lengths.
#[derive(Debug, Default, Clone)]
pub(crate) struct SeqTracker {
    current: Option<u32>,
    pos: u32,
    started: HashSet<u32>,
    lengths: Vec<u32>,
}

impl SeqTracker {
    /// Checks that `seq_ids` continues the stream with contiguous sequences.
    pub fn check(&self, context: &str, seq_ids: &[u32], first_row: u64) -> Result<()> {
        let mut current = self.current;
        let mut new: HashSet<u32> = HashSet::new();
        for (i, &s) in seq_ids.iter().enumerate() {
            if Some(s) != current {
                if self.started.contains(&s) || new.contains(&s) {
                    return Err(Error::invalid(
                        context,
                        format!(
                            "sequence {s} reappears at row {} after other sequences: rows of one \
                             sequence must be contiguous (sort rows by sequence)",
                            first_row + i as u64
                        ),
                    ));
                }
                new.insert(s);
                current = Some(s);
            }
        }
        Ok(())
    }

    /// Records one row of sequence `s` and returns its position in the sequence.
    pub fn push(&mut self, s: u32) -> u32 {
        if self.current != Some(s) {
            if self.current.is_some() {
                self.lengths.push(self.pos);
            }
            self.started.insert(s);
            self.current = Some(s);
            self.pos = 0;
        }
        let p = self.pos;
        self.pos += 1;
        p
    }

    /// Lengths of all sequences seen so far, in order, including the open one.
    pub fn lengths(&self) -> Vec<u32> {
        let mut l = self.lengths.clone();
        if self.current.is_some() {
            l.push(self.pos);
        }
        l
    }
}

/// Refuses two columns with one name.
pub(crate) fn check_unique<'a>(what: &str, names: impl Iterator<Item = &'a String>) -> Result<()> {
    let mut seen = HashSet::new();
    for n in names {
        if !seen.insert(n.as_str()) {
            return Err(Error::invalid(
                "Engine::new",
                format!("{what} name `{n}` appears twice: names must be unique"),
            ));
        }
    }
    Ok(())
}
