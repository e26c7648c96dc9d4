//! The built-in hypothesis library.
//!
//! Every hypothesis here is a small type implementing [`Hypothesis`], built
//! with a constructor that validates its arguments. Names are stable and
//! unique per configuration (they are the keys of a [`HypothesisSet`]).
//!
//! # Timing rules
//!
//! There are two kinds of rule, and every type says which one it follows:
//!
//! - **State rules** (position, column, line, indentation, depth, counters,
//!   automata): the value at `t` is the state *after reading* the character
//!   at `t`, computed from `seq[..=t]` only (no look-ahead).
//! - **Span rules** (comments, string and char literals, identifiers,
//!   keywords, regular-expression matches): the value at `t` is 1 when the
//!   character at `t` belongs to a span of the text (a comment, a keyword
//!   occurrence, …), delimiters included. Deciding that may look ahead: the
//!   first `/` of `//` is already part of the comment, and every character of
//!   `return` fires only when the whole word is delimited. Point variants
//!   fire at the last character of an occurrence: [`NGram`] is causal;
//!   [`Keyword::end`] still looks one character ahead (to know the word
//!   ends there).
//!
//! # Names
//!
//! Characters inside names are written with [`char_label`]: `\n`, `\t`, `\r`,
//! `\\` and other control characters as `\u{..}`; everything else as itself.
//!
//! [`HypothesisSet`]: super::HypothesisSet
//! [`Hypothesis`]: super::Hypothesis

mod brackets;
mod chars;
mod counter;
mod layout;
mod regions;
mod tokens;
mod values;
mod words;

pub use brackets::*;
pub use chars::*;
pub use counter::*;
pub use layout::*;
pub use regions::*;
pub use tokens::*;
pub use values::*;
pub use words::*;

