//! Brackets (depth, inside, relative depth) and levels (a count read as a
//! few categories).

use super::regions::{code_regions, Region};
use super::{bit, char_label};
use crate::error::{Error, Result};
use crate::hypothesis::{Hypothesis, HypothesisKind};

// ---------------------------------------------------------------------------
// Brackets
// ---------------------------------------------------------------------------

/// The bracket pairs that [`Bracket::depth`] and [`Bracket::inside`] know.
pub const BRACKET_PAIRS: [(char, char); 4] = [('(', ')'), ('[', ']'), ('{', '}'), ('<', '>')];

/// What a [`Bracket`] hypothesis outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BracketOutput {
    /// The nesting depth (numeric).
    Depth,
    /// 1 while the depth is above 0 (binary).
    Inside,
    /// Openers minus closers since the start of the sequence, never
    /// clamped (numeric): what a model that starts a window from zero
    /// state can count. Negative after closers whose openers came before
    /// the window.
    Relative,
}

/// `depth(()` (numeric) and `inside(()` (binary), state rule.
///
/// Rules: reading the opener adds 1, reading the closer subtracts 1, but the
/// depth never goes below 0: a closer read at depth 0 is *unmatched* and is
/// ignored (it does not make a later opener "already closed"). So the opener
/// itself is inside (depth ≥ 1 after reading it) and its matching closer is
/// not (the depth has dropped when it is read). `inside` is `depth > 0`.
///
/// With [`Bracket::code_aware`] (names `code_depth(()`, `code_inside(()`),
/// brackets inside comments, strings and char literals ([`code_regions`])
/// are ignored.
#[derive(Debug, Clone)]
pub struct Bracket {
    open: char,
    close: char,
    output: BracketOutput,
    code: bool,
    name: String,
}

impl Bracket {
    /// Depth of the pair that `bracket` (opener or closer) belongs to; one of
    /// [`BRACKET_PAIRS`], otherwise an error.
    pub fn depth(bracket: char) -> Result<Self> {
        let (o, c) = find_pair(bracket)?;
        Self::pair(o, c, BracketOutput::Depth)
    }
    /// Inside-ness of the pair that `bracket` belongs to.
    pub fn inside(bracket: char) -> Result<Self> {
        let (o, c) = find_pair(bracket)?;
        Self::pair(o, c, BracketOutput::Inside)
    }
    /// Signed depth relative to the sequence start (see
    /// [`BracketOutput::Relative`]): `relative_depth(()`.
    pub fn relative_depth(bracket: char) -> Result<Self> {
        let (o, c) = find_pair(bracket)?;
        Self::pair(o, c, BracketOutput::Relative)
    }
    /// Any pair of distinct characters as brackets.
    pub fn pair(open: char, close: char, output: BracketOutput) -> Result<Self> {
        if open == close {
            return Err(Error::Hypothesis {
                name: format!("depth({})", char_label(open)),
                message: "opener and closer are the same character: a depth needs two distinct characters"
                    .to_string(),
            });
        }
        let mut b = Bracket {
            open,
            close,
            output,
            code: false,
            name: String::new(),
        };
        b.rename();
        Ok(b)
    }
    /// Ignores brackets inside comments and literals.
    pub fn code_aware(mut self) -> Self {
        self.code = true;
        self.rename();
        self
    }
    fn rename(&mut self) {
        let base = match self.output {
            BracketOutput::Depth => "depth",
            BracketOutput::Inside => "inside",
            BracketOutput::Relative => "relative_depth",
        };
        let pre = if self.code { "code_" } else { "" };
        let known = BRACKET_PAIRS.contains(&(self.open, self.close));
        self.name = if known {
            format!("{pre}{base}({})", char_label(self.open))
        } else {
            format!(
                "{pre}{base}({}{})",
                char_label(self.open),
                char_label(self.close)
            )
        };
    }
}

