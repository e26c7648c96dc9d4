//! Class labels per row, from a binary or categorical hypothesis.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hypothesis::HypothesisKind;

/// One class index per row, with the class names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Labels {
    values: Vec<usize>,
    names: Vec<String>,
}

impl Labels {
    /// Labels from a hypothesis's values: `Binary` gives classes `0`/`1`,
    /// `Categorical` the state indices. `name` is the hypothesis name, used
    /// in error messages.
    ///
    /// A `Numeric` hypothesis is refused: a probe predicts classes, so bin
    /// it into a categorical hypothesis first.
    pub fn from_hypothesis(name: &str, values: &[f32], kind: &HypothesisKind) -> Result<Self> {
        let names: Vec<String> = match kind {
            HypothesisKind::Numeric => {
                return Err(Error::Hypothesis {
                    name: name.to_string(),
                    message: "is numeric; a probe predicts classes. Bin its values into a \
                              Categorical hypothesis (or threshold it into a Binary one) first"
                        .to_string(),
                })
            }
            HypothesisKind::Binary => vec!["0".to_string(), "1".to_string()],
            HypothesisKind::Categorical { states } => states.clone(),
        };
        let mut out = Vec::with_capacity(values.len());
        for (row, &v) in values.iter().enumerate() {
            let ok = v.is_finite() && v >= 0.0 && v.fract() == 0.0 && (v as usize) < names.len();
            if !ok {
                return Err(Error::Hypothesis {
                    name: name.to_string(),
                    message: format!(
                        "value {v} at row {row} is not a class index below {} ({kind:?})",
                        names.len()
                    ),
                });
            }
            out.push(v as usize);
        }
        Ok(Labels { values: out, names })
    }

    /// Labels from class indices, with one name per class.
    pub fn from_classes(values: Vec<usize>, names: Vec<String>) -> Result<Self> {
        if let Some((row, v)) = values.iter().enumerate().find(|(_, v)| **v >= names.len()) {
            return Err(Error::invalid(
                "probe labels",
                format!(
                    "class {v} at row {row} but only {} class names were given",
                    names.len()
                ),
            ));
        }
        Ok(Labels { values, names })
    }

    /// The class index of every row.
    pub fn values(&self) -> &[usize] {
        &self.values
    }

    /// Class names, index = class.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of classes (named, whether or not they occur).
    pub fn n_classes(&self) -> usize {
        self.names.len()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// How many rows each class has.
    pub fn counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.names.len()];
        for &v in &self.values {
            c[v] += 1;
        }
        c
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn binary_and_categorical_values_become_classes() {
        let l = Labels::from_hypothesis("h", &[0.0, 1.0, 1.0], &HypothesisKind::Binary).unwrap();
        assert_eq!(l.values(), &[0, 1, 1]);
        assert_eq!(l.counts(), vec![1, 2]);
        let kind = HypothesisKind::Categorical {
            states: vec!["a".into(), "b".into(), "c".into()],
        };
        let l = Labels::from_hypothesis("fsm", &[2.0, 0.0], &kind).unwrap();
        assert_eq!(l.values(), &[2, 0]);
        assert_eq!(l.n_classes(), 3);
    }

    #[test]
    fn bad_values_name_the_hypothesis_and_row() {
        let e = Labels::from_hypothesis("depth", &[0.0], &HypothesisKind::Numeric)
            .unwrap_err()
            .to_string();
        assert!(e.contains("depth") && e.contains("Bin"), "{e}");
        let e = Labels::from_hypothesis("x", &[0.0, 0.5], &HypothesisKind::Binary)
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 1"), "{e}");
        assert!(Labels::from_classes(vec![0, 3], vec!["a".into(), "b".into()]).is_err());
    }
}
