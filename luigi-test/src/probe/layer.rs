//! Probing a model's layer end to end: record the layer (and the untrained
//! twin's) once over a corpus, evaluate the hypotheses on the same
//! sequences, then, per hypothesis, fit the whole-layer probe with its
//! controls and find the smallest sufficient unit set ([`LayerData::probe`]),
//! or project the layer on its first two principal components with every
//! point's class ([`LayerData::project`]).
//!
//! Everything is held in memory (`timesteps × units` floats for each model
//! plus `timesteps × hypotheses` values): cut long corpora to their first
//! sequences first (`luigi inspect --probe-sequences`).

use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};

use super::metrics::Estimate;
use super::report::{round_estimate, ProbeFlag, ProbeReport};
use super::run::{fit, Controls, ProbeConfig};
use super::units::{find_unit_set, UnitSetConfig, UnitSetReport};
use super::{project, Labels};
use crate::activations::RowIndex;
use crate::corpus::Corpus;
use crate::error::{closest_names, Error, Result};
use crate::hypothesis::{HypothesisKind, HypothesisSet};
use crate::model::{Model, RecordOptions};
use crate::numeric::round_to;

/// Settings of [`LayerData::probe`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerProbeConfig {
    /// The whole-layer probe, its controls, and (same settings, no
    /// controls) the probe on the chosen unit set.
    pub probe: ProbeConfig,
    /// The smallest-sufficient-set search (`None`: skipped). Its own
    /// `probe` settings drive the sweep; [`LayerProbeConfig::new`] makes
    /// them equal to `probe`.
    pub unit_set: Option<UnitSetConfig>,
    /// Run the same probe on the untrained twin's layer when one was recorded.
    pub untrained: bool,
}

impl LayerProbeConfig {
    /// The whole-layer probe with `probe`'s settings, the untrained twin, and
    /// the default unit-set search ([`UnitSetConfig::default`]) using the
    /// same probe settings.
    pub fn new(probe: ProbeConfig) -> Self {
        LayerProbeConfig {
            unit_set: Some(UnitSetConfig {
                probe: probe.clone(),
                ..UnitSetConfig::default()
            }),
            probe,
            untrained: true,
        }
    }
}

impl Default for LayerProbeConfig {
    fn default() -> Self {
        LayerProbeConfig::new(ProbeConfig::default())
    }
}

/// The untrained twin's recording of the same layer over the same corpus.
#[derive(Debug, Clone)]
pub struct UntrainedLayer {
    /// The twin's ONNX file.
    pub model: String,
    /// `timesteps × units` (same rows as the trained model's).
    pub activations: Array2<f32>,
}

/// A layer recorded over a corpus, with the values of the hypotheses to
/// probe, held in memory.
#[derive(Debug, Clone)]
pub struct LayerData {
    /// The ONNX file.
    pub model: String,
    /// The layer as asked for (alias or tensor).
    pub layer: String,
    /// The tensor it was read from.
    pub tensor: String,
    /// The corpus name.
    pub corpus: String,
    /// Unit names, one per column.
    pub units: Vec<String>,
    /// `timesteps × units`.
    pub activations: Array2<f32>,
    /// Which timestep each row is.
    pub rows: RowIndex,
    /// What each row's timestep reads, as text (for exports): its
    /// character, its token's characters, or its feature values.
    pub steps: Vec<String>,
    /// The untrained twin's recording, when asked for and the card names one.
    pub untrained: Option<UntrainedLayer>,
    names: Vec<String>,
    kinds: Vec<HypothesisKind>,
    values: Array2<f32>,
}

