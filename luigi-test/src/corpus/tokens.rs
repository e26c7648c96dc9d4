//! Subword tokens: a model card's `vocabulary.tokenizer` (a Hugging Face
//! `tokenizer.json`, read from disk with the `tokenizers` crate) turns a
//! sequence's text into token ids, and each token keeps the characters it
//! covers. One timestep is then one token; hypotheses are still written over
//! characters, evaluated on the text, and given to each token by an
//! [`Align`] rule (see [`crate::hypothesis::evaluate_steps`]).
//!
//! Special tokens (`[CLS]`, `<s>`) are not added: the corpus is the text the
//! model reads, token for token. Truncation and padding written in the
//! tokenizer file are switched off (a window is cut by Luigi, on token
//! boundaries, see [`crate::Corpus::tokenized`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The characters a token covers, `start..end` (in characters of its text).
pub type Span = (u32, u32);

/// How a token takes the value of a hypothesis written over characters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Align {
    /// The value at the token's last character: the state after reading the
    /// whole token, the moment the model's output at that token describes.
    #[default]
    Last,
    /// The value at the token's first character.
    First,
    /// Binary: 1 when any character of the token has it; numeric: the
    /// largest value over the token; categorical: as `last`.
    Any,
    /// Numeric: the mean over the token's characters; binary: 1 when at
    /// least half of them have it; categorical: the most frequent state
    /// (ties to the later state).
    Mean,
}

impl Align {
    /// The name used in cards, reports and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Align::Last => "last",
            Align::First => "first",
            Align::Any => "any",
            Align::Mean => "mean",
        }
    }
}

impl std::fmt::Display for Align {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A subword tokenizer read from a `tokenizer.json`.
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    path: PathBuf,
    pieces: Arc<Vec<String>>,
    fingerprint: String,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("path", &self.path)
            .field("vocabulary", &self.pieces.len())
            .finish()
    }
}

impl Tokenizer {
    /// Reads a `tokenizer.json` (the format the `tokenizers` Python package
    /// saves and Hugging Face models ship).
    pub fn load(path: impl AsRef<Path>) -> Result<Tokenizer> {
        use sha2::{Digest, Sha256};
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let mut inner = tokenizers::Tokenizer::from_bytes(&bytes).map_err(|e| {
            Error::invalid(
                path.display().to_string(),
                format!("not a tokenizer the `tokenizers` crate reads ({e}): give the tokenizer.json that `Tokenizer.save` writes"),
            )
        })?;
        inner
            .with_truncation(None)
            .map_err(|e| Error::invalid(path.display().to_string(), e.to_string()))?;
        inner.with_padding(None);
        let size = inner.get_vocab_size(true);
        if size == 0 {
            return Err(Error::invalid(
                path.display().to_string(),
                "the tokenizer has an empty vocabulary: give a trained tokenizer",
            ));
        }
        let mut pieces = vec![String::new(); size];
        for (piece, id) in inner.get_vocab(true) {
            if let Some(slot) = pieces.get_mut(id as usize) {
                *slot = piece;
            }
        }
        let digest = Sha256::digest(&bytes);
        Ok(Tokenizer {
            inner,
            path: path.to_path_buf(),
            pieces: Arc::new(pieces),
            fingerprint: digest.iter().take(8).map(|b| format!("{b:02x}")).collect(),
        })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of ids (with added tokens).
    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    /// The token string of an id (`""` for an id the file does not name).
    pub fn piece(&self, id: usize) -> &str {
        self.pieces.get(id).map_or("", String::as_str)
    }

    /// Every id's token string, id = index.
    pub fn pieces(&self) -> &Arc<Vec<String>> {
        &self.pieces
    }

    /// A fingerprint of the file's bytes.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Tokenizes `text`: ids and, per token, the characters it covers
    /// (`start..end`, in characters of `text`).
    pub fn encode(&self, text: &str) -> Result<(Vec<i64>, Vec<Span>)> {
        let enc = self.inner.encode_char_offsets(text, false).map_err(|e| {
            Error::invalid(
                self.path.display().to_string(),
                format!(
                    "could not tokenize a text of {} characters: {e}",
                    text.chars().count()
                ),
            )
        })?;
        let n_chars = text.chars().count();
        let ids: Vec<i64> = enc.get_ids().iter().map(|&i| i64::from(i)).collect();
        let mut spans = Vec::with_capacity(ids.len());
        for &(s, e) in enc.get_offsets() {
            if s > e || e > n_chars {
                return Err(Error::invalid(
                    self.path.display().to_string(),
                    format!("gave a token covering characters {s}..{e} of a text of {n_chars}: the tokenizer's offsets do not fit its input"),
                ));
            }
            spans.push((s as u32, e as u32));
        }
        Ok((ids, spans))
    }

    /// The text of `ids` as the tokenizer's decoder writes it.
    pub fn decode(&self, ids: &[i64]) -> Result<String> {
        let ids: Vec<u32> = ids
            .iter()
            .map(|&i| u32::try_from(i).unwrap_or(u32::MAX))
            .collect();
        self.inner.decode(&ids, false).map_err(|e| {
            Error::invalid(
                self.path.display().to_string(),
                format!("could not decode token ids: {e}"),
            )
        })
    }

    /// The text each of `generated` adds after `prompt`: the decoded text
    /// of the whole grown by each token (a decoder that rewrites earlier
    /// text gives the token's own string instead).
    pub fn continuation(&self, prompt: &[i64], generated: &[i64]) -> Result<Vec<String>> {
        let mut all = prompt.to_vec();
        let mut text = self.decode(&all)?;
        let mut out = Vec::with_capacity(generated.len());
        for &id in generated {
            all.push(id);
            let next = self.decode(&all)?;
            let piece = match next.strip_prefix(text.as_str()) {
                Some(rest) => rest.to_string(),
                None => self
                    .piece(usize::try_from(id).unwrap_or(usize::MAX))
                    .to_string(),
            };
            out.push(piece);
            text = next;
        }
        Ok(out)
    }

    /// Tokens of `text` with their spans, ready for a [`crate::Sequence`].
    pub fn tokens(&self, text: &str, align: Align) -> Result<Tokens> {
        let (ids, spans) = self.encode(text)?;
        Ok(Tokens {
            ids,
            spans,
            align,
            pieces: Arc::clone(&self.pieces),
        })
    }
}

/// The tokens of one sequence: ids, the characters each covers, and how
/// hypotheses over characters are given to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    ids: Vec<i64>,
    spans: Vec<(u32, u32)>,
    align: Align,
    pieces: Arc<Vec<String>>,
}

