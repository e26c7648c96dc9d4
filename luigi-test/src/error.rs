//! Luigi's error type: every setup problem (missing runtime, bad card, corrupt
//! model, unknown layer, bad corpus, malformed spec) is an [`Error`] that names
//! the file, the key or tensor, and what fixes it.

use std::path::PathBuf;

/// Result alias used throughout Luigi.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong before a model is judged.
///
/// A model that does not meet an expectation is *not* an `Error`: that is an
/// assertion failure with a report (see the `expect` module).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// ONNX Runtime's shared library could not be found, provisioned or loaded.
    #[error("ONNX Runtime is not available.\n{tried}\nfix: {fix}")]
    Runtime {
        /// What was tried, one attempt per line.
        tried: String,
        /// The exact command or setting that fixes it.
        fix: String,
    },

    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A model card is malformed or does not match its model.
    #[error("model card {}: key `{key}`: {message}", path.display())]
    Card {
        /// The card file.
        path: PathBuf,
        /// The key path inside the card (e.g. `input.name`).
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// An ONNX file could not be decoded (truncated, corrupt or hostile).
    #[error("{}: not a readable ONNX model: {message}", path.display())]
    Graph {
        /// The model file.
        path: PathBuf,
        /// What is wrong, with the byte offset where known.
        message: String,
    },

    /// A requested layer (tensor name or alias) does not exist in the model.
    #[error("model {}: unknown layer `{layer}`{}. Run `luigi layers {}` to list them.",
        model.display(),
        if closest.is_empty() { String::new() } else { format!("; closest names: {}", closest.join(", ")) },
        model.display())]
    UnknownLayer {
        /// The model file.
        model: PathBuf,
        /// The name asked for.
        layer: String,
        /// Existing names closest to it.
        closest: Vec<String>,
    },

    /// ONNX Runtime rejected the model or failed to run it.
    #[error("ONNX Runtime: {context}: {message}")]
    Ort {
        /// What Luigi was doing.
        context: String,
        /// ONNX Runtime's message.
        message: String,
    },

    /// A corpus is empty, unreadable or does not fit the model's vocabulary.
    #[error("corpus {source_name}: {message}")]
    Corpus {
        /// The corpus file or name.
        source_name: String,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// A hypothesis is malformed or produced unusable values.
    #[error("hypothesis `{name}`: {message}")]
    Hypothesis {
        /// The hypothesis name.
        name: String,
        /// What is wrong.
        message: String,
    },

    /// Inputs to scoring or probing do not fit together.
    #[error("{context}: {message}")]
    Invalid {
        /// Where (which function or matrix).
        context: String,
        /// What is wrong.
        message: String,
    },

    /// A YAML spec is malformed.
    #[error("spec {}:{line}:{column}: key `{key}`: {message}", path.display())]
    Spec {
        /// The spec file.
        path: PathBuf,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// 1-based column, 0 when unknown.
        column: usize,
        /// The key path (e.g. `expectations[2].metric`).
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// Shorthand for an [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for an [`Error::Invalid`].
    pub fn invalid(context: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            context: context.into(),
            message: message.into(),
        }
    }

    pub(crate) fn ort(context: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Error::Ort {
            context: context.into(),
            message: err.to_string(),
        }
    }
}

/// Flow collections (`[`, `{`) nested deeper than this in a YAML file are
/// refused before parsing: no card, spec or list needs more than a few
/// levels, and the YAML parser's time grows about quadratically with depth.
pub const MAX_YAML_NESTING: usize = 64;

/// The 1-based line and column where a YAML text's flow nesting first
/// goes past [`MAX_YAML_NESTING`], if it does. Quoted strings and comments
/// are skipped.
pub fn yaml_too_deep(text: &str) -> Option<(usize, usize)> {
    let (mut depth, mut line, mut col) = (0usize, 1usize, 0usize);
    let (mut single, mut double, mut escaped, mut comment) = (false, false, false, false);
    let mut prev = '\n';
    for c in text.chars() {
        col += 1;
        if c == '\n' {
            line += 1;
            col = 0;
            comment = false;
            prev = c;
            continue;
        }
        if comment {
            continue;
        }
        if double {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                double = false;
            }
        } else if single {
            if c == '\'' {
                single = false;
            }
        } else {
            match c {
                '#' if prev.is_whitespace() => comment = true,
                '"' => double = true,
                '\'' => single = true,
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_YAML_NESTING {
                        return Some((line, col));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        prev = c;
    }
    None
}

/// Names from `candidates` closest to `name` (edit distance, then prefix/substring),
/// at most `max`, for "did you mean" messages.
pub fn closest_names<'a, I>(name: &str, candidates: I, max: usize) -> Vec<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = name.to_lowercase();
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .map(|c| {
            let cl = c.to_lowercase();
            let mut d = edit_distance(&lower, &cl);
            if !lower.is_empty() && (cl.contains(&lower) || lower.contains(&cl)) {
                d = d.min(1 + cl.len().abs_diff(lower.len()) / 4);
            }
            (d, c)
        })
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    scored.dedup_by(|a, b| a.1 == b.1);
    let limit = (name.chars().count() / 2).max(3);
    scored
        .into_iter()
        .filter(|(d, _)| *d <= limit)
        .take(max)
        .map(|(_, c)| c.to_string())
        .collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_names_prefers_small_edits() {
        let names = ["/lstm/LSTM_output_0", "/lstm/LSTM_output_1", "logits", "h0"];
        let got = closest_names("/lstm/LSTM_output0", names, 2);
        assert_eq!(got[0], "/lstm/LSTM_output_0");
        assert!(closest_names("zzzzzzzzzzzz", names, 3).is_empty());
    }
}