impl LayerData {
    /// Records `layer` of `model` over `corpus` (and of the untrained twin
    /// the card names, when `with_untrained`), and evaluates `hypotheses`
    /// on the same sequences.
    pub fn record(
        model: &Model,
        corpus: &Corpus,
        layer: &str,
        hypotheses: &HypothesisSet,
        with_untrained: bool,
        options: &RecordOptions,
    ) -> Result<LayerData> {
        let acts = record_one(model, corpus, layer, options)?;
        let untrained = if with_untrained {
            match model.untrained()? {
                Some(twin) => {
                    let quiet = RecordOptions {
                        progress: None,
                        ..options.clone()
                    };
                    let t = record_one(&twin, corpus, layer, &quiet).map_err(|e| {
                        Error::invalid(
                            format!("untrained twin {}", twin.path().display()),
                            format!("recording layer `{layer}` failed: {e}. Give the twin's card the same layer alias, or drop `untrained:` from the card"),
                        )
                    })?;
                    if t.rows != acts.rows {
                        return Err(Error::invalid(
                            format!("untrained twin {}", twin.path().display()),
                            "its recording has other rows than the trained model's: the two cards must encode the corpus the same way",
                        ));
                    }
                    Some(UntrainedLayer {
                        model: twin.path().display().to_string(),
                        activations: t.values,
                    })
                }
                None => None,
            }
        } else {
            None
        };
        let values = hypotheses.evaluate(corpus.sequences())?;
        if values.nrows() != acts.values.nrows() {
            return Err(Error::invalid(
                "LayerData::record",
                format!(
                    "{} hypothesis rows but {} recorded timesteps: the model's encoding changed the sequence lengths",
                    values.nrows(),
                    acts.values.nrows()
                ),
            ));
        }
        let steps = corpus
            .sequences()
            .iter()
            .flat_map(|s| (0..s.len()).map(move |t| s.step_text(t)))
            .collect();
        Ok(LayerData {
            model: model.path().display().to_string(),
            layer: layer.to_string(),
            tensor: acts.tensor,
            corpus: corpus.name().to_string(),
            units: acts.units,
            activations: acts.values,
            rows: acts.rows,
            steps,
            untrained,
            names: hypotheses.names().into_iter().map(str::to_string).collect(),
            kinds: hypotheses.kinds(),
            values,
        })
    }

    /// The recorded hypotheses' names, in set order.
    pub fn hypotheses(&self) -> &[String] {
        &self.names
    }

    /// Distinct sequences recorded.
    pub fn n_sequences(&self) -> usize {
        let mut s = self.rows.sequence.clone();
        s.dedup();
        s.len()
    }

    fn column(&self, hypothesis: &str) -> Result<usize> {
        self.names
            .iter()
            .position(|n| n == hypothesis)
            .ok_or_else(|| {
                let close = closest_names(hypothesis, self.names.iter().map(String::as_str), 3);
                Error::Hypothesis {
                    name: hypothesis.to_string(),
                    message: format!(
                        "is not among the {} hypotheses recorded{}",
                        self.names.len(),
                        if close.is_empty() {
                            String::new()
                        } else {
                            format!("; closest: {}", close.join(", "))
                        }
                    ),
                }
            })
    }

    /// The class labels a hypothesis gives every row (a numeric hypothesis
    /// is refused: bin it first).
    pub fn labels(&self, hypothesis: &str) -> Result<Labels> {
        let j = self.column(hypothesis)?;
        let col: Vec<f32> = self.values.column(j).to_vec();
        Labels::from_hypothesis(hypothesis, &col, &self.kinds[j])
    }

    /// Fits the whole-layer probe of `hypothesis` with its controls (and on
    /// the untrained twin when recorded and asked for), then searches the
    /// smallest sufficient unit set and scores a probe on the chosen set
    /// on the same held-out sequences.
    pub fn probe(&self, hypothesis: &str, config: &LayerProbeConfig) -> Result<HypothesisProbe> {
        let labels = self.labels(hypothesis)?;
        let context = |e: Error| match e {
            Error::Invalid { context, message } => Error::Hypothesis {
                name: hypothesis.to_string(),
                message: format!("{context}: {message}"),
            },
            other => other,
        };
        let x = self.activations.view();
        let mut report = fit(x, &self.rows, &labels, None, &config.probe).map_err(context)?;
        if config.untrained {
            if let Some(twin) = &self.untrained {
                let twin_report = fit(
                    twin.activations.view(),
                    &self.rows,
                    &labels,
                    None,
                    &ProbeConfig {
                        controls: Controls::none(),
                        ..config.probe.clone()
                    },
                )
                .map_err(context)?;
                report.attach_untrained(&twin_report).map_err(context)?;
            }
        }
        let (unit_set, chosen_set) = match &config.unit_set {
            Some(uc) => {
                let set = find_unit_set(x, &self.rows, &labels, uc).map_err(context)?;
                let chosen = if set.chosen.is_empty() {
                    set.candidate.clone()
                } else {
                    set.chosen.clone()
                };
                let mut sorted = chosen.clone();
                sorted.sort_unstable();
                let on_set = if sorted.is_empty() {
                    None
                } else {
                    let r = fit(
                        x,
                        &self.rows,
                        &labels,
                        Some(&sorted),
                        &ProbeConfig {
                            controls: Controls::none(),
                            ..config.probe.clone()
                        },
                    )
                    .map_err(context)?;
                    Some(r.probe.accuracy)
                };
                (Some(set), on_set.map(|a| (chosen, a)))
            }
            None => (None, None),
        };
        let layer_acc = report.probe.accuracy.value;
        let chosen = chosen_set.map(|(units, accuracy)| ChosenSet {
            unit_names: units.iter().map(|&u| self.units[u].clone()).collect(),
            units,
            fraction_of_layer: if layer_acc > 0.0 {
                accuracy.value / layer_acc
            } else {
                0.0
            },
            accuracy,
        });
        Ok(HypothesisProbe {
            hypothesis: hypothesis.to_string(),
            report,
            unit_set,
            chosen,
        })
    }

