//! Hypotheses about the tokens themselves, for models that read subword
//! tokens: which token this is ([`TokenIs`]), and whether it starts a word
//! ([`WordStart`]). On a tokenized sequence they give one value per token
//! directly ([`Hypothesis::evaluate_tokens`]); on a sequence of characters,
//! each character is its own token.

use super::bit;
use crate::corpus::tokens::Tokens;
use crate::corpus::Sequence;
use crate::error::{Error, Result};
use crate::hypothesis::{Hypothesis, HypothesisKind};

/// 1 at a token whose string (as the tokenizer writes it: `Ġthe`,
/// `##ing`) is `piece`. On characters: at a character equal to `piece`.
/// Named `token(piece)`.
#[derive(Debug, Clone)]
pub struct TokenIs {
    piece: String,
    name: String,
}

impl TokenIs {
    /// A detector of the token `piece` (not empty).
    pub fn new(piece: &str) -> Result<TokenIs> {
        if piece.is_empty() {
            return Err(Error::Hypothesis {
                name: "token()".to_string(),
                message: "the token string is empty: give a token of the tokenizer's vocabulary"
                    .to_string(),
            });
        }
        let label: String = piece.chars().map(super::char_label).collect();
        Ok(TokenIs {
            piece: piece.to_string(),
            name: format!("token({label})"),
        })
    }
}

impl Hypothesis for TokenIs {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> HypothesisKind {
        HypothesisKind::Binary
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        out.clear();
        let mut it = self.piece.chars();
        let one = match (it.next(), it.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        };
        out.extend(seq.iter().map(|&c| bit(Some(c) == one)));
    }
    fn evaluate_tokens(&self, _seq: &Sequence, tokens: &Tokens, out: &mut Vec<f32>) -> bool {
        out.clear();
        out.extend((0..tokens.len()).map(|t| bit(tokens.piece(t) == self.piece)));
        true
    }
    fn triggers(&self) -> Vec<String> {
        // the text of the piece, without a tokenizer's word markers
        let text: String = self
            .piece
            .trim_start_matches("##")
            .chars()
            .map(|c| match c {
                'Ġ' | '▁' => ' ',
                'Ċ' => '\n',
                c => c,
            })
            .collect();
        if text.is_empty() {
            Vec::new()
        } else {
            vec![text]
        }
    }
}

/// 1 at a token that starts a word: the first character of its span that is
/// not white space is alphanumeric, and the character before that one is
/// not (or the text starts there). Decided on the text, so it means the
/// same for every tokenizer (`Ġ`, `##` or `▁` conventions alike). On
/// characters: an alphanumeric character after a non-alphanumeric one.
/// Named `word_start`.
#[derive(Debug, Clone, Default)]
pub struct WordStart;

impl WordStart {
    /// The detector.
    pub fn new() -> WordStart {
        WordStart
    }
}

fn starts_word(chars: &[char], at: usize) -> bool {
    chars.get(at).is_some_and(|c| c.is_alphanumeric())
        && (at == 0 || !chars[at - 1].is_alphanumeric())
}

impl Hypothesis for WordStart {
    fn name(&self) -> &str {
        "word_start"
    }
    fn kind(&self) -> HypothesisKind {
        HypothesisKind::Binary
    }
    fn evaluate(&self, seq: &[char], out: &mut Vec<f32>) {
        out.clear();
        out.extend((0..seq.len()).map(|t| bit(starts_word(seq, t))));
    }
    fn evaluate_tokens(&self, seq: &Sequence, tokens: &Tokens, out: &mut Vec<f32>) -> bool {
        out.clear();
        let chars = seq.chars();
        for &(s, e) in tokens.spans() {
            let (s, e) = (s as usize, (e as usize).min(chars.len()));
            let first = (s..e).find(|&i| !chars[i].is_whitespace());
            out.push(bit(first.is_some_and(|i| starts_word(chars, i))));
        }
        true
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::corpus::tokens::Align;
    use crate::hypothesis::evaluate_steps;
    use std::sync::Arc;

    fn seq(text: &str, pieces: &[&str], spans: &[(u32, u32)]) -> Sequence {
        let vocab: Vec<String> = pieces.iter().map(|p| p.to_string()).collect();
        let ids = (0..pieces.len() as i64).collect();
        let t = Tokens::new(ids, spans.to_vec(), Align::Last, Arc::new(vocab)).unwrap();
        Sequence::with_tokens(text, t).unwrap()
    }

    #[test]
    fn token_and_word_start_on_tokens_and_on_characters() {
        // "the cat" as `the`, `Ġca`, `t`: word starts at `the` and `Ġca`
        let s = seq("the cat", &["the", "Ġca", "t"], &[(0, 3), (3, 6), (6, 7)]);
        assert_eq!(evaluate_steps(&WordStart, &s).unwrap(), vec![1.0, 1.0, 0.0]);
        let ca = TokenIs::new("Ġca").unwrap();
        assert_eq!(evaluate_steps(&ca, &s).unwrap(), vec![0.0, 1.0, 0.0]);
        assert_eq!(ca.triggers(), vec![" ca".to_string()]);
        let plain = Sequence::new("a b");
        assert_eq!(
            evaluate_steps(&WordStart, &plain).unwrap(),
            vec![1.0, 0.0, 1.0]
        );
        let b = TokenIs::new("b").unwrap();
        assert_eq!(evaluate_steps(&b, &plain).unwrap(), vec![0.0, 0.0, 1.0]);
        assert!(TokenIs::new("").is_err());
    }
}
