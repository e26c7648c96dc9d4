//! Several layers recorded as one: `all` (or `any`), or a comma-separated
//! list such as `lstm,lstm2`.
//!
//! A selection of several layers is recorded in one pass (one session runs
//! every member's tensor) and handed over as one [`Activations`] whose
//! columns are the members' units side by side, in the selection's order.
//! Each unit is named `layer:unit` (`lstm2:110`), so every ranking row, JSON
//! record, report and assertion names its layer. Everything that reads a
//! layer by name (inspection, specs, probes, perturbation) therefore ranks
//! and asserts across layers unchanged.
//!
//! ## What `all` means
//! The card's `layers:` aliases, in graph order (the order of the nodes that
//! produce them). Two aliases that are views of one tensor (one reached from
//! the other through shape-only operators: `Identity`, `Squeeze`,
//! `Unsqueeze`, `Transpose`, `Reshape`, `Flatten`; e.g. an ONNX `LSTM`'s `Y`
//! and the `[batch, time, units]` tensor the exporter makes of it) hold the
//! same numbers, and only the later one is recorded. A card with no aliases
//! has no `all`: name the tensors in a list instead. `any` is the same
//! selection, the word that reads better in an assertion ("some unit of any
//! layer"); both names are reserved and a card may not use them as aliases.

use std::collections::BTreeMap;

use ndarray::{concatenate, Array2, ArrayView2, Axis};

use crate::activations::Activations;
use crate::error::{Error, Result};
use crate::model::onnx_model::Model;
use crate::model::record::RecordedChunk;

pub use crate::model::card::{EVERY_LAYER, LAYER_UNIT_SEPARATOR};

/// Splits a unit name of a several-layer selection into its layer and unit
/// (`lstm2:110` → `("lstm2", "110")`); `None` for a plain unit name.
pub fn split_unit(unit: &str) -> Option<(&str, &str)> {
    unit.rsplit_once(LAYER_UNIT_SEPARATOR)
}

/// How the requested layer names map onto the tensors that are recorded.
#[derive(Debug, Clone)]
pub(crate) struct SelectionPlan {
    /// The distinct single layers to record, in first-use order.
    pub(crate) flat: Vec<String>,
    /// One group per requested name: the indices into `flat` it is made of,
    /// or `None` for a single layer (recorded as it is).
    groups: Vec<(String, Option<Vec<usize>>)>,
}

impl SelectionPlan {
    /// True when no requested name is a selection of several layers.
    pub(crate) fn is_plain(&self) -> bool {
        self.groups.iter().all(|(_, g)| g.is_none()) && self.flat.len() == self.groups.len()
    }

    /// The requested layers of a recorded chunk of `flat`'s layers.
    pub(crate) fn merge(&self, chunk: &RecordedChunk) -> Result<RecordedChunk> {
        let by_name =
            |name: &str| {
                let i = self.flat.iter().position(|f| f == name).ok_or_else(|| {
                    Error::invalid("recording", "internal: a layer was not recorded")
                })?;
                chunk.layers.get(i).ok_or_else(|| {
                    Error::invalid("recording", "internal: a layer was not recorded")
                })
            };
        let mut layers = Vec::with_capacity(self.groups.len());
        for (name, group) in &self.groups {
            match group {
                None => layers.push(by_name(name)?.clone()),
                Some(members) => {
                    let parts: Vec<&Activations> = members
                        .iter()
                        .map(|&i| by_name(&self.flat[i]))
                        .collect::<Result<_>>()?;
                    layers.push(join(name, &parts)?);
                }
            }
        }
        Ok(RecordedChunk {
            sequences: chunk.sequences.clone(),
            part: chunk.part.clone(),
            layers,
        })
    }
}

/// The members' activations side by side, units named `layer:unit`.
fn join(name: &str, parts: &[&Activations]) -> Result<Activations> {
    let first = parts
        .first()
        .ok_or_else(|| Error::invalid("recording", "internal: an empty layer selection"))?;
    let views: Vec<ArrayView2<'_, f32>> = parts.iter().map(|a| a.values.view()).collect();
    let values: Array2<f32> = concatenate(Axis(1), &views).map_err(|e| {
        Error::invalid(
            format!("recording layers `{name}`"),
            format!("the layers disagree on their timesteps ({e})"),
        )
    })?;
    Ok(Activations {
        layer: name.to_string(),
        tensor: parts
            .iter()
            .map(|a| a.tensor.as_str())
            .collect::<Vec<_>>()
            .join("+"),
        units: parts
            .iter()
            .flat_map(|a| a.units.iter().map(move |u| qualified(&a.layer, u)))
            .collect(),
        values,
        rows: first.rows.clone(),
    })
}

fn qualified(layer: &str, unit: &str) -> String {
    format!("{layer}{LAYER_UNIT_SEPARATOR}{unit}")
}