    /// Probes each of `hypotheses` in turn ([`LayerData::probe`]);
    /// `progress` is called before each with (index, count, name).
    pub fn probe_all(
        &self,
        hypotheses: &[String],
        config: &LayerProbeConfig,
        progress: &dyn Fn(usize, usize, &str),
    ) -> Result<LayerProbes> {
        let mut probes = Vec::with_capacity(hypotheses.len());
        for (i, h) in hypotheses.iter().enumerate() {
            progress(i, hypotheses.len(), h);
            probes.push(self.probe(h, config)?);
        }
        Ok(LayerProbes {
            model: self.model.clone(),
            untrained_model: self
                .untrained
                .as_ref()
                .filter(|_| config.untrained)
                .map(|t| t.model.clone()),
            layer: self.layer.clone(),
            tensor: self.tensor.clone(),
            corpus: self.corpus.clone(),
            sequences: self.n_sequences(),
            timesteps: self.rows.len(),
            units: self.units.clone(),
            config: config.clone(),
            probes,
        })
    }

    /// The layer's rows projected on their first two principal components
    /// ([`super::project`]), each point with its class under `hypothesis`,
    /// its sequence, position and input character.
    pub fn project(&self, hypothesis: &str) -> Result<PcaExport> {
        let labels = self.labels(hypothesis)?;
        let p = project(self.activations.view(), &labels)?;
        let names = labels.names();
        let points = p
            .components
            .axis_iter(Axis(0))
            .enumerate()
            .map(|(i, r)| PcaPoint {
                x: round_to(f64::from(r[0]), 5),
                y: round_to(f64::from(r[1]), 5),
                class: names[labels.values()[i]].clone(),
                sequence: self.rows.sequence[i],
                position: self.rows.position[i],
                char: self.steps.get(i).cloned().unwrap_or_default(),
            })
            .collect();
        let loadings = p
            .loadings
            .axis_iter(Axis(0))
            .zip(&self.units)
            .map(|(r, u)| PcaLoading {
                unit: u.clone(),
                pc1: round_to(r[0], 6),
                pc2: round_to(r[1], 6),
            })
            .collect();
        Ok(PcaExport {
            model: self.model.clone(),
            layer: self.layer.clone(),
            tensor: self.tensor.clone(),
            corpus: self.corpus.clone(),
            hypothesis: hypothesis.to_string(),
            classes: names.to_vec(),
            explained_variance: p.explained_variance.map(|v| round_to(v, 6)),
            explained_variance_ratio: p.explained_variance_ratio.map(|v| round_to(v, 6)),
            converged: p.converged,
            loadings,
            points,
        })
    }
}

fn record_one(
    model: &Model,
    corpus: &Corpus,
    layer: &str,
    options: &RecordOptions,
) -> Result<crate::Activations> {
    let mut all: Option<crate::Activations> = None;
    model.record_with(corpus, &[layer], options, |chunk| {
        for a in chunk.layers {
            match &mut all {
                None => all = Some(a),
                Some(acc) => acc.append(&a)?,
            }
        }
        Ok(())
    })?;
    all.ok_or_else(|| Error::Corpus {
        source_name: corpus.name().to_string(),
        message: "recorded nothing".to_string(),
    })
}

