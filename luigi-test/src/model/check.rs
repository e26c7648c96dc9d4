//! The card checked against the graph when a model is loaded: every
//! mismatch is an error that names the card key, before ONNX Runtime runs.

use crate::error::{closest_names, Error, Result};
use crate::model::card::{Card, Encoding};
use crate::model::graph::{Dim, ElemType, Graph};

/// Two card/graph mismatches ONNX Runtime would only report in its own
/// words at run time: a `layout` that contradicts the input's named first
/// dimension, and a vocabulary with more ids than the model's token table
/// (the rows of the initializer an `ids` input indexes with `Gather`).
pub(crate) fn check_layout_and_table(
    card: &Card,
    graph: &Graph,
    info: &super::graph::ValueInfo,
) -> std::result::Result<(), (String, String)> {
    let input = &card.file.input;
    let first = info
        .shape
        .as_ref()
        .and_then(|s| s.first())
        .map(|d| d.to_string())
        .unwrap_or_default();
    match graph.named_layout(&input.name) {
        Some(named) if named != input.layout => {
            let (said, other) = match input.layout {
                super::card::Layout::BatchMajor => ("batch-major", "time-major"),
                super::card::Layout::TimeMajor => ("time-major", "batch-major"),
            };
            return Err((
                "input.layout".into(),
                format!(
                    "says {said}, but the first dimension of input `{}` is named `{first}`; use `layout: {other}`",
                    input.name
                ),
            ));
        }
        _ => {}
    }
    if input.encoding == Encoding::Ids {
        if let Some(rows) = graph.token_table_rows(&input.name) {
            let n = card.vocab_size() as i64;
            let what = if card.tokenizer.is_some() {
                "tokens"
            } else {
                "characters"
            };
            if n > rows {
                return Err((
                    "vocabulary".into(),
                    format!(
                        "has {n} {what} (ids 0..{}) but the model's token table has {rows} rows: ids {rows} and above would be out of range. Give the model's own vocabulary, in id order",
                        n - 1
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Checks the card against the graph; every mismatch names the card key.
pub(crate) fn check_card(card: &Card, graph: &Graph) -> Result<()> {
    let err = |key: String, message: String| Error::Card {
        path: card.path.clone(),
        key,
        message,
    };
    let input_names: Vec<&str> = graph.inputs.iter().map(|i| i.name.as_str()).collect();
    let init: std::collections::BTreeSet<&str> =
        graph.initializers.iter().map(|i| i.name.as_str()).collect();
    let input = &card.file.input;
    let Some(info) = graph.input(&input.name) else {
        let close = closest_names(&input.name, input_names.iter().copied(), 3);
        return Err(err(
            "input.name".into(),
            format!(
                "`{}` is not an input of {}; its inputs are: {}{}",
                input.name,
                card.model_path.display(),
                input_names.join(", "),
                suggest(&close)
            ),
        ));
    };
    let (want_type, want_rank) = match input.encoding {
        Encoding::Ids => (ElemType::Int64, 2),
        Encoding::OneHot | Encoding::Float => (ElemType::Float, 3),
    };
    if let Some(t) = &info.dtype {
        if *t != want_type {
            return Err(err(
                "input.encoding".into(),
                format!(
                    "encoding {:?} feeds {want_type}, but input `{}` is {t}; use `encoding: {}`",
                    input.encoding,
                    input.name,
                    if *t == ElemType::Float {
                        "one-hot"
                    } else {
                        "ids"
                    }
                ),
            ));
        }
    }
    if let Some(shape) = &info.shape {
        if shape.len() != want_rank {
            return Err(err("input.encoding".into(), format!("encoding {:?} feeds a rank-{want_rank} tensor, but input `{}` has rank {} ({})", input.encoding, input.name, shape.len(), shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "))));
        }
        if input.encoding == Encoding::Float {
            match (shape.last(), input.features) {
                (Some(Dim::Fixed(v)), Some(f)) if *v as usize != f => {
                    return Err(err(
                        "input.features".into(),
                        format!(
                            "is {f}, but input `{}` takes vectors of {v} features",
                            input.name
                        ),
                    ));
                }
                (Some(Dim::Fixed(_)), _) | (_, Some(_)) => {}
                _ => {
                    return Err(err(
                        "input.features".into(),
                        format!("input `{}` does not say how many features a timestep has: give `features:`", input.name),
                    ));
                }
            }
        }
        if input.encoding == Encoding::OneHot {
            if let Some(Dim::Fixed(v)) = shape.last() {
                if *v as usize != card.vocab_size() {
                    return Err(err(
                        "vocabulary".into(),
                        format!(
                            "has {} characters but input `{}` takes one-hot vectors of {v}",
                            card.vocab_size(),
                            input.name
                        ),
                    ));
                }
            }
        }
    }
    check_layout_and_table(card, graph, info).map_err(|(key, message)| err(key, message))?;
    let tensor_exists = |name: &str| graph.tensor(name).is_some();
    for (i, pair) in card.file.state.iter().enumerate() {
        if graph.input(&pair.input).is_none() {
            let close = closest_names(&pair.input, input_names.iter().copied(), 3);
            return Err(err(
                format!("state[{i}].input"),
                format!("`{}` is not a graph input{}", pair.input, suggest(&close)),
            ));
        }
        if !tensor_exists(&pair.output) {
            return Err(err(
                format!("state[{i}].output"),
                format!(
                    "`{}` is not a tensor of the graph{}",
                    pair.output,
                    suggest(&graph.closest(&pair.output, 3))
                ),
            ));
        }
        // Where both shapes are declared, the output must fit the input it
        // is fed back to: same rank, same fixed sizes.
        let in_shape = graph.input(&pair.input).and_then(|v| v.shape.clone());
        let out_shape = graph.tensor(&pair.output).and_then(|t| t.shape);
        if let (Some(a), Some(b)) = (in_shape, out_shape) {
            let fixed = |d: &Dim| match d {
                Dim::Fixed(n) => Some(*n),
                _ => None,
            };
            let clash = a.len() != b.len()
                || a.iter()
                    .zip(&b)
                    .any(|(x, y)| matches!((fixed(x), fixed(y)), (Some(p), Some(q)) if p != q));
            if clash {
                return Err(err(
                    format!("state[{i}].output"),
                    format!(
                        "`{}` has shape {} but it is fed back to input `{}` of shape {}: name the output that carries this state (for an ONNX LSTM, its Y_h or Y_c)",
                        pair.output,
                        show_dims(&b),
                        pair.input,
                        show_dims(&a)
                    ),
                ));
            }
        }
        for layer in pair.layer.iter().flat_map(|c| c.layers()) {
            let tensor = card.resolve_layer(layer);
            if !tensor_exists(tensor) {
                let aliases: Vec<&str> = card.file.layers.keys().map(String::as_str).collect();
                return Err(err(
                    format!("state[{i}].layer"),
                    format!(
                        "`{layer}` is neither a layer alias of the card nor a tensor of the graph{}",
                        suggest(&closest_names(layer, aliases, 3))
                    ),
                ));
            }
        }
    }
    let carried: Vec<&str> = card
        .file
        .state
        .iter()
        .filter_map(|p| p.layer.as_ref())
        .flat_map(|c| c.layers())
        .map(|l| card.resolve_layer(l))
        .collect();
    for (i, t) in carried.iter().enumerate() {
        if carried[..i].contains(t) {
            return Err(err(
                "state".into(),
                format!("the layer tensor `{t}` is named twice under the state pairs' `layer:`; one state carries a layer's last step"),
            ));
        }
    }
    if let Some(mask) = &input.mask {
        match graph.input(mask) {
            None => {
                let close = closest_names(mask, input_names.iter().copied(), 3);
                return Err(err(
                    "input.mask".into(),
                    format!(
                        "`{mask}` is not an input of {}; its inputs are: {}{}",
                        card.model_path.display(),
                        input_names.join(", "),
                        suggest(&close)
                    ),
                ));
            }
            Some(m) if m.dtype.as_ref().is_some_and(|t| *t != ElemType::Int64) => {
                return Err(err(
                    "input.mask".into(),
                    format!("input `{mask}` is not int64: Luigi feeds the mask as int64 1/0"),
                ));
            }
            Some(_) => {}
        }
    }
    for name in &input_names {
        let fed = *name == input.name
            || input.mask.as_deref() == Some(*name)
            || card.file.state.iter().any(|p| p.input == *name);
        if !fed && !init.contains(name) {
            return Err(err("state".into(), format!("graph input `{name}` is not fed by the card: name it under `input:` (`name`, or `mask` for an attention mask) or as a `state:` pair (Luigi feeds zeros to state inputs)")));
        }
    }
    if let Some(l) = &card.file.logits {
        if !tensor_exists(l) {
            return Err(err(
                "logits".into(),
                format!(
                    "`{l}` is not a tensor of the graph{}",
                    suggest(&graph.closest(l, 3))
                ),
            ));
        }
    }
    for (alias, tensor) in &card.file.layers {
        if !tensor_exists(tensor) {
            return Err(err(
                format!("layers.{alias}"),
                format!(
                    "`{tensor}` is not a tensor of the graph{}",
                    suggest(&graph.closest(tensor, 3))
                ),
            ));
        }
    }
    Ok(())
}

fn show_dims(dims: &[Dim]) -> String {
    let parts: Vec<String> = dims.iter().map(Dim::to_string).collect();
    format!("[{}]", parts.join(", "))
}

pub(crate) fn suggest(close: &[String]) -> String {
    if close.is_empty() {
        String::new()
    } else {
        format!(
            "; did you mean {}?",
            close
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        )
    }
}
