//! Shrinking a counterexample: a proptest [`ValueTree`] over (window of
//! the original sequence, edit), and the driver that runs proptest's
//! shrink protocol on it (test the current value; on a failure simplify,
//! on a pass complicate).
//!
//! The tree searches four integers in turn, each by bisection between the
//! last value that still fails and its simplest value: where the window
//! starts (up to the edit), where it ends (down to one character past the
//! edit), how many characters the edit puts in (down to one), and how
//! many a deletion removes (down to one).

use std::sync::Arc;

use proptest::strategy::ValueTree;

use super::edit::Edit;
use crate::error::Result;

/// A candidate: the window's text and the edit, relative to the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShrinkCase {
    pub before: Vec<char>,
    pub edit: Edit,
}

/// One searched integer: `fail` is the last value that still failed,
/// `pass` the nearest value to `limit` known to pass, `limit` the simplest.
#[derive(Debug, Clone, Copy)]
struct Search {
    fail: usize,
    pass: Option<usize>,
    limit: usize,
    done: bool,
}

impl Search {
    fn new(from: usize, limit: usize) -> Self {
        Search {
            fail: from,
            pass: None,
            limit,
            done: from == limit,
        }
    }

    /// The next value to try, or `None` when the search is over.
    fn candidate(&self) -> Option<usize> {
        if self.done {
            return None;
        }
        let c = match self.pass {
            None => self.limit,
            Some(p) => {
                // halfway between the last failure and the nearest pass
                if self.fail < p {
                    self.fail + (p - self.fail) / 2
                } else {
                    p + (self.fail - p).div_ceil(2)
                }
            }
        };
        (c != self.fail && Some(c) != self.pass).then_some(c)
    }
}

/// The value tree of a counterexample.
#[derive(Debug, Clone)]
pub(crate) struct CaseTree {
    seq: Arc<Vec<char>>,
    sequence: usize,
    pos: usize,
    insert: Vec<char>,
    /// start, insert length, delete length, end
    dims: [Search; 4],
    values: [usize; 4],
    trying: Option<(usize, usize)>,
}

impl CaseTree {
    pub(crate) fn new(seq: Arc<Vec<char>>, edit: &Edit) -> Self {
        let len = seq.len();
        let k = edit.insert.len();
        let values = [0, k, edit.remove, len];
        let dims = [
            Search::new(0, edit.pos),
            Search::new(k, k.min(1)),
            if k == 0 {
                Search::new(edit.remove, edit.remove.min(1))
            } else {
                Search::new(edit.remove, edit.remove)
            },
            // its limit is set when its turn comes (it depends on the edit)
            Search::new(len, len),
        ];
        CaseTree {
            seq,
            sequence: edit.sequence,
            pos: edit.pos,
            insert: edit.insert.clone(),
            dims,
            values,
            trying: None,
        }
    }

    fn case(&self, values: &[usize; 4]) -> ShrinkCase {
        let [start, k, del, end] = *values;
        let end = end.max(start).min(self.seq.len());
        let insert: Vec<char> = self.insert[..k.min(self.insert.len())].to_vec();
        let remove = if self.insert.is_empty() {
            del
        } else {
            // a substitution removes no more than it puts in
            del.min(insert.len().max(1))
        };
        let pos = self.pos - start;
        let remove = remove.min(end - start - pos.min(end - start));
        ShrinkCase {
            before: self.seq[start..end].to_vec(),
            edit: Edit {
                sequence: self.sequence,
                pos,
                remove,
                insert,
            },
        }
    }

    /// Moves to the next candidate of the first unfinished search.
    fn next_candidate(&mut self) -> bool {
        for d in 0..4 {
            if d == 3 && self.dims[3].pass.is_none() && self.dims[3].fail == self.values[3] {
                // the window must keep one character past the edit
                let removed = self.case(&self.values).edit.remove;
                let start = self.values[0];
                let limit = (self.pos + removed + 1).min(self.seq.len()).max(start);
                self.dims[3].limit = limit;
                self.dims[3].done = self.dims[3].fail == limit;
            }
            match self.dims[d].candidate() {
                Some(c) => {
                    self.trying = Some((d, c));
                    return true;
                }
                None => self.dims[d].done = true,
            }
        }
        self.trying = None;
        false
    }
}

