//! Parsing of each key's value as written: strings, paths, numbers and their
//! ranges, and the forms of `hypothesis`, `kind`, `expect`, `metric` and
//! `verify`. Each parser reports the span of the offending token.

use proc_macro2::Span;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Expr, ExprCall, ExprPath, Ident, Lit, LitStr, Path, UnOp};

use super::messages::{example, suggest};
use super::{Float, Int, Kind, Metric, VerifyMode, EXPECT_FORMS, METRICS};
use crate::args::Errors;

/// `hypothesis = ...` as written.
pub(super) enum HypothesisArg {
    FnPath(ExprPath),
    Builtin(Vec<LitStr>),
    Boxed(ExprCall),
}

/// `expect = ...` as written.
pub(super) enum ExpectArg {
    SomeUnit,
    Units(Vec<LitStr>),
    AtMost(Int),
    Probe(Option<Vec<LitStr>>),
}

/// Strips invisible groups that `macro_rules!` puts around `$e:expr`.
pub(super) fn ungroup(mut e: Expr) -> Expr {
    while let Expr::Group(g) = e {
        e = *g.expr;
    }
    e
}

/// A string literal.
pub(super) fn string(key: &Ident, value: &Expr) -> syn::Result<LitStr> {
    match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => {
            if s.value().trim().is_empty() {
                Err(syn::Error::new(
                    s.span(),
                    format!("`{key}` cannot be empty: {}", example(key)),
                ))
            } else {
                Ok(s.clone())
            }
        }
        Expr::Path(p) if p.path.get_ident().is_some() => Err(syn::Error::new_spanned(
            value,
            format!(
                "`{key}` takes a string: write `{key} = \"{}\"`",
                quote::quote!(#p)
            ),
        )),
        _ => Err(syn::Error::new_spanned(
            value,
            format!("`{key}` takes a string, e.g. `{}`", example(key)),
        )),
    }
}

/// A path relative to the crate root (or absolute).
pub(super) fn path_string(key: &Ident, value: &Expr) -> syn::Result<LitStr> {
    let s = string(key, value)?;
    if s.value().contains('\0') {
        return Err(syn::Error::new(
            s.span(),
            format!("`{key}` contains a NUL character"),
        ));
    }
    Ok(s)
}

/// `crate = "::path"`.
pub(super) fn crate_path(key: &Ident, value: &Expr) -> syn::Result<Path> {
    let s = string(key, value)?;
    s.parse::<Path>().map_err(|_| {
        syn::Error::new(
            s.span(),
            format!(
                "`crate` takes the path of the Luigi facade crate as a string, e.g. `crate = \"::luigi_test\"`; \"{}\" is not a path",
                s.value()
            ),
        )
    })
}

/// An unsigned integer literal of at least `least`.
pub(super) fn int(key: &Ident, value: &Expr, least: u64) -> syn::Result<Int> {
    let wrong = || {
        syn::Error::new_spanned(
            value,
            format!("`{key}` takes a whole number, e.g. `{}`", example(key)),
        )
    };
    let Expr::Lit(syn::ExprLit {
        lit: Lit::Int(i), ..
    }) = value
    else {
        return Err(wrong());
    };
    let v: u64 = i.base10_parse().map_err(|_| wrong())?;
    if v < least {
        return Err(syn::Error::new(
            i.span(),
            format!("`{key}` must be at least {least}"),
        ));
    }
    Ok(Int {
        value: v,
        span: i.span(),
    })
}

/// `window = N`, N ≥ 1 and a `usize` on any target.
pub(super) fn window(key: &Ident, value: &Expr) -> syn::Result<Int> {
    let w = int(key, value, 1)?;
    if w.value > u64::from(u32::MAX) {
        return Err(syn::Error::new(
            w.span,
            format!(
                "`window = {}` is too long a window (characters per window)",
                w.value
            ),
        ));
    }
    Ok(w)
}

