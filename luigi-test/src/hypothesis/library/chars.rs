//! Characters: labels for names, classes and sets of characters, and the
//! character detectors.

use super::bit;
use crate::error::{Error, Result};
use crate::hypothesis::{Hypothesis, HypothesisKind};

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
