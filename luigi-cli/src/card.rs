//! `luigi card` (a starter model card from an ONNX graph) and `luigi twin`
//! (an untrained-like twin with shuffled weights).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

/// `to` written relative to the folder `from` (both made absolute first).
fn relative_path(from: &Path, to: &Path) -> String {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (from, to) = (abs(from), abs(to));
    let a: Vec<_> = from.components().collect();
    let b: Vec<_> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    // sharing only the root: the absolute path reads better than ../../..
    if common <= 1 {
        return to.display().to_string();
    }
    let mut rel = PathBuf::new();
    for _ in common..a.len() {
        rel.push("..");
    }
    for c in &b[common..] {
        rel.push(c);
    }
    rel.display().to_string()
}

pub(crate) fn card(
    model: &Path,
    vocab_chars: Option<String>,
    vocab_file: Option<&Path>,
    unknown: Option<i64>,
    out: Option<&Path>,
) -> Result<ExitCode> {
    use luigi_test::model::starter::{starter_card, StarterOptions, VocabSource};
    if model.extension().is_none_or(|e| e != "onnx") {
        anyhow::bail!(
            "luigi card {}: give the .onnx file (a card is what this command writes)",
            model.display()
        );
    }
    if let Some(o) = out {
        if o.exists() {
            anyhow::bail!(
                "--out {}: the file exists; luigi card does not overwrite a card (remove it, or write elsewhere)",
                o.display()
            );
        }
    }
    let graph = luigi_test::model::graph::Graph::load(model)?;
    // The folder the card will live in: paths in it are relative to it.
    let card_dir = match out {
        Some(o) => o
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
        None => model
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    let vocabulary = match (vocab_chars, vocab_file) {
        (Some(c), _) => VocabSource::Chars(c),
        (None, Some(f)) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("--vocab-file {}: cannot read it", f.display()))?;
            let list: Vec<String> = serde_json::from_str(&text).with_context(|| {
                format!(
                    "--vocab-file {}: not a JSON array of strings (write e.g. [\"a\", \"b\"], one character each, in id order)",
                    f.display()
                )
            })?;
            if let Some((i, bad)) = list
                .iter()
                .enumerate()
                .find(|(_, s)| s.chars().count() != 1)
            {
                anyhow::bail!(
                    "--vocab-file {}: entry {i} is {bad:?}, not one character; Luigi's card vocabularies are characters",
                    f.display()
                );
            }
            VocabSource::File {
                card_path: relative_path(&card_dir, f),
                len: list.len(),
            }
        }
        (None, None) => {
            anyhow::bail!("give the vocabulary: --vocab-chars CHARS or --vocab-file FILE")
        }
    };
    let text = starter_card(
        &graph,
        &StarterOptions {
            model_path: relative_path(&card_dir, model),
            vocabulary,
            unknown,
        },
    )?;
    match out {
        Some(o) => {
            std::fs::write(o, &text).with_context(|| format!("writing {}", o.display()))?;
            eprintln!(
                "luigi: wrote {}; check the lines marked CHECK, then try `luigi inspect {} --corpus FILE`",
                o.display(),
                o.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn twin(model: &Path, out: &Path, seed: u64) -> Result<ExitCode> {
    use luigi_test::model::card::card_path_for;
    use luigi_test::model::twin::shuffled_twin;
    let is_onnx = model.extension().is_some_and(|e| e == "onnx");
    let card = if is_onnx {
        None
    } else {
        Some(luigi_test::model::Card::load(model)?)
    };
    let onnx = card
        .as_ref()
        .map(|c| c.model_path.clone())
        .unwrap_or_else(|| model.to_path_buf());
    if out.extension().is_none_or(|e| e != "onnx") {
        anyhow::bail!(
            "--out {}: name the twin's .onnx file (e.g. model-twin.onnx)",
            out.display()
        );
    }
    let twin_card = card_path_for(out);
    for p in std::iter::once(out).chain(card.as_ref().map(|_| twin_card.as_path())) {
        if p.exists() {
            anyhow::bail!(
                "{}: the file exists; luigi twin does not overwrite (remove it, or choose another --out)",
                p.display()
            );
        }
    }
    let bytes = std::fs::read(&onnx).with_context(|| format!("reading {}", onnx.display()))?;
    let t = shuffled_twin(&bytes, seed, &onnx.display().to_string())?;
    std::fs::write(out, &t.bytes).with_context(|| format!("writing {}", out.display()))?;
    let shuffled: Vec<_> = t.tensors.iter().filter(|x| x.shuffled).collect();
    println!(
        "wrote {}: {} weight tensors shuffled ({} entries), seed {seed}",
        out.display(),
        shuffled.len(),
        shuffled.iter().map(|x| x.len).sum::<usize>()
    );
    for k in t.tensors.iter().filter(|x| !x.shuffled) {
        println!(
            "  kept `{}`: {}",
            k.name,
            k.kept_because.as_deref().unwrap_or("")
        );
    }
    if let Some(card) = card {
        let dir = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut file = card.file.clone();
        file.model = Some(PathBuf::from(relative_path(&dir, out)));
        file.untrained = None;
        if let Some(v) = &file.vocabulary.file {
            let abs = card.path.parent().unwrap_or(Path::new(".")).join(v);
            file.vocabulary.file = Some(PathBuf::from(relative_path(&dir, &abs)));
        }
        let yaml = file.to_yaml()?;
        let text = format!(
            "# Card of {}, the untrained-like twin of {} written by `luigi twin --seed {seed}`:\n\
             # every float32 weight tensor's entries shuffled. The interface is the original card's.\n{yaml}",
            out.file_name().map(|f| f.to_string_lossy()).unwrap_or_default(),
            onnx.display()
        );
        std::fs::write(&twin_card, text)
            .with_context(|| format!("writing {}", twin_card.display()))?;
        println!(
            "wrote {}; to use the twin as the untrained control, add to {}:\nuntrained: {}",
            twin_card.display(),
            card.path.display(),
            relative_path(card.path.parent().unwrap_or(Path::new(".")), out)
        );
    }
    Ok(ExitCode::SUCCESS)
}
