//! Probe fitting speed against scikit-learn, on the same data and split.
//!
//! `cargo bench -p luigi-test --bench probe`
//!
//! Generates a synthetic layer (fixed seed, 50,000 rows × 128 units, 1,000
//! sequences of 50 steps) with a binary and a 5-class label, fits Luigi's
//! probe (`probe::fit`, no controls, no bootstrap: standardise, fit, predict
//! the held-out sequences), writes the same data and split to a temporary
//! folder and runs `tests/data/probe/bench_sklearn.py` on it
//! (StandardScaler + LogisticRegression, lbfgs, same C, tol and max_iter).
//! Prints best-of-3 wall and CPU time, held-out accuracy (and whether it
//! is within 0.001 of scikit-learn's, issue 20's bar; `acc (opt)` is scikit-learn's
//! at tol=1e-8, where both optimisers are heading), and the time ratios.
//!
//! Both sides run on one thread by default (Luigi: `MATMUL_NUM_THREADS=1`
//! and a one-thread rayon pool; scikit-learn: one BLAS thread); scikit-learn
//! is also timed with its default BLAS threads. Set `MATMUL_NUM_THREADS`
//! yourself to let Luigi's matrix products use more threads.
//! `LUIGI_BENCH_ROWS` shrinks the data for a quick run.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use luigi_test::probe::{self, Controls, Evaluation, Labels, ProbeConfig};
use luigi_test::RowIndex;
use ndarray::{Array1, Array2, ShapeBuilder};

const UNITS: usize = 128;
const SEQ_LEN: usize = 50;
const LATENT: usize = 16;
const REPS: usize = 3;

/// SplitMix64, so the data does not depend on any crate's RNG.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// A layer whose 128 correlated units mix 16 latent factors plus noise; the
/// label is the arg-max of a noisy linear read-out of the factors.
fn synthetic(rows: usize, classes: usize, seed: u64) -> (Array2<f32>, RowIndex, Vec<usize>) {
    let mut rng = Rng(seed);
    let mixing = Array2::from_shape_fn((LATENT, UNITS), |_| rng.normal());
    let readout = Array2::from_shape_fn((LATENT, classes), |_| rng.normal() * 0.6);
    let mut x = Array2::<f32>::zeros((rows, UNITS));
    let mut index = RowIndex::default();
    let mut y = Vec::with_capacity(rows);
    for i in 0..rows {
        let z = Array1::from_shape_fn(LATENT, |_| rng.normal());
        let row = z.dot(&mixing);
        for (dst, v) in x.row_mut(i).iter_mut().zip(row.iter()) {
            *dst = (v + 2.0 * rng.normal()) as f32;
        }
        let scores = z.dot(&readout);
        let mut best = 0;
        let mut best_v = f64::NEG_INFINITY;
        for (c, s) in scores.iter().enumerate() {
            let v = s + 1.5 * rng.normal();
            if v > best_v {
                best_v = v;
                best = c;
            }
        }
        y.push(best);
        index.sequence.push((i / SEQ_LEN) as u32);
        index.position.push((i % SEQ_LEN) as u32);
        index.token.push((rng.next() % 50) as i64);
    }
    (x, index, y)
}

