//! The YAML hypothesis-list format ([`HypothesisSet::load`]).
//!
//! A list file is a YAML sequence; each item is either a bare name (for
//! hypotheses without arguments) or a map with exactly one key:
//!
//! ```yaml
//! - position                 # also: column, line, indent, identifier,
//!                            # comment, line_comment, block_comment,
//!                            # string, char_literal, auto
//! - char: '('                # one character, or newline / tab / space / cr
//! - chars: "{};"             # one `char` detector per character
//! - class: digit             # digit letter alnum ident whitespace punct upper lower hex any
//! - depth: '('               # or {bracket: '(', code: true} to skip comments/strings
//! - relative_depth: '('      # openers minus closers since the sequence start, never clamped at 0
//!                            #   (what a model reading a window from zero state can count)
//! - inside: '{'
//! - indent: {tab: 4}         # bare `- indent` uses tab width 8
//! - indent_level: 4          # or {unit: 4, tab: 4}
//! - depth: {bracket: '{', levels: 3}   # categorical 0 / 1 / 2+ (`levels: N` on depth,
//!                            #   relative_depth, indent, indent_level): what probes read
//! - keyword: return          # or {word: return, at: end}
//! - keyword_end: return
//! - word: ENOMEM             # the same span detector, named word(ENOMEM) as the `word` family names it
//! - word_end: ENOMEM
//! - keywords: [if, for, while]
//! - ngram: '->'
//! - ngrams: ['->', '::']
//! - regex: {name: hex, pattern: '0x[0-9a-f]+'}   # or just the pattern
//! - count: ','               # or {of: [',', ';'], reset: newline}
//! - fsm: {file: automata/last_op.yaml}           # relative to this file
//! - fsm: {file: bool.yaml, output: accepting}    # state (default) | accepting | both
//! - fsm: {name: parity, states: [even, odd], start: even, default: stay,
//!         transitions: [{from: even, on: '1', to: odd}, {from: odd, on: '1', to: even}]}
//! - family: {kind: ngram, n: 2, max: 200, min_count: 5}
//! ```
//!
//! Rules:
//! - Unknown items and unknown keys are errors ([`crate::Error::Spec`]) that
//!   name the file, the line and column, the key path (`[3].regex`) and the
//!   valid keys.
//! - Names must be unique: an item that adds a name already in the list is
//!   an error naming both items. Families (and `auto`) are the exception:
//!   they skip names already present, so write explicit items *before*
//!   families that may produce the same hypothesis.
//! - `family` and `auto` generate hypotheses from a corpus
//!   ([`super::families`]); load such a list with
//!   [`HypothesisSet::load_with_corpus`].
//! - `fsm` files use the format of [`super::fsm`]; paths are relative to
//!   the list file's folder.

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::families::{self, Family, KeywordAt};
use super::fsm::{Fallback, FsmSpec, OnSpec, TransitionSpec};
use super::library::{
    parse_char, Bracket, CharIs, CharSet, ClassIs, Column, Counter, Identifier, InRegion,
    Indentation, Keyword, Levels, Line, NGram, Position, RegexMatch,
};
use super::{Hypothesis, HypothesisSet};
use crate::corpus::Corpus;
use crate::error::{closest_names, Error, Result};
use crate::yaml;

/// Items written as a bare name.
const BARE: [&str; 11] = [
    "position",
    "column",
    "line",
    "indent",
    "identifier",
    "comment",
    "line_comment",
    "block_comment",
    "string",
    "char_literal",
    "auto",
];

/// Items written as a one-key map.
const KEYED: [&str; 19] = [
    "char",
    "chars",
    "class",
    "depth",
    "relative_depth",
    "inside",
    "indent",
    "indent_level",
    "keyword",
    "keyword_end",
    "keywords",
    "word",
    "word_end",
    "ngram",
    "ngrams",
    "regex",
    "count",
    "fsm",
    "family",
];

fn valid_items() -> String {
    format!(
        "bare names: {}; keys: {}",
        BARE.join(", "),
        KEYED.join(", ")
    )
}

