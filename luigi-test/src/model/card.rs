//! The model card: a YAML file beside the model (`<model>.luigi.yaml`) that
//! says how to feed it.
//!
//! ```yaml
//! model: boolean.onnx            # optional; default: the card's name minus `.luigi.yaml` plus `.onnx`
//! input:
//!   name: tokens                 # the graph input that takes the sequence
//!   encoding: ids                # `ids` (int64 token ids) or `one-hot` (float32)
//!   layout: batch-major          # `batch-major` ([batch, time(, vocab)]) or `time-major`
//!   causal: true                 # optional: right padding cannot change earlier outputs
//!   # mask: attention_mask       # optional: the input taking 1 per timestep, 0 per padding
//! vocabulary:
//!   chars: "X01|&"               # inline: id = position in this string
//!   # file: vocab.json           # or a JSON array of one-character strings, id = index
//!   unknown: 0                   # optional: id for characters not in the vocabulary
//!                                #           (absent: such a character is an error)
//!   # tokenizer: tokenizer.json  # or a subword tokenizer (Hugging Face format):
//!   # align: last                #   one timestep per token; hypotheses over
//!                                #   characters take the value at the token's
//!                                #   `last` (default), `first` character, `any`, `mean`
//! state:                         # optional: pairs for stepwise runs
//!   - { input: h0, output: hn }
//!   - { input: c0, output: cn }
//! logits: logits                 # optional: the output with next-token scores
//! layers:                        # optional aliases
//!   lstm: /lstm/LSTM_output_0
//! untrained: boolean-untrained.onnx   # optional: the same architecture, random weights
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::corpus::tokens::{Align, Tokenizer, Tokens};
use crate::corpus::{Corpus, Sequence};
use crate::error::{Error, Result};
use crate::yaml;
use std::sync::Arc;

/// How tokens are fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// int64 token ids: `[batch, time]` (or `[time, batch]`).
    Ids,
    /// float32 one-hot vectors: `[batch, time, vocab]` (or `[time, batch, vocab]`).
    OneHot,
    /// float32 feature vectors of a numeric corpus: `[batch, time,
    /// features]` (or `[time, batch, features]`); no vocabulary.
    Float,
}

/// Which axis comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// `[batch, time, …]`
    BatchMajor,
    /// `[time, batch, …]`
    TimeMajor,
}

/// The `input` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Graph input name.
    pub name: String,
    /// Token encoding.
    pub encoding: Encoding,
    /// Axis order.
    #[serde(default = "default_layout")]
    pub layout: Layout,
    /// True when right padding cannot change earlier timesteps (a
    /// unidirectional recurrent model): sequences of different lengths may
    /// then share a batch. Otherwise only equal lengths are batched together.
    #[serde(default)]
    pub causal: bool,
    /// Features per timestep, for `encoding: float` (default: the input's
    /// last dimension in the graph).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<usize>,
    /// The graph input that takes the attention mask, for a model that has
    /// one (a Hugging Face export's `attention_mask`): int64 in the input's
    /// layout, 1 at every timestep of a sequence and 0 at the padding after
    /// it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
}

fn default_layout() -> Layout {
    Layout::BatchMajor
}

/// The `vocabulary` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VocabularySpec {
    /// Inline vocabulary: id = position of the character in this string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chars: Option<String>,
    /// A JSON file (relative to the card) holding an array of one-character strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// Id given to characters outside the vocabulary; absent means such a
    /// character is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<i64>,
    /// A subword tokenizer (`tokenizer.json`, relative to the card): the
    /// model reads its token ids, one timestep per token
    /// ([`crate::corpus::tokens`]). Instead of `chars` and `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<PathBuf>,
    /// How a token takes the value of a hypothesis over characters (only
    /// with `tokenizer`; default `last`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub align: Option<Align>,
}

impl VocabularySpec {
    /// True when no key is set (a card of numeric input).
    pub fn is_empty(&self) -> bool {
        *self == VocabularySpec::default()
    }
}

