//! The whole expansion on `proc_macro2` token streams, so it can be tested
//! without a compiler: parse the arguments, validate them against the
//! function, emit the test or, on any error, every error beside the function
//! as written (so that IDEs keep resolving it).

use proc_macro2::{Span, TokenStream};
use syn::{Item, ItemFn};

use crate::args::{self, Errors};
use crate::{emit, spec};

/// Expands `#[neural_assert(<attr>)] <item>`.
pub(crate) fn neural_assert(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let entries = args::parse(attr, &mut errors);
    let func = annotated_fn(item.clone(), &mut errors);
    let spec = spec::build(entries, func.as_ref(), &mut errors);
    match (errors.into_error(), spec, func) {
        (None, Some(spec), Some(func)) => emit::test_fn(&spec, func),
        (error, _, _) => {
            let error = error.unwrap_or_else(|| {
                syn::Error::new(Span::call_site(), "invalid #[neural_assert] attribute")
            });
            let mut out = error.to_compile_error();
            out.extend(item);
            out
        }
    }
}

/// The annotated item as a function, or an error.
fn annotated_fn(item: TokenStream, errors: &mut Errors) -> Option<ItemFn> {
    match syn::parse2::<Item>(item) {
        Ok(Item::Fn(f)) => Some(f),
        Ok(_) => {
            errors.at(
                Span::call_site(),
                "#[neural_assert] goes on a function: `fn name(seq: &[char]) -> Vec<f32>` \
                 when the function is the hypothesis, `fn name()` with `hypothesis = ...`",
            );
            None
        }
        Err(e) => {
            errors.push(e);
            None
        }
    }
}
