//! The paper's boolean toy task: expressions over `0`/`1` with `|` and `&`,
//! evaluated left to right (no precedence), left-padded with `X`.
//!
//! `XXX1|0&1&1` is `((1 | 0) & 1) & 1` = true; `1|0&0` is `(1 | 0) & 0` =
//! false (with the usual precedence it would be true).
//!
//! Grammar of one line: `X* operand (op operand)*`, operands `0`/`1`, ops
//! `|`/`&`, nothing else (no spaces). The training data file holds one
//! padded expression per line ([`label_lines`]).
//!
//! [`candidate_automata`] are the hypotheses of the paper's multi-unit
//! experiment: the automaton that really evaluates the expression, and
//! plausible ones that do not.

use super::fsm::{Fallback, Fsm};
use super::HypothesisSet;
use crate::error::{Error, Result};
use crate::numeric::rng::Rng;

/// The padding character.
pub const PAD: char = 'X';

/// Evaluates one (optionally padded) expression left to right.
///
/// Errors name the expression, the 0-based position and what was expected.
///
/// ```
/// use luigi_test::hypothesis::boolean::evaluate;
/// assert!(evaluate("XXX1|0&1&1")?);
/// assert!(!evaluate("1|0&0")?);
/// # Ok::<(), luigi_test::Error>(())
/// ```
pub fn evaluate(expr: &str) -> Result<bool> {
    evaluate_chars(expr).map_err(|(pos, msg)| {
        Error::invalid(
            format!("boolean expression `{expr}`"),
            format!("position {pos}: {msg}"),
        )
    })
}

fn evaluate_chars(expr: &str) -> std::result::Result<bool, (usize, String)> {
    let chars: Vec<char> = expr.chars().collect();
    let mut i = chars.iter().take_while(|&&c| c == PAD).count();
    let operand = |i: usize| -> std::result::Result<bool, (usize, String)> {
        match chars.get(i) {
            Some('0') => Ok(false),
            Some('1') => Ok(true),
            Some(c) => Err((i, format!("expected an operand `0` or `1`, found {c:?}"))),
            None => Err((
                i,
                "expected an operand `0` or `1`, found the end".to_string(),
            )),
        }
    };
    let mut value = operand(i)?;
    i += 1;
    while i < chars.len() {
        let op = chars[i];
        let rhs = match op {
            '|' | '&' => operand(i + 1)?,
            c => {
                return Err((
                    i,
                    format!("expected an operator `|` or `&`, found {c:?} (padding `X` goes only on the left)"),
                ))
            }
        };
        value = if op == '|' { value | rhs } else { value & rhs };
        i += 2;
    }
    Ok(value)
}

/// `n` random expressions padded to exactly `len` characters, with their
/// values, reproducible from `seed`.
///
/// Rules: the number of operands is uniform in `1..=(len + 1) / 2` (so the
/// unpadded expression, `2k - 1` characters, fits), each operand is `0` or
/// `1` and each operator `|` or `&` with probability 1/2; the rest is
/// left-padded with `X`. Duplicates are possible (short expressions are
/// few). `len == 0` gives no expressions, since none fits.
pub fn generate(n: usize, len: usize, seed: u64) -> Vec<(String, bool)> {
    if len == 0 {
        return Vec::new();
    }
    let mut rng = Rng::from_state(seed);
    let max_k = (len as u64).div_ceil(2);
    (0..n)
        .map(|_| {
            // (a draw is spent even when there is one choice, as the
            // generator always did)
            let k = 1 + if max_k == 1 {
                rng.next_u64();
                0
            } else {
                rng.below_by_rejection(max_k as usize)
            };
            let mut body = String::with_capacity(2 * k);
            let mut value = false;
            for j in 0..k {
                let bit = rng.below_by_rejection(2) == 1;
                if j == 0 {
                    value = bit;
                } else {
                    let or = rng.below_by_rejection(2) == 1;
                    body.push(if or { '|' } else { '&' });
                    value = if or { value | bit } else { value & bit };
                }
                body.push(if bit { '1' } else { '0' });
            }
            let mut s: String = std::iter::repeat_n(PAD, len - body.len()).collect();
            s.push_str(&body);
            (s, value)
        })
        .collect()
}

