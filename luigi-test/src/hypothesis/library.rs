//! The built-in hypothesis library.
//!
//! Every hypothesis here is a small type implementing [`Hypothesis`], built
//! with a constructor that validates its arguments. Names are stable and
//! unique per configuration (they are the keys of a [`HypothesisSet`]).
//!
//! # Timing rules
//!
//! There are two kinds of rule, and every type says which one it follows:
//!
//! - **State rules** (position, column, line, indentation, depth, counters,
//!   automata): the value at `t` is the state *after reading* the character
//!   at `t`, computed from `seq[..=t]` only (no look-ahead).
//! - **Span rules** (comments, string and char literals, identifiers,
//!   keywords, regular-expression matches): the value at `t` is 1 when the
//!   character at `t` belongs to a span of the text (a comment, a keyword
//!   occurrence, …), delimiters included. Deciding that may look ahead: the
//!   first `/` of `//` is already part of the comment, and every character of
//!   `return` fires only when the whole word is delimited. Point variants
//!   fire at the last character of an occurrence: [`NGram`] is causal;
//!   [`Keyword::end`] still looks one character ahead (to know the word
//!   ends there).
//!
//! # Names
//!
//! Characters inside names are written with [`char_label`]: `\n`, `\t`, `\r`,
//! `\\` and other control characters as `\u{..}`; everything else as itself.
//!
//! [`HypothesisSet`]: super::HypothesisSet

use regex::Regex;

use super::{Hypothesis, HypothesisKind};
use crate::error::{Error, Result};

/// 1.0 for true, 0.0 for false.
#[inline]
fn bit(x: bool) -> f32 {
    if x {
        1.0
    } else {
        0.0
    }
}

/// How a character is written inside a hypothesis name: `\n`, `\t`, `\r`,
/// `\\`, other control characters as `\u{hex}`, everything else as itself.
///
/// ```
/// use luigi_test::hypothesis::library::char_label;
/// assert_eq!(char_label('\n'), "\\n");
/// assert_eq!(char_label('('), "(");
/// ```
pub fn char_label(c: char) -> String {
    match c {
        '\n' => "\\n".to_string(),
        '\t' => "\\t".to_string(),
        '\r' => "\\r".to_string(),
        '\\' => "\\\\".to_string(),
        c if c.is_control() => format!("\\u{{{:x}}}", c as u32),
        c => c.to_string(),
    }
}

/// [`char_label`] applied to every character of `s`, concatenated.
pub fn str_label(s: &[char]) -> String {
    s.iter().map(|&c| char_label(c)).collect()
}

/// Named character classes, usable in detectors, counters and automata.
///
/// | name | members |
/// |---|---|
/// | `digit` | ASCII `0`–`9` |
/// | `letter` | alphabetic (Unicode `char::is_alphabetic`) |
/// | `alnum` | letter or digit (Unicode `char::is_alphanumeric`) |
/// | `ident` | `alnum` or `_` (an identifier character) |
/// | `whitespace` | Unicode whitespace, including `\n` and `\t` |
/// | `punct` | ASCII punctuation (`!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~`) |
/// | `upper` | uppercase (Unicode) |
/// | `lower` | lowercase (Unicode) |
/// | `hex` | ASCII hexadecimal digit `0-9a-fA-F` |
/// | `any` | every character |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CharClass {
    /// ASCII digits.
    Digit,
    /// Alphabetic characters.
    Letter,
    /// Letters and digits.
    Alnum,
    /// Identifier characters: letters, digits and `_`.
    Ident,
    /// Whitespace, including line breaks.
    Whitespace,
    /// ASCII punctuation.
    Punct,
    /// Uppercase letters.
    Upper,
    /// Lowercase letters.
    Lower,
    /// Hexadecimal digits.
    Hex,
    /// Every character.
    Any,
}

impl CharClass {
    /// Every class, in the order of the table above.
    pub const ALL: [CharClass; 10] = [
        CharClass::Digit,
        CharClass::Letter,
        CharClass::Alnum,
        CharClass::Ident,
        CharClass::Whitespace,
        CharClass::Punct,
        CharClass::Upper,
        CharClass::Lower,
        CharClass::Hex,
        CharClass::Any,
    ];

