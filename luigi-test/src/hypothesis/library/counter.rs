//! Counters of a character set.

use super::chars::CharSet;
use crate::error::{Error, Result};
use crate::hypothesis::{Hypothesis, HypothesisKind};

// ---------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------

/// `count(x)` / `count(x,reset=y)` (numeric, state rule): how many
/// characters of a set have been read so far.
///
/// Rule, on reading `c`: if `c` is in the reset set the count becomes 0;
/// then, if `c` is in the counted set, the count grows by 1 (so a character
/// in both sets leaves the count at 1). `count(\,,reset=\n)` is the number
/// of commas so far on the current line.
#[derive(Debug, Clone)]
pub struct Counter {
    target: CharSet,
    reset: Option<CharSet>,
    name: String,
}

impl Counter {
    /// Counts characters in `target`; an empty set is an error.
    pub fn new(target: CharSet) -> Result<Self> {
        let name = format!("count({})", target.label());
        if target.is_empty() {
            return Err(Error::Hypothesis {
                name,
                message: "empty character set: give the character(s) to count".to_string(),
            });
        }
        Ok(Counter {
            target,
            reset: None,
            name,
        })
    }
    /// Resets the count on characters of `reset`.
    pub fn reset_on(mut self, reset: CharSet) -> Self {
        self.name = format!("count({},reset={})", self.target.label(), reset.label());
        self.reset = Some(reset);
        self
    }
}

impl Hypothesis for Counter {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> HypothesisKind {
        HypothesisKind::Numeric
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        out.clear();
        let mut n = 0u32;
        for &c in seq {
            if self.reset.as_ref().is_some_and(|r| r.contains(c)) {
                n = 0;
            }
            if self.target.contains(c) {
                n += 1;
            }
            out.push(n as f32);
        }
    }
    fn triggers(&self) -> Vec<String> {
        let mut t = self.target.sample_members(8);
        if let Some(r) = &self.reset {
            t.extend(r.sample_members(8));
        }
        t
    }
}
