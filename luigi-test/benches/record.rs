//! Recording speed against Python `onnxruntime` on the same model, corpus and
//! batch size, in one run. `cargo bench -p luigi-test --bench record`
//! (LUIGI_BENCH_MODELS=synthetic,cmodel chooses the models,
//! LUIGI_BENCH_BATCHES=1,32,256 the batch sizes, LUIGI_BENCH_PAIRS the
//! number of timed rounds per batch size, 20 by default).
//!
//! Two models:
//! - `synthetic`: a 128-unit LSTM over a one-hot vocabulary of 100 (random
//!   weights) whose only head is a transpose, on 800 random lines of 256
//!   characters (204,800 timesteps). Luigi records the LSTM's `Y`; Python
//!   runs the model with `Y` added as a graph output.
//! - `cmodel`: the example C model (examples/cmodel: int64 ids, LSTM(128),
//!   a 98-way logits head), on examples/cmodel/eval.c three times over in
//!   windows of 256 characters (202,653 timesteps). Luigi records the
//!   card's `lstm` layer; Python fetches the same graph output `hidden` from
//!   the model file as it is.
//!
//! Both sides start from the corpus's characters (read once, before
//! timing): they map characters to ids (and ids to one-hot rows), run the
//! model and copy every timestep's 128 units out of ONNX Runtime's output
//! into row-major per-sequence blocks (Luigi: `Model::record_each`, which
//! streams chunks and reuses their buffers; Python: one contiguous array per
//! sequence).
//!
//! Python runs as one long-lived process (`record_bench.py serve`) with its
//! sessions made once, as Luigi's is; each side is warmed up with one pass.
//! Then the bench times rounds of three passes back to back, in orders
//! taken in turn from the six possible ones (`ORDERS`): Luigi; Python on the model as it comes;
//! Python on the graph cut by `onnx.utils.extract_model` to the nodes the
//! recorded tensor needs (Luigi makes that cut itself: ONNX Runtime runs
//! every node of a graph whichever outputs are fetched). The speed of a
//! shared 2-core machine drifts by ±20% over seconds, so the figures to read
//! are medians of per-round ratios (passes a fraction of a second apart see
//! the same machine), the first with its interquartile range:
//! - `vs model`: Python on the model as it comes / Luigi;
//! - `vs cut`: Python on the cut graph / Luigi, the strictest comparison;
//! - `vs run`: Python on the model as it comes, less its characters-to-ids
//!   step (timed inside Python), / Luigi.
//!
//! Each side's best pass (timesteps/s) is printed too.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use luigi_test::model::{Model, RecordOptions};
use luigi_test::{Corpus, CorpusFormat};

/// Timed rounds per batch size, unless LUIGI_BENCH_PAIRS says otherwise.
const PAIRS: usize = 24;