    /// The class's name as written in YAML and in hypothesis names.
    pub fn name(self) -> &'static str {
        match self {
            CharClass::Digit => "digit",
            CharClass::Letter => "letter",
            CharClass::Alnum => "alnum",
            CharClass::Ident => "ident",
            CharClass::Whitespace => "whitespace",
            CharClass::Punct => "punct",
            CharClass::Upper => "upper",
            CharClass::Lower => "lower",
            CharClass::Hex => "hex",
            CharClass::Any => "any",
        }
    }

    /// The class called `name`, or `None`.
    pub fn from_name(name: &str) -> Option<CharClass> {
        CharClass::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The names of all classes, comma-separated (for error messages).
    pub fn names() -> String {
        CharClass::ALL
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether `c` belongs to the class.
    #[inline]
    pub fn contains(self, c: char) -> bool {
        match self {
            CharClass::Digit => c.is_ascii_digit(),
            CharClass::Letter => c.is_alphabetic(),
            CharClass::Alnum => c.is_alphanumeric(),
            CharClass::Ident => is_ident_char(c),
            CharClass::Whitespace => c.is_whitespace(),
            CharClass::Punct => c.is_ascii_punctuation(),
            CharClass::Upper => c.is_uppercase(),
            CharClass::Lower => c.is_lowercase(),
            CharClass::Hex => c.is_ascii_hexdigit(),
            CharClass::Any => true,
        }
    }
}

/// Characters with names, accepted wherever one character is expected in
/// YAML (`newline`, `tab`, `space`, `cr`), so that no escaping is needed.
pub const NAMED_CHARS: [(&str, char); 4] = [
    ("newline", '\n'),
    ("tab", '\t'),
    ("space", ' '),
    ("cr", '\r'),
];

/// Reads one character: a string of exactly one character is that
/// character; otherwise one of [`NAMED_CHARS`]. The error says what is valid.
pub fn parse_char(text: &str) -> std::result::Result<char, String> {
    let mut it = text.chars();
    if let (Some(c), None) = (it.next(), it.next()) {
        return Ok(c);
    }
    NAMED_CHARS
        .iter()
        .find(|(n, _)| *n == text)
        .map(|(_, c)| *c)
        .ok_or_else(|| {
            format!(
                "`{text}` is not one character: write a single character (quoted, e.g. '(' or \"\\n\") \
                 or one of the names newline, tab, space, cr"
            )
        })
}

/// A set of characters: explicit characters and/or named classes.
///
/// Used by counters and automaton transitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharSet {
    chars: Vec<char>,
    classes: Vec<CharClass>,
}

impl CharSet {
    /// The set holding one character.
    pub fn char(c: char) -> Self {
        CharSet {
            chars: vec![c],
            classes: Vec::new(),
        }
    }
    /// The set of the given characters.
    pub fn chars(cs: impl IntoIterator<Item = char>) -> Self {
        let mut chars: Vec<char> = cs.into_iter().collect();
        chars.sort_unstable();
        chars.dedup();
        CharSet {
            chars,
            classes: Vec::new(),
        }
    }
    /// The set of one class's members.
    pub fn class(class: CharClass) -> Self {
        CharSet {
            chars: Vec::new(),
            classes: vec![class],
        }
    }
    /// The union of `self` and `other`.
    pub fn union(mut self, other: &CharSet) -> Self {
        self.chars.extend_from_slice(&other.chars);
        self.chars.sort_unstable();
        self.chars.dedup();
        self.classes.extend_from_slice(&other.classes);
        self.classes.sort_unstable();
        self.classes.dedup();
        self
    }

    /// Parses one item: a single character, a named character
    /// ([`NAMED_CHARS`]) or a class name ([`CharClass`]).
    pub fn parse_item(text: &str) -> std::result::Result<CharSet, String> {
        if let Ok(c) = parse_char(text) {
            return Ok(CharSet::char(c));
        }
        CharClass::from_name(text).map(CharSet::class).ok_or_else(|| {
            format!(
                "`{text}` is neither one character, nor a named character (newline, tab, space, cr), \
                 nor a class ({}): quote single characters, list several as ['a', 'b']",
                CharClass::names()
            )
        })
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty() && self.classes.is_empty()
    }

    /// Whether `c` is in the set.
    #[inline]
    pub fn contains(&self, c: char) -> bool {
        self.chars.contains(&c) || self.classes.iter().any(|k| k.contains(c))
    }