/// A number literal (integer or float, optionally negative).
pub(super) fn float(key: &Ident, value: &Expr) -> syn::Result<Float> {
    let wrong = || {
        syn::Error::new_spanned(
            value,
            format!("`{key}` takes a number, e.g. `{}`", example(key)),
        )
    };
    let (negative, lit) = match value {
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => (true, ungroup((*u.expr).clone())),
        other => (false, other.clone()),
    };
    let (v, span): (f64, Span) = match &lit {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(f), ..
        }) => (f.base10_parse().map_err(|_| wrong())?, f.span()),
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(i), ..
        }) => (i.base10_parse().map_err(|_| wrong())?, i.span()),
        _ => return Err(wrong()),
    };
    if !v.is_finite() {
        return Err(wrong());
    }
    Ok(Float {
        value: if negative { -v } else { v },
        span,
        source: value.to_token_stream(),
    })
}

/// A number in [0, 1] (`closed`) or (0, 1].
pub(super) fn unit_interval(key: &Ident, value: &Expr, closed: bool) -> syn::Result<Float> {
    let f = float(key, value)?;
    let inside = if closed {
        (0.0..=1.0).contains(&f.value)
    } else {
        f.value > 0.0 && f.value <= 1.0
    };
    if !inside {
        let range = if closed { "[0, 1]" } else { "(0, 1]" };
        return Err(syn::Error::new_spanned(
            &f.source,
            format!("{key} = {} is outside {range}", f.value),
        ));
    }
    Ok(f)
}