/// One recurrent state carried between steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatePair {
    /// The graph input that takes the state.
    pub input: String,
    /// The graph output that gives the next state.
    pub output: String,
    /// The recorded layer (alias or tensor) whose last timestep this state
    /// carries, e.g. an LSTM's `h`; unit forcing ([`crate::verify`]'s
    /// intervention mode, `luigi generate --force`) writes the forced value
    /// into it as well as into the layer, so that the next step sees it.
    /// A state that stacks layers (`[layers, batch, units]`, as PyTorch
    /// exports a multi-layer LSTM's `h`) lists them in order: `layer:
    /// [lstm, lstm2]`. Absent: the state carries no recorded layer (an
    /// LSTM's cell `c`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<Carried>,
}

/// The names that stand for every layer of the card (`--layer all`,
/// `layer: any`; see [`crate::model::selection`]); no alias may use them.
pub const EVERY_LAYER: [&str; 2] = ["all", "any"];

/// Separates a layer from its unit in the unit names of a selection of
/// several layers (`lstm2:110`); no alias may hold it.
pub const LAYER_UNIT_SEPARATOR: char = ':';

/// The layer or layers a state carries (see [`StatePair::layer`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Carried {
    /// One layer: the whole state (per batch item) is its last step.
    One(String),
    /// Stacked layers, in slot order.
    Stacked(Vec<String>),
}