/// Reads a training file's text (one padded expression per line; empty
/// lines skipped) and labels every expression; a malformed line is an
/// [`Error::Corpus`] naming `origin`, the 1-based line and the position.
pub fn label_lines(text: &str, origin: &str) -> Result<Vec<(String, bool)>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let v = evaluate_chars(line).map_err(|(pos, msg)| Error::Corpus {
            source_name: origin.to_string(),
            message: format!(
                "line {}: `{line}`: position {pos}: {msg}; each line must be X* then 0/1 (op 0/1)* with ops | &",
                n + 1
            ),
        })?;
        out.push((line.to_string(), v));
    }
    Ok(out)
}

/// The candidate automata, each a categorical hypothesis:
///
/// | name | states | rule |
/// |---|---|---|
/// | `bool_eval` | `pad, val0, val1, val0_or, val1_or, val0_and, val1_and` (+ `error`) | the value computed so far and the pending operator: the real evaluator. Accepting: the value so far is 1 (`val1, val1_or, val1_and`), so `bool_eval.accepting` at the last character is the answer. Anything off-grammar goes to `error`. |
/// | `last_op` | `none, or, and` | the last operator read |
/// | `operand_parity` | `even, odd` | number of operands read, mod 2 |
/// | `last_digit` | `none, last0, last1` | the last operand read (wrong as an evaluator: ignores `|`) |
/// | `or_all` | `none, all0, some1` | OR of all operands so far (wrong: ignores `&`) |
/// | `and_all` | `none, all1, some0` | AND of all operands so far (wrong: ignores `|`) |
///
/// All but `bool_eval` ignore characters they have no transition for
/// (`default: stay`).
pub fn candidate_automata() -> Result<Vec<Fsm>> {
    let any_state = [
        "pad", "val0", "val1", "val0_or", "val1_or", "val0_and", "val1_and",
    ];
    let bool_eval = Fsm::builder("bool_eval")
        .states(any_state)
        .start("pad")
        .accepting(["val1", "val1_or", "val1_and"])
        .default(Fallback::Error)
        .transition("pad", 'X', "pad")
        .transition("pad", '0', "val0")
        .transition("pad", '1', "val1")
        .transition("val0", '|', "val0_or")
        .transition("val0", '&', "val0_and")
        .transition("val1", '|', "val1_or")
        .transition("val1", '&', "val1_and")
        .transition("val0_or", '0', "val0")
        .transition("val0_or", '1', "val1")
        .transition("val1_or", ['0', '1'], "val1")
        .transition("val0_and", ['0', '1'], "val0")
        .transition("val1_and", '0', "val0")
        .transition("val1_and", '1', "val1")
        .build()?;
    let last_op = Fsm::builder("last_op")
        .states(["none", "or", "and"])
        .start("none")
        .default(Fallback::Stay)
        .transition(["none", "or", "and"], '|', "or")
        .transition(["none", "or", "and"], '&', "and")
        .build()?;
    let parity = Fsm::builder("operand_parity")
        .states(["even", "odd"])
        .start("even")
        .accepting(["odd"])
        .default(Fallback::Stay)
        .transition("even", ['0', '1'], "odd")
        .transition("odd", ['0', '1'], "even")
        .build()?;
    let last_digit = Fsm::builder("last_digit")
        .states(["none", "last0", "last1"])
        .start("none")
        .accepting(["last1"])
        .default(Fallback::Stay)
        .transition(["none", "last0", "last1"], '0', "last0")
        .transition(["none", "last0", "last1"], '1', "last1")
        .build()?;
    let or_all = Fsm::builder("or_all")
        .states(["none", "all0", "some1"])
        .start("none")
        .accepting(["some1"])
        .default(Fallback::Stay)
        .transition(["none", "all0"], '0', "all0")
        .transition(["none", "all0"], '1', "some1")
        .build()?;
    let and_all = Fsm::builder("and_all")
        .states(["none", "all1", "some0"])
        .start("none")
        .accepting(["all1"])
        .default(Fallback::Stay)
        .transition(["none", "all1"], '1', "all1")
        .transition(["none", "all1"], '0', "some0")
        .build()?;
    Ok(vec![
        bool_eval, last_op, parity, last_digit, or_all, and_all,
    ])
}

