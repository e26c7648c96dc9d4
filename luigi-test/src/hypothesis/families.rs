//! Hypothesis families generated from a corpus: the paper's "automatically
//! generated" hypotheses.
//!
//! A [`Family`] looks at a corpus and emits library hypotheses for what is
//! frequent in it:
//!
//! | kind | emits | ranked by |
//! |---|---|---|
//! | `char` | [`CharIs`] per character | occurrences |
//! | `class` | [`ClassIs`] for `digit`, `upper`, `lower`, `whitespace`, `punct`: each that holds at some timesteps and fails at others | that fixed order |
//! | `ngram` (`n`, default 2) | [`NGram`] per n-gram (within sequences) | occurrences |
//! | `word` | [`Keyword::word_span`] per identifier ([`identifier_spans`]) of at least `min_len` (default 2) characters, named `word(x)` (`word_end(x)` with `at: end`, [`Keyword::word_end`]): the same detectors as `keyword: x`, named for what the family knows, a word of the corpus | occurrences |
//! | `bracket` | `depth` and `inside` ([`Bracket`]) per pair of `()[]{}<>` whose opener and closer both occur | opener occurrences |
//! | `code` | `comment`, `line_comment`, `block_comment`, `string`, `char_literal` ([`InRegion`]) | that fixed order |
//! | `layout` | `position`; `column`, `line`, `indent` (only if the corpus has line breaks; `indent` only if some line is indented) | that fixed order |
//! | `values` | for a numeric corpus only, per feature `f`: `feature(f)`, `above(f,m)` and `crossing(f,m)` at its median `m` (when it splits the values), `running_mean(f)`, `running_max(f)`, `moving_mean(f,8)` | feature order |
//! | `token` | for a corpus of subword tokens only: `word_start` ([`WordStart`], if it varies), then [`TokenIs`] per token string, named `token(x)` | occurrences |
//!
//! Rules: a candidate is kept when it occurs at least `min_count` times
//! (default 5; for `code`, timesteps inside the region; for `layout`,
//! line breaks); ranked candidates are ordered by count descending, then
//! lexicographically (by character code), and the first `max` are kept
//! (defaults: `char` 100, `ngram` 200, `word` 100, `token` 100; `bracket`, `code`,
//! `layout` are small and have no `max`). The output depends only on the
//! corpus and the parameters.

use std::collections::HashMap;

use serde::Deserialize;

use super::library::{
    code_regions, identifier_spans, Above, Bracket, CharClass, CharIs, ClassIs, Column, Crossing,
    Feature, Identifier, InRegion, Indentation, Keyword, Line, MovingMean, NGram, Position, Region,
    RunningMax, RunningMean, TokenIs, WordStart, BRACKET_PAIRS,
};
use super::{Hypothesis, HypothesisSet};
use crate::corpus::Corpus;
use crate::error::{Error, Result};

/// What a family generates (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FamilyKind {
    /// One detector per frequent character.
    Char,
    /// Character classes (digit, upper, lower, whitespace, punctuation).
    Class,
    /// One detector per frequent n-gram.
    Ngram,
    /// One keyword detector per frequent identifier.
    Word,
    /// Depth and inside-ness per bracket pair.
    Bracket,
    /// Comments, strings, char literals.
    Code,
    /// Position, column, line, indentation.
    Layout,
    /// Token strings and word starts (tokenized corpora only).
    Token,
    /// Features, thresholds, running and moving means (numeric corpora only).
    Values,
}

impl FamilyKind {
    fn name(self) -> &'static str {
        match self {
            FamilyKind::Char => "char",
            FamilyKind::Class => "class",
            FamilyKind::Ngram => "ngram",
            FamilyKind::Word => "word",
            FamilyKind::Bracket => "bracket",
            FamilyKind::Code => "code",
            FamilyKind::Layout => "layout",
            FamilyKind::Token => "token",
            FamilyKind::Values => "values",
        }
    }
}

