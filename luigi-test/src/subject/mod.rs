//! What an assertion is judged on: a model, a corpus and one recorded
//! layer ([`Subject`]), the loaders that make them, and the recording cache
//! that assertions over the same subject share.

pub mod cache;

use std::path::Path;
use std::sync::Arc;

use crate::activations::Activations;
use crate::corpus::{Corpus, CorpusFormat};
use crate::error::{Error, Result};
use crate::hypothesis::{evaluate_steps, Hypothesis};
use crate::model::Model;
use crate::report::failure::{Origin, Report};
use crate::text::tidy;

/// A model, a corpus and one recorded layer.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    pub model: Arc<Model>,
    pub corpus: Arc<Corpus>,
    pub layer: String,
    pub acts: Arc<Activations>,
}

impl Subject {
    /// Records (or takes from the cache) `layer` of `model` over `corpus`.
    /// A corpus of text is first tokenized when the model's card names a
    /// tokenizer ([`crate::model::card::Card::prepare`]).
    pub(crate) fn record(model: Arc<Model>, corpus: Arc<Corpus>, layer: &str) -> Result<Subject> {
        let corpus = prepared(&model, corpus)?;
        let acts = cache::record(&model, &corpus, layer)?;
        Ok(Subject {
            model,
            corpus,
            layer: layer.to_string(),
            acts,
        })
    }

    /// The hypothesis on every timestep, in row order.
    pub(crate) fn values(&self, h: &dyn Hypothesis) -> Result<Vec<f32>> {
        let mut all = Vec::with_capacity(self.acts.n_rows());
        for s in self.corpus.sequences() {
            all.extend(evaluate_steps(h, s)?);
        }
        if all.len() != self.acts.n_rows() {
            return Err(Error::invalid(
                format!("hypothesis `{}`", h.name()),
                format!(
                    "{} values for {} recorded timesteps",
                    all.len(),
                    self.acts.n_rows()
                ),
            ));
        }
        Ok(all)
    }
}

/// `corpus` as `model` reads it: the same `Arc` when nothing changes.
pub(crate) fn prepared(model: &Model, corpus: Arc<Corpus>) -> Result<Arc<Corpus>> {
    let card = model.card();
    if card.reads(&corpus) {
        Ok(corpus)
    } else {
        card.prepare(&corpus).map(Arc::new)
    }
}

/// The `where`, `model` and `corpus` lines of a report.
pub(crate) fn push_subject(report: &mut Report, subject: &Subject, origin: &Origin) {
    let layer = &subject.layer;
    let acts = &subject.acts;
    report.push("where", origin.to_string());
    let card = &subject.model.card().path;
    report.push(
        "model",
        format!(
            "{} (card {}, fingerprint {}); layer `{layer}` = tensor `{}`, {} units",
            tidy(&subject.model.path().display().to_string()),
            tidy(&card.display().to_string()),
            subject.model.fingerprint(),
            acts.tensor,
            acts.n_units()
        ),
    );
    report.push(
        "corpus",
        format!(
            "{}: {} timesteps in {} sequences (fingerprint {})",
            tidy(subject.corpus.name()),
            subject.corpus.timesteps(),
            subject.corpus.len(),
            subject.corpus.fingerprint()
        ),
    );
}

/// Resolves a unit by name, or by index when no unit has that name.
pub(crate) fn resolve_unit(acts: &Activations, name: &str) -> Result<usize> {
    if let Some(i) = acts.units.iter().position(|u| u == name) {
        return Ok(i);
    }
    if let Ok(i) = name.parse::<usize>() {
        if i < acts.units.len() {
            return Ok(i);
        }
    }
    let shown: Vec<&str> = acts.units.iter().take(8).map(String::as_str).collect();
    Err(Error::invalid(
        format!("layer `{}`", acts.layer),
        format!(
            "no unit `{name}`: it has {} units ({}{})",
            acts.units.len(),
            shown.join(", "),
            if acts.units.len() > 8 { ", …" } else { "" }
        ),
    ))
}

/// Loads a model (each call loads it again; the caller keeps the `Arc`).
pub(crate) fn load_model(card: &Path) -> Result<Arc<Model>> {
    if !card.exists() {
        return Err(Error::Card {
            path: card.to_path_buf(),
            key: "(file)".to_string(),
            message: "no such file: check the path (relative paths resolve against the crate root under `cargo test`)".to_string(),
        });
    }
    Model::load(card).map(Arc::new)
}

/// Loads a corpus, optionally keeping only the first `sequences` sequences.
pub(crate) fn load_corpus(
    path: &Path,
    window: Option<usize>,
    sequences: Option<usize>,
) -> Result<Arc<Corpus>> {
    let format = match window {
        Some(w) => CorpusFormat::Windows(w),
        None => CorpusFormat::Lines,
    };
    let corpus = Corpus::load(path, format)?;
    let corpus = match sequences {
        Some(0) => {
            return Err(Error::Corpus {
                source_name: corpus.name().to_string(),
                message: "sequences = 0 keeps nothing: use at least 1".to_string(),
            })
        }
        Some(n) => corpus.first(n)?,
        None => corpus,
    };
    Ok(Arc::new(corpus))
}
