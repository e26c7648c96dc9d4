//! The raw argument list: `key = value, key = value, ...`, parsed with error
//! recovery so that one malformed entry does not hide the errors of the others.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Expr, Ident, Token};

/// Errors collected while expanding one attribute; all are shown together.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds an error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Adds an error at `span`.
    pub(crate) fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Adds an error spanning `tokens`.
    pub(crate) fn spanned(
        &mut self,
        tokens: impl quote::ToTokens,
        message: impl std::fmt::Display,
    ) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Whether no error was collected.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The collected errors, if any.
    pub(crate) fn into_error(self) -> Option<syn::Error> {
        self.0
    }
}

/// One `key = value` entry as written.
pub(crate) struct Entry {
    /// The key (any identifier, keywords such as `crate` included).
    pub(crate) key: Ident,
    /// The value, any Rust expression whose meaning depends on the key;
    /// `None` when it was malformed (already reported), so the key does not
    /// also count as missing.
    pub(crate) value: Option<Expr>,
}

/// Parses the attribute's arguments. Malformed entries are reported to
/// `errors`; parsing resumes at the next entry.
pub(crate) fn parse(attr: TokenStream, errors: &mut Errors) -> Vec<Entry> {
    let parser = |input: ParseStream| -> syn::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        while !input.is_empty() {
            let (parsed, error) = entry(input);
            entries.extend(parsed);
            if let Some(e) = error {
                errors.push(e);
                skip_past_comma(input)?;
                continue;
            }
            if input.is_empty() {
                break;
            }
            if let Err(e) = input.parse::<Token![,]>() {
                errors.push(syn::Error::new(
                    e.span(),
                    "expected `,` between two `key = value` entries",
                ));
                // `a = 1 b = 2`: go on with `b = 2`; otherwise skip the debris.
                if !(input.peek(Ident::peek_any) && input.peek2(Token![=])) {
                    skip_past_comma(input)?;
                }
            }
        }
        Ok(entries)
    };
    match parser.parse2(attr) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(e);
            Vec::new()
        }
    }
}

/// Parses `key = value`: the entry (with no value when the value is
/// malformed) and the error, if any.
fn entry(input: ParseStream) -> (Option<Entry>, Option<syn::Error>) {
    let key = match Ident::parse_any(input) {
        Ok(key) => key,
        Err(e) => {
            let message = "expected `key = value`, e.g. `layer = \"lstm\"`";
            return (None, Some(syn::Error::new(e.span(), message)));
        }
    };
    if !input.peek(Token![=]) {
        let hint = crate::spec::bare_word_hint(&key);
        let error = syn::Error::new(key.span(), format!("expected `{key} = value`{hint}"));
        // A bare `some_unit` means `expect = some_unit`: the key is not missing.
        let meant = crate::spec::key_meant_by_bare_word(&key)
            .map(|k| Ident::new(k, key.span()))
            .map(|key| Entry { key, value: None });
        return (meant, Some(error));
    }
    let parsed = input.parse::<Token![=]>().and_then(|_| {
        if input.is_empty() || input.peek(Token![,]) {
            Err(syn::Error::new(
                input.span(),
                format!("`{key} =` needs a value"),
            ))
        } else {
            input.parse::<Expr>()
        }
    });
    match parsed {
        Ok(value) => (
            Some(Entry {
                key,
                value: Some(value),
            }),
            None,
        ),
        Err(e) => (Some(Entry { key, value: None }), Some(e)),
    }
}

/// Moves past the next comma outside any group (or to the end).
fn skip_past_comma(input: ParseStream) -> syn::Result<()> {
    input.step(|cursor| {
        let mut rest = *cursor;
        while let Some((tt, next)) = rest.token_tree() {
            rest = next;
            if let TokenTree::Punct(p) = &tt {
                if p.as_char() == ',' {
                    break;
                }
            }
        }
        Ok(((), rest))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn keys(attr: TokenStream) -> (Vec<String>, Vec<String>) {
        let mut errors = Errors::default();
        let entries = parse(attr, &mut errors);
        let messages = errors
            .into_error()
            .map(|e| e.into_iter().map(|e| e.to_string()).collect())
            .unwrap_or_default();
        (
            entries.iter().map(|e| e.key.to_string()).collect(),
            messages,
        )
    }

    #[test]
    fn keeps_entries_around_a_malformed_one() {
        let (keys, errors) =
            keys(quote!(model = "m", layer, corpus = "c", seed = , crate = "x", min = 0.5));
        assert_eq!(keys, ["model", "corpus", "seed", "crate", "min"]);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("expected `layer = value`"), "{errors:?}");
        assert!(errors[1].contains("`seed =` needs a value"), "{errors:?}");
    }

    #[test]
    fn commas_inside_groups_do_not_end_an_entry() {
        let (keys, errors) = keys(quote!(
            hypothesis = builtin("fsm", "a.yaml#v"),
            expect = units([1, 2]),
        ));
        assert_eq!(keys, ["hypothesis", "expect"]);
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn missing_comma_is_reported_and_parsing_goes_on() {
        let (keys, errors) = keys(quote!(model = "m" layer = "l", corpus = "c"));
        assert_eq!(keys, ["model", "layer", "corpus"]);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("expected `,`"), "{errors:?}");
    }

    #[test]
    fn missing_comma_before_debris_skips_to_the_next_entry() {
        let (keys, errors) = keys(quote!(model = "m" "junk" x, corpus = "c"));
        assert_eq!(keys, ["model", "corpus"]);
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn a_bare_expectation_word_stands_for_expect() {
        let (keys, errors) = keys(quote!(some_unit, model = "m"));
        assert_eq!(keys, ["expect", "model"]);
        assert_eq!(
            errors,
            ["expected `some_unit = value`: write `expect = some_unit`"]
        );
    }

    #[test]
    fn a_literal_key_is_an_error() {
        let (keys, errors) = keys(quote!("model" = "m", layer = "l"));
        assert_eq!(keys, ["layer"]);
        assert!(errors[0].contains("expected `key = value`"), "{errors:?}");
    }
}