/// Where a `word` family's keyword detectors fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeywordAt {
    /// Every character of the occurrence ([`Keyword::new`]).
    #[default]
    Span,
    /// The last character ([`Keyword::end`]).
    End,
}

/// A family and its parameters; in YAML `{kind: ngram, n: 2, max: 200, min_count: 5}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    /// What to generate.
    pub kind: FamilyKind,
    /// N-gram length (`ngram` only; 1 to 16, default 2).
    #[serde(default)]
    pub n: Option<usize>,
    /// At most this many hypotheses (`char`, `ngram`, `word`).
    #[serde(default)]
    pub max: Option<usize>,
    /// Minimum count to be kept (default 5).
    #[serde(default)]
    pub min_count: Option<usize>,
    /// Minimum word length (`word` only, default 2).
    #[serde(default)]
    pub min_len: Option<usize>,
    /// Span or last-character keyword detectors (`word` only).
    #[serde(default)]
    pub at: Option<KeywordAt>,
}

/// Default `min_count`.
pub const DEFAULT_MIN_COUNT: usize = 5;

impl Family {
    /// A family of `kind` with default parameters.
    pub fn new(kind: FamilyKind) -> Self {
        Family {
            kind,
            n: None,
            max: None,
            min_count: None,
            min_len: None,
            at: None,
        }
    }
    /// Frequent characters.
    pub fn chars() -> Self {
        Self::new(FamilyKind::Char)
    }
    /// Frequent n-grams of length `n`.
    pub fn ngrams(n: usize) -> Self {
        Self::new(FamilyKind::Ngram).n(n)
    }
    /// Frequent identifiers as keyword detectors.
    pub fn words() -> Self {
        Self::new(FamilyKind::Word)
    }
    /// Character classes: digit, upper, lower, whitespace, punctuation.
    pub fn classes() -> Self {
        Self::new(FamilyKind::Class)
    }
    /// Bracket depth and inside-ness.
    pub fn brackets() -> Self {
        Self::new(FamilyKind::Bracket)
    }
    /// Comments and literals.
    pub fn code() -> Self {
        Self::new(FamilyKind::Code)
    }
    /// Position, column, line, indentation.
    pub fn layout() -> Self {
        Self::new(FamilyKind::Layout)
    }
    /// Sets the n-gram length.
    pub fn n(mut self, n: usize) -> Self {
        self.n = Some(n);
        self
    }
    /// Sets the cap.
    pub fn max(mut self, max: usize) -> Self {
        self.max = Some(max);
        self
    }
    /// Sets the minimum count.
    pub fn min_count(mut self, min_count: usize) -> Self {
        self.min_count = Some(min_count);
        self
    }
    /// Sets the minimum word length.
    pub fn min_len(mut self, min_len: usize) -> Self {
        self.min_len = Some(min_len);
        self
    }
    /// Sets where keyword detectors fire.
    pub fn at(mut self, at: KeywordAt) -> Self {
        self.at = Some(at);
        self
    }

    /// A short description for names and errors, e.g. `family(ngram, n=3)`.
    pub fn label(&self) -> String {
        match (self.kind, self.n) {
            (FamilyKind::Ngram, n) => format!("family(ngram, n={})", n.unwrap_or(2)),
            (k, _) => format!("family({})", k.name()),
        }
    }

