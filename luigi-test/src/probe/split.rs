//! Held-out evaluation that cannot leak: rows are assigned to training or
//! test by their *sequence*, never by timestep, so no sequence contributes
//! rows to both sides of a split.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::numeric::rng::{hash64, Rng};

/// How a probe is evaluated on rows it was not trained on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Evaluation {
    /// One split: a random `test_fraction` of the sequences is held out.
    HoldOut {
        /// Fraction of sequences held out, in `(0, 1)`.
        test_fraction: f64,
    },
    /// `folds`-fold cross-validation over sequences; every row is predicted
    /// once by a probe that did not see its sequence.
    KFold {
        /// Number of folds, at least 2.
        folds: usize,
    },
}

impl Default for Evaluation {
    fn default() -> Self {
        Evaluation::HoldOut { test_fraction: 0.2 }
    }
}

impl Evaluation {
    pub(crate) fn validate(&self) -> Result<()> {
        match *self {
            Evaluation::HoldOut { test_fraction } => {
                if !(test_fraction > 0.0 && test_fraction < 1.0) {
                    return Err(Error::invalid(
                        "probe evaluation",
                        format!("test_fraction is {test_fraction}; it must be strictly between 0 and 1 (e.g. 0.2)"),
                    ));
                }
            }
            Evaluation::KFold { folds } => {
                if folds < 2 {
                    return Err(Error::invalid(
                        "probe evaluation",
                        format!("k-fold with {folds} folds; use at least 2 (e.g. 5)"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// One training/test partition of row indices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fold {
    /// Rows the probe is fitted on.
    pub train: Vec<usize>,
    /// Rows it is scored on; no sequence has rows on both sides.
    pub test: Vec<usize>,
}

/// The distinct sequence ids of `sequence_of`, sorted, with each row's rank.
pub(crate) fn sequence_ranks(sequence_of: &[u32]) -> (Vec<u32>, Vec<usize>) {
    let mut ids: BTreeMap<u32, usize> = BTreeMap::new();
    for s in sequence_of {
        ids.entry(*s).or_insert(0);
    }
    for (rank, v) in ids.values_mut().enumerate() {
        *v = rank;
    }
    let ranks = sequence_of.iter().map(|s| ids[s]).collect();
    (ids.into_keys().collect(), ranks)
}

/// Splits rows `0..sequence_of.len()` into folds by sequence (`sequence_of`
/// is [`RowIndex::sequence`](crate::RowIndex)): the split [`fit`](super::fit)
/// uses for the same `evaluation` and seed, e.g. to reproduce a probe with
/// another tool. One fold for a hold-out split, `folds` for k-fold.
pub fn folds(sequence_of: &[u32], evaluation: Evaluation, seed: u64) -> Result<Vec<Fold>> {
    evaluation.validate()?;
    let (ids, rank) = sequence_ranks(sequence_of);
    let n_seq = ids.len();
    let mut perm: Vec<usize> = (0..n_seq).collect();
    Rng::stream(seed, 0x5EED_5B17).shuffle(&mut perm);
    // group_of[sequence rank] = fold number.
    let mut group_of = vec![0usize; n_seq];
    let n_groups = match evaluation {
        Evaluation::HoldOut { test_fraction } => {
            if n_seq < 2 {
                return Err(Error::invalid(
                    "probe evaluation",
                    format!("the rows come from {n_seq} sequence(s); a split by sequence needs at least 2 (record more sequences)"),
                ));
            }
            let n_test = ((test_fraction * n_seq as f64).round() as usize).clamp(1, n_seq - 1);
            for (pos, &s) in perm.iter().enumerate() {
                group_of[s] = usize::from(pos >= n_test);
            }
            1
        }
        Evaluation::KFold { folds } => {
            if n_seq < folds {
                return Err(Error::invalid(
                    "probe evaluation",
                    format!("{folds}-fold cross-validation needs at least {folds} sequences, the rows come from {n_seq}; use fewer folds or more sequences"),
                ));
            }
            for (pos, &s) in perm.iter().enumerate() {
                group_of[s] = pos % folds;
            }
            folds
        }
    };
    let mut out = Vec::with_capacity(n_groups);
    for g in 0..n_groups {
        let mut fold = Fold {
            train: Vec::new(),
            test: Vec::new(),
        };
        for (row, &r) in rank.iter().enumerate() {
            if group_of[r] == g {
                fold.test.push(row);
            } else {
                fold.train.push(row);
            }
        }
        out.push(fold);
    }
    Ok(out)
}

/// Rows of a bootstrap resample of whole sequences (drawn with replacement,
/// as many draws as there are sequences). Copies keep their sequence id, so
/// a later split by sequence keeps all copies of a sequence on one side.
pub(crate) fn resample_sequences(sequence_of: &[u32], rng: &mut Rng) -> Vec<usize> {
    let (ids, rank) = sequence_ranks(sequence_of);
    let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); ids.len()];
    for (row, &r) in rank.iter().enumerate() {
        rows_of[r].push(row);
    }
    let mut rows = Vec::with_capacity(sequence_of.len());
    for _ in 0..ids.len() {
        rows.extend_from_slice(&rows_of[rng.below(ids.len())]);
    }
    rows
}

/// The split of `at_most`'s least-squares read-out (not [`folds`], whose
/// rule differs: the two give the numbers their tests pin). Marks held-out rows: about a third of the sequences (seeded), or, with
/// fewer than 6 sequences, the last third of every sequence.
pub(crate) fn readout_split(seq: &[u32], pos: &[u32], seed: u64) -> (Vec<bool>, &'static str) {
    let mut distinct: Vec<u32> = seq.to_vec();
    distinct.dedup();
    let by_sequence = |s: u32| hash64(seed ^ hash64(u64::from(s))).is_multiple_of(3);
    let held: Vec<bool> = seq.iter().map(|&s| by_sequence(s)).collect();
    let n_held = distinct.iter().filter(|&&s| by_sequence(s)).count();
    if distinct.len() >= 6 && n_held > 0 && n_held < distinct.len() {
        return (held, "a third of the sequences held out (seeded)");
    }
    // Few sequences: hold out the last third of each.
    let mut len = std::collections::BTreeMap::new();
    for (&s, &p) in seq.iter().zip(pos) {
        let e = len.entry(s).or_insert(0u32);
        *e = (*e).max(p + 1);
    }
    let held = seq
        .iter()
        .zip(pos)
        .map(|(s, &p)| {
            let l = len.get(s).copied().unwrap_or(1);
            3 * p >= 2 * l
        })
        .collect();
    (held, "the last third of every sequence held out")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn seqs() -> Vec<u32> {
        // 10 sequences of varied length, interleaved order on purpose.
        (0..95).map(|i| (i * 7 % 10) as u32).collect()
    }

    #[test]
    fn hold_out_never_shares_a_sequence() {
        let s = seqs();
        let f = folds(&s, Evaluation::HoldOut { test_fraction: 0.3 }, 1).unwrap();
        assert_eq!(f.len(), 1);
        let train: BTreeSet<u32> = f[0].train.iter().map(|&r| s[r]).collect();
        let test: BTreeSet<u32> = f[0].test.iter().map(|&r| s[r]).collect();
        assert!(train.is_disjoint(&test));
        assert_eq!(test.len(), 3);
        assert_eq!(f[0].train.len() + f[0].test.len(), s.len());
    }

    #[test]
    fn kfold_tests_each_row_once() {
        let s = seqs();
        let f = folds(&s, Evaluation::KFold { folds: 4 }, 2).unwrap();
        let mut seen = vec![0; s.len()];
        for fold in &f {
            let train: BTreeSet<u32> = fold.train.iter().map(|&r| s[r]).collect();
            for &r in &fold.test {
                seen[r] += 1;
                assert!(!train.contains(&s[r]));
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
    }

    #[test]
    fn too_few_sequences_is_an_error() {
        let e = folds(&[0, 0, 0], Evaluation::default(), 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least 2"), "{e}");
        let e = folds(&[0, 1, 2], Evaluation::KFold { folds: 5 }, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("fewer folds"), "{e}");
        assert!(Evaluation::HoldOut { test_fraction: 1.0 }
            .validate()
            .is_err());
    }

    #[test]
    fn resample_keeps_sequences_whole() {
        let s = seqs();
        let rows = resample_sequences(&s, &mut Rng::new(4));
        // Each drawn sequence comes with all its rows: every sequence's row
        // count in the resample is a multiple of its length.
        let mut count: BTreeMap<u32, usize> = BTreeMap::new();
        for &r in &rows {
            *count.entry(s[r]).or_default() += 1;
        }
        let mut copies = 0;
        for (seq, c) in count {
            let len = s.iter().filter(|&&x| x == seq).count();
            assert_eq!(c % len, 0);
            copies += c / len;
        }
        assert_eq!(copies, 10);
        assert_ne!(rows.len(), 0);
        let again = resample_sequences(&s, &mut Rng::new(4));
        assert_eq!(rows, again);
    }
}
