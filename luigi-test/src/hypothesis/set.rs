//! [`HypothesisSet`]: an ordered collection of hypotheses with unique names,
//! evaluated together into one `timesteps × hypotheses` matrix.

use std::collections::BTreeMap;
use std::fmt;

use ndarray::{Array2, Axis};
use rayon::prelude::*;

use super::{evaluate_steps, Hypothesis, HypothesisKind};
use crate::corpus::Sequence;
use crate::error::{Error, Result};

/// Minimum timesteps per tile of [`HypothesisSet::evaluate`] (whole sequences).
const ROW_BLOCK: usize = 4096;
/// Hypotheses per tile of [`HypothesisSet::evaluate`]. Tile sizes are fixed,
/// so the work split (and the reported error, if any) never depends on the
/// number of threads.
const COL_BLOCK: usize = 64;

/// An ordered collection of hypotheses with unique names.
///
/// Column `k` of [`HypothesisSet::evaluate`]'s matrix is the `k`-th
/// hypothesis added.
///
/// ```
/// use luigi_test::hypothesis::{HypothesisSet, library::{CharIs, Position}};
/// use luigi_test::Sequence;
/// let mut set = HypothesisSet::new();
/// set.add(CharIs::new('('))?;
/// set.add(Position::new())?;
/// let h = set.evaluate(&[Sequence::new("a("), Sequence::new("(")])?;
/// assert_eq!(h.shape(), &[3, 2]);
/// assert_eq!(h.column(0).to_vec(), vec![0.0, 1.0, 1.0]);
/// assert_eq!(h.column(1).to_vec(), vec![0.0, 1.0, 0.0]);
/// # Ok::<(), luigi_test::Error>(())
/// ```
#[derive(Default)]
pub struct HypothesisSet {
    items: Vec<Box<dyn Hypothesis>>,
    index: BTreeMap<String, usize>,
}

impl fmt::Debug for HypothesisSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HypothesisSet")
            .field("names", &self.names())
            .finish()
    }
}