    /// Up to `max` members as one-character strings: the explicit
    /// characters, then printable ASCII members of the classes (for the
    /// triggers of perturbation verification).
    pub fn sample_members(&self, max: usize) -> Vec<String> {
        let mut out: Vec<char> = self.chars.clone();
        for class in &self.classes {
            let members: Vec<char> = (0x20u8..0x7f)
                .map(char::from)
                .chain(['\n', '\t'])
                .filter(|&c| class.contains(c))
                .collect();
            // spread the picks over the class (digits and letters alike)
            let step = members.len().div_ceil(max.max(1)).max(1);
            out.extend(members.iter().step_by(step));
        }
        out.sort_unstable();
        out.dedup();
        out.truncate(max.max(1));
        out.into_iter().map(|c| c.to_string()).collect()
    }

    /// The explicit characters (sorted).
    pub fn explicit_chars(&self) -> &[char] {
        &self.chars
    }
    /// The classes (sorted).
    pub fn classes(&self) -> &[CharClass] {
        &self.classes
    }

    /// A character in both sets, if any (the smallest one), found exactly:
    /// explicit characters are tested directly, class-against-class by
    /// scanning all Unicode scalar values.
    pub fn intersection_witness(&self, other: &CharSet) -> Option<char> {
        let mut best: Option<char> = None;
        for &c in self.chars.iter().chain(other.chars.iter()) {
            if self.contains(c) && other.contains(c) && best.is_none_or(|b| c < b) {
                best = Some(c);
            }
        }
        for &a in &self.classes {
            for &b in &other.classes {
                if let Some(c) = class_witness(a, b) {
                    if best.is_none_or(|x| c < x) {
                        best = Some(c);
                    }
                }
            }
        }
        best
    }

    /// How the set is written in names: one character as [`char_label`],
    /// one class as its name, several items as `[chars,class,…]`.
    pub fn label(&self) -> String {
        match (self.chars.len(), self.classes.len()) {
            (1, 0) => char_label(self.chars[0]),
            (0, 1) => self.classes[0].name().to_string(),
            _ => {
                let mut parts = Vec::new();
                if !self.chars.is_empty() {
                    parts.push(str_label(&self.chars));
                }
                parts.extend(self.classes.iter().map(|c| c.name().to_string()));
                format!("[{}]", parts.join(","))
            }
        }
    }
}

