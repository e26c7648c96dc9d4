//! Multi-unit pairing: logistic-regression probes that read a hypothesis off
//! a layer (or a unit set), evaluated on held-out *sequences*, next to the
//! baselines and controls that say whether the accuracy means anything; the
//! smallest sufficient unit set and how stable it is; and a 2-D projection of
//! the rows for plotting (the paper's Figure 3b). [`LayerData`] does all of
//! it for a model's layer and named hypotheses (what `luigi inspect --probe`
//! and `--pca` run).
//!
//! ```
//! use luigi_test::probe::{self, Labels, ProbeConfig};
//! use luigi_test::RowIndex;
//! use ndarray::Array2;
//!
//! // 20 sequences of 10 steps; unit 1 carries the label.
//! let n = 200;
//! let rows = RowIndex {
//!     sequence: (0..n as u32).map(|i| i / 10).collect(),
//!     position: (0..n as u32).map(|i| i % 10).collect(),
//!     token: (0..n as i64).map(|i| i % 7).collect(),
//! };
//! let y: Vec<usize> = (0..n).map(|i| (i * 7919 % 13 < 6) as usize).collect();
//! let x = Array2::from_shape_fn((n, 3), |(i, u)| {
//!     if u == 1 { y[i] as f32 * 2.0 - 1.0 } else { ((i * (u + 3)) % 11) as f32 }
//! });
//! let labels = Labels::from_classes(y, vec!["no".into(), "yes".into()]).unwrap();
//! let report = probe::fit(x.view(), &rows, &labels, None, &ProbeConfig::default()).unwrap();
//! assert!(report.probe.accuracy.value > 0.95);
//! assert!(report.flags.is_empty(), "{:?}", report.flags);
//! ```

mod data;
mod labels;
mod layer;
mod lbfgs;
mod logistic;
mod loss;
mod metrics;
mod newton;
mod pca;
pub(crate) mod readout;
mod report;
mod run;
pub(crate) mod split;
mod units;

pub use labels::Labels;
pub use layer::{
    ChosenSet, HypothesisProbe, LayerData, LayerProbeConfig, LayerProbes, PcaExport, PcaLoading,
    PcaPoint, UntrainedLayer,
};
pub use metrics::{accuracy, balanced_accuracy, macro_f1, scores, ClassScores, Estimate, Metrics};
pub use pca::{project, Projection};
pub use report::{ClassCount, ControlTaskReport, ProbeFlag, ProbeReport, UntrainedReport};
pub use run::{fit, Controls, ProbeConfig};
pub use split::{folds, Evaluation, Fold};
pub use units::{
    find_unit_set, CurvePoint, UnitOrdering, UnitSetConfig, UnitSetReport, UnitStability,
};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod reference;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