    fn check(&self) -> Result<()> {
        let fail = |message: String| {
            Err(Error::Hypothesis {
                name: self.label(),
                message,
            })
        };
        let k = self.kind;
        if self.n.is_some() && k != FamilyKind::Ngram {
            return fail(format!(
                "`n` applies to kind `ngram` only, not `{}`: remove it",
                k.name()
            ));
        }
        if let Some(n) = self.n {
            if !(1..=16).contains(&n) {
                return fail(format!("`n: {n}`: give an n-gram length from 1 to 16"));
            }
        }
        if (self.min_len.is_some() || self.at.is_some()) && k != FamilyKind::Word {
            return fail(format!(
                "`min_len` and `at` apply to kind `word` only, not `{}`: remove them",
                k.name()
            ));
        }
        if self.max.is_some()
            && !matches!(
                k,
                FamilyKind::Char | FamilyKind::Ngram | FamilyKind::Word | FamilyKind::Token
            )
        {
            return fail(format!(
                "`max` applies to kinds char, ngram, word and token; `{}` is small and has no cap: remove it",
                k.name()
            ));
        }
        if self.max == Some(0) {
            return fail(
                "`max: 0` generates nothing: give at least 1 or drop the family".to_string(),
            );
        }
        if self.min_count == Some(0) {
            return fail(
                "`min_count: 0` would keep unseen candidates: give at least 1".to_string(),
            );
        }
        Ok(())
    }

