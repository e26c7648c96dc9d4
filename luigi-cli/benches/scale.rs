//! Scale: `luigi inspect --layer all` on a 12-layer, 768-wide transformer
//! (GPT-2 small's shape, random weights) over about 100,000 tokens, against
//! Python onnxruntime extracting the same 12 tensors.
//!
//! `cargo bench -p luigi-cli --bench scale` (needs python3 with torch, onnx,
//! onnxruntime and numpy; the model is written once into `target/scale` by
//! `examples/scale/make_model.py`, about 350 MB).
//!
//! It runs, in this order:
//! 1. `luigi inspect target/scale/gpt12.luigi.yaml --corpus C --window 1024
//!    --layer all --hypotheses examples/cmodel/claims.yaml --fast` on a
//!    quarter of the tokens, then on all of them: 12 × 768 = 9,216 units
//!    recorded in one pass and scored against 16 hypotheses, streaming (no
//!    activation is kept past its chunk);
//! 2. `python3 examples/scale/ort_extract.py` on all the tokens: one
//!    onnxruntime session fetching the 12 residual streams in batches of 4
//!    windows, a running sum per unit.
//!
//! It prints wall time and peak resident memory (`/usr/bin/time`) of each,
//! Luigi's time over Python's, and whether Luigi's peak stays the same
//! when the tokens quadruple (memory bounded by the chunk, not the corpus).
//! The corpus is `examples/cmodel/eval.c` repeated to the length
//! (`LUIGI_SCALE_TOKENS`, default 102,400 = 100 windows of 1,024).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{root, timed, Run};

fn mb(r: &Run) -> String {
    r.peak_kb
        .map_or("?".to_string(), |kb| format!("{} MB", kb / 1000))
}

fn corpus(dir: &Path, tokens: usize) -> Result<PathBuf, String> {
    let text = std::fs::read_to_string(root().join("examples/cmodel/eval.c"))
        .map_err(|e| format!("reading eval.c: {e}"))?;
    let body: String = text.chars().cycle().take(tokens).collect();
    let p = dir.join(format!("corpus-{tokens}.txt"));
    std::fs::write(&p, body).map_err(|e| format!("writing {}: {e}", p.display()))?;
    Ok(p)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("scale bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let tokens: usize = std::env::var("LUIGI_SCALE_TOKENS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(102_400);
    let dir = root().join("target/scale");
    let card = dir.join("gpt12.luigi.yaml");
    if !card.exists() {
        println!("writing the model: python3 examples/scale/make_model.py --out target/scale");
        let ok = Command::new("python3")
            .args(["examples/scale/make_model.py", "--out", "target/scale"])
            .current_dir(root())
            .status()
            .map_err(|e| format!("python3: {e}"))?;
        if !ok.success() {
            return Err(
                "make_model.py failed (it needs torch and onnx: pip install torch onnx)".into(),
            );
        }
    }
    let exe = env!("CARGO_BIN_EXE_luigi");
    let luigi = |corpus: &Path| {
        let args: Vec<String> = [
            "inspect",
            card.to_str().unwrap_or_default(),
            "--corpus",
            corpus.to_str().unwrap_or_default(),
            "--window",
            "1024",
            "--layer",
            "all",
            "--hypotheses",
            "examples/cmodel/claims.yaml",
            "--fast",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        timed(exe, &args)
    };
    let quarter = corpus(&dir, tokens / 4)?;
    let full = corpus(&dir, tokens)?;
    println!(
        "12 layers x 768 units (9,216), windows of 1,024, 16 hypotheses; {} and {tokens} tokens",
        tokens / 4
    );
    let small = luigi(&quarter)?;
    println!(
        "  luigi inspect --layer all --fast, {:>6} tokens: {:>7.1} s  peak {}",
        tokens / 4,
        small.seconds,
        mb(&small)
    );
    let big = luigi(&full)?;
    println!(
        "  luigi inspect --layer all --fast, {tokens:>6} tokens: {:>7.1} s  peak {}",
        big.seconds,
        mb(&big)
    );
    let py_args: Vec<String> = [
        "examples/scale/ort_extract.py",
        dir.join("gpt12.onnx").to_str().unwrap_or_default(),
        full.to_str().unwrap_or_default(),
        "--window",
        "1024",
        "--batch",
        "4",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let py = timed("python3", &py_args)?;
    println!(
        "  python onnxruntime extraction,    {tokens:>6} tokens: {:>7.1} s  peak {}",
        py.seconds,
        mb(&py)
    );
    println!(
        "luigi / python time: {:.2}x; luigi peak with 4x the tokens: {}",
        big.seconds / py.seconds,
        match (small.peak_kb, big.peak_kb) {
            (Some(a), Some(b)) => format!(
                "{:.2}x ({} -> {} MB)",
                b as f64 / a as f64,
                a / 1000,
                b / 1000
            ),
            _ => "?".to_string(),
        }
    );
    Ok(())
}
