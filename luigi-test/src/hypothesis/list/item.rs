//! One item of a hypothesis list as a typed value ([`Item`]): the names the
//! format knows, reading an item's argument, and building its hypotheses.

use serde::de::{self, MapAccess};

use super::args::{
    BracketArg, CharArg, CountArg, FsmArg, IndentArg, IndentLevelArg, KeywordArg, KeywordItem,
    RegexArg, ThresholdArg, WindowArg,
};
use super::Context;
use crate::error::{closest_names, Result};
use crate::hypothesis::families::{self, Family, KeywordAt};
use crate::hypothesis::library::{
    Above, Bracket, CharIs, ClassIs, Column, Counter, Crossing, Feature, Identifier, InRegion,
    Indentation, Keyword, Levels, Line, MovingMean, NGram, OnValues, Position, RegexMatch,
    RunningMax, RunningMean, TokenIs, WordStart,
};
use crate::hypothesis::Hypothesis;

/// Items written as a bare name.
pub(crate) const BARE: &[&str] = &[
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
    "word_start",
    "auto",
];

/// Items written as a one-key map.
pub(crate) const KEYED: &[&str] = &[
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
    "token",
    "feature",
    "above",
    "crossing",
    "running_mean",
    "running_max",
    "moving_mean",
    "regex",
    "count",
    "fsm",
    "family",
];

/// Items that generate several hypotheses (or may: `chars`, `keywords` and
/// `ngrams` give one per element).
pub(crate) const SEVERAL: &[&str] = &["auto", "chars", "keywords", "ngrams", "family"];

/// How many of `names` are not in `drop`.
pub(crate) const fn count_without(names: &[&str], drop: &[&str]) -> usize {
    let (mut i, mut n) = (0, 0);
    while i < names.len() {
        if !contains(drop, names[i]) {
            n += 1;
        }
        i += 1;
    }
    n
}

