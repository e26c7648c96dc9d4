//! Recording speed against Python `onnxruntime` on the same model, corpus and
//! batch size, in one run. `cargo bench -p luigi-test --bench record`
//! (set LUIGI_BENCH_BATCHES=1,32,256 to choose batch sizes).
//!
//! The model is a 128-unit LSTM over a one-hot vocabulary of 100 (random
//! weights), the corpus 800 sequences of 256 characters (204,800 timesteps).
//! Both sides encode the characters, run the model and copy every
//! timestep's 128 units out of ONNX Runtime's output into row-major
//! per-sequence blocks (Luigi: `Model::record_each`, which streams chunks
//! and reuses their buffers; Python: one contiguous array per sequence).
//!
//! Rounds alternate Luigi and Python (5 rounds; LUIGI_BENCH_ROUNDS sets
//! another count); in each round each side runs twice (Python after
//! creating its session, Luigi on its warm session) and keeps its better
//! run: the same number of tries for both, because run times on a shared
//! 2-core machine vary by ±20%. Printed: each side's best over all rounds
//! and their ratio, then the median and the range of the per-round ratios
//! (a round's two sides run back to back, so its ratio is the least
//! disturbed by load that comes and goes).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use luigi_test::model::{Model, RecordOptions};
use luigi_test::{Corpus, CorpusFormat};

/// Alternating rounds per batch size, unless LUIGI_BENCH_ROUNDS says otherwise.
const ROUNDS: usize = 5;

fn python(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/record_bench.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python3 {script:?} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().to_str().expect("utf-8 temp path");
    python(&["make", d]);
    let model = Model::load(dir.path().join("bench.luigi.yaml")).expect("bench model loads");
    let corpus = Corpus::load(dir.path().join("corpus.txt"), CorpusFormat::Lines).expect("corpus");
    let batches: Vec<usize> = std::env::var("LUIGI_BENCH_BATCHES")
        .unwrap_or_else(|_| "1,32,256".to_string())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rounds: usize = std::env::var("LUIGI_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(ROUNDS);
    println!(
        "recording a 128-unit LSTM (one-hot vocabulary of 100), {} timesteps",
        corpus.timesteps()
    );
    println!(
        "{:>6} {:>16} {:>16} {:>8}   per-round ratio: median [min, max] over {rounds} rounds",
        "batch", "luigi ts/s", "python ts/s", "ratio"
    );
    for &batch in &batches {
        let opts = RecordOptions {
            batch_size: batch,
            ..RecordOptions::default()
        };
        // warm-up creates the session
        model
            .record_each(&corpus, &["lstm"], &opts, |_| Ok(()))
            .expect("records");
        // Rounds alternate Luigi and Python so that a busy machine slows both alike;
        // each side reports its best round.
        let (mut best, mut py_best) = (f64::INFINITY, f64::INFINITY);
        let mut total = 0.0;
        let mut ratios = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let mut round = f64::INFINITY;
            // Best of 2 runs, as each Python round is: both sides get the
            // same number of tries.
            for _ in 0..2 {
                let t0 = Instant::now();
                let mut rows = 0usize;
                model
                    .record_each(&corpus, &["lstm"], &opts, |c| {
                        rows += c.layers[0].n_rows();
                        Ok(())
                    })
                    .expect("records");
                round = round.min(t0.elapsed().as_secs_f64());
                assert_eq!(rows, corpus.timesteps());
            }
            let py_out = python(&["time", d, &batch.to_string()]);
            let mut it = py_out.split_whitespace();
            total = it
                .next()
                .and_then(|s| s.parse().ok())
                .expect("python total");
            let secs: f64 = it
                .next()
                .and_then(|s| s.parse().ok())
                .expect("python seconds");
            assert_eq!(
                total as usize,
                corpus.timesteps(),
                "both sides record the same corpus"
            );
            best = best.min(round);
            py_best = py_best.min(secs);
            // timesteps/s ratio of the round = Python seconds / Luigi seconds
            ratios.push(secs / round);
        }
        let rust = corpus.timesteps() as f64 / best;
        let py = total / py_best;
        ratios.sort_by(f64::total_cmp);
        let n = ratios.len();
        let median = if n % 2 == 1 {
            ratios[n / 2]
        } else {
            (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0
        };
        println!(
            "{batch:>6} {rust:>16.0} {py:>16.0} {:>8.2}   {median:.2} [{:.2}, {:.2}]",
            rust / py,
            ratios[0],
            ratios[n - 1]
        );
    }
}