impl HypothesisSet {
    /// Loads a YAML hypothesis list (see [`super::list`]). A list containing
    /// `family` or `auto` items needs a corpus: use
    /// [`HypothesisSet::load_with_corpus`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_yaml_str(&text, path, None)
    }

    /// Loads a YAML hypothesis list whose families are generated from `corpus`.
    pub fn load_with_corpus(path: impl AsRef<Path>, corpus: &Corpus) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_yaml_str(&text, path, Some(corpus))
    }

    /// Parses a YAML hypothesis list; `origin` names the file in errors and
    /// anchors relative `fsm` file paths.
    pub fn from_yaml_str(text: &str, origin: &Path, corpus: Option<&Corpus>) -> Result<Self> {
        yaml::check_depth(text, origin, "a hypothesis list")?;
        let ctx = Context {
            base: origin.parent().map(Path::to_path_buf).unwrap_or_default(),
            corpus,
            set: RefCell::new(HypothesisSet::new()),
            added_by: RefCell::new(Vec::new()),
        };
        let de = yaml::Deserializer::from_str(text);
        ListSeed { ctx: &ctx }
            .deserialize(de)
            .map_err(|e| yaml::spec_error(origin, "", &e))?;
        let set = ctx.set.into_inner();
        if set.is_empty() {
            return Err(Error::Spec {
                path: origin.to_path_buf(),
                line: 1,
                column: 1,
                key: "(document)".to_string(),
                message: format!(
                    "empty hypothesis list: add items such as `- position` ({})",
                    valid_items()
                ),
            });
        }
        Ok(set)
    }
}

struct Context<'a> {
    base: PathBuf,
    corpus: Option<&'a Corpus>,
    set: RefCell<HypothesisSet>,
    /// For each hypothesis in `set`: (item index, item key).
    added_by: RefCell<Vec<(usize, String)>>,
}

impl Context<'_> {
    fn add(
        &self,
        h: Box<dyn Hypothesis>,
        index: usize,
        key: &str,
    ) -> std::result::Result<(), String> {
        let mut set = self.set.borrow_mut();
        if let Some(col) = set.index_of(h.name()) {
            let (j, k) = self.added_by.borrow()[col].clone();
            return Err(format!(
                "duplicate hypothesis `{}`: item [{j}] (`{k}`) already adds it; names must be unique, \
                 so drop one (families skip names already present: put explicit items before them)",
                h.name()
            ));
        }
        set.add_boxed(h).map_err(|e| e.to_string())?;
        self.added_by.borrow_mut().push((index, key.to_string()));
        Ok(())
    }

    fn add_family(
        &self,
        hs: Vec<Box<dyn Hypothesis>>,
        index: usize,
        key: &str,
    ) -> std::result::Result<(), String> {
        for h in hs {
            if !self.set.borrow().contains(h.name()) {
                self.add(h, index, key)?;
            }
        }
        Ok(())
    }

    fn corpus(&self, what: &str) -> std::result::Result<&Corpus, String> {
        self.corpus.ok_or_else(|| {
            format!(
                "`{what}` generates hypotheses from a corpus, and none was given: load this list with \
                 HypothesisSet::load_with_corpus(path, &corpus), or list the hypotheses explicitly"
            )
        })
    }
}

struct ListSeed<'c, 'a> {
    ctx: &'c Context<'a>,
}

impl<'de> DeserializeSeed<'de> for ListSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of hypotheses, e.g. `- position` or `- char: '('`")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        let mut index = 0;
        while seq
            .next_element_seed(ItemSeed {
                ctx: self.ctx,
                index,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }
}

struct ItemSeed<'c, 'a> {
    ctx: &'c Context<'a>,
    index: usize,
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// `h`, binned into `levels` categories when the item asks for it
/// ([`Levels`]).
fn with_levels<H: Hypothesis + 'static>(
    h: Result<H>,
    levels: Option<u32>,
) -> std::result::Result<Box<dyn Hypothesis>, String> {
    let h = boxed(h)?;
    match levels {
        None => Ok(h),
        Some(n) => Levels::new(h, n)
            .map(|l| Box::new(l) as Box<dyn Hypothesis>)
            .map_err(|e| e.to_string()),
    }
}

fn boxed<H: Hypothesis + 'static>(
    h: Result<H>,
) -> std::result::Result<Box<dyn Hypothesis>, String> {
    h.map(|h| Box::new(h) as Box<dyn Hypothesis>)
        .map_err(|e| e.to_string())
}

