//! The one module that uses the `serde_yaml` crate: parsing and printing
//! YAML, the nesting-depth guard run before a parse, and turning a
//! `serde_yaml` error into a Luigi error.
//!
//! Two error mappings exist because two message formats do: specs,
//! hypothesis lists and automata report a [`crate::Error::Spec`] with the
//! line and column in their own fields ([`spec_error`]); a model card
//! reports a [`crate::Error::Card`] whose message ends with them
//! ([`card_error`]).

use std::path::Path;

pub(crate) use serde_yaml::{from_str, to_string, Deserializer, Error, Mapping, Value};

use crate::error::{yaml_too_deep, Result, MAX_YAML_NESTING};

/// [`yaml_too_deep`] as a [`crate::Error::Spec`] for the file at `path`,
/// whose kind (`a spec`, `a hypothesis list`) the message names.
pub(crate) fn check_depth(text: &str, path: &Path, what: &str) -> Result<()> {
    match yaml_too_deep(text) {
        Some((line, column)) => Err(crate::Error::Spec {
            path: path.to_path_buf(),
            line,
            column,
            key: "(document)".to_string(),
            message: format!(
                "brackets nested more than {MAX_YAML_NESTING} deep: {what} is a few levels deep; check the file"
            ),
        }),
        None => Ok(()),
    }
}

/// Turns a serde_yaml error into a [`crate::Error::Spec`] with the line,
/// column and key path; `prefix` is prepended to the key path (for
/// documents nested in another one).
pub(crate) fn spec_error(path: &Path, prefix: &str, e: &Error) -> crate::Error {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let mut text = e.to_string();
    // serde_yaml appends " at line L column C": the location has its own fields.
    if let Some(pos) = text.rfind(" at line ") {
        text.truncate(pos);
    }
    // serde_yaml prefixes messages with the key path, e.g. `[2].regex: ...`.
    let (key, message) = match text.split_once(": ") {
        Some((k, m)) if looks_like_path(k) => {
            (k.trim_start_matches('.').to_string(), m.to_string())
        }
        _ => (String::new(), text),
    };
    let key = match (prefix.is_empty(), key.is_empty()) {
        (true, _) => key,
        (false, true) => prefix.to_string(),
        (false, false) if key.starts_with('[') => format!("{prefix}{key}"),
        (false, false) => format!("{prefix}.{key}"),
    };
    crate::Error::Spec {
        path: path.to_path_buf(),
        line,
        column,
        key: if key.is_empty() {
            "(document)".to_string()
        } else {
            key
        },
        message,
    }
}

fn looks_like_path(k: &str) -> bool {
    !k.is_empty()
        && !k.contains(' ')
        && k.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '-'))
}

/// A serde_yaml error as the key path (`(document)` when there is none) and
/// the message of a [`crate::Error::Card`]: serde_yaml's message, then the
/// line and column in brackets.
pub(crate) fn card_error(e: &Error) -> (String, String) {
    let msg = e.to_string();
    let key = msg
        .split_once(':')
        .map(|(k, _)| k.trim().to_string())
        .filter(|k| !k.contains(' ') && !k.is_empty())
        .unwrap_or_else(|| "(document)".to_string());
    let loc = e
        .location()
        .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
        .unwrap_or_default();
    (key, format!("{msg}{loc}"))
}