/// `metric = "pearson"`.
pub(super) fn metric(key: &Ident, value: &Expr) -> syn::Result<Metric> {
    let s = string(key, value).map_err(|_| {
        let hint = match value {
            Expr::Path(p) if p.path.get_ident().is_some() => {
                format!("; write `metric = \"{}\"`", quote::quote!(#p))
            }
            _ => String::new(),
        };
        syn::Error::new_spanned(value, format!("`metric` takes one of {METRICS}{hint}"))
    })?;
    match s.value().as_str() {
        "pearson" => Ok(Metric::Pearson),
        "spearman" => Ok(Metric::Spearman),
        "mi" | "mutual_info" => Ok(Metric::MutualInfo),
        "auc" => Ok(Metric::Auc),
        "eta" => Ok(Metric::Eta),
        other => Err(syn::Error::new(
            s.span(),
            format!(
                "unknown metric \"{other}\"{}; the metrics are {METRICS}",
                suggest(other, &["pearson", "spearman", "mi", "auc", "eta"])
            ),
        )),
    }
}

/// `kind = "numeric" | "binary" | categorical("s0", "s1", ...)`.
pub(super) fn kind(key: &Ident, value: &Expr) -> syn::Result<Kind> {
    let forms = "\"numeric\", \"binary\" or categorical(\"state\", \"state\", ...)";
    match value {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => match s.value().as_str() {
            "numeric" => Ok(Kind::Numeric),
            "binary" => Ok(Kind::Binary),
            "categorical" => Err(syn::Error::new(
                s.span(),
                "a categorical kind names its states: `kind = categorical(\"closed\", \"open\")`",
            )),
            other => Err(syn::Error::new(
                s.span(),
                format!("unknown kind \"{other}\"; `kind` takes {forms}"),
            )),
        },
        Expr::Call(c) if callee_is(c, "categorical") => {
            let states = string_args(&c.args, "a categorical kind's states")?;
            if states.len() < 2 {
                return Err(syn::Error::new_spanned(
                    c,
                    "a categorical hypothesis has at least two states: `kind = categorical(\"closed\", \"open\")`",
                ));
            }
            no_duplicates(&states, "state")?;
            Ok(Kind::Categorical(states))
        }
        Expr::Path(p) if p.path.is_ident("numeric") || p.path.is_ident("binary") => {
            Err(syn::Error::new_spanned(
                value,
                format!(
                    "`{key}` takes a string: write `kind = \"{}\"`",
                    quote::quote!(#p)
                ),
            ))
        }
        _ => Err(syn::Error::new_spanned(
            value,
            format!("`kind` takes {forms}"),
        )),
    }
}

/// `hypothesis = builtin(..) | path | call()`.
pub(super) fn hypothesis(_key: &Ident, value: &Expr) -> syn::Result<HypothesisArg> {
    match value {
        Expr::Call(c) if callee_is(c, "builtin") => {
            if c.args.is_empty() {
                return Err(syn::Error::new_spanned(
                    c,
                    "builtin(..) names the built-in hypothesis: `hypothesis = builtin(\"comment\")`",
                ));
            }
            Ok(HypothesisArg::Builtin(string_args(&c.args, "builtin(..)'s arguments")?))
        }
        Expr::Call(c) if matches!(&*c.func, Expr::Path(_)) => Ok(HypothesisArg::Boxed(c.clone())),
        Expr::Path(p) if p.path.is_ident("builtin") => Err(syn::Error::new_spanned(
            p,
            "builtin(..) names the built-in hypothesis: `hypothesis = builtin(\"comment\")`",
        )),
        Expr::Path(p) => Ok(HypothesisArg::FnPath(p.clone())),
        Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) => Err(syn::Error::new(
            s.span(),
            format!(
                "a built-in hypothesis is written `hypothesis = builtin({})`",
                quote::quote!(#s)
            ),
        )),
        _ => Err(syn::Error::new_spanned(
            value,
            "`hypothesis` takes builtin(\"name\", \"arg\", ...), the path of a `fn(&[char]) -> Vec<f32>`, \
             or a call giving a `Box<dyn Hypothesis>` such as `my_mod::depth()`",
        )),
    }
}

/// `expect = some_unit | units([..]) | at_most(k) | probe | probe([..])`.
pub(super) fn expect(
    _key: &Ident,
    value: &Expr,
) -> syn::Result<(ExpectArg, proc_macro2::TokenStream)> {
    let unknown = |what: &dyn quote::ToTokens, name: &str| {
        let hint = suggest(name, &["some_unit", "units", "at_most", "probe"]);
        syn::Error::new_spanned(
            what,
            format!("unknown expectation `{name}`{hint}; `expect` takes {EXPECT_FORMS}"),
        )
    };
    let arg = match value {
        Expr::Path(p) if p.path.is_ident("some_unit") => ExpectArg::SomeUnit,
        Expr::Path(p) if p.path.is_ident("probe") => ExpectArg::Probe(None),
        Expr::Path(p) if p.path.is_ident("units") => {
            return Err(syn::Error::new_spanned(
                value,
                "`units` lists the units: `expect = units([53, 127])`",
            ))
        }
        Expr::Path(p) if p.path.is_ident("at_most") => {
            return Err(syn::Error::new_spanned(
                value,
                "`at_most` gives the largest number of units: `expect = at_most(3)`",
            ))
        }
        Expr::Call(c) if callee_is(c, "units") => ExpectArg::Units(unit_list(c, "units")?),
        Expr::Call(c) if callee_is(c, "probe") => ExpectArg::Probe(Some(unit_list(c, "probe")?)),
        Expr::Call(c) if callee_is(c, "some_unit") => return Err(syn::Error::new_spanned(
            c,
            "`some_unit` takes no arguments; to name the units write `expect = units([53, 127])`",
        )),
        Expr::Call(c) if callee_is(c, "at_most") => {
            let [k] = c.args.iter().collect::<Vec<_>>()[..] else {
                return Err(syn::Error::new_spanned(
                    c,
                    "`at_most` takes one whole number: `expect = at_most(3)`",
                ));
            };
            let k = ungroup(k.clone());
            match int(&Ident::new("at_most", c.span()), &k, 1) {
                Ok(k) => ExpectArg::AtMost(k),
                Err(_) => return Err(syn::Error::new_spanned(
                    &k,
                    "`at_most` takes a whole number of units, at least 1: `expect = at_most(3)`",
                )),
            }
        }
        Expr::Path(p) => {
            let name = quote::quote!(#p).to_string().replace(' ', "");
            return Err(unknown(p, &name));
        }
        Expr::Call(c) => {
            let f = &c.func;
            let name = quote::quote!(#f).to_string().replace(' ', "");
            return Err(unknown(f, &name));
        }
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => {
            return Err(syn::Error::new(
                s.span(),
                format!(
                    "`expect` takes a form, not a string: write `expect = {}` ({EXPECT_FORMS})",
                    s.value()
                ),
            ))
        }
        _ => {
            return Err(syn::Error::new_spanned(
                value,
                format!("`expect` takes {EXPECT_FORMS}"),
            ))
        }
    };
    Ok((arg, value.to_token_stream()))
}

/// The name of an expectation form, for messages.
pub(super) fn expect_name(e: &ExpectArg) -> &'static str {
    match e {
        ExpectArg::SomeUnit => "some_unit",
        ExpectArg::Units(_) => "units(..)",
        ExpectArg::AtMost(_) => "at_most(..)",
        ExpectArg::Probe(_) => "probe",
    }
}

/// `verify = perturb | intervene | both`.
pub(super) fn verify_mode(_key: &Ident, value: &Expr) -> syn::Result<VerifyMode> {
    match value {
        Expr::Path(p) if p.path.is_ident("perturb") => Ok(VerifyMode::Perturb),
        Expr::Path(p) if p.path.is_ident("intervene") => Ok(VerifyMode::Intervene),
        Expr::Path(p) if p.path.is_ident("both") => Ok(VerifyMode::Both),
        other => Err(syn::Error::new_spanned(
            other,
            "`verify` takes `perturb` (the unit follows edits that change only the \
             hypothesis), `intervene` (holding the unit makes the model write the hypothesis) \
             or `both`",
        )),
    }
}

/// `units([53, "u7", ...])`: one bracketed list of unit indices or names.
fn unit_list(c: &ExprCall, form: &str) -> syn::Result<Vec<LitStr>> {
    let shape = format!("`{form}` takes one list of units in brackets: `{form}([53, 127])`");
    let [arg] = c.args.iter().collect::<Vec<_>>()[..] else {
        return Err(syn::Error::new_spanned(c, shape));
    };
    let Expr::Array(list) = ungroup(arg.clone()) else {
        return Err(syn::Error::new_spanned(arg, shape));
    };
    if list.elems.is_empty() {
        return Err(syn::Error::new_spanned(
            &list,
            format!("`{form}([])` names no unit: list at least one, e.g. `{form}([53])`"),
        ));
    }
    let mut units = Vec::new();
    let mut errors = Errors::default();
    for e in &list.elems {
        match ungroup(e.clone()) {
            Expr::Lit(syn::ExprLit { lit: Lit::Int(i), .. }) => match i.base10_parse::<u64>() {
                Ok(v) => units.push(LitStr::new(&v.to_string(), i.span())),
                Err(err) => errors.push(err),
            },
            Expr::Lit(syn::ExprLit { lit: Lit::Str(s), .. }) if !s.value().trim().is_empty() => {
                units.push(s)
            }
            _ => errors.spanned(
                e,
                "a unit is its index on the layer (`53`) or its name as the model card gives it (`\"53\"`)",
            ),
        }
    }
    if let Some(e) = errors.into_error() {
        return Err(e);
    }
    no_duplicates(&units, "unit")?;
    Ok(units)
}

/// Every argument a non-empty string literal.
fn string_args(
    args: &syn::punctuated::Punctuated<Expr, syn::Token![,]>,
    what: &str,
) -> syn::Result<Vec<LitStr>> {
    let mut out = Vec::new();
    let mut errors = Errors::default();
    for a in args {
        match ungroup(a.clone()) {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) if !s.value().is_empty() => out.push(s),
            _ => errors.spanned(a, format!("{what} are non-empty strings")),
        }
    }
    match errors.into_error() {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// No value listed twice.
fn no_duplicates(items: &[LitStr], what: &str) -> syn::Result<()> {
    for (i, s) in items.iter().enumerate() {
        if items[..i].iter().any(|t| t.value() == s.value()) {
            return Err(syn::Error::new(
                s.span(),
                format!("{what} \"{}\" is listed twice", s.value()),
            ));
        }
    }
    Ok(())
}

/// Whether `c` calls the single identifier `name`.
fn callee_is(c: &ExprCall, name: &str) -> bool {
    matches!(&*c.func, Expr::Path(p) if p.qself.is_none() && p.path.is_ident(name))
}
