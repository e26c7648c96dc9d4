//! Edits of a corpus sequence, the position map that aligns an edited
//! sequence with its original, and the proptest strategy that draws edits.

use proptest::prelude::*;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::Serialize;

use crate::hypothesis::library::str_label;

/// One edit of one corpus sequence: remove `remove` characters at `pos`
/// and put `insert` there. A substitution removes and inserts, an
/// insertion only inserts, a deletion only removes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edit {
    /// Index of the sequence in the corpus.
    pub sequence: usize,
    /// Character position of the edit in the original sequence.
    pub pos: usize,
    /// Characters removed at `pos`.
    pub remove: usize,
    /// Characters put at `pos`.
    pub insert: Vec<char>,
}

impl Edit {
    /// `substitute`, `insert` or `delete`.
    pub fn kind(&self) -> &'static str {
        match (self.remove, self.insert.len()) {
            (0, _) => "insert",
            (_, 0) => "delete",
            _ => "substitute",
        }
    }

    /// The edit in words, e.g. `insert "(" at 12` or
    /// `substitute "ab" at 3 by "("`.
    pub fn describe(&self, original: &[char]) -> String {
        let end = (self.pos + self.remove).min(original.len());
        let removed = &original[self.pos.min(end)..end];
        match self.kind() {
            "insert" => format!("insert \"{}\" at {}", str_label(&self.insert), self.pos),
            "delete" => format!("delete \"{}\" at {}", str_label(removed), self.pos),
            _ => format!(
                "substitute \"{}\" at {} by \"{}\"",
                str_label(removed),
                self.pos,
                str_label(&self.insert)
            ),
        }
    }

    /// The edited sequence, or `None` when the edit does not fit the
    /// sequence, changes nothing, or leaves it empty.
    pub fn apply(&self, original: &[char]) -> Option<Vec<char>> {
        if self.pos > original.len() || self.pos + self.remove > original.len() {
            return None;
        }
        if original[self.pos..self.pos + self.remove] == self.insert[..] {
            return None;
        }
        let mut out = Vec::with_capacity(original.len() + self.insert.len());
        out.extend_from_slice(&original[..self.pos]);
        out.extend_from_slice(&self.insert);
        out.extend_from_slice(&original[self.pos + self.remove..]);
        (!out.is_empty()).then_some(out)
    }

    /// The aligned timesteps `(t in the original, t' in the edited
    /// sequence)` that read the same character with the same history up to
    /// the edit: those after the edit (`t ≥ pos + remove`,
    /// `t' = t − remove + insert`), and, when `before` is set (a model that
    /// is not causal), those before it (`t' = t`). The edited characters
    /// themselves have no counterpart.
    pub fn aligned(&self, original_len: usize, before: bool) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        if before {
            out.extend((0..self.pos.min(original_len)).map(|t| (t, t)));
        }
        let k = self.insert.len();
        for t in (self.pos + self.remove)..original_len {
            out.push((t, t - self.remove + k));
        }
        out
    }
}

/// What edits are drawn from: the corpus's sequence lengths, its alphabet,
/// and the hypothesis's triggers.
#[derive(Debug, Clone)]
pub(crate) struct EditSpace {
    pub lengths: Vec<usize>,
    pub alphabet: Vec<char>,
    pub triggers: Vec<Vec<char>>,
}

impl EditSpace {
    /// The strategy of one edit (a [`RawEdit`], resolved against the
    /// lengths by [`EditSpace::resolve`]).
    fn strategy(&self) -> impl Strategy<Value = RawEdit> {
        let alphabet = self.alphabet.clone();
        let singles: Vec<Vec<char>> = alphabet.iter().map(|&c| vec![c]).collect();
        let pairs = (
            proptest::sample::select(alphabet.clone()),
            proptest::sample::select(alphabet),
        )
            .prop_map(|(a, b)| vec![a, b]);
        let from_alphabet = prop_oneof![3 => proptest::sample::select(singles), 1 => pairs];
        let text = if self.triggers.is_empty() {
            from_alphabet.boxed()
        } else {
            prop_oneof![
                1 => from_alphabet,
                1 => proptest::sample::select(self.triggers.clone()),
            ]
            .boxed()
        };
        (
            0..self.lengths.len(),
            any::<u32>(),
            prop_oneof![4 => Just(0u8), 3 => Just(1u8), 3 => Just(2u8)],
            1usize..=3,
            text,
        )
            .prop_map(|(sequence, at, op, del, text)| RawEdit {
                sequence,
                at,
                op,
                del,
                text,
            })
    }

