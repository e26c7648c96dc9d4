//! Benchmark of the streaming score engine against numpy's best form.
//!
//! `cargo bench -p luigi-test --bench score`
//!
//! Generates T timesteps × U units and K hypotheses (half binary, half
//! numeric; fixed seed) chunk by chunk, never holding them in memory, and
//! streams them through the engine twice: all-pairs Pearson, then all-pairs
//! mutual information. The same data is written to raw f32 files and numpy
//! computes Pearson r in its best form (one f32 GEMM on the raw data plus a
//! mean correction); only that computation is timed.
//!
//! Sizes: `LUIGI_BENCH_T` (200000), `LUIGI_BENCH_U` (1024), `LUIGI_BENCH_K`
//! (1000), `LUIGI_BENCH_CHUNK` (4096 rows per update). Pearson runs of the
//! engine and of numpy alternate `LUIGI_BENCH_REPEAT` (3) times and each
//! keeps its best time, because the machine may be shared. `LUIGI_BENCH_DIR`
//! chooses where the raw files go (default: a temporary folder, removed at
//! the end); `LUIGI_BENCH_NUMPY=0` skips numpy, `LUIGI_BENCH_MI=0` the MI run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use luigi_test::hypothesis::HypothesisKind;
use luigi_test::score::{Engine, Metric, ScoreConfig};
use ndarray::Array2;

const SEQ_LEN: usize = 200;

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number")),
        Err(_) => default,
    }
}

/// Deterministic synthetic data, produced chunk by chunk.
struct Generator {
    rng: u64,
    t: usize,
    row: usize,
    u: usize,
    k: usize,
    /// Current value of each hypothesis (Markov state / random walk).
    state: Vec<f32>,
}

impl Generator {
    fn new(t: usize, u: usize, k: usize) -> Self {
        Generator {
            rng: 0x1234_5678_9ABC_DEF1,
            t,
            row: 0,
            u,
            k,
            state: vec![0.0; k],
        }
    }