impl ItemSeed<'_, '_> {
    fn bare(&self, name: &str) -> std::result::Result<(), String> {
        let h: Box<dyn Hypothesis> = match name {
            "position" => Box::new(Position),
            "column" => Box::new(Column),
            "line" => Box::new(Line),
            "indent" => Box::new(Indentation::width()),
            "identifier" => Box::new(Identifier),
            "comment" => Box::new(InRegion::comment()),
            "line_comment" => Box::new(InRegion::line_comment()),
            "block_comment" => Box::new(InRegion::block_comment()),
            "string" => Box::new(InRegion::string()),
            "char_literal" => Box::new(InRegion::char_literal()),
            "auto" => {
                let set = families::auto(self.ctx.corpus("auto")?).map_err(|e| e.to_string())?;
                let hs: Vec<Box<dyn Hypothesis>> = set.into_boxed();
                return self.ctx.add_family(hs, self.index, "auto");
            }
            other if KEYED.contains(&other) => {
                return Err(format!(
                    "`{other}` needs an argument: write `- {other}: ...` (see the hypothesis list format)"
                ))
            }
            other => return Err(unknown_item(other)),
        };
        self.ctx.add(h, self.index, name)
    }
}

fn unknown_item(name: &str) -> String {
    let all = BARE.iter().chain(KEYED.iter()).copied();
    let close = closest_names(name, all, 3);
    let hint = if close.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", close.join(", "))
    };
    format!("unknown hypothesis `{name}`{hint}; valid {}", valid_items())
}