    /// Generates the family's hypotheses from `corpus` (see the module docs
    /// for the rules). Invalid parameters are an [`Error::Hypothesis`] naming
    /// the parameter.
    pub fn generate(&self, corpus: &Corpus) -> Result<Vec<Box<dyn Hypothesis>>> {
        self.check()?;
        let min_count = self.min_count.unwrap_or(DEFAULT_MIN_COUNT);
        let seqs = corpus.sequences();
        let mut out: Vec<Box<dyn Hypothesis>> = Vec::new();
        match self.kind {
            FamilyKind::Char => {
                let mut counts: HashMap<char, usize> = HashMap::new();
                for s in seqs {
                    for &c in s.chars() {
                        *counts.entry(c).or_default() += 1;
                    }
                }
                for (c, _) in top(counts, min_count, self.max.unwrap_or(100)) {
                    out.push(Box::new(CharIs::new(c)));
                }
            }
            FamilyKind::Values => {
                for f in 0..corpus.features().unwrap_or(0) {
                    let mut col: Vec<f32> = seqs
                        .iter()
                        .filter_map(|s| s.values())
                        .flat_map(|v| v.column(f))
                        .collect();
                    out.push(Box::new(Feature::new(f)));
                    col.sort_by(f32::total_cmp);
                    // the median, to 3 significant digits (it names the hypotheses)
                    let median = sig3(col.get(col.len() / 2).copied().unwrap_or(0.0));
                    let above = col.iter().filter(|&&v| v > median).count();
                    if above >= min_count && above < col.len() {
                        out.push(Box::new(Above::new(f, median)?));
                        out.push(Box::new(Crossing::new(f, median)?));
                    }
                    out.push(Box::new(RunningMean::new(f)));
                    out.push(Box::new(RunningMax::new(f)));
                    out.push(Box::new(MovingMean::new(f, 8)?));
                }
            }
            FamilyKind::Token => {
                let mut counts: HashMap<&str, usize> = HashMap::new();
                let (mut starts, mut steps) = (0usize, 0usize);
                let mut values = Vec::new();
                for s in seqs {
                    let Some(t) = s.tokens() else { continue };
                    for i in 0..t.len() {
                        *counts.entry(t.piece(i)).or_default() += 1;
                    }
                    WordStart.evaluate_tokens(s, t, &mut values);
                    starts += values.iter().filter(|&&v| v == 1.0).count();
                    steps += values.len();
                }
                if starts >= min_count && starts < steps {
                    out.push(Box::new(WordStart));
                }
                for (piece, _) in top(counts, min_count, self.max.unwrap_or(100)) {
                    if !piece.is_empty() {
                        out.push(Box::new(TokenIs::new(piece)?));
                    }
                }
            }
            FamilyKind::Class => {
                for class in [
                    CharClass::Digit,
                    CharClass::Upper,
                    CharClass::Lower,
                    CharClass::Whitespace,
                    CharClass::Punct,
                ] {
                    let (mut yes, mut no) = (0usize, 0usize);
                    for s in seqs {
                        for &c in s.chars() {
                            if class.contains(c) {
                                yes += 1;
                            } else {
                                no += 1;
                            }
                        }
                    }
                    if yes >= min_count && no > 0 {
                        out.push(Box::new(ClassIs::new(class)));
                    }
                }
            }
            FamilyKind::Ngram => {
                let n = self.n.unwrap_or(2);
                let mut counts: HashMap<&[char], usize> = HashMap::new();
                for s in seqs {
                    for w in s.chars().windows(n) {
                        *counts.entry(w).or_default() += 1;
                    }
                }
                for (g, _) in top(counts, min_count, self.max.unwrap_or(200)) {
                    out.push(Box::new(NGram::from_chars(g.to_vec())?));
                }
            }
            FamilyKind::Word => {
                let min_len = self.min_len.unwrap_or(2);
                let mut counts: HashMap<&[char], usize> = HashMap::new();
                for s in seqs {
                    let chars = s.chars();
                    for (a, b) in identifier_spans(chars) {
                        if b - a >= min_len {
                            *counts.entry(&chars[a..b]).or_default() += 1;
                        }
                    }
                }
                let at = self.at.unwrap_or_default();
                for (w, _) in top(counts, min_count, self.max.unwrap_or(100)) {
                    let word: String = w.iter().collect();
                    out.push(Box::new(match at {
                        KeywordAt::Span => Keyword::word_span(&word)?,
                        KeywordAt::End => Keyword::word_end(&word)?,
                    }));
                }
            }
            FamilyKind::Bracket => {
                let mut counts: HashMap<char, usize> = HashMap::new();
                for s in seqs {
                    for &c in s.chars() {
                        if BRACKET_PAIRS.iter().any(|(o, k)| *o == c || *k == c) {
                            *counts.entry(c).or_default() += 1;
                        }
                    }
                }
                let count = |c: char| counts.get(&c).copied().unwrap_or(0);
                let pairs: HashMap<char, usize> = BRACKET_PAIRS
                    .iter()
                    .filter(|(o, c)| count(*o) >= min_count && count(*c) >= min_count)
                    .map(|(o, _)| (*o, count(*o)))
                    .collect();
                for (open, _) in top(pairs, min_count, usize::MAX) {
                    out.push(Box::new(Bracket::depth(open)?));
                    out.push(Box::new(Bracket::relative_depth(open)?));
                    out.push(Box::new(Bracket::inside(open)?));
                }
            }
            FamilyKind::Code => {
                let mut counts: HashMap<Region, usize> = HashMap::new();
                for s in seqs {
                    for r in code_regions(s.chars()) {
                        *counts.entry(r).or_default() += 1;
                    }
                }
                let count = |r: Region| counts.get(&r).copied().unwrap_or(0);
                let candidates = [
                    InRegion::comment(),
                    InRegion::line_comment(),
                    InRegion::block_comment(),
                    InRegion::string(),
                    InRegion::char_literal(),
                ];
                for h in candidates {
                    let n: usize = h.regions().iter().map(|&r| count(r)).sum();
                    if n >= min_count {
                        out.push(Box::new(h));
                    }
                }
            }
            FamilyKind::Layout => {
                out.push(Box::new(Position));
                let newlines: usize = seqs
                    .iter()
                    .map(|s| s.chars().iter().filter(|&&c| c == '\n').count())
                    .sum();
                if newlines >= min_count {
                    out.push(Box::new(Column));
                    out.push(Box::new(Line));
                    let indented = seqs.iter().any(|s| {
                        s.chars()
                            .windows(2)
                            .any(|w| w[0] == '\n' && (w[1] == ' ' || w[1] == '\t'))
                    });
                    if indented {
                        out.push(Box::new(Indentation::width()));
                    }
                }
            }
        }
        Ok(out)
    }
}

/// `x` to 3 significant digits.
fn sig3(x: f32) -> f32 {
    if x == 0.0 || !x.is_finite() {
        return 0.0;
    }
    let d = 2 - x.abs().log10().floor() as i32;
    let p = 10f64.powi(d);
    ((f64::from(x) * p).round() / p) as f32
}

