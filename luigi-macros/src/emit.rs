//! Code generation: a `#[test]` function that builds an
//! `Assertion` of the facade crate's `_macro_support` module and runs it.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, ToTokens};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, ItemFn, LitStr, Meta, Token, Visibility};

use crate::spec::{Expect, Float, Hypothesis, Int, Kind, Spec, Threshold, VerifyMode};

/// Attributes that belong to the generated test rather than to a function
/// that is the hypothesis.
const TEST_ATTRIBUTES: &[&str] = &["ignore", "should_panic", "cfg"];

/// The test function for a validated spec.
pub(crate) fn test_fn(spec: &Spec, func: ItemFn) -> TokenStream {
    let test_attr = quote!(#[::core::prelude::v1::test]);
    let assertion = Ident::new("__luigi_assertion", Span::mixed_site());
    let name = func.sig.ident.clone();
    let chain = chain(spec, &name);
    match &spec.hypothesis {
        Hypothesis::Item(_) => {
            // The function is the hypothesis: nest it, unchanged, in a test of its name.
            let (test_attrs, own_attrs): (Vec<_>, Vec<_>) =
                func.attrs.iter().cloned().partition(belongs_to_test);
            let vis = func.vis.clone();
            let inner = ItemFn {
                attrs: own_attrs,
                vis: Visibility::Inherited,
                ..func
            };
            quote! {
                #test_attr
                #(#test_attrs)*
                #vis fn #name() {
                    #inner
                    let #assertion = #chain;
                    #assertion.assert();
                }
            }
        }
        _ => {
            // The function is the test: the assertion first, then its own body.
            let ItemFn {
                attrs,
                vis,
                sig,
                block,
            } = func;
            let stmts = &block.stmts;
            quote! {
                #test_attr
                #(#attrs)*
                #vis #sig {
                    let #assertion = #chain;
                    #assertion.assert();
                    #(#stmts)*
                }
            }
        }
    }
}

/// Whether an attribute of a function that is the hypothesis goes to the
/// generated test: `#[ignore]`, `#[should_panic]`, `#[cfg(..)]`, and a
/// `#[cfg_attr(.., ignore)]` that gives one of them.
fn belongs_to_test(attr: &Attribute) -> bool {
    let is_test_attribute = |path: &syn::Path| TEST_ATTRIBUTES.iter().any(|t| path.is_ident(t));
    if is_test_attribute(attr.path()) {
        return true;
    }
    if !attr.path().is_ident("cfg_attr") {
        return false;
    }
    attr.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
        .map(|metas| metas.iter().skip(1).any(|m| is_test_attribute(m.path())))
        .unwrap_or(false)
}

