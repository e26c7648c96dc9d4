//! Recording speed against Python `onnxruntime` on the same model, corpus and
//! batch size, in one run. `cargo bench -p luigi-test --bench record`
//! (LUIGI_BENCH_BATCHES=1,32,256 chooses the batch sizes, LUIGI_BENCH_PAIRS
//! the number of timed pairs per batch size, 20 by default).
//!
//! The model is a 128-unit LSTM over a one-hot vocabulary of 100 (random
//! weights), the corpus 800 sequences of 256 characters (204,800 timesteps).
//! Both sides start from the corpus's characters (read once, before
//! timing): they map characters to ids and ids to one-hot rows, run the
//! model and copy every timestep's 128 units out of ONNX Runtime's output
//! into row-major per-sequence blocks (Luigi: `Model::record_each`, which
//! streams chunks and reuses their buffers; Python: one contiguous array per
//! sequence).
//!
//! Python runs as one long-lived process (`record_bench.py serve`) with its
//! session made once, as Luigi's is; each side is warmed up with one pass.
//! Then the bench times pairs of passes, one pass of each side back to back
//! (Luigi first in even pairs, Python first in odd ones). The speed of a
//! shared 2-core machine drifts by ±20% over seconds, so the figure to read
//! is the median of the per-pair ratios (two passes a fraction of a second
//! apart see the same machine), printed with its interquartile range; each
//! side's best pass and the ratio of the bests are printed too. The last
//! column compares Luigi's whole pass with Python's pass less its
//! characters-to-ids step (timed inside Python), that is with Python
//! given the ids for free: the stricter comparison.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use luigi_test::model::{Model, RecordOptions};
use luigi_test::{Corpus, CorpusFormat};

/// Timed pairs per batch size, unless LUIGI_BENCH_PAIRS says otherwise.
const PAIRS: usize = 20;

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/record_bench.py")
}

/// The Python side: a `record_bench.py serve` process for one batch size.
struct Python {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Python {
    fn start(dir: &str, batch: usize) -> (Python, usize) {
        let mut child = Command::new("python3")
            .arg(script())
            .args(["serve", dir, &batch.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut py = Python {
            child,
            stdin,
            stdout,
        };
        let total = py.line().parse().expect("python prints its timestep count");
        (py, total)
    }

    fn line(&mut self) -> String {
        let mut s = String::new();
        self.stdout.read_line(&mut s).expect("reads python");
        assert!(
            !s.is_empty(),
            "{:?} stopped (see its stderr above)",
            script()
        );
        s.trim().to_string()
    }

    /// One timed pass, measured inside Python: (seconds of the whole pass,
    /// seconds of its characters-to-ids step).
    fn pass(&mut self) -> (f64, f64) {
        writeln!(self.stdin, "run").expect("writes python");
        self.stdin.flush().expect("flushes python");
        let line = self.line();
        let mut it = line.split_whitespace().map(|w| w.parse::<f64>());
        match (it.next(), it.next()) {
            (Some(Ok(all)), Some(Ok(ids))) => (all, ids),
            _ => panic!("python printed {line:?}, not two numbers of seconds"),
        }
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.wait();
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().to_str().expect("utf-8 temp path");
    let made = Command::new("python3")
        .arg(script())
        .args(["make", d])
        .status()
        .expect("python3 runs");
    assert!(made.success(), "{:?} make failed", script());
    let model = Model::load(dir.path().join("bench.luigi.yaml")).expect("bench model loads");
    let corpus = Corpus::load(dir.path().join("corpus.txt"), CorpusFormat::Lines).expect("corpus");
    let batches: Vec<usize> = std::env::var("LUIGI_BENCH_BATCHES")
        .unwrap_or_else(|_| "1,32,256".to_string())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let pairs: usize = std::env::var("LUIGI_BENCH_PAIRS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(PAIRS);
    println!(
        "recording a 128-unit LSTM (one-hot vocabulary of 100), {} timesteps",
        corpus.timesteps()
    );
    println!(
        "{:>6} {:>12} {:>12} {:>10}   {:>6} {:>15}   {:>14}",
        "batch", "luigi ts/s", "python ts/s", "best/best", "median", "IQR", "median vs run"
    );
    for &batch in &batches {
        let opts = RecordOptions {
            batch_size: batch,
            ..RecordOptions::default()
        };
        let luigi = || {
            let t0 = Instant::now();
            let mut rows = 0usize;
            model
                .record_each(&corpus, &["lstm"], &opts, |c| {
                    rows += c.layers[0].n_rows();
                    Ok(())
                })
                .expect("records");
            assert_eq!(rows, corpus.timesteps());
            t0.elapsed().as_secs_f64()
        };
        let (mut py, total) = Python::start(d, batch);
        assert_eq!(
            total,
            corpus.timesteps(),
            "both sides record the same corpus"
        );
        // warm-up: Luigi's first pass creates its session
        luigi();
        py.pass();
        let (mut best, mut py_best) = (f64::INFINITY, f64::INFINITY);
        let mut ratios = Vec::with_capacity(pairs);
        let mut ratios_run = Vec::with_capacity(pairs);
        for i in 0..pairs {
            let (l, p) = if i % 2 == 0 {
                let l = luigi();
                (l, py.pass())
            } else {
                let p = py.pass();
                (luigi(), p)
            };
            let (p, p_ids) = p;
            best = best.min(l);
            py_best = py_best.min(p);
            // timesteps/s ratio of the pair = Python seconds / Luigi seconds
            ratios.push(p / l);
            ratios_run.push((p - p_ids) / l);
        }
        ratios.sort_by(f64::total_cmp);
        ratios_run.sort_by(f64::total_cmp);
        let ts = corpus.timesteps() as f64;
        println!(
            "{batch:>6} {:>12.0} {:>12.0} {:>10.2}   {:>6.2}    [{:.2}, {:.2}]   {:>14.2}",
            ts / best,
            ts / py_best,
            py_best / best,
            quantile(&ratios, 0.5),
            quantile(&ratios, 0.25),
            quantile(&ratios, 0.75),
            quantile(&ratios_run, 0.5),
        );
    }
}