/// Candidates with `count >= min_count`, by count descending then key
/// ascending, at most `max`.
fn top<K: Ord + Copy>(counts: HashMap<K, usize>, min_count: usize, max: usize) -> Vec<(K, usize)> {
    let mut v: Vec<(K, usize)> = counts
        .into_iter()
        .filter(|(_, n)| *n >= min_count)
        .collect();
    v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(max);
    v
}

/// The default families, in order: `layout`, `code`, `bracket`, `char`
/// (max 100), `ngram` n=2 (max 200), `ngram` n=3 (max 200), `word` (max 100),
/// `token` (max 100, tokenized corpora only), plus the `identifier`
/// detector. Up to ~610 hypotheses for characters, ~710 for tokens.
pub fn default_families() -> Vec<Family> {
    vec![
        Family::layout(),
        Family::code(),
        Family::brackets(),
        Family::classes(),
        Family::chars(),
        Family::ngrams(2),
        Family::ngrams(3),
        Family::words(),
        Family::new(FamilyKind::Token),
    ]
}

/// Generates every family in order into one set. A family member whose
/// name is already in the set (from an earlier family) is skipped, so
/// overlapping families do not fail.
///
/// On a corpus of subword tokens, a member that takes one value at every
/// token (after alignment, e.g. `char(e)` when no token ends in `e`) is
/// left out: families are counted on characters, most of which no token
/// reads under `last` or `first`.
pub fn generate_all(corpus: &Corpus, families: &[Family]) -> Result<HypothesisSet> {
    let mut set = HypothesisSet::new();
    for f in families {
        for h in f.generate(corpus)? {
            if !set.contains(h.name()) && (!corpus.is_tokenized() || varies(h.as_ref(), corpus)?) {
                set.add_boxed(h)?;
            }
        }
    }
    Ok(set)
}

/// True when `h` takes two different values somewhere on the corpus.
fn varies(h: &dyn Hypothesis, corpus: &Corpus) -> Result<bool> {
    let mut first: Option<f32> = None;
    for s in corpus.sequences() {
        for v in super::evaluate_steps(h, s)? {
            match first {
                None => first = Some(v),
                Some(f) if f != v => return Ok(true),
                Some(_) => {}
            }
        }
    }
    Ok(false)
}