/// The unit set a hypothesis probe settled on, scored on its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChosenSet {
    /// Unit indices (most stable first, as [`UnitSetReport::chosen`]; the
    /// full-data candidate when no unit was stable).
    pub units: Vec<usize>,
    /// Their names on the layer.
    pub unit_names: Vec<String>,
    /// Held-out accuracy of a probe on these units alone (same split and
    /// settings as the whole-layer probe, no controls).
    pub accuracy: Estimate,
    /// `accuracy / whole-layer accuracy`.
    pub fraction_of_layer: f64,
}

/// Everything measured for one hypothesis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HypothesisProbe {
    /// The hypothesis.
    pub hypothesis: String,
    /// The whole-layer probe, its baseline and controls (untrained twin attached).
    pub report: ProbeReport,
    /// The smallest-sufficient-set search, when run.
    pub unit_set: Option<UnitSetReport>,
    /// The chosen set and its accuracy, when the search ran.
    pub chosen: Option<ChosenSet>,
}

impl HypothesisProbe {
    /// A copy with every score rounded to `digits` decimals.
    pub fn rounded(&self, digits: u32) -> HypothesisProbe {
        let mut r = self.clone();
        r.report = r.report.rounded(digits);
        r.unit_set = r.unit_set.map(|u| u.rounded(digits));
        if let Some(c) = r.chosen.as_mut() {
            c.accuracy = round_estimate(&c.accuracy, digits);
            c.fraction_of_layer = round_to(c.fraction_of_layer, digits);
        }
        r
    }
}

/// The probes of several hypotheses on one layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerProbes {
    /// The ONNX file.
    pub model: String,
    /// The untrained twin probed alongside, if any.
    pub untrained_model: Option<String>,
    /// The layer as asked for.
    pub layer: String,
    /// The tensor it was read from.
    pub tensor: String,
    /// The corpus name.
    pub corpus: String,
    /// Sequences probed.
    pub sequences: usize,
    /// Timesteps (rows) probed.
    pub timesteps: usize,
    /// Unit names of the layer.
    pub units: Vec<String>,
    /// The settings.
    pub config: LayerProbeConfig,
    /// One entry per hypothesis, in the order asked.
    pub probes: Vec<HypothesisProbe>,
}

fn ci(e: &Estimate) -> String {
    if e.lower == e.value && e.upper == e.value {
        format!("{:.4}", e.value)
    } else {
        format!("{:.4} [{:.4}, {:.4}]", e.value, e.lower, e.upper)
    }
}

fn flag_name(f: ProbeFlag) -> &'static str {
    match f {
        ProbeFlag::NotAboveBaseline => "not_above_baseline",
        ProbeFlag::NotSelective => "not_selective",
        ProbeFlag::TokenExplains => "token_explains",
        ProbeFlag::PositionExplains => "position_explains",
        ProbeFlag::UntrainedMatches => "untrained_matches",
        ProbeFlag::NotConverged => "not_converged",
    }
}

impl LayerProbes {
    /// A copy with every score rounded to `digits` decimals (stable JSON).
    pub fn rounded(&self, digits: u32) -> LayerProbes {
        let mut r = self.clone();
        r.probes = r.probes.iter().map(|p| p.rounded(digits)).collect();
        r
    }

    /// The probe of `hypothesis`, if probed.
    pub fn get(&self, hypothesis: &str) -> Option<&HypothesisProbe> {
        self.probes.iter().find(|p| p.hypothesis == hypothesis)
    }