fn find_pair(bracket: char) -> Result<(char, char)> {
    BRACKET_PAIRS
        .iter()
        .find(|(o, c)| *o == bracket || *c == bracket)
        .copied()
        .ok_or_else(|| Error::Hypothesis {
            name: format!("depth({})", char_label(bracket)),
            message: format!(
                "`{}` is not a bracket: use one of ( [ {{ < (or give both characters of a pair)",
                char_label(bracket)
            ),
        })
}

impl Hypothesis for Bracket {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> HypothesisKind {
        match self.output {
            BracketOutput::Depth | BracketOutput::Relative => HypothesisKind::Numeric,
            BracketOutput::Inside => HypothesisKind::Binary,
        }
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        out.clear();
        let regions = if self.code {
            Some(code_regions(seq))
        } else {
            None
        };
        let mut depth = 0u32;
        let mut relative = 0i64;
        for (i, &c) in seq.iter().enumerate() {
            let counts = regions.as_ref().is_none_or(|r| r[i] == Region::Code);
            if counts {
                if c == self.open {
                    depth += 1;
                    relative += 1;
                } else if c == self.close {
                    depth = depth.saturating_sub(1);
                    relative -= 1;
                }
            }
            out.push(match self.output {
                BracketOutput::Depth => depth as f32,
                BracketOutput::Inside => bit(depth > 0),
                BracketOutput::Relative => relative as f32,
            });
        }
    }
    fn triggers(&self) -> Vec<String> {
        let mut t = vec![self.open.to_string(), self.close.to_string()];
        if self.code {
            t.extend(["\"", "//", "/*", "*/"].iter().map(|s| s.to_string()));
        }
        t
    }
}

// ---------------------------------------------------------------------------
// Levels: a count read as a few categories
// ---------------------------------------------------------------------------

/// A numeric hypothesis read as `n` ordered categories (categorical):
/// `0`, `1`, …, `n-2` and `n-1+`, the value rounded down and clamped into
/// that range (negative values read as `0`). Written `depth: {bracket: '{',
/// levels: 3}` or `indent_level: {unit: 8, levels: 3}` in a list; named
/// `levels(depth({),3)`. This is the binned form a probe can read (probes
/// take binary and categorical hypotheses only): "outside any brace, one
/// level in, two or more".
pub struct Levels {
    inner: Box<dyn Hypothesis>,
    n: u32,
    name: String,
}

impl Levels {
    /// Bins `inner` (numeric) into `n` levels, `2 <= n <= 64`.
    pub fn new(inner: Box<dyn Hypothesis>, n: u32) -> Result<Self> {
        let name = format!("levels({},{n})", inner.name());
        if inner.kind() != HypothesisKind::Numeric {
            return Err(Error::Hypothesis {
                name,
                message: format!(
                    "`levels` bins a numeric hypothesis, and `{}` is not numeric: drop `levels`",
                    inner.name()
                ),
            });
        }
        if !(2..=64).contains(&n) {
            return Err(Error::Hypothesis {
                name,
                message: format!(
                    "`levels: {n}` is out of range: give 2 to 64 levels (e.g. 3 for 0, 1, 2+)"
                ),
            });
        }
        Ok(Levels { inner, n, name })
    }
}

impl Hypothesis for Levels {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> HypothesisKind {
        let top = self.n - 1;
        let mut states: Vec<String> = (0..top).map(|k| k.to_string()).collect();
        states.push(format!("{top}+"));
        HypothesisKind::Categorical { states }
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        self.inner.evaluate(seq, out);
        let top = (self.n - 1) as f32;
        for v in out.iter_mut() {
            // NaN stays NaN, so that the checked evaluation reports the
            // inner hypothesis's fault instead of a silent level
            if !v.is_nan() {
                *v = v.floor().clamp(0.0, top);
            }
        }
    }
    fn triggers(&self) -> Vec<String> {
        self.inner.triggers()
    }
}
