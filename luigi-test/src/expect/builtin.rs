//! Built-in hypotheses by name, for `hypothesis = builtin(...)` in
//! `#[neural_assert]` and [`super::Assertion::hypothesis_builtin`].
//!
//! The names and arguments are those of the YAML hypothesis-list format
//! ([`crate::hypothesis::list`]), so a built-in and a list item mean the
//! same thing:
//!
//! | call | list item |
//! |---|---|
//! | `builtin("comment")` | `- comment` |
//! | `builtin("depth", "(")` | `- depth: '('` |
//! | `builtin("keyword", "return")` | `- keyword: return` |
//! | `builtin("indent_level", "4")` | `- indent_level: 4` |
//! | `builtin("regex", "hex", "0x[0-9a-f]+")` | `- regex: {name: hex, pattern: '0x[0-9a-f]+'}` |
//! | `builtin("fsm", "automata/last_op.yaml")` | `- fsm: {file: automata/last_op.yaml}` |
//! | `builtin("fsm", "automata/x.yaml", "accepting")` or `"automata/x.yaml#accepting"` | `- fsm: {file: automata/x.yaml, output: accepting}` |
//!
//! plus one name of Luigi's own: `builtin("boolean", "bool_eval")` (or
//! `"bool_eval.accepting"`), a candidate automaton of the paper's boolean
//! task ([`crate::hypothesis::boolean::candidates`]).
//!
//! An argument that reads as a number is passed as one. An assertion takes
//! exactly one hypothesis: items that give several (`chars`, `keywords`,
//! `ngrams`, `family`, `auto`, an fsm with `output: both`) are refused.
//! File paths are relative to `base` (the current directory for a
//! built-in, which `cargo test` sets to the crate root; the spec's folder
//! for a spec). An unknown name is an error listing the valid ones.

use std::path::Path;

use crate::error::{closest_names, Error, Result};
use crate::hypothesis::{boolean, list, Hypothesis, HypothesisSet};
use crate::yaml::{self, Mapping, Value};

/// Names that take no argument: the list format's bare names that give
/// one hypothesis.
pub const BARE: &[&str] = &list::without::<{ list::count_without(list::BARE, list::SEVERAL) }>(
    list::BARE,
    list::SEVERAL,
    &[],
);

/// Names that take arguments: the list format's keys that give one
/// hypothesis, and `boolean`.
pub const KEYED: &[&str] = &list::without::<{ list::count_without(list::KEYED, list::SEVERAL) + 1 }>(
    list::KEYED,
    list::SEVERAL,
    &["boolean"],
);

/// Every valid name, in words, for error messages.
pub fn valid_names() -> String {
    format!(
        "without arguments: {}; with arguments: {}",
        BARE.join(", "),
        KEYED.join(", ")
    )
}