/// Every candidate automaton (state outputs), followed by the accepting
/// outputs of those that have accepting states (`bool_eval.accepting`,
/// `operand_parity.accepting`, `last_digit.accepting`, `or_all.accepting`,
/// `and_all.accepting`).
pub fn candidates() -> Result<HypothesisSet> {
    let fsms = candidate_automata()?;
    let mut set = HypothesisSet::new();
    for f in &fsms {
        set.add(f.clone())?;
    }
    for f in &fsms {
        if f.accepting_states().iter().any(|&a| a) {
            set.add(f.accepting()?)?;
        }
    }
    Ok(set)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::corpus::Sequence;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn evaluates_left_to_right() {
        assert!(evaluate("XXX1|0&1&1").unwrap());
        assert!(!evaluate("1|0&0").unwrap());
        assert!(evaluate("0&0|1").unwrap());
        assert!(!evaluate("XX0").unwrap());
        assert!(evaluate("1").unwrap());
        let e = evaluate("XX1|").unwrap_err().to_string();
        assert!(
            e.contains("`XX1|`") && e.contains("position 4") && e.contains("found the end"),
            "{e}"
        );
        let e = evaluate("1X|0").unwrap_err().to_string();
        assert!(
            e.contains("position 1") && e.contains("expected an operator"),
            "{e}"
        );
        assert!(evaluate("XXX").is_err());
        assert!(evaluate("1||0").is_err());
    }

    #[test]
    fn generator_is_seeded_padded_and_correct() {
        let a = generate(300, 10, 7);
        assert_eq!(a, generate(300, 10, 7));
        assert_ne!(a, generate(300, 10, 8));
        let mut ks = std::collections::BTreeSet::new();
        let mut trues = 0;
        for (s, v) in &a {
            assert_eq!(s.chars().count(), 10);
            assert_eq!(evaluate(s).unwrap(), *v, "{s}");
            ks.insert(s.chars().filter(|c| *c == '0' || *c == '1').count());
            trues += usize::from(*v);
        }
        assert_eq!(ks, (1..=5).collect());
        assert!((90..=210).contains(&trues), "{trues} true of 300");
        assert!(generate(5, 0, 1).is_empty());
        assert!(generate(20, 1, 1).iter().all(|(s, _)| s == "0" || s == "1"));
    }

    #[test]
    fn label_lines_reports_line_numbers() {
        let got = label_lines("XX1&0\n\n1|0\n", "train.txt").unwrap();
        assert_eq!(
            got,
            [("XX1&0".to_string(), false), ("1|0".to_string(), true)]
        );
        let e = label_lines("1|0\n1|2\n", "train.txt")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("train.txt") && e.contains("line 2") && e.contains("position 2"),
            "{e}"
        );
    }

    #[test]
    fn bool_eval_tracks_the_value_and_pending_operator() {
        let fsms = candidate_automata().unwrap();
        let eval = &fsms[0];
        let states = |s: &str| -> Vec<String> {
            eval.run(&chars(s))
                .into_iter()
                .map(|i| eval.states()[i].clone())
                .collect()
        };
        assert_eq!(
            states("XX1|0&1"),
            ["pad", "pad", "val1", "val1_or", "val1", "val1_and", "val1"]
        );
        assert_eq!(states("0|"), ["val0", "val0_or"]);
        assert_eq!(states("1X"), ["val1", "error"]);
        let acc = eval.accepting().unwrap();
        for (s, v) in generate(500, 15, 3) {
            let seq = chars(&s);
            let run = eval.run(&seq);
            assert!(!run.contains(&eval.state_index("error").unwrap()), "{s}");
            let mut out = Vec::new();
            crate::hypothesis::Hypothesis::evaluate(&acc, &seq, &mut out);
            assert_eq!(out[seq.len() - 1] == 1.0, v, "{s}");
        }
    }

    #[test]
    fn wrong_candidates_disagree_with_the_answer() {
        let fsms = candidate_automata().unwrap();
        let names: Vec<&str> = fsms.iter().map(|f| f.name()).collect();
        assert_eq!(
            names,
            [
                "bool_eval",
                "last_op",
                "operand_parity",
                "last_digit",
                "or_all",
                "and_all"
            ]
        );
        let data = generate(500, 15, 11);
        for f in &fsms[3..] {
            let wrong = data
                .iter()
                .filter(|(s, v)| {
                    let run = f.run(&chars(s));
                    f.accepting_states()[run[run.len() - 1]] != *v
                })
                .count();
            assert!(wrong > 50, "{} is wrong on only {wrong} of 500", f.name());
        }
        let seq = chars("1|0&1&0");
        assert_eq!(fsms[1].run(&seq), [0, 1, 1, 2, 2, 2, 2]);
        assert_eq!(fsms[2].run(&seq), [1, 1, 0, 0, 1, 1, 0]);
        assert_eq!(fsms[3].run(&seq), [2, 2, 1, 1, 2, 2, 1]);
        assert_eq!(fsms[4].run(&chars("0&1&0")), [1, 1, 2, 2, 2]);
        assert_eq!(fsms[5].run(&chars("1|0|1")), [1, 1, 2, 2, 2]);
    }

    #[test]
    fn candidates_evaluate_on_generated_data() {
        let set = candidates().unwrap();
        assert_eq!(set.len(), 11);
        let seqs: Vec<Sequence> = generate(50, 9, 5)
            .iter()
            .map(|(s, _)| Sequence::new(s))
            .collect();
        let h = set.evaluate(&seqs).unwrap();
        assert_eq!(h.shape(), &[450, 11]);
    }

    #[test]
    fn yaml_version_matches_builder() {
        let yaml = r#"
name: bool_eval
states: [pad, val0, val1, val0_or, val1_or, val0_and, val1_and]
start: pad
accepting: [val1, val1_or, val1_and]
default: error
transitions:
  - {from: pad, on: X, to: pad}
  - {from: pad, on: '0', to: val0}
  - {from: pad, on: '1', to: val1}
  - {from: val0, on: '|', to: val0_or}
  - {from: val0, on: '&', to: val0_and}
  - {from: val1, on: '|', to: val1_or}
  - {from: val1, on: '&', to: val1_and}
  - {from: val0_or, on: '0', to: val0}
  - {from: [val0_or, val1_or, val1_and], on: '1', to: val1}
  - {from: val1_or, on: '0', to: val1}
  - {from: [val0_and, val1_and], on: '0', to: val0}
  - {from: val0_and, on: '1', to: val0}
"#;
        let p = std::path::Path::new("bool_eval.yaml");
        let y = crate::hypothesis::fsm::FsmSpec::from_yaml_str(yaml, p)
            .unwrap()
            .build(Some(p))
            .unwrap();
        let b = &candidate_automata().unwrap()[0];
        assert_eq!(y.states(), b.states());
        for (s, _) in generate(200, 11, 9) {
            assert_eq!(y.run(&chars(&s)), b.run(&chars(&s)), "{s}");
        }
        assert_eq!(y.run(&chars("1&&")), b.run(&chars("1&&")));
    }
}
