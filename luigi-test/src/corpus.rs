//! Corpora: the input sequences a model is run on and hypotheses are
//! evaluated over. One timestep is one character (Unicode scalar value),
//! or, for a model with a subword tokenizer, one token ([`tokens`],
//! [`Corpus::tokenized`]).
//!
//! Formats ([`Corpus::load`]):
//! - `lines` (default for `.txt` and anything else): one sequence per line,
//!   empty lines skipped, the line break not part of the sequence;
//! - `windows`: a text file (or every file of a folder, in sorted order) cut
//!   into windows of `window` characters, the last shorter one kept; line
//!   breaks are characters of the sequence. Once tokenized, the windows are
//!   cut again, on token boundaries, `window` tokens each.

pub mod tokens;
pub mod values;

use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use tokens::{Align, Tokenizer, Tokens};
use values::Values;

/// One input sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    chars: Vec<char>,
    tokens: Option<Arc<Tokens>>,
    values: Option<Arc<Values>>,
}

impl Sequence {
    /// A sequence from text, one timestep per character.
    pub fn new(text: &str) -> Self {
        Sequence {
            chars: text.chars().collect(),
            tokens: None,
            values: None,
        }
    }
    /// A sequence of feature vectors (a numeric corpus): one timestep per
    /// row, no text.
    pub fn with_values(values: Arc<Values>) -> Self {
        Sequence {
            chars: Vec::new(),
            tokens: None,
            values: Some(values),
        }
    }
    /// The feature vectors, for a numeric sequence.
    pub fn values(&self) -> Option<&Values> {
        self.values.as_deref()
    }
    /// A sequence of tokens over `text`: one timestep per token. Every span
    /// must lie within the text.
    pub fn with_tokens(text: &str, tokens: Tokens) -> Result<Self> {
        let chars: Vec<char> = text.chars().collect();
        if let Some((t, &(s, e))) = tokens
            .spans()
            .iter()
            .enumerate()
            .find(|(_, &(s, e))| s > e || e as usize > chars.len())
        {
            return Err(Error::invalid(
                "tokens",
                format!(
                    "token {t} covers characters {s}..{e} of a text of {} characters",
                    chars.len()
                ),
            ));
        }
        Ok(Sequence {
            chars,
            tokens: Some(Arc::new(tokens)),
            values: None,
        })
    }
    /// The characters of the text. Without tokens, one per timestep.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }
    /// The tokens, when the sequence was tokenized.
    pub fn tokens(&self) -> Option<&Tokens> {
        self.tokens.as_deref()
    }
    /// Number of timesteps: tokens when tokenized, else characters.
    pub fn len(&self) -> usize {
        if let Some(v) = &self.values {
            return v.len();
        }
        self.tokens.as_ref().map_or(self.chars.len(), |t| t.len())
    }
    /// True when the sequence has no timesteps.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The characters timestep `t` covers (`start..end`): one character,
    /// or a token's span.
    pub fn char_span(&self, t: usize) -> (usize, usize) {
        match &self.tokens {
            None => (t, t + 1),
            Some(tk) => tk
                .spans()
                .get(t)
                .map_or((t, t), |&(s, e)| (s as usize, e as usize)),
        }
    }
    /// What timestep `t` reads, as text: its character, or the characters
    /// of its token (the token string when it covers none).
    pub fn step_text(&self, t: usize) -> String {
        if let Some(v) = &self.values {
            let f = v.features();
            return v.data()[t * f..(t + 1) * f]
                .iter()
                .map(|x| format!("{x:.3}"))
                .collect::<Vec<_>>()
                .join(",");
        }
        let (s, e) = self.char_span(t);
        match self.chars.get(s..e) {
            Some(c) if !c.is_empty() => c.iter().collect(),
            _ => self
                .tokens
                .as_ref()
                .map_or(String::new(), |tk| tk.piece(t).to_string()),
        }
    }
    /// The sequence as a string.
    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }
}

/// How a corpus file is cut into sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorpusFormat {
    /// One sequence per non-empty line.
    Lines,
    /// Fixed windows of this many characters over the whole text.
    Windows(usize),
}

/// A named list of sequences.
#[derive(Debug, Clone)]
pub struct Corpus {
    name: String,
    sequences: Vec<Sequence>,
    /// The window length, for a corpus cut into windows of one text.
    window: Option<usize>,
    /// The tokenizer's fingerprint and the alignment, once tokenized.
    tokenized: Option<(String, Align)>,
}