    /// A terminal table, one row per hypothesis in the order probed.
    pub fn table(&self) -> String {
        let c = &self.config.probe;
        let mut out = format!(
            "probes on layer {} ({}): {} timesteps in {} sequences, {} units; held-out {}, seed {}, {:.0}% intervals{}\n",
            self.layer,
            self.tensor,
            self.timesteps,
            self.sequences,
            self.units.len(),
            match c.evaluation {
                super::Evaluation::HoldOut { test_fraction } =>
                    format!("{:.0}% of sequences", test_fraction * 100.0),
                super::Evaluation::KFold { folds } => format!("{folds}-fold"),
            },
            c.seed,
            c.confidence * 100.0,
            match &self.untrained_model {
                Some(m) => format!("; untrained twin {m}"),
                None => "; no untrained twin".to_string(),
            }
        );
        let header = [
            "hypothesis",
            "classes",
            "accuracy",
            "bal_acc",
            "macro_f1",
            "majority",
            "control",
            "selectivity",
            "untrained",
            "token",
            "position",
            "set",
            "set_acc",
            "flags",
        ];
        let rows: Vec<Vec<String>> = self
            .probes
            .iter()
            .map(|p| {
                let r = &p.report;
                let present = r.classes.iter().filter(|c| c.rows > 0).count();
                vec![
                    p.hypothesis.clone(),
                    format!("{present}"),
                    ci(&r.probe.accuracy),
                    format!("{:.4}", r.probe.balanced_accuracy.value),
                    format!("{:.4}", r.probe.macro_f1.value),
                    format!("{:.4}", r.majority_baseline.accuracy.value),
                    r.control_task
                        .map(|c| format!("{:.4}", c.metrics.accuracy.value))
                        .unwrap_or_else(|| "-".into()),
                    r.control_task
                        .map(|c| format!("{:+.4}", c.selectivity.value))
                        .unwrap_or_else(|| "-".into()),
                    r.untrained
                        .map(|u| format!("{:.4}", u.metrics.accuracy.value))
                        .unwrap_or_else(|| "-".into()),
                    r.token_probe
                        .map(|m| format!("{:.4}", m.accuracy.value))
                        .unwrap_or_else(|| "-".into()),
                    r.position_probe
                        .map(|m| format!("{:.4}", m.accuracy.value))
                        .unwrap_or_else(|| "-".into()),
                    p.chosen
                        .as_ref()
                        .map(|c| format!("{{{}}}", c.unit_names.join(",")))
                        .unwrap_or_else(|| "-".into()),
                    p.chosen
                        .as_ref()
                        .map(|c| format!("{:.4}", c.accuracy.value))
                        .unwrap_or_else(|| "-".into()),
                    if r.flags.is_empty() {
                        "-".to_string()
                    } else {
                        r.flags
                            .iter()
                            .map(|f| flag_name(*f))
                            .collect::<Vec<_>>()
                            .join(",")
                    },
                ]
            })
            .collect();
        out.push_str(&crate::text::table(&header, &rows));
        out.push('\n');
        out.push_str(
            "(accuracy: held-out, with its sequence-bootstrap interval; classes: classes present; majority: majority-class baseline; control: Hewitt-Liang control task accuracy, selectivity = accuracy - control; untrained: the untrained twin's probe; token/position: probes from the input token or the position alone; set: smallest sufficient unit set, set_acc: its probe's held-out accuracy)\n",
        );
        out
    }
}

/// One row of a PCA export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PcaPoint {
    /// Coordinate on the first component.
    pub x: f64,
    /// Coordinate on the second component.
    pub y: f64,
    /// The row's class under the hypothesis.
    pub class: String,
    /// Sequence index in the corpus.
    pub sequence: u32,
    /// Position in the sequence.
    pub position: u32,
    /// The input character at that position.
    pub char: String,
}

/// A unit's weights on the two components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PcaLoading {
    /// The unit's name.
    pub unit: String,
    /// Loading on the first component.
    pub pc1: f64,
    /// Loading on the second component.
    pub pc2: f64,
}

/// The 2-D PCA projection of a layer coloured by a hypothesis's classes
/// (the paper's Figure 3b data), as `luigi inspect --pca` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PcaExport {
    /// The ONNX file.
    pub model: String,
    /// The layer as asked for.
    pub layer: String,
    /// The tensor it was read from.
    pub tensor: String,
    /// The corpus name.
    pub corpus: String,
    /// The hypothesis whose classes colour the points.
    pub hypothesis: String,
    /// Class names.
    pub classes: Vec<String>,
    /// Variance along each component (on standardised units).
    pub explained_variance: [f64; 2],
    /// Those variances as fractions of the total.
    pub explained_variance_ratio: [f64; 2],
    /// Whether the eigen-solver converged.
    pub converged: bool,
    /// Each unit's loadings on the components.
    pub loadings: Vec<PcaLoading>,
    /// One point per timestep, in corpus order.
    pub points: Vec<PcaPoint>,
}
