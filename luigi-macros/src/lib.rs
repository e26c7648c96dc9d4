//! `#[neural_assert(...)]`: state, as an ordinary `cargo test`, what a
//! trained sequence model has learned inside.
//!
//! This crate only parses, validates and emits; everything that touches a
//! model lives in `luigi-test`, which re-exports the attribute. Use it from
//! there: `use luigi_test::neural_assert;`.

mod args;
mod emit;
mod expand;
mod spec;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// Turns a function into a test that asserts what a layer of a model
/// encodes.
///
/// The generated function is a `#[test]` that loads the model, records the
/// layer over the corpus, scores the hypothesis against the layer's units
/// and checks the expectation. On failure it prints a report (what was
/// asserted and where, model and layer, observed value against the
/// threshold, the best competing units, how to reproduce) and panics with
/// one short line; a setup problem (missing model, unknown layer, unknown
/// built-in hypothesis) panics saying it is a setup error.
///
/// # The hypothesis
///
/// Without a `hypothesis` key, **the function is the hypothesis**: it takes
/// the sequence and gives one value per character. The value at `t`
/// describes the sequence after reading the character at `t`.
///
/// ```ignore
/// use luigi_test::neural_assert;
///
/// #[neural_assert(
///     model = "examples/cmodel/cmodel.luigi.yaml", layer = "lstm",
///     corpus = "examples/cmodel/eval.c", window = 256,
///     kind = "binary",
///     expect = some_unit, metric = "auc", min = 0.9, max_q = 0.01,
/// )]
/// fn inside_parentheses(seq: &[char]) -> Vec<f32> {
///     let mut depth = 0i32;
///     seq.iter()
///         .map(|c| {
///             match c { '(' => depth += 1, ')' => depth -= 1, _ => {} }
///             f32::from(u8::from(depth > 0))
///         })
///         .collect()
/// }
/// ```
///
/// The function is moved, unchanged, inside the generated test of the same
/// name (so `cargo test inside_parentheses` runs it); it cannot be called
/// from elsewhere. To share a hypothesis between tests, or to unit-test it,
/// write it as a plain function and pass its path.
///
/// With a `hypothesis` key, **the function is the test**: it takes no
/// arguments, and its body (usually empty) runs after the assertion has
/// passed, so it can hold further ordinary checks. It may return a
/// `Result`, as any test may.
///
/// | `hypothesis = ...` | meaning |
/// |---|---|
/// | *(absent)* | the annotated function, a `fn(&[char]) -> Vec<f32>` |
/// | `my_mod::depth` | the path of a `fn(&[char]) -> Vec<f32>`; `kind` applies |
/// | `my_mod::depth()` | a call (any arguments) giving a `Box<dyn Hypothesis>`, which carries its own name and kind |
/// | `builtin("comment")`, `builtin("fsm", "examples/boolean/automata.yaml#value")` | a hypothesis of Luigi's library; the strings are passed through, and the runtime checks the name (and lists the valid ones) |
///
/// A single identifier `builtin` is reserved for the last form; call a
/// function of yours named `builtin` through a path (`self::builtin()`).
///
/// ```ignore
/// #[neural_assert(model = "examples/cmodel/cmodel.luigi.yaml", layer = "lstm",
///                 corpus = "examples/cmodel/eval.c", window = 256,
///                 hypothesis = builtin("comment"),
///                 expect = at_most(3), metric = "auc", min = 0.9)]
/// fn comment_units() {}
///
/// #[neural_assert(model = "examples/cmodel/cmodel.luigi.yaml", layer = "lstm",
///                 corpus = "examples/cmodel/eval.c",
///                 hypothesis = hypotheses::depth, expect = units([53, 127]),
///                 metric = "pearson", min = 0.7)]
/// fn known_depth_units() {}
///
/// #[neural_assert(model = "examples/boolean/boolean.luigi.yaml", layer = "lstm",
///                 corpus = "examples/boolean/heldout.txt",
///                 hypothesis = builtin("fsm", "examples/boolean/automata.yaml#value"),
///                 expect = probe, min_accuracy = 0.99, seed = 7)]
/// fn fsm_readable() {}
/// ```
///
/// # Keys
///
/// | key | value | |
/// |---|---|---|
/// | `model` | string | **required**: the model card, relative to the crate root (`CARGO_MANIFEST_DIR`) unless absolute |
/// | `layer` | string | **required**: the layer, by tensor name or by the card's alias |
/// | `corpus` | string | **required**: the input text, relative to the crate root unless absolute |
/// | `window` | integer ≥ 1 | cut the corpus into windows of this many characters; default: the runtime's |
/// | `hypothesis` | see above | default: the annotated function |
/// | `kind` | `"numeric"` (default), `"binary"`, `categorical("closed", "open", ...)` | what the function's values are; only for a hypothesis given as a function |
/// | `expect` | see below | **required**: what the layer must show |
/// | `metric` | `"pearson"`, `"spearman"`, `"mi"` (alias `"mutual_info"`), `"auc"`, `"eta"` | the score; required unless `expect = probe` |
/// | `min` | number in the metric's range | the least score; required unless `expect = probe` |
/// | `max_q` | number in (0, 1] | the largest q-value (p-value corrected over all pairings) |
/// | `min_within_token` | number in [0, 1] | `some_unit` and `units`: the least score *within tokens* (unit and hypothesis centred on their mean for the current input token), so that a unit passing only on what the current token says fails |
/// | `min_accuracy` | number in [0, 1] | the probe's least held-out accuracy; only with `expect = probe` |
/// | `min_selectivity` | number in [0, 1] | the probe's least selectivity (its accuracy over a control task's); only with `expect = probe` |
/// | `seed` | integer | seed of every random draw (splits, permutations); default: the runtime's |
/// | `verify` | `perturb`, `intervene` or `both` | after the threshold, the unit(s) that met it must follow proptest-drawn edits that change only the hypothesis (`perturb`), and/or holding them on rather than off while the model writes must make it write the hypothesis (`intervene`; `luigi_test::verify`); `some_unit` and `units` only |
/// | `response` | `"class(digit)"` | `intervene` only: the hypothesis measured on what the model writes, named as `luigi inspect` prints it (default: the asserted one) |
/// | `samples` | `32` | `intervene` only: continuations per condition |
/// | `steps` | `48` | `intervene` only: characters per continuation |
/// | `crate` | string | path of the facade crate, default `"::luigi_test"`; for a renamed dependency or the facade's own tests |
///
/// Metric ranges: `pearson`, `spearman` in [-1, 1]; `mi` (mutual information
/// normalised to [0, 1], 1 meaning the unit determines the hypothesis),
/// `auc`, `eta` (correlation ratio) in [0, 1]. When the hypothesis is a
/// function, the macro also checks that the metric fits its kind: `auc`
/// needs `"binary"`, `eta` needs `categorical(..)`, `pearson` and
/// `spearman` do not take `categorical(..)`; for other hypotheses the
/// runtime checks it.
///
/// # Expectations
///
/// | `expect = ...` | passes when |
/// |---|---|
/// | `some_unit` | some single unit of the layer meets the threshold (`metric` ≥ `min`, and q ≤ `max_q` if given). Unit indices move when a model is retrained; this form does not care which unit it is. |
/// | `units([53, 127])` | each listed unit meets the threshold. Pins units: for a model that is not retrained. |
/// | `at_most(k)` | some set of at most `k` units, read together, meets the threshold: the runtime picks units greedily for a least-squares read-out fitted on training sequences (`luigi_test::expect` docs) and scores the read-out on held-out sequences with `metric`. Says the hypothesis is carried by a few units without naming them; `at_most(1)` is `some_unit`. |
/// | `probe`, `probe([53, 127])` | a probe on all the layer's units (or on the listed ones) reads the hypothesis with at least `min_accuracy` on held-out timesteps and at least `min_selectivity` over a control task. |
///
/// A unit is its index on the layer (`53`) or its name as the model card
/// gives it (`"53"`). One test makes one expectation; write another
/// function for another.
///
/// # Errors
///
/// Mistakes are compile errors pointing at the offending token, all of them
/// at once; the function is still emitted beside them so that IDEs keep
/// working:
///
/// ```text
/// error: unknown key `modle` (did you mean `model`?); valid keys: model, layer, corpus, window, hypothesis, kind, expect, metric, min, max_q, min_within_token, min_accuracy, min_selectivity, seed, verify, response, samples, steps, crate
///  --> tests/parens.rs:3:17
///   |
/// 3 | #[neural_assert(modle = "m.luigi.yaml", layer = "lstm", corpus = "eval.c",
///   |                 ^^^^^
/// ```
///
/// Checked at compile time: unknown and duplicate keys, values of the wrong
/// shape, missing required keys, thresholds outside their range, keys that
/// contradict each other (`min_accuracy` without `expect = probe`, `kind`
/// with a built-in hypothesis, a metric that does not fit the kind), and
/// the function's shape (one argument and a return value when it is the
/// hypothesis, none when it is the test; not `async`, not generic, no
/// `#[test]` of its own). Checked by the runtime, as setup errors: whether
/// the files exist, the layer and units exist, and the built-in name is
/// known.
///
/// # Generated code
///
/// The test calls only `<crate>::_macro_support` (the `Assertion` builder,
/// `Kind`, `Expectation`, `Metric`), and captures `file!()`, `line!()`,
/// `module_path!()` and `env!("CARGO_MANIFEST_DIR")` of the calling crate.
/// `#[ignore]`, `#[should_panic]`, `#[cfg(..)]` and a `#[cfg_attr(..)]`
/// giving `ignore` or `should_panic`, on a function that is the hypothesis,
/// go to the generated test; its other attributes (docs, lints) stay on the
/// function. To see the code for a given attribute, read the expansion
/// snapshots in this crate's `src/tests/snapshots/`.
#[proc_macro_attribute]
pub fn neural_assert(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::neural_assert(attr.into(), item.into()).into()
}
