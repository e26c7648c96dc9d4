//! C-like lexical regions: comments, strings, char literals.

use super::bit;
use crate::hypothesis::{Hypothesis, HypothesisKind};

// ---------------------------------------------------------------------------
// C-like lexical regions: comments, strings, char literals
// ---------------------------------------------------------------------------

/// Which lexical region of C-like source a character belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Region {
    /// Ordinary code (including the `\n` that ends a line comment).
    Code,
    /// `// …` up to, not including, the line break.
    LineComment,
    /// `/* … */`, both delimiters included.
    BlockComment,
    /// `"…"`, both quotes included.
    String,
    /// `'…'`, both quotes included.
    CharLiteral,
}

/// Labels every character of `seq` with its [`Region`] (span rule).
///
/// One left-to-right scan, so the regions are consistent with one another:
/// - in code, `//` opens a line comment and `/*` a block comment (both
///   characters of the opener belong to the comment), `"` opens a string,
///   `'` a char literal;
/// - a line comment ends before the next `\n` (the `\n` is code); backslash
///   line continuation of `//` comments is not modelled;
/// - a block comment ends with the first `*/` after its `/*` (`/*/` does not
///   close it; nesting is not recognised, as in C);
/// - in a string (char literal), `\` escapes the next character, whatever it
///   is (so `\"` does not close it and `\\` does not escape the quote after
///   it); an unescaped `"` (`'`) closes it; an unescaped `\n` also ends it
///   (the `\n` is code), so an unterminated literal never runs past its line;
/// - inside comments quotes mean nothing, and inside literals `//` and `/*`
///   mean nothing;
/// - a region left open at the end of the sequence lasts to its end.
pub fn code_regions(seq: &[char]) -> Vec<Region> {
    let n = seq.len();
    let mut out = vec![Region::Code; n];
    let mut state = Region::Code;
    let mut i = 0;
    while i < n {
        let c = seq[i];
        let next = seq.get(i + 1).copied();
        match state {
            Region::Code => match (c, next) {
                ('/', Some('/')) => {
                    out[i] = Region::LineComment;
                    out[i + 1] = Region::LineComment;
                    state = Region::LineComment;
                    i += 2;
                    continue;
                }
                ('/', Some('*')) => {
                    out[i] = Region::BlockComment;
                    out[i + 1] = Region::BlockComment;
                    state = Region::BlockComment;
                    i += 2;
                    continue;
                }
                ('"', _) => {
                    out[i] = Region::String;
                    state = Region::String;
                }
                ('\'', _) => {
                    out[i] = Region::CharLiteral;
                    state = Region::CharLiteral;
                }
                _ => {}
            },
            Region::LineComment => {
                if c == '\n' {
                    state = Region::Code;
                } else {
                    out[i] = Region::LineComment;
                }
            }
            Region::BlockComment => {
                out[i] = Region::BlockComment;
                if c == '*' && next == Some('/') {
                    out[i + 1] = Region::BlockComment;
                    state = Region::Code;
                    i += 2;
                    continue;
                }
            }
            Region::String | Region::CharLiteral => {
                let quote = if state == Region::String { '"' } else { '\'' };
                if c == '\n' {
                    state = Region::Code;
                } else {
                    out[i] = state;
                    if c == '\\' {
                        if next.is_some() {
                            out[i + 1] = state;
                        }
                        i += 2;
                        continue;
                    }
                    if c == quote {
                        state = Region::Code;
                    }
                }
            }
        }
        i += 1;
    }
    out
}

/// Inside one or more [`Region`]s (binary, span rule; see [`code_regions`]).
///
/// Names: `line_comment`, `block_comment`, `comment` (either kind),
/// `string`, `char_literal`.
#[derive(Debug, Clone)]
pub struct InRegion {
    regions: Vec<Region>,
    name: &'static str,
}

impl InRegion {
    /// Inside a `// …` comment.
    pub fn line_comment() -> Self {
        InRegion {
            regions: vec![Region::LineComment],
            name: "line_comment",
        }
    }
    /// Inside a `/* … */` comment.
    pub fn block_comment() -> Self {
        InRegion {
            regions: vec![Region::BlockComment],
            name: "block_comment",
        }
    }
    /// Inside either kind of comment.
    pub fn comment() -> Self {
        InRegion {
            regions: vec![Region::LineComment, Region::BlockComment],
            name: "comment",
        }
    }
    /// Inside a `"…"` string literal.
    pub fn string() -> Self {
        InRegion {
            regions: vec![Region::String],
            name: "string",
        }
    }
    /// Inside a `'…'` char literal.
    pub fn char_literal() -> Self {
        InRegion {
            regions: vec![Region::CharLiteral],
            name: "char_literal",
        }
    }
    /// The regions it fires in.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }
}

impl Hypothesis for InRegion {
    fn name(&self) -> &str {
        self.name
    }
    fn kind(&self) -> HypothesisKind {
        HypothesisKind::Binary
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        out.clear();
        out.extend(
            code_regions(seq)
                .into_iter()
                .map(|r| bit(self.regions.contains(&r))),
        );
    }
    fn triggers(&self) -> Vec<String> {
        let mut t: Vec<&str> = Vec::new();
        for r in &self.regions {
            t.extend(match r {
                Region::Code => &[][..],
                Region::LineComment => &["//", "\n"][..],
                Region::BlockComment => &["/*", "*/"][..],
                Region::String => &["\"", "\\", "\n"][..],
                Region::CharLiteral => &["'", "\\", "\n"][..],
            });
        }
        t.sort_unstable();
        t.dedup();
        t.into_iter().map(str::to_string).collect()
    }
}