    /// Draws the edit of one case from its 32-byte seed (ChaCha, as proptest
    /// persists it), so that a persisted seed replays the same edit.
    pub fn draw(&self, seed: &[u8; 32]) -> Option<Edit> {
        if self.lengths.is_empty() || self.alphabet.is_empty() {
            return None;
        }
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, seed);
        let mut runner = TestRunner::new_with_rng(Config::default(), rng);
        let tree = self.strategy().new_tree(&mut runner).ok()?;
        Some(self.resolve(tree.current()))
    }

    fn resolve(&self, raw: RawEdit) -> Edit {
        let len = self.lengths[raw.sequence];
        match raw.op {
            // substitute: as many characters as the text has (at least one)
            0 if len > 0 => {
                let pos = (raw.at as usize) % len;
                let remove = raw.text.len().min(len - pos).max(1);
                Edit {
                    sequence: raw.sequence,
                    pos,
                    remove,
                    insert: raw.text,
                }
            }
            // delete
            2 if len > 0 => {
                let pos = (raw.at as usize) % len;
                Edit {
                    sequence: raw.sequence,
                    pos,
                    remove: raw.del.min(len - pos),
                    insert: Vec::new(),
                }
            }
            // insert (also the fallback for an empty sequence)
            _ => Edit {
                sequence: raw.sequence,
                pos: (raw.at as usize) % (len + 1),
                remove: 0,
                insert: raw.text,
            },
        }
    }
}

/// An edit as the strategy draws it, before it is fitted to its sequence.
#[derive(Debug, Clone)]
struct RawEdit {
    sequence: usize,
    at: u32,
    /// 0 substitute, 1 insert, 2 delete
    op: u8,
    del: usize,
    text: Vec<char>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn apply_and_align_insertions_deletions_substitutions() {
        let orig = chars("ab(cd)e");
        let ins = Edit {
            sequence: 0,
            pos: 2,
            remove: 0,
            insert: chars("(("),
        };
        let out = ins.apply(&orig).unwrap();
        assert_eq!(out.iter().collect::<String>(), "ab(((cd)e");
        for (t, t2) in ins.aligned(orig.len(), false) {
            assert_eq!(orig[t], out[t2]);
        }
        assert_eq!(ins.aligned(orig.len(), false).first(), Some(&(2, 4)));
        assert_eq!(ins.aligned(orig.len(), true).len(), orig.len());
        let del = Edit {
            sequence: 0,
            pos: 5,
            remove: 1,
            insert: vec![],
        };
        let out = del.apply(&orig).unwrap();
        assert_eq!(out.iter().collect::<String>(), "ab(cde");
        assert_eq!(del.aligned(orig.len(), false), vec![(6, 5)]);
        let sub = Edit {
            sequence: 0,
            pos: 0,
            remove: 1,
            insert: chars("x"),
        };
        assert_eq!(
            sub.apply(&orig).unwrap().iter().collect::<String>(),
            "xb(cd)e"
        );
        assert_eq!(sub.describe(&orig), "substitute \"a\" at 0 by \"x\"");
        // a no-op, an edit past the end, and one that empties the sequence
        let noop = Edit {
            sequence: 0,
            pos: 0,
            remove: 1,
            insert: chars("a"),
        };
        assert!(noop.apply(&orig).is_none());
        let past = Edit {
            sequence: 0,
            pos: 7,
            remove: 1,
            insert: vec![],
        };
        assert!(past.apply(&orig).is_none());
        let all = Edit {
            sequence: 0,
            pos: 0,
            remove: 1,
            insert: vec![],
        };
        assert!(all.apply(&chars("a")).is_none());
    }

    #[test]
    fn draws_are_fixed_by_the_seed_and_stay_in_range() {
        let space = EditSpace {
            lengths: vec![5, 0, 40],
            alphabet: chars("ab()"),
            triggers: vec![chars("return")],
        };
        let mut kinds = std::collections::BTreeSet::new();
        let mut from_trigger = 0;
        for i in 0..200u8 {
            let seed = [i; 32];
            let a = space.draw(&seed).unwrap();
            assert_eq!(Some(a.clone()), space.draw(&seed));
            let len = space.lengths[a.sequence];
            assert!(a.pos + a.remove <= len, "{a:?}");
            kinds.insert(a.kind());
            if a.insert == chars("return") {
                from_trigger += 1;
            }
        }
        assert_eq!(kinds.len(), 3, "{kinds:?}");
        assert!(from_trigger > 20, "{from_trigger}");
    }
}
