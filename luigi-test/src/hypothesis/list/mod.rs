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
//! - token: ▁call             # this token (models with a subword tokenizer)
//! - word_start               # the token (or character) starts a word
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

mod args;
mod item;

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

pub(crate) use item::{count_without, without, BARE, KEYED, SEVERAL};
use item::{valid_items, Item};

use super::{Hypothesis, HypothesisSet};
use crate::corpus::Corpus;
use crate::error::{Error, Result};
use crate::yaml;

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

impl<'de> Visitor<'de> for ItemSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a hypothesis: a bare name (`position`) or a map with one key (`char: '('`)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<(), E> {
        Item::bare(v)
            .and_then(|item| item.build(self.ctx, self.index, v))
            .map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let key: String = map.next_key()?.ok_or_else(|| {
            de::Error::custom(format!(
                "empty item: write one hypothesis; valid {}",
                valid_items()
            ))
        })?;
        Item::keyed(&key, &mut map)?
            .build(self.ctx, self.index, &key)
            .map_err(de::Error::custom)?;
        if let Some(extra) = map.next_key::<String>()? {
            return Err(de::Error::custom(format!(
                "an item holds exactly one hypothesis, but this one has `{key}` and `{extra}`: \
                 write them as separate list items (`- {key}: ...` and `- {extra}: ...`)"
            )));
        }
        Ok(())
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