impl Corpus {
    /// The first `n` sequences, named `<name> (first n sequences)`; the
    /// whole corpus when it has no more than `n`. `n = 0` is an error.
    pub fn first(&self, n: usize) -> Result<Corpus> {
        if n == 0 {
            return Err(Error::Corpus {
                source_name: self.name().to_string(),
                message: "keeping the first 0 sequences keeps nothing: use at least 1".to_string(),
            });
        }
        if n >= self.len() {
            return Ok(self.clone());
        }
        Ok(Corpus {
            name: format!("{} (first {n} sequences)", self.name()),
            sequences: self.sequences[..n].to_vec(),
            window: self.window,
            tokenized: self.tokenized.clone(),
        })
    }

    /// A corpus from strings. Empty strings are kept out; an empty result is an error.
    pub fn from_strings<I, S>(name: impl Into<String>, texts: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let name = name.into();
        let sequences: Vec<Sequence> = texts
            .into_iter()
            .map(|t| Sequence::new(t.as_ref()))
            .filter(|s| !s.is_empty())
            .collect();
        if sequences.is_empty() {
            return Err(Error::Corpus {
                source_name: name,
                message: "no non-empty sequence: give at least one line of text".to_string(),
            });
        }
        Ok(Corpus {
            name,
            sequences,
            window: None,
            tokenized: None,
        })
    }

    /// A corpus of sequences as they are (characters or tokens). Empty
    /// sequences are kept out; an empty result is an error.
    pub fn from_sequences(name: impl Into<String>, sequences: Vec<Sequence>) -> Result<Self> {
        let name = name.into();
        let sequences: Vec<Sequence> = sequences.into_iter().filter(|s| !s.is_empty()).collect();
        if sequences.is_empty() {
            return Err(Error::Corpus {
                source_name: name,
                message: "no non-empty sequence: give at least one".to_string(),
            });
        }
        Ok(Corpus {
            name,
            sequences,
            window: None,
            tokenized: None,
        })
    }

    /// A corpus from text cut into windows of `window` characters.
    pub fn from_text_windows(name: impl Into<String>, text: &str, window: usize) -> Result<Self> {
        let name = name.into();
        if window == 0 {
            return Err(Error::Corpus {
                source_name: name,
                message: "window length 0: give a window of at least 1 character".to_string(),
            });
        }
        let chars: Vec<char> = text.chars().collect();
        let texts: Vec<String> = chars
            .chunks(window)
            .map(|c| c.iter().collect::<String>())
            .collect();
        let mut corpus = Self::from_strings(name, texts)?;
        corpus.window = Some(window);
        Ok(corpus)
    }

    /// The corpus read by a subword tokenizer: one timestep per token, each
    /// token keeping the characters it covers. A corpus of lines is
    /// tokenized line by line; a corpus of windows is joined again,
    /// tokenized whole, and cut into windows of `window` tokens, on token
    /// boundaries (a window's text runs to where the next window's first
    /// token starts). Sequences without a token (only spaces, for a
    /// tokenizer that drops them) are left out. Tokenizing a corpus the
    /// same tokenizer already tokenized only changes the alignment.
    pub fn tokenized(&self, tokenizer: &Tokenizer, align: Align) -> Result<Corpus> {
        if self.is_numeric() {
            return Err(Error::Corpus {
                source_name: self.name.clone(),
                message: format!(
                    "is a numeric corpus, but the model reads the tokens of {}: give it text",
                    tokenizer.path().display()
                ),
            });
        }
        let key = (tokenizer.fingerprint().to_string(), align);
        if self.tokenized.as_ref() == Some(&key) {
            return Ok(self.clone());
        }
        let no_tokens = |name: &str| {
            Error::Corpus {
            source_name: name.to_string(),
            message: format!(
                "the tokenizer {} gives no token for any sequence: check the corpus and the card's `vocabulary.tokenizer`",
                tokenizer.path().display()
            ),
        }
        };
        let mut sequences = Vec::new();
        match self.window {
            Some(window) => {
                let text: String = self.sequences.iter().map(Sequence::text).collect();
                let chars: Vec<char> = text.chars().collect();
                let all = tokenizer.tokens(&text, align)?;
                let spans = all.spans();
                let mut from = 0usize;
                while from < all.len() {
                    let to = (from + window).min(all.len());
                    let start = if from == 0 { 0 } else { spans[from].0 as usize };
                    let own_end = spans[from..to].iter().map(|s| s.1).max().unwrap_or(0) as usize;
                    let next = spans.get(to).map_or(chars.len(), |s| s.0 as usize);
                    let end = next.max(own_end).min(chars.len());
                    let piece: String = chars[start.min(end)..end].iter().collect();
                    let tokens = all.window(from, window, start as u32);
                    sequences.push(Sequence::with_tokens(&piece, tokens)?);
                    from = to;
                }
            }
            None => {
                for s in &self.sequences {
                    let text = s.text();
                    let tokens = tokenizer.tokens(&text, align)?;
                    if !tokens.is_empty() {
                        sequences.push(Sequence::with_tokens(&text, tokens)?);
                    }
                }
            }
        }
        if sequences.is_empty() {
            return Err(no_tokens(&self.name));
        }
        Ok(Corpus {
            name: self.name.clone(),
            sequences,
            window: self.window,
            tokenized: Some(key),
        })
    }