    #[inline]
    fn uniform(&mut self) -> f32 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let x = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Next chunk: (activations, hypotheses, sequence ids), or None at the end.
    fn next_chunk(&mut self, rows: usize) -> Option<(Array2<f32>, Array2<f32>, Vec<u32>)> {
        let rows = rows.min(self.t - self.row);
        if rows == 0 {
            return None;
        }
        let mut hyps = Array2::<f32>::zeros((rows, self.k));
        let mut acts = Array2::<f32>::zeros((rows, self.u));
        let mut seq = Vec::with_capacity(rows);
        for i in 0..rows {
            let r = self.row + i;
            if r.is_multiple_of(SEQ_LEN) {
                self.state.iter_mut().for_each(|s| *s = 0.0);
            }
            seq.push((r / SEQ_LEN) as u32);
            for j in 0..self.k {
                let x = self.uniform();
                let s = &mut self.state[j];
                if j % 2 == 0 {
                    // binary: switches with probability 0.1
                    if x < 0.1 {
                        *s = 1.0 - *s;
                    }
                } else {
                    // numeric: a counter that goes up and down
                    *s = (*s + if x < 0.5 { 1.0 } else { -1.0 }).max(0.0);
                }
                hyps[[i, j]] = *s;
            }
            for j in 0..self.u {
                let noise = self.uniform() + self.uniform() - 1.0;
                let signal = if j % 4 == 0 {
                    hyps[[i, (j / 4) % self.k]]
                } else {
                    0.0
                };
                acts[[i, j]] = 0.1 * j as f32 + signal + noise;
            }
        }
        self.row += rows;
        Some((acts, hyps, seq))
    }
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn write_f32(f: &mut impl Write, a: &Array2<f32>) {
    let mut bytes = Vec::with_capacity(a.len() * 4);
    for v in a.iter() {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    f.write_all(&bytes).expect("write raw data");
}

fn stream(
    t: usize,
    u: usize,
    k: usize,
    chunk: usize,
    cfg: ScoreConfig,
    mut sink: Option<(&mut std::fs::File, &mut std::fs::File)>,
) -> (Duration, Duration, luigi_test::score::Scores) {
    let units: Vec<String> = (0..u).map(|j| format!("u{j}")).collect();
    let hyps: Vec<(String, HypothesisKind)> = (0..k)
        .map(|j| {
            let kind = if j % 2 == 0 {
                HypothesisKind::Binary
            } else {
                HypothesisKind::Numeric
            };
            (format!("h{j}"), kind)
        })
        .collect();
    let mut engine = Engine::new(units, hyps, cfg).expect("engine");
    let mut update = Duration::ZERO;
    let mut gen = Generator::new(t, u, k);
    while let Some((acts, hv, seq)) = gen.next_chunk(chunk) {
        if let Some((fa, fh)) = sink.as_mut() {
            write_f32(*fa, &acts);
            write_f32(*fh, &hv);
        }
        let start = Instant::now();
        engine.update(acts.view(), hv.view(), &seq).expect("update");
        update += start.elapsed();
    }
    let start = Instant::now();
    let scores = engine.finish().expect("finish");
    (update, start.elapsed(), scores)
}

const NUMPY: &str = r#"
import sys, time, resource
import numpy as np
d, T, U, K, R, EXACT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "1"
X = np.fromfile(d + "/acts.f32", dtype=np.float32).reshape(T, U)
H = np.fromfile(d + "/hyps.f32", dtype=np.float32).reshape(T, K)
best = float("inf")
for _ in range(R):
    t0 = time.perf_counter()
    sx = X.sum(axis=0, dtype=np.float64)
    sh = H.sum(axis=0, dtype=np.float64)
    C = X.T @ H
    cov = C.astype(np.float64) - np.outer(sx, sh) / T
    vx = np.einsum("ij,ij->j", X, X).astype(np.float64) - sx * sx / T
    vh = np.einsum("ij,ij->j", H, H).astype(np.float64) - sh * sh / T
    r = cov / np.sqrt(np.outer(vx, vh))
    best = min(best, time.perf_counter() - t0)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if EXACT:
    r.astype(np.float32).tofile(d + "/r_numpy.f32")
    # Exact reference (float64, two-pass) for the first 8 and the last 8 units
    # (the last have the largest offsets).
    cols = sorted(set(list(range(min(8, U))) + list(range(max(0, U - 8), U))))
    Xs = X[:, cols].astype(np.float64); Xs -= Xs.mean(axis=0)
    Hd = H.astype(np.float64); Hd -= Hd.mean(axis=0)
    r64 = (Xs.T @ Hd) / np.sqrt(np.outer((Xs * Xs).sum(axis=0), (Hd * Hd).sum(axis=0)))
    r64.tofile(d + "/r_exact.f64")
print(f"numpy_pearson_s={best:.4f}")
print(f"numpy_peak_rss_mb={rss:.1f}")
"#;

struct NumpyRun {
    secs: f64,
    rss_mb: f64,
    r: Vec<f32>,
    /// Float64 two-pass r of the first 8 and last 8 units.
    exact: Vec<f64>,
}

/// One numpy run (its own best of `repeat`); `exact` also writes numpy's r
/// and the float64 reference.
fn run_numpy(
    dir: &Path,
    t: usize,
    u: usize,
    k: usize,
    repeat: usize,
    exact: bool,
) -> Option<NumpyRun> {
    let script = dir.join("pearson_numpy.py");
    std::fs::write(&script, NUMPY).ok()?;
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(dir)
        .args([
            t.to_string(),
            u.to_string(),
            k.to_string(),
            repeat.to_string(),
            if exact { "1" } else { "0" }.to_string(),
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        eprintln!("numpy failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    if !exact {
        return Some(NumpyRun {
            secs: get("numpy_pearson_s=")?,
            rss_mb: get("numpy_peak_rss_mb=")?,
            r: Vec::new(),
            exact: Vec::new(),
        });
    }
    let bytes = std::fs::read(dir.join("r_numpy.f32")).ok()?;
    let r = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let bytes = std::fs::read(dir.join("r_exact.f64")).ok()?;
    let exact = bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
        .collect();
    Some(NumpyRun {
        secs: get("numpy_pearson_s=")?,
        rss_mb: get("numpy_peak_rss_mb=")?,
        r,
        exact,
    })
}

fn main() {
    let t = env_usize("LUIGI_BENCH_T", 200_000);
    let u = env_usize("LUIGI_BENCH_U", 1024);
    let k = env_usize("LUIGI_BENCH_K", 1000);
    let chunk = env_usize("LUIGI_BENCH_CHUNK", 4096);
    let repeat = env_usize("LUIGI_BENCH_REPEAT", 3).max(1);
    let use_numpy = std::env::var("LUIGI_BENCH_NUMPY").map_or(true, |v| v != "0");
    let (dir, temp): (PathBuf, bool) = match std::env::var("LUIGI_BENCH_DIR") {
        Ok(d) => (PathBuf::from(d), false),
        Err(_) => (
            std::env::temp_dir().join(format!("luigi-score-bench-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir).expect("bench folder");
    println!(
        "score bench: T={t} U={u} K={k} chunk={chunk} best of {repeat} ({:.2} GB of activations, streamed)",
        (t * u * 4) as f64 / 1e9
    );
    println!(
        "matrixmultiply threads: {}, rayon threads: {}",
        std::env::var("MATMUL_NUM_THREADS").unwrap_or_else(|_| "default (physical cores)".into()),
        rayon::current_num_threads()
    );

    // Pearson (and p/q) through the streaming engine; data written for numpy.
    // r only (what numpy computes); p- and q-values are timed separately.
    let pearson_cfg = ScoreConfig::default()
        .metrics(&[Metric::Pearson])
        .significance(false);
    let (mut fa, mut fh) = if use_numpy {
        (
            Some(std::fs::File::create(dir.join("acts.f32")).expect("acts file")),
            Some(std::fs::File::create(dir.join("hyps.f32")).expect("hyps file")),
        )
    } else {
        (None, None)
    };
    let sink = match (fa.as_mut(), fh.as_mut()) {
        (Some(a), Some(h)) => Some((a, h)),
        _ => None,
    };
    let (mut p_update, mut p_finish, mut pearson) =
        stream(t, u, k, chunk, pearson_cfg.clone(), sink);
    drop((fa, fh));
    // This machine is shared: engine and numpy runs alternate, and each
    // keeps its best time.
    let mut numpy: Option<NumpyRun> = None;
    for rep in 0..repeat {
        if use_numpy {
            if let Some(run) = run_numpy(&dir, t, u, k, 1, rep == 0) {
                numpy = Some(match numpy {
                    Some(mut best) => {
                        best.secs = best.secs.min(run.secs);
                        best
                    }
                    None => run,
                });
            }
        }
        if rep + 1 < repeat {
            let (a, b, s) = stream(t, u, k, chunk, pearson_cfg.clone(), None);
            if a + b < p_update + p_finish {
                (p_update, p_finish, pearson) = (a, b, s);
            }
        }
    }
    let p_total = p_update + p_finish;
    let start = Instant::now();
    pearson.add_significance();
    let sig = start.elapsed();
    let rss_pearson = peak_rss_mb();

    // Mutual information alone.
    let run_mi = std::env::var("LUIGI_BENCH_MI").map_or(true, |v| v != "0");
    let mi_cfg = ScoreConfig::default().metrics(&[Metric::MutualInfo]);
    let (m_update, m_finish, mi) = if run_mi {
        let (a, b, s) = stream(t, u, k, chunk, mi_cfg, None);
        (a, b, Some(s))
    } else {
        (Duration::ZERO, Duration::ZERO, None)
    };
    let m_total = m_update + m_finish;
    let rss = peak_rss_mb();

    let flops = 2.0 * t as f64 * u as f64 * k as f64;
    println!();
    println!(
        "engine Pearson r: {:.3} s (stream {:.3} s + finish {:.3} s), {:.1} GFLOP/s",
        p_total.as_secs_f64(),
        p_update.as_secs_f64(),
        p_finish.as_secs_f64(),
        flops / p_total.as_secs_f64() / 1e9
    );
    println!(
        "engine p- and q-values for all {} pairs: {:.3} s more",
        u * k,
        sig.as_secs_f64()
    );
    println!(
        "engine MI:      {:.3} s (stream {:.3} s + finish {:.3} s) = {:.2}x Pearson",
        m_total.as_secs_f64(),
        m_update.as_secs_f64(),
        m_finish.as_secs_f64(),
        m_total.as_secs_f64() / p_total.as_secs_f64()
    );
    println!("engine peak RSS: {rss:.1} MB (after Pearson: {rss_pearson:.1} MB)");
    if let Some(mi) = &mi {
        let best = (0..k)
            .map(|h| (h, mi.value(Metric::MutualInfo, 0, h).unwrap_or(0.0)))
            .fold((0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
        println!(
            "sanity: unit u0 is built on h0; its highest-MI hypothesis is h{}",
            best.0
        );
    }

    if use_numpy {
        match numpy {
            Some(np) => {
                let (mut diff, mut err_engine, mut err_numpy) = (0.0_f64, 0.0_f64, 0.0_f64);
                let checked: Vec<usize> = (0..u).filter(|&j| j < 8 || j + 8 >= u).collect();
                for uu in 0..u {
                    for kk in 0..k {
                        let e = pearson.value(Metric::Pearson, uu, kk).unwrap_or(0.0);
                        let n = f64::from(np.r[uu * k + kk]);
                        diff = diff.max((e - n).abs());
                        if let Some(row) = checked.iter().position(|&j| j == uu) {
                            let x = np.exact[row * k + kk];
                            err_engine = err_engine.max((e - x).abs());
                            err_numpy = err_numpy.max((n - x).abs());
                        }
                    }
                }
                println!(
                    "numpy best form Pearson: {:.3} s, {:.1} GFLOP/s, peak RSS {:.1} MB",
                    np.secs,
                    flops / np.secs / 1e9,
                    np.rss_mb
                );
                println!(
                    "engine / numpy time ratio: {:.2} (below 1 = engine faster)",
                    p_total.as_secs_f64() / np.secs
                );
                println!(
                    "accuracy vs float64 two-pass r (first and last 8 units): engine {err_engine:.2e}, numpy best form {err_numpy:.2e}; max |engine - numpy| over all pairs {diff:.2e}"
                );
            }
            None => println!("numpy: not run (python3 with numpy unavailable)"),
        }
    }
    if temp {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
