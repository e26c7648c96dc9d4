//! Expansion tests on token streams: snapshots of the generated code
//! (pretty-printed) and the exact error messages.

use proc_macro2::TokenStream;
use quote::quote;

mod errors;
mod expansion;

/// The expansion, pretty-printed.
fn expand(attr: TokenStream, item: TokenStream) -> String {
    let out = crate::expand::neural_assert(attr, item);
    let file: syn::File = syn::parse2(out).expect("the expansion parses as items");
    prettyplease::unparse(&file)
}

/// The messages of the `compile_error!`s of an expansion, in order; checks
/// that the annotated item was emitted beside them unchanged.
fn errors(attr: TokenStream, item: TokenStream) -> Vec<String> {
    let out = crate::expand::neural_assert(attr, item.clone());
    let file: syn::File = syn::parse2(out).expect("the expansion parses as items");
    let mut messages = Vec::new();
    let mut rest = Vec::new();
    for it in file.items {
        match it {
            syn::Item::Macro(m) if m.mac.path.segments.last().unwrap().ident == "compile_error" => {
                let lit: syn::LitStr = m.mac.parse_body().unwrap();
                messages.push(lit.value());
            }
            other => rest.push(other),
        }
    }
    let original: syn::File = syn::parse2(item).unwrap();
    assert!(!messages.is_empty(), "expected errors, got none");
    assert_eq!(
        quote!(#(#rest)*).to_string(),
        quote!(#original).to_string(),
        "the function must be emitted unchanged beside the errors"
    );
    messages
}

/// The keys every valid expansion needs, for tests about other keys.
fn base() -> TokenStream {
    quote!(model = "m.luigi.yaml", layer = "lstm", corpus = "eval.c")
}

/// A function that is a hypothesis.
fn hypothesis_fn() -> TokenStream {
    quote!(
        fn depth(seq: &[char]) -> Vec<f32> {
            seq.iter().map(|_| 0.0).collect()
        }
    )
}

/// A function that is a test.
fn test_fn() -> TokenStream {
    quote!(
        fn check() {}
    )
}
