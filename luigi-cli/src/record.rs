//! `luigi record`: stream a corpus through the model and write each layer's
//! activations and the row index as `.npy`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use luigi_test::model::{Model, RecordOptions};

use crate::{progress_bar, sanitize, CorpusArgs};

pub(crate) fn record(
    model: &Path,
    corpus: &CorpusArgs,
    layers: &[String],
    out: &Path,
    batch_size: usize,
    fail_on_nonfinite: bool,
) -> Result<ExitCode> {
    let m = Model::load(model)?;
    let c = corpus.load(&m)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let pb = progress_bar(c.timesteps());
    pb.set_message("recording");
    let pb2 = pb.clone();
    // rows are written in order, so a long sequence may come in several chunks
    let opts = RecordOptions {
        batch_size,
        progress: Some(std::sync::Arc::new(move |done, _| {
            pb2.set_position(done as u64)
        })),
        split_sequences: true,
        ..RecordOptions::default()
    };
    // `all` or a list records each of its layers to its own file.
    let mut expanded: Vec<String> = Vec::new();
    for l in layers {
        for name in m.layer_members(l)?.unwrap_or_else(|| vec![l.clone()]) {
            if !expanded.contains(&name) {
                expanded.push(name);
            }
        }
    }
    let names: Vec<&str> = expanded.iter().map(String::as_str).collect();
    let total = c.timesteps();
    let mut writers: Vec<(String, luigi_test::npy::StreamWriter)> = Vec::new();
    let mut rows_writer: Option<luigi_test::npy::StreamWriter> = None;
    let mut manifest = serde_json::Map::new();
    // non-finite values per layer and unit: written as they are, and reported
    let mut nonfinite: Vec<(String, Vec<u64>)> = Vec::new();
    m.record_each(&c, &names, &opts, |chunk| {
        if writers.is_empty() {
            for a in &chunk.layers {
                let file = format!("{}.npy", sanitize(&a.layer));
                let w = luigi_test::npy::StreamWriter::create::<f32>(&out.join(&file), &[total, a.n_units()])?;
                manifest.insert(
                    a.layer.clone(),
                    serde_json::json!({"file": file, "tensor": a.tensor, "units": a.units, "shape": [total, a.n_units()]}),
                );
                writers.push((file, w));
            }
            rows_writer = Some(luigi_test::npy::StreamWriter::create::<i64>(&out.join("rows.npy"), &[total, 3])?);
        }
        if nonfinite.is_empty() {
            nonfinite = chunk
                .layers
                .iter()
                .map(|a| (a.layer.clone(), vec![0; a.n_units()]))
                .collect();
        }
        for (((_, w), a), (_, bad)) in writers.iter_mut().zip(&chunk.layers).zip(nonfinite.iter_mut()) {
            let values = a.values.as_standard_layout();
            if fail_on_nonfinite {
                if let Some((r, u, v)) = values.rows().into_iter().enumerate().find_map(|(r, row)| {
                    row.iter().position(|v| !v.is_finite()).map(|u| (r, u, row[u]))
                }) {
                    return Err(luigi_test::Error::invalid("--fail-on-nonfinite", format!(
                        "layer `{}` unit {} is {v} at sequence {}, position {} (token id {}); the files in {} are incomplete. Find where the model overflows (e.g. `luigi verify` or a smaller input), or record without --fail-on-nonfinite to write the values and a warning",
                        a.layer,
                        a.units.get(u).map_or("?", String::as_str),
                        a.rows.sequence[r],
                        a.rows.position[r],
                        a.rows.token[r],
                        out.display()
                    )));
                }
            }
            for row in values.rows() {
                for (b, v) in bad.iter_mut().zip(row) {
                    *b += u64::from(!v.is_finite());
                }
            }
            w.append(values.as_slice().unwrap_or(&[]))?;
        }
        if let (Some(w), Some(a)) = (rows_writer.as_mut(), chunk.layers.first()) {
            let rows: Vec<i64> = (0..a.rows.len())
                .flat_map(|i| [i64::from(a.rows.sequence[i]), i64::from(a.rows.position[i]), a.rows.token[i]])
                .collect();
            w.append(&rows)?;
        }
        Ok(())
    })?;
    pb.finish_and_clear();
    for (file, w) in writers {
        w.finish()?;
        println!(
            "{} -> {}",
            file.trim_end_matches(".npy"),
            out.join(&file).display()
        );
    }
    if let Some(w) = rows_writer {
        w.finish()?;
    }
    for (layer, bad) in &nonfinite {
        let units: serde_json::Map<String, serde_json::Value> = bad
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(u, n)| (u.to_string(), serde_json::json!(n)))
            .collect();
        if !units.is_empty() {
            eprintln!(
                "luigi: warning: layer `{layer}` has NaN or infinite activations in {} unit(s) (unit: timesteps): {}; they are written as they are, and `luigi inspect` leaves those units out",
                units.len(),
                units
                    .iter()
                    .map(|(u, n)| format!("{u}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if let Some(serde_json::Value::Object(e)) = manifest.get_mut(layer) {
                e.insert("nonfinite".to_string(), serde_json::Value::Object(units));
            }
        }
    }
    let meta = serde_json::json!({
        "model": m.path(),
        "card": m.card().path,
        "corpus": c.name(),
        "sequences": c.len(),
        "timesteps": total,
        "rows": "rows.npy: one row per timestep: [sequence, position, token id]",
        "layers": manifest,
    });
    let meta_path = out.join("recording.json");
    std::fs::write(&meta_path, serde_json::to_string_pretty(&meta)?)
        .with_context(|| format!("writing {}", meta_path.display()))?;
    println!(
        "{} timesteps of {} sequences; row index -> {}",
        total,
        c.len(),
        out.join("rows.npy").display()
    );
    Ok(ExitCode::SUCCESS)
}