impl Carried {
    /// The layers, in slot order.
    pub fn layers(&self) -> Vec<&str> {
        match self {
            Carried::One(l) => vec![l.as_str()],
            Carried::Stacked(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

impl StatePair {
    /// The slot of `layer` (alias or tensor, as the card resolves it) in
    /// this state, if the state carries it.
    pub fn slot_of(&self, card: &Card, layer: &str) -> Option<usize> {
        let want = card.resolve_layer(layer);
        self.layer
            .as_ref()?
            .layers()
            .iter()
            .position(|l| card.resolve_layer(l) == want)
    }
}

/// A model card as written in YAML.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardFile {
    /// The ONNX file, relative to the card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<PathBuf>,
    /// How to feed the sequence.
    pub input: InputSpec,
    /// The characters the model knows (absent for `encoding: float`).
    #[serde(default, skip_serializing_if = "VocabularySpec::is_empty")]
    pub vocabulary: VocabularySpec,
    /// State input/output pairs for stepwise runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub state: Vec<StatePair>,
    /// Output holding next-token scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logits: Option<String>,
    /// Layer aliases: alias → tensor name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub layers: BTreeMap<String, String>,
    /// An untrained twin (same architecture, random weights), relative to the card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untrained: Option<PathBuf>,
}

/// A loaded model card, paths resolved, vocabulary read.
#[derive(Debug, Clone)]
pub struct Card {
    /// Where the card was read from.
    pub path: PathBuf,
    /// The ONNX file.
    pub model_path: PathBuf,
    /// The card's content.
    pub file: CardFile,
    /// The vocabulary, id = index (empty for a card with a tokenizer).
    pub vocabulary: Vec<char>,
    /// The subword tokenizer, for a card with `vocabulary.tokenizer`.
    pub tokenizer: Option<Arc<Tokenizer>>,
    /// The untrained twin's path, resolved.
    pub untrained_path: Option<PathBuf>,
    lookup: BTreeMap<char, i64>,
    /// `lookup` for the 128 ASCII characters, indexed by code: the
    /// characters of most corpora, found without a tree search.
    ascii: [Option<i64>; 128],
}

impl CardFile {
    /// The card as YAML (without comments), as [`Card::load`] reads it.
    pub fn to_yaml(&self) -> Result<String> {
        yaml::to_string(self).map_err(|e| Error::invalid("model card", e.to_string()))
    }
}

/// The card path for a model path: `<model>.luigi.yaml` beside it.
pub fn card_path_for(model: &Path) -> PathBuf {
    let stem = model
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let stem = stem.strip_suffix(".onnx").unwrap_or(&stem).to_string();
    model.with_file_name(format!("{stem}.luigi.yaml"))
}

impl Card {
    /// Reads a card. `path` may be the card itself or the `.onnx` file (the
    /// card is then `<model>.luigi.yaml` beside it).
    pub fn load(path: impl AsRef<Path>) -> Result<Card> {
        let path = path.as_ref();
        let is_onnx = path.extension().is_some_and(|e| e == "onnx");
        let card_path = if is_onnx {
            card_path_for(path)
        } else {
            path.to_path_buf()
        };
        if is_onnx && !card_path.is_file() {
            return Err(Error::Card {
                path: card_path.clone(),
                key: "(file)".to_string(),
                message: format!(
                    "no model card beside {}: write {} (see `luigi_test::model::card` for the format) or pass the card's path",
                    path.display(),
                    card_path.display()
                ),
            });
        }
        let text = std::fs::read_to_string(&card_path).map_err(|e| Error::io(&card_path, e))?;
        if let Some((line, column)) = crate::error::yaml_too_deep(&text) {
            return Err(Error::Card {
                path: card_path.clone(),
                key: "(document)".to_string(),
                message: format!(
                    "brackets nested more than {} deep at line {line}, column {column}: a card is a few levels deep; check the file",
                    crate::error::MAX_YAML_NESTING
                ),
            });
        }
        let file: CardFile = yaml::from_str(&text).map_err(|e| {
            let (key, message) = yaml::card_error(&e);
            Error::Card {
                path: card_path.clone(),
                key,
                message,
            }
        })?;
        let dir = card_path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let model_path = if is_onnx {
            path.to_path_buf()
        } else {
            match &file.model {
                Some(m) => dir.join(m),
                None => {
                    let name = card_path
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default();
                    let stem = name
                        .strip_suffix(".luigi.yaml")
                        .or_else(|| name.strip_suffix(".yaml"))
                        .unwrap_or(&name);
                    dir.join(format!("{stem}.onnx"))
                }
            }
        };
        let untrained_path = file.untrained.as_ref().map(|u| dir.join(u));
        Card::from_parts(card_path, model_path, file, untrained_path, &dir)
    }

    /// Builds a card from its parsed content (`dir` resolves relative paths).
    pub fn from_parts(
        card_path: PathBuf,
        model_path: PathBuf,
        file: CardFile,
        untrained_path: Option<PathBuf>,
        dir: &Path,
    ) -> Result<Card> {
        let err = |key: &str, message: String| Error::Card {
            path: card_path.clone(),
            key: key.to_string(),
            message,
        };
        for alias in file.layers.keys() {
            if EVERY_LAYER.contains(&alias.as_str()) {
                return Err(err(
                    &format!("layers.{alias}"),
                    format!("`{alias}` is reserved: `all` and `any` stand for every layer of the card (`--layer all`, `layer: any`); rename this alias"),
                ));
            }
            if alias.contains(',')
                || alias.contains(LAYER_UNIT_SEPARATOR)
                || alias.trim().is_empty()
            {
                return Err(err(
                    &format!("layers.{alias}"),
                    "an alias may not be empty nor hold `,` (it separates layers in a list) or `:` (it separates a layer from its unit, `lstm2:110`); rename this alias".to_string(),
                ));
            }
        }
        let tokenizer = match &file.vocabulary.tokenizer {
            None => {
                if file.vocabulary.align.is_some() {
                    return Err(err(
                        "vocabulary.align",
                        "only applies with `vocabulary.tokenizer` (a model of characters has one timestep per character): remove it".to_string(),
                    ));
                }
                None
            }
            Some(t) => {
                if file.vocabulary.chars.is_some()
                    || file.vocabulary.file.is_some()
                    || file.vocabulary.unknown.is_some()
                {
                    return Err(err(
                        "vocabulary.tokenizer",
                        "a tokenizer brings its own vocabulary and unknown token: remove `chars`, `file` and `unknown`".to_string(),
                    ));
                }
                let p = dir.join(t);
                if !p.is_file() {
                    return Err(err(
                        "vocabulary.tokenizer",
                        format!("no file {}: give the tokenizer.json the model was trained with, relative to the card", p.display()),
                    ));
                }
                let tok =
                    Tokenizer::load(&p).map_err(|e| err("vocabulary.tokenizer", e.to_string()))?;
                Some(Arc::new(tok))
            }
        };
        let float = file.input.encoding == Encoding::Float;
        if float && !file.vocabulary.is_empty() {
            return Err(err(
                "vocabulary",
                "`input.encoding: float` feeds feature vectors, not tokens: remove `vocabulary`"
                    .to_string(),
            ));
        }
        if !float && file.input.features.is_some() {
            return Err(err(
                "input.features",
                "only applies with `encoding: float`: remove it".to_string(),
            ));
        }
        let vocabulary: Vec<char> = match (&file.vocabulary.chars, &file.vocabulary.file) {
            _ if tokenizer.is_some() || float => Vec::new(),
            (Some(c), None) => c.chars().collect(),
            (None, Some(f)) => {
                let p = dir.join(f);
                let text = std::fs::read_to_string(&p).map_err(|e| {
                    err(
                        "vocabulary.file",
                        format!("cannot read {}: {e}", p.display()),
                    )
                })?;
                let items: Vec<String> = serde_json::from_str(&text).map_err(|e| {
                    err(
                        "vocabulary.file",
                        format!("{} is not a JSON array of strings: {e}", p.display()),
                    )
                })?;
                let mut v = Vec::with_capacity(items.len());
                for (i, s) in items.iter().enumerate() {
                    let mut it = s.chars();
                    match (it.next(), it.next()) {
                        (Some(c), None) => v.push(c),
                        _ => {
                            return Err(err(
                                "vocabulary.file",
                                format!(
                                    "entry {i} ({s:?}) of {} is not exactly one character",
                                    p.display()
                                ),
                            ))
                        }
                    }
                }
                v
            }
            (Some(_), Some(_)) => {
                return Err(err(
                    "vocabulary",
                    "give either `chars` or `file`, not both".to_string(),
                ))
            }
            (None, None) => {
                return Err(err(
                    "vocabulary",
                    "missing: give `chars: \"…\"` (id = position), `file: vocab.json` or `tokenizer: tokenizer.json`"
                        .to_string(),
                ))
            }
        };
        if vocabulary.is_empty() && tokenizer.is_none() && !float {
            return Err(err("vocabulary", "is empty".to_string()));
        }
        let mut lookup = BTreeMap::new();
        for (i, c) in vocabulary.iter().enumerate() {
            if lookup.insert(*c, i as i64).is_some() {
                return Err(err(
                    "vocabulary",
                    format!("character {c:?} appears twice (second at id {i})"),
                ));
            }
        }
        let mut ascii = [None; 128];
        for (c, id) in &lookup {
            if let Some(slot) = ascii.get_mut(*c as usize) {
                *slot = Some(*id);
            }
        }
        if let Some(u) = file.vocabulary.unknown {
            if u < 0 || u as usize >= vocabulary.len() {
                return Err(err(
                    "vocabulary.unknown",
                    format!("id {u} is outside the vocabulary (0..{})", vocabulary.len()),
                ));
            }
        }
        Ok(Card {
            path: card_path,
            model_path,
            file,
            vocabulary,
            tokenizer,
            untrained_path,
            lookup,
            ascii,
        })
    }

    /// Number of token ids the model reads: the tokenizer's, or the
    /// characters of the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.tokenizer
            .as_ref()
            .map_or(self.vocabulary.len(), |t| t.vocab_size())
    }

    /// The corpus as this model reads it: tokenized by the card's
    /// tokenizer (see [`Corpus::tokenized`]), or unchanged for a model of
    /// characters. A tokenized corpus given to a model of characters is an
    /// error.
    pub fn prepare(&self, corpus: &Corpus) -> Result<Corpus> {
        let float = self.file.input.encoding == Encoding::Float;
        if float != corpus.is_numeric() {
            return Err(Error::Corpus {
                source_name: corpus.name().to_string(),
                message: if float {
                    format!(
                        "is text, but {} reads feature vectors (`input.encoding: float`): give a numeric corpus, a float32 .npy of [sequences, time, features]",
                        self.path.display()
                    )
                } else {
                    format!(
                        "is a numeric corpus, but {} reads tokens: give text, or a card with `input.encoding: float`",
                        self.path.display()
                    )
                },
            });
        }
        match &self.tokenizer {
            Some(t) => corpus.tokenized(t, self.file.vocabulary.align.unwrap_or_default()),
            None if corpus.is_tokenized() => Err(Error::Corpus {
                source_name: corpus.name().to_string(),
                message: format!(
                    "is tokenized by a subword tokenizer, but {} reads characters: load the corpus again for this model",
                    self.path.display()
                ),
            }),
            None => Ok(corpus.clone()),
        }
    }

    /// How a token id is shown: its character, or its token string.
    pub fn token_label(&self, id: i64) -> String {
        let i = usize::try_from(id).unwrap_or(usize::MAX);
        match &self.tokenizer {
            Some(t) => t.piece(i).to_string(),
            None => self
                .vocabulary
                .get(i)
                .map_or('\u{fffd}', |c| *c)
                .to_string(),
        }
    }

    /// The text each generated token adds after `prompt` (ids): its
    /// character, or, for a tokenizer, what its decoder writes.
    pub fn continuation(&self, prompt: &[i64], generated: &[i64]) -> Result<Vec<String>> {
        match &self.tokenizer {
            Some(t) => t.continuation(prompt, generated),
            None => Ok(generated.iter().map(|&id| self.token_label(id)).collect()),
        }
    }

    /// The sequence `prompt` (text) is read as, and its ids: characters,
    /// or the tokens of the card's tokenizer.
    pub fn prompt(&self, prompt: &str) -> Result<(Sequence, Vec<i64>)> {
        let seq = match &self.tokenizer {
            Some(t) => Sequence::with_tokens(
                prompt,
                t.tokens(prompt, self.file.vocabulary.align.unwrap_or_default())?,
            )?,
            None => Sequence::new(prompt),
        };
        let ids = self.encode_sequence(&seq, "prompt", 0)?;
        Ok((seq, ids))
    }

    /// `prompt` followed by the generated tokens, as one sequence of
    /// timesteps (characters, or tokens with their characters) for
    /// hypotheses to read.
    pub fn grown(
        &self,
        prompt: &Sequence,
        prompt_ids: &[i64],
        generated: &[i64],
    ) -> Result<Sequence> {
        let pieces = self.continuation(prompt_ids, generated)?;
        let mut text = prompt.text();
        match (&self.tokenizer, prompt.tokens()) {
            (Some(t), Some(pt)) => {
                let mut spans = pt.spans().to_vec();
                let mut at = prompt.chars().len() as u32;
                for p in &pieces {
                    let n = p.chars().count() as u32;
                    // a decoder's leading space is not part of the token
                    let lead = p.chars().take_while(|c| c.is_whitespace()).count() as u32;
                    spans.push(((at + lead).min(at + n), at + n));
                    at += n;
                    text.push_str(p);
                }
                let mut ids = prompt_ids.to_vec();
                ids.extend_from_slice(generated);
                let tokens =
                    Tokens::new(ids, spans, pt.align(), std::sync::Arc::clone(t.pieces()))?;
                Sequence::with_tokens(&text, tokens)
            }
            _ => {
                for p in &pieces {
                    text.push_str(p);
                }
                Ok(Sequence::new(&text))
            }
        }
    }

    /// True when `corpus` is already as this model reads it (no
    /// [`Card::prepare`] needed).
    pub fn reads(&self, corpus: &Corpus) -> bool {
        if (self.file.input.encoding == Encoding::Float) != corpus.is_numeric() {
            return false;
        }
        match &self.tokenizer {
            None => !corpus.is_tokenized(),
            Some(t) => {
                corpus.tokenizer_fingerprint() == Some(t.fingerprint())
                    && corpus.align() == Some(self.file.vocabulary.align.unwrap_or_default())
            }
        }
    }

    /// The ids the model reads for a sequence: its tokens, or its
    /// characters encoded by the vocabulary ([`Card::encode`]).
    pub fn encode_sequence(
        &self,
        seq: &Sequence,
        corpus: &str,
        seq_index: usize,
    ) -> Result<Vec<i64>> {
        match (&self.tokenizer, seq.tokens()) {
            (None, None) => self.encode(seq.chars(), corpus, seq_index),
            (Some(_), Some(t)) => Ok(t.ids().to_vec()),
            (Some(t), None) => Err(Error::Corpus {
                source_name: corpus.to_string(),
                message: format!(
                    "sequence {seq_index} is not tokenized, but {} reads the tokens of {}: prepare the corpus for the model first (`Card::prepare`; the front ends do)",
                    self.path.display(),
                    t.path().display()
                ),
            }),
            (None, Some(_)) => Err(Error::Corpus {
                source_name: corpus.to_string(),
                message: format!(
                    "sequence {seq_index} is tokenized, but {} reads characters: load the corpus again for this model",
                    self.path.display()
                ),
            }),
        }
    }

    /// The token id of a character (the `unknown` id if it has one).
    pub fn token_id(&self, c: char) -> Option<i64> {
        let id = match self.ascii.get(c as usize) {
            Some(id) => *id,
            None => self.lookup.get(&c).copied(),
        };
        id.or(self.file.vocabulary.unknown)
    }

    /// Encodes a sequence; a character outside the vocabulary without an
    /// `unknown` id is an error naming it and its position.
    pub fn encode(&self, seq: &[char], corpus: &str, seq_index: usize) -> Result<Vec<i64>> {
        seq.iter()
            .enumerate()
            .map(|(pos, c)| {
                self.token_id(*c).ok_or_else(|| Error::Corpus {
                    source_name: corpus.to_string(),
                    message: format!(
                        "sequence {seq_index}, position {pos}: character {c:?} is not in the vocabulary of {} and the card sets no `vocabulary.unknown` id; add it, or set `unknown:`",
                        self.path.display()
                    ),
                })
            })
            .collect()
    }

    /// Resolves a layer alias; names that are not aliases are returned as they are.
    pub fn resolve_layer<'a>(&'a self, name: &'a str) -> &'a str {
        self.file
            .layers
            .get(name)
            .map(String::as_str)
            .unwrap_or(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A card of `vocabulary` (a YAML mapping) whose input is int64 ids,
    /// written as `name` in `dir` and loaded.
    fn ids_card(dir: &Path, name: &str, vocabulary: &str) -> Card {
        let text = format!("input: {{name: tokens, encoding: ids}}\nvocabulary: {vocabulary}\n");
        Card::load(write(dir, name, &text)).unwrap()
    }

    #[test]
    fn parses_a_full_card() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "m.luigi.yaml",
            "input: {name: tokens, encoding: ids}\nvocabulary: {chars: \"ab\", unknown: 0}\nstate:\n  - {input: h0, output: hn}\nlayers: {lstm: Y}\n",
        );
        let c = Card::load(&p).unwrap();
        assert_eq!(c.model_path, d.path().join("m.onnx"));
        assert_eq!(c.token_id('b'), Some(1));
        assert_eq!(c.token_id('z'), Some(0));
        assert_eq!(c.resolve_layer("lstm"), "Y");
        assert_eq!(c.file.input.layout, Layout::BatchMajor);
    }

    #[test]
    fn token_ids_of_ascii_and_other_characters() {
        let d = tempfile::tempdir().unwrap();
        // ids: 0 'é', 1 '\t', 2 'a', 3 '→', 4 '~'
        let u = ids_card(d.path(), "u.luigi.yaml", "{chars: \"é\\ta→~\", unknown: 0}");
        let n = ids_card(d.path(), "n.luigi.yaml", "{chars: \"é\\ta→~\"}");
        for (c, id) in [('é', 0), ('\t', 1), ('a', 2), ('→', 3), ('~', 4)] {
            assert_eq!(u.token_id(c), Some(id), "{c:?}");
            assert_eq!(n.token_id(c), Some(id), "{c:?}");
        }
        // not in the vocabulary: ASCII, the last ASCII code, and beyond
        for c in ['b', '\u{7f}', '\u{80}', '€'] {
            assert_eq!(u.token_id(c), Some(0), "{c:?}");
            assert_eq!(n.token_id(c), None, "{c:?}");
        }
    }

    #[test]
    fn unknown_key_names_the_key() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "m.luigi.yaml",
            "input: {name: tokens, encoding: ids, lay_out: x}\nvocabulary: {chars: ab}\n",
        );
        let e = Card::load(&p).unwrap_err().to_string();
        assert!(e.contains("lay_out"), "{e}");
        assert!(e.contains("m.luigi.yaml"), "{e}");
    }

    #[test]
    fn unknown_char_without_unknown_id_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "m.luigi.yaml",
            "input: {name: t, encoding: one-hot, layout: time-major}\nvocabulary: {chars: ab}\n",
        );
        let c = Card::load(&p).unwrap();
        let e = c.encode(&['a', 'q'], "corp", 3).unwrap_err().to_string();
        assert!(e.contains("position 1") && e.contains("'q'"), "{e}");
    }
}
