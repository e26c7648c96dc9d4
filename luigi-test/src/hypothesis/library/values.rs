//! Hypotheses over the values of a numeric corpus (feature vectors, see
//! [`crate::corpus::values`]): a feature, a feature above a threshold, a
//! running or moving mean, a running maximum, a crossing of a threshold
//! (a change point), an automaton or any hypothesis over characters read on
//! a discretised feature ([`OnValues`]), and closures ([`from_values_fn`]).
//! All follow the state rule: the value at `t` depends on steps `..=t`.
//!
//! On a text corpus they are an error naming them (see
//! [`crate::hypothesis::evaluate_steps`]).

use super::bit;
use crate::corpus::values::Values;
use crate::error::{Error, Result};
use crate::hypothesis::{Hypothesis, HypothesisKind};

/// A number as written in names: `0.5`, `-1`, `1e-3`.
fn num(x: f32) -> String {
    format!("{x}")
}

macro_rules! value_hypothesis {
    ($t:ty, $kind:expr) => {
        impl Hypothesis for $t {
            fn name(&self) -> &str {
                &self.name
            }
            fn kind(&self) -> HypothesisKind {
                $kind
            }
            fn evaluate(&self, _seq: &[char], out: &mut Vec<f32>) {
                // a hypothesis over values reads no characters
                out.clear();
            }
            fn reads_values(&self) -> Option<usize> {
                Some(self.feature)
            }
            fn evaluate_values(&self, values: &Values, out: &mut Vec<f32>) -> bool {
                out.clear();
                out.extend(self.compute(&values.column(self.feature)));
                true
            }
        }
    };
}

/// `feature(f)`: the value of feature `f` (numeric).
#[derive(Debug, Clone)]
pub struct Feature {
    feature: usize,
    name: String,
}

impl Feature {
    /// Feature `f` (0-based).
    pub fn new(feature: usize) -> Feature {
        Feature {
            feature,
            name: format!("feature({feature})"),
        }
    }
    fn compute(&self, x: &[f32]) -> Vec<f32> {
        x.to_vec()
    }
}
value_hypothesis!(Feature, HypothesisKind::Numeric);

/// `above(f,th)`: 1 where feature `f` is above `threshold` (binary).
#[derive(Debug, Clone)]
pub struct Above {
    feature: usize,
    threshold: f32,
    name: String,
}

impl Above {
    /// Feature `f` above a finite `threshold`.
    pub fn new(feature: usize, threshold: f32) -> Result<Above> {
        let name = format!("above({feature},{})", num(threshold));
        if !threshold.is_finite() {
            return Err(Error::Hypothesis {
                name,
                message: "the threshold is not finite: give a number".to_string(),
            });
        }
        Ok(Above {
            feature,
            threshold,
            name,
        })
    }
    fn compute(&self, x: &[f32]) -> Vec<f32> {
        x.iter().map(|&v| bit(v > self.threshold)).collect()
    }
}
value_hypothesis!(Above, HypothesisKind::Binary);

/// `crossing(f,th)`: 1 at a step where feature `f` is on the other side of
/// `threshold` than at the step before: a change point (binary; 0 at the
/// first step).
#[derive(Debug, Clone)]
pub struct Crossing {
    feature: usize,
    threshold: f32,
    name: String,
}

impl Crossing {
    /// Crossings of a finite `threshold` by feature `f`.
    pub fn new(feature: usize, threshold: f32) -> Result<Crossing> {
        let name = format!("crossing({feature},{})", num(threshold));
        if !threshold.is_finite() {
            return Err(Error::Hypothesis {
                name,
                message: "the threshold is not finite: give a number".to_string(),
            });
        }
        Ok(Crossing {
            feature,
            threshold,
            name,
        })
    }
    fn compute(&self, x: &[f32]) -> Vec<f32> {
        let side = |v: f32| v > self.threshold;
        (0..x.len())
            .map(|t| bit(t > 0 && side(x[t]) != side(x[t - 1])))
            .collect()
    }
}
value_hypothesis!(Crossing, HypothesisKind::Binary);

/// `running_mean(f)`: the mean of feature `f` over steps `0..=t` (numeric).
#[derive(Debug, Clone)]
pub struct RunningMean {
    feature: usize,
    name: String,
}

