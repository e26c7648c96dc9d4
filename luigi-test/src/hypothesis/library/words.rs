//! Identifiers, keywords, n-grams and regular expressions.

use regex::Regex;

use super::chars::{identifier_spans, is_ident_char, str_label};
use crate::error::{Error, Result};
use crate::hypothesis::{Hypothesis, HypothesisKind};

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