/// CPU seconds used by this process so far (all threads), from /proc.
fn cpu_seconds() -> f64 {
    let mut total = 0u64;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for entry in dir.flatten() {
            if let Ok(s) = std::fs::read_to_string(entry.path().join("schedstat")) {
                total += s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
    }
    total as f64 * 1e-9
}

fn write_bytes(path: &Path, bytes: impl Iterator<Item = u8>) {
    let data: Vec<u8> = bytes.collect();
    std::fs::write(path, data).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

struct Timing {
    wall: f64,
    cpu: f64,
    accuracy: f64,
}

fn time_luigi(x: &Array2<f32>, index: &RowIndex, labels: &Labels, config: &ProbeConfig) -> Timing {
    let mut best = Timing {
        wall: f64::INFINITY,
        cpu: f64::INFINITY,
        accuracy: 0.0,
    };
    for _ in 0..REPS {
        let (w, c) = (Instant::now(), cpu_seconds());
        let report = probe::fit(x.view(), index, labels, None, config).expect("probe fit");
        best.wall = best.wall.min(w.elapsed().as_secs_f64());
        best.cpu = best.cpu.min(cpu_seconds() - c);
        best.accuracy = report.probe.accuracy.value;
        if !report.flags.is_empty() {
            eprintln!("note: probe report flags {:?}", report.flags);
        }
    }
    best
}

/// ndarray's two products as linfa-logistic (the probes' former solver, now
/// their test reference) computed them per evaluation, on a column-major
/// f64 matrix of the bench's size (ms per call, CPU time).
fn kernels(x: &Array2<f32>) -> (f64, f64) {
    let mut xf = Array2::<f64>::zeros(x.dim().f());
    xf.zip_mut_with(x, |a, b| *a = f64::from(*b));
    let w = Array2::<f64>::from_elem((x.ncols(), 1), 0.01);
    let r = Array1::<f64>::from_elem(x.nrows(), 0.5);
    let reps = 20;
    let c = cpu_seconds();
    for _ in 0..reps {
        std::hint::black_box(xf.dot(&w));
    }
    let fwd = (cpu_seconds() - c) / reps as f64;
    let c = cpu_seconds();
    for _ in 0..reps {
        std::hint::black_box(xf.t().dot(&r));
    }
    let bwd = (cpu_seconds() - c) / reps as f64;
    (fwd * 1e3, bwd * 1e3)
}

fn main() {
    if std::env::var_os("MATMUL_NUM_THREADS").is_none() {
        std::env::set_var("MATMUL_NUM_THREADS", "1");
    }
    let rows: usize = std::env::var("LUIGI_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("rayon pool");
    let dir = tempfile::tempdir().expect("temporary folder");
    // LUIGI_BENCH_KEEP=folder keeps a copy of the data written for scikit-learn.
    let keep = std::env::var_os("LUIGI_BENCH_KEEP");
    let config = ProbeConfig {
        seed: 7,
        evaluation: Evaluation::HoldOut { test_fraction: 0.2 },
        bootstrap_resamples: 0,
        controls: Controls::none(),
        ..ProbeConfig::default()
    };
    let datasets = [("binary", 2usize), ("5-class", 5usize)];
    let mut luigi = Vec::new();
    for (name, classes) in datasets {
        let (x, index, y) = synthetic(rows, classes, 1234 + classes as u64);
        let folds = probe::folds(&index.sequence, config.evaluation, config.seed).expect("split");
        write_bytes(
            &dir.path().join(format!("x_{name}.f32")),
            x.iter().flat_map(|v| v.to_le_bytes()),
        );
        write_bytes(
            &dir.path().join(format!("y_{name}.i64")),
            y.iter().flat_map(|v| (*v as i64).to_le_bytes()),
        );
        write_bytes(
            &dir.path().join(format!("test_{name}.i64")),
            folds[0].test.iter().flat_map(|v| (*v as i64).to_le_bytes()),
        );
        let names = (0..classes).map(|c| c.to_string()).collect();
        let labels = Labels::from_classes(y, names).expect("labels");
        let t = pool.install(|| time_luigi(&x, &index, &labels, &config));
        let k = if name == "binary" {
            Some(kernels(&x))
        } else {
            None
        };
        luigi.push((name, t, k));
    }
    let meta = serde_json::json!({
        "rows": rows,
        "units": UNITS,
        "datasets": datasets.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
    });
    std::fs::write(dir.path().join("meta.json"), meta.to_string()).expect("meta.json");
    if let Some(keep) = &keep {
        std::fs::create_dir_all(keep).expect("LUIGI_BENCH_KEEP folder");
        for entry in std::fs::read_dir(dir.path())
            .expect("temporary folder")
            .flatten()
        {
            std::fs::copy(entry.path(), Path::new(keep).join(entry.file_name())).expect("copy");
        }
    }

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/probe/bench_sklearn.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(dir.path())
        .arg(REPS.to_string())
        .output();
    let sklearn: Option<serde_json::Value> = match output {
        Ok(o) if o.status.success() => serde_json::from_slice(&o.stdout).ok(),
        Ok(o) => {
            eprintln!(
                "scikit-learn side failed:\n{}",
                String::from_utf8_lossy(&o.stderr)
            );
            None
        }
        Err(e) => {
            eprintln!("python3 not runnable ({e}); printing Luigi's numbers only");
            None
        }
    };

    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "probe fit, {rows} rows x {UNITS} units, hold-out 20% of sequences, best of {REPS} (one thread unless noted)"
    );
    let _ = writeln!(
        out,
        "{:<8} {:>10} {:>10} | {:>10} {:>10} {:>5} | {:>12} | {:>8} {:>8} | {:>7} {:>7} {:>6} {:>9}",
        "data", "luigi wall", "luigi cpu", "sk wall", "sk cpu", "iters", "sk wall (mt)", "wall x", "cpu x", "acc L", "acc sk", "equal", "acc (opt)"
    );
    for (name, t, _) in &luigi {
        let sk = sklearn.as_ref().map(|v| &v["datasets"][*name]);
        let get = |k: &str, f: &str| sk.and_then(|s| s[k][f].as_f64()).unwrap_or(f64::NAN);
        let (sw, sc, sa) = (
            get("one_thread", "wall_s"),
            get("one_thread", "cpu_s"),
            get("one_thread", "accuracy"),
        );
        let iters = get("one_thread", "iterations");
        let smt = get("default_threads", "wall_s");
        let best_sk_wall = sw.min(smt);
        let optimum = sk
            .and_then(|s| s["optimum_accuracy"].as_f64())
            .unwrap_or(f64::NAN);
        // Issue 20's bar: held-out accuracies within 0.001 of each other.
        let equal = (t.accuracy - sa).abs() <= 0.001 + 1e-12;
        let _ = writeln!(
            out,
            "{:<8} {:>9.3}s {:>9.3}s | {:>9.3}s {:>9.3}s {:>5} | {:>11.3}s | {:>7.2}x {:>7.2}x | {:>7.4} {:>7.4} {:>6} {:>9.4}",
            name,
            t.wall,
            t.cpu,
            sw,
            sc,
            iters,
            smt,
            t.wall / best_sk_wall,
            t.cpu / sc,
            t.accuracy,
            sa,
            if equal { "yes" } else { "NO" },
            optimum
        );
    }
    if let Some((_, _, Some((fwd, bwd)))) = luigi.first() {
        let np = |k: &str| {
            sklearn
                .as_ref()
                .and_then(|v| v["kernels_ms"][k].as_f64())
                .unwrap_or(f64::NAN)
        };
        let _ = writeln!(
            out,
            "per-evaluation products at {rows} x {UNITS} f64 (CPU ms): ndarray X.w (n x 1 matrix product, as linfa-logistic computed it) {fwd:.2}, X^T.r {bwd:.2}; numpy X@w {:.2}, X.T@r {:.2}",
            np("x_w"),
            np("xt_r")
        );
        let _ = writeln!(
            out,
            "Luigi's L-BFGS reads X once per evaluation (X.w and X^T.r fused over row blocks), about one evaluation per iteration; linfa-logistic's (the test reference) evaluated >= 3 X.w and 2 X^T.r per iteration; scipy's 1 of each"
        );
    }
}