impl Tokens {
    /// Tokens from parts: `spans[t]` = the characters token `t` covers,
    /// `pieces[id]` = the token string of an id.
    pub fn new(
        ids: Vec<i64>,
        spans: Vec<(u32, u32)>,
        align: Align,
        pieces: Arc<Vec<String>>,
    ) -> Result<Tokens> {
        if ids.len() != spans.len() {
            return Err(Error::invalid(
                "tokens",
                format!(
                    "{} ids but {} spans: give one span per token",
                    ids.len(),
                    spans.len()
                ),
            ));
        }
        Ok(Tokens {
            ids,
            spans,
            align,
            pieces,
        })
    }
    /// The token ids, one per timestep.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }
    /// Per token, the characters it covers (`start..end`).
    pub fn spans(&self) -> &[(u32, u32)] {
        &self.spans
    }
    /// How hypotheses over characters are given to tokens.
    pub fn align(&self) -> Align {
        self.align
    }
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
    /// True when there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
    /// The token string of token `t` (as the tokenizer writes it, e.g.
    /// `Ġthe` or `##ing`).
    pub fn piece(&self, t: usize) -> &str {
        self.ids
            .get(t)
            .and_then(|&id| usize::try_from(id).ok())
            .and_then(|id| self.pieces.get(id))
            .map_or("", String::as_str)
    }
    /// Every id's token string, id = index.
    pub fn pieces(&self) -> &Arc<Vec<String>> {
        &self.pieces
    }
    /// The same tokens, the first `skip` characters cut off the spans and
    /// `n` tokens kept from token `from` (a window of a longer text).
    pub(crate) fn window(&self, from: usize, n: usize, skip: u32) -> Tokens {
        let to = (from + n).min(self.ids.len());
        Tokens {
            ids: self.ids[from..to].to_vec(),
            spans: self.spans[from..to]
                .iter()
                .map(|&(s, e)| (s.saturating_sub(skip), e.saturating_sub(skip)))
                .collect(),
            align: self.align,
            pieces: Arc::clone(&self.pieces),
        }
    }
}