    /// True when the sequences are tokens of a subword tokenizer.
    pub fn is_tokenized(&self) -> bool {
        self.tokenized.is_some()
    }

    /// The alignment of hypotheses to tokens, once tokenized.
    pub fn align(&self) -> Option<Align> {
        self.tokenized.as_ref().map(|t| t.1)
    }

    /// The tokenizer's fingerprint, once tokenized.
    pub fn tokenizer_fingerprint(&self) -> Option<&str> {
        self.tokenized.as_ref().map(|t| t.0.as_str())
    }

    /// Loads a corpus file (or, for windows, a folder of files).
    pub fn load(path: impl AsRef<Path>, format: CorpusFormat) -> Result<Self> {
        let path = path.as_ref();
        if path.extension().is_some_and(|e| e == "npy") {
            if let CorpusFormat::Windows(_) = format {
                return Err(Error::Corpus {
                    source_name: path.display().to_string(),
                    message: "is a numeric corpus (.npy): windows cut text; give the sequences as [sequences, time, features] (with lengths) instead".to_string(),
                });
            }
            return Self::load_npy(path, None);
        }
        let name = path.display().to_string();
        let text = if path.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| Error::io(path, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            let mut all = String::new();
            for f in files {
                all.push_str(&read_text(&f)?);
            }
            all
        } else {
            read_text(path)?
        };
        match format {
            CorpusFormat::Lines => Self::from_strings(name, text.lines()),
            CorpusFormat::Windows(w) => Self::from_text_windows(name, &text, w),
        }
    }

    /// The corpus name (usually its path).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The sequences.
    pub fn sequences(&self) -> &[Sequence] {
        &self.sequences
    }
    /// Number of sequences.
    pub fn len(&self) -> usize {
        self.sequences.len()
    }
    /// Always false: a corpus holds at least one sequence.
    pub fn is_empty(&self) -> bool {
        self.sequences.is_empty()
    }
    /// Total number of timesteps.
    pub fn timesteps(&self) -> usize {
        self.sequences.iter().map(Sequence::len).sum()
    }
    /// A stable fingerprint of the content (for caches and reports).
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for s in &self.sequences {
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.text().as_bytes());
            if let Some(v) = s.values() {
                h.update((v.features() as u64).to_le_bytes());
                for x in v.data() {
                    h.update(x.to_le_bytes());
                }
            }
            if let Some(t) = s.tokens() {
                for (&id, &(a, b)) in t.ids().iter().zip(t.spans()) {
                    h.update(id.to_le_bytes());
                    h.update(a.to_le_bytes());
                    h.update(b.to_le_bytes());
                }
            }
        }
        let d = h.finalize();
        d.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

/// The largest corpus file read, unless `LUIGI_MAX_CORPUS_BYTES` says
/// otherwise (1 GiB).
pub const MAX_CORPUS_BYTES: u64 = 1 << 30;

fn read_text(path: &Path) -> Result<String> {
    use std::io::Read;
    let corpus_err = |message: String| Error::Corpus {
        source_name: path.display().to_string(),
        message,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = std::fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .file_type();
        if t.is_char_device() || t.is_block_device() || t.is_socket() {
            return Err(corpus_err(
                "is a device or socket, not a file (it may never end, like /dev/zero): save the text to a file and give that"
                    .to_string(),
            ));
        }
    }
    let limit = std::env::var("LUIGI_MAX_CORPUS_BYTES")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&v| v > 0)
        .unwrap_or(MAX_CORPUS_BYTES);
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(corpus_err(format!(
            "is larger than {limit} bytes (or never ends): give a part of it, or raise the limit with LUIGI_MAX_CORPUS_BYTES"
        )));
    }
    String::from_utf8(bytes).map_err(|e| Error::Corpus {
        source_name: path.display().to_string(),
        message: format!(
            "not UTF-8 text (first bad byte at offset {}): convert it with `iconv -t UTF-8`",
            e.utf8_error().valid_up_to()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_corpus_is_an_error() {
        let err = Corpus::from_strings("x", ["", ""]).unwrap_err();
        assert!(err.to_string().contains("no non-empty sequence"));
    }

    #[test]
    fn windows_keep_every_char() {
        let c = Corpus::from_text_windows("w", "abcdefg\nh", 4).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c.timesteps(), 9);
        assert_eq!(c.sequences()[1].text(), "efg\n");
    }
}