impl Model {
    /// The single layers `name` stands for: `None` when it names one layer
    /// (an alias or a tensor), `Some(members)` for `all`/`any` (every layer
    /// of the card, see the [module docs](crate::model::selection)) or a
    /// comma-separated list (`lstm,lstm2`), with each member checked to
    /// exist.
    pub fn layer_members(&self, name: &str) -> Result<Option<Vec<String>>> {
        let place = || format!("layer `{name}` of {}", self.path().display());
        let trimmed = name.trim();
        if EVERY_LAYER.contains(&trimmed) {
            let members = self.every_layer()?;
            if members.is_empty() {
                return Err(Error::invalid(
                    place(),
                    format!(
                        "`{trimmed}` stands for the card's `layers:` aliases, and {} has none. Add them (`layers: {{lstm: hidden, ...}}`; `luigi layers {}` lists the tensors), or list the tensors: --layer a,b",
                        self.card().path.display(),
                        self.path().display()
                    ),
                ));
            }
            return Ok(Some(members));
        }
        if !name.contains(',') || self.graph().tensor(name).is_some() {
            return Ok(None);
        }
        let mut members: Vec<String> = Vec::new();
        for item in name.split(',').map(str::trim) {
            if item.is_empty() {
                return Err(Error::invalid(
                    place(),
                    "an empty item in the list of layers: write them as `a,b` with no empty names",
                ));
            }
            if EVERY_LAYER.contains(&item) {
                return Err(Error::invalid(
                    place(),
                    format!("`{item}` already means every layer; use it alone, not in a list"),
                ));
            }
            // Checks that the layer exists (the error names the closest).
            self.resolve(item)?;
            if members.iter().any(|m| m == item) {
                return Err(Error::invalid(place(), format!("`{item}` is listed twice")));
            }
            members.push(item.to_string());
        }
        Ok(Some(members))
    }

    /// The card's aliases in graph order, one per distinct tensor content.
    fn every_layer(&self) -> Result<Vec<String>> {
        let graph = self.graph();
        let position = |tensor: &str| {
            graph
                .nodes
                .iter()
                .position(|n| n.outputs.iter().any(|o| o == tensor))
        };
        let root = |tensor: &str| graph.view_root(tensor);
        let mut aliases: Vec<(Option<usize>, String, String)> = Vec::new();
        for (alias, tensor) in &self.card().file.layers {
            self.resolve(alias)?;
            aliases.push((position(tensor), alias.clone(), tensor.clone()));
        }
        // Graph inputs (no producer) first, then node order; ties by name.
        aliases.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        // The latest alias of each root stands for it.
        let mut last_of_root: BTreeMap<String, usize> = BTreeMap::new();
        for (i, (_, _, tensor)) in aliases.iter().enumerate() {
            last_of_root.insert(root(tensor), i);
        }
        Ok(aliases
            .iter()
            .enumerate()
            .filter(|(i, (_, _, tensor))| last_of_root.get(&root(tensor)) == Some(i))
            .map(|(_, (_, alias, _))| alias.clone())
            .collect())
    }

    /// Expands the requested names into the single layers to record.
    pub(crate) fn selection_plan(&self, layers: &[&str]) -> Result<SelectionPlan> {
        let mut flat: Vec<String> = Vec::new();
        let mut groups = Vec::with_capacity(layers.len());
        let index_of = |l: &str, flat: &mut Vec<String>| match flat.iter().position(|f| f == l) {
            Some(i) => i,
            None => {
                flat.push(l.to_string());
                flat.len() - 1
            }
        };
        for &l in layers {
            match self.layer_members(l)? {
                None => {
                    index_of(l, &mut flat);
                    groups.push((l.to_string(), None));
                }
                Some(members) => {
                    let idx = members.iter().map(|m| index_of(m, &mut flat)).collect();
                    groups.push((l.to_string(), Some(idx)));
                }
            }
        }
        Ok(SelectionPlan { flat, groups })
    }

    /// For `unit` (a column of `acts`, the recording of `layer`) of a
    /// selection of several layers: its own layer, that layer's columns of
    /// `acts` (units named as on that layer) and its index there. `None`
    /// when `layer` is a single layer.
    pub fn narrow_to_member(
        &self,
        layer: &str,
        acts: &Activations,
        unit: usize,
    ) -> Result<Option<(String, Activations, usize)>> {
        let Some(members) = self.layer_members(layer)? else {
            return Ok(None);
        };
        let mut start = 0;
        for m in &members {
            let r = self.resolve(m)?;
            let width = self.layout(&r.tensor)?.units.len();
            if unit < start + width {
                if acts.n_units() < start + width {
                    break;
                }
                let sub = Activations {
                    layer: m.clone(),
                    tensor: r.tensor.clone(),
                    units: acts.units[start..start + width]
                        .iter()
                        .map(|u| split_unit(u).map_or(u.as_str(), |(_, u)| u).to_string())
                        .collect(),
                    values: acts
                        .values
                        .slice_axis(Axis(1), ndarray::Slice::from(start..start + width))
                        .to_owned(),
                    rows: acts.rows.clone(),
                };
                return Ok(Some((m.clone(), sub, unit - start)));
            }
            start += width;
        }
        Err(Error::invalid(
            format!("layer `{layer}` of {}", self.path().display()),
            format!(
                "unit {unit} is not in the recording: it has {} units, and the layers {} have {start}; record `{layer}` again",
                acts.n_units(),
                members.join(", ")
            ),
        ))
    }

    /// Unit names of a selection of several layers (`layer:unit`).
    pub(crate) fn selection_units(&self, members: &[String]) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for m in members {
            let r = self.resolve(m)?;
            out.extend(
                self.layout(&r.tensor)?
                    .units
                    .iter()
                    .map(|u| qualified(m, u)),
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_split_at_the_last_separator() {
        assert_eq!(split_unit("lstm2:110"), Some(("lstm2", "110")));
        assert_eq!(split_unit("a:b:fwd.3"), Some(("a:b", "fwd.3")));
        assert_eq!(split_unit("110"), None);
    }
}