/// `names` without those in `drop`, in order, then `extra`; `N` must be
/// their number (a constant that is not fails to compile).
pub(crate) const fn without<const N: usize>(
    names: &[&'static str],
    drop: &[&str],
    extra: &[&'static str],
) -> [&'static str; N] {
    let mut out = [""; N];
    let (mut i, mut n) = (0, 0);
    while i < names.len() {
        if !contains(drop, names[i]) {
            out[n] = names[i];
            n += 1;
        }
        i += 1;
    }
    let mut j = 0;
    while j < extra.len() {
        out[n] = extra[j];
        n += 1;
        j += 1;
    }
    assert!(n == N, "`N` is not the number of names kept");
    out
}

const fn contains(names: &[&str], name: &str) -> bool {
    let mut i = 0;
    while i < names.len() {
        if same(names[i], name) {
            return true;
        }
        i += 1;
    }
    false
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

pub(super) fn valid_items() -> String {
    format!(
        "bare names: {}; keys: {}",
        BARE.join(", "),
        KEYED.join(", ")
    )
}

pub(super) fn unknown_item(name: &str) -> String {
    let all = BARE.iter().chain(KEYED.iter()).copied();
    let close = closest_names(name, all, 3);
    let hint = if close.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", close.join(", "))
    };
    format!("unknown hypothesis `{name}`{hint}; valid {}", valid_items())
}

/// A hypothesis without arguments.
#[derive(Debug, Clone, Copy)]
pub(super) enum Bare {
    Position,
    Column,
    Line,
    Indent,
    Identifier,
    Comment,
    LineComment,
    BlockComment,
    String,
    CharLiteral,
    WordStart,
}

impl Bare {
    fn hypothesis(self) -> Box<dyn Hypothesis> {
        match self {
            Bare::Position => Box::new(Position),
            Bare::Column => Box::new(Column),
            Bare::Line => Box::new(Line),
            Bare::Indent => Box::new(Indentation::width()),
            Bare::Identifier => Box::new(Identifier),
            Bare::Comment => Box::new(InRegion::comment()),
            Bare::LineComment => Box::new(InRegion::line_comment()),
            Bare::BlockComment => Box::new(InRegion::block_comment()),
            Bare::String => Box::new(InRegion::string()),
            Bare::CharLiteral => Box::new(InRegion::char_literal()),
            Bare::WordStart => Box::new(WordStart),
        }
    }
}

/// One item of a hypothesis list, as written, its argument read and
/// checked; [`Item::build`] makes its hypotheses.
pub(super) enum Item {
    /// `- position`, `- comment`, …
    Bare(Bare),
    /// `- auto`: the default families of the corpus.
    Auto,
    Char(char),
    Chars(String),
    Class(String),
    Depth(BracketArg),
    RelativeDepth(BracketArg),
    Inside(BracketArg),
    Indent(IndentArg),
    IndentLevel(IndentArg),
    Keyword(KeywordArg),
    KeywordEnd(String),
    Word(String),
    WordEnd(String),
    Keywords(Vec<String>),
    Ngram(String),
    Ngrams(Vec<String>),
    Token(String),
    Feature(usize),
    Above(ThresholdArg),
    Crossing(ThresholdArg),
    RunningMean(usize),
    RunningMax(usize),
    MovingMean(WindowArg),
    Regex(RegexArg),
    Count(CountArg),
    Fsm(FsmArg),
    Family(Family),
}

impl Item {
    /// The item written as the bare name `name` (`- position`).
    pub(super) fn bare(name: &str) -> std::result::Result<Item, String> {
        let bare = match name {
            "position" => Bare::Position,
            "column" => Bare::Column,
            "line" => Bare::Line,
            "indent" => Bare::Indent,
            "identifier" => Bare::Identifier,
            "comment" => Bare::Comment,
            "line_comment" => Bare::LineComment,
            "block_comment" => Bare::BlockComment,
            "string" => Bare::String,
            "char_literal" => Bare::CharLiteral,
            "word_start" => Bare::WordStart,
            "auto" => return Ok(Item::Auto),
            other if KEYED.contains(&other) => {
                return Err(format!(
                    "`{other}` needs an argument: write `- {other}: ...` (see the hypothesis list format)"
                ))
            }
            other => return Err(unknown_item(other)),
        };
        Ok(Item::Bare(bare))
    }

    /// The item written as the map `key: ARGUMENT`, its argument read from
    /// `map` (whose key `key` was just read).
    pub(super) fn keyed<'de, A: MapAccess<'de>>(
        key: &str,
        map: &mut A,
    ) -> std::result::Result<Item, A::Error> {
        Ok(match key {
            "char" => {
                let CharArg(c) = map.next_value()?;
                Item::Char(c)
            }
            "chars" => Item::Chars(map.next_value()?),
            "class" => Item::Class(map.next_value()?),
            "depth" => Item::Depth(map.next_value()?),
            "relative_depth" => Item::RelativeDepth(map.next_value()?),
            "inside" => Item::Inside(map.next_value()?),
            "indent" => Item::Indent(map.next_value()?),
            "indent_level" => {
                let IndentLevelArg(arg) = map.next_value()?;
                Item::IndentLevel(arg)
            }
            "keyword" => {
                let KeywordItem(arg) = map.next_value()?;
                Item::Keyword(arg)
            }
            "keyword_end" => Item::KeywordEnd(map.next_value()?),
            "word" => Item::Word(map.next_value()?),
            "word_end" => Item::WordEnd(map.next_value()?),
            "keywords" => Item::Keywords(map.next_value()?),
            "ngram" => Item::Ngram(map.next_value()?),
            "ngrams" => Item::Ngrams(map.next_value()?),
            "token" => Item::Token(map.next_value()?),
            "feature" => Item::Feature(map.next_value()?),
            "above" => Item::Above(map.next_value()?),
            "crossing" => Item::Crossing(map.next_value()?),
            "running_mean" => Item::RunningMean(map.next_value()?),
            "running_max" => Item::RunningMax(map.next_value()?),
            "moving_mean" => Item::MovingMean(map.next_value()?),
            "regex" => Item::Regex(map.next_value()?),
            "count" => Item::Count(map.next_value()?),
            "fsm" => Item::Fsm(map.next_value()?),
            "family" => Item::Family(map.next_value()?),
            other if BARE.contains(&other) => {
                return Err(de::Error::custom(format!(
                    "`{other}` takes no argument: write it as a bare list item, `- {other}`"
                )));
            }
            other => return Err(de::Error::custom(unknown_item(other))),
        })
    }

    /// Builds the item's hypotheses into `ctx`, each added as soon as it is
    /// built (so the first problem met is the one reported); `index` and
    /// `key` name the item in duplicate errors.
    pub(super) fn build(
        self,
        ctx: &Context,
        index: usize,
        key: &str,
    ) -> std::result::Result<(), String> {
        let one = |h: std::result::Result<Box<dyn Hypothesis>, String>| ctx.add(h?, index, key);
        match self {
            Item::Bare(b) => one(Ok(b.hypothesis())),
            Item::Auto => {
                let set = families::auto(ctx.corpus("auto")?).map_err(|e| e.to_string())?;
                ctx.add_family(set.into_boxed(), index, key)
            }
            Item::Char(c) => one(Ok(Box::new(CharIs::new(c)))),
            Item::Chars(text) => {
                let mut seen = Vec::new();
                for c in text.chars() {
                    if !seen.contains(&c) {
                        seen.push(c);
                        one(Ok(Box::new(CharIs::new(c))))?;
                    }
                }
                if seen.is_empty() {
                    return Err("`chars` is empty: give at least one character".to_string());
                }
                Ok(())
            }
            Item::Class(name) => one(boxed(ClassIs::named(&name))),
            Item::Depth(arg) => one(bracket(Bracket::depth(arg.bracket), &arg)),
            Item::RelativeDepth(arg) => one(bracket(Bracket::relative_depth(arg.bracket), &arg)),
            Item::Inside(arg) => one(bracket(Bracket::inside(arg.bracket), &arg)),
            Item::Indent(arg) | Item::IndentLevel(arg) => one(with_levels(arg.build(), arg.levels)),
            Item::Keyword(arg) => one(boxed(match arg.at {
                KeywordAt::Span => Keyword::new(&arg.word),
                KeywordAt::End => Keyword::end(&arg.word),
            })),
            Item::KeywordEnd(word) => one(boxed(Keyword::end(&word))),
            Item::Word(word) => one(boxed(Keyword::word_span(&word))),
            Item::WordEnd(word) => one(boxed(Keyword::word_end(&word))),
            Item::Keywords(words) => words.iter().try_for_each(|w| one(boxed(Keyword::new(w)))),
            Item::Ngram(text) => one(boxed(NGram::new(&text))),
            Item::Ngrams(texts) => texts.iter().try_for_each(|t| one(boxed(NGram::new(t)))),
            Item::Token(piece) => one(boxed(TokenIs::new(&piece))),
            Item::Feature(f) => one(Ok(Box::new(Feature::new(f)))),
            Item::Above(a) => one(boxed(Above::new(a.feature, a.threshold))),
            Item::Crossing(a) => one(boxed(Crossing::new(a.feature, a.threshold))),
            Item::RunningMean(f) => one(Ok(Box::new(RunningMean::new(f)))),
            Item::RunningMax(f) => one(Ok(Box::new(RunningMax::new(f)))),
            Item::MovingMean(a) => one(boxed(MovingMean::new(a.feature, a.window))),
            Item::Regex(arg) => {
                let name = arg.name.clone().unwrap_or_else(|| arg.pattern.clone());
                one(boxed(RegexMatch::new(&name, &arg.pattern)))
            }
            Item::Count(arg) => {
                let c = Counter::new(arg.of.0).map(|c| match arg.reset {
                    Some(r) => c.reset_on(r.0),
                    None => c,
                });
                one(boxed(c))
            }
            Item::Fsm(mut arg) => {
                let over = arg.take_over();
                arg.build(&ctx.base, index)?
                    .into_iter()
                    .try_for_each(|h| match &over {
                        None => one(Ok(h)),
                        Some(o) => one(boxed(OnValues::new(h, o.feature, o.cuts.clone()))),
                    })
            }
            Item::Family(fam) => {
                let corpus = ctx.corpus("family")?;
                let hs = fam.generate(corpus).map_err(|e| e.to_string())?;
                ctx.add_family(hs, index, &fam.label())
            }
        }
    }
}

/// A bracket hypothesis as `arg` asks: code-aware, binned into levels.
fn bracket(
    b: Result<Bracket>,
    arg: &BracketArg,
) -> std::result::Result<Box<dyn Hypothesis>, String> {
    let b = b.map(|b| if arg.code { b.code_aware() } else { b });
    with_levels(b, arg.levels)
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
