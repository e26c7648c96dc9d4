//! A stand-in for `luigi_test`'s `_macro_support` module with the exact
//! signatures the generated code calls. It records every call; `assert`
//! checks what the real runtime would check first (the hypothesis gives one
//! value per character) and keeps the record in a thread-local for the test
//! that called it.
//!
//! Included with `#[path]` by the integration tests and the trybuild pass
//! cases, which expand `#[neural_assert(crate = "crate::luigi_test", ...)]`.
#![allow(dead_code)]

pub mod _macro_support {
    use std::cell::RefCell;

    /// What a hypothesis function's values are.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Kind {
        Numeric,
        Binary,
        Categorical(&'static [&'static str]),
    }

    /// A statistic of a pairing.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub enum Metric {
        Pearson,
        Spearman,
        MutualInfo,
        Auc,
        Eta,
    }

    /// What the test demands.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Expectation {
        SomeUnit {
            metric: Metric,
            min: f64,
            max_q: Option<f64>,
            min_within_token: Option<f64>,
        },
        Units {
            units: &'static [&'static str],
            metric: Metric,
            min: f64,
            max_q: Option<f64>,
            min_within_token: Option<f64>,
        },
        AtMost {
            k: usize,
            metric: Metric,
            min: f64,
            max_q: Option<f64>,
        },
        Probe {
            units: Option<&'static [&'static str]>,
            min_accuracy: Option<f64>,
            min_selectivity: Option<f64>,
        },
    }

    /// The hypothesis trait, reduced to what the mock needs.
    pub trait Hypothesis {
        fn name(&self) -> &str;
        fn evaluate(&self, seq: &[char]) -> Vec<f32>;
    }

    /// Where the hypothesis came from, with its values on [`SAMPLE`].
    #[derive(Debug, Clone, PartialEq)]
    pub enum Source {
        Fn {
            name: String,
            kind: Kind,
            values: Vec<f32>,
        },
        Builtin(Vec<String>),
        Boxed {
            name: String,
            values: Vec<f32>,
        },
    }

    /// The sequence every hypothesis is evaluated on.
    pub const SAMPLE: &str = "f(a(b))c";

    /// Everything the generated code passed.
    #[derive(Debug, Clone, Default, PartialEq)]
    pub struct Assertion {
        pub model: String,
        pub file: String,
        pub line: u32,
        pub module: String,
        pub test: String,
        pub layer: Option<String>,
        pub corpus: Option<(String, Option<usize>)>,
        pub hypothesis: Option<Source>,
        pub expect: Option<Expectation>,
        pub seed: Option<u64>,
        pub asserted: bool,
    }

    thread_local! {
        static LAST: RefCell<Option<Assertion>> = const { RefCell::new(None) };
    }

    /// The assertion the last `assert()` on this thread ran, taken.
    pub fn take_last() -> Option<Assertion> {
        LAST.with(|l| l.borrow_mut().take())
    }

    fn sample() -> Vec<char> {
        SAMPLE.chars().collect()
    }

    impl Assertion {
        pub fn new(model_card: &str) -> Self {
            Assertion {
                model: model_card.to_string(),
                ..Assertion::default()
            }
        }
        pub fn at(mut self, file: &str, line: u32, module: &str, test: &str) -> Self {
            self.file = file.to_string();
            self.line = line;
            self.module = module.to_string();
            self.test = test.to_string();
            self
        }
        pub fn layer(mut self, layer: &str) -> Self {
            self.layer = Some(layer.to_string());
            self
        }
        pub fn corpus(mut self, path: &str, window: Option<usize>) -> Self {
            self.corpus = Some((path.to_string(), window));
            self
        }
        pub fn hypothesis_fn(mut self, name: &str, kind: Kind, f: fn(&[char]) -> Vec<f32>) -> Self {
            self.hypothesis = Some(Source::Fn {
                name: name.to_string(),
                kind,
                values: f(&sample()),
            });
            self
        }
        pub fn hypothesis_builtin(mut self, args: &[&str]) -> Self {
            self.hypothesis = Some(Source::Builtin(
                args.iter().map(|s| s.to_string()).collect(),
            ));
            self
        }
        pub fn hypothesis_boxed(mut self, h: Box<dyn Hypothesis>) -> Self {
            self.hypothesis = Some(Source::Boxed {
                name: h.name().to_string(),
                values: h.evaluate(&sample()),
            });
            self
        }
        pub fn expect(mut self, e: Expectation) -> Self {
            self.expect = Some(e);
            self
        }
        pub fn seed(mut self, seed: u64) -> Self {
            self.seed = Some(seed);
            self
        }
        /// Checks what needs no model, records, and panics like the runtime
        /// does on a setup error for the layer named `missing`.
        pub fn assert(mut self) {
            let n = SAMPLE.chars().count();
            match &self.hypothesis {
                Some(Source::Fn { name, values, .. }) | Some(Source::Boxed { name, values }) => {
                    assert_eq!(
                        values.len(),
                        n,
                        "hypothesis {name} gave {} values for {n} characters",
                        values.len()
                    );
                }
                Some(Source::Builtin(_)) => {}
                None => panic!("setup error: no hypothesis"),
            }
            assert!(self.expect.is_some(), "setup error: no expectation");
            if self.layer.as_deref() == Some("missing") {
                panic!("setup error: the model has no layer `missing`");
            }
            self.asserted = true;
            LAST.with(|l| *l.borrow_mut() = Some(self));
        }
    }
}