impl<'de> Visitor<'de> for ItemSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a hypothesis: a bare name (`position`) or a map with one key (`char: '('`)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<(), E> {
        self.bare(v).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let key: String = map.next_key()?.ok_or_else(|| {
            de::Error::custom(format!(
                "empty item: write one hypothesis; valid {}",
                valid_items()
            ))
        })?;
        let i = self.index;
        let ctx = self.ctx;
        let one = |h: std::result::Result<Box<dyn Hypothesis>, String>| -> std::result::Result<(), A::Error> {
            let h = h.map_err(de::Error::custom)?;
            ctx.add(h, i, &key).map_err(de::Error::custom)
        };
        match key.as_str() {
            "char" => {
                let CharArg(c) = map.next_value()?;
                one(Ok(Box::new(CharIs::new(c))))?;
            }
            "chars" => {
                let text: String = map.next_value()?;
                let mut seen = Vec::new();
                for c in text.chars() {
                    if !seen.contains(&c) {
                        seen.push(c);
                        one(Ok(Box::new(CharIs::new(c))))?;
                    }
                }
                if seen.is_empty() {
                    return Err(de::Error::custom(
                        "`chars` is empty: give at least one character",
                    ));
                }
            }
            "class" => {
                let name: String = map.next_value()?;
                one(boxed(ClassIs::named(&name)))?;
            }
            "depth" | "inside" | "relative_depth" => {
                let arg: BracketArg = map.next_value()?;
                let b = match key.as_str() {
                    "depth" => Bracket::depth(arg.bracket),
                    "relative_depth" => Bracket::relative_depth(arg.bracket),
                    _ => Bracket::inside(arg.bracket),
                };
                let b = b.map(|b| if arg.code { b.code_aware() } else { b });
                one(with_levels(b, arg.levels))?;
            }
            "indent" => {
                let arg: IndentArg = map.next_value()?;
                one(with_levels(arg.build(), arg.levels))?;
            }
            "indent_level" => {
                let arg: IndentLevelArg = map.next_value()?;
                one(with_levels(arg.0.build(), arg.0.levels))?;
            }
            "keyword" => {
                let KeywordItem(arg) = map.next_value()?;
                one(boxed(match arg.at {
                    KeywordAt::Span => Keyword::new(&arg.word),
                    KeywordAt::End => Keyword::end(&arg.word),
                }))?;
            }
            "keyword_end" => {
                let word: String = map.next_value()?;
                one(boxed(Keyword::end(&word)))?;
            }
            "word" => {
                let word: String = map.next_value()?;
                one(boxed(Keyword::word_span(&word)))?;
            }
            "word_end" => {
                let word: String = map.next_value()?;
                one(boxed(Keyword::word_end(&word)))?;
            }
            "keywords" => {
                let words: Vec<String> = map.next_value()?;
                for w in &words {
                    one(boxed(Keyword::new(w)))?;
                }
            }
            "ngram" => {
                let text: String = map.next_value()?;
                one(boxed(NGram::new(&text)))?;
            }
            "ngrams" => {
                let texts: Vec<String> = map.next_value()?;
                for t in &texts {
                    one(boxed(NGram::new(t)))?;
                }
            }
            "regex" => {
                let arg: RegexArg = map.next_value()?;
                let name = arg.name.clone().unwrap_or_else(|| arg.pattern.clone());
                one(boxed(RegexMatch::new(&name, &arg.pattern)))?;
            }
            "count" => {
                let arg: CountArg = map.next_value()?;
                let c = Counter::new(arg.of.0).map(|c| match arg.reset {
                    Some(r) => c.reset_on(r.0),
                    None => c,
                });
                one(boxed(c))?;
            }
            "fsm" => {
                let arg: FsmArg = map.next_value()?;
                for h in arg.build(&ctx.base, i).map_err(de::Error::custom)? {
                    one(Ok(h))?;
                }
            }
            "family" => {
                let fam: Family = map.next_value()?;
                let corpus = ctx.corpus("family").map_err(de::Error::custom)?;
                let hs = fam
                    .generate(corpus)
                    .map_err(|e| de::Error::custom(e.to_string()))?;
                ctx.add_family(hs, i, &fam.label())
                    .map_err(de::Error::custom)?;
            }
            other if BARE.contains(&other) => {
                return Err(de::Error::custom(format!(
                    "`{other}` takes no argument: write it as a bare list item, `- {other}`"
                )));
            }
            other => return Err(de::Error::custom(unknown_item(other))),
        }
        if let Some(extra) = map.next_key::<String>()? {
            return Err(de::Error::custom(format!(
                "an item holds exactly one hypothesis, but this one has `{key}` and `{extra}`: \
                 write them as separate list items (`- {key}: ...` and `- {extra}: ...`)"
            )));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Argument types: each accepts a short scalar form and/or a map form.
// ---------------------------------------------------------------------------

/// Deserializes a scalar (string or integer, read as text) with `short`, or
/// a map as `M` converted with `long`.
fn scalar_or_map<'de, D, T, M>(
    d: D,
    expecting: &'static str,
    short: fn(&str) -> std::result::Result<T, String>,
    long: fn(M) -> std::result::Result<T, String>,
) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    M: Deserialize<'de>,
{
    struct V<T, M> {
        expecting: &'static str,
        short: fn(&str) -> std::result::Result<T, String>,
        long: fn(M) -> std::result::Result<T, String>,
        marker: PhantomData<M>,
    }
    impl<'de, T, M: Deserialize<'de>> Visitor<'de> for V<T, M> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<T, E> {
            (self.short)(v).map_err(E::custom)
        }
        fn visit_char<E: de::Error>(self, v: char) -> std::result::Result<T, E> {
            (self.short)(&v.to_string()).map_err(E::custom)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<T, E> {
            (self.short)(&v.to_string()).map_err(E::custom)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<T, E> {
            (self.short)(&v.to_string()).map_err(E::custom)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<T, A::Error> {
            let m = M::deserialize(de::value::MapAccessDeserializer::new(map))?;
            (self.long)(m).map_err(de::Error::custom)
        }
    }
    d.deserialize_any(V {
        expecting,
        short,
        long,
        marker: PhantomData,
    })
}

/// No map form.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoMap {}

fn no_map<T>(_: NoMap) -> std::result::Result<T, String> {
    Err("expected a single value here, not a map".to_string())
}

/// One character.
struct CharArg(char);

impl<'de> Deserialize<'de> for CharArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        scalar_or_map(
            d,
            "one character, e.g. '(' (quote it) or newline",
            |s| parse_char(s).map(CharArg),
            no_map,
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BracketMap {
    bracket: CharArg,
    #[serde(default)]
    code: bool,
    #[serde(default)]
    levels: Option<u32>,
}

struct BracketArg {
    bracket: char,
    code: bool,
    levels: Option<u32>,
}

impl<'de> Deserialize<'de> for BracketArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        scalar_or_map(
            d,
            "a bracket, e.g. '(', or {bracket: '(', code: true, levels: 3}",
            |s| {
                parse_char(s).map(|bracket| BracketArg {
                    bracket,
                    code: false,
                    levels: None,
                })
            },
            |m: BracketMap| {
                Ok(BracketArg {
                    bracket: m.bracket.0,
                    code: m.code,
                    levels: m.levels,
                })
            },
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IndentArg {
    #[serde(default)]
    unit: Option<usize>,
    #[serde(default)]
    tab: Option<usize>,
    #[serde(default)]
    levels: Option<u32>,
}

impl IndentArg {
    fn build(&self) -> Result<Indentation> {
        let h = match self.unit {
            Some(u) => Indentation::level(u)?,
            None => Indentation::width(),
        };
        match self.tab {
            Some(t) => h.tab_width(t),
            None => Ok(h),
        }
    }
}

struct IndentLevelArg(IndentArg);

impl<'de> Deserialize<'de> for IndentLevelArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        scalar_or_map(
            d,
            "an indent unit in columns, e.g. 4, or {unit: 4, tab: 4}",
            |s| {
                s.parse::<usize>()
                    .map(|u| {
                        IndentLevelArg(IndentArg {
                            unit: Some(u),
                            tab: None,
                            levels: None,
                        })
                    })
                    .map_err(|_| {
                        format!("`{s}` is not a number of columns: write e.g. `indent_level: 4`")
                    })
            },
            |m: IndentArg| {
                if m.unit.is_none() {
                    return Err("missing `unit`: write e.g. {unit: 4}".to_string());
                }
                Ok(IndentLevelArg(m))
            },
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeywordArg {
    word: String,
    #[serde(default)]
    at: KeywordAt,
}

impl KeywordArg {
    fn parse<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        scalar_or_map(
            d,
            "a word, e.g. return, or {word: return, at: end}",
            |s| {
                Ok(KeywordArg {
                    word: s.to_string(),
                    at: KeywordAt::Span,
                })
            },
            Ok,
        )
    }
}

/// `KeywordArg` has a derived map form; this wrapper adds the short form.
struct KeywordItem(KeywordArg);

impl<'de> Deserialize<'de> for KeywordItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        KeywordArg::parse(d).map(KeywordItem)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegexMap {
    #[serde(default)]
    name: Option<String>,
    pattern: String,
}

struct RegexArg {
    name: Option<String>,
    pattern: String,
}

impl<'de> Deserialize<'de> for RegexArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        scalar_or_map(
            d,
            "a pattern, or {name: NAME, pattern: PATTERN}",
            |s| {
                Ok(RegexArg {
                    name: None,
                    pattern: s.to_string(),
                })
            },
            |m: RegexMap| {
                Ok(RegexArg {
                    name: m.name,
                    pattern: m.pattern,
                })
            },
        )
    }
}

/// A character set: one item or a list of items (characters, named
/// characters, classes).
struct SetArg(CharSet);

impl<'de> Deserialize<'de> for SetArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let on = OnSpec::deserialize(d)?;
        let mut set: Option<CharSet> = None;
        for item in &on.0 {
            let one = CharSet::parse_item(item).map_err(de::Error::custom)?;
            set = Some(match set {
                None => one,
                Some(s) => s.union(&one),
            });
        }
        set.map(SetArg)
            .ok_or_else(|| de::Error::custom("empty list: give at least one character or class"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CountMap {
    of: SetArg,
    #[serde(default)]
    reset: Option<SetArg>,
}

struct CountArg {
    of: SetArg,
    reset: Option<SetArg>,
}

impl<'de> Deserialize<'de> for CountArg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        scalar_or_map(
            d,
            "a character or class to count, or {of: ..., reset: ...}",
            |s| {
                CharSet::parse_item(s).map(|of| CountArg {
                    of: SetArg(of),
                    reset: None,
                })
            },
            |m: CountMap| {
                Ok(CountArg {
                    of: m.of,
                    reset: m.reset,
                })
            },
        )
    }
}

/// Which outputs of an automaton to add.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FsmOutput {
    /// The state index (categorical).
    #[default]
    State,
    /// Whether the state is accepting (binary).
    Accepting,
    /// Both.
    Both,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FsmArg {
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    output: FsmOutput,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    states: Option<Vec<String>>,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    accepting: Option<Vec<String>>,
    #[serde(default)]
    default: Option<Fallback>,
    #[serde(default)]
    transitions: Option<Vec<TransitionSpec>>,
}

impl FsmArg {
    fn build(
        self,
        base: &Path,
        index: usize,
    ) -> std::result::Result<Vec<Box<dyn Hypothesis>>, String> {
        let inline = self.states.is_some()
            || self.start.is_some()
            || self.accepting.is_some()
            || self.default.is_some()
            || self.transitions.is_some();
        let fsm = match (&self.file, inline) {
            (Some(_), true) => {
                return Err(
                    "give either `file` or an inline automaton (states, start, transitions…), not both"
                        .to_string(),
                )
            }
            (Some(file), false) => {
                let path = base.join(file);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read automaton file {}: {e}", path.display()))?;
                let mut spec = FsmSpec::from_yaml_str(&text, &path).map_err(|e| e.to_string())?;
                if let Some(n) = self.name {
                    spec.name = Some(n);
                }
                spec.build(Some(&path)).map_err(|e| e.to_string())?
            }
            (None, false) => {
                return Err(
                    "empty automaton: give `file: PATH` or an inline automaton (name, states, start, transitions)"
                        .to_string(),
                )
            }
            (None, true) => {
                let Some(name) = self.name else {
                    return Err(format!("inline automaton without `name`: add e.g. `name: fsm{index}`"));
                };
                let spec = FsmSpec {
                    name: Some(name),
                    states: self.states.unwrap_or_default(),
                    start: self.start,
                    accepting: self.accepting.unwrap_or_default(),
                    default: self.default,
                    transitions: self.transitions.unwrap_or_default(),
                };
                spec.build(None).map_err(|e| e.to_string())?
            }
        };
        let mut out: Vec<Box<dyn Hypothesis>> = Vec::new();
        if matches!(self.output, FsmOutput::State | FsmOutput::Both) {
            out.push(Box::new(fsm.clone()));
        }
        if matches!(self.output, FsmOutput::Accepting | FsmOutput::Both) {
            out.push(Box::new(fsm.accepting().map_err(|e| e.to_string())?));
        }
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<HypothesisSet> {
        HypothesisSet::from_yaml_str(yaml, Path::new("hyps.yaml"), None)
    }

    fn spec_err(yaml: &str) -> (usize, String, String) {
        match parse(yaml).unwrap_err() {
            Error::Spec {
                line, key, message, ..
            } => (line, key, message),
            other => panic!("not a spec error: {other}"),
        }
    }

    #[test]
    fn parses_every_item_kind() {
        let yaml = r#"
- position
- column
- line
- indent
- identifier
- comment
- line_comment
- block_comment
- string
- char_literal
- char: '('
- char: newline
- char: 7
- chars: "{};"
- class: digit
- depth: '('
- inside: {bracket: '}', code: true}
- indent: {tab: 4}
- indent_level: 4
- keyword: return
- keyword: {word: struct, at: end}
- keyword_end: if
- keywords: [for, while]
- ngram: '->'
- ngrams: ['::', '//']
- regex: {name: hex, pattern: '0x[0-9a-f]+'}
- regex: '[0-9]+'
- count: ','
- count: {of: [digit, x], reset: newline}
- fsm: {name: parity, states: [even, odd], start: even, accepting: [odd], default: stay, output: both,
        transitions: [{from: even, on: 1, to: odd}, {from: odd, on: '1', to: even}]}
"#;
        let set = parse(yaml).unwrap();
        let names = set.names();
        let expect = [
            "position",
            "column",
            "line",
            "indent",
            "identifier",
            "comment",
            "line_comment",
            "block_comment",
            "string",
            "char_literal",
            "char(()",
            "char(\\n)",
            "char(7)",
            "char({)",
            "char(})",
            "char(;)",
            "class(digit)",
            "depth(()",
            "code_inside({)",
            "indent(tab=4)",
            "indent_level(4)",
            "keyword(return)",
            "keyword_end(struct)",
            "keyword_end(if)",
            "keyword(for)",
            "keyword(while)",
            "ngram(->)",
            "ngram(::)",
            "ngram(//)",
            "regex(hex)",
            "regex([0-9]+)",
            "count(,)",
            "count([x,digit],reset=\\n)",
            "parity",
            "parity.accepting",
        ];
        assert_eq!(names, expect);
        // the inline automaton works
        let h = set.get("parity").unwrap();
        let mut out = Vec::new();
        h.evaluate(&['1', '0', '1'], &mut out);
        assert_eq!(out, [1.0, 1.0, 0.0]);
    }

    #[test]
    fn unknown_items_and_keys_name_location_and_valid_keys() {
        let (line, key, msg) = spec_err("- position\n- chr: '('\n");
        assert_eq!(line, 2);
        assert_eq!(key, "[1]");
        assert!(
            msg.contains("unknown hypothesis `chr`") && msg.contains("did you mean char"),
            "{msg}"
        );
        assert!(msg.contains("keys: char, chars"), "{msg}");
        let (line, key, msg) = spec_err("- position\n- regex: {name: hex, patern: 'x'}\n");
        assert_eq!(line, 2);
        assert_eq!(key, "[1].regex");
        assert!(
            msg.contains("unknown field `patern`") && msg.contains("`pattern`"),
            "{msg}"
        );
        let (_, _, msg) = spec_err("- positon\n");
        assert!(msg.contains("did you mean position"), "{msg}");
        let (_, _, msg) = spec_err("- char\n");
        assert!(msg.contains("needs an argument"), "{msg}");
        let (_, _, msg) = spec_err("- position: {}\n");
        assert!(msg.contains("takes no argument"), "{msg}");
        let (_, _, msg) = spec_err("- {char: a, class: digit}\n");
        assert!(msg.contains("separate list items"), "{msg}");
        let (_, _, msg) = spec_err("- char: ab\n");
        assert!(msg.contains("`ab` is not one character"), "{msg}");
        let (_, _, msg) = spec_err("position: 1\n");
        assert!(msg.contains("a list of hypotheses"), "{msg}");
        let (_, _, msg) = spec_err("[]\n");
        assert!(msg.contains("empty hypothesis list"), "{msg}");
        let (_, _, msg) = spec_err("- keyword: a-b\n");
        assert!(msg.contains("not an identifier"), "{msg}");
        let (_, _, msg) = spec_err("- regex: '('\n");
        assert!(msg.contains("invalid regular expression"), "{msg}");
        let (_, key, msg) = spec_err(
            "- fsm: {name: f, states: [a], start: a, transitions: [{from: a, on: x, to: b}]}\n",
        );
        assert_eq!(key, "[0]");
        assert!(
            msg.contains("transitions[0].to") && msg.contains("unknown state `b`"),
            "{msg}"
        );
    }

    #[test]
    fn duplicates_are_errors_but_families_skip() {
        let (line, _, msg) = spec_err("- char: a\n- position\n- char: a\n");
        assert_eq!(line, 3);
        assert!(
            msg.contains("duplicate hypothesis `char(a)`") && msg.contains("item [0]"),
            "{msg}"
        );
        let corpus = Corpus::from_strings("c", ["aaaaabbbbb"]).unwrap();
        let set = HypothesisSet::from_yaml_str(
            "- char: a\n- family: {kind: char}\n",
            Path::new("h.yaml"),
            Some(&corpus),
        )
        .unwrap();
        assert_eq!(set.names(), ["char(a)", "char(b)"]);
        let (_, key, msg) = spec_err("- family: {kind: char}\n");
        assert_eq!(key, "[0]");
        assert!(msg.contains("load_with_corpus"), "{msg}");
        let e = HypothesisSet::from_yaml_str(
            "- family: {kind: char, size: 3}\n",
            Path::new("h.yaml"),
            Some(&corpus),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("unknown field `size`") && e.contains("min_count"),
            "{e}"
        );
    }

    #[test]
    fn fsm_files_are_relative_to_the_list() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("fsm")).unwrap();
        std::fs::write(
            dir.path().join("fsm/last_op.yaml"),
            "states: [none, or, and]\nstart: none\naccepting: [or]\ndefault: stay\ntransitions:\n  - {from: [none, or, and], on: '|', to: or}\n  - {from: [none, or, and], on: '&', to: and}\n",
        )
        .unwrap();
        let list = dir.path().join("hyps.yaml");
        std::fs::write(&list, "- fsm: {file: fsm/last_op.yaml, output: both}\n").unwrap();
        let set = HypothesisSet::load(&list).unwrap();
        assert_eq!(set.names(), ["last_op", "last_op.accepting"]);
        std::fs::write(&list, "- position\n- fsm: {file: fsm/missing.yaml}\n").unwrap();
        let e = HypothesisSet::load(&list).unwrap_err().to_string();
        assert!(
            e.contains("hyps.yaml:2") && e.contains("missing.yaml"),
            "{e}"
        );
    }
}