impl RunningMean {
    /// The running mean of feature `f`.
    pub fn new(feature: usize) -> RunningMean {
        RunningMean {
            feature,
            name: format!("running_mean({feature})"),
        }
    }
    fn compute(&self, x: &[f32]) -> Vec<f32> {
        let mut sum = 0f64;
        x.iter()
            .enumerate()
            .map(|(t, &v)| {
                sum += f64::from(v);
                (sum / (t + 1) as f64) as f32
            })
            .collect()
    }
}
value_hypothesis!(RunningMean, HypothesisKind::Numeric);

/// `running_max(f)`: the largest value of feature `f` over steps `0..=t`
/// (numeric).
#[derive(Debug, Clone)]
pub struct RunningMax {
    feature: usize,
    name: String,
}

impl RunningMax {
    /// The running maximum of feature `f`.
    pub fn new(feature: usize) -> RunningMax {
        RunningMax {
            feature,
            name: format!("running_max({feature})"),
        }
    }
    fn compute(&self, x: &[f32]) -> Vec<f32> {
        let mut m = f32::NEG_INFINITY;
        x.iter()
            .map(|&v| {
                m = m.max(v);
                m
            })
            .collect()
    }
}
value_hypothesis!(RunningMax, HypothesisKind::Numeric);

/// `moving_mean(f,w)`: the mean of feature `f` over the last `w` steps
/// (fewer at the start; numeric).
#[derive(Debug, Clone)]
pub struct MovingMean {
    feature: usize,
    window: usize,
    name: String,
}

impl MovingMean {
    /// The mean of feature `f` over windows of `window` ≥ 1 steps.
    pub fn new(feature: usize, window: usize) -> Result<MovingMean> {
        let name = format!("moving_mean({feature},{window})");
        if window == 0 {
            return Err(Error::Hypothesis {
                name,
                message: "window 0 averages nothing: give at least 1 step".to_string(),
            });
        }
        Ok(MovingMean {
            feature,
            window,
            name,
        })
    }
    fn compute(&self, x: &[f32]) -> Vec<f32> {
        let mut sum = 0f64;
        (0..x.len())
            .map(|t| {
                sum += f64::from(x[t]);
                if t >= self.window {
                    sum -= f64::from(x[t - self.window]);
                }
                (sum / (t + 1).min(self.window) as f64) as f32
            })
            .collect()
    }
}
value_hypothesis!(MovingMean, HypothesisKind::Numeric);

/// A hypothesis over characters (an automaton, a counter, a regex) read on
/// feature `f` discretised by `cuts`: a value below the first cut reads as
/// the character `0`, between the first and the second as `1`, and so on.
/// Named `NAME@feature(f)`. An automaton over a sensor's levels is the
/// example: `fsm: {…, over: {feature: 0, cuts: [0.5]}}` in a list.
#[derive(Debug)]
pub struct OnValues {
    inner: Box<dyn Hypothesis>,
    feature: usize,
    cuts: Vec<f32>,
    name: String,
}

impl OnValues {
    /// `inner` read on feature `feature` cut at increasing, finite `cuts`
    /// (at most 9, so the symbols are the digits `0`..=`9`).
    pub fn new(inner: Box<dyn Hypothesis>, feature: usize, cuts: Vec<f32>) -> Result<OnValues> {
        let name = format!("{}@feature({feature})", inner.name());
        let sorted = cuts.windows(2).all(|w| w[0] < w[1]);
        if cuts.is_empty() || cuts.len() > 9 || !sorted || cuts.iter().any(|c| !c.is_finite()) {
            return Err(Error::Hypothesis {
                name,
                message: format!(
                    "cuts {cuts:?}: give 1 to 9 finite, increasing cut points (values below the first read as `0`, and so on)"
                ),
            });
        }
        Ok(OnValues {
            inner,
            feature,
            cuts,
            name,
        })
    }
    /// The symbol (`0`..`9`) of each value.
    fn symbols(&self, x: &[f32]) -> Vec<char> {
        x.iter()
            .map(|&v| {
                let level = self.cuts.iter().filter(|&&c| v >= c).count();
                char::from_digit(level as u32, 10).unwrap_or('9')
            })
            .collect()
    }
}

impl Hypothesis for OnValues {
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> HypothesisKind {
        self.inner.kind()
    }
    fn evaluate(&self, _seq: &[char], out: &mut Vec<f32>) {
        out.clear();
    }
    fn reads_values(&self) -> Option<usize> {
        Some(self.feature)
    }
    fn evaluate_values(&self, values: &Values, out: &mut Vec<f32>) -> bool {
        let symbols = self.symbols(&values.column(self.feature));
        self.inner.evaluate(&symbols, out);
        true
    }
}