/// 1.0 for true, 0.0 for false.
#[inline]
fn bit(x: bool) -> f32 {
    if x {
        1.0
    } else {
        0.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hypothesis::evaluate_checked;
    use crate::hypothesis::Hypothesis;

    fn run(h: &dyn Hypothesis, text: &str) -> Vec<f32> {
        let seq: Vec<char> = text.chars().collect();
        evaluate_checked(h, &seq).unwrap()
    }

    /// Positions where a binary output is 1, as a string of `^` under the text.
    fn marks(h: &dyn Hypothesis, text: &str) -> String {
        run(h, text)
            .iter()
            .map(|&v| if v == 1.0 { '^' } else { ' ' })
            .collect::<String>()
            .trim_end()
            .to_string()
    }

    fn ints(v: &[f32]) -> Vec<i64> {
        v.iter().map(|&x| x as i64).collect()
    }

    #[test]
    fn char_and_class_detectors() {
        assert_eq!(marks(&CharIs::new('a'), "banana"), " ^ ^ ^");
        assert_eq!(CharIs::new('\n').name(), "char(\\n)");
        assert_eq!(marks(&ClassIs::new(CharClass::Digit), "a1b22"), " ^ ^^");
        assert_eq!(marks(&ClassIs::new(CharClass::Upper), "aBcD"), " ^ ^");
        assert_eq!(
            marks(&ClassIs::new(CharClass::Whitespace), "a b\tc\n"),
            " ^ ^ ^"
        );
        assert_eq!(marks(&ClassIs::new(CharClass::Punct), "a(b);"), " ^ ^^");
        assert_eq!(marks(&ClassIs::new(CharClass::Letter), "1é_"), " ^");
        assert_eq!(marks(&ClassIs::new(CharClass::Ident), "a_-1"), "^^ ^");
        let e = ClassIs::named("digits").unwrap_err().to_string();
        assert!(
            e.contains("unknown class `digits`") && e.contains("digit, letter"),
            "{e}"
        );
    }

    #[test]
    fn position_column_line() {
        assert_eq!(ints(&run(&Position, "abc")), [0, 1, 2]);
        assert_eq!(ints(&run(&Column, "ab\nc\n\nde")), [1, 2, 0, 1, 0, 0, 1, 2]);
        assert_eq!(ints(&run(&Line, "ab\nc\n\nd")), [0, 0, 1, 1, 2, 3, 3]);
    }

    #[test]
    fn indentation_width_and_level() {
        let text = "a\n    b c\n\tx\n  \t y";
        // a \n ␣ ␣ ␣ ␣ b ␣ c \n \t x \n ␣ ␣ \t ␣ y
        assert_eq!(
            ints(&run(&Indentation::width(), text)),
            [0, 0, 1, 2, 3, 4, 4, 4, 4, 0, 8, 8, 0, 1, 2, 8, 9, 9]
        );
        let lvl = Indentation::level(4).unwrap();
        assert_eq!(lvl.name(), "indent_level(4)");
        assert_eq!(
            ints(&run(&lvl, "\n        x")),
            [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
        );
        let tab4 = Indentation::width().tab_width(4).unwrap();
        assert_eq!(tab4.name(), "indent(tab=4)");
        assert_eq!(ints(&run(&tab4, "  \tx")), [1, 2, 4, 4]);
        assert!(Indentation::level(0).is_err());
    }

    #[test]
    fn bracket_depth_ignores_unmatched_closers() {
        let d = Bracket::depth('(').unwrap();
        assert_eq!(d.name(), "depth(()");
        assert_eq!(ints(&run(&d, "a(b(c))d")), [0, 1, 1, 2, 2, 1, 0, 0]);
        // unmatched `)` at depth 0 is ignored, never negative
        assert_eq!(ints(&run(&d, "))(")), [0, 0, 1]);
        let inside = Bracket::inside('}').unwrap();
        assert_eq!(inside.name(), "inside({)");
        assert_eq!(marks(&inside, "x{y{}z}w"), " ^^^^^");
        assert_eq!(
            ints(&run(&Bracket::depth('[').unwrap(), "[[]]]")),
            [1, 2, 1, 0, 0]
        );
        assert!(Bracket::depth('x')
            .unwrap_err()
            .to_string()
            .contains("not a bracket"));
        let code = Bracket::depth('(').unwrap().code_aware();
        assert_eq!(code.name(), "code_depth(()");
        assert_eq!(
            ints(&run(&code, "(\"(\"/*(*/)")),
            [1, 1, 1, 1, 1, 1, 1, 1, 1, 0]
        );
    }

    #[test]
    fn comments_and_strings_are_consistent() {
        let text = "a=\"//x\"; // \"q\n/* ' */ 'c' \"\\\"\" b";
        let regions = code_regions(&text.chars().collect::<Vec<_>>());
        let letters: String = regions
            .iter()
            .map(|r| match r {
                Region::Code => '.',
                Region::LineComment => 'L',
                Region::BlockComment => 'B',
                Region::String => 'S',
                Region::CharLiteral => 'C',
            })
            .collect();
        // a = " / / x " ;   / / ␣ " q \n / * ␣ ' ␣ * / ␣ ' c ' ␣ " \ " " ␣ b
        assert_eq!(letters, "..SSSSS..LLLLL.BBBBBBB.CCC.SSSS..");
        assert_eq!(marks(&InRegion::comment(), "x/*a*/y//z"), " ^^^^^ ^^^");
        assert_eq!(marks(&InRegion::line_comment(), "x//z\ny"), " ^^^");
        assert_eq!(marks(&InRegion::block_comment(), "/*/x*/"), "^^^^^^");
        assert_eq!(marks(&InRegion::string(), "\"a\\\\\"b"), "^^^^^");
        assert_eq!(marks(&InRegion::char_literal(), "'\\''x"), "^^^^");
        // an unterminated string ends at the line break
        assert_eq!(marks(&InRegion::string(), "\"ab\ncd"), "^^^");
        // unterminated block comment lasts to the end
        assert_eq!(marks(&InRegion::comment(), "a/*b\nc"), " ^^^^^");
    }

    #[test]
    fn identifiers_and_keywords() {
        assert_eq!(
            identifier_spans(&"ab 1x _c9".chars().collect::<Vec<_>>()),
            [(0, 2), (6, 9)]
        );
        assert_eq!(marks(&Identifier, "x=0x1f+y_2"), "^      ^^^");
        let r = Keyword::new("return").unwrap();
        assert_eq!(r.name(), "keyword(return)");
        assert_eq!(
            marks(&r, "return x; returned; xreturn;(return)"),
            "^^^^^^                       ^^^^^^"
        );
        let e = Keyword::end("return").unwrap();
        assert_eq!(e.name(), "keyword_end(return)");
        assert_eq!(marks(&e, " return;return"), "      ^      ^");
        assert!(Keyword::new("a-b").is_err());
        assert!(Keyword::new("9a").is_err());
        assert!(Keyword::new("").is_err());
    }

    #[test]
    fn ngrams_fire_at_last_char() {
        let g = NGram::new("ab").unwrap();
        assert_eq!(g.name(), "ngram(ab)");
        assert_eq!(marks(&g, "abcab a"), " ^  ^");
        assert_eq!(marks(&NGram::new("aa").unwrap(), "aaa"), " ^^");
        assert_eq!(NGram::new(";\n").unwrap().name(), "ngram(;\\n)");
        assert!(NGram::new("").is_err());
    }

    #[test]
    fn regex_covers_leftmost_first_matches() {
        let h = RegexMatch::new("hex", "0x[0-9a-f]+").unwrap();
        assert_eq!(h.name(), "regex(hex)");
        assert_eq!(marks(&h, "a=0x1f+0xg"), "  ^^^^");
        // multi-byte characters map back to the right timesteps
        assert_eq!(
            marks(&RegexMatch::new("e", "é+").unwrap(), "aééb€é"),
            " ^^  ^"
        );
        // empty matches cover nothing
        assert_eq!(marks(&RegexMatch::new("z", "z*").unwrap(), "azb"), " ^");
        // leftmost-first: alternation prefers the first branch
        assert_eq!(marks(&RegexMatch::new("ab", "a|ab").unwrap(), "ab"), "^");
        let err = RegexMatch::new("bad", "(").unwrap_err().to_string();
        assert!(
            err.contains("regex(bad)") && err.contains("invalid regular expression"),
            "{err}"
        );
    }

    #[test]
    fn counters_with_reset() {
        let c = Counter::new(CharSet::char(',')).unwrap();
        assert_eq!(ints(&run(&c, "a,b,\n,")), [0, 1, 1, 2, 2, 3]);
        let r = Counter::new(CharSet::char(','))
            .unwrap()
            .reset_on(CharSet::char('\n'));
        assert_eq!(r.name(), "count(,,reset=\\n)");
        assert_eq!(ints(&run(&r, "a,b,\n,")), [0, 1, 1, 2, 0, 1]);
        let d = Counter::new(CharSet::class(CharClass::Digit)).unwrap();
        assert_eq!(d.name(), "count(digit)");
        assert_eq!(ints(&run(&d, "1a22")), [1, 1, 2, 3]);
        assert!(Counter::new(CharSet::chars([])).is_err());
    }

    proptest::proptest! {
        /// Regex coverage maps byte ranges back to the right timesteps,
        /// checked against a char-by-char reference.
        #[test]
        fn regex_coverage_matches_reference(text in "[ab€é ]{0,30}") {
            let h = RegexMatch::new("r", "a[bé€]+").unwrap();
            let got = run(&h, &text);
            let mut want = vec![0.0f32; text.chars().count()];
            for m in regex::Regex::new("a[bé€]+").unwrap().find_iter(&text) {
                let first = text[..m.start()].chars().count();
                let n = m.as_str().chars().count();
                want[first..first + n].fill(1.0);
            }
            proptest::prop_assert_eq!(got, want);
        }

        /// Depth equals the clamped running balance and is never negative;
        /// `inside` is depth > 0.
        #[test]
        fn depth_is_clamped_balance(text in "[()a]{0,40}") {
            let d = run(&Bracket::depth('(').unwrap(), &text);
            let i = run(&Bracket::inside(')').unwrap(), &text);
            let mut bal = 0i64;
            for (k, c) in text.chars().enumerate() {
                bal = match c { '(' => bal + 1, ')' => (bal - 1).max(0), _ => bal };
                proptest::prop_assert_eq!(d[k] as i64, bal);
                proptest::prop_assert_eq!(i[k] == 1.0, bal > 0);
            }
        }

        /// Every comment or literal run starts with its opener, and a line
        /// comment never contains a line break.
        #[test]
        fn region_runs_start_with_their_opener(text in "[a/*\"'\\\n]{0,40}") {
            let chars: Vec<char> = text.chars().collect();
            let r = code_regions(&chars);
            for k in 0..chars.len() {
                if r[k] == Region::LineComment {
                    proptest::prop_assert!(chars[k] != '\n');
                }
                if r[k] != Region::Code && (k == 0 || r[k - 1] != r[k]) {
                    let rest: String = chars[k..].iter().collect();
                    let ok = match r[k] {
                        Region::LineComment => rest.starts_with("//"),
                        Region::BlockComment => rest.starts_with("/*"),
                        Region::String => rest.starts_with('"'),
                        Region::CharLiteral => rest.starts_with('\''),
                        Region::Code => true,
                    };
                    proptest::prop_assert!(ok, "{:?} at {} in {:?}", r[k], k, text);
                }
            }
        }
    }

    #[test]
    fn char_sets_parse_and_intersect() {
        assert_eq!(CharSet::parse_item("x").unwrap(), CharSet::char('x'));
        assert_eq!(CharSet::parse_item("newline").unwrap(), CharSet::char('\n'));
        assert_eq!(
            CharSet::parse_item("digit").unwrap(),
            CharSet::class(CharClass::Digit)
        );
        assert!(CharSet::parse_item("digits")
            .unwrap_err()
            .contains("neither one character"));
        let digit = CharSet::class(CharClass::Digit);
        let letter = CharSet::class(CharClass::Letter);
        let hex = CharSet::class(CharClass::Hex);
        assert_eq!(digit.intersection_witness(&letter), None);
        assert_eq!(digit.intersection_witness(&hex), Some('0'));
        assert_eq!(letter.intersection_witness(&CharSet::char('q')), Some('q'));
        assert_eq!(
            CharSet::chars(['b', 'a']).union(&digit).label(),
            "[ab,digit]"
        );
    }
}