impl ValueTree for CaseTree {
    type Value = ShrinkCase;

    fn current(&self) -> ShrinkCase {
        let mut v = self.values;
        if let Some((d, c)) = self.trying {
            v[d] = c;
        }
        self.case(&v)
    }

    /// The current value failed: keep it, and try a simpler one.
    fn simplify(&mut self) -> bool {
        if let Some((d, c)) = self.trying.take() {
            self.values[d] = c;
            self.dims[d].fail = c;
            if c == self.dims[d].limit {
                self.dims[d].done = true;
            }
        }
        self.next_candidate()
    }

    /// The current value passed: go back toward the last failure.
    fn complicate(&mut self) -> bool {
        if let Some((d, c)) = self.trying.take() {
            self.dims[d].pass = Some(c);
        }
        self.next_candidate()
    }
}

/// Runs proptest's shrink protocol on `tree` with `fails` as the test, at
/// most `max_runs` runs. Returns the smallest failing case and the runs spent.
pub(crate) fn shrink<F>(
    mut tree: CaseTree,
    max_runs: usize,
    mut fails: F,
) -> Result<(ShrinkCase, usize)>
where
    F: FnMut(&ShrinkCase) -> Result<bool>,
{
    let mut runs = 0;
    if tree.simplify() {
        while runs < max_runs {
            runs += 1;
            let failed = fails(&tree.current())?;
            let more = if failed {
                tree.simplify()
            } else {
                tree.complicate()
            };
            if !more {
                break;
            }
        }
    }
    // the last failure is the tree's value without a pending candidate
    tree.trying = None;
    Ok((tree.current(), runs))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn shrinks_to_the_smallest_window_and_edit_that_still_fail() {
        // fails while the window holds "xy" right before the edit and the
        // insertion starts with '('
        let text = chars("aaaaaaaaaaxy_bbbbbbbbbbbbbbbbbbbbbbbbbb");
        let edit = Edit {
            sequence: 0,
            pos: 12,
            remove: 0,
            insert: chars("(("),
        };
        let tree = CaseTree::new(Arc::new(text), &edit);
        let (case, runs) = shrink(tree, 200, |c| {
            let p = c.edit.pos;
            Ok(p >= 2
                && c.before[p - 2..p] == chars("xy")[..]
                && c.edit.insert.first() == Some(&'('))
        })
        .unwrap();
        assert_eq!(case.before.iter().collect::<String>(), "xy_");
        assert_eq!(case.edit.pos, 2);
        assert_eq!(case.edit.insert, chars("("));
        assert!(runs < 40, "{runs}");
        // the original still fails when nothing simpler does
        let tree = CaseTree::new(Arc::new(chars("abc")), &edit_at(1));
        let (case, _) = shrink(tree, 50, |c| Ok(c.before.len() == 3)).unwrap();
        assert_eq!(case.before, chars("abc"));
    }

    fn edit_at(pos: usize) -> Edit {
        Edit {
            sequence: 0,
            pos,
            remove: 1,
            insert: vec![],
        }
    }

    #[test]
    fn deletions_shrink_their_length() {
        let edit = Edit {
            sequence: 0,
            pos: 3,
            remove: 3,
            insert: vec![],
        };
        let tree = CaseTree::new(Arc::new(chars("0123456789")), &edit);
        let (case, _) = shrink(tree, 100, |c| Ok(c.edit.remove >= 1)).unwrap();
        assert_eq!(case.edit.remove, 1);
        assert_eq!(case.before.iter().collect::<String>(), "34");
    }
}
