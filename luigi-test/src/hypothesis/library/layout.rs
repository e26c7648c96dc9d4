//! Layout: position, column, line, indentation.

use crate::error::{Error, Result};
use crate::hypothesis::{Hypothesis, HypothesisKind};

// ---------------------------------------------------------------------------
// Layout: position, column, line, indentation
// ---------------------------------------------------------------------------

/// `position` (numeric, state rule): the 0-based index `t` within the sequence.
#[derive(Debug, Clone, Default)]
pub struct Position;

impl Position {
    /// The position hypothesis.
    pub fn new() -> Self {
        Position
    }
}

impl Hypothesis for Position {
    fn name(&self) -> &str {
        "position"
    }
    fn kind(&self) -> HypothesisKind {
        HypothesisKind::Numeric
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        out.clear();
        out.extend((0..seq.len()).map(|t| t as f32));
    }
}

/// `column` (numeric, state rule): characters read on the current line so
/// far, i.e. characters since the last `\n`.
///
/// Reading `\n` gives 0 (a new, empty line); the first character of a line
/// gives 1. `"ab\nc"` → `1, 2, 0, 1`. A sequence that does not start at a
/// line start counts from its first character.
#[derive(Debug, Clone, Default)]
pub struct Column;

impl Column {
    /// The column hypothesis.
    pub fn new() -> Self {
        Column
    }
}

impl Hypothesis for Column {
    fn name(&self) -> &str {
        "column"
    }
    fn kind(&self) -> HypothesisKind {
        HypothesisKind::Numeric
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        out.clear();
        let mut col = 0u32;
        for &c in seq {
            col = if c == '\n' { 0 } else { col + 1 };
            out.push(col as f32);
        }
    }
    fn triggers(&self) -> Vec<String> {
        vec!["\n".to_string()]
    }
}

/// `line` (numeric, state rule): the 0-based line number, i.e. the number of
/// `\n` read so far (the newline itself already counts: it opens the next line).
#[derive(Debug, Clone, Default)]
pub struct Line;

impl Line {
    /// The line-number hypothesis.
    pub fn new() -> Self {
        Line
    }
}

impl Hypothesis for Line {
    fn name(&self) -> &str {
        "line"
    }
    fn kind(&self) -> HypothesisKind {
        HypothesisKind::Numeric
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        out.clear();
        let mut line = 0u32;
        for &c in seq {
            if c == '\n' {
                line += 1;
            }
            out.push(line as f32);
        }
    }
    fn triggers(&self) -> Vec<String> {
        vec!["\n".to_string()]
    }
}

/// Default tab width of [`Indentation`]: tab stops every 8 columns.
pub const DEFAULT_TAB_WIDTH: usize = 8;

/// `indent` / `indent_level(unit)` (numeric, state rule): width of the
/// current line's leading whitespace.
///
/// Rules: `\n` resets the width to 0; while the line has shown only spaces
/// and tabs, a space adds 1 and a tab advances to the next multiple of the
/// tab width (default [`DEFAULT_TAB_WIDTH`]); the first other character
/// freezes the width for the rest of the line. So the value on a line's
/// leading whitespace grows as it is read, and every later character of the
/// line carries the line's indentation. With a unit (`indent_level(4)`), the
/// value is `floor(width / unit)`, the nesting level in indent units.
#[derive(Debug, Clone)]
pub struct Indentation {
    tab_width: usize,
    unit: Option<usize>,
    name: String,
}

impl Indentation {
    /// Indentation width in columns, named `indent`.
    pub fn width() -> Self {
        Indentation {
            tab_width: DEFAULT_TAB_WIDTH,
            unit: None,
            name: "indent".to_string(),
        }
    }
    /// Indentation level in units of `unit` columns, named `indent_level(unit)`.
    pub fn level(unit: usize) -> Result<Self> {
        if unit == 0 {
            return Err(Error::Hypothesis {
                name: "indent_level(0)".to_string(),
                message: "indent unit 0: give the width of one level in columns (e.g. 4 or 8)"
                    .to_string(),
            });
        }
        let mut h = Indentation::width();
        h.unit = Some(unit);
        h.rename();
        Ok(h)
    }
    /// Sets the tab width (tab stops every `width` columns); a non-default
    /// width shows in the name (`indent(tab=4)`).
    pub fn tab_width(mut self, width: usize) -> Result<Self> {
        if width == 0 {
            return Err(Error::Hypothesis {
                name: self.name,
                message: "tab width 0: give a tab width of at least 1 (8 is the default)"
                    .to_string(),
            });
        }
        self.tab_width = width;
        self.rename();
        Ok(self)
    }
    fn rename(&mut self) {
        let tab = if self.tab_width == DEFAULT_TAB_WIDTH {
            String::new()
        } else {
            format!("tab={}", self.tab_width)
        };
        self.name = match (self.unit, tab.is_empty()) {
            (None, true) => "indent".to_string(),
            (None, false) => format!("indent({tab})"),
            (Some(u), true) => format!("indent_level({u})"),
            (Some(u), false) => format!("indent_level({u},{tab})"),
        };
    }
}

impl Hypothesis for Indentation {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> HypothesisKind {
        HypothesisKind::Numeric
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        out.clear();
        let mut width = 0usize;
        let mut leading = true;
        for &c in seq {
            match c {
                '\n' => {
                    width = 0;
                    leading = true;
                }
                ' ' if leading => width += 1,
                '\t' if leading => width = (width / self.tab_width + 1) * self.tab_width,
                _ => leading = false,
            }
            let v = match self.unit {
                Some(u) => width / u,
                None => width,
            };
            out.push(v as f32);
        }
    }
    fn triggers(&self) -> Vec<String> {
        ["\n", "\t", " ", "\n\t", "\n    "]
            .iter()
            .map(|t| t.to_string())
            .collect()
    }
}
