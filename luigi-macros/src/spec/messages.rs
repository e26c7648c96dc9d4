//! The text of diagnostics about keys: examples, unknown and missing keys,
//! hints for bare words, and "did you mean" suggestions by edit distance.

use syn::Ident;

use super::KEYS;

/// The example of a key.
pub(super) fn example(key: &Ident) -> &'static str {
    let name = key.to_string();
    KEYS.iter()
        .find(|(k, _)| *k == name)
        .map(|(_, e)| *e)
        .unwrap_or("key = value")
}

/// The list of valid keys, for messages.
fn valid_keys() -> String {
    key_names().join(", ")
}

/// The message for an unknown key.
pub(super) fn unknown_key(name: &str) -> String {
    let hint = match name {
        "some_unit" | "units" | "at_most" | "probe" => format!(
            "; `{name}` is a form of `expect`: write `expect = {}`",
            match name {
                "units" => "units([53, 127])",
                "at_most" => "at_most(3)",
                other => other,
            }
        ),
        "builtin" => "; write `hypothesis = builtin(\"name\")`".to_string(),
        "threshold" | "min_score" => "; the threshold is `min = ...`".to_string(),
        _ => suggest(name, &key_names()),
    };
    format!("unknown key `{name}`{hint}; valid keys: {}", valid_keys())
}

/// The message for a missing required key.
pub(super) fn missing_key(name: &str) -> String {
    let what = match name {
        "model" => "the model card, relative to the crate root",
        "layer" => "the layer whose units are scored",
        "corpus" => "the input text, relative to the crate root",
        _ => "what the model must show",
    };
    let example = KEYS
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, e)| *e)
        .unwrap_or("");
    format!("missing key `{name}` ({what}), e.g. `{example}`")
}

/// The key a word written without `= value` stands for, if it is a value
/// form (`some_unit` stands for `expect = some_unit`).
pub(crate) fn key_meant_by_bare_word(word: &Ident) -> Option<&'static str> {
    match word.to_string().as_str() {
        "some_unit" | "probe" | "units" | "at_most" => Some("expect"),
        "builtin" => Some("hypothesis"),
        _ => None,
    }
}

/// A hint for a word written without `= value`.
pub(crate) fn bare_word_hint(word: &Ident) -> String {
    match word.to_string().as_str() {
        w @ ("some_unit" | "probe") => format!(": write `expect = {w}`"),
        "units" => ": write `expect = units([53, 127])`".to_string(),
        "at_most" => ": write `expect = at_most(3)`".to_string(),
        "builtin" => ": write `hypothesis = builtin(\"name\")`".to_string(),
        w if KEYS.iter().any(|(k, _)| *k == w) => {
            format!(", e.g. `{}`", example(word))
        }
        _ => format!("; valid keys: {}", valid_keys()),
    }
}

/// The candidate closest to `word`, if close enough to be a misspelling.
pub(super) fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .min_by_key(|(d, _)| *d)
        .filter(|(d, c)| *d <= (word.len().max(c.len()) / 3).max(1))
        .map(|(_, c)| c)
}

/// ` (did you mean `x`?)` for the closest candidate, if close enough.
pub(super) fn suggest(word: &str, candidates: &[&str]) -> String {
    match nearest(word, candidates) {
        Some(c) => format!(" (did you mean `{c}`?)"),
        None => String::new(),
    }
}

/// The valid keys' names.
pub(super) fn key_names() -> Vec<&'static str> {
    KEYS.iter().map(|(k, _)| *k).collect()
}

/// Edit distance over characters counting insertions, deletions,
/// substitutions and swaps of two neighbours (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j]: distance between a[..i] and b[..j].
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("modle", "model"), 1);
        assert_eq!(edit_distance("corpsu", "corpus"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("seed", "seed"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("layers", "layer"), 1);
    }

    #[test]
    fn suggestions_only_when_close() {
        assert_eq!(
            suggest("layers", &["layer", "model"]),
            " (did you mean `layer`?)"
        );
        assert_eq!(
            suggest("modle", &["layer", "model"]),
            " (did you mean `model`?)"
        );
        assert_eq!(suggest("temperature", &["layer", "model"]), "");
    }

    #[test]
    fn every_key_has_an_example_that_starts_with_it() {
        for (k, e) in KEYS {
            assert!(e.starts_with(&format!("{k} = ")), "{k}: {e}");
        }
    }
}