fn label(args: &[&str]) -> String {
    format!(
        "builtin({})",
        args.iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// An argument as a YAML scalar: a number when it reads as one.
fn scalar(s: &str) -> Value {
    if let Ok(i) = s.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(f) = s.parse::<f64>() {
        if f.is_finite() && s.chars().any(|c| c.is_ascii_digit()) {
            return Value::Number(f.into());
        }
    }
    Value::String(s.to_string())
}

fn one_key(key: &str, value: Value) -> Value {
    let mut m = Mapping::new();
    m.insert(Value::String(key.to_string()), value);
    Value::Mapping(m)
}

/// The hypothesis `builtin(args...)` names. File arguments resolve against `base`.
pub fn builtin(args: &[&str], base: &Path) -> Result<Box<dyn Hypothesis>> {
    let name = label(args);
    let err = |message: String| Error::Hypothesis {
        name: name.clone(),
        message,
    };
    let Some((first, rest)) = args.split_first() else {
        return Err(err(format!(
            "no name: write e.g. builtin(\"comment\"); valid names {}",
            valid_names()
        )));
    };
    let item = match (*first, rest) {
        (n, []) => Value::String(n.to_string()),
        ("fsm", [file]) => fsm_item(file, None),
        ("fsm", [file, output]) => fsm_item(file, Some(output)),
        ("regex", [pattern]) => one_key("regex", Value::String(pattern.to_string())),
        ("regex", [rname, pattern]) => {
            let mut m = Mapping::new();
            m.insert("name".into(), Value::String(rname.to_string()));
            m.insert("pattern".into(), Value::String(pattern.to_string()));
            one_key("regex", Value::Mapping(m))
        }
        ("count", [of, reset]) => {
            let mut m = Mapping::new();
            m.insert("of".into(), Value::String(of.to_string()));
            m.insert("reset".into(), Value::String(reset.to_string()));
            one_key("count", Value::Mapping(m))
        }
        (n, [arg]) => one_key(n, scalar(arg)),
        (n, more) => {
            return Err(err(format!(
                "`{n}` takes one argument, got {}: write e.g. builtin(\"{n}\", \"...\")",
                more.len()
            )))
        }
    };
    from_item(&item, base).map_err(err)
}

fn fsm_item(file: &str, output: Option<&str>) -> Value {
    let (path, frag) = match (file.rsplit_once('#'), output) {
        (Some((p, f)), None) => (p, Some(f)),
        _ => (file, output),
    };
    let mut m = Mapping::new();
    m.insert("file".into(), Value::String(path.to_string()));
    if let Some(o) = frag {
        m.insert("output".into(), Value::String(o.to_string()));
    }
    one_key("fsm", Value::Mapping(m))
}

/// Builds exactly one hypothesis from one item of the hypothesis-list
/// format (plus `boolean: NAME`). The message names the problem and the fix.
pub(crate) fn from_item(
    item: &Value,
    base: &Path,
) -> std::result::Result<Box<dyn Hypothesis>, String> {
    match item {
        Value::String(s) if s == "boolean" => {
            return Err(format!(
                "`boolean` needs the automaton's name: one of {}",
                boolean_names()?.join(", ")
            ))
        }
        Value::String(s) if s == "auto" => {
            return Err(
                "`auto` generates many hypotheses; an expectation takes exactly one (use it in a ranking snapshot)"
                    .to_string(),
            )
        }
        Value::String(s) if !BARE.contains(&s.as_str()) => return Err(unknown(s)),
        Value::Mapping(m) if m.len() == 1 => {
            if let Some((Value::String(k), v)) = m.iter().next() {
                if k == "boolean" {
                    return boolean_item(v);
                }
                if k == "family" {
                    return Err("`family` generates many hypotheses; an expectation takes exactly one (use it in a ranking snapshot)".to_string());
                }
                if !list::KEYED.contains(&k.as_str()) {
                    return Err(unknown(k));
                }
            }
        }
        _ => {}
    }
    let text = yaml::to_string(&vec![item.clone()]).map_err(|e| e.to_string())?;
    let set = HypothesisSet::from_yaml_str(&text, &base.join("(hypothesis)"), None)
        .map_err(clean_list_error)?;
    if set.len() != 1 {
        return Err(format!(
            "gives {} hypotheses ({}); an expectation takes exactly one: use the singular form (`char`, `keyword`, `ngram`) or `output: state`/`accepting`",
            set.len(),
            set.names().join(", ")
        ));
    }
    set.into_boxed()
        .pop()
        .ok_or_else(|| "gave no hypothesis".to_string())
}

fn unknown(name: &str) -> String {
    let all = BARE.iter().chain(KEYED.iter()).copied();
    let close = closest_names(name, all, 3);
    let hint = if close.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", close.join(", "))
    };
    format!(
        "unknown built-in hypothesis `{name}`{hint}; valid names {}",
        valid_names()
    )
}

/// The message of a list-parser error, without the `[0]` of the one-item
/// list it was parsed as.
fn clean_list_error(e: Error) -> String {
    match e {
        Error::Spec { key, message, .. } => {
            let key = key.trim_start_matches("[0]").trim_start_matches('.');
            if key.is_empty() || key == "(document)" {
                message
            } else {
                format!("{key}: {message}")
            }
        }
        other => other.to_string(),
    }
}

fn boolean_names() -> std::result::Result<Vec<String>, String> {
    let set = boolean::candidates().map_err(|e| e.to_string())?;
    Ok(set.names().into_iter().map(str::to_string).collect())
}

fn boolean_item(v: &Value) -> std::result::Result<Box<dyn Hypothesis>, String> {
    let Value::String(name) = v else {
        return Err(format!(
            "`boolean` takes the automaton's name: one of {}",
            boolean_names()?.join(", ")
        ));
    };
    let set = boolean::candidates().map_err(|e| e.to_string())?;
    let names: Vec<String> = set.names().into_iter().map(str::to_string).collect();
    match set.into_boxed().into_iter().find(|h| h.name() == name) {
        Some(h) => Ok(h),
        None => {
            let close = closest_names(name, names.iter().map(String::as_str), 2);
            let hint = if close.is_empty() {
                String::new()
            } else {
                format!(" (did you mean {}?)", close.join(", "))
            };
            Err(format!(
                "no candidate automaton `{name}`{hint}; the boolean task has {}",
                names.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hypothesis::HypothesisKind;

    fn build(args: &[&str]) -> Result<Box<dyn Hypothesis>> {
        builtin(args, Path::new("."))
    }

    #[test]
    fn names_map_to_the_library() {
        let h = build(&["depth", "("]).unwrap();
        assert_eq!(h.kind(), HypothesisKind::Numeric);
        let mut out = Vec::new();
        h.evaluate(&['(', 'a', '(', ')'], &mut out);
        assert_eq!(out, [1.0, 1.0, 2.0, 1.0]);
        assert_eq!(build(&["comment"]).unwrap().kind(), HypothesisKind::Binary);
        let k = build(&["keyword", "return"]).unwrap();
        assert!(k.name().contains("return"), "{}", k.name());
        let lvl = build(&["indent_level", "4"]).unwrap();
        assert_eq!(lvl.kind(), HypothesisKind::Numeric);
        let b = build(&["boolean", "bool_eval"]).unwrap();
        assert!(matches!(b.kind(), HypothesisKind::Categorical { .. }));
        assert_eq!(
            build(&["boolean", "bool_eval.accepting"]).unwrap().kind(),
            HypothesisKind::Binary
        );
        assert_eq!(
            build(&["regex", "hex", "0x[0-9a-f]+"]).unwrap().name(),
            "regex(hex)"
        );
    }

    #[test]
    fn every_listed_name_is_accepted() {
        let sample: &[(&str, &[&str])] = &[
            ("char", &["char", "a"]),
            ("class", &["class", "digit"]),
            ("depth", &["depth", "{"]),
            ("inside", &["inside", "("]),
            ("indent", &["indent"]),
            ("indent_level", &["indent_level", "2"]),
            ("keyword", &["keyword", "if"]),
            ("keyword_end", &["keyword_end", "if"]),
            ("word", &["word", "ENOMEM"]),
            ("word_end", &["word_end", "ENOMEM"]),
            ("ngram", &["ngram", "->"]),
            ("regex", &["regex", "[0-9]+"]),
            ("count", &["count", ","]),
            ("boolean", &["boolean", "last_op"]),
        ];
        for (name, args) in sample {
            assert!(KEYED.contains(name));
            build(args).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        for name in BARE {
            build(&[name]).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let e = build(&["coment"]).unwrap_err().to_string();
        assert!(e.contains("builtin(\"coment\")"), "{e}");
        assert!(e.contains("did you mean comment"), "{e}");
        assert!(e.contains("with arguments: char"), "{e}");
        let e = build(&["boolean", "evaluator"]).unwrap_err().to_string();
        assert!(e.contains("bool_eval"), "{e}");
        let e = build(&[]).unwrap_err().to_string();
        assert!(e.contains("no name"), "{e}");
    }

    #[test]
    fn several_hypotheses_are_refused() {
        let e = build(&["chars", "{}"]).unwrap_err().to_string();
        assert!(e.contains("exactly one"), "{e}");
        let e = build(&["auto"]).unwrap_err().to_string();
        assert!(e.contains("exactly one"), "{e}");
        let e = build(&["depth", "(", ")"]).unwrap_err().to_string();
        assert!(e.contains("takes one argument"), "{e}");
    }

    #[test]
    fn fsm_files_resolve_against_base() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("par.yaml"),
            "states: [even, odd]\nstart: even\naccepting: [odd]\ndefault: stay\ntransitions:\n  - {from: even, on: '1', to: odd}\n  - {from: odd, on: '1', to: even}\n",
        )
        .unwrap();
        let h = builtin(&["fsm", "par.yaml"], d.path()).unwrap();
        assert!(matches!(h.kind(), HypothesisKind::Categorical { .. }));
        let a = builtin(&["fsm", "par.yaml#accepting"], d.path()).unwrap();
        assert_eq!(a.kind(), HypothesisKind::Binary);
        let e = builtin(&["fsm", "missing.yaml"], d.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.yaml"), "{e}");
    }
}
