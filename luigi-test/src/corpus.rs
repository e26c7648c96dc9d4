//! Corpora: the input sequences a model is run on and hypotheses are
//! evaluated over. One timestep is one character (Unicode scalar value).
//!
//! Formats ([`Corpus::load`]):
//! - `lines` (default for `.txt` and anything else): one sequence per line,
//!   empty lines skipped, the line break not part of the sequence;
//! - `windows`: a text file (or every file of a folder, in sorted order) cut
//!   into windows of `window` characters, the last shorter one kept; line
//!   breaks are characters of the sequence.

use std::path::Path;

use crate::error::{Error, Result};

/// One input sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    chars: Vec<char>,
}

impl Sequence {
    /// A sequence from text.
    pub fn new(text: &str) -> Self {
        Sequence {
            chars: text.chars().collect(),
        }
    }
    /// The characters, one per timestep.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }
    /// Number of timesteps.
    pub fn len(&self) -> usize {
        self.chars.len()
    }
    /// True when the sequence has no timesteps.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
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
        let texts: Vec<String> = self.sequences()[..n].iter().map(|s| s.text()).collect();
        Corpus::from_strings(format!("{} (first {n} sequences)", self.name()), texts)
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
        Ok(Corpus { name, sequences })
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
        Self::from_strings(name, texts)
    }

    /// Loads a corpus file (or, for windows, a folder of files).
    pub fn load(path: impl AsRef<Path>, format: CorpusFormat) -> Result<Self> {
        let path = path.as_ref();
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