impl HypothesisSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A set of the given hypotheses, in order; a duplicate name is an error.
    pub fn from_boxed(items: Vec<Box<dyn Hypothesis>>) -> Result<Self> {
        let mut set = Self::new();
        set.extend(items)?;
        Ok(set)
    }

    /// Appends a hypothesis. An empty name, or a name already in the set, is
    /// an error (names identify columns in every report).
    pub fn add<H: Hypothesis + 'static>(&mut self, h: H) -> Result<()> {
        self.add_boxed(Box::new(h))
    }

    /// Appends a boxed hypothesis (see [`HypothesisSet::add`]).
    pub fn add_boxed(&mut self, h: Box<dyn Hypothesis>) -> Result<()> {
        let name = h.name().to_string();
        if name.trim().is_empty() {
            return Err(Error::Hypothesis {
                name,
                message: format!(
                    "empty name (hypothesis #{} of the set): give every hypothesis a name",
                    self.items.len()
                ),
            });
        }
        if let Some(&i) = self.index.get(&name) {
            return Err(Error::Hypothesis {
                message: format!(
                    "duplicate name: column {i} of the set already has it; names must be unique, \
                     so rename one or drop the duplicate"
                ),
                name,
            });
        }
        self.index.insert(name, self.items.len());
        self.items.push(h);
        Ok(())
    }

    /// Appends several hypotheses, stopping at the first error.
    pub fn extend<I: IntoIterator<Item = Box<dyn Hypothesis>>>(&mut self, items: I) -> Result<()> {
        for h in items {
            self.add_boxed(h)?;
        }
        Ok(())
    }

    /// Appends every hypothesis of `other` (names must stay unique).
    pub fn append(&mut self, other: HypothesisSet) -> Result<()> {
        self.extend(other.items)
    }

    /// The hypotheses, in column order, taken out of the set.
    pub fn into_boxed(self) -> Vec<Box<dyn Hypothesis>> {
        self.items
    }

    /// The `k`-th hypothesis added.
    pub(crate) fn item(&self, k: usize) -> Option<&dyn Hypothesis> {
        self.items.get(k).map(|h| h.as_ref())
    }

    /// Number of hypotheses.
    pub fn len(&self) -> usize {
        self.items.len()
    }
    /// True when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// Whether a hypothesis called `name` is in the set.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }
    /// The column of the hypothesis called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
    /// The hypothesis called `name`.
    pub fn get(&self, name: &str) -> Option<&dyn Hypothesis> {
        self.index_of(name).map(|i| self.items[i].as_ref())
    }
    /// The hypotheses, in column order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Hypothesis> {
        self.items.iter().map(|h| h.as_ref())
    }
    /// The names, in column order.
    pub fn names(&self) -> Vec<&str> {
        self.items.iter().map(|h| h.name()).collect()
    }
    /// The kinds, in column order.
    pub fn kinds(&self) -> Vec<HypothesisKind> {
        self.items.iter().map(|h| h.kind()).collect()
    }

    /// Evaluates every hypothesis on every sequence.
    ///
    /// Returns a `timesteps × hypotheses` matrix in standard (row-major)
    /// layout: rows are the timesteps of `seqs` concatenated in order
    /// (sequence 0 position 0, 1, …, then sequence 1, …, as in
    /// [`crate::Activations`]), columns the hypotheses in set order. Every
    /// value is checked by [`evaluate_steps`](super::evaluate_steps) (length, finiteness, binary
    /// 0/1, categorical range); the first failure in (row block, column
    /// block, sequence, hypothesis) order is returned.
    ///
    /// The work is split into fixed tiles — runs of whole sequences of at
    /// least 4,096 timesteps × 64 hypotheses — evaluated in parallel
    /// (rayon). The split depends only on the inputs and every value is
    /// computed by exactly one call, so the result is identical for any
    /// number of threads.
    pub fn evaluate(&self, seqs: &[Sequence]) -> Result<Array2<f32>> {
        let total: usize = seqs.iter().map(Sequence::len).sum();
        let k = self.items.len();
        let mut out = Array2::<f32>::zeros((total, k));
        if k == 0 || total == 0 {
            return Ok(out);
        }
        // Row blocks: runs of whole sequences with at least ROW_BLOCK timesteps.
        let mut blocks: Vec<(usize, usize, usize)> = Vec::new(); // (first seq, end seq, rows)
        let mut start = 0;
        let mut rows = 0;
        for (i, s) in seqs.iter().enumerate() {
            rows += s.len();
            if rows >= ROW_BLOCK || i + 1 == seqs.len() {
                blocks.push((start, i + 1, rows));
                start = i + 1;
                rows = 0;
            }
        }
        let mut tasks = Vec::new();
        let mut rest = out.view_mut();
        for &(first, end, rows) in &blocks {
            let (block, tail) = rest.split_at(Axis(0), rows);
            rest = tail;
            let mut cols = block;
            let mut c0 = 0;
            while cols.ncols() > 0 {
                let w = cols.ncols().min(COL_BLOCK);
                let (tile, more) = cols.split_at(Axis(1), w);
                tasks.push((first..end, c0..c0 + w, tile));
                cols = more;
                c0 += w;
            }
        }
        let results: Vec<Result<()>> = tasks
            .into_par_iter()
            .map(|(seq_range, col_range, mut tile)| {
                let hs = &self.items[col_range];
                let mut rows = tile.rows_mut().into_iter();
                for seq in &seqs[seq_range] {
                    if seq.is_empty() {
                        continue;
                    }
                    let cols: Vec<Vec<f32>> = hs
                        .iter()
                        .map(|h| evaluate_steps(h.as_ref(), seq))
                        .collect::<Result<_>>()?;
                    // Row by row, so each write fills one contiguous run of the tile.
                    for t in 0..seq.len() {
                        let Some(mut row) = rows.next() else {
                            return Err(Error::invalid(
                                "HypothesisSet::evaluate",
                                "internal error: tile has fewer rows than its sequences",
                            ));
                        };
                        for (dst, col) in row.iter_mut().zip(&cols) {
                            *dst = col[t];
                        }
                    }
                }
                Ok(())
            })
            .collect();
        for r in results {
            r?;
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hypothesis::from_fn;
    use crate::hypothesis::library::{Bracket, CharIs, Column, Position};

    fn seqs(texts: &[&str]) -> Vec<Sequence> {
        texts.iter().map(|t| Sequence::new(t)).collect()
    }

    #[test]
    fn duplicate_and_empty_names_are_errors() {
        let mut set = HypothesisSet::new();
        set.add(CharIs::new('a')).unwrap();
        let e = set.add(CharIs::new('a')).unwrap_err().to_string();
        assert!(
            e.contains("char(a)") && e.contains("duplicate name") && e.contains("column 0"),
            "{e}"
        );
        let e = set
            .add(from_fn("", HypothesisKind::Binary, |s| vec![0.0; s.len()]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty name"), "{e}");
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn evaluate_concatenates_rows_in_order() {
        let mut set = HypothesisSet::new();
        set.add(Bracket::depth('(').unwrap()).unwrap();
        set.add(Column).unwrap();
        set.add(Position).unwrap();
        assert_eq!(set.names(), ["depth(()", "column", "position"]);
        assert_eq!(set.index_of("column"), Some(1));
        assert_eq!(set.kinds()[0], HypothesisKind::Numeric);
        let h = set.evaluate(&seqs(&["((", "", "a)\nb"])).unwrap();
        assert_eq!(h.shape(), &[6, 3]);
        assert_eq!(h.column(0).to_vec(), [1.0, 2.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(h.column(1).to_vec(), [1.0, 2.0, 1.0, 2.0, 0.0, 1.0]);
        assert_eq!(h.column(2).to_vec(), [0.0, 1.0, 0.0, 1.0, 2.0, 3.0]);
    }

    #[test]
    fn evaluate_reports_bad_values() {
        let mut set = HypothesisSet::new();
        set.add(Position).unwrap();
        set.add(from_fn("short", HypothesisKind::Numeric, |_| vec![1.0]))
            .unwrap();
        let e = set.evaluate(&seqs(&["abc"])).unwrap_err().to_string();
        assert!(e.contains("`short`") && e.contains("gave 1 values"), "{e}");
        let mut set = HypothesisSet::new();
        set.add(from_fn("nan", HypothesisKind::Numeric, |s| {
            vec![f32::NAN; s.len()]
        }))
        .unwrap();
        assert!(set.evaluate(&seqs(&["a"])).is_err());
    }

    #[test]
    fn evaluate_is_identical_for_any_thread_count() {
        // > 64 hypotheses and > 4,096 rows, so several tiles in both directions.
        let mut set = HypothesisSet::new();
        for c in "abcdefghijklmnopqrstuvwxyz(){}; \n0123456789".chars() {
            set.add(CharIs::new(c)).unwrap();
        }
        for c in "abcdefghijklmnopqrstuvwxyz".chars() {
            set.add(crate::hypothesis::library::NGram::new(&format!("{c}n")).unwrap())
                .unwrap();
        }
        set.add(Bracket::depth('{').unwrap()).unwrap();
        set.add(Column).unwrap();
        assert!(set.len() > 64);
        let texts: Vec<String> = (0..300)
            .map(|i| format!("int f{i}() {{ return {i}; }}\n// x{i}\n"))
            .collect();
        let seqs: Vec<Sequence> = texts.iter().map(|t| Sequence::new(t)).collect();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| set.evaluate(&seqs).unwrap());
        let four = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap()
            .install(|| set.evaluate(&seqs).unwrap());
        assert_eq!(one, four);
        assert!(one.nrows() > 4096, "{}", one.nrows());
        assert!(one.is_standard_layout());
        // and each column equals its hypothesis evaluated alone
        for (j, h) in set.iter().enumerate() {
            let mut expect = Vec::new();
            for s in &seqs {
                expect.extend(evaluate_steps(h, s).unwrap());
            }
            assert_eq!(one.column(j).to_vec(), expect, "{}", h.name());
        }
    }
}