/// The orders of a round's three passes (0: Luigi, 1: Python on the model,
/// 2: Python on the cut graph), taken in turn: over every 6 rounds each
/// pass follows each other pass equally often. (A pass runs faster right
/// after a pass of its own process, whose memory is still in the caches;
/// a fixed order would always put the cut graph right after Python's other
/// pass.)
const ORDERS: [[usize; 3]; 6] = [
    [0, 1, 2],
    [1, 2, 0],
    [2, 0, 1],
    [0, 2, 1],
    [2, 1, 0],
    [1, 0, 2],
];

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
    fn start(dir: &str, model: &str, batch: usize) -> (Python, usize) {
        let mut child = Command::new("python3")
            .arg(script())
            .args(["serve", dir, model, &batch.to_string()])
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

    /// One timed pass of `which` (`run`: the model as it comes; `cut`: the
    /// cut graph), measured inside Python: (seconds of the whole pass,
    /// seconds of its characters-to-ids step).
    fn pass(&mut self, which: &str) -> (f64, f64) {
        writeln!(self.stdin, "{which}").expect("writes python");
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

/// A model of the bench with its corpus and the layer Luigi records.
struct Case {
    name: String,
    model: Model,
    corpus: Corpus,
    layer: &'static str,
}

fn case(name: &str, dir: &Path) -> Case {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/cmodel");
    match name {
        "synthetic" => Case {
            name: name.to_string(),
            model: Model::load(dir.join("bench.luigi.yaml")).expect("bench model loads"),
            corpus: Corpus::load(dir.join("corpus.txt"), CorpusFormat::Lines).expect("corpus"),
            layer: "lstm",
        },
        "cmodel" => {
            let text = std::fs::read_to_string(examples.join("eval.c")).expect("reads eval.c");
            Case {
                name: name.to_string(),
                model: Model::load(examples.join("cmodel.luigi.yaml")).expect("C model loads"),
                corpus: Corpus::from_text_windows("eval.c x3", &text.repeat(3), 256)
                    .expect("corpus"),
                layer: "lstm",
            }
        }
        other => panic!("LUIGI_BENCH_MODELS: unknown model `{other}` (synthetic, cmodel)"),
    }
}

fn list(var: &str, default: &str) -> Vec<String> {
    std::env::var(var)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
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
    let batches: Vec<usize> = list("LUIGI_BENCH_BATCHES", "1,32,256")
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let pairs: usize = std::env::var("LUIGI_BENCH_PAIRS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(PAIRS);
    println!(
        "{:>9} {:>6} {:>11} {:>11}   {:>8} {:>14}   {:>6}   {:>6}",
        "model", "batch", "luigi ts/s", "python ts/s", "vs model", "IQR", "vs cut", "vs run"
    );
    for name in list("LUIGI_BENCH_MODELS", "synthetic,cmodel") {
        let case = case(&name, dir.path());
        for &batch in &batches {
            bench(&case, d, batch, pairs);
        }
    }
}

/// Times `pairs` rounds of one model at one batch size and prints a row.
fn bench(case: &Case, dir: &str, batch: usize, pairs: usize) {
    let (model, corpus) = (&case.model, &case.corpus);
    let opts = RecordOptions {
        batch_size: batch,
        ..RecordOptions::default()
    };
    let luigi = || {
        let t0 = Instant::now();
        let mut rows = 0usize;
        model
            .record_each(corpus, &[case.layer], &opts, |c| {
                rows += c.layers[0].n_rows();
                Ok(())
            })
            .expect("records");
        assert_eq!(rows, corpus.timesteps());
        t0.elapsed().as_secs_f64()
    };
    let (mut py, total) = Python::start(dir, &case.name, batch);
    assert_eq!(
        total,
        corpus.timesteps(),
        "both sides record the same corpus"
    );
    // warm-up: Luigi's first pass creates its session
    luigi();
    py.pass("run");
    py.pass("cut");
    let (mut best, mut py_best) = (f64::INFINITY, f64::INFINITY);
    let (mut vs_model, mut vs_cut, mut vs_run) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..pairs {
        let (mut l, mut p, mut c) = (0.0, (0.0, 0.0), (0.0, 0.0));
        for k in ORDERS[i % ORDERS.len()] {
            match k {
                0 => l = luigi(),
                1 => p = py.pass("run"),
                _ => c = py.pass("cut"),
            }
        }
        best = best.min(l);
        py_best = py_best.min(p.0);
        // timesteps/s ratio = Python seconds / Luigi seconds
        vs_model.push(p.0 / l);
        vs_cut.push(c.0 / l);
        vs_run.push((p.0 - p.1) / l);
    }
    for v in [&mut vs_model, &mut vs_cut, &mut vs_run] {
        v.sort_by(f64::total_cmp);
    }
    let ts = corpus.timesteps() as f64;
    println!(
        "{:>9} {batch:>6} {:>11.0} {:>11.0}   {:>8.2}   [{:.2}, {:.2}]   {:>6.2}   {:>6.2}",
        case.name,
        ts / best,
        ts / py_best,
        quantile(&vs_model, 0.5),
        quantile(&vs_model, 0.25),
        quantile(&vs_model, 0.75),
        quantile(&vs_cut, 0.5),
        quantile(&vs_run, 0.5),
    );
}