/// The paper's automatically generated hypotheses: [`default_families`]
/// plus `identifier`; for a numeric corpus, the `values` family alone.
pub fn auto(corpus: &Corpus) -> Result<HypothesisSet> {
    if corpus.is_numeric() {
        // hypotheses over characters cannot read feature vectors
        return generate_all(corpus, &[Family::new(FamilyKind::Values)]);
    }
    let mut set = generate_all(corpus, &default_families())?;
    set.add(Identifier)?;
    Ok(set)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn corpus() -> Corpus {
        Corpus::from_strings(
            "c",
            [
                "int main() {\n  return 0; // done\n}\n",
                "int f(int x) {\n  if (x) { return x; }\n  return f(x - 1);\n}\n",
                "/* \"s\" */ char *s = \"a(b\"; char c = 'q';\n",
            ],
        )
        .unwrap()
    }

    fn names(v: &[Box<dyn Hypothesis>]) -> Vec<String> {
        v.iter().map(|h| h.name().to_string()).collect()
    }

    #[test]
    fn char_family_orders_by_count_then_char() {
        let c = Corpus::from_strings("t", ["aabbbc", "ca"]).unwrap();
        let got = Family::chars().min_count(1).generate(&c).unwrap();
        assert_eq!(names(&got), ["char(a)", "char(b)", "char(c)"]);
        let got = Family::chars().min_count(3).max(1).generate(&c).unwrap();
        assert_eq!(names(&got), ["char(a)"]);
        let got = Family::chars().min_count(3).generate(&c).unwrap();
        assert_eq!(names(&got), ["char(a)", "char(b)"]);
    }

    #[test]
    fn ngrams_count_within_sequences_only() {
        let c = Corpus::from_strings("t", ["abab", "ba"]).unwrap();
        // ab:2, ba:2 (1 + 1), no "ba" across the sequence boundary (b|b)
        let got = Family::ngrams(2).min_count(1).generate(&c).unwrap();
        assert_eq!(names(&got), ["ngram(ab)", "ngram(ba)"]);
        let got = Family::ngrams(3).min_count(1).generate(&c).unwrap();
        assert_eq!(names(&got), ["ngram(aba)", "ngram(bab)"]);
    }

    #[test]
    fn word_family_finds_words() {
        let got = Family::words().min_count(3).generate(&corpus()).unwrap();
        // return: 3, int: 3 (tie broken alphabetically), char: 2
        assert_eq!(names(&got), ["word(int)", "word(return)"]);
        let got = Family::words()
            .min_count(2)
            .at(KeywordAt::End)
            .generate(&corpus())
            .unwrap();
        assert!(
            names(&got).contains(&"word_end(char)".to_string()),
            "{:?}",
            names(&got)
        );
        // `x` is frequent but shorter than min_len 2
        assert!(!names(&got).iter().any(|n| n == "word_end(x)"));
    }

    #[test]
    fn class_family_keeps_classes_that_vary() {
        let got = Family::classes().min_count(1).generate(&corpus()).unwrap();
        assert_eq!(
            names(&got),
            [
                "class(digit)",
                "class(lower)",
                "class(whitespace)",
                "class(punct)"
            ]
        );
        // a class that holds everywhere tells nothing
        let digits = Corpus::from_strings("d", ["0123"]).unwrap();
        assert!(Family::classes()
            .min_count(1)
            .generate(&digits)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn bracket_code_layout_families() {
        let got = Family::brackets().min_count(2).generate(&corpus()).unwrap();
        assert_eq!(
            names(&got),
            [
                "depth(()",
                "relative_depth(()",
                "inside(()",
                "depth({)",
                "relative_depth({)",
                "inside({)"
            ]
        );
        let got = Family::code().min_count(1).generate(&corpus()).unwrap();
        assert_eq!(
            names(&got),
            [
                "comment",
                "line_comment",
                "block_comment",
                "string",
                "char_literal"
            ]
        );
        let got = Family::layout().generate(&corpus()).unwrap();
        assert_eq!(names(&got), ["position", "column", "line", "indent"]);
        let flat = Corpus::from_strings("t", ["abc"]).unwrap();
        assert_eq!(
            names(&Family::layout().generate(&flat).unwrap()),
            ["position"]
        );
    }

    #[test]
    fn bad_parameters_are_errors() {
        let e = Family::chars()
            .n(2)
            .generate(&corpus())
            .unwrap_err()
            .to_string();
        assert!(e.contains("`n` applies to kind `ngram` only"), "{e}");
        let e = Family::ngrams(0)
            .generate(&corpus())
            .unwrap_err()
            .to_string();
        assert!(e.contains("n-gram length from 1 to 16"), "{e}");
        assert!(Family::chars().max(0).generate(&corpus()).is_err());
        assert!(Family::code().max(3).generate(&corpus()).is_err());
    }

    #[test]
    fn auto_is_deterministic_and_unique() {
        let twice: Vec<String> = corpus()
            .sequences()
            .iter()
            .chain(corpus().sequences())
            .map(|s| s.text())
            .collect();
        let c = Corpus::from_strings("c2", twice).unwrap();
        let a = auto(&c).unwrap();
        let b = auto(&c).unwrap();
        assert_eq!(a.names(), b.names());
        assert!(a.contains("word(return)") && a.contains("depth({)") && a.contains("comment"));
        assert_eq!(a.names()[0], "position");
    }
}