/// `Assertion::new(..).at(..).layer(..)...`.
fn chain(spec: &Spec, fn_name: &Ident) -> TokenStream {
    let krate = &spec.krate;
    let support = quote!(#krate::_macro_support);
    let model = manifest_relative(&spec.model);
    let test_name = LitStr::new(&fn_name.to_string(), fn_name.span());
    let layer = &spec.layer;
    let corpus = manifest_relative(&spec.corpus);
    let window = match &spec.window {
        Some(w) => {
            let w = int(w);
            quote!(::core::option::Option::Some(#w))
        }
        None => quote!(::core::option::Option::None),
    };
    let hypothesis = match &spec.hypothesis {
        Hypothesis::Item(kind) => {
            let kind = kind_tokens(&support, kind);
            quote!(.hypothesis_fn(#test_name, #kind, #fn_name))
        }
        Hypothesis::FnPath(path, kind) => {
            let kind = kind_tokens(&support, kind);
            let name = path.to_token_stream().to_string().replace(' ', "");
            let name = LitStr::new(&name, Span::call_site());
            quote!(.hypothesis_fn(#name, #kind, #path))
        }
        Hypothesis::Builtin(args) => quote!(.hypothesis_builtin(&[#(#args),*])),
        Hypothesis::Boxed(call) => quote!(.hypothesis_boxed(#call)),
    };
    let expect = expectation(&support, &spec.expect);
    let seed = spec.seed.as_ref().map(|s| {
        let s = int(s);
        quote!(.seed(#s))
    });
    let verify = spec.verify.map(|mode| {
        let mode = match mode {
            VerifyMode::Perturb => quote!(#support::Verify::Perturb),
            VerifyMode::Intervene => quote!(#support::Verify::Intervene),
            VerifyMode::Both => quote!(#support::Verify::Both),
        };
        let some_str = |v: &Option<LitStr>| match v {
            Some(s) => quote!(::core::option::Option::Some(::std::string::String::from(#s))),
            None => quote!(::core::option::Option::None),
        };
        let some_int = |v: &Option<Int>| match v {
            Some(n) => {
                let n = int(n);
                quote!(::core::option::Option::Some(#n))
            }
            None => quote!(::core::option::Option::None),
        };
        let response = some_str(&spec.response);
        let samples = some_int(&spec.samples);
        let steps = some_int(&spec.steps);
        quote!(.verify_with(#mode, #support::VerifySettings {
            response: #response,
            samples: #samples,
            steps: #steps,
        }))
    });
    quote! {
        #support::Assertion::new(#model)
            .at(::core::file!(), ::core::line!(), ::core::module_path!(), #test_name)
            .layer(#layer)
            .corpus(#corpus, #window)
            #hypothesis
            .expect(#expect)
            #seed
            #verify
    }
}

/// `Expectation::..{..}`.
fn expectation(support: &TokenStream, expect: &Expect) -> TokenStream {
    let threshold = |t: &Threshold| {
        let metric = Ident::new(t.metric.variant(), Span::call_site());
        let min = float(&t.min);
        let max_q = optional_float(t.max_q.as_ref());
        quote!(metric: #support::Metric::#metric, min: #min, max_q: #max_q)
    };
    let within = |t: &Threshold| {
        let w = optional_float(t.min_within_token.as_ref());
        quote!(min_within_token: #w)
    };
    match expect {
        Expect::SomeUnit(t) => {
            let w = within(t);
            let t = threshold(t);
            quote!(#support::Expectation::SomeUnit { #t, #w })
        }
        Expect::Units(units, t) => {
            let w = within(t);
            let t = threshold(t);
            quote!(#support::Expectation::Units { units: &[#(#units),*], #t, #w })
        }
        Expect::AtMost(k, t) => {
            let t = threshold(t);
            let k = int(k);
            quote!(#support::Expectation::AtMost { k: #k, #t })
        }
        Expect::Probe {
            units,
            min_accuracy,
            min_selectivity,
        } => {
            let units = match units {
                Some(units) => quote!(::core::option::Option::Some(&[#(#units),*])),
                None => quote!(::core::option::Option::None),
            };
            let min_accuracy = optional_float(min_accuracy.as_ref());
            let min_selectivity = optional_float(min_selectivity.as_ref());
            quote! {
                #support::Expectation::Probe {
                    units: #units,
                    min_accuracy: #min_accuracy,
                    min_selectivity: #min_selectivity,
                }
            }
        }
    }
}

/// `Kind::..`.
fn kind_tokens(support: &TokenStream, kind: &Kind) -> TokenStream {
    match kind {
        Kind::Numeric => quote!(#support::Kind::Numeric),
        Kind::Binary => quote!(#support::Kind::Binary),
        Kind::Categorical(states) => quote!(#support::Kind::Categorical(&[#(#states),*])),
    }
}

/// An absolute path as is; a relative one joined to the calling crate's
/// manifest directory (only a macro sees it).
fn manifest_relative(path: &LitStr) -> TokenStream {
    if std::path::Path::new(&path.value()).is_absolute() {
        path.to_token_stream()
    } else {
        quote!(::core::concat!(::core::env!("CARGO_MANIFEST_DIR"), "/", #path))
    }
}

/// An unsuffixed integer literal, so the callee's parameter type decides.
fn int(i: &Int) -> Literal {
    let mut lit = Literal::u64_unsuffixed(i.value);
    lit.set_span(i.span);
    lit
}

/// An unsuffixed float literal, with a separate `-` when negative.
fn float(f: &Float) -> TokenStream {
    let mut lit = Literal::f64_unsuffixed(f.value.abs());
    lit.set_span(f.span);
    if f.value.is_sign_negative() && f.value != 0.0 {
        quote!(-#lit)
    } else {
        lit.into_token_stream()
    }
}

/// `Some(x)` or `None`.
fn optional_float(f: Option<&Float>) -> TokenStream {
    match f {
        Some(f) => {
            let f = float(f);
            quote!(::core::option::Option::Some(#f))
        }
        None => quote!(::core::option::Option::None),
    }
}