/// The smallest character in both classes, computed on first use of a pair
/// by scanning every Unicode scalar value, then cached.
fn class_witness(a: CharClass, b: CharClass) -> Option<char> {
    use std::sync::OnceLock;
    const N: usize = CharClass::ALL.len();
    static CACHE: [OnceLock<Option<char>>; N * N] = [const { OnceLock::new() }; N * N];
    let (i, j) = if (a as usize) <= (b as usize) {
        (a as usize, b as usize)
    } else {
        (b as usize, a as usize)
    };
    *CACHE[i * N + j].get_or_init(|| {
        (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .find(|&c| a.contains(c) && b.contains(c))
    })
}

/// Whether `c` can be part of an identifier: alphanumeric (Unicode) or `_`.
#[inline]
pub fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// The identifiers of `seq` as half-open index ranges `start..end`.
///
/// Rule: an identifier is a maximal run of identifier characters
/// ([`is_ident_char`]) whose first character is not an ASCII digit. A run
/// that starts with a digit (`123`, `0x1f`, `2nd`) is a number, not an
/// identifier, and none of its characters count.
pub fn identifier_spans(seq: &[char]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < seq.len() {
        if is_ident_char(seq[i]) {
            let start = i;
            while i < seq.len() && is_ident_char(seq[i]) {
                i += 1;
            }
            if !seq[start].is_ascii_digit() {
                spans.push((start, i));
            }
        } else {
            i += 1;
        }
    }
    spans
}

// ---------------------------------------------------------------------------
// Characters
// ---------------------------------------------------------------------------

/// `char(c)` (binary): 1 where the character is `c`.
#[derive(Debug, Clone)]
pub struct CharIs {
    c: char,
    name: String,
}

impl CharIs {
    /// Detector of `c`, named `char(c)`.
    pub fn new(c: char) -> Self {
        CharIs {
            c,
            name: format!("char({})", char_label(c)),
        }
    }
    /// The detected character.
    pub fn character(&self) -> char {
        self.c
    }
}

impl Hypothesis for CharIs {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> HypothesisKind {
        HypothesisKind::Binary
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        out.clear();
        out.extend(seq.iter().map(|&x| bit(x == self.c)));
    }
    fn triggers(&self) -> Vec<String> {
        vec![self.c.to_string()]
    }
}

/// `class(name)` (binary): 1 where the character is in a [`CharClass`].
#[derive(Debug, Clone)]
pub struct ClassIs {
    class: CharClass,
    name: String,
}

impl ClassIs {
    /// Detector of `class`, named `class(digit)` etc.
    pub fn new(class: CharClass) -> Self {
        ClassIs {
            class,
            name: format!("class({})", class.name()),
        }
    }
    /// Detector of the class called `name`; an unknown name is an error listing the classes.
    pub fn named(name: &str) -> Result<Self> {
        CharClass::from_name(name)
            .map(ClassIs::new)
            .ok_or_else(|| Error::Hypothesis {
                name: format!("class({name})"),
                message: format!("unknown class `{name}`: use one of {}", CharClass::names()),
            })
    }
}

impl Hypothesis for ClassIs {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> HypothesisKind {
        HypothesisKind::Binary
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        out.clear();
        out.extend(seq.iter().map(|&x| bit(self.class.contains(x))));
    }
    fn triggers(&self) -> Vec<String> {
        CharSet::class(self.class).sample_members(16)
    }
}

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

// ---------------------------------------------------------------------------
// Identifiers and keywords
// ---------------------------------------------------------------------------

/// `identifier` (binary, span rule): 1 on every character of an identifier
/// (see [`identifier_spans`]).
#[derive(Debug, Clone, Default)]
pub struct Identifier;

impl Identifier {
    /// The identifier hypothesis.
    pub fn new() -> Self {
        Identifier
    }
}

impl Hypothesis for Identifier {
    fn name(&self) -> &str {
        "identifier"
    }
    fn kind(&self) -> HypothesisKind {
        HypothesisKind::Binary
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        out.clear();
        out.resize(seq.len(), 0.0);
        for (s, e) in identifier_spans(seq) {
            out[s..e].fill(1.0);
        }
    }
    fn triggers(&self) -> Vec<String> {
        ["a", "_", "0", " ", "(", ";"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
}

/// `keyword(w)` / `keyword_end(w)` (binary): occurrences of the word `w` as a
/// whole identifier.
///
/// Rule: an occurrence is an identifier ([`identifier_spans`]) equal to `w`,
/// so `return` does not fire inside `returned`, `_return` or `xreturn`.
/// [`Keyword::new`] (span rule) fires on all characters of the occurrence;
/// [`Keyword::end`] fires on its last character only (it looks one
/// character ahead: `return` in `returned` does not fire). Comments and
/// strings are not excluded: `return` in a comment fires too.
#[derive(Debug, Clone)]
pub struct Keyword {
    word: Vec<char>,
    end_only: bool,
    name: String,
}

impl Keyword {
    /// Span detector of `word`, named `keyword(word)`.
    pub fn new(word: &str) -> Result<Self> {
        Self::build(word, false)
    }
    /// Last-character detector of `word`, named `keyword_end(word)`.
    pub fn end(word: &str) -> Result<Self> {
        Self::build(word, true)
    }
    /// The same span detector named `word(word)`: what the `word` family
    /// generates for the identifiers it finds in a corpus, which are not
    /// all keywords of any language.
    pub fn word_span(word: &str) -> Result<Self> {
        Self::build(word, false).map(|k| k.renamed("word"))
    }
    /// The last-character detector named `word_end(word)`.
    pub fn word_end(word: &str) -> Result<Self> {
        Self::build(word, true).map(|k| k.renamed("word_end"))
    }
    fn renamed(mut self, prefix: &str) -> Self {
        self.name = format!("{prefix}({})", str_label(&self.word));
        self
    }
    fn build(word: &str, end_only: bool) -> Result<Self> {
        let chars: Vec<char> = word.chars().collect();
        let name = format!(
            "{}({})",
            if end_only { "keyword_end" } else { "keyword" },
            str_label(&chars)
        );
        let valid = chars.first().is_some_and(|c| !c.is_ascii_digit())
            && chars.iter().all(|&c| is_ident_char(c));
        if !valid {
            return Err(Error::Hypothesis {
                name,
                message: format!(
                    "`{word}` is not an identifier: a keyword is letters, digits and `_`, not starting \
                     with a digit (for other text use an `ngram` or a `regex`)"
                ),
            });
        }
        Ok(Keyword {
            word: chars,
            end_only,
            name,
        })
    }
    /// The word.
    pub fn word(&self) -> String {
        self.word.iter().collect()
    }
}

impl Hypothesis for Keyword {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> HypothesisKind {
        HypothesisKind::Binary
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        out.clear();
        out.resize(seq.len(), 0.0);
        let n = self.word.len();
        let mut i = 0;
        // One scan over identifier runs, comparing only runs of the right length.
        while i < seq.len() {
            if !is_ident_char(seq[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < seq.len() && is_ident_char(seq[i]) {
                i += 1;
            }
            if i - start == n && seq[start..i] == self.word[..] {
                if self.end_only {
                    out[i - 1] = 1.0;
                } else {
                    out[start..i].fill(1.0);
                }
            }
        }
    }
    fn triggers(&self) -> Vec<String> {
        let w = self.word();
        vec![w.clone(), format!("{w} "), format!(" {w}"), "_".to_string()]
    }
}

// ---------------------------------------------------------------------------
// N-grams and regular expressions
// ---------------------------------------------------------------------------

/// `ngram(text)` (binary): 1 at the last character of every occurrence of
/// `text` (occurrences may overlap: `aa` fires twice in `aaa`). Causal.
#[derive(Debug, Clone)]
pub struct NGram {
    gram: Vec<char>,
    name: String,
}

impl NGram {
    /// Detector of `text` (at least one character), named `ngram(text)`.
    pub fn new(text: &str) -> Result<Self> {
        Self::from_chars(text.chars().collect())
    }
    /// Detector of the characters `gram`.
    pub fn from_chars(gram: Vec<char>) -> Result<Self> {
        let name = format!("ngram({})", str_label(&gram));
        if gram.is_empty() {
            return Err(Error::Hypothesis {
                name,
                message: "empty n-gram: give at least one character".to_string(),
            });
        }
        Ok(NGram { gram, name })
    }
    /// The characters.
    pub fn gram(&self) -> &[char] {
        &self.gram
    }
}

impl Hypothesis for NGram {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> HypothesisKind {
        HypothesisKind::Binary
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        out.clear();
        out.resize(seq.len(), 0.0);
        let n = self.gram.len();
        let last = self.gram[n - 1];
        for t in n - 1..seq.len() {
            if seq[t] == last && seq[t + 1 - n..=t] == self.gram[..] {
                out[t] = 1.0;
            }
        }
    }
    fn triggers(&self) -> Vec<String> {
        let g: String = self.gram.iter().collect();
        let mut t = vec![g];
        t.extend(self.gram.iter().map(|c| c.to_string()));
        t.sort_unstable();
        t.dedup();
        t
    }
}

/// `regex(name)` (binary, span rule): 1 on every character covered by a
/// match of a regular expression.
///
/// Rule: the matches are the successive non-overlapping leftmost-first
/// matches of the `regex` crate (`Regex::find_iter`) over the whole
/// sequence; a character is inside if one of them covers it. Empty matches
/// cover nothing. `^`/`$` refer to the sequence's ends unless the pattern
/// enables multi-line mode (`(?m)`).
#[derive(Debug, Clone)]
pub struct RegexMatch {
    re: Regex,
    name: String,
}

impl RegexMatch {
    /// Matches of `pattern`, named `regex(name)`; an invalid pattern is an
    /// error quoting the regex crate's message.
    pub fn new(name: &str, pattern: &str) -> Result<Self> {
        let full = format!("regex({name})");
        let re = Regex::new(pattern).map_err(|e| Error::Hypothesis {
            name: full.clone(),
            message: format!("invalid regular expression `{pattern}`: {e}"),
        })?;
        Ok(RegexMatch { re, name: full })
    }
    /// The pattern.
    pub fn pattern(&self) -> &str {
        self.re.as_str()
    }
}

impl Hypothesis for RegexMatch {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> HypothesisKind {
        HypothesisKind::Binary
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        out.clear();
        out.resize(seq.len(), 0.0);
        let text: String = seq.iter().collect();
        // Byte offset of each char, to map byte ranges back to timesteps.
        let mut offsets = Vec::with_capacity(seq.len() + 1);
        let mut b = 0usize;
        for &c in seq {
            offsets.push(b);
            b += c.len_utf8();
        }
        offsets.push(b);
        let mut ci = 0usize;
        for m in self.re.find_iter(&text) {
            while offsets[ci] < m.start() {
                ci += 1;
            }
            let mut j = ci;
            while offsets[j] < m.end() {
                out[j] = 1.0;
                j += 1;
            }
        }
    }
}

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hypothesis::evaluate_checked;

    fn run(h: &dyn Hypothesis, text: &str) -> Vec<f32> {
        let seq: Vec<char> = text.chars().collect();
        evaluate_checked(h, &seq).unwrap()
    }

    /// Positions where a binary output is 1, as a string of `^` under the text.
    fn marks(h: &dyn Hypothesis, text: &str) -> String {
        run(h, text)
            .iter()
            .map(|&v| if v == 1.0 { '^' } else { ' ' })
            .collect::<String>()
            .trim_end()
            .to_string()
    }

    fn ints(v: &[f32]) -> Vec<i64> {
        v.iter().map(|&x| x as i64).collect()
    }

    #[test]
    fn char_and_class_detectors() {
        assert_eq!(marks(&CharIs::new('a'), "banana"), " ^ ^ ^");
        assert_eq!(CharIs::new('\n').name(), "char(\\n)");
        assert_eq!(marks(&ClassIs::new(CharClass::Digit), "a1b22"), " ^ ^^");
        assert_eq!(marks(&ClassIs::new(CharClass::Upper), "aBcD"), " ^ ^");
        assert_eq!(
            marks(&ClassIs::new(CharClass::Whitespace), "a b\tc\n"),
            " ^ ^ ^"
        );
        assert_eq!(marks(&ClassIs::new(CharClass::Punct), "a(b);"), " ^ ^^");
        assert_eq!(marks(&ClassIs::new(CharClass::Letter), "1é_"), " ^");
        assert_eq!(marks(&ClassIs::new(CharClass::Ident), "a_-1"), "^^ ^");
        let e = ClassIs::named("digits").unwrap_err().to_string();
        assert!(
            e.contains("unknown class `digits`") && e.contains("digit, letter"),
            "{e}"
        );
    }

    #[test]
    fn position_column_line() {
        assert_eq!(ints(&run(&Position, "abc")), [0, 1, 2]);
        assert_eq!(ints(&run(&Column, "ab\nc\n\nde")), [1, 2, 0, 1, 0, 0, 1, 2]);
        assert_eq!(ints(&run(&Line, "ab\nc\n\nd")), [0, 0, 1, 1, 2, 3, 3]);
    }

    #[test]
    fn indentation_width_and_level() {
        let text = "a\n    b c\n\tx\n  \t y";
        // a \n ␣ ␣ ␣ ␣ b ␣ c \n \t x \n ␣ ␣ \t ␣ y
        assert_eq!(
            ints(&run(&Indentation::width(), text)),
            [0, 0, 1, 2, 3, 4, 4, 4, 4, 0, 8, 8, 0, 1, 2, 8, 9, 9]
        );
        let lvl = Indentation::level(4).unwrap();
        assert_eq!(lvl.name(), "indent_level(4)");
        assert_eq!(
            ints(&run(&lvl, "\n        x")),
            [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
        );
        let tab4 = Indentation::width().tab_width(4).unwrap();
        assert_eq!(tab4.name(), "indent(tab=4)");
        assert_eq!(ints(&run(&tab4, "  \tx")), [1, 2, 4, 4]);
        assert!(Indentation::level(0).is_err());
    }

    #[test]
    fn bracket_depth_ignores_unmatched_closers() {
        let d = Bracket::depth('(').unwrap();
        assert_eq!(d.name(), "depth(()");
        assert_eq!(ints(&run(&d, "a(b(c))d")), [0, 1, 1, 2, 2, 1, 0, 0]);
        // unmatched `)` at depth 0 is ignored, never negative
        assert_eq!(ints(&run(&d, "))(")), [0, 0, 1]);
        let inside = Bracket::inside('}').unwrap();
        assert_eq!(inside.name(), "inside({)");
        assert_eq!(marks(&inside, "x{y{}z}w"), " ^^^^^");
        assert_eq!(
            ints(&run(&Bracket::depth('[').unwrap(), "[[]]]")),
            [1, 2, 1, 0, 0]
        );
        assert!(Bracket::depth('x')
            .unwrap_err()
            .to_string()
            .contains("not a bracket"));
        let code = Bracket::depth('(').unwrap().code_aware();
        assert_eq!(code.name(), "code_depth(()");
        assert_eq!(
            ints(&run(&code, "(\"(\"/*(*/)")),
            [1, 1, 1, 1, 1, 1, 1, 1, 1, 0]
        );
    }

    #[test]
    fn comments_and_strings_are_consistent() {
        let text = "a=\"//x\"; // \"q\n/* ' */ 'c' \"\\\"\" b";
        let regions = code_regions(&text.chars().collect::<Vec<_>>());
        let letters: String = regions
            .iter()
            .map(|r| match r {
                Region::Code => '.',
                Region::LineComment => 'L',
                Region::BlockComment => 'B',
                Region::String => 'S',
                Region::CharLiteral => 'C',
            })
            .collect();
        // a = " / / x " ;   / / ␣ " q \n / * ␣ ' ␣ * / ␣ ' c ' ␣ " \ " " ␣ b
        assert_eq!(letters, "..SSSSS..LLLLL.BBBBBBB.CCC.SSSS..");
        assert_eq!(marks(&InRegion::comment(), "x/*a*/y//z"), " ^^^^^ ^^^");
        assert_eq!(marks(&InRegion::line_comment(), "x//z\ny"), " ^^^");
        assert_eq!(marks(&InRegion::block_comment(), "/*/x*/"), "^^^^^^");
        assert_eq!(marks(&InRegion::string(), "\"a\\\\\"b"), "^^^^^");
        assert_eq!(marks(&InRegion::char_literal(), "'\\''x"), "^^^^");
        // an unterminated string ends at the line break
        assert_eq!(marks(&InRegion::string(), "\"ab\ncd"), "^^^");
        // unterminated block comment lasts to the end
        assert_eq!(marks(&InRegion::comment(), "a/*b\nc"), " ^^^^^");
    }

    #[test]
    fn identifiers_and_keywords() {
        assert_eq!(
            identifier_spans(&"ab 1x _c9".chars().collect::<Vec<_>>()),
            [(0, 2), (6, 9)]
        );
        assert_eq!(marks(&Identifier, "x=0x1f+y_2"), "^      ^^^");
        let r = Keyword::new("return").unwrap();
        assert_eq!(r.name(), "keyword(return)");
        assert_eq!(
            marks(&r, "return x; returned; xreturn;(return)"),
            "^^^^^^                       ^^^^^^"
        );
        let e = Keyword::end("return").unwrap();
        assert_eq!(e.name(), "keyword_end(return)");
        assert_eq!(marks(&e, " return;return"), "      ^      ^");
        assert!(Keyword::new("a-b").is_err());
        assert!(Keyword::new("9a").is_err());
        assert!(Keyword::new("").is_err());
    }

    #[test]
    fn ngrams_fire_at_last_char() {
        let g = NGram::new("ab").unwrap();
        assert_eq!(g.name(), "ngram(ab)");
        assert_eq!(marks(&g, "abcab a"), " ^  ^");
        assert_eq!(marks(&NGram::new("aa").unwrap(), "aaa"), " ^^");
        assert_eq!(NGram::new(";\n").unwrap().name(), "ngram(;\\n)");
        assert!(NGram::new("").is_err());
    }

    #[test]
    fn regex_covers_leftmost_first_matches() {
        let h = RegexMatch::new("hex", "0x[0-9a-f]+").unwrap();
        assert_eq!(h.name(), "regex(hex)");
        assert_eq!(marks(&h, "a=0x1f+0xg"), "  ^^^^");
        // multi-byte characters map back to the right timesteps
        assert_eq!(
            marks(&RegexMatch::new("e", "é+").unwrap(), "aééb€é"),
            " ^^  ^"
        );
        // empty matches cover nothing
        assert_eq!(marks(&RegexMatch::new("z", "z*").unwrap(), "azb"), " ^");
        // leftmost-first: alternation prefers the first branch
        assert_eq!(marks(&RegexMatch::new("ab", "a|ab").unwrap(), "ab"), "^");
        let err = RegexMatch::new("bad", "(").unwrap_err().to_string();
        assert!(
            err.contains("regex(bad)") && err.contains("invalid regular expression"),
            "{err}"
        );
    }

    #[test]
    fn counters_with_reset() {
        let c = Counter::new(CharSet::char(',')).unwrap();
        assert_eq!(ints(&run(&c, "a,b,\n,")), [0, 1, 1, 2, 2, 3]);
        let r = Counter::new(CharSet::char(','))
            .unwrap()
            .reset_on(CharSet::char('\n'));
        assert_eq!(r.name(), "count(,,reset=\\n)");
        assert_eq!(ints(&run(&r, "a,b,\n,")), [0, 1, 1, 2, 0, 1]);
        let d = Counter::new(CharSet::class(CharClass::Digit)).unwrap();
        assert_eq!(d.name(), "count(digit)");
        assert_eq!(ints(&run(&d, "1a22")), [1, 1, 2, 3]);
        assert!(Counter::new(CharSet::chars([])).is_err());
    }

    proptest::proptest! {
        /// Regex coverage maps byte ranges back to the right timesteps,
        /// checked against a char-by-char reference.
        #[test]
        fn regex_coverage_matches_reference(text in "[ab€é ]{0,30}") {
            let h = RegexMatch::new("r", "a[bé€]+").unwrap();
            let got = run(&h, &text);
            let mut want = vec![0.0f32; text.chars().count()];
            for m in regex::Regex::new("a[bé€]+").unwrap().find_iter(&text) {
                let first = text[..m.start()].chars().count();
                let n = m.as_str().chars().count();
                want[first..first + n].fill(1.0);
            }
            proptest::prop_assert_eq!(got, want);
        }

        /// Depth equals the clamped running balance and is never negative;
        /// `inside` is depth > 0.
        #[test]
        fn depth_is_clamped_balance(text in "[()a]{0,40}") {
            let d = run(&Bracket::depth('(').unwrap(), &text);
            let i = run(&Bracket::inside(')').unwrap(), &text);
            let mut bal = 0i64;
            for (k, c) in text.chars().enumerate() {
                bal = match c { '(' => bal + 1, ')' => (bal - 1).max(0), _ => bal };
                proptest::prop_assert_eq!(d[k] as i64, bal);
                proptest::prop_assert_eq!(i[k] == 1.0, bal > 0);
            }
        }

        /// Every comment or literal run starts with its opener, and a line
        /// comment never contains a line break.
        #[test]
        fn region_runs_start_with_their_opener(text in "[a/*\"'\\\n]{0,40}") {
            let chars: Vec<char> = text.chars().collect();
            let r = code_regions(&chars);
            for k in 0..chars.len() {
                if r[k] == Region::LineComment {
                    proptest::prop_assert!(chars[k] != '\n');
                }
                if r[k] != Region::Code && (k == 0 || r[k - 1] != r[k]) {
                    let rest: String = chars[k..].iter().collect();
                    let ok = match r[k] {
                        Region::LineComment => rest.starts_with("//"),
                        Region::BlockComment => rest.starts_with("/*"),
                        Region::String => rest.starts_with('"'),
                        Region::CharLiteral => rest.starts_with('\''),
                        Region::Code => true,
                    };
                    proptest::prop_assert!(ok, "{:?} at {} in {:?}", r[k], k, text);
                }
            }
        }
    }

    #[test]
    fn char_sets_parse_and_intersect() {
        assert_eq!(CharSet::parse_item("x").unwrap(), CharSet::char('x'));
        assert_eq!(CharSet::parse_item("newline").unwrap(), CharSet::char('\n'));
        assert_eq!(
            CharSet::parse_item("digit").unwrap(),
            CharSet::class(CharClass::Digit)
        );
        assert!(CharSet::parse_item("digits")
            .unwrap_err()
            .contains("neither one character"));
        let digit = CharSet::class(CharClass::Digit);
        let letter = CharSet::class(CharClass::Letter);
        let hex = CharSet::class(CharClass::Hex);
        assert_eq!(digit.intersection_witness(&letter), None);
        assert_eq!(digit.intersection_witness(&hex), Some('0'));
        assert_eq!(letter.intersection_witness(&CharSet::char('q')), Some('q'));
        assert_eq!(
            CharSet::chars(['b', 'a']).union(&digit).label(),
            "[ab,digit]"
        );
    }
}