/// A hypothesis over values made from a closure (see [`from_values_fn`]).
pub struct ValuesFn<F> {
    name: String,
    kind: HypothesisKind,
    f: F,
}

impl<F> Hypothesis for ValuesFn<F>
where
    F: Fn(&Values) -> Vec<f32> + Send + Sync,
{
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> HypothesisKind {
        self.kind.clone()
    }
    fn evaluate(&self, _seq: &[char], out: &mut Vec<f32>) {
        out.clear();
    }
    fn reads_values(&self) -> Option<usize> {
        Some(0)
    }
    fn evaluate_values(&self, values: &Values, out: &mut Vec<f32>) -> bool {
        out.clear();
        out.extend((self.f)(values));
        true
    }
}

/// A hypothesis over the feature vectors of a numeric sequence, from a
/// closure giving one value per timestep.
///
/// ```
/// use luigi_test::corpus::values::Values;
/// use luigi_test::hypothesis::library::from_values_fn;
/// use luigi_test::hypothesis::{Hypothesis, HypothesisKind};
/// // the sum of the two features
/// let total = from_values_fn("total", HypothesisKind::Numeric, |v: &Values| {
///     v.data().chunks(2).map(|r| r[0] + r[1]).collect()
/// });
/// let mut out = Vec::new();
/// total.evaluate_values(&Values::new(2, vec![1.0, 2.0, 3.0, 4.0]).unwrap(), &mut out);
/// assert_eq!(out, vec![3.0, 7.0]);
/// ```
pub fn from_values_fn<F>(name: impl Into<String>, kind: HypothesisKind, f: F) -> ValuesFn<F>
where
    F: Fn(&Values) -> Vec<f32> + Send + Sync,
{
    ValuesFn {
        name: name.into(),
        kind,
        f,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::corpus::Sequence;
    use crate::hypothesis::evaluate_steps;
    use std::sync::Arc;

    #[test]
    fn value_hypotheses_give_their_closed_forms() {
        // feature 0: 1, 3, -2, 4; feature 1: 0, 0, 1, 1
        let v = Values::new(2, vec![1.0, 0.0, 3.0, 0.0, -2.0, 1.0, 4.0, 1.0]).unwrap();
        let s = Sequence::with_values(Arc::new(v));
        let run = |h: &dyn Hypothesis| evaluate_steps(h, &s).unwrap();
        assert_eq!(run(&Feature::new(0)), vec![1.0, 3.0, -2.0, 4.0]);
        assert_eq!(run(&Above::new(0, 2.0).unwrap()), vec![0.0, 1.0, 0.0, 1.0]);
        assert_eq!(
            run(&Crossing::new(0, 2.0).unwrap()),
            vec![0.0, 1.0, 1.0, 1.0]
        );
        assert_eq!(run(&RunningMean::new(0)), vec![1.0, 2.0, 2.0 / 3.0, 1.5]);
        assert_eq!(run(&RunningMax::new(0)), vec![1.0, 3.0, 3.0, 4.0]);
        assert_eq!(
            run(&MovingMean::new(0, 2).unwrap()),
            vec![1.0, 2.0, 0.5, 1.0]
        );
        // parity of the steps where feature 1 is high, as an automaton on `0`/`1`
        let parity = crate::hypothesis::from_fn("parity", HypothesisKind::Numeric, |c| {
            let mut p = 0.0;
            c.iter()
                .map(|&x| {
                    if x == '1' {
                        p = 1.0 - p;
                    }
                    p
                })
                .collect()
        });
        let on = OnValues::new(Box::new(parity), 1, vec![0.5]).unwrap();
        assert_eq!(on.name(), "parity@feature(1)");
        assert_eq!(run(&on), vec![0.0, 0.0, 1.0, 0.0]);
        assert!(MovingMean::new(0, 0).is_err());
        assert!(Above::new(0, f32::NAN).is_err());
        let bad = Box::new(Feature::new(0));
        assert!(OnValues::new(bad, 0, vec![1.0, 0.5]).is_err());
        // a feature the sequence does not have is an error naming it
        let e = evaluate_steps(&Feature::new(5), &s)
            .unwrap_err()
            .to_string();
        assert!(e.contains("feature 5") && e.contains("2 features"), "{e}");
        // and a hypothesis over characters on values, or the other way round
        let e = evaluate_steps(&super::super::CharIs::new('a'), &s)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("characters") && e.contains("feature vectors"),
            "{e}"
        );
        let text = Sequence::new("ab");
        let e = evaluate_steps(&Feature::new(0), &text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("numeric corpus"), "{e}");
    }
}
